//! SQLite persistence: the event journal, desired state, what is applied on each
//! LoxiLB node (rules, probes, probe references), the per-node catch-up backlog with
//! its dead letters, and the status outbox (schema in `migrations/`).
//!
//! Why SQLite in WAL mode, with two durability levels:
//! - the event journal is written with `synchronous=FULL` (see `group_commit`): an
//!   event answered 202 survives a crash of the process *and* of the machine;
//! - everything else (event progress, desired state, applied records, the status
//!   outbox) uses `synchronous=NORMAL`: it survives a process crash (`kill -9`), and a
//!   power loss can only drop the last of these commits. WAL commits are ordered, so
//!   what is lost is always a suffix, and every one of them is re-derived by replaying
//!   the still-unfinished events (applying is idempotent).
//!
//! WAL keeps readers (status API, readiness) from blocking the single writer. Queries
//! stick to portable SQL so a PostgreSQL backend can follow behind the same functions.
//!
//! Two ways in: scans and rare writes go through the sqlx pool; the per-event path (the
//! journal's group commit, batched writes, an event's point reads) drives SQLite
//! directly (`direct`), because a hand-off to sqlx's worker thread per statement cost
//! more than the statements. Both open the same file; every write holds `write_lock`.

pub(crate) mod applied;
mod backlog;
mod batching;
pub(crate) mod desired;
mod direct;
pub mod files;
mod group_commit;
pub mod instance_lock;
pub(crate) mod journal;
pub(crate) mod member_count;
mod outbox;
#[cfg(test)]
mod recovery_tests;
mod retention;
mod stmt;
pub(crate) mod sync_read;
mod write_batch;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::SqlitePool;

use super::StoreError;

/// The scratch directory of an in-memory database (see `connect_options`).
type Scratch = Option<std::sync::Arc<tempfile::TempDir>>;

/// Handle to the database; cheap to clone.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    group_commit: group_commit::GroupCommit,
    /// Small writes of concurrent callers, committed together (see `write_batch`).
    writes: write_batch::WriteBatch,
    /// SQLite has one writer. Serialising our writes in-process means a transaction
    /// that reads before it writes can never hit SQLITE_BUSY on lock upgrade.
    write_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Connections for the hot path's small reads (see `direct`).
    readers: std::sync::Arc<direct::Readers>,
    /// The database file.
    path: std::path::PathBuf,
    /// For `sqlite::memory:`: the directory of the stand-in file, removed when the
    /// last handle goes.
    _scratch: Scratch,
    /// The daemon's claim on the file (see `instance_lock`), released with the last
    /// handle.
    _instance: Option<std::sync::Arc<instance_lock::InstanceLock>>,
}

impl SqliteStore {
    /// Open (creating if needed) the database at `url`, apply pending migrations and
    /// switch to WAL. `url` is `sqlite://PATH`, `sqlite:PATH` or `sqlite::memory:`.
    pub async fn open(url: &str, max_connections: u32) -> Result<SqliteStore, StoreError> {
        Self::open_with_group(url, max_connections, None).await
    }

    /// Like [`Store::open`]; the database files get mode 0640 and group `gid`
    /// when given, else 0600 (see [`files`]).
    pub async fn open_with_group(
        url: &str,
        max_connections: u32,
        gid: Option<u32>,
    ) -> Result<SqliteStore, StoreError> {
        Self::open_inner(url, max_connections, gid, false).await
    }

    /// [`Store::open_with_group`] for the daemon: refuses a database file another
    /// process has open this way, naming that process (see `instance_lock`). Tools
    /// that only read beside a running daemon (benchmarks) use the other `open`s.
    pub async fn open_exclusive(
        url: &str,
        max_connections: u32,
        gid: Option<u32>,
    ) -> Result<SqliteStore, StoreError> {
        Self::open_inner(url, max_connections, gid, true).await
    }

