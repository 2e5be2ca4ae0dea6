//! The lease statements against a real MariaDB: the test process's shared server
//! (`mariadb-harness`), a fresh database per test.

use std::time::{Duration, Instant};

use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::Row;

use super::super::lease_mysql::{self as sql, LeaseOutcome};
use crate::test_support::ok;

const NAME: &str = sql::LEADER_LEASE;
const TTL: Duration = Duration::from_secs(10);

/// A pool of `max` connections on database `url`.
async fn pool(url: &str, max: u32) -> MySqlPool {
    ok(MySqlPoolOptions::new()
        .max_connections(max)
        .connect(url)
        .await)
}

/// A fresh database on the test process's shared MariaDB, with the lease tables, and
/// two pools on it: two instances, each with its own connections.
async fn setup(name: &str) -> (String, MySqlPool, MySqlPool) {
    let server = ok(mariadb_harness::MariaDb::shared());
    let url = ok(server.fresh_database(name).await);
    let (a, b) = (pool(&url, 2).await, pool(&url, 2).await);
    ok(sql::create_tables(&a).await);
    (url, a, b)
}

/// The acquire of one instance, and its epoch when it won.
fn winner(o: &LeaseOutcome) -> Option<u64> {
    o.won.then(|| o.row.as_ref().map_or(0, |r| r.epoch))
}

/// Two instances race the acquire 200 times: exactly one wins each time, the epoch
/// rises by one per win, nobody takes an unexpired lease (its holder included), a
/// renewal by the loser or by the previous term's holder fails, and the history shows
/// terms that never overlap.
#[tokio::test]
async fn two_instances_racing_acquire_get_exactly_one_winner_each_time() {
    let (_url, pa, pb) = setup("lease_race").await;
    let mut last: Option<(&str, u64)> = None;
    let mut wins = [0u32; 2];
    for round in 1..=200u64 {
        let (ra, rb) = tokio::join!(
            sql::try_acquire(&pa, NAME, "ctl-a", TTL),
            sql::try_acquire(&pb, NAME, "ctl-b", TTL)
        );
        let (ra, rb) = (ok(ra), ok(rb));
        let (me, loser, pool, epoch) = match (winner(&ra), winner(&rb)) {
            (Some(e), None) => ("ctl-a", "ctl-b", &pa, e),
            (None, Some(e)) => ("ctl-b", "ctl-a", &pb, e),
            other => panic!("round {round}: winners {other:?}: {ra:?} {rb:?}"),
        };
        wins[usize::from(me == "ctl-b")] += 1;
        assert_eq!(epoch, round, "epoch rises by one per term");
        // Nobody takes an unexpired lease, not even its holder.
        for (p, who) in [(&pa, "ctl-a"), (&pb, "ctl-b")] {
            assert!(
                !ok(sql::try_acquire(p, NAME, who, TTL).await).won,
                "round {round}"
            );
        }
        assert!(!ok(sql::renew(&pa, NAME, loser, epoch, TTL).await).won);
        if let Some((old, old_epoch)) = last {
            assert!(!ok(sql::renew(&pa, NAME, old, old_epoch, TTL).await).won);
        }
        let renewed = ok(sql::renew(pool, NAME, me, epoch, TTL).await);
        assert!(renewed.won, "round {round}: the holder renews");
        let left = renewed.row.map(|r| r.remaining).unwrap_or_default();
        assert!(
            left > TTL - Duration::from_secs(2) && left <= TTL,
            "{left:?}"
        );
        ok(sql::release(pool, NAME, me, epoch).await);
        last = Some((me, epoch));
    }
    assert!(
        wins[0] > 0 && wins[1] > 0,
        "one instance always won: {wins:?}"
    );
    check_history(&pa, 200).await;
}

/// `lease_history` holds `terms` terms, epochs 1..=terms, each acquired only after
/// the previous one had expired (by the database's clock).
async fn check_history(pool: &MySqlPool, terms: u64) {
    let rows = ok(sqlx::query(
        "SELECT epoch, holder, acquired_at < expires_at AS sane, \
         acquired_at >= LAG(expires_at) OVER (ORDER BY epoch) AS after_prev \
         FROM lease_history WHERE name = ? ORDER BY epoch",
    )
    .bind(NAME)
    .fetch_all(pool)
    .await);
    assert_eq!(rows.len() as u64, terms);
    for (i, row) in rows.iter().enumerate() {
        let epoch: u64 = ok(row.try_get("epoch"));
        assert_eq!(epoch, i as u64 + 1);
        let sane: Option<i64> = ok(row.try_get("sane"));
        assert_eq!(
            sane,
            Some(1),
            "epoch {epoch}: expires after it was acquired"
        );
        let after: Option<i64> = ok(row.try_get("after_prev"));
        if i > 0 {
            assert_eq!(
                after,
                Some(1),
                "epoch {epoch} began before {} ended",
                epoch - 1
            );
        }
    }
}

