//! The plumbing shared by the two writers that commit concurrent callers' work
//! together (the journal's group commit and the write batcher): request/reply, the
//! gathering of a group, the writer loop and the retry of each request alone.

use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot, Mutex};

use super::StoreError;

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

/// The next group: `carried` (left over from the last group) or the next request,
/// plus whatever is already queued, up to `max` requests and `max_weight` in total
/// `weight` (a request that would pass it is carried to the next group; the first
/// request always goes, however heavy). None once every sender is gone.
pub(crate) async fn gather<Q, T>(
    rx: &mut mpsc::Receiver<(Q, Reply<T>)>,
    carried: &mut Option<(Q, Reply<T>)>,
    max: usize,
    weight: impl Fn(&Q) -> usize,
    max_weight: usize,
) -> Option<Vec<(Q, Reply<T>)>> {
    let first = match carried.take() {
        Some(r) => r,
        None => rx.recv().await?,
    };
    let mut total = weight(&first.0);
    let mut group = vec![first];
    while group.len() < max {
        let Ok(next) = rx.try_recv() else { break };
        total += weight(&next.0);
        if total > max_weight {
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

/// A writer's loop: take each group (within `bounds`), hold the store's single-writer
/// lock, run `commit` on `conn` in one blocking hand-off (SQLite blocks, and the
/// journal fsyncs), and answer every caller with its own result.
pub(crate) async fn write_groups<Q, T>(
    conn: Connection,
    write_lock: Arc<Mutex<()>>,
    mut rx: mpsc::Receiver<(Q, Reply<T>)>,
    bounds: Bounds<Q>,
    commit: Commit<Q, T>,
) where
    Q: Send + 'static,
    T: Send + 'static,
{
    let conn = Arc::new(std::sync::Mutex::new(conn));
    let mut carried = None;
    let Bounds {
        max,
        weight,
        max_weight,
    } = bounds;
    while let Some(group) = gather(&mut rx, &mut carried, max, weight, max_weight).await {
        let _w = write_lock.lock().await;
        let (reqs, replies): (Vec<Q>, Vec<Reply<T>>) = group.into_iter().unzip();
        let conn = conn.clone();
        let done = tokio::task::spawn_blocking(move || {
            let conn = conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            commit(&conn, &reqs)
        })
        .await;
        match done {
            Ok(results) => {
                for (reply, r) in replies.into_iter().zip(results) {
                    let _ = reply.send(r);
                }
            }
            Err(e) => {
                let reason = format!("database writer stopped: {e}");
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Shared(reason.clone())));
                }
            }
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
