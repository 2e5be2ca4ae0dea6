//! `HealthStatusCache` (the seed's name): the last derived status of every object,
//! answering the status API and CLI without calling LoxiLB.
//!
//! One hash map per kind keyed by `Arc<str>` (shared with the index), so get,
//! update and invalidate are O(1) and a lookup takes a plain `&str`. An entry is
//! valid for `ttl` (status_cache_ttl) after it was last confirmed by a poll: a
//! member whose node stopped answering keeps its old timestamp, so its age shows
//! how old the information is, and [`HealthStatusCache::get`] stops returning it
//! once the TTL passed ([`HealthStatusCache::peek`] still does, for diagnostics).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::snapshot::{Entry, Kind, Snapshot};

/// A cached status and when a poll last confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cached {
    pub entry: Entry,
    pub at: Instant,
}

/// See the module docs.
#[derive(Debug)]
pub struct HealthStatusCache {
    ttl: Duration,
    maps: [HashMap<Arc<str>, Cached>; 4],
    hits: AtomicU64,
    misses: AtomicU64,
}

impl HealthStatusCache {
    pub fn new(ttl: Duration) -> Self {
        HealthStatusCache {
            ttl,
            maps: Default::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn map(&self, kind: Kind) -> &HashMap<Arc<str>, Cached> {
        &self.maps[kind as usize]
    }

    fn map_mut(&mut self, kind: Kind) -> &mut HashMap<Arc<str>, Cached> {
        &mut self.maps[kind as usize]
    }

    /// The entry when it is younger than the TTL; counts a hit or a miss.
    pub fn get(&self, kind: Kind, id: &str) -> Option<Cached> {
        self.get_at(kind, id, Instant::now())
    }

    fn get_at(&self, kind: Kind, id: &str, now: Instant) -> Option<Cached> {
        let fresh = self
            .map(kind)
            .get(id)
            .filter(|c| now.saturating_duration_since(c.at) <= self.ttl)
            .cloned();
        let m = crate::metrics::global();
        let counter = if fresh.is_some() {
            m.cache_hits.inc();
            &self.hits
        } else {
            m.cache_misses.inc();
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        fresh
    }

    /// The entry whatever its age (not counted).
    pub fn peek(&self, kind: Kind, id: &str) -> Option<&Cached> {
        self.map(kind).get(id)
    }

    /// Whether `c` is younger than the TTL (not counted as a hit or miss: the
    /// status API reads many entries per answer).
    pub fn is_fresh(&self, c: &Cached) -> bool {
        c.at.elapsed() <= self.ttl
    }

    /// Every cached object of `kind`, in no particular order.
    pub fn entries(&self, kind: Kind) -> impl Iterator<Item = (&Arc<str>, &Cached)> {
        self.map(kind).iter()
    }

    pub fn update(&mut self, kind: Kind, id: Arc<str>, entry: Entry, at: Instant) {
        self.map_mut(kind).insert(id, Cached { entry, at });
    }

    /// Forget one object (None: every object of every kind).
    pub fn invalidate(&mut self, target: Option<(Kind, &str)>) {
        match target {
            Some((kind, id)) => {
                self.map_mut(kind).remove(id);
            }
            None => self.maps.iter_mut().for_each(HashMap::clear),
        }
    }

    /// Take a cycle's snapshot: every object is confirmed `now`, except members
    /// whose detail says the poll reached no node (they keep their timestamp);
    /// objects no longer in the snapshot are dropped.
    pub fn refresh(&mut self, snap: &Snapshot, now: Instant) {
        for (kind, id, entry) in snap.iter() {
            let stale = matches!(
                entry.detail,
                super::snapshot::Detail::Probe { stale: true, .. }
            );
            let at = match self.map(kind).get(&**id) {
                Some(c) if stale => c.at,
                _ => now,
            };
            self.update(kind, id.clone(), entry.clone(), at);
        }
        for kind in Kind::ALL {
            self.map_mut(kind)
                .retain(|id, _| snap.get(kind, id).is_some());
        }
    }

    pub fn len(&self) -> usize {
        self.maps.iter().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (hits, misses) of [`HealthStatusCache::get`] since start.
    pub fn hit_miss(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::snapshot::Detail;
    use crate::octavia::OperatingStatus;

    fn entry(s: OperatingStatus) -> Entry {
        Entry {
            status: s,
            detail: Detail::Config,
        }
    }

    #[test]
    fn get_update_invalidate_expire_and_count() {
        let mut c = HealthStatusCache::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert!(c.get(Kind::Member, "m").is_none());
        c.update(
            Kind::Member,
            Arc::from("m"),
            entry(OperatingStatus::Online),
            t0,
        );
        assert_eq!(
            c.get_at(Kind::Member, "m", t0).map(|e| e.entry.status),
            Some(OperatingStatus::Online)
        );
        assert!(
            c.get_at(Kind::Pool, "m", t0).is_none(),
            "kinds are separate"
        );
        assert!(c
            .get_at(Kind::Member, "m", t0 + Duration::from_secs(11))
            .is_none());
        assert!(c.peek(Kind::Member, "m").is_some());
        assert_eq!(c.hit_miss(), (1, 3));
        c.invalidate(Some((Kind::Member, "m")));
        assert!(c.peek(Kind::Member, "m").is_none());
        c.update(
            Kind::Pool,
            Arc::from("p"),
            entry(OperatingStatus::Online),
            t0,
        );
        c.invalidate(None);
        assert!(c.is_empty());
    }

    #[test]
    fn refresh_keeps_stale_member_timestamps_and_drops_deleted_objects() {
        let mut c = HealthStatusCache::new(Duration::from_secs(10));
        let t0 = Instant::now();
        c.update(
            Kind::Member,
            Arc::from("m"),
            entry(OperatingStatus::Online),
            t0,
        );
        c.update(
            Kind::Member,
            Arc::from("gone"),
            entry(OperatingStatus::Online),
            t0,
        );
        let mut snap = Snapshot::default();
        let stale = Entry {
            status: OperatingStatus::Online,
            detail: Detail::Probe {
                probe: None,
                nodes: Default::default(),
                stale: true,
            },
        };
        snap.insert(Kind::Member, Arc::from("m"), stale);
        snap.insert(
            Kind::Loadbalancer,
            Arc::from("lb"),
            entry(OperatingStatus::Online),
        );
        let t1 = t0 + Duration::from_secs(5);
        c.refresh(&snap, t1);
        assert_eq!(c.peek(Kind::Member, "m").map(|e| e.at), Some(t0));
        assert_eq!(c.peek(Kind::Loadbalancer, "lb").map(|e| e.at), Some(t1));
        assert!(c.peek(Kind::Member, "gone").is_none());
        assert_eq!(c.len(), 2);
    }
}
