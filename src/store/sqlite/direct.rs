//! A SQLite connection the store drives itself, without sqlx, for the hot path.
//!
//! Why: sqlx runs every query on its connection's worker thread and streams each
//! result back over a channel, so a batch of small writes was either one hand-off
//! per statement or one multi-statement query that SQLite compiled afresh every
//! time (a fifth of the daemon's CPU under a steady event stream). Here a whole
//! batch runs in one call on a blocking thread, with each statement kept compiled
//! in the connection's cache (`prepare_cached`), and answers once.
//!
//! The connection opens the same database file as the pool (WAL, so the pool's
//! readers see each commit as soon as it returns) with the same settings:
//! `synchronous=NORMAL`, foreign keys on, a busy timeout.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Statement};

use super::stmt::{Arg, Stmt};
use crate::store::StoreError;

/// Statements kept compiled per connection (the hot path has a few dozen shapes).
const STATEMENT_CACHE: usize = 128;
/// Page cache per connection, KiB. SQLite drops a connection's cached pages whenever
/// another connection has written, which here is several times per event, so a big
/// cache buys nothing and only adds to resident memory (SQLite's default is 2 MiB).
pub(crate) const PAGE_CACHE_KIB: u32 = 512;

/// Open `path` (which the pool has created and migrated).
pub(crate) fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch(&format!(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -{PAGE_CACHE_KIB};"
    ))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Open `path` for the event journal: like `open`, but every commit waits for an
/// fsync (`synchronous=FULL`), so an answered event survives a machine crash.
pub(crate) fn open_durable(path: &Path) -> Result<Connection, StoreError> {
    let conn = open(path)?;
    conn.execute_batch("PRAGMA synchronous = FULL;")?;
    Ok(conn)
}

/// Commit `writes` (each a list of statements that apply together) in one
/// transaction; if that fails and there are several, commit each alone so one bad
/// write cannot fail the others. One result per write.
pub(crate) fn commit_writes(
    conn: &Connection,
    writes: &[Vec<Stmt>],
) -> Vec<Result<(), StoreError>> {
    super::batching::all_or_each(conn, writes, |conn, ws| {
        in_transaction(conn, || {
            for s in ws.iter().flatten() {
                execute(conn, s)?;
            }
            Ok(vec![(); ws.len()])
        })
    })
}

/// Run `body` between `BEGIN IMMEDIATE` and `COMMIT`, rolling back on failure.
pub(crate) fn in_transaction<T>(
    conn: &Connection,
    body: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let run = || -> Result<T, StoreError> {
        let out = body()?;
        conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(out)
    };
    run().inspect_err(|_| {
        // Leave no transaction open on the connection; if COMMIT itself failed the
        // transaction may already be gone, and this fails harmlessly.
        let _ = conn.execute_batch("ROLLBACK");
    })
}

/// Bind and run one statement to completion (rows it returns are ignored).
fn execute(conn: &Connection, s: &Stmt) -> rusqlite::Result<()> {
    run_bound(&mut *conn.prepare_cached(&s.sql)?, &s.args)
}

fn run_bound(st: &mut Statement<'_>, args: &[Arg]) -> rusqlite::Result<()> {
    let expected = st.parameter_count();
    if expected != args.len() {
        return Err(rusqlite::Error::InvalidParameterCount(args.len(), expected));
    }
    for (i, a) in args.iter().enumerate() {
        match a {
            Arg::Text(t) => st.raw_bind_parameter(i + 1, t.as_str())?,
            Arg::Int(v) => st.raw_bind_parameter(i + 1, *v)?,
            Arg::Null => st.raw_bind_parameter(i + 1, rusqlite::types::Null)?,
        }
    }
    let mut rows = st.raw_query();
    while rows.next()?.is_some() {}
    Ok(())
}

/// Most idle read connections kept (one per thread that reads at once is enough).
const MAX_IDLE_READERS: usize = 4;

