//! The delivery task against the driver agent simulator on real Unix sockets
//! in a temporary directory; every wait is a condition with a deadline.

use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

use driver_agent_sim::{AgentControl, Mode, Socket, COLLECTIONS};
use serde_json::Value;

use super::delivery::{DeliveryHandle, DeliveryOptions, StatusDelivery};
use crate::octavia::{ClientOptions, DriverAgentClient};
use crate::shutdown::Shutdown;
use crate::store::{test_store, StatusRecord, Store};
use crate::test_support::TestResult;

const WAIT: Duration = Duration::from_secs(10);
const SHORT: Duration = Duration::from_millis(300);

fn client(dir: &Path) -> DriverAgentClient {
    DriverAgentClient::with_options(
        dir.join("status.sock"),
        dir.join("stats.sock"),
        dir.join("get.sock"),
        ClientOptions {
            connect_timeout: SHORT,
            io_timeout: SHORT,
            reply_timeout: SHORT,
            ..ClientOptions::default()
        },
    )
}

fn opts(batch_max: usize) -> DeliveryOptions {
    DeliveryOptions {
        batch_max,
        // Long, so the tests prove notifications (or retries) drive delivery.
        poll_interval: Duration::from_secs(3600),
        backoff_min: Duration::from_millis(5),
        backoff_max: Duration::from_millis(40),
    }
}

fn rec(c: &str, id: &str, p: &str) -> StatusRecord {
    StatusRecord {
        collection: c.into(),
        id: id.into(),
        provisioning_status: Some(p.into()),
        operating_status: None,
    }
}

async fn enqueue(store: &Store, records: &[StatusRecord]) -> TestResult {
    store.enqueue_statuses(records).await?;
    Ok(())
}

