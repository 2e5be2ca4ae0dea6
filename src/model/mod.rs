//! Octavia event model and synchronous validation.
//!
//! The ingress API receives `{"method": "<ProviderDriver method>", "args":
//! {...}}`. This module turns that into a typed [`Event`] or a precise
//! [`EventError`] *before* anything is stored: a rejected event leaves no
//! trace, so everything knowable up front (types, ranges, required fields,
//! features LoxiLB cannot serve) is checked here, and Octavia gets an
//! immediate `UnsupportedOptionError` instead of an object that later goes
//! to ERROR or stays in PENDING_*.
//!
//! Layout: `fields` (type-checked reading with field paths), one file per
//! Octavia object, `rules` (ranges/formats), `unsupported` (LoxiLB limits),
//! `validate` (which rule applies to which event), `event` (the entry point),
//! `ordering` (where an event is ordered and which owner it names).

mod accessors;
mod cleared;
mod enums;
mod error;
mod event;
mod expected_codes;
mod fields;
mod graph;
mod healthmonitor;
mod kind;
pub mod limits;
mod listener;
mod loadbalancer;
mod member;
mod ordering;
mod pool;
pub mod rules;
mod serde_util;
pub mod strict;
mod unsupported;
mod validate;

#[cfg(test)]
mod fixture_tests;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

pub use cleared::Cleared;
pub use enums::{
    HttpMethod, LbAlgorithm, ListenerProtocol, MonitorType, PoolProtocol, SessionPersistenceType,
};
pub use error::EventError;
pub use event::{
    parse_envelope, Event, EVENT_METHODS, L7_METHODS, NOT_AN_EVENT_METHODS, UNSUPPORTED_METHODS,
};
pub use expected_codes::{CodeSpec, ExpectedCodes, ExpectedCodesError};
pub use graph::{split_graph, GraphParts};
pub use healthmonitor::HealthMonitor;
pub use kind::ObjectKind;
pub use listener::Listener;
pub use loadbalancer::LoadBalancer;
pub use member::Member;
pub use ordering::{ordering, KeyHint, Ordering, OwnerFact, OwnerRef};
pub use pool::{Pool, SessionPersistence};