/// A lease runs out by the database's clock alone: taken only after it expired, the
/// old holder's renewal then fails, and its fence refuses the writes of the old epoch.
#[tokio::test]
async fn an_expired_lease_is_taken_over_and_the_old_epoch_is_fenced() {
    let (_url, pa, pb) = setup("lease_expiry").await;
    let short = Duration::from_millis(400);
    let a = ok(sql::try_acquire(&pa, NAME, "ctl-a", short).await);
    let epoch_a = winner(&a).unwrap_or_else(|| panic!("{a:?}"));
    assert!(!ok(sql::try_acquire(&pb, NAME, "ctl-b", TTL).await).won);
    let t0 = Instant::now();
    let b = loop {
        let b = ok(sql::try_acquire(&pb, NAME, "ctl-b", TTL).await);
        if b.won {
            break b;
        }
        assert!(t0.elapsed() < Duration::from_secs(5), "never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let epoch_b = winner(&b).unwrap_or_default();
    assert_eq!(epoch_b, epoch_a + 1);
    assert!(!ok(sql::renew(&pa, NAME, "ctl-a", epoch_a, short).await).won);
    // Instance ids compare exactly (binary collation): another case is another id.
    assert!(!ok(sql::renew(&pa, NAME, "CTL-B", epoch_b, short).await).won);

    ok(sqlx::query("CREATE TABLE applied (id INT PRIMARY KEY)")
        .execute(&pa)
        .await);
    let mut tx = ok(pa.begin().await);
    assert!(
        !ok(sql::fence(&mut tx, NAME, "ctl-a", epoch_a).await),
        "old epoch refused"
    );
    ok(tx.rollback().await);
    let mut tx = ok(pb.begin().await);
    assert!(ok(sql::fence(&mut tx, NAME, "ctl-b", epoch_b).await));
    ok(sqlx::query("INSERT INTO applied VALUES (1)")
        .execute(&mut *tx)
        .await);
    assert!(
        ok(sql::fence(&mut tx, NAME, "ctl-b", epoch_b).await),
        "twice in one tx"
    );
    ok(tx.commit().await);
}

/// A fenced transaction holds the lease row: an acquire racing it on the same server
/// waits for its COMMIT, so the old term's writes land before the new term starts.
#[tokio::test]
async fn an_open_fenced_transaction_holds_off_a_takeover_until_it_commits() {
    let (_url, pa, pb) = setup("lease_fence_lock").await;
    let a = ok(sql::try_acquire(&pa, NAME, "ctl-a", Duration::from_millis(200)).await);
    let epoch_a = winner(&a).unwrap_or_else(|| panic!("{a:?}"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut tx = ok(pa.begin().await);
    assert!(
        ok(sql::fence(&mut tx, NAME, "ctl-a", epoch_a).await),
        "expired, not taken"
    );
    let takeover = tokio::spawn(async move { sql::try_acquire(&pb, NAME, "ctl-b", TTL).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !takeover.is_finished(),
        "the acquire waits for the fenced transaction"
    );
    ok(tx.commit().await);
    let b = ok(ok(takeover.await));
    assert_eq!(winner(&b), Some(epoch_a + 1));
}

/// Polls (real time) until `f` holds; panics with `what` after `within`.
async fn eventually(what: &str, within: Duration, f: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Two elections on MariaDB with a 2 s lease: one leads, the other knows it; when the
/// leader dies without a word (its task aborted: kill -9) the other leads within a
/// lease and a bit; when that one shuts down cleanly it releases the lease and a third
/// takes over within the margin plus one follower poll, well before a lease.
#[tokio::test]
async fn elections_on_mariadb_hand_over_on_death_and_on_shutdown() {
    use crate::cluster::{Election, MysqlLeases};
    use crate::shutdown::Shutdown;
    let (url, pa, pb) = setup("lease_elections").await;
    let lease = Duration::from_secs(2);
    let (ea, a) = Election::new(MysqlLeases::new(pa), "ctl-a", lease);
    let (eb, b) = Election::new(MysqlLeases::new(pb), "ctl-b", lease);
    let (sa, sb) = (Shutdown::new(), Shutdown::new());
    let ta = tokio::spawn(ea.run(sa.clone()));
    let tb = tokio::spawn(eb.run(sb.clone()));
    let s = Duration::from_secs(5);
    eventually("a leader", s, || {
        a.role().is_leader() || b.role().is_leader()
    })
    .await;
    // Name them by what they became.
    let (dead, dead_task, next, next_stop, next_task) = if a.role().is_leader() {
        (a, ta, b, sb, tb)
    } else {
        (b, tb, a, sa, ta)
    };
    let dead_id = dead.instance_id().to_owned();
    eventually("the follower knows the leader", s, || {
        next.leader_id().as_deref() == Some(dead_id.as_str())
    })
    .await;
    assert!(!next.role().is_leader());
    dead_task.abort();
    let t0 = Instant::now();
    eventually("takeover", s, || next.role().is_leader()).await;
    let took = t0.elapsed();
    eprintln!("takeover after the leader died: {took:?} (lease {lease:?})");
    assert!(took <= lease + lease / 4, "{took:?}");
    let epoch = next.role().epoch();
    let (ec, c) = Election::new(MysqlLeases::new(pool(&url, 2).await), "ctl-c", lease);
    let sc = Shutdown::new();
    let tc = tokio::spawn(ec.run(sc.clone()));
    let next_id = next.instance_id().to_owned();
    eventually("c knows the leader", s, || {
        c.leader_id().as_deref() == Some(next_id.as_str())
    })
    .await;
    next_stop.trigger();
    let t0 = Instant::now();
    eventually("takeover after shutdown", s, || c.role().is_leader()).await;
    let took = t0.elapsed();
    eprintln!("takeover after a clean shutdown: {took:?}");
    // The margin, then the follower's next look (every third of the lease).
    assert!(took < lease / 4 + lease / 3 + lease / 10, "{took:?}");
    assert_eq!(c.role().epoch(), epoch + 1);
    assert!(!next.role().is_leader());
    ok(next_task.await);
    sc.trigger();
    ok(tc.await);
}
