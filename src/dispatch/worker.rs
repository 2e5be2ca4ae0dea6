//! One worker per ordering key: applies that key's jobs one after another.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tracing::{debug, info, warn};

use super::{lock, ApplyError, Inner, Job, Outcome};
use crate::store::EventState;

/// Drain the queue of `key`. Exits when the queue is empty (removing the key under
/// the lock, so a concurrent submit starts a new worker) or on shutdown (leaving the
/// remaining jobs journaled for replay).
pub(crate) async fn run(inner: Arc<Inner>, key: String) {
    loop {
        let job = {
            let mut queues = lock(&inner.queues);
            match queues.get(&key).and_then(|q| q.front().cloned()) {
                Some(job) => job,
                None => {
                    queues.remove(&key);
                    return;
                }
            }
        };
        if inner.shutdown.is_triggered() || !apply_until_final(&inner, &job).await {
            return;
        }
        if let Some(q) = lock(&inner.queues).get_mut(&key) {
            q.pop_front();
        }
        inner.depth.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Apply `job`, retrying transient failures with jittered exponential backoff.
/// Returns false when shutdown interrupted it before a final state was journaled.
async fn apply_until_final(inner: &Inner, job: &Job) -> bool {
    let mut delay = inner.opts.backoff_min;
    loop {
        let result = {
            let permit = tokio::select! {
                p = inner.permits.acquire() => p,
                _ = inner.shutdown.triggered() => return false,
            };
            let Ok(_permit) = permit else { return false };
            match inner.store.mark_applying(job.id).await {
                Ok(()) => inner.applier.apply(job).await,
                Err(e) => Err(ApplyError::Transient(format!("journal: {e}"))),
            }
        };
        let outcome = match result {
            Ok(()) => Outcome {
                state: EventState::Done,
                reason: None,
            },
            Err(ApplyError::Permanent(reason)) => Outcome {
                state: EventState::Failed,
                reason: Some(reason),
            },
            Err(ApplyError::Transient(reason)) => {
                warn!(event_id = job.id, method = %job.method, key = %job.ordering_key,
                      %reason, retry_in_ms = delay.as_millis() as u64, "event apply failed, will retry");
                if let Err(e) = inner.store.note_retry(job.id, &reason).await {
                    warn!(event_id = job.id, error = %e, "cannot journal retry reason");
                }
                if !pause(inner, &mut delay).await {
                    return false;
                }
                continue;
            }
        };
        // The outcome must be journaled before the job leaves the queue.
        loop {
            match inner
                .store
                .finish_event(job.id, outcome.state, outcome.reason.as_deref())
                .await
            {
                Ok(()) => break,
                Err(e) => {
                    warn!(event_id = job.id, error = %e, "cannot journal event outcome, will retry");
                    if !pause(inner, &mut delay).await {
                        return false;
                    }
                }
            }
        }
        match outcome.state {
            EventState::Failed => info!(event_id = job.id, method = %job.method,
                reason = outcome.reason.as_deref().unwrap_or(""), "event failed"),
            _ => debug!(event_id = job.id, method = %job.method, "event applied"),
        }
        inner.completions.complete(job.id, &outcome);
        return true;
    }
}

/// Sleep for a jittered `delay` (between half and all of it), then double it up to
/// the maximum. False when shutdown came first.
async fn pause(inner: &Inner, delay: &mut Duration) -> bool {
    let half = delay.as_millis() as u64 / 2;
    let jittered = Duration::from_millis(half + rand::rng().random_range(0..=half.max(1)));
    let woke = tokio::select! {
        _ = tokio::time::sleep(jittered) => true,
        _ = inner.shutdown.triggered() => false,
    };
    *delay = (*delay * 2).min(inner.opts.backoff_max);
    woke
}
