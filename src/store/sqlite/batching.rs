//! The plumbing shared by the two writers that commit concurrent callers' work
//! together (the journal's group commit and the write batcher): request/reply, the
//! gathering of a group, the writer loop and the retry of each request alone.

use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::store::StoreError;

/// A writer's connection, which the hot path's reads may borrow between commits
/// (see `direct::Readers`).
pub(crate) type SharedConn = Arc<std::sync::Mutex<Connection>>;

/// Where a writer sends one caller's result.
pub(crate) type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// Queue `req` for the writer behind `tx` and wait for its result.
pub(crate) async fn submit<Q, T>(
    tx: &mpsc::Sender<(Q, Reply<T>)>,
    req: Q,
) -> Result<T, StoreError> {
    let (reply, answer) = oneshot::channel();
    tx.send((req, reply))
        .await
        .map_err(|_| StoreError::Closed)?;
    answer.await.map_err(|_| StoreError::Closed)?
}

/// The next group: `carried` (left over from the last group) or the next request
/// (waiting for it on the writer's thread), plus whatever is already queued, up to
/// `bounds.max` requests and `bounds.max_weight` in total weight (a request that
/// would pass it is carried to the next group; the first request always goes,
/// however heavy). None once every sender is gone.
fn gather<Q, T>(
    rx: &mut mpsc::Receiver<(Q, Reply<T>)>,
    carried: &mut Option<(Q, Reply<T>)>,
    bounds: &Bounds<Q>,
) -> Option<Vec<(Q, Reply<T>)>> {
    let first = match carried.take() {
        Some(r) => r,
        None => rx.blocking_recv()?,
    };
    let mut total = (bounds.weight)(&first.0);
    let mut group = vec![first];
    while group.len() < bounds.max {
        let Ok(next) = rx.try_recv() else { break };
        total += (bounds.weight)(&next.0);
        if total > bounds.max_weight {
            *carried = Some(next);
            break;
        }
        group.push(next);
    }
    Some(group)
}

/// How big a writer's group may get (see `gather`).
pub(crate) struct Bounds<Q> {
    pub max: usize,
    pub weight: fn(&Q) -> usize,
    pub max_weight: usize,
}

/// Commits one group on a connection: one result per request, in order.
pub(crate) type Commit<Q, T> = fn(&Connection, &[Q]) -> Vec<Result<T, StoreError>>;

/// Start a writer on its own thread: take each group (within `bounds`), hold the
/// store's single-writer lock, run `commit` on `conn` and answer every caller with
/// its own result. The thread ends once every sender is gone.
///
/// Why a dedicated thread rather than a task that hands each group to
/// `spawn_blocking`: SQLite blocks (and the journal fsyncs), so the commit must run
/// off the runtime's workers either way, and a thread that waits on the queue itself
/// saves two thread wake-ups per commit (task -> blocking pool -> task). At a steady
/// trickle of events, where almost every write commits alone, those wake-ups were a
/// large share of the daemon's CPU.
pub(crate) fn spawn_writer<Q, T>(
    name: &str,
    conn: SharedConn,
    write_lock: Arc<Mutex<()>>,
    rx: mpsc::Receiver<(Q, Reply<T>)>,
    bounds: Bounds<Q>,
    commit: Commit<Q, T>,
) -> Result<(), StoreError>
where
    Q: Send + 'static,
    T: Send + 'static,
{
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || write_groups(conn, write_lock, rx, bounds, commit))
        .map(drop)
        .map_err(|e| StoreError::Shared(format!("cannot start the {name} thread: {e}")))
}

/// The writer thread's loop (see `spawn_writer`).
fn write_groups<Q, T>(
    conn: SharedConn,
    write_lock: Arc<Mutex<()>>,
    mut rx: mpsc::Receiver<(Q, Reply<T>)>,
    bounds: Bounds<Q>,
    commit: Commit<Q, T>,
) {
    let mut carried = None;
    while let Some(group) = gather(&mut rx, &mut carried, &bounds) {
        let (reqs, replies): (Vec<Q>, Vec<Reply<T>>) = group.into_iter().unzip();
        let results = {
            let _w = write_lock.blocking_lock();
            let conn = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            commit(&conn, &reqs)
        };
        for (reply, r) in replies.into_iter().zip(results) {
            let _ = reply.send(r);
        }
    }
}

/// Run `transaction` over all of `reqs`; if that fails and there are several, over each
/// alone, so one bad request cannot fail the others. One result per request.
pub(crate) fn all_or_each<Q, T>(
    conn: &Connection,
    reqs: &[Q],
    transaction: impl Fn(&Connection, &[Q]) -> Result<Vec<T>, StoreError>,
) -> Vec<Result<T, StoreError>> {
    match transaction(conn, reqs) {
        Ok(done) => done.into_iter().map(Ok).collect(),
        Err(e) if reqs.len() == 1 => vec![Err(e)],
        Err(_) => reqs
            .iter()
            .map(|r| {
                transaction(conn, std::slice::from_ref(r))?
                    .pop()
                    .ok_or_else(|| StoreError::Shared("a write produced no result".into()))
            })
            .collect(),
    }
}
