//! The MySQL/MariaDB store: the same operations as the SQLite [`Store`](super::Store),
//! on a database several daemons share (issue 15's cluster mode, on the operator's
//! Galera cluster). Schema in `migrations/mysql/`.
//!
//! One way in: a sqlx MySQL pool. What SQLite got from its single writer, this store
//! gets from the database:
//! - connections run at READ COMMITTED, so a transaction that waited for a row lock
//!   reads what the holder committed (REPEATABLE READ would read its older snapshot,
//!   and two acceptances could both count a pool's members from before the other);
//! - the journal serialises acceptances per ordering key on a row of `journal_keys`,
//!   so per-load-balancer order holds across writers and ids follow commit order
//!   within a key (never assume dense ids: Galera's auto_increment_increment skips).
//!   Across keys they do not: an event of another load balancer may commit after a
//!   higher id, so a reader following the journal must not take "every id above the
//!   highest seen" for complete (`unfinished_events` is);
//! - the status outbox takes its seqs from a counter row (`counters`), unique and in
//!   commit order;
//! - multi-statement transactions are retried whole when they lose a conflict: error
//!   1213 (InnoDB deadlock, and how Galera reports a certification failure, at
//!   COMMIT) or 1205 (lock wait timeout). Single statements are autocommitted, which
//!   Galera retries itself (`wsrep_retry_autocommit`).

mod applied;
mod board;
mod connect;
mod desired;
mod journal;
mod member_count;
mod outbox;
mod reads;
mod recovery;
mod retention;
mod rows;
mod schema;

use std::future::Future;
use std::time::Duration;

use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::Executor;

use super::StoreError;

pub use board::{BoardChange, BoardMeta, BoardRow, BoardSelect};
pub use connect::redact_url;

/// Handle to a MySQL/MariaDB database; cheap to clone.
#[derive(Clone)]
pub struct MysqlStore {
    pool: MySqlPool,
    /// `host:port/database`, for messages (never the password).
    target: String,
    /// In a cluster: this instance's id and its lease fence. The leader's
    /// transactions then carry the epoch (see [`MysqlStore::begin_leader`]).
    writer: Option<(std::sync::Arc<str>, crate::fence::Fence)>,
}

impl std::fmt::Debug for MysqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the pool: its options hold the password.
        f.debug_struct("MysqlStore")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// The lease a leader's single-statement write must still hold when it runs: the
/// statement reads the lease row itself (`INSERT ... SELECT ... FROM leases WHERE`,
/// `DELETE ... AND EXISTS (...)`), so a deposed leader's late write changes nothing,
/// at no extra round trip. Weaker than a transaction's fence (no row lock: a takeover
/// committing during the statement is not seen), which the local fence covers: it
/// closes a margin before the lease can expire.
#[derive(Debug, Clone)]
pub(crate) struct Guard {
    holder: std::sync::Arc<str>,
    epoch: i64,
}

impl Guard {
    /// The `FROM` of an `INSERT ... SELECT` of a guarded write.
    pub(crate) fn from_clause(guard: &Option<Guard>) -> &'static str {
        match guard {
            Some(_) => "FROM leases WHERE name = ? AND holder = ? AND epoch = ?",
            None => "FROM DUAL",
        }
    }

    /// A `WHERE` term of a guarded `DELETE` or `UPDATE`.
    pub(crate) fn condition(guard: &Option<Guard>) -> &'static str {
        match guard {
            Some(_) => "EXISTS (SELECT 1 FROM leases WHERE name = ? AND holder = ? AND epoch = ?)",
            None => "TRUE",
        }
    }

    /// Bind the clause's parameters (none without a guard).
    pub(crate) fn bind<'q>(
        guard: &'q Option<Guard>,
        q: sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>,
    ) -> sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments> {
        match guard {
            Some(g) => q
                .bind(crate::store::lease_mysql::LEADER_LEASE)
                .bind(&*g.holder)
                .bind(g.epoch),
            None => q,
        }
    }
}

/// How long opening waits for the server before naming the reason: sqlx's pool
/// would retry a refused connection for its whole acquire timeout (30 s) and then
/// report only "pool timed out".
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Whole-transaction attempts when a transaction loses a conflict. On Galera, writers
/// on several nodes hammering one load balancer's key conflict at each other's
/// commits, and each round has one winner: with eight attempts, six writers on two
/// nodes on a busy machine still ran out (the Galera test). Random pauses growing to
/// 50 ms spread the losers out; 30 attempts bound a transaction's retries to about a
/// second.
const CONFLICT_ATTEMPTS: u32 = 30;

/// The longest pause between attempts.
const CONFLICT_PAUSE_MAX_MS: u64 = 50;

