//! The status board of cluster mode: the leader publishes its health cache to the
//! shared database, and followers answer the status API from it.
//!
//! Why: every instance serves the status API (issue 15), but only the leader polls
//! LoxiLB. A follower forwarding to the leader would need an address for it, and the
//! ingress is a Unix socket per controller; the database is already shared.
//!
//! What is written: a row changes only when an object's status, detail or
//! confirmation time changes. Objects confirmed in the leader's latest cycle carry
//! no time of their own (`confirmed_at` NULL) and take the board's `cycle_at`, so a
//! steady cluster writes one small row per cycle. A member whose poll reached no
//! node keeps the time it was last confirmed, as in the leader's cache, so its age
//! on a follower is the same as on the leader. Times are the leader's wall clock:
//! controllers run NTP (Galera needs it too), and an age is only as exact as that.
//!
//! [`plan`] is pure (cache in, rows out); [`BoardPublisher`] writes, and [`load`]
//! rebuilds a cache on a follower.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tracing::{debug, warn};

use super::cache::HealthStatusCache;
use super::snapshot::{Detail, Entry, Kind};
use super::sync::HealthHandle;
use crate::octavia::OperatingStatus;
use crate::shutdown::Shutdown;
use crate::store::mysql::{BoardChange, BoardMeta, BoardRow, BoardSelect, MysqlStore};
use crate::store::StoreError;

/// How often the leader looks for changes to publish. The health cycle itself runs
/// every status_update_interval; a second keeps a follower's answer at most that
/// much behind the leader's.
pub const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// What was last published of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    status: String,
    detail: String,
    /// The cache's confirmation instant, and the wall time it was published as: the
    /// same instant must map to the same wall time, or every publication would
    /// rewrite the row by a few microseconds of drift.
    at: Instant,
    at_wall: i64,
    confirmed_at: Option<i64>,
}

/// What the leader last published (empty in a new term).
#[derive(Debug, Default)]
pub struct Published {
    marks: HashMap<(Kind, Arc<str>), Mark>,
    /// The latest cycle's instant and wall time.
    cycle: Option<(Instant, i64)>,
}

/// One publication: the rows to write and what is published afterwards.
#[derive(Debug)]
pub struct Plan {
    pub upserts: Vec<BoardRow>,
    pub deletes: Vec<(String, String)>,
    pub cycle_at: i64,
    /// Whether anything at all changed (else nothing needs writing).
    pub changed: bool,
    next: Published,
}

/// Unix microseconds of `at`, given the clock now.
fn wall_of(at: Instant, now: (Instant, i64)) -> i64 {
    let ago = now.0.saturating_duration_since(at).as_micros();
    now.1 - i64::try_from(ago).unwrap_or(i64::MAX).min(now.1)
}

