//! One worker per ordering key: applies that key's jobs one after another.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tracing::{debug, info, warn};

use super::{lock, Inner, Job, JobError, Outcome};
use crate::store::EventState;

/// Drain the queue of `key`. Exits when the queue is empty (removing the key under
/// the lock, so a concurrent submit starts a new worker) or on shutdown (leaving the
/// remaining jobs journaled for replay). Jobs waiting together are handed to the
/// handler as one batch of at most `batch_max`.
pub(crate) async fn run(inner: Arc<Inner>, key: String) {
    let batch_max = inner.opts.batch_max.max(1);
    loop {
        let jobs: Vec<Job> = {
            let mut queues = lock(&inner.queues);
            match queues.get(&key) {
                Some(q) if !q.is_empty() => q.iter().take(batch_max).cloned().collect(),
                _ => {
                    queues.remove(&key);
                    return;
                }
            }
        };
        if inner.shutdown.is_triggered() {
            return;
        }
        let finished = apply_until_final(&inner, &jobs).await;
        if finished > 0 {
            if let Some(q) = lock(&inner.queues).get_mut(&key) {
                for _ in 0..finished {
                    q.pop_front();
                }
            }
            inner.depth.fetch_sub(finished, Ordering::Relaxed);
        }
        if finished < jobs.len() && inner.shutdown.is_triggered() {
            return;
        }
    }
}

/// JobHandler `jobs`, retrying transient failures with jittered exponential backoff.
/// Returns how many of them (from the front) reached a journaled final state; fewer
/// than all only when shutdown interrupted, or a transient failure stopped the batch
/// part-way (the rest is taken up again by the caller).
async fn apply_until_final(inner: &Inner, jobs: &[Job]) -> usize {
    let mut delay = inner.opts.backoff_min;
    let started = std::time::Instant::now();
    loop {
        let results = {
            let permit = tokio::select! {
                p = inner.permits.acquire() => p,
                _ = inner.shutdown.triggered() => return 0,
            };
            let Ok(_permit) = permit else { return 0 };
            // No "applying" mark before the attempt: it would be a commit of its own
            // per event. The attempt is counted with its outcome (or its retry note),
            // and an unfinished event is replayed after a crash either way.
            if jobs.len() == 1 {
                vec![inner.handler.apply(&jobs[0]).await]
            } else {
                inner.handler.apply_batch(jobs).await
            }
        };
        let mut finals: Vec<(&Job, Outcome)> = Vec::new();
        for (job, result) in jobs.iter().zip(results) {
            let outcome = match result {
                Ok(()) => Outcome {
                    state: EventState::Done,
                    reason: None,
                },
                Err(JobError::Permanent(reason)) => Outcome {
                    state: EventState::Failed,
                    reason: Some(reason),
                },
                Err(JobError::Transient(reason)) => {
                    warn!(event_id = job.id, method = %job.method, key = %job.ordering_key,
                          %reason, retry_in_ms = delay.as_millis() as u64, "event apply failed, will retry");
                    crate::metrics::global().retries.inc();
                    if let Err(e) = inner.store.note_retry(job.id, &reason).await {
                        warn!(event_id = job.id, error = %e, "cannot journal retry reason");
                    }
                    break;
                }
            };
            finals.push((job, outcome));
        }
        if !finals.is_empty() {
            if !journal_outcomes(inner, &finals, &mut delay).await {
                return 0;
            }
            for (job, outcome) in &finals {
                let label = if outcome.state == EventState::Done {
                    "done"
                } else {
                    "failed"
                };
                crate::metrics::global().event_finished(&job.method, label, started.elapsed());
            }
            return finals.len();
        }
        if !pause(inner, &mut delay).await {
            return 0;
        }
    }
}

/// Journal final outcomes in one write (retrying a busy database), then wake their
/// waiters. An outcome must be journaled before its job leaves the queue. False on
/// shutdown.
async fn journal_outcomes(inner: &Inner, finals: &[(&Job, Outcome)], delay: &mut Duration) -> bool {
    let rows: Vec<(i64, EventState, Option<&str>)> = finals
        .iter()
        .map(|(job, o)| (job.id, o.state, o.reason.as_deref()))
        .collect();
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let statuses = inner.handler.take_statuses(&ids);
    loop {
        match inner.store.finish_events(&rows, &statuses).await {
            Ok(()) => break,
            Err(e) => {
                warn!(events = rows.len(), error = %e, "cannot journal event outcomes, will retry");
                if !pause(inner, delay).await {
                    return false;
                }
            }
        }
    }
    inner.handler.outcomes_committed();
    for (job, outcome) in finals {
        match outcome.state {
            EventState::Failed => info!(event_id = job.id, method = %job.method,
                reason = outcome.reason.as_deref().unwrap_or(""), "event failed"),
            _ => debug!(event_id = job.id, method = %job.method, "event applied"),
        }
        inner.completions.complete(job.id, outcome);
    }
    true
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
