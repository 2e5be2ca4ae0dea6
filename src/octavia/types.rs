//! Typed messages for the driver agent's status, stats and get sockets.
//!
//! Status values serialise exactly as Octavia's constants
//! (`PENDING_CREATE`, `NO_MONITOR`, ...). Optional fields and empty
//! collections are left out of the JSON because the agent treats a missing
//! key as "unchanged", which is what lets us send small, batched updates.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Octavia's provisioning status (the lock state of an object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProvisioningStatus {
    Active,
    Deleted,
    Error,
    PendingCreate,
    PendingUpdate,
    PendingDelete,
}

impl ProvisioningStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Deleted => "DELETED",
            Self::Error => "ERROR",
            Self::PendingCreate => "PENDING_CREATE",
            Self::PendingUpdate => "PENDING_UPDATE",
            Self::PendingDelete => "PENDING_DELETE",
        }
    }

    /// ACTIVE, DELETED and ERROR end an operation; Octavia keeps an object
    /// locked while it is in any PENDING_* state.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Active | Self::Deleted | Self::Error)
    }
}

impl fmt::Display for ProvisioningStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Octavia's operating status (observed health).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperatingStatus {
    Online,
    Offline,
    Degraded,
    Error,
    Draining,
    NoMonitor,
}

impl OperatingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Online => "ONLINE",
            Self::Offline => "OFFLINE",
            Self::Degraded => "DEGRADED",
            Self::Error => "ERROR",
            Self::Draining => "DRAINING",
            Self::NoMonitor => "NO_MONITOR",
        }
    }
}

impl fmt::Display for OperatingStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One object's status change; `None` fields are omitted (left unchanged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusEntry {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_status: Option<ProvisioningStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operating_status: Option<OperatingStatus>,
}

impl StatusEntry {
    pub fn new(
        id: impl Into<String>,
        provisioning_status: Option<ProvisioningStatus>,
        operating_status: Option<OperatingStatus>,
    ) -> Self {
        Self {
            id: id.into(),
            provisioning_status,
            operating_status,
        }
    }
}

/// A batch for status.sock. Octavia applies the collections in its own
/// order, so callers only need to group entries by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusUpdate {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loadbalancers: Vec<StatusEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listeners: Vec<StatusEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<StatusEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<StatusEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub healthmonitors: Vec<StatusEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub l7policies: Vec<StatusEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub l7rules: Vec<StatusEntry>,
}

impl StatusUpdate {
    /// The entries for one object kind, for building batches generically.
    pub fn entries_mut(&mut self, kind: ObjectKind) -> &mut Vec<StatusEntry> {
        match kind {
            ObjectKind::Loadbalancers => &mut self.loadbalancers,
            ObjectKind::Listeners => &mut self.listeners,
            ObjectKind::Pools => &mut self.pools,
            ObjectKind::Members => &mut self.members,
            ObjectKind::Healthmonitors => &mut self.healthmonitors,
            ObjectKind::L7policies => &mut self.l7policies,
            ObjectKind::L7rules => &mut self.l7rules,
        }
    }

    /// The entries for one object kind.
    pub fn entries(&self, kind: ObjectKind) -> &[StatusEntry] {
        match kind {
            ObjectKind::Loadbalancers => &self.loadbalancers,
            ObjectKind::Listeners => &self.listeners,
            ObjectKind::Pools => &self.pools,
            ObjectKind::Members => &self.members,
            ObjectKind::Healthmonitors => &self.healthmonitors,
            ObjectKind::L7policies => &self.l7policies,
            ObjectKind::L7rules => &self.l7rules,
        }
    }

    /// Appends an entry to the collection for `kind`.
    pub fn push(&mut self, kind: ObjectKind, entry: StatusEntry) {
        self.entries_mut(kind).push(entry);
    }

