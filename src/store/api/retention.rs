//! Journal retention and database upkeep: finished events are pruned after
//! `[database] retention_days` or beyond `retention_max_events`; failed ones wait for
//! an operator.

use std::time::Duration;

use crate::store::StoreError;

/// What to keep.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Retention {
    /// Finished events older than this (since they finished) are pruned.
    pub max_age: Duration,
    /// At most this many finished events are kept; the oldest go first.
    pub max_events: u64,
}

/// What one pruning pass must remove, decided before any row is touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrunePlan {
    /// Finished events that finished before this time (ms since the epoch) go.
    pub finished_before_ms: i64,
    /// Then, this many of the oldest remaining finished events go (count limit).
    pub excess: u64,
}

/// Events that finished before this time (ms since the epoch) are past the age limit.
pub fn age_cutoff(retention: &Retention, now_ms: i64) -> i64 {
    let age_ms = i64::try_from(retention.max_age.as_millis()).unwrap_or(i64::MAX);
    now_ms.saturating_sub(age_ms)
}

/// The pass for `done` finished events, `aged` of which are older than the age
/// limit, at `now_ms`. Pure, so the arithmetic is tested without a database.
pub fn plan(retention: &Retention, now_ms: i64, done: u64, aged: u64) -> PrunePlan {
    PrunePlan {
        finished_before_ms: age_cutoff(retention, now_ms),
        excess: done
            .saturating_sub(aged)
            .saturating_sub(retention.max_events),
    }
}

/// What a pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Journal rows deleted.
    pub events: u64,
    /// Database pages handed back to the file system.
    pub pages_freed: u64,
}

/// Rows deleted per transaction: a batch takes a few milliseconds, so an event
/// arriving meanwhile waits at most that long for the write lock.
pub const BATCH: u64 = 500;

/// Pruning, sizes and liveness.
pub trait Maintenance {
    /// One pruning pass: age limit first, then the count limit, `batch` rows per
    /// transaction with `pause` between them; then give freed space back.
    async fn prune_events(
        &self,
        retention: &Retention,
        batch: u64,
        pause: Duration,
    ) -> Result<Pruned, StoreError>;
    /// Remove a failed event (operator `clear-event`); false when it does not exist
    /// or is not failed.
    async fn clear_failed(&self, id: i64) -> Result<bool, StoreError>;
    /// Bytes the database uses.
    async fn file_bytes(&self) -> Result<u64, StoreError>;
    /// The database's pages: all, and free ((0, 0) where pages mean nothing).
    async fn file_pages(&self) -> Result<(u64, u64), StoreError>;
    /// Cheap liveness query (readiness, the systemd watchdog).
    async fn ping(&self) -> Result<(), StoreError>;
    /// Flush what can be flushed and close connections.
    async fn close(&self);
}
