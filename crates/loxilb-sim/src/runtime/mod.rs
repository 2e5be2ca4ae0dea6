//! The thin runtime around the state machine: everything that needs tokio, sockets, files
//! or the wall clock.
//!
//! - `server` reads HTTP, runs the test knobs in front of LoxiLB, binds the call with
//!   `routes`, calls `machine::apply` under the lock and carries out its effects
//!   (`effects`); `http` builds responses;
//! - `checkers` runs LoxiLB's endpoint checkers as tasks, `probers` the probe attempts,
//!   `probing` holds their tasks and `tls_roots` the https trust pool;
//! - `control` (in process) and `control_http` (under /sim/v1) turn the knobs (`knobs`,
//!   `interrupt`) and reach the machine through `effects::with_sim`;
//! - `shared` ties it together for one instance; `lock` is the poison-tolerant lock.

pub(crate) mod checkers;
pub(crate) mod control;
pub(crate) mod control_http;
pub(crate) mod effects;
pub(crate) mod http;
pub(crate) mod interrupt;
pub(crate) mod knobs;
pub(crate) mod lock;
pub(crate) mod probers;
pub(crate) mod probing;
pub(crate) mod routes;
pub(crate) mod server;
pub(crate) mod shared;
pub(crate) mod tls_roots;
