//! loxilb-coordinator: connects OpenStack Octavia's provider events to LoxiLB.
//!
//! Event flow, one module per step:
//! `ingress` (HTTP API) → `store` (durable journal) → `dispatch` (ordered per load
//! balancer) → `drivers` (per Octavia object) → `loxilb` (REST client) and
//! `octavia` (status back to the driver agent).

pub mod config;
pub mod dispatch;
pub mod loxilb;
pub mod shutdown;
pub mod store;
