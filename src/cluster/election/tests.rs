//! The election on the in-memory fake, on paused time: acquire, renew, step down
//! before expiry when the store stops answering, re-acquire, and two elections never
//! leading at once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::fake::{FakeLeases, Mode};
use super::*;
use crate::test_support::lock;

const LEASE: Duration = Duration::from_secs(10);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Lets the paused clock run for `d` (timers fire in order on the way).
async fn run_for(d: Duration) {
    tokio::time::sleep(d).await;
}

fn start(store: FakeLeases, me: &str) -> (ClusterStatus, Shutdown, JoinHandle<()>) {
    let (election, status) = Election::new(store, me, LEASE);
    let shutdown = Shutdown::new();
    let task = tokio::spawn(election.run(shutdown.clone()));
    (status, shutdown, task)
}

/// Records every role change of `status` with its (paused-clock) instant.
fn record(status: &ClusterStatus) -> Arc<Mutex<Vec<(Instant, Role)>>> {
    let log = Arc::new(Mutex::new(vec![(Instant::now(), status.role())]));
    let mut rx = status.subscribe();
    let out = log.clone();
    tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let role = rx.borrow_and_update().clone();
            lock(&out).push((Instant::now(), role));
        }
    });
    log
}

#[tokio::test(start_paused = true)]
async fn acquires_renews_and_keeps_the_lease() {
    let store = FakeLeases::new();
    let (status, shutdown, task) = start(store.clone(), "ctl-1");
    run_for(Duration::from_millis(1)).await;
    assert_eq!(status.role(), Role::Leader { epoch: 1 });
    assert_eq!(status.leadership_changes(), 1);
    // Two minutes of renewals: same epoch, the row always a full lease ahead minus
    // at most one renewal interval.
    for _ in 0..120 {
        run_for(secs(1)).await;
        assert_eq!(status.role(), Role::Leader { epoch: 1 });
        let left = store.expires() - Instant::now();
        assert!(left > LEASE - LEASE / 3 - secs(1), "{left:?}");
    }
    assert_eq!(store.history().len(), 1);
    shutdown.trigger();
    task.await.unwrap();
    assert!(!status.role().is_leader(), "stops leading at shutdown");
    assert!(store.expires() <= Instant::now(), "released at shutdown");
}

/// The store stops answering (hangs, then fails fast): the leader steps down before
/// its lease could expire by the database's clock, and takes the lease again (a new
/// epoch) once the store answers and the old lease has expired.
#[tokio::test(start_paused = true)]
async fn steps_down_before_expiry_when_the_store_stops_answering() {
    for mode in [Mode::Hanging, Mode::Failing] {
        let store = FakeLeases::new();
        let (status, shutdown, task) = start(store.clone(), "ctl-1");
        let log = record(&status);
        run_for(secs(5)).await;
        assert_eq!(status.role(), Role::Leader { epoch: 1 }, "{mode:?}");
        store.set_mode(mode);
        let expires = store.expires();
        run_for(secs(30)).await;
        let log = lock(&log).clone();
        let (down_at, _) = log
            .iter()
            .find(|(_, r)| {
                !r.is_leader()
                    && *r
                        != Role::Follower {
                            leader: None,
                            epoch: 0,
                        }
            })
            .unwrap_or_else(|| panic!("{mode:?}: never stepped down: {log:?}"));
        assert!(
            *down_at + LEASE / 4 <= expires,
            "{mode:?}: stepped down at {:?} before expiry, less than the margin",
            expires - *down_at
        );
        assert!(!status.role().is_leader());
        store.set_mode(Mode::Up);
        run_for(secs(5)).await;
        assert_eq!(status.role(), Role::Leader { epoch: 2 }, "{mode:?}");
        assert_eq!(status.leadership_changes(), 3, "{mode:?}");
        shutdown.trigger();
        task.await.unwrap();
    }
}

