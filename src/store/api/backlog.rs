//! The per-node catch-up backlog: a node that missed a load balancer's change is
//! retried until it has it, or until the change is too old and becomes a dead letter.

use serde::Serialize;

use crate::store::StoreError;

/// A node that missed a load balancer's change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BacklogEntry {
    pub node: String,
    pub loadbalancer_id: String,
    pub reason: String,
    pub attempts: i64,
    /// When the node first missed the change (ms since the epoch): the retry age.
    pub since: i64,
}

/// A (node, load balancer) pair that is no longer retried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    pub node: String,
    pub loadbalancer_id: String,
    /// The last failure, as logged.
    pub reason: String,
    pub attempts: i64,
    /// When the node first missed the change (ms since the epoch).
    pub since: i64,
    /// When retrying stopped (ms since the epoch).
    pub dead_at: i64,
}

/// The catch-up backlog and its dead letters.
pub trait NodeBacklog {
    /// `node` missed a change of `lb`: retry it (keeps the first `since`).
    async fn mark_backlog(&self, node: &str, lb: &str, reason: &str) -> Result<(), StoreError>;
    /// A retry failed: try again at `next_attempt_at` (ms since the epoch).
    async fn defer_backlog(
        &self,
        node: &str,
        lb: &str,
        reason: &str,
        next_attempt_at: i64,
    ) -> Result<(), StoreError>;
    async fn clear_backlog(&self, node: &str, lb: &str) -> Result<(), StoreError>;
    /// Entries due for a retry, oldest first.
    async fn due_backlog(&self, limit: i64) -> Result<Vec<BacklogEntry>, StoreError>;
    async fn backlog_len(&self) -> Result<i64, StoreError>;
    /// Stop retrying (node, lb): keep the row as a dead letter with `reason`.
    async fn dead_letter_backlog(
        &self,
        node: &str,
        lb: &str,
        reason: &str,
    ) -> Result<(), StoreError>;
    /// Every dead letter, oldest first.
    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError>;
}
