//! Opening a MySQL store: failing fast and naming the server, never the password;
//! schema versions; conflicts classified for retrying.

use std::time::{Duration, Instant};

use mariadb_harness::MariaDb;

use super::*;
use crate::store::contract::{mysql_store, ok};
use crate::test_support::TestResult;

fn server() -> TestResult<&'static MariaDb> {
    Ok(MariaDb::shared()?)
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let l = ok(std::net::TcpListener::bind("127.0.0.1:0"));
    ok(l.local_addr()).port()
}

#[tokio::test]
async fn an_unreachable_server_fails_fast_naming_it_and_not_the_password() -> TestResult {
    let port = closed_port();
    let url = format!("mysql://app:hunter2@127.0.0.1:{port}/db");
    let started = Instant::now();
    let err = MysqlStore::open(&url, None, 2).await.err();
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let err = err.unwrap_or_else(|| panic!("opened"));
    let shown = format!("{err} {err:?}");
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
    assert!(shown.to_lowercase().contains("refused"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!err.is_transient());
    Ok(())
}

#[tokio::test]
async fn a_wrong_password_is_refused_without_showing_it() -> TestResult {
    let (url, _) = ok(server()?.fresh_database_with_password("wrong_pw").await);
    let err = MysqlStore::open(&url, Some("not-the-s3cret"), 2)
        .await
        .err();
    let err = err.unwrap_or_else(|| panic!("opened"));
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("Access denied"), "{shown}");
    assert!(
        shown.contains(&format!("127.0.0.1:{}", server()?.port())),
        "{shown}"
    );
    assert!(!shown.contains("not-the-s3cret"), "{shown}");
    Ok(())
}

/// The password comes beside the URL (from a file or the environment), and the
/// store's Debug shows neither it nor the pool's options.
#[tokio::test]
async fn the_password_argument_opens_and_is_never_shown() -> TestResult {
    let (url, password) = ok(server()?.fresh_database_with_password("right_pw").await);
    let store = ok(MysqlStore::open(&url, Some(&password), 2).await);
    ok(store.ping().await);
    let shown = format!("{store:?} {}", store.target());
    assert!(!shown.contains(&password), "{shown}");
    assert!(shown.contains("127.0.0.1"), "{shown}");
    store.close().await;
    Ok(())
}

#[tokio::test]
async fn a_url_without_a_database_is_refused_naming_the_url_redacted() -> TestResult {
    let url = format!("mysql://root:pw@127.0.0.1:{}", server()?.port());
    let err = MysqlStore::open(&url, None, 1).await.err();
    let shown = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(shown.contains("no database"), "{shown}");
    assert!(shown.contains("root:***@127.0.0.1"), "{shown}");
    Ok(())
}

/// Marks the database's schema as version `v` (what another binary would leave).
/// Make the database look migrated up to `v` only: the newest applied migration
/// becomes `v` and those after it are forgotten.
async fn set_version(store: &MysqlStore, v: i64) {
    ok(
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version > 1")
            .execute(store.pool())
            .await,
    );
    ok(sqlx::query("UPDATE _sqlx_migrations SET version = ?")
        .bind(v)
        .execute(store.pool())
        .await);
}

#[tokio::test]
async fn a_newer_schema_is_refused_naming_both_versions() -> TestResult {
    let store = mysql_store("schema_newer").await?;
    set_version(&store, 9999).await;
    let url = format!("{}/{}", server()?.admin_url(), database_of(&store).await);
    let shown = MysqlStore::open(&url, None, 1)
        .await
        .err()
        .map(|e| e.to_string());
    let shown = shown.unwrap_or_else(|| panic!("opened"));
    assert!(
        shown.contains("9999") && shown.contains(&format!("version {}", super::schema::expected())),
        "{shown}"
    );
    assert!(shown.contains("newer"), "{shown}");
    let shown = MysqlStore::migrate(&url, None)
        .await
        .err()
        .map(|e| e.to_string());
    assert!(
        shown.is_some_and(|s| s.contains("9999")),
        "migrate refuses too"
    );
    Ok(())
}

#[tokio::test]
async fn an_older_schema_is_refused_naming_both_versions_and_the_step() -> TestResult {
    let store = mysql_store("schema_older").await?;
    set_version(&store, 0).await;
    let url = format!("{}/{}", server()?.admin_url(), database_of(&store).await);
    let err = MysqlStore::open(&url, None, 1).await.err();
    let err = err.unwrap_or_else(|| panic!("opened"));
    assert!(
        matches!(
            err,
            StoreError::SchemaVersion { found: 0, expected }
                if expected == super::schema::expected()
        ),
        "{err}"
    );
    assert!(err.to_string().contains("migrate"), "{err}");
    assert!(!err.is_transient());
    Ok(())
}

/// `migrate` creates the schema in an empty database; open then finds it current.
#[tokio::test]
async fn migrate_brings_an_empty_database_to_the_current_schema() -> TestResult {
    let url = ok(server()?.fresh_database("migrate_empty").await);
    ok(MysqlStore::migrate(&url, None).await);
    ok(MysqlStore::migrate(&url, None).await);
    let store = ok(MysqlStore::open(&url, None, 1).await);
    assert_eq!(ok(store.event_count().await), 0);
    Ok(())
}

