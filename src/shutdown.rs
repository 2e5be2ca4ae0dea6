//! Graceful shutdown as a type.
//!
//! A [`Shutdown`] is cloned into every long-running task. It carries two things:
//! a broadcast ("stop now", a cancellation token every task can wait on) and a
//! completion wait (a task tracker), so the process exits only after each task has
//! finished its in-flight work or left it safely in the journal.

use std::future::Future;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Shared shutdown signal plus the set of tasks that must finish before exit.
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    token: CancellationToken,
    tracker: TaskTracker,
}

impl Shutdown {
    /// A fresh, untriggered shutdown.
    pub fn new() -> Self {
        Self::default()
    }

    /// Broadcast the stop signal to every holder. Idempotent.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    /// True once [`Shutdown::trigger`] was called.
    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves when the stop signal is broadcast (immediately if it already was).
    pub async fn triggered(&self) {
        self.token.cancelled().await
    }

    /// Spawn a task whose completion the shutdown waits for.
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(fut)
    }

    /// Wait until every task spawned through this shutdown has finished.
    /// Call after [`Shutdown::trigger`]; tasks spawned afterwards are still awaited.
    pub async fn wait_complete(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn waits_for_tasks_to_finish_their_work() {
        let shutdown = Shutdown::new();
        let finished = Arc::new(AtomicBool::new(false));
        let (s, f) = (shutdown.clone(), finished.clone());
        shutdown.spawn(async move {
            s.triggered().await;
            tokio::time::sleep(Duration::from_millis(20)).await;
            f.store(true, Ordering::SeqCst);
        });
        assert!(!shutdown.is_triggered());
        shutdown.trigger();
        shutdown.wait_complete().await;
        assert!(finished.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn triggered_resolves_after_trigger_on_every_clone() {
        let a = Shutdown::new();
        let b = a.clone();
        a.trigger();
        tokio::time::timeout(Duration::from_secs(1), b.triggered())
            .await
            .unwrap_or_else(|_| panic!("clone did not see the trigger"));
        assert!(b.is_triggered());
    }
}
