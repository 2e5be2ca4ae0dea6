//! REST client for LoxiLB nodes.
//!
//! [`LoxilbClient`] speaks LoxiLB's `/netlox/v1` API to every configured node: probes
//! (`/config/endpoint*`), load-balancer rules (`/config/loadbalancer*`) and liveness
//! (`/version`). It owns the cross-cutting policy so callers do not have to: a global rate
//! limit, retries of transient failures with jittered exponential backoff, token login and
//! re-login, TLS, and a classification of failures ([`ErrorKind`]) that tells callers
//! whether to retry later, give up, or react to a LoxiLB conflict.

// `LoxilbError` is a plain struct of public fields (node, method, path, result, detail) so
// callers and logs can use them directly; it is large but only built on the failure path,
// where a network round trip dwarfs a 150-byte move.
#![allow(clippy::result_large_err)]

mod client;
mod error;
mod transport;
pub mod types;
pub mod version;

#[cfg(test)]
mod tests;

pub use client::{ClientOptions, Deleted, LoxilbClient, NodeId, NodeInfo, RuleApplied};
pub use error::{ErrorKind, LoxilbError};
pub use types::{
    probe_key, AllowedSource, EndPoint, EndPointGetEntry, EndPointHostState, HostState, LbEndpoint,
    LoadbalanceEntry, Mode, Oper, ProbeState, SecondaryIp, Sel, ServiceArguments,
};
