//! The dispatcher: journal → per-load-balancer FIFO queues → the job handler (the drivers).
//!
//! Why this shape: Octavia locks a load balancer while one of its objects is
//! PENDING, but our ingress answers at once, so several events of one load balancer
//! can wait here together. They must reach LoxiLB strictly in acceptance order (a
//! member create before its update), while different load balancers proceed in
//! parallel up to `max_concurrent_checks`. Each ordering key gets one worker task at
//! a time; the worker peeks the head of its queue, applies it, and pops it only once
//! the outcome is journaled, so a shutdown mid-event leaves the event in the journal
//! for replay instead of losing it.

mod completions;
mod intake;
mod tail;
mod worker;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::shutdown::Shutdown;
use crate::store::{EventRecord, StatusRecord, Store, StoreError};

/// The former names, still used by `drivers` and the journal tail's tests, which
/// are being rewritten in parallel; they move to the new names with those changes.
pub use completions::{Completions, Outcome};
pub use intake::{Intake, LocalLeader};
pub use tail::JournalTail;

/// One journaled event on its way to the drivers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub ordering_key: String,
    pub method: String,
    /// The event's `args` object as JSON text, exactly as journaled.
    pub args: Arc<str>,
}

impl From<&EventRecord> for Job {
    fn from(r: &EventRecord) -> Self {
        Job {
            id: r.id,
            ordering_key: r.ordering_key.clone(),
            method: r.method.clone(),
            args: Arc::from(r.args.as_str()),
        }
    }
}

/// How handling a job failed, as the dispatcher acts on it (retry or fail).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Might succeed later (LoxiLB unreachable, 5xx, timeouts): retried with backoff,
    /// and the load balancer's later events wait behind it.
    #[error("transient: {0}")]
    Transient(String),
    /// Will never succeed (LoxiLB rejected the request): the event is failed with
    /// this reason and the queue moves on.
    #[error("{0}")]
    Permanent(String),
}

/// What the dispatcher hands each job to: the driver set; tests use recorders.
/// (Named apart from `apply::Applier`, which changes LoxiLB: this is the
/// dispatcher's side of the boundary.)
#[async_trait::async_trait]
pub trait JobHandler: Send + Sync + 'static {
    async fn apply(&self, job: &Job) -> Result<(), JobError>;

    /// Apply jobs of one ordering key that were waiting together, in order. The
    /// result has one entry per job handled; a `Transient` entry ends the list: the
    /// jobs before it are final, it and the rest are retried later. Implementations
    /// override this to merge the jobs' LoxiLB calls (coalescing).
    async fn apply_batch(&self, jobs: &[Job]) -> Vec<Result<(), JobError>> {
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            let r = self.apply(job).await;
            let stop = matches!(r, Err(JobError::Transient(_)));
            out.push(r);
            if stop {
                break;
            }
        }
        out
    }

    /// The statuses this handler computed for the outcomes of `ids` (taken: asked
    /// once per outcome). The dispatcher journals them in the same commit as the
    /// outcomes, so an outcome is never stored without its statuses and an event
    /// costs one commit at its end, not two.
    fn take_statuses(&self, _ids: &[i64]) -> Vec<StatusRecord> {
        Vec::new()
    }

    /// Called once outcomes and their statuses are committed (e.g. to wake the
    /// status delivery).
    fn outcomes_committed(&self) {}
}

/// Tunables of the dispatcher.
#[derive(Clone, Debug)]
pub struct DispatchOptions {
    /// Load balancers applied at the same time (`max_concurrent_checks`).
    pub max_concurrent: usize,
    /// First and largest pause between attempts of a transiently failing event.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// Most jobs of one key handed to the handler at once (`batch_size`).
    pub batch_max: usize,
}

impl Default for DispatchOptions {
    fn default() -> Self {
        DispatchOptions {
            batch_max: 1,
            max_concurrent: 50,
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// Handle to submit jobs; cheap to clone.
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    queues: Mutex<HashMap<String, VecDeque<Job>>>,
    depth: AtomicUsize,
    permits: Semaphore,
    handler: Arc<dyn JobHandler>,
    store: Store,
    completions: Completions,
    shutdown: Shutdown,
    opts: DispatchOptions,
}

impl Dispatcher {
    pub fn new(
        store: Store,
        handler: Arc<dyn JobHandler>,
        opts: DispatchOptions,
        shutdown: Shutdown,
    ) -> Dispatcher {
        Dispatcher {
            inner: Arc::new(Inner {
                queues: Mutex::new(HashMap::new()),
                depth: AtomicUsize::new(0),
                permits: Semaphore::new(opts.max_concurrent.max(1)),
                handler,
                store,
                completions: Completions::default(),
                shutdown,
                opts,
            }),
        }
    }

    /// Queue a journaled job behind the earlier jobs of its ordering key.
    pub fn submit(&self, job: Job) {
        let key = job.ordering_key.clone();
        let start_worker = {
            let mut queues = lock(&self.inner.queues);
            self.inner.depth.fetch_add(1, Ordering::Relaxed);
            match queues.get_mut(&key) {
                Some(q) => {
                    q.push_back(job);
                    false
                }
                None => {
                    queues.insert(key.clone(), VecDeque::from([job]));
                    true
                }
            }
        };
        if start_worker {
            let inner = self.inner.clone();
            self.inner.shutdown.spawn(worker::run(inner, key));
        }
    }

    /// Re-queue every unfinished journal entry, oldest first. Called once at start,
    /// before the ingress accepts new events.
    pub async fn replay(&self) -> Result<usize, StoreError> {
        let pending = self.inner.store.unfinished_events().await?;
        for record in &pending {
            self.submit(Job::from(record));
        }
        Ok(pending.len())
    }

    /// Waiters for event outcomes (synchronous POSTs).
    pub fn completions(&self) -> &Completions {
        &self.inner.completions
    }

    /// Jobs queued or being applied.
    pub fn queue_depth(&self) -> usize {
        self.inner.depth.load(Ordering::Relaxed)
    }
}

/// A poisoned lock only means another worker panicked mid-update of a plain map;
/// the map itself is still consistent, so keep going.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests;