    /// Total number of entries across all collections.
    pub fn len(&self) -> usize {
        ObjectKind::ALL.iter().map(|k| self.entries(*k).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Counters for one listener; Octavia replaces (not adds) them per report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerStats {
    pub id: String,
    pub active_connections: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub request_errors: u64,
    pub total_connections: u64,
}

/// A batch for stats.sock.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsUpdate {
    pub listeners: Vec<ListenerStats>,
}

/// Object collections, named as the agent's `object` / status keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    Loadbalancers,
    Listeners,
    Pools,
    Members,
    Healthmonitors,
    L7policies,
    L7rules,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 7] = [
        Self::Loadbalancers,
        Self::Listeners,
        Self::Pools,
        Self::Members,
        Self::Healthmonitors,
        Self::L7policies,
        Self::L7rules,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loadbalancers => "loadbalancers",
            Self::Listeners => "listeners",
            Self::Pools => "pools",
            Self::Members => "members",
            Self::Healthmonitors => "healthmonitors",
            Self::L7policies => "l7policies",
            Self::L7rules => "l7rules",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn statuses_use_octavia_constants() {
        for p in [
            ProvisioningStatus::Active,
            ProvisioningStatus::Deleted,
            ProvisioningStatus::Error,
            ProvisioningStatus::PendingCreate,
            ProvisioningStatus::PendingUpdate,
            ProvisioningStatus::PendingDelete,
        ] {
            assert_eq!(serde_json::to_value(p).unwrap(), json!(p.as_str()));
            assert_eq!(
                serde_json::from_value::<ProvisioningStatus>(json!(p.as_str())).unwrap(),
                p
            );
        }
        for o in [
            OperatingStatus::Online,
            OperatingStatus::Offline,
            OperatingStatus::Degraded,
            OperatingStatus::Error,
            OperatingStatus::Draining,
            OperatingStatus::NoMonitor,
        ] {
            assert_eq!(serde_json::to_value(o).unwrap(), json!(o.as_str()));
            assert_eq!(
                serde_json::from_value::<OperatingStatus>(json!(o.as_str())).unwrap(),
                o
            );
        }
        assert_eq!(OperatingStatus::NoMonitor.as_str(), "NO_MONITOR");
        assert!(serde_json::from_value::<OperatingStatus>(json!("online")).is_err());
        assert!(ProvisioningStatus::Error.is_final());
        assert!(!ProvisioningStatus::PendingUpdate.is_final());
    }

    #[test]
    fn status_update_omits_empty_parts() {
        let mut u = StatusUpdate::default();
        assert!(u.is_empty());
        assert_eq!(serde_json::to_value(&u).unwrap(), json!({}));
        u.push(
            ObjectKind::Members,
            StatusEntry::new("m1", None, Some(OperatingStatus::Draining)),
        );
        u.push(
            ObjectKind::Pools,
            StatusEntry::new(
                "p1",
                Some(ProvisioningStatus::Active),
                Some(OperatingStatus::Online),
            ),
        );
        assert_eq!(u.len(), 2);
        assert!(!u.is_empty());
        assert_eq!(
            serde_json::to_value(&u).unwrap(),
            json!({
                "pools": [{"id": "p1", "provisioning_status": "ACTIVE", "operating_status": "ONLINE"}],
                "members": [{"id": "m1", "operating_status": "DRAINING"}]
            })
        );
        let back: StatusUpdate = serde_json::from_value(serde_json::to_value(&u).unwrap()).unwrap();
        assert_eq!(back, u);
    }

    #[test]
    fn stats_and_kinds_serialise_as_agent_expects() {
        let s = StatsUpdate {
            listeners: vec![ListenerStats {
                id: "l1".into(),
                active_connections: 1,
                bytes_in: u64::MAX,
                bytes_out: 3,
                request_errors: 0,
                total_connections: 5,
            }],
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"listeners": [{"id": "l1", "active_connections": 1, "bytes_in": u64::MAX,
                "bytes_out": 3, "request_errors": 0, "total_connections": 5}]})
        );
        for k in ObjectKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), json!(k.as_str()));
        }
        assert_eq!(ObjectKind::L7policies.to_string(), "l7policies");
    }
}
