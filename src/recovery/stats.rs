//! Recovery counters. Plain atomics so every task can bump them without a lock and
//! the metrics exporter can read a consistent-enough snapshot at scrape time.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Shared counters of the reconciler and the retry worker.
#[derive(Debug, Default)]
pub struct RecoveryStats {
    pub passes: AtomicU64,
    pub drift_repaired: AtomicU64,
    pub repair_failures: AtomicU64,
    pub restarts_detected: AtomicU64,
    pub orphans_removed: AtomicU64,
    pub dead_letters: AtomicU64,
    pub octavia_deleted_removed: AtomicU64,
}

/// A point-in-time copy of [`RecoveryStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatsSnapshot {
    /// Reconciliation passes run (periodic, on demand and restart repairs).
    pub passes: u64,
    /// Records found drifted or missing and re-applied.
    pub drift_repaired: u64,
    /// Repairs or orphan removals that failed (retried at the next pass).
    pub repair_failures: u64,
    /// LoxiLB restarts (or lost state) detected by the poll.
    pub restarts_detected: u64,
    pub orphans_removed: u64,
    pub dead_letters: u64,
    /// Load balancers removed because Octavia deleted them while we were down.
    pub octavia_deleted_removed: u64,
}

impl RecoveryStats {
    pub fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            passes: r(&self.passes),
            drift_repaired: r(&self.drift_repaired),
            repair_failures: r(&self.repair_failures),
            restarts_detected: r(&self.restarts_detected),
            orphans_removed: r(&self.orphans_removed),
            dead_letters: r(&self.dead_letters),
            octavia_deleted_removed: r(&self.octavia_deleted_removed),
        }
    }
}
