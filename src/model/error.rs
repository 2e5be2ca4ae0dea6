//! Errors returned when an incoming event cannot be accepted.
//!
//! The ingress API maps these to HTTP statuses, and the shim maps them to the
//! Octavia exceptions the provider driver raises: `Unsupported` becomes
//! `UnsupportedOptionError` (Octavia answers the user 501, which tempest can
//! skip), the others become driver errors. Nothing is stored for a rejected
//! event, so every variant must be raised before anything is journalled.

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The method is not a ProviderDriver method we know.
    #[error("unknown method {method:?}")]
    UnknownMethod { method: String },
    /// A synchronous provider call (flavor/availability-zone metadata,
    /// `create_vip_port`) that the shim answers itself; it is never an event.
    #[error("method {method:?} is a synchronous provider call, not an event")]
    NotAnEvent { method: String },
    /// Malformed input. `field` is a JSON path relative to `args`
    /// (`member.protocol_port`, `members[3].address`), or `method`/`args`
    /// when the envelope itself is malformed.
    #[error("invalid {field}: {reason}")]
    Invalid { field: String, reason: String },
    /// Well-formed but LoxiLB cannot serve it (Octavia `UnsupportedOptionError`).
    #[error("unsupported: {user_fault_string}")]
    Unsupported {
        user_fault_string: String,
        operator_fault_string: String,
    },
}

impl EventError {
    /// Builds an `Invalid` error.
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        EventError::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Builds an `Unsupported` error.
    pub fn unsupported(user: impl Into<String>, operator: impl Into<String>) -> Self {
        EventError::Unsupported {
            user_fault_string: user.into(),
            operator_fault_string: operator.into(),
        }
    }

    /// A short machine-readable class: `bad_request` (malformed envelope:
    /// `Invalid` on field `method` or `args`), `invalid`, `unsupported`,
    /// `unknown_method` or `not_an_event`. Matches `expect` in
    /// `tests/fixtures/bad_events.json`.
    pub fn kind(&self) -> &'static str {
        match self {
            EventError::UnknownMethod { .. } => "unknown_method",
            EventError::NotAnEvent { .. } => "not_an_event",
            EventError::Invalid { field, .. } if field == "method" || field == "args" => {
                "bad_request"
            }
            EventError::Invalid { .. } => "invalid",
            EventError::Unsupported { .. } => "unsupported",
        }
    }

    /// The offending field path: for `Invalid` the field itself, for
    /// `Unsupported` the field (or method) the operator string starts with,
    /// else `None`.
    pub fn field(&self) -> Option<&str> {
        match self {
            EventError::Invalid { field, .. } => Some(field),
            EventError::Unsupported {
                operator_fault_string,
                ..
            } => operator_fault_string
                .split_once(':')
                .map(|(f, _)| f)
                .filter(|f| !f.is_empty() && !f.contains(' ')),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_classifies_envelope_errors_as_bad_request() {
        assert_eq!(EventError::invalid("args", "x").kind(), "bad_request");
        assert_eq!(EventError::invalid("method", "x").kind(), "bad_request");
        assert_eq!(EventError::invalid("member.address", "x").kind(), "invalid");
        assert_eq!(EventError::unsupported("u", "o").kind(), "unsupported");
        let e = EventError::invalid("pool.pool_id", "missing");
        assert_eq!(e.field(), Some("pool.pool_id"));
        assert_eq!(e.to_string(), "invalid pool.pool_id: missing");
    }
}