    async fn open_inner(
        url: &str,
        max_connections: u32,
        gid: Option<u32>,
        exclusive: bool,
    ) -> Result<SqliteStore, StoreError> {
        let (opts, scratch) = Self::connect_options(url)?;
        let file = opts.get_filename().to_path_buf();
        let instance = Self::prepare_file(&file, gid, exclusive && scratch.is_none()).await?;
        // No ping before handing out a connection: the database is a local file, a
        // ping cannot find anything a query would not, and it costs a round trip to
        // the connection's worker thread per query (a third of all hops under load).
        let pool = SqlitePoolOptions::new()
            .max_connections(max_connections.max(1))
            .test_before_acquire(false)
            .connect_with(opts.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let write_lock: std::sync::Arc<tokio::sync::Mutex<()>> = Default::default();
        let primary = std::sync::Arc::new(std::sync::Mutex::new(direct::open(&file)?));
        let writes = write_batch::WriteBatch::start(primary.clone(), write_lock.clone())?;
        Ok(SqliteStore {
            pool,
            // The journal's own connection, fsyncing every commit.
            group_commit: group_commit::GroupCommit::start(
                direct::open_durable(&file)?,
                write_lock.clone(),
            )?,
            writes,
            write_lock,
            readers: std::sync::Arc::new(direct::Readers::new(&file, Some(primary))),
            path: file,
            _scratch: scratch,
            _instance: instance,
        })
    }

    /// The pool's options for `url`, and the scratch directory holding the file of
    /// an in-memory database.
    fn connect_options(url: &str) -> Result<(SqliteConnectOptions, Scratch), StoreError> {
        if !url.starts_with("sqlite:") {
            return Err(StoreError::Url {
                url: crate::store::mysql::redact_url(url),
                reason: "only sqlite: URLs are supported (PostgreSQL is planned)".into(),
            });
        }
        let bad_url = |reason: String| StoreError::Url {
            url: crate::store::mysql::redact_url(url),
            reason,
        };
        // The store drives a connection of its own beside the pool (see `direct`),
        // and an in-memory database exists per connection: `sqlite::memory:` gets a
        // file in a scratch directory instead, gone when the store is.
        let mut scratch = None;
        let mut file_url = url.to_string();
        if is_memory(url) {
            let dir = tempfile::Builder::new()
                .prefix("loxilb-coordinator-")
                .tempdir()
                .map_err(|e| bad_url(format!("cannot create a scratch database: {e}")))?;
            file_url = format!("sqlite://{}", dir.path().join("memory.db").display());
            scratch = Some(std::sync::Arc::new(dir));
        }
        let opts = SqliteConnectOptions::from_str(&file_url)
            .map_err(|e| bad_url(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            // Pages freed by journal pruning go back to the file system (see
            // `retention`); takes effect on a new file, or after `ensure_incremental_vacuum`.
            .auto_vacuum(SqliteAutoVacuum::Incremental)
            // A checkpointed WAL is cut back to this size instead of keeping its peak.
            .pragma("journal_size_limit", WAL_SIZE_LIMIT.to_string())
            // The pool's connections get the direct connections' small page cache: a
            // cache is dropped whenever another connection writes, so SQLite's 2 MiB
            // default per connection only grew resident memory (the soak benchmark
            // saw it climb for minutes as each connection filled its cache).
            .pragma("cache_size", format!("-{}", direct::PAGE_CACHE_KIB))
            .busy_timeout(Duration::from_secs(10));
        Ok((opts, scratch))
    }

    /// Make the file's directory, take the instance lock (when `exclusive`), make the
    /// file private and convert it to incremental vacuum.
    async fn prepare_file(
        file: &Path,
        gid: Option<u32>,
        exclusive: bool,
    ) -> Result<Option<std::sync::Arc<instance_lock::InstanceLock>>, StoreError> {
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Io {
                path: dir.display().to_string(),
                source: e,
            })?;
        }
        // Before anything touches the file: a second daemon must not even migrate it.
        let instance = if exclusive {
            Some(std::sync::Arc::new(instance_lock::InstanceLock::acquire(
                file,
            )?))
        } else {
            None
        };
        files::make_private(file, gid).map_err(|e| StoreError::Io {
            path: file.display().to_string(),
            source: e,
        })?;
        {
            let file = file.to_path_buf();
            tokio::task::spawn_blocking(move || ensure_incremental_vacuum(&file))
                .await
                .map_err(|e| StoreError::Shared(format!("database conversion stopped: {e}")))??;
        }
        Ok(instance)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The first column (text) of each row of `sql`, bound to one text parameter,
    /// read on the calling thread (point lookups of the hot path only).
    pub(crate) async fn read_strings(
        &self,
        sql: &str,
        param: &str,
    ) -> Result<Vec<String>, StoreError> {
        self.readers
            .with(|c| direct::query(c, sql, true, &[&param], |r| Ok(r.get::<_, String>(0)?)))
    }

    /// Like `read_strings`, for the first two columns.
    pub(crate) async fn read_pairs(
        &self,
        sql: &str,
        param: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.readers
            .with(|c| direct::query(c, sql, true, &[&param], |r| Ok((r.get(0)?, r.get(1)?))))
    }

    /// The connection pool, for modules that keep their own queries.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// Bytes a checkpointed WAL keeps at most (a burst can grow it; this cuts it back).
const WAL_SIZE_LIMIT: u64 = 64 * 1024 * 1024;

/// A database created before journal retention has `auto_vacuum = NONE`, which a
/// pragma alone cannot change: convert it once with a full `VACUUM` (it rewrites the
/// file, so it takes as long as copying it; later starts skip this). Runs before the
/// pool opens: SQLite connections keep the mode they read until their next
/// transaction, so converting under open connections looked undone to them.
fn ensure_incremental_vacuum(file: &Path) -> Result<(), StoreError> {
    const INCREMENTAL: i64 = 2;
    // A new file (absent, or created empty by `files::make_private`) gets the
    // mode from the pool's connect options.
    if !std::fs::metadata(file).is_ok_and(|m| m.len() > 0) {
        return Ok(());
    }
    let conn = rusqlite::Connection::open(file)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // The pragma reports the mode read with page 1: read something first.
    let _: i64 = conn.query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| r.get(0))?;
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if mode == INCREMENTAL {
        return Ok(());
    }
    tracing::info!(file = %file.display(), "converting the database to incremental vacuum (once; rewrites the file)");
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")?;
    Ok(())
}

/// Begin a transaction that will write, taking SQLite's write lock at once
/// (`BEGIN IMMEDIATE`, waiting out the busy timeout for it). A deferred `BEGIN` takes
/// a read snapshot at its first read and fails with SQLITE_BUSY_SNAPSHOT (517,
/// "database is locked", not retried by the busy timeout) at its first write when
/// another connection committed in between: the start-up removal of a load balancer
/// Octavia deleted failed that way under load.
pub(super) async fn begin_write(
    pool: &SqlitePool,
) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

/// `sqlite::memory:`, `sqlite://:memory:` (with or without `?options`), `sqlite:`.
fn is_memory(url: &str) -> bool {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let name = rest.split('?').next().unwrap_or("");
    name.is_empty() || name == ":memory:"
}

#[cfg(test)]
pub(crate) async fn test_store() -> (crate::store::Store, tempfile::TempDir) {
    use crate::test_support::{ok, Context};
    let dir = ok(tempfile::tempdir().context("tempdir"));
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = ok(crate::store::Store::open(&url, 2)
        .await
        .context("open store"));
    (store, dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::*;
    use crate::test_support::{ok, TestResult};

    /// A write transaction that reads first survives another connection's commit
    /// while it runs (that writer waits for it); with a deferred BEGIN its first
    /// write failed with SQLITE_BUSY_SNAPSHOT (517).
    #[tokio::test]
    async fn a_write_transaction_keeps_its_lock_from_the_start() -> TestResult {
        let (store, dir) = test_store().await;
        let pool = store.sqlite().pool().clone();
        let mut tx = begin_write(&pool).await?;
        let _: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM loadbalancers")
            .fetch_one(&mut *tx)
            .await?;
        // Another connection (another process, say) writes meanwhile.
        let file = dir.path().join("t.db");
        let other = tokio::task::spawn_blocking(move || {
            let conn = rusqlite::Connection::open(file)?;
            conn.busy_timeout(Duration::from_secs(10))?;
            conn.execute(
                "INSERT INTO loadbalancers (id, body, updated_at) VALUES ('other', '{}', 0)",
                [],
            )
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        ok(sqlx::query(
            "INSERT INTO loadbalancers (id, body, updated_at) VALUES ('mine', '{}', 0)",
        )
        .execute(&mut *tx)
        .await);
        tx.commit().await?;
        let inserted = other.await?;
        assert_eq!(inserted?, 1);
        for id in ["mine", "other"] {
            let got = store.get_object(Table::Loadbalancers, id).await;
            assert!(got.is_ok_and(|b| b.is_some()), "{id} missing");
        }
        Ok(())
    }

    #[tokio::test]
    async fn opens_in_wal_mode_and_migrates() -> TestResult {
        let (store, dir) = test_store().await;
        let mode: (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(store.sqlite().pool())
            .await?;
        assert_eq!(mode.0.to_lowercase(), "wal");
        let sync: (i64,) = sqlx::query_as("PRAGMA synchronous")
            .fetch_one(store.sqlite().pool())
            .await?;
        assert_eq!(sync.0, 1, "synchronous=NORMAL for progress records");
        let cache: (i64,) = sqlx::query_as("PRAGMA cache_size")
            .fetch_one(store.sqlite().pool())
            .await?;
        assert_eq!(
            cache.0,
            -i64::from(direct::PAGE_CACHE_KIB),
            "the pool's page cache is as small as the direct connections'"
        );
        store.ping().await?;
        assert!(dir.path().join("t.db").exists());
        Ok(())
    }

    /// A database file from before journal retention (auto_vacuum NONE) is converted
    /// once at open, so pruned pages can go back to the file system.
    #[tokio::test]
    async fn an_old_database_is_converted_to_incremental_vacuum() -> TestResult {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("old.db");
        {
            let c = rusqlite::Connection::open(&file)?;
            c.execute_batch("CREATE TABLE keep (x INTEGER); INSERT INTO keep VALUES (7);")?;
            let mode: i64 = c.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
            assert_eq!(mode, 0, "SQLite's default");
        }
        let store = Store::open(&format!("sqlite://{}", file.display()), 2).await?;
        let c = rusqlite::Connection::open(&file)?;
        let mode: i64 = c
            .query_row("SELECT COUNT(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
            .and_then(|_| c.query_row("PRAGMA auto_vacuum", [], |r| r.get(0)))?;
        assert_eq!(mode, 2, "INCREMENTAL");
        let (x,): (i64,) = sqlx::query_as("SELECT x FROM keep")
            .fetch_one(store.sqlite().pool())
            .await?;
        assert_eq!(x, 7, "the data survives the conversion");
        Ok(())
    }

    /// `sqlite::memory:` works like a file for every part of the store (the pool,
    /// the journal and the batched writes see the same data) and leaves nothing.
    #[tokio::test]
    async fn memory_database_is_one_database_and_is_removed() -> TestResult {
        let store = Store::open("sqlite::memory:", 2).await?;
        let path = store.sqlite().path().to_path_buf();
        assert!(path.exists(), "{path:?}");
        store
            .put_object(
                Table::Loadbalancers,
                "lb1",
                None,
                &serde_json::json!({"loadbalancer_id": "lb1"}),
            )
            .await?;
        let got = store.get_object(Table::Loadbalancers, "lb1").await?;
        assert!(got.is_some(), "a batched write is visible to the pool");
        store.close().await;
        let wal = path.with_extension("db-wal");
        let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert_eq!(wal_len, 0, "close empties the WAL into the database file");
        drop(store);
        assert!(!path.exists(), "scratch database removed: {path:?}");
        Ok(())
    }

    /// Many concurrent acceptances share commits and each gets its own id, in order
    /// per caller.
    #[tokio::test]
    async fn concurrent_acceptances_are_group_committed_and_all_journaled() -> TestResult {
        let (store, _dir) = test_store().await;
        let mut tasks = Vec::new();
        for t in 0..8 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..50 {
                    let a = s
                        .accept_event(
                            "member_create",
                            &format!("{{\"n\":{i}}}"),
                            ("member", &format!("m{t}-{i}")),
                            &KeyHint::Loadbalancer(format!("lb{t}")),
                            None,
                        )
                        .await?;
                    ids.push(a.id);
                }
                Ok::<_, StoreError>(ids)
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            let ids = t.await??;
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "per-caller order");
            all.extend(ids);
        }
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 400);
        assert_eq!(
            store.unfinished_events().await.unwrap_or_default().len(),
            400
        );
        Ok(())
    }

    #[tokio::test]
    async fn creates_missing_parent_directories() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("a/b/c.db");
        let store = Store::open(&format!("sqlite://{}", path.display()), 1).await?;
        store.ping().await?;
        assert!(path.exists());
        Ok(())
    }

    /// Migration 0006 dropped the `retries` table nothing used; every table the
    /// schema keeps is one the store reads or writes.
    #[tokio::test]
    async fn the_schema_has_no_retries_table() -> TestResult {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("s.db");
        let store = Store::open(&format!("sqlite://{}", path.display()), 1).await?;
        store.close().await;
        let conn = rusqlite::Connection::open(&path)?;
        let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'retries%'")?;
        let left: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .filter_map(Result::ok)
            .collect();
        assert!(left.is_empty(), "{left:?}");
        Ok(())
    }

    #[tokio::test]
    async fn rejects_a_bad_url_with_the_url_in_the_message() -> TestResult {
        let err = Store::open("postgres://x/y", 1).await.err();
        let msg = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.contains("postgres://x/y"), "{msg}");
        // Refused before anything is opened: an early version of this test left a
        // SQLite database at ./postgres:/x/y (the URL read as a relative path).
        assert!(!std::path::Path::new("postgres:").exists());
        Ok(())
    }
}
