//! The per-event reads on a real MariaDB: what they cost the server.

use crate::store::contract::{mysql_store, ok};
use crate::test_support::TestResult;

/// The per-event reads stream from the server: neither makes a temporary table on
/// disk (an `ORDER BY` over their `UNION ALL` did, a file per sync and per member
/// acceptance).
#[tokio::test]
async fn per_event_reads_make_no_temporary_table_on_disk() -> TestResult {
    use crate::store::Table;
    use sqlx::Row;
    let store = mysql_store("no_disk_tmp").await?;
    let lb = serde_json::json!({"loadbalancer_id": "lb1"});
    ok(store
        .put_object(Table::Loadbalancers, "lb1", None, &lb)
        .await);
    let pool = serde_json::json!({"pool_id": "p1", "loadbalancer_id": "lb1"});
    ok(store
        .put_object(Table::Pools, "p1", Some("lb1"), &pool)
        .await);
    let m = serde_json::json!({"member_id": "m1", "pool_id": "p1"});
    ok(store.put_object(Table::Members, "m1", Some("p1"), &m).await);
    let mut conn = ok(store.pool().acquire().await);
    let disk_tables = |row: sqlx::mysql::MySqlRow| {
        row.try_get_unchecked::<String, _>(1)
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
    };
    let count = "SHOW SESSION STATUS LIKE 'Created_tmp_disk_tables'";
    let before = disk_tables(ok(sqlx::query(count).fetch_one(&mut *conn).await));
    let mut tree = sqlx::query(super::reads::TREE);
    for _ in 0..5 {
        tree = tree.bind("lb1");
    }
    assert_eq!(ok(tree.fetch_all(&mut *conn).await).len(), 3);
    let current = sqlx::query(super::member_count::CURRENT)
        .bind("p1")
        .bind("p1");
    assert_eq!(ok(current.fetch_all(&mut *conn).await).len(), 1);
    let after = disk_tables(ok(sqlx::query(count).fetch_one(&mut *conn).await));
    assert!(before.is_some());
    assert_eq!(before, after, "a temporary table went to disk");
    Ok(())
}