impl MysqlStore {
    /// Connect to `url` (`mysql://user@host:port/database`; `password` replaces any
    /// in the URL), create the schema in an empty database, and refuse a database
    /// whose schema is older or newer than this binary's (see [`MysqlStore::migrate`]).
    pub async fn open(
        url: &str,
        password: Option<&str>,
        max_connections: u32,
    ) -> Result<MysqlStore, StoreError> {
        let opts = connect::options(url, password)?;
        let target = connect::target(&opts);
        let mut first = connect::first_connection(&opts, password).await?;
        schema::check_or_create(&mut first).await?;
        let pool = MySqlPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                        .await?;
                    Ok(())
                })
            })
            .connect_lazy_with(opts);
        // The checked connection is not reused: it was opened before the pool's
        // session settings.
        drop(first);
        Ok(MysqlStore {
            pool,
            target,
            writer: None,
        })
    }

    /// Fence the leader's transactions with `instance`'s lease (cluster mode).
    pub fn with_fence(mut self, instance: &str, fence: crate::fence::Fence) -> Self {
        self.writer = Some((instance.into(), fence));
        self
    }

    /// The lease epoch this instance writes under now; None without a fence or
    /// while it is closed (the desired-tree cache trusts only this term).
    pub(crate) fn term(&self) -> Option<i64> {
        self.writer.as_ref().and_then(|(_, fence)| fence.epoch())
    }

    /// The lease condition of a leader's autocommitted write (see [`Guard`]): None
    /// without a fence (one instance, tests, `migrate`); refused at once while the
    /// fence is closed.
    pub(crate) fn guard(&self) -> Result<Option<Guard>, StoreError> {
        let Some((me, fence)) = &self.writer else {
            return Ok(None);
        };
        match fence.epoch() {
            Some(epoch) => Ok(Some(Guard {
                holder: me.clone(),
                epoch,
            })),
            None => Err(StoreError::Fenced { epoch: None }),
        }
    }

    /// Run a guarded write (see [`Guard`]); `Fenced` when it changed nothing because
    /// the lease no longer names this instance.
    pub(crate) async fn guarded<'q>(
        &self,
        guard: &'q Option<Guard>,
        q: sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>,
    ) -> Result<(), StoreError> {
        let res = Guard::bind(guard, q).execute(&self.pool).await?;
        if res.rows_affected() == 0 {
            self.confirm_guard(guard).await?;
        }
        Ok(())
    }

    /// After a guarded statement changed no row: Ok when the lease row still names
    /// this instance at its epoch (nothing needed changing), else `Fenced`.
    pub(crate) async fn confirm_guard(&self, guard: &Option<Guard>) -> Result<(), StoreError> {
        let Some(g) = guard else { return Ok(()) };
        let held = sqlx::query("SELECT 1 FROM leases WHERE name = ? AND holder = ? AND epoch = ?")
            .bind(crate::store::lease_mysql::LEADER_LEASE)
            .bind(&*g.holder)
            .bind(g.epoch)
            .fetch_optional(&self.pool)
            .await?;
        match held {
            Some(_) => Ok(()),
            None => Err(StoreError::Fenced {
                epoch: u64::try_from(g.epoch).ok(),
            }),
        }
    }

    /// Begin a transaction of the leader's work (outcomes, statuses, applied sets),
    /// refused at once when the fence is closed; end it with
    /// [`MysqlStore::commit_leader`].
    pub(crate) async fn begin_leader(
        &self,
    ) -> Result<sqlx::Transaction<'_, sqlx::MySql>, StoreError> {
        if let Some((_, fence)) = &self.writer {
            if fence.epoch().is_none() {
                return Err(StoreError::Fenced { epoch: None });
            }
        }
        Ok(self.pool.begin().await?)
    }

    /// Commit a transaction of [`MysqlStore::begin_leader`]. In a cluster it first
    /// touches the lease row on condition that this instance still holds the epoch
    /// it acts under: a deposed leader's late write is refused, and on Galera a
    /// concurrent takeover makes one of the two fail certification. Last, so the
    /// row lock is held only for the commit: taken first, it serialised every
    /// leader transaction for its whole length (B5 on MariaDB).
    pub(crate) async fn commit_leader(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::MySql>,
    ) -> Result<(), StoreError> {
        if let Some((me, fence)) = &self.writer {
            let epoch = fence.epoch().and_then(|e| u64::try_from(e).ok());
            let Some(epoch) = epoch else {
                return Err(StoreError::Fenced { epoch: None });
            };
            let held = crate::store::lease_mysql::fence(
                &mut tx,
                crate::store::lease_mysql::LEADER_LEASE,
                me,
                epoch,
            )
            .await
            .map_err(|e| match e {
                crate::store::lease_mysql::LeaseDbError::Database(e) => StoreError::Sql(e),
                other => StoreError::Shared(other.to_string()),
            })?;
            if !held {
                return Err(StoreError::Fenced { epoch: Some(epoch) });
            }
        }
        Ok(tx.commit().await?)
    }

    /// Bring the database at `url` to this binary's schema (the daemon's `migrate`
    /// step). Refuses a database from a newer binary.
    pub async fn migrate(url: &str, password: Option<&str>) -> Result<(), StoreError> {
        let opts = connect::options(url, password)?;
        let mut conn = connect::first_connection(&opts, password).await?;
        schema::migrate(&mut conn).await
    }

    /// `host:port/database` of this store (no credentials).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The connection pool, for tests and tools that keep their own queries.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Cheap liveness query used by `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Close the pool's connections (nothing to checkpoint on a server).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Whether `e` is a lost conflict, after which the whole transaction may run again.
pub(crate) fn is_conflict(e: &StoreError) -> bool {
    match e {
        StoreError::Sql(sqlx::Error::Database(db)) => db
            .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .is_some_and(|m| matches!(m.number(), 1213 | 1205)),
        _ => false,
    }
}

/// Run the transaction `attempt` until it does not lose a conflict, a few times
/// with a short growing pause (random, so the losers do not meet again). A lost
/// conflict rolled everything back (the transaction is dropped uncommitted), so
/// running it again is safe.
pub(crate) async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut n = 0;
    loop {
        n += 1;
        match attempt().await {
            Err(e) if n < CONFLICT_ATTEMPTS && is_conflict(&e) => {
                tracing::debug!(error = %e, attempt = n, "transaction lost a conflict; retrying");
                let ceiling = (5 * u64::from(n)).min(CONFLICT_PAUSE_MAX_MS);
                let pause = rand::random_range(ceiling / 2..=ceiling);
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod galera_tests;

#[cfg(test)]
mod board_tests;

#[cfg(test)]
mod reads_tests;
