//! Persistence: the event journal, desired state, what is applied on each LoxiLB
//! node, the per-node catch-up backlog and the status outbox.
//!
//! `api` holds the interface, one trait per concern; `sqlite` implements it on an
//! embedded file (the default, one instance). `Store` is the handle the rest of the
//! daemon holds: it opens the backend the URL names and forwards each call to it, so
//! no caller knows which database answers.

pub mod api;
mod cached;
#[cfg(test)]
mod cached_tests;
#[cfg(test)]
mod contract;
mod error;
mod facade;
pub mod lease_mysql;
pub mod mysql;
mod pruner;
pub mod sqlite;
mod tree_cache;

pub use api::{
    age_cutoff, merge_update, plan as prune_plan, rows_bodies, AcceptExtras, Accepted,
    AppliedProbe, BacklogEntry, DeadLetter, EventRecord, EventState, KeyHint, LbBodies, Limit,
    MemberChange, OwnerRef, PendingStatus, PoolChanges, ProbeRefRow, PrunePlan, Pruned, Retention,
    StatusRecord, SyncInputs, Table, TooManyMembers, TreeRow, BATCH as RETENTION_BATCH,
};
pub use error::StoreError;
pub use pruner::JournalPruner;
pub use sqlite::{files, instance_lock};

use std::path::Path;

use mysql::MysqlStore;
use sqlite::SqliteStore;

/// Handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
    /// The leader's copy of desired trees (see `tree_cache`), shared by all clones.
    cache: std::sync::Arc<tree_cache::TreeCache>,
}

/// The database behind a [`Store`].
#[derive(Clone, Debug)]
enum Backend {
    Sqlite(SqliteStore),
    /// Boxed: the MySQL handle is larger, and most daemons run on SQLite.
    Mysql(Box<MysqlStore>),
}

/// Milliseconds since the Unix epoch, the time unit of every table.
pub(crate) fn now_ms() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

impl Store {
    /// Open (creating if needed) the database at `url`, apply pending migrations.
    /// `url` is `sqlite://PATH`, `sqlite:PATH` or `sqlite::memory:`.
    pub async fn open(url: &str, max_connections: u32) -> Result<Store, StoreError> {
        Self::open_with_group(url, max_connections, None).await
    }

    /// Like [`Store::open`]; a SQLite file gets mode 0640 and group `gid` when
    /// given, else 0600 (see [`files`]).
    pub async fn open_with_group(
        url: &str,
        max_connections: u32,
        gid: Option<u32>,
    ) -> Result<Store, StoreError> {
        let b = SqliteStore::open_with_group(url, max_connections, gid).await?;
        Ok(Store::from(b))
    }

    /// [`Store::open_with_group`] for the daemon: refuses a SQLite file another
    /// process has open this way, naming that process (see `instance_lock`).
    pub async fn open_exclusive(
        url: &str,
        max_connections: u32,
        gid: Option<u32>,
    ) -> Result<Store, StoreError> {
        let b = SqliteStore::open_exclusive(url, max_connections, gid).await?;
        Ok(Store::from(b))
    }

    /// The database file, for an embedded database.
    pub fn path(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Sqlite(b) => Some(b.path()),
            Backend::Mysql(_) => None,
        }
    }

    /// The MySQL backend, in cluster mode (its cluster-only tables, such as the
    /// status board, are not part of the backend-neutral API).
    pub fn mysql(&self) -> Option<&MysqlStore> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Mysql(b) => Some(b),
        }
    }

    /// The SQLite backend (tests reach its pool for set-ups no API offers).
    #[cfg(test)]
    pub(crate) fn sqlite(&self) -> &SqliteStore {
        match &self.backend {
            Backend::Sqlite(b) => b,
            Backend::Mysql(_) => panic!("not a SQLite store"),
        }
    }
}

impl From<MysqlStore> for Store {
    fn from(b: MysqlStore) -> Self {
        Store {
            backend: Backend::Mysql(Box::new(b)),
            cache: Default::default(),
        }
    }
}

impl From<SqliteStore> for Store {
    fn from(b: SqliteStore) -> Self {
        Store {
            backend: Backend::Sqlite(b),
            cache: Default::default(),
        }
    }
}

#[cfg(test)]
pub(crate) use sqlite::test_store;
