//! Schema versions: an empty database gets the schema at open; any other version
//! than this binary's is refused at open, naming both, because applying migrations
//! is the operator's `migrate` step (several daemons share the database, and one
//! starting with a newer binary must not change the schema under the others).

use std::time::{Duration, Instant};

use sqlx::migrate::Migrator;
use sqlx::mysql::MySqlConnection;
use sqlx::Row;

use super::StoreError;

/// The MySQL migrations, numbered on their own (see `migrations/mysql/`).
pub(super) static MIGRATOR: Migrator = sqlx::migrate!("./migrations/mysql");

/// The schema version this binary expects: its newest migration.
pub(super) fn expected() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The applied schema version, or None when the database has no schema at all.
async fn found(conn: &mut MySqlConnection) -> Result<Option<i64>, StoreError> {
    let tables = sqlx::query(
        "SELECT CAST(COUNT(*) AS SIGNED), CAST(SUM(table_name = '_sqlx_migrations') AS SIGNED) \
         FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name <> ?",
    )
    .bind(CLAIM)
    .fetch_one(&mut *conn)
    .await?;
    let all: i64 = tables.try_get(0)?;
    let versioned: Option<i64> = tables.try_get(1)?;
    if all == 0 {
        return Ok(None);
    }
    if versioned.unwrap_or(0) == 0 {
        // Tables, but not ours: version 0, refused like any older schema.
        return Ok(Some(0));
    }
    let row = sqlx::query(
        "SELECT CAST(COALESCE(MAX(version), 0) AS SIGNED) FROM _sqlx_migrations WHERE success",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some(row.try_get(0)?))
}

/// At open: create the schema in an empty database, else require this binary's.
pub(super) async fn check_or_create(conn: &mut MySqlConnection) -> Result<(), StoreError> {
    let expected = expected();
    match found(conn).await? {
        None => create(conn, expected).await,
        Some(v) if v == expected => Ok(()),
        Some(found) => Err(StoreError::SchemaVersion { found, expected }),
    }
}

/// Create the schema, unless another daemon starting at the same time does. sqlx's
/// migration lock (GET_LOCK) is per Galera node, and two nodes running the same DDL
/// at once broke each other's migration half way (duplicate key, 1213): the daemons
/// first claim the creation with a row only one of them can insert (on Galera the
/// other loses at certification), and the others wait for the schema.
async fn create(conn: &mut MySqlConnection, expected: i64) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "CREATE TABLE IF NOT EXISTS {CLAIM} (id INT NOT NULL PRIMARY KEY, \
         claimed_at BIGINT NOT NULL) ENGINE=InnoDB"
    ))
    .execute(&mut *conn)
    .await?;
    let claimed = sqlx::query(&format!(
        "INSERT INTO {CLAIM} (id, claimed_at) VALUES (1, ?)"
    ))
    .bind(crate::store::now_ms())
    .execute(&mut *conn)
    .await;
    match claimed {
        Ok(_) => Ok(MIGRATOR.run(&mut *conn).await?),
        Err(e) => created_by_another(conn, expected, e.into()).await,
    }
}

/// The table of the claim to create the schema (see `create`); not part of it.
const CLAIM: &str = "schema_claim";

/// How long a daemon that lost the race to create the schema waits for the winner.
const CREATE_RACE_WAIT: Duration = Duration::from_secs(10);

/// Another daemon claimed the creation of the schema: wait for it to be complete,
/// else report `err` (why this one could not claim it).
async fn created_by_another(
    conn: &mut MySqlConnection,
    expected: i64,
    err: StoreError,
) -> Result<(), StoreError> {
    let deadline = Instant::now() + CREATE_RACE_WAIT;
    while Instant::now() < deadline {
        if found(conn).await.ok().flatten() == Some(expected) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A claimer that died before creating anything must not block the database for
    // ever: an old claim goes, and the next start claims again.
    let stale = crate::store::now_ms() - STALE_CLAIM_MS;
    if found(conn).await.ok().flatten().is_none() {
        let _ = sqlx::query(&format!("DELETE FROM {CLAIM} WHERE claimed_at < ?"))
            .bind(stale)
            .execute(&mut *conn)
            .await;
    }
    Err(err)
}

/// Age (ms) after which a claim without any schema is taken for a dead claimer's.
const STALE_CLAIM_MS: i64 = 60_000;

/// The `migrate` step: apply what is missing; refuse a newer schema.
pub(super) async fn migrate(conn: &mut MySqlConnection) -> Result<(), StoreError> {
    let expected = expected();
    match found(conn).await? {
        None => create(conn, expected).await,
        Some(found) if found > expected => Err(StoreError::SchemaVersion { found, expected }),
        Some(_) => Ok(MIGRATOR.run(&mut *conn).await?),
    }
}
