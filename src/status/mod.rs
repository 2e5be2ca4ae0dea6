//! Reporting back to Octavia: which provisioning statuses an event ends with
//! (`provisioning`, `lineage`) and getting them to the driver agent durably
//! (`delivery`, fed by the store's status outbox).
//!
//! Why a separate step: Octavia keeps an object and its parents locked in
//! `PENDING_*` until the provider reports a final status, so statuses must
//! survive driver agent outages and our own restarts. Drivers therefore only
//! enqueue statuses in the store; the delivery task drains the outbox.

pub mod lineage;
pub mod provisioning;

pub use lineage::lineage;
pub use provisioning::{deleted_records, provisioning_statuses, Lineage, Outcome};