async fn database_of(store: &MysqlStore) -> String {
    let row = ok(sqlx::query("SELECT DATABASE()")
        .fetch_one(store.pool())
        .await);
    ok(super::rows::text(&row, 0))
}

/// A real InnoDB deadlock (error 1213, as Galera reports a certification conflict)
/// is a lost conflict: the whole transaction may run again.
#[tokio::test]
async fn a_deadlock_is_a_conflict_to_retry() -> TestResult {
    let store = mysql_store("deadlock").await?;
    for node in ["a", "b"] {
        ok(store.mark_backlog(node, "lb", "x").await);
    }
    let lock = |first: &'static str, second: &'static str| {
        let pool = store.pool().clone();
        async move {
            let mut tx = pool.begin().await?;
            let sql = "UPDATE node_backlog SET attempts = attempts + 1 WHERE node = ?";
            sqlx::query(sql).bind(first).execute(&mut *tx).await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            sqlx::query(sql).bind(second).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<(), sqlx::Error>(())
        }
    };
    let (one, two) = tokio::join!(lock("a", "b"), lock("b", "a"));
    let lost = [one, two]
        .into_iter()
        .filter_map(Result::err)
        .map(StoreError::from)
        .collect::<Vec<_>>();
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert!(is_conflict(&lost[0]), "{}", lost[0]);
    assert!(lost[0].is_transient());
    assert!(!is_conflict(&StoreError::Closed));
    Ok(())
}

/// `retrying` runs a transaction again after a lost conflict (here a lock wait
/// timeout, 1205), and not after other errors.
#[tokio::test]
async fn lost_conflicts_are_retried_and_other_errors_are_not() -> TestResult {
    use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
    let store = mysql_store("retrying").await?;
    ok(store.mark_backlog("a", "lb", "x").await);
    let bump = "UPDATE node_backlog SET attempts = attempts + 1 WHERE node = 'a'";
    let mut holder = ok(store.pool().begin().await);
    ok(sqlx::query(bump).execute(&mut *holder).await);
    let holder = tokio::sync::Mutex::new(Some(holder));
    let runs = AtomicU32::new(0);
    ok(retrying(|| async {
        if runs.fetch_add(1, Relaxed) == 1 {
            // The second attempt finds the lock released.
            if let Some(h) = holder.lock().await.take() {
                h.rollback().await?;
            }
        }
        let mut tx = store.pool().begin().await?;
        sqlx::query("SET SESSION innodb_lock_wait_timeout = 1")
            .execute(&mut *tx)
            .await?;
        sqlx::query(bump).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    })
    .await);
    assert_eq!(runs.load(Relaxed), 2);

    let runs = AtomicU32::new(0);
    let res: Result<(), StoreError> = retrying(|| async {
        runs.fetch_add(1, Relaxed);
        sqlx::query("SELECT * FROM no_such_table")
            .execute(store.pool())
            .await?;
        Ok(())
    })
    .await;
    assert!(res.is_err());
    assert_eq!(runs.load(Relaxed), 1);
    Ok(())
}

/// Acceptances of one ordering key queue on the key's row: while another writer
/// holds it, an acceptance of that key waits (and then gets the later id) while
/// other keys go ahead. This is what keeps per-load-balancer order across daemons.
#[tokio::test]
async fn acceptances_of_one_key_wait_for_each_other_and_others_do_not() -> TestResult {
    use crate::store::KeyHint;
    let store = mysql_store("key_lock").await?;
    let accept = |lb: &'static str| {
        let s = store.clone();
        async move {
            let hint = KeyHint::Loadbalancer(lb.into());
            s.accept_event("lb_update", "{}", ("loadbalancer", lb), &hint, None)
                .await
        }
    };
    ok(accept("x").await);
    let mut holder = ok(store.pool().begin().await);
    ok(
        sqlx::query("SELECT last_id FROM journal_keys WHERE ordering_key = 'lb:x' FOR UPDATE")
            .execute(&mut *holder)
            .await,
    );
    let waiting = tokio::spawn(accept("x"));
    let other = ok(tokio::time::timeout(Duration::from_secs(5), accept("y")).await);
    let other = ok(other);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "an acceptance of lb:x went past the key's lock"
    );
    ok(holder.rollback().await);
    let later = ok(ok(waiting.await));
    assert!(later.id > other.id, "ids follow the key's commit order");
    Ok(())
}

/// A value longer than its column is refused by MySQL (SQLite would store it): the
/// same write fails every time, so it is not transient.
#[tokio::test]
async fn a_value_too_long_for_its_column_is_a_permanent_error() -> TestResult {
    use crate::store::KeyHint;
    let store = mysql_store("too_long").await?;
    let long = "x".repeat(300);
    let hint = KeyHint::Loadbalancer("lb".into());
    let err = store
        .accept_event("member_create", "{}", ("member", &long), &hint, None)
        .await
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(err.to_string().contains("object_id"), "{err}");
    assert!(!err.is_transient(), "{err}");
    assert_eq!(ok(store.event_count().await), 0);
    Ok(())
}

