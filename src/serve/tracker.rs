//! The connections one listener holds, and which one to close when it holds
//! too many.
//!
//! Measured on the plain `axum::serve`: 19,000 half-sent requests were all held
//! (about 27 KB each) and `/healthz` timed out behind them. Here a listener
//! holds at most `max` connections; to take one more it closes the connection
//! that has been idle longest (no request being handled; a connection still
//! sending its first request's headers counts as idle). A connection whose
//! request is being answered is never closed for room, so a new caller waits
//! only when every held connection is busy.

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
    /// connection when the listener is full. Returns at once below the cap; true
    /// when a connection was closed for room.
    pub async fn make_room(&self) -> bool {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.len() < self.max {
                return false;
            }
            if self.close_oldest_idle() {
                return true;
            }
            // Every connection is busy: wait for one to finish or go idle.
            tokio::select! {
                _ = freed => {}
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }

    /// Closes the connection idle the longest; false when all are busy.
    pub fn close_oldest_idle(&self) -> bool {
        let mut inner = self.lock();
        let oldest = inner
            .slots
            .iter()
            .filter(|(_, s)| s.busy == 0)
            .min_by_key(|(id, s)| (s.idle_since, **id))
            .map(|(id, _)| *id);
        match oldest.and_then(|id| inner.slots.remove(&id)) {
            Some(slot) => {
                slot.close.cancel();
                true
            }
            None => false,
        }
    }

    /// Closes every idle connection (at shutdown).
    pub fn close_idle(&self) {
        let mut inner = self.lock();
        inner.slots.retain(|_, s| {
            let keep = s.busy > 0;
            if !keep {
                s.close.cancel();
            }
            keep
        });
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

    #[tokio::test]
    async fn the_longest_idle_connection_goes_first_and_busy_ones_stay() {
        let t = Tracker::new(3);
        let a = t.register();
        let b = t.register();
        let c = t.register();
        let busy = a.busy();
        // b became idle before c: b goes first; a is busy and stays.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let _touch = c.busy();
        drop(_touch);
        assert!(t.make_room().await);
        assert!(b.close.is_cancelled());
        assert!(!a.close.is_cancelled() && !c.close.is_cancelled());
        assert_eq!(t.len(), 2);
        assert_eq!(a.idle_for(), None);
        drop(busy);
        assert!(a.idle_for().is_some());
        t.close_idle();
        assert!(t.is_empty());
        assert!(a.close.is_cancelled() && c.close.is_cancelled());
    }

    #[tokio::test]
    async fn a_full_listener_of_busy_connections_waits_for_one_to_finish() {
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
        tokio::time::timeout(Duration::from_secs(2), waiter)
            .await
            .unwrap_or_else(|_| panic!("no room after the request finished"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(a.close.is_cancelled());
        a.release();
        assert!(t.is_empty());
    }
}
