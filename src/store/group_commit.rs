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

use sqlx::SqlitePool;
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
    /// Start the writer on `pool` (the durable connection); `write_lock` is the
    /// store's single-writer lock.
    pub fn start(pool: SqlitePool, write_lock: Arc<Mutex<()>>) -> GroupCommit {
        let (tx, rx) = mpsc::channel(4 * MAX_GROUP);
        tokio::spawn(writer(pool, write_lock, rx));
        GroupCommit { tx }
    }

    pub async fn accept(&self, req: AcceptRequest) -> Result<Accepted, StoreError> {
        submit(&self.tx, req).await
    }
}

async fn writer(
    pool: SqlitePool,
    write_lock: Arc<Mutex<()>>,
    mut rx: mpsc::Receiver<(AcceptRequest, Reply)>,
) {
    let mut carried = None;
    while let Some(group) = gather(&mut rx, &mut carried, MAX_GROUP, |_| 0, 0).await {
        let _w = write_lock.lock().await;
        match commit_group(&pool, &group).await {
            Ok(accepted) => {
                for ((_, reply), a) in group.into_iter().zip(accepted) {
                    let _ = reply.send(Ok(a));
                }
            }
            Err(_) if group.len() > 1 => {
                for (req, reply) in group {
                    let _ = reply.send(commit_one(&pool, &req).await);
                }
            }
            Err(e) => {
                for (_, reply) in group {
                    let _ = reply.send(Err(e.clone_shallow()));
                }
            }
        }
    }
}

async fn commit_group(
    pool: &SqlitePool,
    group: &[(AcceptRequest, Reply)],
) -> Result<Vec<Accepted>, StoreError> {
    let mut tx = pool.begin().await?;
    let mut out = Vec::with_capacity(group.len());
    for (req, _) in group {
        out.push(accept_in(&mut tx, req).await?);
    }
    tx.commit().await?;
    Ok(out)
}

async fn commit_one(pool: &SqlitePool, req: &AcceptRequest) -> Result<Accepted, StoreError> {
    let mut tx = pool.begin().await?;
    let a = accept_in(&mut tx, req).await?;
    tx.commit().await?;
    Ok(a)
}
