//! Journal pruning: keeps the event journal (and the database file) bounded.
//!
//! Every `interval` it runs one pass of [`Store::prune_events`]: finished events
//! beyond `[database] retention_days` / `retention_max_events` go, in small batches
//! with a pause between them so the event path never waits long for the write lock,
//! and the freed pages are handed back to the file system.

use std::time::Duration;

use tracing::{debug, info, warn};

use super::{Retention, Store};
use crate::shutdown::Shutdown;

/// The pruning task.
pub struct JournalPruner {
    store: Store,
    retention: Retention,
    interval: Duration,
    /// Pause between two delete batches of one pass.
    pause: Duration,
}

impl JournalPruner {
    /// Prune every `interval` (the first pass runs at once: a daemon restarted
    /// after a long stop may have a lot to remove).
    pub fn new(store: Store, retention: Retention, interval: Duration) -> Self {
        JournalPruner {
            store,
            retention,
            interval,
            pause: Duration::from_millis(20),
        }
    }

    pub async fn run(self, shutdown: Shutdown) {
        loop {
            tokio::select! {
                _ = shutdown.triggered() => return,
                _ = self.pass() => {}
            }
            tokio::select! {
                _ = shutdown.triggered() => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// One pass; failures are logged and the next pass tries again.
    async fn pass(&self) {
        let m = crate::metrics::global();
        match self
            .store
            .prune_events(&self.retention, crate::store::RETENTION_BATCH, self.pause)
            .await
        {
            Ok(p) if p.events > 0 => {
                m.journal_pruned_events.inc_by(p.events);
                info!(
                    events = p.events,
                    pages_freed = p.pages_freed,
                    "pruned finished events from the journal"
                );
            }
            Ok(_) => debug!("journal pruning: nothing to prune"),
            Err(e) => warn!(error = %e, "journal pruning failed; trying again next pass"),
        }
        if let Ok(bytes) = self.store.file_bytes().await {
            m.database_bytes
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EventState, KeyHint, StoreError};
    use crate::test_support::{Context, TestResult};

    /// The task prunes at start and then every interval, and stops on shutdown.
    #[tokio::test]
    async fn prunes_at_start_and_every_interval_until_shutdown() -> TestResult {
        let (store, _dir) = crate::store::test_store().await;
        let accept = |i: usize| {
            let store = store.clone();
            async move {
                let a = store
                    .accept_event(
                        "member_update",
                        "{}",
                        ("member", &format!("m{i}")),
                        &KeyHint::Loadbalancer("x".into()),
                        None,
                    )
                    .await?;
                store.finish_event(a.id, EventState::Done, None).await?;
                Ok::<(), StoreError>(())
            }
        };
        for i in 0..5 {
            accept(i).await?;
        }
        let keep_two = Retention {
            max_age: Duration::from_secs(3600),
            max_events: 2,
        };
        let shutdown = Shutdown::new();
        let task = JournalPruner::new(store.clone(), keep_two, Duration::from_millis(50));
        let handle = tokio::spawn(task.run(shutdown.clone()));
        let count = || async { store.event_count().await.unwrap_or(-1) };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while count().await != 2 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(count().await, 2, "first pass at start");
        for i in 5..8 {
            accept(i).await?;
        }
        while count().await != 2 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(count().await, 2, "a later pass");
        shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(5), handle)
            .await
            .context("task did not stop")??;
        Ok(())
    }
}
