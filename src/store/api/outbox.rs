//! The status outbox: statuses for Octavia wait here until the driver agent took
//! them, so an agent outage (or our crash) delays statuses but never loses them.

use crate::store::StoreError;

/// A status to send. `None` fields are left as they are in the row (or absent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusRecord {
    /// Octavia's collection name: loadbalancers, listeners, pools, members, healthmonitors.
    pub collection: String,
    pub id: String,
    pub provisioning_status: Option<String>,
    pub operating_status: Option<String>,
}

/// A row waiting for delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingStatus {
    pub record: StatusRecord,
    pub seq: i64,
    /// When this status was queued (ms since the epoch): for the sync delay metric.
    pub queued_at: i64,
}

/// Queueing and delivering statuses.
pub trait StatusOutbox {
    /// Queue statuses; a newer status of an object replaces the undelivered fields
    /// of an older one.
    async fn enqueue_statuses(&self, records: &[StatusRecord]) -> Result<(), StoreError>;
    /// The oldest `limit` rows waiting, in production order.
    async fn pending_statuses(&self, limit: i64) -> Result<Vec<PendingStatus>, StoreError>;
    /// The agent took these: clear the fields delivered (not newer ones).
    async fn ack_statuses(&self, delivered: &[PendingStatus]) -> Result<(), StoreError>;
    async fn outbox_len(&self) -> Result<i64, StoreError>;
}