/// A follower sees the leader, and takes over once the leader's lease expires
/// (within lease + retry after the leader stopped renewing).
#[tokio::test(start_paused = true)]
async fn a_follower_shows_the_leader_and_takes_over_after_expiry() {
    let a_db = FakeLeases::new();
    let (a, a_stop, a_task) = start(a_db.clone(), "ctl-a");
    run_for(Duration::from_millis(1)).await;
    let (b, b_stop, b_task) = start(a_db.connect(), "ctl-b");
    run_for(secs(1)).await;
    assert_eq!(a.role(), Role::Leader { epoch: 1 });
    assert_eq!(
        b.role(),
        Role::Follower {
            leader: Some("ctl-a".into()),
            epoch: 1
        }
    );
    // The leader dies without releasing (kill -9): its task is aborted.
    a_task.abort();
    let died = Instant::now();
    let log = record(&b);
    run_for(secs(30)).await;
    let took_over = lock(&log)
        .iter()
        .find(|(_, r)| r.is_leader())
        .map(|(t, _)| *t)
        .unwrap_or_else(|| panic!("no takeover"));
    assert_eq!(b.role(), Role::Leader { epoch: 2 });
    assert!(
        took_over - died <= LEASE + LEASE / 3,
        "{:?}",
        took_over - died
    );
    drop(a_stop);
    b_stop.trigger();
    b_task.await.unwrap();
}

/// Two elections on one store, the leader's connection lost again and again (hanging
/// or failing), for ten simulated minutes: at no instant do both lead, epochs only
/// grow, and leadership really moves back and forth.
#[tokio::test(start_paused = true)]
async fn two_elections_never_lead_at_the_same_time() {
    let db_a = FakeLeases::new();
    let db_b = db_a.connect();
    let (a, a_stop, a_task) = start(db_a.clone(), "ctl-a");
    let (b, b_stop, b_task) = start(db_b.clone(), "ctl-b");
    let both = Arc::new(Mutex::new(Vec::new()));
    let (mut ra, mut rb, out) = (a.subscribe(), b.subscribe(), both.clone());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                r = ra.changed() => if r.is_err() { return },
                r = rb.changed() => if r.is_err() { return },
            }
            if ra.borrow().is_leader() && rb.borrow().is_leader() {
                lock(&out).push(Instant::now());
            }
        }
    });
    for round in 0..20u64 {
        run_for(secs(3)).await;
        let leader_db = if a.role().is_leader() { &db_a } else { &db_b };
        let mode = if round % 2 == 0 {
            Mode::Hanging
        } else {
            Mode::Failing
        };
        leader_db.set_mode(mode);
        // Longer than a leader can go without renewing (7.5 s), so every round
        // ends the current term.
        run_for(secs(8 + round % 5)).await;
        leader_db.set_mode(Mode::Up);
        run_for(secs(10)).await;
    }
    assert!(lock(&both).is_empty(), "both led at {:?}", lock(&both));
    let history = db_a.history();
    assert!(history.windows(2).all(|w| w[0].0 < w[1].0), "{history:?}");
    assert!(
        history.len() >= 21,
        "only {} terms: {history:?}",
        history.len()
    );
    for who in ["ctl-a", "ctl-b"] {
        assert!(
            history.iter().any(|h| h.1 == who),
            "{who} never led: {history:?}"
        );
    }
    // Every term but the last began and ended once, on one of the two.
    let flips = a.leadership_changes() + b.leadership_changes();
    assert_eq!(flips, 2 * history.len() as u64 - 1, "{history:?}");
    a_stop.trigger();
    b_stop.trigger();
    a_task.await.unwrap();
    b_task.await.unwrap();
}

/// The fence the LoxiLB and agent clients check opens with the lease and closes by
/// itself at the local deadline, a margin before the database's expiry, even while
/// the election is stuck in a hanging renewal.
#[tokio::test(start_paused = true)]
async fn the_fence_closes_a_margin_before_the_lease_expires() {
    let store = FakeLeases::new();
    let fence = crate::fence::Fence::cluster();
    let (election, status) = Election::new(store.clone(), "ctl-1", LEASE);
    let election = election.with_fence(fence.clone());
    let shutdown = Shutdown::new();
    let task = tokio::spawn(election.run(shutdown.clone()));
    run_for(Duration::from_millis(1)).await;
    assert_eq!(status.role(), Role::Leader { epoch: 1 });
    assert_eq!(fence.epoch(), Some(1));
    store.set_mode(Mode::Hanging);
    let expires = store.expires();
    tokio::time::sleep_until(expires - LEASE / 4 - Duration::from_millis(5)).await;
    assert!(fence.may_act(), "still inside the local deadline");
    tokio::time::sleep_until(expires - LEASE / 4 + Duration::from_millis(1)).await;
    assert!(!fence.may_act(), "closed a margin before the lease expires");
    store.set_mode(Mode::Up);
    run_for(secs(10)).await;
    assert_eq!(fence.epoch(), Some(2), "open again with the new epoch");
    shutdown.trigger();
    task.await.unwrap();
    assert!(!fence.may_act(), "closed when leaving");
}
