//! Batched writes: progress records, desired state, applied records and the status
//! outbox from every concurrent caller, committed together.
//!
//! Why: each query through sqlx is a hand-off to the connection's worker thread and
//! back, and each commit appends its pages to the WAL. Under a steady event stream
//! every event makes five or so small writes (mark applying, desired object, applied
//! rule, statuses, finish), and those hand-offs and commits were most of the daemon's
//! CPU. The writer task takes every write queued at that moment and runs them in ONE
//! transaction on the store's own connection (`direct`: statements stay compiled):
//! one hand-off and one commit for the lot. A caller still awaits its own write's
//! commit, so nothing is reported done before it is stored. Under no load a write is
//! committed alone, at once.
//!
//! A write is a list of statements that must apply together (e.g. replacing a load
//! balancer's probe references). If the combined transaction fails, each write is
//! retried in its own transaction, so one bad write cannot fail the others.

use std::sync::Arc;

use tokio::sync::{mpsc, Mutex};

use super::batching::{spawn_writer, submit, Bounds, SharedConn};
use super::direct;
use super::stmt::Stmt;
use crate::store::StoreError;

/// Most writes committed together.
const MAX_GROUP: usize = 128;
/// Bound values per combined commit (a write bigger than this goes alone): bounds
/// how long one commit holds the write lock and the memory its statements take.
const MAX_ARGS: usize = 4000;

type Reply = super::batching::Reply<()>;

/// Handle to the writer task.
#[derive(Clone, Debug)]
pub(crate) struct WriteBatch {
    tx: mpsc::Sender<(Vec<Stmt>, Reply)>,
}

impl WriteBatch {
    /// Start the writer on `conn` (the store's own write connection, see
    /// `direct`); `write_lock` is the store's single-writer lock.
    pub fn start(conn: SharedConn, write_lock: Arc<Mutex<()>>) -> Result<WriteBatch, StoreError> {
        let (tx, rx) = mpsc::channel(4 * MAX_GROUP);
        let bounds = Bounds {
            max: MAX_GROUP,
            weight: |s: &Vec<Stmt>| arg_count(s),
            max_weight: MAX_ARGS,
        };
        spawn_writer(
            "store-writer",
            conn,
            write_lock,
            rx,
            bounds,
            direct::commit_writes,
        )?;
        Ok(WriteBatch { tx })
    }

    /// Commit `stmts` together (and with whatever else is waiting); returns once
    /// they are committed.
    pub async fn write(&self, stmts: Vec<Stmt>) -> Result<(), StoreError> {
        if stmts.is_empty() {
            return Ok(());
        }
        submit(&self.tx, stmts).await
    }
}

fn arg_count(stmts: &[Stmt]) -> usize {
    stmts.iter().map(|s| s.args.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_store;
    use crate::test_support::ok;
    use sqlx::SqlitePool;

    fn direct_conn(store: &crate::store::Store) -> rusqlite::Connection {
        ok(direct::open(store.sqlite().path()))
    }

    fn insert(id: &str) -> Stmt {
        Stmt::new("INSERT INTO loadbalancers (id, body, updated_at) VALUES (?, ?, ?)")
            .arg(id)
            .arg("{}")
            .arg(0i64)
    }

    async fn ids(pool: &SqlitePool) -> Vec<String> {
        let rows: Vec<(String,)> = ok(sqlx::query_as("SELECT id FROM loadbalancers ORDER BY id")
            .fetch_all(pool)
            .await);
        rows.into_iter().map(|(i,)| i).collect()
    }

    /// Concurrent writes share commits; each caller's statements apply together and
    /// every caller learns its own outcome.
    #[tokio::test]
    async fn concurrent_writes_commit_together_and_a_bad_one_fails_alone() {
        let (store, _d) = test_store().await;
        let wb = ok(WriteBatch::start(
            Arc::new(std::sync::Mutex::new(direct_conn(&store))),
            Default::default(),
        ));
        let mut tasks = Vec::new();
        for i in 0..40 {
            let wb = wb.clone();
            tasks.push(tokio::spawn(async move {
                let stmts = if i == 7 {
                    // The second statement breaks the primary key: neither applies.
                    vec![insert("bad-a"), insert("lb1")]
                } else {
                    vec![insert(&format!("lb{i}")), insert(&format!("lb{i}-twin"))]
                };
                (i, wb.write(stmts).await)
            }));
        }
        let mut failed = Vec::new();
        for t in tasks {
            let (i, r) = ok(t.await);
            if r.is_err() {
                failed.push(i);
            }
        }
        // lb1 is inserted by task 1; whichever of 1 and 7 commits second fails.
        assert_eq!(failed.len(), 1, "exactly one write fails: {failed:?}");
        let got = ids(store.sqlite().pool()).await;
        assert!(!got.contains(&"bad-a".to_string()) || failed == [1]);
        assert_eq!(got.len(), 78, "39 writes of two rows each: {got:?}");
        // The pool's connections are usable afterwards (no transaction left open).
        ok(wb.write(vec![insert("after")]).await);
        assert!(ids(store.sqlite().pool())
            .await
            .contains(&"after".to_string()));
    }

    /// Writes beyond the per-commit value bound are carried to the next commit,
    /// not dropped or merged.
    #[tokio::test]
    async fn large_writes_are_split_across_commits() {
        let (store, _d) = test_store().await;
        let wb = ok(WriteBatch::start(
            Arc::new(std::sync::Mutex::new(direct_conn(&store))),
            Default::default(),
        ));
        let padding = || {
            let mut s = Stmt::new(format!("SELECT {}", vec!["?"; 1500].join(", ")));
            for i in 0..1500i64 {
                s = s.arg(i);
            }
            s
        };
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let wb = wb.clone();
                tokio::spawn(
                    async move { wb.write(vec![insert(&format!("big{i}")), padding()]).await },
                )
            })
            .collect();
        for t in tasks {
            ok(ok(t.await));
        }
        assert_eq!(ids(store.sqlite().pool()).await.len(), 8);
    }

    #[tokio::test]
    async fn null_and_integer_arguments_bind() {
        let (store, _d) = test_store().await;
        let wb = ok(WriteBatch::start(
            Arc::new(std::sync::Mutex::new(direct_conn(&store))),
            Default::default(),
        ));
        ok(wb
            .write(vec![Stmt::new(
                "INSERT INTO status_outbox (object_kind, object_id, provisioning_status, \
                 operating_status, seq, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            )
            .arg("members")
            .arg("m1")
            .arg(Some("ACTIVE"))
            .arg(None::<&str>)
            .arg(5i64)
            .arg(9i64)])
            .await);
        let row: (Option<String>, Option<String>, i64) = ok(sqlx::query_as(
            "SELECT provisioning_status, operating_status, seq FROM status_outbox",
        )
        .fetch_one(store.sqlite().pool())
        .await);
        assert_eq!(row, (Some("ACTIVE".into()), None, 5));
    }
}
