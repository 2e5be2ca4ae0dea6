//! Dispatcher behaviour against a real SQLite journal and a recording applier.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::store::{test_store, EventState, KeyHint};
use crate::test_support::TestResult;

/// Records applied jobs; sleeps a little so overlaps are observable; fails on demand.
#[derive(Default)]
struct Recorder {
    applied: Mutex<Vec<(String, i64)>>,
    running: AtomicUsize,
    max_running: AtomicUsize,
    transient_failures_left: AtomicUsize,
    sleep_ms: u64,
}

#[async_trait::async_trait]
impl JobHandler for Recorder {
    async fn apply(&self, job: &Job) -> Result<(), JobError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(self.sleep_ms)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        if job.method == "permanent" {
            return Err(JobError::Permanent("rejected by loxilb".into()));
        }
        if self
            .transient_failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(JobError::Transient("loxilb unreachable".into()));
        }
        lock(&self.applied).push((job.ordering_key.clone(), job.id));
        Ok(())
    }
}

fn opts(max: usize) -> DispatchOptions {
    DispatchOptions {
        max_concurrent: max,
        backoff_min: Duration::from_millis(2),
        backoff_max: Duration::from_millis(10),
        batch_max: 1,
    }
}

async fn accept(store: &Store, lb: &str, method: &str) -> TestResult<Job> {
    let a = store
        .accept_event(
            method,
            "{}",
            ("loadbalancer", lb),
            &KeyHint::Loadbalancer(lb.into()),
            None,
        )
        .await?;
    Ok(Job {
        id: a.id,
        ordering_key: a.ordering_key,
        method: method.into(),
        args: Arc::from("{}"),
    })
}

