//! Cluster mode: several instances on one MySQL/MariaDB database, one leader at a time.
//!
//! Every instance accepts events; only the leader calls LoxiLB and the driver agent.
//! Leadership is a lease row with an epoch (a fencing token), acquired and renewed with
//! conditional UPDATEs: the database picks exactly one winner, and a leader stops acting
//! before its lease can expire by its own clock (see [`lease`] for the rules, measured
//! Galera behaviour in docs/ha.md). [`election::Election`] runs the rules and publishes
//! the [`Role`]; [`ClusterStatus`] is how the rest of the daemon (readyz, metrics, the
//! tasks that only a leader runs) sees it. SQLite is always one instance: its status is
//! [`ClusterStatus::single`], leader with epoch 0 and no lease.

pub mod election;
pub mod lease;
pub mod mysql;
mod status;

// The MySQL lease statements live with the rest of the store's SQL.
pub use crate::store::lease_mysql;

pub use election::{Election, LeaseStore, LeaseStoreError};
pub use mysql::MysqlLeases;
pub use status::{ClusterStatus, Role};
