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

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Statement};

use super::write_batch::{Arg, Stmt};
use super::StoreError;

/// Statements kept compiled per connection (the hot path has a few dozen shapes).
const STATEMENT_CACHE: usize = 128;

/// Open `path` (which the pool has created and migrated).
pub(crate) fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Commit `writes` (each a list of statements that apply together) in one
/// transaction; if that fails and there are several, commit each alone so one bad
/// write cannot fail the others. One result per write.
pub(crate) fn commit_writes(
    conn: &Connection,
    writes: &[Vec<Stmt>],
) -> Vec<Result<(), StoreError>> {
    let all: Vec<&Stmt> = writes.iter().flatten().collect();
    match transaction(conn, &all) {
        Ok(()) => writes.iter().map(|_| Ok(())).collect(),
        Err(e) if writes.len() == 1 => vec![Err(e)],
        Err(_) => writes
            .iter()
            .map(|w| transaction(conn, &w.iter().collect::<Vec<_>>()))
            .collect(),
    }
}

/// Run `stmts` between `BEGIN IMMEDIATE` and `COMMIT`, rolling back on failure.
fn transaction(conn: &Connection, stmts: &[&Stmt]) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let run = || -> rusqlite::Result<()> {
        for s in stmts {
            execute(conn, s)?;
        }
        conn.execute_batch("COMMIT")
    };
    match run() {
        Ok(()) => Ok(()),
        Err(e) => {
            // Leave no transaction open on the connection; if COMMIT itself failed
            // the transaction may already be gone, and this fails harmlessly.
            let _ = conn.execute_batch("ROLLBACK");
            Err(e.into())
        }
    }
}

/// Bind and run one statement to completion (rows it returns are ignored).
fn execute(conn: &Connection, s: &Stmt) -> rusqlite::Result<()> {
    if s.cached {
        run_bound(&mut *conn.prepare_cached(&s.sql)?, &s.args)
    } else {
        run_bound(&mut conn.prepare(&s.sql)?, &s.args)
    }
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
