//! Errors of LoxiLB calls and their classification.
//!
//! Callers decide what to do from [`ErrorKind`]: transient failures are retried by the
//! client itself and, when retries run out, left to the next reconciliation pass; permanent
//! ones mean the request itself is wrong; `Conflict` and `NotFound` carry LoxiLB semantics
//! (a probe still referred to by a rule, a rule that already exists, an absent object) that
//! callers react to. Every error names the node, method, path, status and LoxiLB's own
//! `result` text, because an operator reading a log line must be able to tell which of
//! several LoxiLB nodes refused what.

use std::fmt;

/// How a failed call should be treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The node could not be reached or answered 5xx: worth trying again later.
    Transient,
    /// The request was refused (4xx) or the answer was unreadable: retrying will not help.
    Permanent,
    /// 409: the object exists already or is still referred to by a rule.
    Conflict,
    /// 404: the object does not exist.
    NotFound,
}

impl ErrorKind {
    /// Classification of a non-success HTTP status.
    ///
    /// 408 and 429 are treated as transient as well: LoxiLB never sends them, but a proxy
    /// in front of it may, and both explicitly invite a later retry.
    pub fn from_status(status: u16) -> Self {
        match status {
            404 => Self::NotFound,
            409 => Self::Conflict,
            408 | 429 => Self::Transient,
            500..=599 => Self::Transient,
            _ => Self::Permanent,
        }
    }
}

impl ErrorKind {
    /// Classification of an error that LoxiLB answered with a 2xx status and its error
    /// text in `result`: every error up to v0.9.8.4 (handler/common.go), and the DSR
    /// selection refusal in every version (handler/loadbalancer.go). The text decides,
    /// with the same families LoxiLB's `ResultErrorResponseErrorMessage` maps to status
    /// codes from v0.9.8.5 on; a text in none of them is permanent, because LoxiLB did
    /// process the request and refused it.
    pub fn from_result_text(text: &str) -> Self {
        let t = text.to_ascii_lowercase();
        let any = |needles: &[&str]| needles.iter().any(|n| t.contains(n));
        if any(&[
            "not-exists",
            " not exists",
            "not found",
            "notfound",
            "no such",
            "no-rule error",
        ]) {
            Self::NotFound
        } else if any(&[
            "token",
            "authentication failed",
            "user not found",
            "malformed",
            "args",
            "range",
            "parse error",
            "invalid",
            "unknown",
            "allowed-src",
            "capacity",
            "hwm",
        ]) {
            Self::Permanent
        } else if any(&["exist", "rule-referred", "cant modify"]) {
            Self::Conflict
        } else if any(&["not-ready", "timeout", "maintenance", "no-master"]) {
            Self::Transient
        } else {
            Self::Permanent
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Transient => "transient",
            Self::Permanent => "permanent",
            Self::Conflict => "conflict",
            Self::NotFound => "not found",
        })
    }
}

/// A failed LoxiLB call (after any retries).
#[derive(Debug, Clone)]
pub struct LoxilbError {
    /// Base URL of the node, as configured.
    pub node: String,
    pub method: String,
    /// Request path including the query string.
    pub path: String,
    /// HTTP status when the node answered at all.
    pub status: Option<u16>,
    /// LoxiLB's `result` text (e.g. "lbrule-exists error"), or its `message` if that is empty.
    pub result: Option<String>,
    pub kind: ErrorKind,
    /// What went wrong underneath (transport error chain, parse error, raw body excerpt).
    pub detail: String,
}

impl fmt::Display for LoxilbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "LoxiLB {} {} {}: {} error (status ",
            self.node, self.method, self.path, self.kind
        )?;
        match self.status {
            Some(s) => write!(f, "{s}")?,
            None => f.write_str("none")?,
        }
        write!(
            f,
            ", result {:?}): {}",
            self.result.as_deref().unwrap_or(""),
            self.detail
        )
    }
}

// The underlying cause is flattened into `detail` so the error stays `Clone` and can be
// reported per node by `for_each_node`.
impl std::error::Error for LoxilbError {}

impl LoxilbError {
    /// Whether a later retry may succeed.
    pub fn is_transient(&self) -> bool {
        self.kind == ErrorKind::Transient
    }

    /// Whether LoxiLB's `result` text contains `needle` (case-insensitive); used to tell
    /// the different 409 meanings apart.
    pub fn result_contains(&self, needle: &str) -> bool {
        self.result.as_deref().is_some_and(|r| {
            r.to_ascii_lowercase()
                .contains(&needle.to_ascii_lowercase())
        })
    }

    /// An error raised before any request was made (bad options, unknown node).
    pub(crate) fn config(node: &str, detail: impl Into<String>) -> Self {
        Self {
            node: node.to_string(),
            method: String::new(),
            path: String::new(),
            status: None,
            result: None,
            kind: ErrorKind::Permanent,
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification_table() {
        let table = [
            (400, ErrorKind::Permanent),
            (401, ErrorKind::Permanent),
            (403, ErrorKind::Permanent),
            (404, ErrorKind::NotFound),
            (405, ErrorKind::Permanent),
            (408, ErrorKind::Transient),
            (409, ErrorKind::Conflict),
            (422, ErrorKind::Permanent),
            (429, ErrorKind::Transient),
            (500, ErrorKind::Transient),
            (502, ErrorKind::Transient),
            (503, ErrorKind::Transient),
            (504, ErrorKind::Transient),
            (599, ErrorKind::Transient),
            (302, ErrorKind::Permanent),
            (600, ErrorKind::Permanent),
        ];
        for (status, kind) in table {
            assert_eq!(ErrorKind::from_status(status), kind, "status {status}");
        }
    }

    #[test]
    fn display_names_everything_an_operator_needs() {
        let e = LoxilbError {
            node: "http://10.0.0.5:11111".into(),
            method: "DELETE".into(),
            path: "/netlox/v1/config/endpoint/epipaddress/1.2.3.4".into(),
            status: Some(409),
            result: Some("LB Rule-referred".into()),
            kind: ErrorKind::Conflict,
            detail: "refused".into(),
        };
        let s = e.to_string();
        for part in [
            "http://10.0.0.5:11111",
            "DELETE",
            "/netlox/v1/config/endpoint/epipaddress/1.2.3.4",
            "409",
            "LB Rule-referred",
            "conflict",
            "refused",
        ] {
            assert!(s.contains(part), "{s:?} lacks {part:?}");
        }
        assert!(!e.is_transient());
        assert!(e.result_contains("rule-referred"));
        let none = LoxilbError::config("n", "bad");
        assert!(none.to_string().contains("status none"));
    }
}
