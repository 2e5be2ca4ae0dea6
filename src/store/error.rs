//! Store errors, classified so callers know whether trying again can help.

use thiserror::Error;

/// Anything that can go wrong talking to the database.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database url {url:?} is not usable: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot create database directory {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Busy/locked databases, pool timeouts and I/O hiccups can clear up by themselves;
    /// bad URLs, failed migrations and corrupt rows cannot.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Sql(e) => matches!(
                e,
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Database(_)
            ),
            StoreError::Io { .. } => true,
            StoreError::Url { .. } | StoreError::Migrate(_) | StoreError::Corrupt(_) => false,
        }
    }
}