fn kind_name(kind: Kind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn status_name(status: OperatingStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The next publication of `cache` after `prev`; `now` is (instant, Unix µs).
pub fn plan(prev: &Published, cache: &HealthStatusCache, now: (Instant, i64)) -> Plan {
    let newest = Kind::ALL
        .into_iter()
        .flat_map(|k| cache.entries(k).map(|(_, c)| c.at))
        .max();
    let cycle = match (newest, prev.cycle) {
        (Some(at), Some((p, wall))) if p == at => (at, wall),
        (Some(at), _) => (at, wall_of(at, now)),
        (None, Some(p)) => p,
        (None, None) => now,
    };
    let mut next = Published {
        marks: HashMap::with_capacity(cache.len()),
        cycle: Some(cycle),
    };
    let mut upserts = Vec::new();
    for kind in Kind::ALL {
        for (id, c) in cache.entries(kind) {
            let old = prev.marks.get(&(kind, id.clone()));
            let at_wall = match old {
                Some(m) if m.at == c.at => m.at_wall,
                _ => wall_of(c.at, now),
            };
            let mark = Mark {
                status: status_name(c.entry.status),
                detail: serde_json::to_string(&c.entry.detail).unwrap_or_default(),
                at: c.at,
                at_wall,
                confirmed_at: (c.at != cycle.0).then_some(at_wall),
            };
            let same = old.is_some_and(|m| {
                m.status == mark.status
                    && m.detail == mark.detail
                    && m.confirmed_at == mark.confirmed_at
            });
            if !same {
                upserts.push(BoardRow {
                    kind: kind_name(kind),
                    id: id.to_string(),
                    status: mark.status.clone(),
                    detail: mark.detail.clone(),
                    confirmed_at: mark.confirmed_at,
                });
            }
            next.marks.insert((kind, id.clone()), mark);
        }
    }
    let deletes: Vec<(String, String)> = prev
        .marks
        .keys()
        .filter(|k| !next.marks.contains_key(*k))
        .map(|(kind, id)| (kind_name(*kind), id.to_string()))
        .collect();
    let changed =
        !upserts.is_empty() || !deletes.is_empty() || prev.cycle.map(|c| c.1) != Some(cycle.1);
    Plan {
        upserts,
        deletes,
        cycle_at: cycle.1,
        changed,
        next,
    }
}

/// Background task of a leader's term: publishes the health cache every
/// [`PUBLISH_EVERY`]. The first publication of a term replaces the whole board.
pub struct BoardPublisher {
    pub health: HealthHandle,
    pub store: MysqlStore,
}

impl BoardPublisher {
    /// Publish once; `published` is None before the term's first publication.
    pub async fn publish(&self, published: Option<&Published>) -> Result<Published, StoreError> {
        let empty = Published::default();
        let now = (Instant::now(), unix_micros());
        let plan = self
            .health
            .with_cache(|cache| plan(published.unwrap_or(&empty), cache, now));
        if plan.changed || published.is_none() {
            self.store
                .publish_board(BoardChange {
                    full: published.is_none(),
                    upserts: &plan.upserts,
                    deletes: &plan.deletes,
                    cycle_at: plan.cycle_at,
                })
                .await?;
            debug!(
                upserts = plan.upserts.len(),
                deletes = plan.deletes.len(),
                "status board published"
            );
        }
        Ok(plan.next)
    }

    pub async fn run(self, shutdown: Shutdown) {
        let mut published: Option<Published> = None;
        let mut tick = tokio::time::interval(PUBLISH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.triggered() => return,
                _ = tick.tick() => {}
            }
            match self.publish(published.as_ref()).await {
                Ok(next) => published = Some(next),
                // Published again whole next time: what reached the board is unknown.
                Err(e) => {
                    warn!(error = %e, "cannot publish the status board; trying again");
                    published = None;
                }
            }
        }
    }
}

/// Unix microseconds now.
pub fn unix_micros() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The board's rows that `select` names, as a cache whose entries have the ages the
/// leader's had (None: no leader has published yet). Rows that do not parse are
/// skipped: a reader must not fail on what a newer leader may write.
pub fn load_rows(
    meta: &BoardMeta,
    rows: &[BoardRow],
    ttl: Duration,
    now: (Instant, i64),
) -> HealthStatusCache {
    let mut cache = HealthStatusCache::new(ttl);
    for r in rows {
        let kind = serde_json::from_value::<Kind>(serde_json::Value::String(r.kind.clone()));
        let status =
            serde_json::from_value::<OperatingStatus>(serde_json::Value::String(r.status.clone()));
        let detail = serde_json::from_str::<Detail>(&r.detail);
        let (Ok(kind), Ok(status), Ok(detail)) = (kind, status, detail) else {
            debug!(kind = %r.kind, id = %r.id, "skipping a status board row that does not parse");
            continue;
        };
        let wall = r.confirmed_at.unwrap_or(meta.cycle_at);
        let ago = u64::try_from(now.1.saturating_sub(wall)).unwrap_or(0);
        let at = now
            .0
            .checked_sub(Duration::from_micros(ago))
            .unwrap_or(now.0);
        cache.update(kind, Arc::from(r.id.as_str()), Entry { status, detail }, at);
    }
    cache
}

/// Read the board for a follower (see [`load_rows`]).
pub async fn load(
    store: &MysqlStore,
    select: BoardSelect<'_>,
    ttl: Duration,
) -> Result<Option<(BoardMeta, HealthStatusCache)>, StoreError> {
    let Some((meta, rows)) = store.read_board(select).await? else {
        return Ok(None);
    };
    let cache = load_rows(&meta, &rows, ttl, (Instant::now(), unix_micros()));
    Ok(Some((meta, cache)))
}

#[cfg(test)]
mod tests;
