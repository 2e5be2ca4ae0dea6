//! The request/reply plumbing shared by the two writers that commit concurrent
//! callers' work together: the journal's group commit and the write batcher.

use tokio::sync::{mpsc, oneshot};

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
