//! loxilb-coordinator: connects OpenStack Octavia's provider events to LoxiLB.
//!
//! Event flow, one module per step:
//! `ingress` (HTTP API) → `store` (durable journal) → `dispatch` (ordered per load
//! balancer) → `drivers` (per Octavia object) → `loxilb` (REST client) and
//! `octavia` (status back to the driver agent).

pub mod allocator;
pub mod app;
pub mod apply;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod conformance;
pub mod dispatch;
pub mod drivers;
pub mod fence;
pub mod health;
pub mod ingress;
pub mod loxilb;
pub mod mapping;
pub mod metrics;
pub mod model;
pub mod octavia;
pub mod reconcile;
pub mod recovery;
pub mod serve;
pub mod shutdown;
pub mod status;
pub mod store;
pub mod telemetry;
#[cfg(test)]
pub(crate) mod test_support;
