//! [`Snapshot`]: every object's operating status from one poll cycle, with the
//! LoxiLB facts behind it, and [`diff`] of two snapshots into outbox records.
//!
//! Ids are `Arc<str>` shared with the desired index, so a cycle at 100k endpoints
//! allocates no id strings; one map per kind lets lookups take a plain `&str`.
//! The diff is one hash lookup per object (O(objects)) and emits only changes,
//! members first and load balancers last, so Octavia reads a member's change no
//! later than the pool/LB change it caused.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::rules::{MemberCounts, Observation};
use crate::octavia::OperatingStatus;
use crate::store::StatusRecord;

/// The object kinds that carry an operating status we derive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Member,
    Pool,
    Listener,
    Loadbalancer,
}

impl Kind {
    /// Members first: see the module docs.
    pub const ALL: [Kind; 4] = [Kind::Member, Kind::Pool, Kind::Listener, Kind::Loadbalancer];

    fn slot(self) -> usize {
        self as usize
    }

    /// Octavia's collection name, as the outbox and status.sock want it.
    pub fn collection(self) -> &'static str {
        match self {
            Kind::Member => "members",
            Kind::Pool => "pools",
            Kind::Listener => "listeners",
            Kind::Loadbalancer => "loadbalancers",
        }
    }
}

/// Why an object has its status: what LoxiLB said (members) or what it was
/// aggregated from (pools, load balancers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "source")]
pub enum Detail {
    /// Nodes that reported the member's probe in each state, and the probe's name
    /// (`None` when the member has no address/port to key a probe by).
    Probe {
        probe: Option<Arc<str>>,
        nodes: Observation,
        /// The last poll reached no node: the status is the previous one.
        stale: bool,
    },
    /// Derived from desired state only (admin down, no monitor).
    Config,
    /// A pool's members by status.
    Members { members: MemberCounts },
    /// A load balancer (derived from its pools): polls in a row that reached no node.
    Pools { failed_polls: u32 },
}

/// One object's derived status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub status: OperatingStatus,
    pub detail: Detail,
}

/// Every object's status from one cycle.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    maps: [HashMap<Arc<str>, Entry>; 4],
}

impl Snapshot {
    pub fn with_capacity(members: usize) -> Self {
        let mut s = Snapshot::default();
        s.maps[Kind::Member.slot()].reserve(members);
        s
    }

    pub fn insert(&mut self, kind: Kind, id: Arc<str>, entry: Entry) {
        self.maps[kind.slot()].insert(id, entry);
    }

    pub fn get(&self, kind: Kind, id: &str) -> Option<&Entry> {
        self.maps[kind.slot()].get(id)
    }

    pub fn status(&self, kind: Kind, id: &str) -> Option<OperatingStatus> {
        self.get(kind, id).map(|e| e.status)
    }

    pub fn len(&self) -> usize {
        self.maps.iter().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every entry, members first.
    pub fn iter(&self) -> impl Iterator<Item = (Kind, &Arc<str>, &Entry)> {
        Kind::ALL
            .into_iter()
            .flat_map(move |k| self.maps[k.slot()].iter().map(move |(id, e)| (k, id, e)))
    }

    /// Every status as an outbox record (the periodic full refresh), lazily: at
    /// 100k members the whole list is ~20 MB, so it is queued a chunk at a time.
    pub fn all_records(&self) -> impl Iterator<Item = StatusRecord> + '_ {
        self.iter().map(|(k, id, e)| record(k, id, e.status))
    }
}

fn record(kind: Kind, id: &str, status: OperatingStatus) -> StatusRecord {
    StatusRecord {
        collection: kind.collection().to_string(),
        id: id.to_string(),
        provisioning_status: None,
        operating_status: Some(status.as_str().to_string()),
    }
}

/// Records for the objects of `new` whose status differs from `old` (or is new).
/// Objects only in `old` were deleted: the drivers report those as DELETED.
pub fn diff(old: &Snapshot, new: &Snapshot) -> Vec<StatusRecord> {
    new.iter()
        .filter(|(k, id, e)| old.status(*k, id) != Some(e.status))
        .map(|(k, id, e)| record(k, id, e.status))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use OperatingStatus::*;

    fn entry(status: OperatingStatus) -> Entry {
        Entry {
            status,
            detail: Detail::Config,
        }
    }

    fn snap(items: &[(Kind, &str, OperatingStatus)]) -> Snapshot {
        let mut s = Snapshot::default();
        for (k, id, st) in items {
            s.insert(*k, Arc::from(*id), entry(*st));
        }
        s
    }

    #[test]
    fn diff_reports_changes_and_new_objects_members_first() {
        let old = snap(&[
            (Kind::Member, "m1", Online),
            (Kind::Member, "m2", Online),
            (Kind::Pool, "p", Online),
            (Kind::Loadbalancer, "gone", Online),
        ]);
        let new = snap(&[
            (Kind::Loadbalancer, "lb", Degraded),
            (Kind::Pool, "p", Degraded),
            (Kind::Member, "m1", Online),
            (Kind::Member, "m2", Error),
        ]);
        let got: Vec<(String, String, Option<String>)> = diff(&old, &new)
            .into_iter()
            .map(|r| (r.collection, r.id, r.operating_status))
            .collect();
        let want = [
            ("members", "m2", "ERROR"),
            ("pools", "p", "DEGRADED"),
            ("loadbalancers", "lb", "DEGRADED"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(c, i, s)| (c.to_string(), i.to_string(), Some(s.to_string())))
            .collect();
        assert_eq!(got, want);
        assert!(diff(&new, &new).is_empty());
        assert_eq!(new.all_records().count(), 4);
        assert!(new.all_records().all(|r| r.provisioning_status.is_none()));
    }

    /// Scale: 100k members, 10 flipped → exactly those 10 records (no timing assert;
    /// the benchmark figure belongs to the benchmarks issue).
    #[test]
    fn diff_of_100k_members_sends_only_the_changes() {
        let ids: Vec<Arc<str>> = (0..100_000).map(|i| Arc::from(format!("m{i}"))).collect();
        let mut old = Snapshot::with_capacity(ids.len());
        let mut new = Snapshot::with_capacity(ids.len());
        for (i, id) in ids.iter().enumerate() {
            old.insert(Kind::Member, id.clone(), entry(Online));
            let st = if i % 10_000 == 7 { Error } else { Online };
            new.insert(Kind::Member, id.clone(), entry(st));
        }
        let changed = diff(&old, &new);
        assert_eq!(changed.len(), 10);
        assert!(changed
            .iter()
            .all(|r| r.operating_status.as_deref() == Some("ERROR")));
        assert_eq!(new.len(), 100_000);
    }
}
