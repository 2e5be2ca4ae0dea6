//! The leader lease on MySQL/MariaDB (Galera): acquire, renew, release, and the fence
//! a leader's writes carry.
//!
//! What the statements rely on (measured on MariaDB 10.11 + Galera, docs/ha.md):
//! - Acquire and renew are single **autocommit** conditional UPDATEs, so a win is
//!   committed when the statement returns: inside an explicit transaction both racers
//!   on two Galera nodes may see one affected row and only the loser's COMMIT fails.
//! - The loser of a race between two Galera nodes gets error 1213 (SQLSTATE 40001):
//!   the server's own retry of certification failures (`wsrep_retry_autocommit`)
//!   covers text-protocol statements only, and sqlx sends prepared statements.
//!   Measured on a 3-node MariaDB 10.11 Galera, 300 races each: prepared, 276 losers
//!   got 1213; the same SQL as text, none did; exactly one winner every time in both.
//!   So a 1213 on acquire is a lost race (`won = false`, the row is read again), on
//!   renew it is checked against the row. Any other error is "not leader (now)".
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
/// migration takes it. Both tables have a primary key, which Galera requires. The
/// binary collation (as in the migration) keeps instance ids exact: under a
/// case-insensitive one, instances `ctl-1` and `CTL-1` could renew each other's lease.
pub const LEASE_DDL: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS leases (
        name VARCHAR(64) NOT NULL PRIMARY KEY,
        holder VARCHAR(255) NULL,
        epoch BIGINT UNSIGNED NOT NULL DEFAULT 0,
        acquired_at DATETIME(6) NULL,
        expires_at DATETIME(6) NOT NULL,
        fenced_writes BIGINT UNSIGNED NOT NULL DEFAULT 0
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    "CREATE TABLE IF NOT EXISTS lease_history (
        name VARCHAR(64) NOT NULL,
        epoch BIGINT UNSIGNED NOT NULL,
        holder VARCHAR(255) NOT NULL,
        acquired_at DATETIME(6) NOT NULL,
        expires_at DATETIME(6) NOT NULL,
        PRIMARY KEY (name, epoch)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
];

/// The name of the lease whose holder runs the leader-only tasks.
pub const LEADER_LEASE: &str = "leader";

/// A lease statement failed. Always "not leader (now)": the caller retries later.
#[derive(Debug, thiserror::Error)]
pub enum LeaseDbError {
    #[error("lease database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A renewal lost a write conflict while the row still names us: retry it.
    #[error("lease renewal lost a write conflict; the lease is still ours")]
    NotRenewed,
}

impl LeaseDbError {
    /// SQLSTATE 40001: InnoDB's deadlock or Galera's certification failure (both
    /// error 1213): another writer of the lease row won.
    pub fn is_conflict(&self) -> bool {
        let LeaseDbError::Database(sqlx::Error::Database(e)) = self else {
            return false;
        };
        e.code().as_deref() == Some("40001")
    }
}

/// A conflict (1213) is a lost race, not a failure: `Ok(false)`.
fn lost_on_conflict(r: Result<bool, LeaseDbError>) -> Result<bool, LeaseDbError> {
    match r {
        Err(e) if e.is_conflict() => Ok(false),
        other => other,
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
        // Unchecked: sqlx types a binary-collated VARCHAR as VARBINARY and refuses it
        // as a String; the decode still checks that it is UTF-8.
        holder: row.try_get_unchecked("holder")?,
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
    let mut won = lost_on_conflict(acquire_update(&mut conn, name, me, ttl).await)?;
    let mut row = read(&mut conn, name).await?;
    if row.is_none() {
        sqlx::query(
            "INSERT IGNORE INTO leases (name, holder, epoch, expires_at) \
             VALUES (?, NULL, 0, '1970-01-01 00:00:01')",
        )
        .bind(name)
        .execute(&mut *conn)
        .await?;
        won = lost_on_conflict(acquire_update(&mut conn, name, me, ttl).await)?;
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
    .await
    .map_err(LeaseDbError::from);
    let won = match done {
        Ok(d) => d.rows_affected() == 1,
        // Lost a conflict on the lease row: a takeover, or (on Galera) a fenced write
        // of our own through another node. Only the row tells which.
        Err(e) if e.is_conflict() => false,
        Err(e) => return Err(e),
    };
    let row = read(&mut conn, name).await?;
    let still_ours = row
        .as_ref()
        .is_some_and(|r| r.holder.as_deref() == Some(me) && r.epoch == epoch);
    if !won && still_ours {
        // Not renewed, not taken either: a transient failure, retried by the caller.
        return Err(LeaseDbError::NotRenewed);
    }
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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::error::Error as StdError;
    use std::fmt;

    use super::*;

    /// A database error with a chosen SQLSTATE, as MySQL would return it.
    #[derive(Debug)]
    struct Coded(&'static str);

    impl fmt::Display for Coded {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "SQLSTATE {}", self.0)
        }
    }

    impl StdError for Coded {}

    impl sqlx::error::DatabaseError for Coded {
        fn message(&self) -> &str {
            "test"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn StdError + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn StdError + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn StdError + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn db_error(code: &'static str) -> LeaseDbError {
        LeaseDbError::Database(sqlx::Error::Database(Box::new(Coded(code))))
    }

    /// 1213 (SQLSTATE 40001) on an acquire is a lost race; anything else stays an
    /// error (a lost connection is not a lost race: the row is unknown).
    #[test]
    fn a_conflict_is_a_lost_race_and_other_errors_stay_errors() {
        assert!(db_error("40001").is_conflict());
        assert!(!db_error("HY000").is_conflict());
        assert!(!LeaseDbError::Database(sqlx::Error::PoolTimedOut).is_conflict());
        assert!(matches!(
            lost_on_conflict(Err(db_error("40001"))),
            Ok(false)
        ));
        assert!(lost_on_conflict(Err(db_error("08S01"))).is_err());
        assert!(matches!(lost_on_conflict(Ok(true)), Ok(true)));
    }
}
