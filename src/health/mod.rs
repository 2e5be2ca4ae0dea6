//! Health status sync: poll LoxiLB, derive Octavia operating statuses the way the
//! amphora health manager does, and report only changes through the status outbox.
//!
//! Layout (pure first, I/O last):
//! - [`rules`]: member status from LoxiLB states, aggregation to pool/listener/LB;
//! - [`index`]: the desired state reduced to what the rules need (rebuilt rarely);
//! - [`observe`]: the nodes' probe and rule listings folded into one map;
//! - [`presence`]: which rules are on LoxiLB (listings corrected by the applier's
//!   records), so a listener whose rule is gone is reported ERROR;
//! - [`compute`] and [`snapshot`]: one cycle's statuses and the diff to the last;
//! - [`cache`]: `HealthStatusCache`, serving [`api`] without calling LoxiLB;
//! - [`board`]: the cache published to the shared database in cluster mode, so
//!   followers answer the status API too;
//! - [`stats`]: listener statistics from rule counters;
//! - [`sync`]: the background task ([`HealthSync`]) and its [`HealthHandle`].

pub mod api;
pub mod board;
pub mod cache;
pub mod compute;
pub mod index;
pub mod observe;
pub mod presence;
pub mod rules;
pub mod snapshot;
pub mod stats;
pub mod sync;
pub mod tree;

pub use api::{follower_router, router};
pub use cache::{Cached, HealthStatusCache};
pub use snapshot::{diff, Detail, Entry, Kind, Snapshot};
pub use sync::{HealthHandle, HealthOptions, HealthStats, HealthSync};
