//! Reporting back to Octavia: which provisioning statuses an event ends with
//! (`provisioning`, `lineage`) and getting them to the driver agent durably
//! (`delivery`, fed by the store's status outbox).
//!
//! Why a separate step: Octavia keeps an object and its parents locked in
//! `PENDING_*` until the provider reports a final status, so statuses must
//! survive driver agent outages and our own restarts. Drivers therefore only
//! enqueue statuses in the store; the delivery task drains the outbox.
//!
//! Per event the caller does:
//! 1. `let lin = lineage(&store, &event).await?` — before applying, so rows a
//!    delete removes can still be read;
//! 2. apply the event;
//! 3. `store.enqueue_statuses(&provisioning_statuses(&event, &lin, outcome))`
//!    (plus `deleted_records(..)` for anything removed that neither the event
//!    nor `lin.removed` named), then `delivery_handle.notify()`.

pub mod delivery;
#[cfg(test)]
mod delivery_tests;
pub mod lineage;
pub mod provisioning;

pub use delivery::{DeliveryHandle, DeliveryOptions, DeliveryStats, StatusDelivery};
pub use lineage::lineage;
pub use provisioning::{deleted_records, provisioning_statuses, Lineage, Outcome};
