//! Recovery: after any fault, LoxiLB converges to the desired state in SQLite.
//!
//! - [`Reconciler`] compares each node with what we recorded as applied, forgets the
//!   records that lie (object missing or changed behind our back) and lets
//!   `Applier::sync_lb` re-apply them, with the same per-load-balancer lock and rate
//!   limit as events. It runs periodically, on demand (admin API) and at once for a
//!   node whose boot identity changed or that lost rules we recorded.
//! - Orphans are removed after two consecutive scans saw them. An object is ours only
//!   when our records say we created it, or when its name is exactly our rule pattern
//!   (`octavia-<listener uuid>`) and Octavia confirms the listener does not exist
//!   (`guard`, `ownership`); foreign objects are never deleted or rewritten.
//! - The start-up check asks Octavia (driver agent get socket) about the load
//!   balancers we hold and removes those it deleted while we were down.
//! - Both kinds of deletion are guarded: a pass that would delete more than the
//!   blast-radius limit, or that rests on a "not found" from an agent that answers
//!   nothing else, deletes nothing and holds the candidates for `--confirm`.
//! - Dead letters of the retry worker (`catchup`) are listed by the admin API.
//!
//! The comparison itself is pure (`diff`, `orphans`) and table-tested; the rest is I/O.

pub mod admin;
mod catchup;
mod ctx;
pub mod diff;
pub mod guard;
mod node;
pub mod orphans;
mod ownership;
mod reconciler;
mod startup;
mod stats;

pub use admin::router;
pub use catchup::{DeadLetterPolicy, NodeCatchUp};
pub use diff::{compare, Drift, Findings, NodeView, ObjectKind, Orphan};
pub use guard::BlastRadius;
pub use node::{NodeReport, OrphanReport, Pass};
pub use reconciler::{Reconciler, ReconcilerHandle, ReconcilerOptions, RecoveryError, Report};
pub use startup::StartupSnapshot;
pub use stats::{RecoveryStats, StatsSnapshot};
