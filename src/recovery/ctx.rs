//! What a node pass (`node`), the ownership check (`ownership`) and the start-up
//! check (`startup`) share.
//!
//! Why apart from `node`: `ownership` needs it and `node` calls `ownership`; here it
//! sits below both, so they do not import each other in a circle.

use std::sync::{Arc, Mutex};

use super::guard::{BlastRadius, DeletionLog};
use super::stats::RecoveryStats;
use crate::apply::Applier;
use crate::octavia::DriverAgentClient;
use crate::store::Store;

/// What the node pass needs.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub store: Store,
    pub applier: Arc<Applier>,
    pub stats: Arc<RecoveryStats>,
    /// Octavia's get socket, the judge of whether an unrecorded rule's listener exists.
    pub agent: DriverAgentClient,
    pub limit: BlastRadius,
    /// Unconfirmed guarded deletions of the rate window, shared by orphan removal and
    /// the start-up check.
    pub deletions: Arc<Mutex<DeletionLog>>,
}

impl Ctx {
    /// Unconfirmed guarded deletions within the rate window.
    pub fn recent_deletions(&self) -> usize {
        // The lock guards plain bookkeeping; a panic elsewhere cannot leave it torn.
        let mut log = self.deletions.lock().unwrap_or_else(|e| e.into_inner());
        log.recent(std::time::Instant::now())
    }

    /// Count `n` unconfirmed guarded deletions made now.
    pub fn record_deletions(&self, n: usize) {
        let mut log = self.deletions.lock().unwrap_or_else(|e| e.into_inner());
        log.record(std::time::Instant::now(), n);
    }
}