/// A daemon that died after claiming the schema's creation, before creating
/// anything, blocks the database only until its claim is old: a later start takes
/// over and creates the schema.
#[tokio::test]
async fn a_dead_claimers_old_claim_is_taken_over() -> TestResult {
    let url = ok(server()?.fresh_database("stale_claim").await);
    let mut conn = ok(<sqlx::MySqlConnection as sqlx::Connection>::connect(&url).await);
    ok(sqlx::query(
        "CREATE TABLE schema_claim (id INT NOT NULL PRIMARY KEY, claimed_at BIGINT NOT NULL)",
    )
    .execute(&mut conn)
    .await);
    ok(sqlx::query("INSERT INTO schema_claim VALUES (1, 0)")
        .execute(&mut conn)
        .await);
    let started = Instant::now();
    let first = MysqlStore::open(&url, None, 1).await;
    assert!(
        first.is_err(),
        "the claim is another daemon's while it may be alive"
    );
    assert!(started.elapsed() >= Duration::from_secs(9));
    let store = ok(MysqlStore::open(&url, None, 1).await);
    assert_eq!(ok(store.event_count().await), 0);
    Ok(())
}

/// In a cluster the leader's transactions carry its epoch: refused while the fence
/// is closed, accepted while this instance holds the lease, and refused again once
/// another instance took the lease over (a deposed leader's late outcome).
#[tokio::test]
async fn the_leaders_writes_carry_its_epoch() -> TestResult {
    use crate::store::lease_mysql::{renew, try_acquire, LEADER_LEASE};
    use crate::store::{EventState, KeyHint, Table};
    let plain = mysql_store("fenced_writes").await?;
    let plain_reader = plain.clone();
    let pool = plain.pool().clone();
    let fence = crate::fence::Fence::cluster();
    let store = plain.with_fence("ctl-a", fence.clone());
    let a = ok(store
        .accept_event(
            "loadbalancer_create",
            "{}",
            ("loadbalancer", "lb1"),
            &KeyHint::Loadbalancer("lb1".into()),
            None,
        )
        .await);
    let outcome = [(a.id, EventState::Done, None)];
    let finish = || store.finish_events(&outcome, &[]);
    let refused = finish().await.err();
    assert!(
        matches!(refused, Some(StoreError::Fenced { epoch: None })),
        "{refused:?}"
    );

    let won = ok(try_acquire(&pool, LEADER_LEASE, "ctl-a", Duration::from_secs(1)).await);
    let epoch = won.row.map(|r| r.epoch).unwrap_or(0);
    assert!(won.won && epoch > 0);
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    fence.open_until(i64::try_from(epoch).unwrap_or(0), until);
    ok(finish().await);
    // Single-statement writes carry it too.
    let lb = |v: u64| serde_json::json!({"loadbalancer_id": "lb1", "v": v});
    ok(store
        .put_object(Table::Loadbalancers, "lb1", None, &lb(1))
        .await);
    ok(store.put_applied_rule("n1", "r1", "lb1", "{}").await);

    // The lease lapses and ctl-b takes it; ctl-a's fence (its own clock) is still open.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let b = ok(try_acquire(&pool, LEADER_LEASE, "ctl-b", Duration::from_secs(10)).await);
    assert!(b.won);
    assert!(!ok(renew(&pool, LEADER_LEASE, "ctl-a", epoch, Duration::from_secs(1)).await).won);
    let late = finish().await.err();
    assert!(
        matches!(late, Some(StoreError::Fenced { epoch: Some(e) }) if e == epoch),
        "{late:?}"
    );
    assert!(late.is_some_and(|e| e.is_transient()));
    let fenced = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Fenced { epoch: Some(e) }) if e == epoch);
    assert!(fenced(
        store
            .put_object(Table::Loadbalancers, "lb1", None, &lb(2))
            .await
    ));
    assert!(fenced(
        store
            .delete_object(Table::Loadbalancers, "lb1")
            .await
            .map(|_| ())
    ));
    assert!(fenced(
        store
            .put_applied_rule("n1", "r1", "lb1", "{\"late\":1}")
            .await
    ));
    assert!(fenced(store.delete_applied_rule("n1", "r1").await));
    assert!(fenced(store.note_retry(a.id, "late").await));
    assert!(fenced(store.mark_backlog("n1", "lb1", "late").await));
    assert!(fenced(store.clear_backlog("n1", "lb1").await));
    // Nothing the deposed leader wrote landed.
    assert_eq!(
        ok(plain_reader.get_object(Table::Loadbalancers, "lb1").await),
        Some(lb(1))
    );
    assert_eq!(
        ok(plain_reader.applied_rules("n1", "lb1").await),
        vec![("r1".to_string(), "{}".to_string())]
    );
    Ok(())
}
