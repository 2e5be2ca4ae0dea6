//! Fields an update explicitly reset to `null`.
//!
//! In an update's `new` object Octavia sends only changed fields; a field set
//! to `None` (e.g. a listener's `default_pool_id`, a pool's
//! `session_persistence`, a member's `monitor_address`) means "remove it",
//! which an `Option` alone cannot tell apart from "unchanged". The readers
//! record such keys here for `new` objects, and serialization writes them
//! back as `null` so a journalled event replays identically.

use serde::ser::{Serialize, SerializeMap, Serializer};

/// Sorted, de-duplicated names of fields explicitly set to `null`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cleared(pub Vec<String>);

impl Cleared {
    /// Whether no field was cleared.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `field` was explicitly set to `null`.
    pub fn contains(&self, field: &str) -> bool {
        self.0.iter().any(|f| f == field)
    }

    /// The cleared field names.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl Serialize for Cleared {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for key in &self.0 {
            map.serialize_entry(key, &())?;
        }
        map.end()
    }
}
