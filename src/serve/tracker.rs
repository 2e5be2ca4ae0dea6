//! The connections one listener holds, and which one to close when it holds
//! too many.
//!
//! Measured on the plain `axum::serve`: 19,000 half-sent requests were all held
//! (about 27 KB each) and `/healthz` timed out behind them. Here a listener
//! holds at most `max` connections; to take one more it closes the connection
//! that has been idle longest (no request being handled; a connection still
//! sending its first request's headers counts as idle). A connection whose
//! request is being answered is never closed for room, so a new caller waits
//! only when every held connection is busy. A connection told to close still
//! counts until its task has dropped the socket, so the cap bounds the
//! descriptors in use (with 1024 of them, a flood used to starve accept).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// One held connection's state.
struct Slot {
    /// Requests being handled on it (HTTP/1: 0 or 1).
    busy: usize,
    /// When it last became idle (or was accepted).
    idle_since: Instant,
    /// Told to close; still counted until its task has dropped the socket, so
    /// the cap bounds open descriptors, not just connections being served.
    closing: bool,
    /// Cancelled to make the connection's task drop it.
    close: CancellationToken,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    slots: HashMap<u64, Slot>,
}

/// The connections of one listener, capped at `max`.
pub struct Tracker {
    max: usize,
    inner: Mutex<Inner>,
    freed: Notify,
}

impl Tracker {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Tracker {
            max: max.max(1),
            inner: Mutex::new(Inner::default()),
            freed: Notify::new(),
        })
    }

    /// The map stays consistent under any panic elsewhere (every update is one
    /// statement), so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Connections held now.
    pub fn len(&self) -> usize {
        self.lock().slots.len()
    }

    /// True when no connection is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until one more connection may be held, closing the longest-idle
    /// connection when the listener is full and waiting for its socket to be
    /// closed. Returns at once below the cap; true when a connection was closed
    /// for room.
    pub async fn make_room(&self) -> bool {
        let mut closed_one = false;
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let (held, closing) = self.counts();
            if held < self.max {
                return closed_one;
            }
            // A batch of the longest idle at a time (1/16 of the cap): a flood is
            // drained at accept speed, not one scheduler round trip per connection.
            if closing == 0 && self.close_oldest_idle(self.max.div_ceil(16)) > 0 {
                closed_one = true;
            }
            // Every connection busy, or a close under way: wait for one to end.
            tokio::select! {
                _ = freed => {}
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }

    /// Connections held (closing ones included) and those closing.
    fn counts(&self) -> (usize, usize) {
        let inner = self.lock();
        let closing = inner.slots.values().filter(|s| s.closing).count();
        (inner.slots.len(), closing)
    }

    /// Tells the `n` connections idle the longest to close; how many were told
    /// (fewer when the others are busy or already closing).
    pub fn close_oldest_idle(&self, n: usize) -> usize {
        let mut inner = self.lock();
        let mut idle: Vec<(&u64, &mut Slot)> = inner
            .slots
            .iter_mut()
            .filter(|(_, s)| s.busy == 0 && !s.closing)
            .collect();
        idle.sort_unstable_by_key(|(id, s)| (s.idle_since, **id));
        let told = idle.len().min(n);
        for (_, slot) in idle.into_iter().take(told) {
            slot.closing = true;
            slot.close.cancel();
        }
        told
    }

    /// Tells every idle connection to close (at shutdown).
    pub fn close_idle(&self) {
        let mut inner = self.lock();
        for slot in inner.slots.values_mut().filter(|s| s.busy == 0) {
            slot.closing = true;
            slot.close.cancel();
        }
    }

    /// Holds a new connection; dropping the handle lets it go.
    pub fn register(self: &Arc<Self>) -> ConnHandle {
        let close = CancellationToken::new();
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.slots.insert(
            id,
            Slot {
                busy: 0,
                idle_since: Instant::now(),
                closing: false,
                close: close.clone(),
            },
        );
        ConnHandle {
            id,
            tracker: self.clone(),
            close,
        }
    }
}

/// One held connection; removed from its tracker on drop.
#[derive(Clone)]
pub struct ConnHandle {
    id: u64,
    tracker: Arc<Tracker>,
    close: CancellationToken,
}

impl ConnHandle {
    /// Resolves when the tracker closes this connection (for room, or idle at
    /// shutdown).
    pub async fn closed(&self) {
        self.close.cancelled().await
    }

    /// Marks a request as being handled until the guard is dropped.
    pub fn busy(&self) -> BusyGuard {
        if let Some(slot) = self.tracker.lock().slots.get_mut(&self.id) {
            slot.busy += 1;
        }
        BusyGuard(self.clone())
    }

    /// How long the connection has been idle; `None` while a request is handled.
    pub fn idle_for(&self) -> Option<Duration> {
        let inner = self.tracker.lock();
        let slot = inner.slots.get(&self.id)?;
        (slot.busy == 0).then(|| slot.idle_since.elapsed())
    }

    /// Lets the connection go (its task is ending).
    pub fn release(&self) {
        if self.tracker.lock().slots.remove(&self.id).is_some() {
            self.tracker.freed.notify_waiters();
        }
    }
}

/// A request in progress on a connection.
pub struct BusyGuard(ConnHandle);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let h = &self.0;
        if let Some(slot) = h.tracker.lock().slots.get_mut(&h.id) {
            slot.busy = slot.busy.saturating_sub(1);
            if slot.busy == 0 {
                slot.idle_since = Instant::now();
                h.tracker.freed.notify_waiters();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestResult;

    #[tokio::test]
    async fn the_longest_idle_connection_goes_first_and_busy_ones_stay() -> TestResult {
        let t = Tracker::new(3);
        let a = t.register();
        let b = t.register();
        let c = t.register();
        let busy = a.busy();
        // b became idle before c: b goes first; a is busy and stays.
        tokio::time::sleep(Duration::from_millis(5)).await;
        drop(c.busy());
        let room = {
            let t = t.clone();
            tokio::spawn(async move { t.make_room().await })
        };
        // b is told to close, but counts until its task lets it go.
        b.closed().await;
        assert!(!a.close.is_cancelled() && !c.close.is_cancelled());
        assert_eq!(t.len(), 3);
        assert!(
            !room.is_finished(),
            "room made before the socket was closed"
        );
        b.release();
        let closed = tokio::time::timeout(Duration::from_secs(2), room)
            .await
            .unwrap_or_else(|_| panic!("no room after the close"))?;
        assert!(closed);
        assert_eq!(t.len(), 2);
        assert_eq!(a.idle_for(), None);
        drop(busy);
        assert!(a.idle_for().is_some());
        t.close_idle();
        assert!(a.close.is_cancelled() && c.close.is_cancelled());
        a.release();
        c.release();
        assert!(t.is_empty());
        Ok(())
    }

    #[tokio::test]
    async fn a_full_listener_of_busy_connections_waits_for_one_to_finish() -> TestResult {
        let t = Tracker::new(1);
        let a = t.register();
        let busy = a.busy();
        let waiter = {
            let t = t.clone();
            tokio::spawn(async move { t.make_room().await })
        };
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(
            !waiter.is_finished(),
            "room was made by closing a busy connection"
        );
        drop(busy);
        a.closed().await;
        a.release();
        tokio::time::timeout(Duration::from_secs(2), waiter)
            .await
            .unwrap_or_else(|_| panic!("no room after the request finished"))?;
        assert!(t.is_empty());
        Ok(())
    }
}
