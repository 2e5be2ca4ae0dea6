//! The leader lease on MySQL/MariaDB (Galera): acquire, renew, release, and the fence
//! a leader's writes carry.
//!
//! What the statements rely on (measured on MariaDB 10.11 + Galera, docs/ha.md):
//! - Acquire and renew are single **autocommit** conditional UPDATEs. On Galera the
//!   loser of a race between two nodes is certified out and retried by the server
//!   (`wsrep_retry_autocommit`), and then matches no row: exactly one winner. Inside an
//!   explicit transaction both racers may see one affected row and only the loser's
//!   COMMIT fails (error 1213), so a win would only count after COMMIT; autocommit
//!   avoids that window. Any error, 1213 or a lost connection included, is "not
//!   leader": the caller reads the row again on its next attempt.
//! - Times are written and compared by the database only, with `UTC_TIMESTAMP(6)`:
//!   `NOW()` follows each node's time zone (Galera nodes may differ, and a DST change
//!   moves local time back an hour), and `NOW()+10` is numeric arithmetic, not ten
//!   seconds. The lease length is bound in microseconds through `INTERVAL ? MICROSECOND`.
//! - The expiry is reported as "time left by the database's clock", never as a
//!   timestamp, so the caller never compares the database's clock with its own.
//! - The row is read back on the connection that wrote it: that node has applied the
//!   write, while another node behind a load balancer might not have yet.

use std::time::Duration;

use sqlx::mysql::{MySqlConnection, MySqlPool};
use sqlx::Row;

/// The lease tables. The schema belongs in `migrations/mysql/`; it is here until the
/// migration takes it. Both tables have a primary key, which Galera requires.
pub const LEASE_DDL: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS leases (
        name VARCHAR(64) NOT NULL PRIMARY KEY,
        holder VARCHAR(255) NULL,
        epoch BIGINT UNSIGNED NOT NULL DEFAULT 0,
        acquired_at DATETIME(6) NULL,
        expires_at DATETIME(6) NOT NULL,
        fenced_writes BIGINT UNSIGNED NOT NULL DEFAULT 0
    ) ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS lease_history (
        name VARCHAR(64) NOT NULL,
        epoch BIGINT UNSIGNED NOT NULL,
        holder VARCHAR(255) NOT NULL,
        acquired_at DATETIME(6) NOT NULL,
        expires_at DATETIME(6) NOT NULL,
        PRIMARY KEY (name, epoch)
    ) ENGINE=InnoDB",
];

/// The name of the lease whose holder runs the leader-only tasks.
pub const LEADER_LEASE: &str = "leader";

/// A lease statement failed. Always "not leader (now)": the caller retries later.
#[derive(Debug, thiserror::Error)]
pub enum LeaseDbError {
    #[error("lease database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl LeaseDbError {
    /// Galera's certification failure / InnoDB deadlock (1213): another node won.
    pub fn is_conflict(&self) -> bool {
        let LeaseDbError::Database(sqlx::Error::Database(e)) = self else {
            return false;
        };
        e.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .is_some_and(|m| m.number() == 1213)
    }
}

/// The lease row as the database sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub holder: Option<String>,
    pub epoch: u64,
    /// Time to expiry by the database's clock; zero once expired.
    pub remaining: Duration,
}

/// The outcome of an acquire or renew: whether our UPDATE took effect (it committed:
/// autocommit), and the row read back on the same connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseOutcome {
    pub won: bool,
    pub row: Option<LeaseRow>,
}

