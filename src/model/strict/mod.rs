//! Strict reading of an ingress body, before it is parsed into an event.
//!
//! The field reader (`fields`) takes what octavia-lib sends and ignores what it
//! does not know, which suits journal replay and older senders. A body arriving
//! on the ingress is held to more: one reading only (no duplicate keys, see
//! [`json`]) and Octavia's own API bounds on every string (see [`strings`]).
//! These checks run at the ingress only, so entries journaled by an earlier
//! release still replay.

pub mod json;
pub mod strings;

use serde_json::Value;

use super::error::EventError;

pub use json::{parse, StrictJsonError};

/// Checks an envelope's `args` (already parsed with [`parse`]). Field paths are
/// relative to `args`, as in every other `EventError`. With `uuid_ids` false, ids
/// are held only to the field reader's `check_id` (and the text bounds).
pub fn check_args(args: &Value, uuid_ids: bool) -> Result<(), EventError> {
    strings::check(args, "", uuid_ids)
}

#[cfg(test)]
mod proptests;
