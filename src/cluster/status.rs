//! The role of this instance as the rest of the daemon sees it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::watch;

/// What this instance is allowed to do right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// SQLite: the only instance, always leading, epoch 0, no lease.
    Single,
    /// Holds the lease of `epoch`: runs the dispatcher, applier and the other
    /// leader-only tasks, and fences its writes with `epoch`.
    Leader { epoch: u64 },
    /// Accepts and journals events only. `leader` is the holder of an unexpired lease
    /// as last read (`None`: nobody, or the database is not answering); `epoch` the
    /// last epoch seen.
    Follower { leader: Option<String>, epoch: u64 },
}

impl Role {
    /// True when this instance may call LoxiLB and the driver agent.
    pub fn is_leader(&self) -> bool {
        matches!(self, Role::Single | Role::Leader { .. })
    }

    /// `single`, `leader` or `follower`, as shown to operators.
    pub fn name(&self) -> &'static str {
        match self {
            Role::Single => "single",
            Role::Leader { .. } => "leader",
            Role::Follower { .. } => "follower",
        }
    }

    /// The lease epoch (the fencing token); 0 for a single instance.
    pub fn epoch(&self) -> u64 {
        match self {
            Role::Single => 0,
            Role::Leader { epoch } | Role::Follower { epoch, .. } => *epoch,
        }
    }
}

/// A cheap, cloneable view of this instance's role, for readyz, metrics and the tasks
/// that only a leader runs. The election task holds the sending side.
#[derive(Debug, Clone)]
pub struct ClusterStatus {
    instance_id: Arc<str>,
    role: watch::Receiver<Role>,
    changes: Arc<AtomicU64>,
}

impl ClusterStatus {
    /// The status of a single (SQLite) instance: always [`Role::Single`].
    pub fn single(instance_id: impl Into<String>) -> Self {
        // The receiver keeps the value after the sender is dropped.
        let (_tx, rx) = watch::channel(Role::Single);
        ClusterStatus {
            instance_id: Arc::from(instance_id.into()),
            role: rx,
            changes: Arc::default(),
        }
    }

    /// The status fed by an election (see [`super::Election::new`]).
    pub(crate) fn from_parts(
        instance_id: &str,
        role: watch::Receiver<Role>,
        changes: Arc<AtomicU64>,
    ) -> Self {
        ClusterStatus {
            instance_id: Arc::from(instance_id),
            role,
            changes,
        }
    }

    /// A status driven by the test through `role`'s sender.
    #[cfg(test)]
    pub(crate) fn for_tests(instance_id: &str, role: watch::Receiver<Role>) -> Self {
        Self::from_parts(instance_id, role, Arc::default())
    }

    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// The role now.
    pub fn role(&self) -> Role {
        self.role.borrow().clone()
    }

    /// A receiver that wakes on every role change, for tasks that start and stop with
    /// leadership.
    pub fn subscribe(&self) -> watch::Receiver<Role> {
        self.role.clone()
    }

    /// Times this instance became leader or stopped being leader.
    pub fn leadership_changes(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    /// The leader's instance id as far as this instance knows.
    pub fn leader_id(&self) -> Option<String> {
        match self.role() {
            Role::Single | Role::Leader { .. } => Some(self.instance_id.to_string()),
            Role::Follower { leader, .. } => leader,
        }
    }

    /// The `cluster` object of `/healthz` and `/readyz`.
    pub fn to_json(&self) -> Value {
        let role = self.role();
        json!({
            "role": role.name(),
            "epoch": role.epoch(),
            "leader": self.leader_id(),
            "instance_id": self.instance_id(),
            "leadership_changes": self.leadership_changes(),
        })
    }
}

impl Default for ClusterStatus {
    /// A single instance named after the host: what every caller that was not handed
    /// an election's status shows.
    fn default() -> Self {
        ClusterStatus::single(crate::config::host_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_is_a_leader_with_epoch_zero_and_itself_as_leader() {
        let s = ClusterStatus::single("ctl-1");
        assert_eq!(s.role(), Role::Single);
        assert!(s.role().is_leader());
        assert_eq!(
            s.to_json(),
            json!({"role": "single", "epoch": 0, "leader": "ctl-1",
                   "instance_id": "ctl-1", "leadership_changes": 0})
        );
    }

    #[test]
    fn follower_shows_the_leader_it_saw() {
        let (tx, rx) = watch::channel(Role::Follower {
            leader: Some("ctl-2".into()),
            epoch: 4,
        });
        let s = ClusterStatus::from_parts("ctl-1", rx, Arc::new(AtomicU64::new(3)));
        assert!(!s.role().is_leader());
        assert_eq!(s.to_json()["leader"], "ctl-2");
        assert_eq!(s.to_json()["epoch"], 4);
        assert_eq!(s.to_json()["leadership_changes"], 3);
        let _ = tx.send(Role::Leader { epoch: 5 });
        assert_eq!(s.to_json()["leader"], "ctl-1");
        assert_eq!(s.to_json()["role"], "leader");
    }
}
