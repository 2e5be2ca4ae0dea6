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

use crate::store::api::*;

use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::{mpsc, Mutex};

use super::batching::{all_or_each, spawn_writer, submit, Bounds};
use super::direct::in_transaction;
use super::journal::{accept_in, AcceptRequest};
use crate::store::StoreError;
use crate::store::TooManyMembers;

/// Most requests journaled in one transaction.
const MAX_GROUP: usize = 256;

/// An event journaled, or refused by the member count (nothing written).
type Outcome = Result<Accepted, TooManyMembers>;

type Reply = super::batching::Reply<Outcome>;

/// Handle to the journal writer task.
#[derive(Clone, Debug)]
pub(crate) struct GroupCommit {
    tx: mpsc::Sender<(AcceptRequest, Reply)>,
}

impl GroupCommit {
    /// Start the writer on `conn` (the journal's own connection, `synchronous=FULL`,
    /// driven directly like `write_batch`'s); `write_lock` is the store's
    /// single-writer lock.
    pub fn start(conn: Connection, write_lock: Arc<Mutex<()>>) -> Result<GroupCommit, StoreError> {
        let (tx, rx) = mpsc::channel(4 * MAX_GROUP);
        // No weight bound: a request is one small row.
        let bounds = Bounds {
            max: MAX_GROUP,
            weight: |_| 0,
            max_weight: 0,
        };
        spawn_writer(
            "journal-writer",
            Arc::new(std::sync::Mutex::new(conn)),
            write_lock,
            rx,
            bounds,
            |conn, reqs| all_or_each(conn, reqs, transaction),
        )?;
        Ok(GroupCommit { tx })
    }

    pub async fn accept(&self, req: AcceptRequest) -> Result<Outcome, StoreError> {
        submit(&self.tx, req).await
    }
}

/// Journal `reqs` in one transaction, one id each.
/// A refused request writes nothing and does not fail the others.
fn transaction(conn: &Connection, reqs: &[AcceptRequest]) -> Result<Vec<Outcome>, StoreError> {
    in_transaction(conn, || reqs.iter().map(|r| accept_in(conn, r)).collect())
}