async fn wait_all_final(store: &Store, ids: &[i64]) -> TestResult {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut all = true;
        for id in ids {
            let rec = store.event(*id).await?;
            all &= rec.is_some_and(|r| r.state.is_final());
        }
        if all {
            return Ok(());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "events did not finish"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn one_load_balancer_in_order_two_in_parallel() -> TestResult {
    let (store, _d) = test_store().await;
    let rec = Arc::new(Recorder {
        sleep_ms: 15,
        ..Default::default()
    });
    let d = Dispatcher::new(store.clone(), rec.clone(), opts(8), Shutdown::new());
    let mut ids = vec![];
    // Submit from concurrent tasks; acceptance order (journal id) defines the order.
    for i in 0..10 {
        for lb in ["a", "b"] {
            let job = accept(&store, lb, &format!("e{i}")).await?;
            ids.push(job.id);
            let d2 = d.clone();
            tokio::spawn(async move { d2.submit(job) }).await?;
        }
    }
    wait_all_final(&store, &ids).await?;
    let applied = lock(&rec.applied).clone();
    for lb in ["lb:a", "lb:b"] {
        let seq: Vec<i64> = applied
            .iter()
            .filter(|(k, _)| k == lb)
            .map(|(_, id)| *id)
            .collect();
        let mut sorted = seq.clone();
        sorted.sort();
        assert_eq!(seq, sorted, "{lb} applied out of order");
        assert_eq!(seq.len(), 10);
    }
    assert!(
        rec.max_running.load(Ordering::SeqCst) >= 2,
        "two load balancers never overlapped"
    );
    assert_eq!(d.queue_depth(), 0);
    Ok(())
}

#[tokio::test]
async fn concurrency_is_bounded() -> TestResult {
    let (store, _d) = test_store().await;
    let rec = Arc::new(Recorder {
        sleep_ms: 10,
        ..Default::default()
    });
    let d = Dispatcher::new(store.clone(), rec.clone(), opts(3), Shutdown::new());
    let mut ids = vec![];
    for i in 0..12 {
        let job = accept(&store, &format!("lb{i}"), "x").await?;
        ids.push(job.id);
        d.submit(job);
    }
    wait_all_final(&store, &ids).await?;
    assert!(rec.max_running.load(Ordering::SeqCst) <= 3);
    Ok(())
}

#[tokio::test]
async fn transient_failures_retry_and_block_later_events_of_the_same_lb() -> TestResult {
    let (store, _d) = test_store().await;
    let rec = Arc::new(Recorder::default());
    rec.transient_failures_left.store(3, Ordering::SeqCst);
    let d = Dispatcher::new(store.clone(), rec.clone(), opts(4), Shutdown::new());
    let first = accept(&store, "a", "create").await?;
    let second = accept(&store, "a", "update").await?;
    let (i1, i2) = (first.id, second.id);
    d.submit(first);
    d.submit(second);
    wait_all_final(&store, &[i1, i2]).await?;
    assert_eq!(
        lock(&rec.applied)
            .iter()
            .map(|(_, id)| *id)
            .collect::<Vec<_>>(),
        vec![i1, i2]
    );
    let r1 = store.event(i1).await?.unwrap_or_else(|| panic!());
    assert_eq!(r1.state, EventState::Done);
    assert_eq!(r1.attempts, 4);
    Ok(())
}

#[tokio::test]
async fn permanent_failure_is_journaled_and_reported_to_waiters() -> TestResult {
    let (store, _d) = test_store().await;
    let rec = Arc::new(Recorder::default());
    let d = Dispatcher::new(store.clone(), rec, opts(4), Shutdown::new());
    let job = accept(&store, "a", "permanent").await?;
    let id = job.id;
    let rx = d.completions().register(id);
    d.submit(job);
    let outcome = tokio::time::timeout(Duration::from_secs(5), rx)
        .await
        .unwrap_or_else(|_| panic!("no outcome"))?;
    assert_eq!(outcome.state, EventState::Failed);
    assert_eq!(outcome.reason.as_deref(), Some("rejected by loxilb"));
    let r = store.event(id).await?.unwrap_or_else(|| panic!());
    assert_eq!(r.reason.as_deref(), Some("rejected by loxilb"));
    Ok(())
}

#[tokio::test]
async fn shutdown_leaves_unapplied_events_for_replay() -> TestResult {
    let (store, _d) = test_store().await;
    let rec = Arc::new(Recorder::default());
    rec.transient_failures_left
        .store(usize::MAX, Ordering::SeqCst);
    let shutdown = Shutdown::new();
    let d = Dispatcher::new(store.clone(), rec.clone(), opts(4), shutdown.clone());
    let a = accept(&store, "a", "create").await?;
    let b = accept(&store, "a", "update").await?;
    let (ia, ib) = (a.id, b.id);
    d.submit(a);
    d.submit(b);
    tokio::time::sleep(Duration::from_millis(30)).await;
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(5), shutdown.wait_complete())
        .await
        .unwrap_or_else(|_| panic!("shutdown hung"));
    let pending: Vec<i64> = store
        .unfinished_events()
        .await?
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(pending, vec![ia, ib]);

    // A new dispatcher (the restarted daemon) replays both, in order.
    rec.transient_failures_left.store(0, Ordering::SeqCst);
    let d2 = Dispatcher::new(store.clone(), rec.clone(), opts(4), Shutdown::new());
    assert_eq!(d2.replay().await?, 2);
    wait_all_final(&store, &[ia, ib]).await?;
    assert_eq!(
        lock(&rec.applied)
            .iter()
            .map(|(_, id)| *id)
            .collect::<Vec<_>>(),
        vec![ia, ib]
    );
    Ok(())
}

/// Records the batches it is handed.
#[derive(Default)]
struct Batcher {
    batches: Mutex<Vec<Vec<i64>>>,
    transient_once_at: Mutex<Option<i64>>,
}

#[async_trait::async_trait]
impl JobHandler for Batcher {
    async fn apply(&self, job: &Job) -> Result<(), JobError> {
        lock(&self.batches).push(vec![job.id]);
        Ok(())
    }

    async fn apply_batch(&self, jobs: &[Job]) -> Vec<Result<(), JobError>> {
        lock(&self.batches).push(jobs.iter().map(|j| j.id).collect());
        let fail_at = {
            let mut slot = lock(&self.transient_once_at);
            if jobs.iter().any(|j| Some(j.id) == *slot) {
                slot.take()
            } else {
                None
            }
        };
        jobs.iter()
            .map(|j| {
                if Some(j.id) == fail_at {
                    Err(JobError::Transient("once".into()))
                } else if j.method == "permanent" {
                    Err(JobError::Permanent("no".into()))
                } else {
                    Ok(())
                }
            })
            .scan(false, |stop, r| {
                if *stop {
                    return None;
                }
                *stop = matches!(r, Err(JobError::Transient(_)));
                Some(r)
            })
            .collect()
    }
}

#[tokio::test]
async fn waiting_jobs_are_batched_and_a_transient_failure_retries_only_the_rest() -> TestResult {
    let (store, _d) = test_store().await;
    let rec = Arc::new(Batcher::default());
    let shutdown = Shutdown::new();
    let mut o = opts(4);
    o.batch_max = 3;
    // Queue seven jobs before the dispatcher starts working (as a replay does).
    let mut jobs = Vec::new();
    for i in 0..7 {
        let method = if i == 1 { "permanent" } else { "ok" };
        jobs.push(accept(&store, "a", method).await?);
    }
    *lock(&rec.transient_once_at) = Some(jobs[4].id);
    let d = Dispatcher::new(store.clone(), rec.clone(), o, shutdown.clone());
    let replayed = d.replay().await?;
    assert_eq!(replayed, 7);
    let ids: Vec<i64> = jobs.iter().map(|j| j.id).collect();
    wait_all_final(&store, &ids).await?;
    let batches = lock(&rec.batches).clone();
    assert_eq!(batches[0], ids[0..3].to_vec(), "{batches:?}");
    // The transient failure at job 4 finished job 3 and retried from job 4.
    assert_eq!(batches[1], ids[3..6].to_vec(), "{batches:?}");
    assert_eq!(batches[2][0], ids[4], "{batches:?}");
    let failed = store.event(ids[1]).await?;
    assert_eq!(failed.map(|r| r.state), Some(EventState::Failed));
    assert_eq!(d.queue_depth(), 0);
    Ok(())
}
