//! A stand-in for `octavia-driver-agent`, for tests and demos.
//!
//! It serves the agent's three Unix sockets (`status.sock`, `stats.sock`,
//! `get.sock`) with the real wire protocol — one request per connection,
//! `<decimal length>\n<JSON>` frames in both directions — records every valid
//! request, answers `get.sock` from fixtures, and can be switched into
//! failure modes ([`Mode`]) so clients can be tested against a failing,
//! hung or broken agent without running OpenStack.
//!
//! It is intentionally stricter than the real agent: malformed frames are
//! logged and the connection closed, and schema violations get the 500 reply
//! the real agent sends when its database rejects a value.

mod control;
mod server;
mod validate;
mod wire;

pub use control::{AgentControl, FixtureError, Mode, Received, Socket, COLLECTIONS};
pub use server::{spawn, AgentHandle, GARBAGE_REPLY, MAX_REQUEST_BYTES, REQUEST_READ_TIMEOUT};

#[cfg(test)]
mod tests;
