//! Recovery: after any fault, LoxiLB converges to the desired state in SQLite.
//!
//! - [`Reconciler`] compares each node with what we recorded as applied, forgets the
//!   records that lie (object missing or changed behind our back) and lets
//!   `Applier::sync_lb` re-apply them, with the same per-load-balancer lock and rate
//!   limit as events. It runs periodically, on demand (admin API) and at once for a
//!   node whose boot identity changed or that lost rules we recorded.
//! - Orphans (ours by name or record, wanted by nothing) are removed after two
//!   consecutive scans saw them; foreign objects are never touched.
//! - The start-up check asks Octavia (driver agent get socket) about the load
//!   balancers we hold and removes those it deleted while we were down.
//! - Dead letters of the retry worker (`tasks::catchup`) are listed by the admin API.
//!
//! The comparison itself is pure (`diff`, `orphans`) and table-tested; the rest is I/O.

pub mod admin;
pub mod diff;
mod node;
pub mod orphans;
mod reconciler;
mod startup;
mod stats;

pub use admin::router;
pub use diff::{compare, Drift, Findings, NodeView, ObjectKind, Orphan};
pub use node::{NodeReport, OrphanReport, Pass};
pub use reconciler::{Reconciler, ReconcilerHandle, ReconcilerOptions, RecoveryError, Report};
pub use startup::StartupSnapshot;
pub use stats::{RecoveryStats, StatsSnapshot};
