//! The leader's reader of the shared journal (cluster mode).
//!
//! Why: in a cluster every instance accepts events into the shared journal, and only
//! the leader applies them. The tail reads the unfinished events every `poll` and
//! submits the ones it has not submitted yet, in id order. Ids order the events of
//! one load balancer: an instance answers 202 only after its commit, so an event
//! Octavia sends after that answer gets a larger id and is committed later; a read
//! that sees it also sees the earlier one. The first pass of a new leader is its
//! replay of everything a deposed leader left unfinished.
//!
//! An id leaves the submitted set once the journal no longer lists it as unfinished;
//! it comes back only if an operator queues the failed event again, and then it is
//! submitted again, as it should be.

use std::collections::HashSet;
use std::time::Duration;

use tracing::{info, warn};

use crate::shutdown::Shutdown;
use crate::store::Store;

use super::{Dispatcher, Job};

/// Background task: journal → dispatcher, for one leadership term.
pub struct JournalTail {
    store: Store,
    dispatcher: Dispatcher,
    poll: Duration,
    submitted: HashSet<i64>,
}

impl JournalTail {
    pub fn new(store: Store, dispatcher: Dispatcher, poll: Duration) -> JournalTail {
        JournalTail {
            store,
            dispatcher,
            poll,
            submitted: HashSet::new(),
        }
    }

    /// One read of the journal; returns how many events were submitted.
    pub async fn pass(&mut self) -> Result<usize, crate::store::StoreError> {
        let pending = self.store.unfinished_events().await?;
        let listed: HashSet<i64> = pending.iter().map(|r| r.id).collect();
        self.submitted.retain(|id| listed.contains(id));
        let mut n = 0;
        for record in &pending {
            if self.submitted.insert(record.id) {
                self.dispatcher.submit(Job::from(record));
                n += 1;
            }
        }
        Ok(n)
    }

    pub async fn run(mut self, shutdown: Shutdown) {
        let mut first = true;
        loop {
            match self.pass().await {
                Ok(n) if first && n > 0 => {
                    info!(events = n, "replaying unfinished journal entries");
                    first = false;
                }
                Ok(_) => first = false,
                Err(e) => warn!(error = %e, "cannot read the journal; trying again"),
            }
            tokio::select! {
                _ = shutdown.triggered() => return,
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::{Apply, ApplyError, DispatchOptions};
    use crate::store::{test_store, KeyHint};
    use std::sync::{Arc, Mutex};

    /// Records the ids it applies and fails none.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<i64>>);

    #[async_trait::async_trait]
    impl Apply for Recorder {
        async fn apply(&self, job: &Job) -> Result<(), ApplyError> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(job.id);
            Ok(())
        }
    }

    async fn accept(store: &Store, lb: &str, n: usize) -> Vec<i64> {
        let mut ids = Vec::new();
        for i in 0..n {
            let a = store
                .accept_event(
                    "member_create",
                    "{}",
                    ("member", &format!("{lb}-m{i}")),
                    &KeyHint::Loadbalancer(lb.into()),
                    None,
                )
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            ids.push(a.id);
        }
        ids
    }

    /// Events accepted "elsewhere" (straight into the journal) are applied once
    /// each, in id order per load balancer, however often the tail reads.
    #[tokio::test]
    async fn submits_each_journaled_event_once_in_order() {
        let (store, _dir) = test_store().await;
        let shutdown = Shutdown::new();
        let rec = Arc::new(Recorder::default());
        let d = Dispatcher::new(
            store.clone(),
            rec.clone(),
            DispatchOptions::default(),
            shutdown.clone(),
        );
        let mut tail = JournalTail::new(store.clone(), d.clone(), Duration::from_millis(5));
        let mut want = accept(&store, "lb1", 5).await;
        assert_eq!(tail.pass().await.unwrap_or(0), 5);
        // A second read before the outcomes are journaled submits nothing again.
        assert_eq!(tail.pass().await.unwrap_or(9), 0);
        want.extend(accept(&store, "lb1", 3).await);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while rec.0.lock().map(|v| v.len()).unwrap_or(0) < want.len() {
            tail.pass().await.unwrap_or_else(|e| panic!("{e}"));
            assert!(tokio::time::Instant::now() < deadline, "not all applied");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for _ in 0..5 {
            tail.pass().await.unwrap_or_else(|e| panic!("{e}"));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let got = rec.0.lock().map(|v| v.clone()).unwrap_or_default();
        assert_eq!(got, want, "each once, in acceptance order");
        shutdown.trigger();
        shutdown.wait_complete().await;
    }
}