/// Polls `check` until it holds; panics with `what` after [`WAIT`].
async fn until<F, Fut>(what: &str, check: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn drained(store: &Store) -> bool {
    store.outbox_len().await.is_ok_and(|n| n == 0)
}

/// Wait until the counters read exactly `delivered` and `dropped`. They move
/// after the outbox rows are removed, so an empty outbox does not mean counted yet.
async fn counted(run: &Running, delivered: u64, dropped: u64) {
    until("delivery counters", || async {
        let s = run.handle.stats();
        s.delivered == delivered && s.dropped == dropped
    })
    .await;
}

struct Running {
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<()>,
    handle: DeliveryHandle,
}

fn start(store: &Store, dir: &Path, opts: DeliveryOptions) -> Running {
    let (delivery, handle) = StatusDelivery::new(store.clone(), client(dir), opts);
    let shutdown = Shutdown::new();
    let task = tokio::spawn(delivery.run(shutdown.clone()));
    Running {
        shutdown,
        task,
        handle,
    }
}

impl Running {
    async fn stop(self) -> TestResult {
        self.shutdown.trigger();
        tokio::time::timeout(WAIT, self.task)
            .await
            .unwrap_or_else(|_| panic!("delivery did not stop"))?;
        Ok(())
    }
}

/// `collection/id=STATUS` for every entry of every message, in order
/// (collections in Octavia's order, entries as sent).
fn entries(c: &AgentControl) -> Vec<Vec<String>> {
    c.status_messages()
        .iter()
        .map(|m| {
            let mut out = Vec::new();
            for collection in COLLECTIONS {
                let list = m.get(collection).and_then(Value::as_array);
                for e in list.into_iter().flatten() {
                    let id = e.get("id").and_then(Value::as_str).unwrap_or("?");
                    let p = e
                        .get("provisioning_status")
                        .and_then(Value::as_str)
                        .unwrap_or("-");
                    out.push(format!("{collection}/{id}={p}"));
                }
            }
            out
        })
        .collect()
}

#[tokio::test]
async fn delivers_in_order_in_bounded_batches() -> TestResult {
    let (store, _db) = test_store().await;
    let dir = tempfile::tempdir()?;
    let agent = driver_agent_sim::spawn(dir.path()).await?;
    let ids = ["m5", "m3", "m1", "m4", "m2"];
    for id in ids {
        enqueue(&store, &[rec("members", id, "ACTIVE")]).await?;
    }
    let run = start(&store, dir.path(), opts(2));
    until("outbox drained", || drained(&store)).await;
    // 5 records, batch_max 2 → ceil(5/2) = 3 messages, in production order.
    assert_eq!(
        entries(&agent.control()),
        vec![
            vec!["members/m5=ACTIVE", "members/m3=ACTIVE"],
            vec!["members/m1=ACTIVE", "members/m4=ACTIVE"],
            vec!["members/m2=ACTIVE"],
        ]
    );
    counted(&run, 5, 0).await;
    // Later statuses are picked up on notification, not only by polling.
    enqueue(
        &store,
        &[rec("members", "m1", "DELETED"), rec("pools", "p", "ACTIVE")],
    )
    .await?;
    run.handle.notify();
    let c = agent.control();
    assert!(c.wait_until(|c| c.status_messages().len() == 4, WAIT).await);
    assert_eq!(
        entries(&c)[3],
        vec!["pools/p=ACTIVE", "members/m1=DELETED"],
        "grouped by collection in one message"
    );
    run.stop().await?;
    agent.stop().await;
    Ok(())
}

#[tokio::test]
async fn agent_down_then_up_loses_nothing_and_latest_wins() -> TestResult {
    let (store, _db) = test_store().await;
    let dir = tempfile::tempdir()?;
    enqueue(
        &store,
        &[rec("members", "m1", "ACTIVE"), rec("pools", "p1", "ACTIVE")],
    )
    .await?;
    // No agent yet: the socket does not exist.
    let run = start(&store, dir.path(), opts(10));
    until("failed attempts", || async {
        run.handle.stats().failed_attempts >= 2
    })
    .await;
    // While the agent is down the member is deleted: only that is reported.
    enqueue(&store, &[rec("members", "m1", "DELETED")]).await?;
    run.handle.notify();
    assert_eq!(store.outbox_len().await.ok(), Some(2));
    let agent = driver_agent_sim::spawn(dir.path()).await?;
    until("outbox drained", || drained(&store)).await;
    let c = agent.control();
    let all: Vec<String> = entries(&c).into_iter().flatten().collect();
    assert_eq!(all, vec!["pools/p1=ACTIVE", "members/m1=DELETED"]);
    counted(&run, 2, 0).await;
    run.stop().await?;
    agent.stop().await;
    Ok(())
}

#[tokio::test]
async fn agent_failures_keep_everything_until_it_recovers() -> TestResult {
    let (store, _db) = test_store().await;
    let dir = tempfile::tempdir()?;
    let agent = driver_agent_sim::spawn(dir.path()).await?;
    let c = agent.control();
    // The real agent answers 500 naming the first record when its database is
    // down; the rest fails the same way, so nothing may be dropped.
    c.set_mode(Socket::Status, Mode::Fail("database unavailable".into()));
    enqueue(
        &store,
        &[rec("members", "m1", "ACTIVE"), rec("pools", "p1", "ACTIVE")],
    )
    .await?;
    let run = start(&store, dir.path(), opts(10));
    until("several failed rounds", || async {
        run.handle.stats().failed_attempts >= 2 * u64::from(super::delivery::EVIDENT_STRIKES) + 2
    })
    .await;
    assert_eq!(run.handle.stats().dropped, 0);
    c.set_mode(Socket::Status, Mode::Normal);
    until("outbox drained", || drained(&store)).await;
    assert_eq!(
        entries(&c).concat(),
        vec!["pools/p1=ACTIVE", "members/m1=ACTIVE"]
    );
    assert_eq!(run.handle.stats().dropped, 0);
    run.stop().await?;
    agent.stop().await;
    Ok(())
}

#[tokio::test]
async fn a_rejected_record_does_not_block_the_queue() -> TestResult {
    let (store, _db) = test_store().await;
    let dir = tempfile::tempdir()?;
    let agent = driver_agent_sim::spawn(dir.path()).await?;
    // The agent refuses a record without an id, naming it.
    enqueue(
        &store,
        &[
            rec("members", "", "ACTIVE"),
            rec("members", "m1", "ACTIVE"),
            rec("pools", "p1", "ACTIVE"),
        ],
    )
    .await?;
    let run = start(&store, dir.path(), opts(10));
    let c = agent.control();
    // The others go through at once, before the bad record is given up on.
    assert!(
        c.wait_until(|c| !c.status_messages().is_empty(), WAIT)
            .await
    );
    assert_eq!(entries(&c)[0], vec!["pools/p1=ACTIVE", "members/m1=ACTIVE"]);
    until("bad record dropped", || async {
        run.handle.stats().dropped == 1
    })
    .await;
    assert!(drained(&store).await);
    // Later statuses flow normally.
    enqueue(&store, &[rec("members", "m2", "ACTIVE")]).await?;
    run.handle.notify();
    until("outbox drained", || drained(&store)).await;
    assert_eq!(
        c.latest_status("members", "m2").0.as_deref(),
        Some("ACTIVE")
    );
    counted(&run, 3, 1).await;
    run.stop().await?;
    agent.stop().await;
    Ok(())
}

#[tokio::test]
async fn rows_the_agent_cannot_take_are_dropped_locally() -> TestResult {
    let (store, _db) = test_store().await;
    let dir = tempfile::tempdir()?;
    let agent = driver_agent_sim::spawn(dir.path()).await?;
    enqueue(
        &store,
        &[
            rec("amphorae", "a1", "ACTIVE"),
            rec("members", "m1", "ALIVE"),
            rec("members", "m2", "ACTIVE"),
        ],
    )
    .await?;
    let run = start(&store, dir.path(), opts(10));
    until("outbox drained", || drained(&store)).await;
    assert_eq!(entries(&agent.control()), vec![vec!["members/m2=ACTIVE"]]);
    counted(&run, 1, 2).await;
    run.stop().await?;
    agent.stop().await;
    Ok(())
}

#[tokio::test]
async fn shutdown_makes_a_last_attempt_then_returns() -> TestResult {
    let (store, _db) = test_store().await;
    let dir = tempfile::tempdir()?;
    let agent = driver_agent_sim::spawn(dir.path()).await?;
    let run = start(&store, dir.path(), opts(10));
    // Not notified and the poll interval is an hour: only shutdown sends it.
    enqueue(&store, &[rec("loadbalancers", "lb", "ACTIVE")]).await?;
    let started = Instant::now();
    run.stop().await?;
    assert!(started.elapsed() < super::delivery::FINAL_ATTEMPT);
    assert!(drained(&store).await);
    assert_eq!(
        agent
            .control()
            .latest_status("loadbalancers", "lb")
            .0
            .as_deref(),
        Some("ACTIVE")
    );
    agent.stop().await;
    Ok(())
}

#[tokio::test]
async fn shutdown_with_a_stalled_agent_is_bounded_and_keeps_rows() -> TestResult {
    let (store, _db) = test_store().await;
    let dir = tempfile::tempdir()?;
    let agent = driver_agent_sim::spawn(dir.path()).await?;
    let c = agent.control();
    c.set_mode(Socket::Status, Mode::Stall);
    enqueue(&store, &[rec("members", "m1", "ACTIVE")]).await?;
    let run = start(&store, dir.path(), opts(10));
    assert!(
        c.wait_until(|c| !c.status_messages().is_empty(), WAIT)
            .await
    );
    let started = Instant::now();
    run.stop().await?;
    assert!(
        started.elapsed() < super::delivery::FINAL_ATTEMPT + Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(
        store.outbox_len().await.ok(),
        Some(1),
        "kept for next start"
    );
    agent.stop().await;
    Ok(())
}

#[tokio::test]
async fn idle_task_stops_at_once() -> TestResult {
    let (store, _db) = test_store().await;
    let dir = tempfile::tempdir()?;
    let run = start(&store, dir.path(), opts(10));
    tokio::task::yield_now().await;
    let started = Instant::now();
    run.stop().await?;
    assert!(started.elapsed() < Duration::from_millis(500));
    Ok(())
}
