//! Errors from talking to octavia-driver-agent.
//!
//! # Transient or permanent
//!
//! [`OctaviaError::is_transient`] tells callers whether re-sending the same
//! request later can succeed. Status and statistics writes carry absolute
//! values, so re-sending is always safe; the question is only whether it is
//! useful.
//!
//! * Transient: the agent is unreachable (socket missing, connection
//!   refused), any timeout, a send failure, a reply cut off mid-frame (the
//!   agent restarted), and **a 500 reply from the agent**. Octavia's agent
//!   wraps every failure while writing a record — including its database
//!   being unavailable — into a 500 that names the record, so a named record
//!   does not prove the record is bad. Callers must therefore bound their
//!   retries; [`OctaviaError::rejected_record`] tells them which record to
//!   drop or split out once the budget is spent.
//! * Permanent: a request we cannot encode, a reply that is not a valid
//!   frame or not the expected JSON. Those mean the two sides disagree on
//!   the protocol, which retrying cannot fix.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::framing::FramingError;

/// Which step of a request ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Connect,
    Send,
    Reply,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Connect => "connecting",
            Phase::Send => "sending the request",
            Phase::Reply => "waiting for the reply",
        })
    }
}

/// The fields of a non-200 reply, as octavia-lib's `UpdateStatusError` /
/// `UpdateStatisticsError` carry them.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentFault {
    pub socket: PathBuf,
    pub status_code: i64,
    pub fault_string: Option<String>,
    pub status_object: Option<String>,
    pub status_object_id: Option<String>,
    pub status_record: Option<serde_json::Value>,
}

impl fmt::Display for AgentFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "driver agent at {} refused the request (status {}): {}",
            self.socket.display(),
            self.status_code,
            self.fault_string.as_deref().unwrap_or("no fault string")
        )?;
        if let (Some(object), Some(id)) = (&self.status_object, &self.status_object_id) {
            write!(f, " [{object} {id}]")?;
        }
        Ok(())
    }
}

/// Failure of one driver agent request.
#[derive(Debug, thiserror::Error)]
pub enum OctaviaError {
    #[error("cannot connect to driver agent socket {socket}: {source}")]
    Connect {
        socket: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("driver agent socket {socket}: timed out after {after:?} {phase}")]
    Timeout {
        socket: PathBuf,
        phase: Phase,
        after: Duration,
    },
    #[error("driver agent socket {socket}: sending the request failed: {source}")]
    Send {
        socket: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("driver agent socket {socket}: bad reply frame: {source}")]
    Framing {
        socket: PathBuf,
        #[source]
        source: FramingError,
    },
    #[error("driver agent socket {socket}: unexpected reply: {reason}")]
    BadReply { socket: PathBuf, reason: String },
    #[error("{0}")]
    AgentFailure(Box<AgentFault>),
    #[error("cannot encode driver agent request: {0}")]
    Encode(#[source] serde_json::Error),
    /// This instance may not report statuses now (not, or no longer, the leader);
    /// they stay in the outbox for whoever leads next.
    #[error(
        "driver agent socket {socket}: not sent, this instance does not hold the leader lease"
    )]
    NotLeader { socket: PathBuf },
}

impl OctaviaError {
    /// Whether the same request may succeed later; see the module docs.
    pub fn is_transient(&self) -> bool {
        match self {
            OctaviaError::Connect { .. }
            | OctaviaError::Timeout { .. }
            | OctaviaError::Send { .. }
            | OctaviaError::AgentFailure(_)
            | OctaviaError::NotLeader { .. } => true,
            OctaviaError::Framing { source, .. } => source.is_disconnect(),
            OctaviaError::BadReply { .. } | OctaviaError::Encode(_) => false,
        }
    }

    /// For an agent 500 naming a record: (`status_object`, `status_object_id`),
    /// e.g. `("members", "<uuid>")`.
    pub fn rejected_record(&self) -> Option<(&str, &str)> {
        match self {
            OctaviaError::AgentFailure(fault) => fault
                .status_object
                .as_deref()
                .zip(fault.status_object_id.as_deref()),
            _ => None,
        }
    }

    /// The agent's `fault_string`, if the agent answered with a failure.
    pub fn fault_string(&self) -> Option<&str> {
        match self {
            OctaviaError::AgentFailure(fault) => fault.fault_string.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(object: Option<&str>, id: Option<&str>) -> OctaviaError {
        OctaviaError::AgentFailure(Box::new(AgentFault {
            socket: "/run/status.sock".into(),
            status_code: 500,
            fault_string: Some("boom".into()),
            status_object: object.map(Into::into),
            status_object_id: id.map(Into::into),
            status_record: None,
        }))
    }

    #[test]
    fn classification_matches_module_docs() {
        let io = || std::io::Error::from(std::io::ErrorKind::NotFound);
        let sock = || PathBuf::from("/x");
        assert!(OctaviaError::Connect {
            socket: sock(),
            source: io()
        }
        .is_transient());
        assert!(OctaviaError::Send {
            socket: sock(),
            source: io()
        }
        .is_transient());
        assert!(OctaviaError::Timeout {
            socket: sock(),
            phase: Phase::Reply,
            after: Duration::from_secs(1)
        }
        .is_transient());
        assert!(OctaviaError::Framing {
            socket: sock(),
            source: FramingError::ClosedInPrefix
        }
        .is_transient());
        assert!(!OctaviaError::Framing {
            socket: sock(),
            source: FramingError::NonDigit(b'x')
        }
        .is_transient());
        assert!(!OctaviaError::BadReply {
            socket: sock(),
            reason: "x".into()
        }
        .is_transient());
        assert!(fault(None, None).is_transient());
        assert!(fault(Some("members"), Some("m1")).is_transient());
    }

    #[test]
    fn agent_failure_exposes_fault_and_record() {
        let e = fault(Some("members"), Some("m1"));
        assert_eq!(e.rejected_record(), Some(("members", "m1")));
        assert_eq!(e.fault_string(), Some("boom"));
        let text = e.to_string();
        assert!(
            text.contains("boom") && text.contains("members m1") && text.contains("500"),
            "{text}"
        );
        assert_eq!(fault(None, Some("m1")).rejected_record(), None);
    }
}
