//! Group commit for the event journal.
//!
//! Accepting an event must be durable before the 202 (a machine crash must not lose
//! it), so the journal is written through a connection with `synchronous=FULL`: every
//! commit waits for an fsync. One fsync per event would cap ingress at the disk's
//! fsync rate, so concurrent acceptances wait together: the writer task takes every
//! request queued at that moment, journals them in one transaction, commits once and
//! answers each. Under no load a request is committed alone, at once.
//!
//! If the combined transaction fails, each request is retried in its own
//! transaction, so one bad request cannot fail the others.

use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::{mpsc, Mutex};

use super::batching::{gather, submit};
use super::journal::{accept_in, AcceptRequest};
use super::{Accepted, StoreError};

/// Most requests journaled in one transaction.
const MAX_GROUP: usize = 256;

type Reply = super::batching::Reply<Accepted>;

/// Handle to the journal writer task.
#[derive(Clone, Debug)]
pub(crate) struct GroupCommit {
    tx: mpsc::Sender<(AcceptRequest, Reply)>,
}

impl GroupCommit {
    /// Start the writer on `conn` (the journal's own connection, `synchronous=FULL`,
    /// driven directly like `write_batch`'s); `write_lock` is the store's
    /// single-writer lock.
    pub fn start(conn: Connection, write_lock: Arc<Mutex<()>>) -> GroupCommit {
        let (tx, rx) = mpsc::channel(4 * MAX_GROUP);
        tokio::spawn(writer(
            Arc::new(std::sync::Mutex::new(conn)),
            write_lock,
            rx,
        ));
        GroupCommit { tx }
    }

    pub async fn accept(&self, req: AcceptRequest) -> Result<Accepted, StoreError> {
        submit(&self.tx, req).await
    }
}

async fn writer(
    conn: Arc<std::sync::Mutex<Connection>>,
    write_lock: Arc<Mutex<()>>,
    mut rx: mpsc::Receiver<(AcceptRequest, Reply)>,
) {
    let mut carried = None;
    while let Some(group) = gather(&mut rx, &mut carried, MAX_GROUP, |_| 0, 0).await {
        let _w = write_lock.lock().await;
        let (reqs, replies): (Vec<AcceptRequest>, Vec<Reply>) = group.into_iter().unzip();
        let conn = conn.clone();
        // SQLite blocks (and fsyncs): run the group off the async workers.
        let done = tokio::task::spawn_blocking(move || {
            let conn = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            commit_all(&conn, &reqs)
        })
        .await;
        match done {
            Ok(results) => {
                for (reply, r) in replies.into_iter().zip(results) {
                    let _ = reply.send(r);
                }
            }
            Err(e) => {
                let reason = format!("journal writer stopped: {e}");
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Shared(reason.clone())));
                }
            }
        }
    }
}

/// Journal `reqs` in one transaction; if that fails and there are several, each
/// in its own. One result per request.
fn commit_all(conn: &Connection, reqs: &[AcceptRequest]) -> Vec<Result<Accepted, StoreError>> {
    match transaction(conn, reqs) {
        Ok(accepted) => accepted.into_iter().map(Ok).collect(),
        Err(e) if reqs.len() == 1 => vec![Err(e)],
        Err(_) => reqs
            .iter()
            .map(|r| {
                transaction(conn, std::slice::from_ref(r))?
                    .pop()
                    .ok_or_else(|| StoreError::Shared("the journal wrote no event".into()))
            })
            .collect(),
    }
}

fn transaction(conn: &Connection, reqs: &[AcceptRequest]) -> Result<Vec<Accepted>, StoreError> {
    conn.prepare_cached("BEGIN IMMEDIATE")?.execute([])?;
    let run = || -> Result<Vec<Accepted>, StoreError> {
        let out = reqs
            .iter()
            .map(|r| accept_in(conn, r))
            .collect::<Result<Vec<_>, _>>()?;
        conn.prepare_cached("COMMIT")?.execute([])?;
        Ok(out)
    };
    run().inspect_err(|_| {
        // Leave no transaction open; harmless if it is already gone.
        let _ = conn.execute_batch("ROLLBACK");
    })
}
