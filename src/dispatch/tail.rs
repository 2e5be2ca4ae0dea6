//! The leader's reader of the shared journal (cluster mode).
//!
//! Why: in a cluster every instance accepts events into the shared journal, and only
//! the leader applies them. The tail reads the unfinished events every `poll` and
//! submits the ones it has not submitted yet, in id order. Ids order the events of
//! one load balancer: an instance answers 202 only after its commit, and acceptances
//! of one load balancer hold its key's row lock, so an event of it accepted later
//! gets a larger id and is committed later; a read that sees it also sees the
//! earlier one. The first pass of a new leader is its replay of everything a deposed
//! leader left unfinished.
//!
//! What a poll reads: only ids (an index scan), and only above a bound; the bodies of
//! new ids come in a second read. Re-reading every unfinished event with its body each
//! poll (this tail's first version) fed on itself on MariaDB: the further behind the
//! leader fell, the more each poll read. Across load balancers ids do not follow
//! commit order (an event may commit after a larger id of another load balancer was
//! read), so the bound is the highest id listed at least [`SETTLE`] ago: an
//! acceptance shorter than that is never skipped. Every [`FULL_EVERY`] a pass reads
//! from the start, for longer ones and for failed events an operator queued again.
//!
//! Every pass also covers the lowest id still submitted, so an id leaves the
//! submitted set once a pass no longer lists it as unfinished; it comes back only if
//! an operator queues the failed event again, and then it is submitted again, as it
//! should be.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use crate::shutdown::Shutdown;
use crate::store::{EventState, Store, StoreError};

use super::{Dispatcher, Job};

/// How long an acceptance may take and still be seen by a bounded pass.
pub const SETTLE: Duration = Duration::from_secs(2);

/// How often a pass reads every unfinished id.
pub const FULL_EVERY: Duration = Duration::from_secs(5);

/// Background task: journal → dispatcher, for one leadership term.
pub struct JournalTail {
    store: Store,
    dispatcher: Dispatcher,
    poll: Duration,
    settle: Duration,
    full_every: Duration,
    submitted: BTreeSet<i64>,
    /// (when, the highest id a pass listed then), oldest first.
    marks: VecDeque<(Instant, i64)>,
    last_full: Option<Instant>,
}

impl JournalTail {
    pub fn new(store: Store, dispatcher: Dispatcher, poll: Duration) -> JournalTail {
        JournalTail {
            store,
            dispatcher,
            poll,
            settle: SETTLE,
            full_every: FULL_EVERY,
            submitted: BTreeSet::new(),
            marks: VecDeque::new(),
            last_full: None,
        }
    }

    /// Other windows than [`SETTLE`] and [`FULL_EVERY`] (tests).
    pub fn with_windows(mut self, settle: Duration, full_every: Duration) -> JournalTail {
        self.settle = settle;
        self.full_every = full_every;
        self
    }

