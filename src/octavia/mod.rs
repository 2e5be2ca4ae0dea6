//! Octavia side of the coordinator: the octavia-driver-agent socket client.
//!
//! Octavia learns about provisioning results, health and traffic only
//! through the driver agent's three Unix sockets, so this module is the
//! daemon's single channel for reporting back: [`framing`] is the wire
//! format, [`types`] the typed messages, [`client`] the request logic and
//! [`error`] the failure taxonomy (including what is worth retrying).

pub mod client;
pub mod error;
pub mod framing;
pub mod types;

#[cfg(test)]
mod client_tests;

pub use client::{ClientOptions, DriverAgentClient};
pub use error::{AgentFault, OctaviaError, Phase};
pub use framing::{read_frame, write_frame, FramingError};
pub use types::{
    ListenerStats, ObjectKind, OperatingStatus, ProvisioningStatus, StatsUpdate, StatusEntry,
    StatusUpdate,
};
