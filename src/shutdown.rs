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

    /// A shutdown for a part of the daemon that can stop on its own (the leader's
    /// tasks, stopped when leadership is lost): triggered by its own `trigger` or by
    /// this one's, with its own set of tasks to wait for. Whoever starts the part
    /// waits for the child's completion before finishing itself.
    pub fn child(&self) -> Shutdown {
        Shutdown {
            token: self.token.child_token(),
            tracker: TaskTracker::new(),
        }
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

    /// A child stops with its parent, or alone; stopping it leaves the parent running.
    #[tokio::test]
    async fn a_child_stops_alone_or_with_its_parent() {
        let parent = Shutdown::new();
        let child = parent.child();
        child.trigger();
        assert!(child.is_triggered());
        assert!(!parent.is_triggered(), "the parent goes on");
        child.wait_complete().await;

        let second = parent.child();
        let done = Arc::new(AtomicBool::new(false));
        let (s, d) = (second.clone(), done.clone());
        second.spawn(async move {
            s.triggered().await;
            d.store(true, Ordering::SeqCst);
        });
        parent.trigger();
        second.wait_complete().await;
        assert!(
            done.load(Ordering::SeqCst),
            "the parent's signal reached the child's task"
        );
    }

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
