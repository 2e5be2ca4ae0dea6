//! Serialization helpers for field types without a serde impl in our build.

use ipnet::IpNet;
use serde::Serializer;

/// Writes `allowed_cidrs` as Octavia does: a list of CIDR strings.
pub fn ser_cidrs<S: Serializer>(cidrs: &Option<Vec<IpNet>>, s: S) -> Result<S::Ok, S::Error> {
    match cidrs {
        None => s.serialize_none(),
        Some(list) => s.collect_seq(list.iter().map(|c| c.to_string())),
    }
}

/// Implements `TryFrom<Value>` (used by serde's `try_from`) by calling the
/// type's field reader, so serde and `Event::parse` share one code path.
macro_rules! read_via_fields {
    ($ty:ty) => {
        impl TryFrom<serde_json::Value> for $ty {
            type Error = $crate::model::EventError;
            fn try_from(v: serde_json::Value) -> Result<Self, Self::Error> {
                <$ty>::read(&v, "", true)
            }
        }
    };
}
pub(crate) use read_via_fields;
