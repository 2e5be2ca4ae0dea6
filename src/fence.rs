//! Permission to act on LoxiLB and the driver agent.
//!
//! A single instance may always act. In a cluster, only the leader may, and only
//! until the local deadline by which it must have renewed its lease: the election
//! moves the deadline on each renewal, and every LoxiLB call and status delivery
//! checks it first. Checking a deadline, not a flag someone must clear, means a
//! leader whose election task is stalled (a blocked database connection, a paused
//! process) still stops acting before its lease can expire and another instance
//! takes over.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

/// Cheap to clone; all clones share one state.
#[derive(Clone, Debug, Default)]
pub struct Fence(Option<Arc<Inner>>);

#[derive(Debug, Default)]
struct Inner {
    /// The lease's epoch while we may act (0: none).
    epoch: AtomicI64,
    until: Mutex<Option<Instant>>,
}

impl Fence {
    /// A single instance: always allowed.
    pub fn always() -> Fence {
        Fence(None)
    }

    /// A cluster member: closed until [`Fence::open_until`].
    pub fn cluster() -> Fence {
        Fence(Some(Arc::default()))
    }

    /// We hold the lease of `epoch` and may act until `until`.
    pub fn open_until(&self, epoch: i64, until: Instant) {
        if let Some(i) = &self.0 {
            i.epoch.store(epoch, Ordering::SeqCst);
            *i.until.lock().unwrap_or_else(|p| p.into_inner()) = Some(until);
        }
    }

    /// We lost (or gave up) the lease.
    pub fn close(&self) {
        if let Some(i) = &self.0 {
            *i.until.lock().unwrap_or_else(|p| p.into_inner()) = None;
            i.epoch.store(0, Ordering::SeqCst);
        }
    }

    /// Whether a call may go out now.
    pub fn may_act(&self) -> bool {
        match &self.0 {
            None => true,
            Some(i) => i
                .until
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_some_and(|u| Instant::now() < u),
        }
    }

    /// The epoch we act under, while we may (None for a single instance).
    pub fn epoch(&self) -> Option<i64> {
        let i = self.0.as_ref()?;
        let e = i.epoch.load(Ordering::SeqCst);
        (e > 0 && self.may_act()).then_some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn a_cluster_fence_opens_until_its_deadline_only() {
        assert!(Fence::always().may_act());
        let f = Fence::cluster();
        assert!(!f.may_act(), "closed until the lease is won");
        f.open_until(3, Instant::now() + Duration::from_secs(7));
        assert!(f.clone().may_act());
        assert_eq!(f.epoch(), Some(3));
        tokio::time::advance(Duration::from_millis(6_999)).await;
        assert!(f.may_act());
        tokio::time::advance(Duration::from_millis(2)).await;
        assert!(!f.may_act(), "past the deadline without a renewal");
        assert_eq!(f.epoch(), None);
        f.open_until(4, Instant::now() + Duration::from_secs(7));
        f.close();
        assert!(!f.may_act());
    }
}
