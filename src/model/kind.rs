//! What an event is about: the object kind, and the load balancer it must
//! be ordered under (events of one load balancer are applied in order).

use serde::{Deserialize, Serialize};

/// Kinds of Octavia objects an event can be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectKind {
    Loadbalancer,
    Listener,
    Pool,
    Member,
    #[serde(rename = "healthmonitor")]
    HealthMonitor,
}

impl ObjectKind {
    /// Singular name, as in Octavia's `*_id` keys (`healthmonitor`).
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Loadbalancer => "loadbalancer",
            ObjectKind::Listener => "listener",
            ObjectKind::Pool => "pool",
            ObjectKind::Member => "member",
            ObjectKind::HealthMonitor => "healthmonitor",
        }
    }

    /// Plural key used by the driver agent's status and get sockets.
    pub fn status_key(self) -> &'static str {
        match self {
            ObjectKind::Loadbalancer => "loadbalancers",
            ObjectKind::Listener => "listeners",
            ObjectKind::Pool => "pools",
            ObjectKind::Member => "members",
            ObjectKind::HealthMonitor => "healthmonitors",
        }
    }
}