/// Connections for the hot path's small reads (an event's parents, the object it
/// updates, a sync's inputs), run on the calling thread.
///
/// Why on the calling thread: each of these reads is a few index lookups that take
/// tens of microseconds, less than the two thread wake-ups of handing it to a worker
/// and back. Scans (status refresh, reconcile, listings) stay on the pool.
///
/// A read first tries to borrow the store writer's connection (when it is not
/// committing): SQLite drops a connection's page cache whenever *another*
/// connection has written, so the writer's own connection is the one whose cache
/// survives the event's own writes (desired state, then the sync's reads of it).
/// Only when the writer is busy does a read take an idle read connection.
pub(crate) struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    primary: Option<super::batching::SharedConn>,
}

impl std::fmt::Debug for Readers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readers").field("path", &self.path).finish()
    }
}

impl Readers {
    pub fn new(path: &Path, primary: Option<super::batching::SharedConn>) -> Readers {
        Readers {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            primary,
        }
    }

    /// Close the idle connections (on shutdown).
    pub fn clear(&self) {
        lock(&self.idle).clear();
    }

    /// Run `f` on an idle connection (opening one when none is idle).
    pub fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if let Some(Ok(conn)) = self.primary.as_ref().map(|p| p.try_lock()) {
            return f(&conn);
        }
        let idle = lock(&self.idle).pop();
        let conn = match idle {
            Some(c) => c,
            None => {
                let c = open(&self.path)?;
                c.execute_batch("PRAGMA query_only = ON;")?;
                c
            }
        };
        let out = f(&conn);
        let mut idle = lock(&self.idle);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        out
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Rows of `sql` with `params`, each turned into a `T` by `f`. `cached` keeps the
/// statement compiled (for fixed shapes; not for `IN` lists of varying length).
pub(crate) fn query<T>(
    conn: &Connection,
    sql: &str,
    cached: bool,
    params: &[&dyn rusqlite::ToSql],
    mut f: impl FnMut(&rusqlite::Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut run = |st: &mut Statement<'_>| -> Result<Vec<T>, StoreError> {
        let mut rows = st.query(params)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(f(r)?);
        }
        Ok(out)
    };
    if cached {
        run(&mut *conn.prepare_cached(sql)?)
    } else {
        run(&mut conn.prepare(sql)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_store;
    use crate::test_support::ok;

    fn pragma(c: &Connection, name: &str) -> i64 {
        ok(c.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0)))
    }

    /// The journal's connection fsyncs each commit (FULL = 2); the batched
    /// writes' does not wait for one (NORMAL = 1); both enforce foreign keys.
    #[tokio::test]
    async fn connections_have_the_store_settings() {
        let (store, _d) = test_store().await;
        let journal = ok(open_durable(store.sqlite().path()));
        let writes = ok(open(store.sqlite().path()));
        assert_eq!(pragma(&journal, "synchronous"), 2);
        assert_eq!(pragma(&writes, "synchronous"), 1);
        assert_eq!(pragma(&writes, "foreign_keys"), 1);
        assert_eq!(pragma(&journal, "foreign_keys"), 1);
    }

    /// A statement bound with the wrong number of values fails that write alone.
    #[tokio::test]
    async fn wrong_parameter_count_is_an_error_not_a_partial_write() {
        let (store, _d) = test_store().await;
        let c = ok(open(store.sqlite().path()));
        let good = Stmt::new("INSERT INTO loadbalancers (id, body, updated_at) VALUES (?, ?, ?)")
            .arg("lb1")
            .arg("{}")
            .arg(0i64);
        let bad = Stmt::new("INSERT INTO loadbalancers (id, body, updated_at) VALUES (?, ?, ?)")
            .arg("lb2");
        let r = commit_writes(&c, &[vec![good], vec![bad]]);
        assert!(r[0].is_ok());
        let err = r[1]
            .as_ref()
            .err()
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(err.contains("parameter"), "{err}");
        let n: i64 = ok(c.query_row("SELECT COUNT(*) FROM loadbalancers", [], |r| r.get(0)));
        assert_eq!(n, 1);
    }
}
