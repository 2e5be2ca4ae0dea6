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
    /// SQLite: no election behind the status, so the role never changes.
    single: bool,
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
            single: true,
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
            single: false,
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

    /// The role now. In cluster mode an election that is gone (its task ended or
    /// panicked) leaves a follower: nobody renews the lease any more.
    pub fn role(&self) -> Role {
        let role = self.role.borrow().clone();
        match role {
            Role::Leader { epoch } if self.election_gone() => Role::Follower {
                leader: None,
                epoch,
            },
            other => other,
        }
    }

    fn election_gone(&self) -> bool {
        !self.single && self.role.has_changed().is_err()
    }

    /// A receiver that wakes on every role change, for tasks that start and stop with
    /// leadership. Prefer [`Self::leading`] and [`Self::lost`], which also treat an
    /// election that is gone as the end of leadership.
    pub fn subscribe(&self) -> watch::Receiver<Role> {
        self.role.clone()
    }

    /// Waits until this instance may lead and returns the epoch to fence writes with
    /// (0 for a single instance, at once). Never returns once the election is gone.
    pub async fn leading(&self) -> u64 {
        let mut rx = self.role.clone();
        let epoch = rx
            .wait_for(Role::is_leader)
            .await
            .map(|r| r.epoch())
            .ok()
            .filter(|_| !self.election_gone());
        match epoch {
            Some(epoch) => epoch,
            None => std::future::pending().await,
        }
    }

    /// Resolves when the leadership of `epoch` ends: another role is published or
    /// the election is gone. Never resolves for a single instance. Leader-only tasks
    /// run `select! { _ = status.lost(epoch) => stop, _ = work => .. }`.
    pub async fn lost(&self, epoch: u64) {
        if self.single {
            return std::future::pending().await;
        }
        let mut rx = self.role.clone();
        let still = |r: &Role| !(r.is_leader() && r.epoch() == epoch);
        // Err: the sender is gone, which ends the leadership too.
        let _ = rx.wait_for(still).await;
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

    #[tokio::test]
    async fn leading_and_lost_follow_the_role() {
        let (tx, rx) = watch::channel(Role::Follower {
            leader: None,
            epoch: 0,
        });
        let s = ClusterStatus::from_parts("ctl-1", rx, Arc::default());
        let waiter = tokio::spawn({
            let s = s.clone();
            async move { s.leading().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        let _ = tx.send(Role::Leader { epoch: 3 });
        assert_eq!(waiter.await.unwrap(), 3);
        let lost = tokio::spawn({
            let s = s.clone();
            async move { s.lost(3).await }
        });
        tokio::task::yield_now().await;
        assert!(!lost.is_finished());
        let _ = tx.send(Role::Follower {
            leader: Some("ctl-2".into()),
            epoch: 4,
        });
        lost.await.unwrap();
    }

    /// An election that dies while leading (its sender dropped) ends the leadership:
    /// nobody renews the lease any more.
    #[tokio::test]
    async fn a_dead_election_is_not_a_leader() {
        let (tx, rx) = watch::channel(Role::Leader { epoch: 2 });
        let s = ClusterStatus::from_parts("ctl-1", rx, Arc::default());
        assert!(s.role().is_leader());
        drop(tx);
        assert_eq!(
            s.role(),
            Role::Follower {
                leader: None,
                epoch: 2
            }
        );
        tokio::time::timeout(std::time::Duration::from_secs(1), s.lost(2))
            .await
            .unwrap();
        let pending = tokio::time::timeout(std::time::Duration::from_millis(20), s.leading());
        assert!(pending.await.is_err(), "a dead election never leads");
    }

    #[tokio::test]
    async fn a_single_instance_leads_at_once_and_forever() {
        let s = ClusterStatus::single("ctl-1");
        assert_eq!(s.leading().await, 0);
        let lost = tokio::time::timeout(std::time::Duration::from_millis(20), s.lost(0));
        assert!(lost.await.is_err());
        assert_eq!(s.role(), Role::Single);
    }
}
