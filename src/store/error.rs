//! Store errors, classified so callers know whether trying again can help.

use thiserror::Error;

/// Anything that can go wrong talking to the database.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database url {url:?} is not usable: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot prepare database path {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("database error: {0}")]
    Direct(#[from] rusqlite::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The journal writer is gone (the store is shutting down).
    #[error("the database is closing")]
    Closed,
    /// Another process has the SQLite database (see `instance_lock`).
    #[error("database {file} is in use by {holder}: one loxilb-coordinator per SQLite file; stop the other one, or give this one its own [database] url")]
    InUse { file: String, holder: String },
    /// A cluster member that does not (or no longer) hold the leader lease tried a
    /// leader's write: refused, so a deposed leader's late writes change nothing.
    /// Transient: whoever leads next does the work.
    #[error("not written: this instance does not hold the leader lease (epoch {epoch:?})")]
    Fenced { epoch: Option<u64> },
    /// A failure shared by several waiting requests (the original is not `Clone`).
    #[error("database error: {0}")]
    Shared(String),
    /// The database server could not be reached or refused us (never names the
    /// password).
    #[error("cannot connect to the database at {host}: {reason}")]
    Connect { host: String, reason: String },
    /// The database's schema is not this binary's.
    #[error("database schema is version {found}, this binary uses version {expected}: {}", schema_hint(*.found, *.expected))]
    SchemaVersion { found: i64, expected: i64 },
}

/// MySQL's data exceptions (SQLSTATE class 22: a value too long for its column, out
/// of range): the same write fails the same way every time.
fn is_mysql_data_error(db: &dyn sqlx::error::DatabaseError) -> bool {
    db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        .and_then(|m| m.code())
        .is_some_and(|state| state.starts_with("22"))
}

/// What the operator does about a schema version mismatch.
fn schema_hint(found: i64, expected: i64) -> &'static str {
    if found < expected {
        "run `loxilb-coordinator migrate` first (with every daemon on this database stopped or upgraded)"
    } else {
        "the database was migrated by a newer loxilb-coordinator; run that version"
    }
}

impl StoreError {
    /// Busy/locked databases, pool timeouts and I/O hiccups can clear up by themselves;
    /// bad URLs, failed migrations and corrupt rows cannot. Every database error counts
    /// as transient, among them MySQL's 1213 (a deadlock, and how Galera reports a
    /// certification conflict at COMMIT) and 1205 (lock wait timeout). A server that
    /// cannot be reached at open, or a schema of another version, is permanent: the
    /// operator has to act.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Sql(sqlx::Error::Database(db)) => !is_mysql_data_error(db.as_ref()),
            StoreError::Sql(e) => matches!(e, sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)),
            // SQLite's own failures (busy, I/O, constraint) are treated like sqlx's
            // `Database` errors; misuse of the API (wrong parameter count) is not.
            StoreError::Direct(e) => matches!(e, rusqlite::Error::SqliteFailure(..)),
            StoreError::Io { .. }
            | StoreError::Closed
            | StoreError::Shared(_)
            | StoreError::Fenced { .. } => true,
            StoreError::Url { .. }
            | StoreError::Migrate(_)
            | StoreError::Corrupt(_)
            | StoreError::InUse { .. }
            | StoreError::Connect { .. }
            | StoreError::SchemaVersion { .. } => false,
        }
    }
}