/// Creates the lease tables (tests and the migration's stand-in).
pub async fn create_tables(pool: &MySqlPool) -> Result<(), LeaseDbError> {
    for ddl in LEASE_DDL {
        sqlx::query(ddl).execute(pool).await?;
    }
    Ok(())
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Reads lease `name` (`None`: no row yet).
pub async fn read(
    conn: &mut MySqlConnection,
    name: &str,
) -> Result<Option<LeaseRow>, LeaseDbError> {
    let row = sqlx::query(
        "SELECT holder, epoch, \
         GREATEST(TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), expires_at), 0) AS left_us \
         FROM leases WHERE name = ?",
    )
    .bind(name)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let left: i64 = row.try_get("left_us")?;
    Ok(Some(LeaseRow {
        holder: row.try_get("holder")?,
        epoch: row.try_get("epoch")?,
        remaining: Duration::from_micros(u64::try_from(left).unwrap_or(0)),
    }))
}

/// Takes lease `name` for `me` if it has expired by the database's clock: one
/// autocommit UPDATE that raises the epoch. Creates the row on first use. A win is
/// recorded in `lease_history` (best effort: a failure there does not undo the win).
pub async fn try_acquire(
    pool: &MySqlPool,
    name: &str,
    me: &str,
    ttl: Duration,
) -> Result<LeaseOutcome, LeaseDbError> {
    let mut conn = pool.acquire().await?;
    let mut won = acquire_update(&mut conn, name, me, ttl).await?;
    let mut row = read(&mut conn, name).await?;
    if row.is_none() {
        sqlx::query(
            "INSERT IGNORE INTO leases (name, holder, epoch, expires_at) \
             VALUES (?, NULL, 0, '1970-01-01 00:00:01')",
        )
        .bind(name)
        .execute(&mut *conn)
        .await?;
        won = acquire_update(&mut conn, name, me, ttl).await?;
        row = read(&mut conn, name).await?;
    }
    let won = won
        && row
            .as_ref()
            .is_some_and(|r| r.holder.as_deref() == Some(me));
    if let (true, Some(r)) = (won, &row) {
        if let Err(e) = record_history(&mut conn, name, me, r.epoch).await {
            tracing::warn!(error = %e, epoch = r.epoch, "lease history not recorded");
        }
    }
    Ok(LeaseOutcome { won, row })
}

async fn acquire_update(
    conn: &mut MySqlConnection,
    name: &str,
    me: &str,
    ttl: Duration,
) -> Result<bool, LeaseDbError> {
    let done = sqlx::query(
        "UPDATE leases SET holder = ?, epoch = epoch + 1, \
         acquired_at = UTC_TIMESTAMP(6), \
         expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND \
         WHERE name = ? AND expires_at < UTC_TIMESTAMP(6)",
    )
    .bind(me)
    .bind(micros(ttl))
    .bind(name)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

async fn record_history(
    conn: &mut MySqlConnection,
    name: &str,
    me: &str,
    epoch: u64,
) -> Result<(), LeaseDbError> {
    sqlx::query(
        "INSERT IGNORE INTO lease_history (name, epoch, holder, acquired_at, expires_at) \
         SELECT name, epoch, holder, acquired_at, expires_at FROM leases \
         WHERE name = ? AND holder = ? AND epoch = ?",
    )
    .bind(name)
    .bind(me)
    .bind(epoch)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Extends `me`'s lease of `epoch`: an autocommit UPDATE on (holder, epoch), so it
/// fails once anyone has taken the lease since. The history row follows (best effort),
/// so `lease_history` shows how long each term could last.
pub async fn renew(
    pool: &MySqlPool,
    name: &str,
    me: &str,
    epoch: u64,
    ttl: Duration,
) -> Result<LeaseOutcome, LeaseDbError> {
    let mut conn = pool.acquire().await?;
    let done = sqlx::query(
        "UPDATE leases SET expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND \
         WHERE name = ? AND holder = ? AND epoch = ?",
    )
    .bind(micros(ttl))
    .bind(name)
    .bind(me)
    .bind(epoch)
    .execute(&mut *conn)
    .await?;
    let won = done.rows_affected() == 1;
    let row = read(&mut conn, name).await?;
    if won {
        sync_history(&mut conn, name, epoch).await;
    }
    Ok(LeaseOutcome { won, row })
}

/// Ends `me`'s lease of `epoch` now, so another instance need not wait for it to
/// expire. A no-op once the lease moved on. The history row gets the new expiry.
pub async fn release(
    pool: &MySqlPool,
    name: &str,
    me: &str,
    epoch: u64,
) -> Result<(), LeaseDbError> {
    let mut conn = pool.acquire().await?;
    let done = sqlx::query(
        "UPDATE leases SET expires_at = UTC_TIMESTAMP(6) - INTERVAL 1 MICROSECOND \
         WHERE name = ? AND holder = ? AND epoch = ?",
    )
    .bind(name)
    .bind(me)
    .bind(epoch)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 1 {
        sync_history(&mut conn, name, epoch).await;
    }
    Ok(())
}

/// Copies the lease row's expiry into its history row (best effort: the history is
/// an audit trail, the lease row is the truth).
async fn sync_history(conn: &mut MySqlConnection, name: &str, epoch: u64) {
    let done = sqlx::query(
        "UPDATE lease_history h JOIN leases l ON l.name = h.name AND l.epoch = h.epoch \
         SET h.expires_at = l.expires_at WHERE h.name = ? AND h.epoch = ?",
    )
    .bind(name)
    .bind(epoch)
    .execute(&mut *conn)
    .await;
    if let Err(e) = done {
        tracing::warn!(error = %e, epoch, "lease history not updated");
    }
}

/// The fence for a leader's writes: run it inside the caller's transaction, before or
/// after its writes; `false` means the lease is no longer `holder`'s at `epoch` and
/// the caller must roll back. It writes the lease row (a counter, so the row always
/// changes) rather than only reading it, for two reasons: the row lock makes a
/// concurrent acquire on the same node wait for the transaction, and on Galera the
/// write puts the lease row in the transaction's write set, so a takeover certified
/// first on another node makes this COMMIT fail (1213) instead of landing late. The
/// cost: fenced transactions serialize on the lease row.
pub async fn fence(
    conn: &mut MySqlConnection,
    name: &str,
    holder: &str,
    epoch: u64,
) -> Result<bool, LeaseDbError> {
    let done = sqlx::query(
        "UPDATE leases SET fenced_writes = fenced_writes + 1 \
         WHERE name = ? AND holder = ? AND epoch = ?",
    )
    .bind(name)
    .bind(holder)
    .bind(epoch)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
