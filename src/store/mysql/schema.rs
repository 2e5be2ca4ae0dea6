//! Schema versions: an empty database gets the schema at open; any other version
//! than this binary's is refused at open, naming both, because applying migrations
//! is the operator's `migrate` step (several daemons share the database, and one
//! starting with a newer binary must not change the schema under the others).

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
         FROM information_schema.tables WHERE table_schema = DATABASE()",
    )
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
        None => {
            MIGRATOR.run(&mut *conn).await?;
            Ok(())
        }
        Some(v) if v == expected => Ok(()),
        Some(found) => Err(StoreError::SchemaVersion { found, expected }),
    }
}

/// The `migrate` step: apply what is missing; refuse a newer schema.
pub(super) async fn migrate(conn: &mut MySqlConnection) -> Result<(), StoreError> {
    let expected = expected();
    if let Some(found) = found(conn).await? {
        if found > expected {
            return Err(StoreError::SchemaVersion { found, expected });
        }
    }
    MIGRATOR.run(&mut *conn).await?;
    Ok(())
}