    /// The highest id listed at least `settle` ago (0: none), dropping older marks.
    fn bound(&mut self, now: Instant) -> i64 {
        while self
            .marks
            .get(1)
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) >= self.settle)
        {
            self.marks.pop_front();
        }
        match self.marks.front() {
            Some((t, id)) if now.saturating_duration_since(*t) >= self.settle => *id,
            _ => 0,
        }
    }

    /// One read of the journal; returns how many events were submitted.
    pub async fn pass(&mut self) -> Result<usize, StoreError> {
        let now = Instant::now();
        let full = self
            .last_full
            .is_none_or(|t| now.saturating_duration_since(t) >= self.full_every);
        // Every pass covers every id still submitted, so one that is no longer
        // listed is known to be finished (and one queued again later is new again).
        let after = match (full, self.submitted.first()) {
            (true, _) => 0,
            (false, Some(&lowest)) => self.bound(now).min(lowest - 1),
            (false, None) => self.bound(now),
        };
        let ids = self.store.unfinished_event_ids(after).await?;
        self.submitted.retain(|id| ids.binary_search(id).is_ok());
        let new: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| !self.submitted.contains(id))
            .collect();
        let mut n = 0;
        for record in self.store.events_by_ids(&new).await? {
            let unfinished = matches!(record.state, EventState::Queued | EventState::Applying);
            if unfinished && self.submitted.insert(record.id) {
                self.dispatcher.submit(Job::from(&record));
                n += 1;
            }
        }
        if let Some(&max) = ids.last() {
            if self.marks.back().is_none_or(|(_, m)| *m < max) {
                self.marks.push_back((now, max));
            }
        }
        if full {
            self.last_full = Some(now);
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
    use crate::dispatch::{DispatchOptions, JobError, JobHandler};
    use crate::store::{test_store, KeyHint};
    use crate::test_support::{ok, TestResult};
    use std::sync::{Arc, Mutex};

    /// Records the ids it applies and fails none.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<i64>>);

    #[async_trait::async_trait]
    impl JobHandler for Recorder {
        async fn apply(&self, job: &Job) -> Result<(), JobError> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(job.id);
            Ok(())
        }
    }

    async fn accept(store: &Store, lb: &str, n: usize) -> TestResult<Vec<i64>> {
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
                .await?;
            ids.push(a.id);
        }
        Ok(ids)
    }

    /// A dispatcher whose applier records the ids it applies.
    fn recording_dispatcher(store: &Store) -> (Shutdown, Arc<Recorder>, Dispatcher) {
        let shutdown = Shutdown::new();
        let rec = Arc::new(Recorder::default());
        let d = Dispatcher::new(
            store.clone(),
            rec.clone(),
            DispatchOptions::default(),
            shutdown.clone(),
        );
        (shutdown, rec, d)
    }

    /// Events accepted "elsewhere" (straight into the journal) are applied once
    /// each, in id order per load balancer, however often the tail reads.
    #[tokio::test]
    async fn submits_each_journaled_event_once_in_order() -> TestResult {
        let (store, _dir) = test_store().await;
        let (shutdown, rec, d) = recording_dispatcher(&store);
        let mut tail = JournalTail::new(store.clone(), d.clone(), Duration::from_millis(5));
        let mut want = accept(&store, "lb1", 5).await?;
        assert_eq!(tail.pass().await.unwrap_or(0), 5);
        // A second read before the outcomes are journaled submits nothing again.
        assert_eq!(tail.pass().await.unwrap_or(9), 0);
        want.extend(accept(&store, "lb1", 3).await?);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while rec.0.lock().map(|v| v.len()).unwrap_or(0) < want.len() {
            tail.pass().await?;
            assert!(tokio::time::Instant::now() < deadline, "not all applied");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        for _ in 0..5 {
            tail.pass().await?;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let got = rec.0.lock().map(|v| v.clone()).unwrap_or_default();
        assert_eq!(got, want, "each once, in acceptance order");
        shutdown.trigger();
        shutdown.wait_complete().await;
        Ok(())
    }

    async fn wait_applied(rec: &Recorder, n: usize, tail: &mut JournalTail) -> TestResult {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while rec.0.lock().map(|v| v.len()).unwrap_or(0) < n {
            tail.pass().await?;
            assert!(tokio::time::Instant::now() < deadline, "not all applied");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    /// An unfinished event below the bound of the short passes (here a failed event
    /// an operator queued again; in a cluster also an acceptance slower than the
    /// settle window) is submitted by the next full pass, and only then.
    #[tokio::test]
    async fn a_full_pass_finds_what_is_below_the_bound() -> TestResult {
        let (store, _dir) = test_store().await;
        let (shutdown, rec, d) = recording_dispatcher(&store);
        let full_every = Duration::from_millis(400);
        let mut tail = JournalTail::new(store.clone(), d.clone(), Duration::from_millis(5))
            .with_windows(Duration::ZERO, full_every);
        let ids = accept(&store, "lb1", 3).await?;
        wait_applied(&rec, 3, &mut tail).await?;
        // A newer event moves the bound above the first ones.
        let later = accept(&store, "lb2", 1).await?;
        wait_applied(&rec, 4, &mut tail).await?;
        ok(store
            .finish_event(ids[0], crate::store::EventState::Failed, Some("test"))
            .await);
        assert!(store.requeue_failed(ids[0]).await.unwrap_or(false));
        let requeued_at = tokio::time::Instant::now();
        wait_applied(&rec, 5, &mut tail).await?;
        assert!(
            requeued_at.elapsed() + Duration::from_millis(50) >= full_every / 2,
            "submitted by a full pass, not a bounded one"
        );
        let got = rec.0.lock().map(|v| v.clone()).unwrap_or_default();
        let mut want = ids.clone();
        want.extend(later);
        want.push(ids[0]);
        assert_eq!(got, want);
        shutdown.trigger();
        shutdown.wait_complete().await;
        Ok(())
    }
}
