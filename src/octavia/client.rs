//! Client for octavia-driver-agent's status, stats and get sockets.
//!
//! Like octavia-lib's `DriverLibrary`, every request opens a fresh
//! connection, sends one frame and reads one reply frame; nothing is pooled,
//! so an agent restart between calls is invisible to the caller. Unlike
//! octavia-lib, every phase is bounded separately (connect, send, reply) and
//! the reply size is capped, so a hung or broken agent costs at most
//! `connect + io + reply` time and `max_reply_bytes` memory per request.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::{json, Map, Value};
use tokio::net::UnixStream;
use tracing::debug;

use super::error::{AgentFault, OctaviaError, Phase};
use super::framing::{read_frame, write_frame};
use super::types::{ObjectKind, StatsUpdate, StatusUpdate};

/// octavia-lib's socket timeout.
pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long octavia-lib waits for the agent's answer.
pub const DEFAULT_REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// A recursive load balancer dict with thousands of members stays far below
/// this; anything larger is a broken agent, not data.
pub const DEFAULT_MAX_REPLY_BYTES: usize = 16 * 1024 * 1024;

/// Limits applied to every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// Time allowed to establish the connection.
    pub connect_timeout: Duration,
    /// Time allowed to write the request.
    pub io_timeout: Duration,
    /// Time allowed for the complete reply frame to arrive.
    pub reply_timeout: Duration,
    /// Largest reply payload accepted.
    pub max_reply_bytes: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            connect_timeout: DEFAULT_IO_TIMEOUT,
            io_timeout: DEFAULT_IO_TIMEOUT,
            reply_timeout: DEFAULT_REPLY_TIMEOUT,
            max_reply_bytes: DEFAULT_MAX_REPLY_BYTES,
        }
    }
}

/// Talks to one octavia-driver-agent. Cheap to clone; holds no connection.
#[derive(Debug, Clone)]
pub struct DriverAgentClient {
    status: PathBuf,
    stats: PathBuf,
    get: PathBuf,
    options: ClientOptions,
    /// Statuses and statistics go out only while this allows (see `fence`).
    fence: crate::fence::Fence,
}

impl DriverAgentClient {
    /// `timeout` bounds connecting and sending (octavia-lib's socket
    /// timeout); the reply wait is [`DEFAULT_REPLY_TIMEOUT`] or `timeout`,
    /// whichever is longer. Use [`Self::with_options`] for full control.
    pub fn new(status: PathBuf, stats: PathBuf, get: PathBuf, timeout: Duration) -> Self {
        let options = ClientOptions {
            connect_timeout: timeout,
            io_timeout: timeout,
            reply_timeout: DEFAULT_REPLY_TIMEOUT.max(timeout),
            ..ClientOptions::default()
        };
        Self::with_options(status, stats, get, options)
    }

    pub fn with_options(
        status: PathBuf,
        stats: PathBuf,
        get: PathBuf,
        options: ClientOptions,
    ) -> Self {
        Self {
            status,
            stats,
            get,
            options,
            fence: crate::fence::Fence::always(),
        }
    }

    /// Report only while `fence` allows (a cluster's leader lease).
    pub fn with_fence(mut self, fence: crate::fence::Fence) -> Self {
        self.fence = fence;
        self
    }

    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Sends a batch of status changes. An empty batch is not sent at all:
    /// it would change nothing and would fail needlessly while the agent is
    /// down.
    pub async fn update_status(&self, update: &StatusUpdate) -> Result<(), OctaviaError> {
        if update.is_empty() {
            return Ok(());
        }
        if !self.fence.may_act() {
            return Err(OctaviaError::NotLeader {
                socket: self.status.clone(),
            });
        }
        let reply = self.exchange(&self.status, update).await?;
        check_result(&self.status, &reply)
    }

    /// Sends listener statistics; an empty batch is not sent.
    pub async fn update_statistics(&self, update: &StatsUpdate) -> Result<(), OctaviaError> {
        if update.listeners.is_empty() {
            return Ok(());
        }
        if !self.fence.may_act() {
            return Err(OctaviaError::NotLeader {
                socket: self.stats.clone(),
            });
        }
        let reply = self.exchange(&self.stats, update).await?;
        check_result(&self.stats, &reply)
    }

    /// Fetches an object's provider dict; `Ok(None)` when Octavia does not
    /// know it (the agent answers `{}`).
    pub async fn get(&self, kind: ObjectKind, id: &str) -> Result<Option<Value>, OctaviaError> {
        let request = json!({"object": kind.as_str(), "id": id});
        let reply = self.exchange(&self.get, &request).await?;
        interpret_get(&self.get, reply)
    }

    /// One connection: connect, send one frame, read one frame as JSON.
    async fn exchange<T: Serialize>(
        &self,
        socket: &Path,
        request: &T,
    ) -> Result<Value, OctaviaError> {
        let payload = serde_json::to_vec(request).map_err(OctaviaError::Encode)?;
        let opts = &self.options;
        let timeout = |phase, after| OctaviaError::Timeout {
            socket: socket.to_path_buf(),
            phase,
            after,
        };

        let mut stream = tokio::time::timeout(opts.connect_timeout, UnixStream::connect(socket))
            .await
            .map_err(|_| timeout(Phase::Connect, opts.connect_timeout))?
            .map_err(|source| OctaviaError::Connect {
                socket: socket.to_path_buf(),
                source,
            })?;
        tokio::time::timeout(opts.io_timeout, write_frame(&mut stream, &payload))
            .await
            .map_err(|_| timeout(Phase::Send, opts.io_timeout))?
            .map_err(|source| OctaviaError::Send {
                socket: socket.to_path_buf(),
                source,
            })?;
        let reply = tokio::time::timeout(
            opts.reply_timeout,
            read_frame(&mut stream, opts.max_reply_bytes),
        )
        .await
        .map_err(|_| timeout(Phase::Reply, opts.reply_timeout))?
        .map_err(|source| OctaviaError::Framing {
            socket: socket.to_path_buf(),
            source,
        })?;
        debug!(
            socket = %socket.display(),
            request_bytes = payload.len(),
            reply_bytes = reply.len(),
            "driver agent request done"
        );
        serde_json::from_slice(&reply).map_err(|e| OctaviaError::BadReply {
            socket: socket.to_path_buf(),
            reason: format!("not JSON: {e}"),
        })
    }
}

/// Reads a text field of a failure reply; tolerates non-string values
/// (rendered as JSON) because the reply comes from another program.
fn text_field(map: &Map<String, Value>, keys: [&str; 2]) -> Option<String> {
    keys.iter()
        .filter_map(|k| map.get(*k))
        .find(|v| !v.is_null())
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
}

/// Turns a status/stats reply into success or an [`AgentFault`]. The stats
/// handler names its fields `stats_object` etc.; both spellings are read.
fn check_result(socket: &Path, reply: &Value) -> Result<(), OctaviaError> {
    let bad = |reason: &str| OctaviaError::BadReply {
        socket: socket.to_path_buf(),
        reason: reason.to_owned(),
    };
    let map = reply
        .as_object()
        .ok_or_else(|| bad("reply is not a JSON object"))?;
    let code = map
        .get("status_code")
        .and_then(Value::as_i64)
        .ok_or_else(|| bad("reply has no integer status_code"))?;
    if code == 200 {
        return Ok(());
    }
    Err(OctaviaError::AgentFailure(Box::new(AgentFault {
        socket: socket.to_path_buf(),
        status_code: code,
        fault_string: text_field(map, ["fault_string", "fault_string"]),
        status_object: text_field(map, ["status_object", "stats_object"]),
        status_object_id: text_field(map, ["status_object_id", "stats_object_id"]),
        status_record: ["status_record", "stats_record"]
            .iter()
            .filter_map(|k| map.get(*k))
            .find(|v| !v.is_null())
            .cloned(),
    })))
}

/// A get reply is a provider dict, `{}` for "not found", or — never from
/// the real agent, but cheap to recognise since provider dicts have no such
/// key — a status failure dict.
fn interpret_get(socket: &Path, reply: Value) -> Result<Option<Value>, OctaviaError> {
    let Some(map) = reply.as_object() else {
        return Err(OctaviaError::BadReply {
            socket: socket.to_path_buf(),
            reason: "get reply is not a JSON object".to_owned(),
        });
    };
    if map.is_empty() {
        return Ok(None);
    }
    if map.contains_key("status_code") && map.contains_key("fault_string") {
        check_result(socket, &reply)?;
    }
    Ok(Some(reply))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sock() -> PathBuf {
        PathBuf::from("/run/octavia/status.sock")
    }

    #[test]
    fn success_reply_is_ok() {
        assert!(check_result(&sock(), &json!({"status_code": 200})).is_ok());
    }

    #[test]
    fn failure_reply_fields_are_kept() {
        let err = check_result(
            &sock(),
            &json!({"status_code": 500, "fault_string": "db gone", "status_object": "pools",
                    "status_object_id": "p1", "status_record": {"id": "p1"}}),
        )
        .unwrap_err();
        let OctaviaError::AgentFailure(f) = err else {
            panic!("expected agent failure");
        };
        assert_eq!(f.status_code, 500);
        assert_eq!(f.fault_string.as_deref(), Some("db gone"));
        assert_eq!(f.status_object.as_deref(), Some("pools"));
        assert_eq!(f.status_object_id.as_deref(), Some("p1"));
        assert_eq!(f.status_record, Some(json!({"id": "p1"})));
    }

    #[test]
    fn stats_spelling_and_odd_types_are_tolerated() {
        let err = check_result(
            &sock(),
            &json!({"status_code": 500, "fault_string": null, "stats_object": "listeners",
                    "stats_object_id": 7, "status_record": null}),
        )
        .unwrap_err();
        let OctaviaError::AgentFailure(f) = err else {
            panic!("expected agent failure");
        };
        assert_eq!(f.fault_string, None);
        assert_eq!(f.status_object.as_deref(), Some("listeners"));
        assert_eq!(f.status_object_id.as_deref(), Some("7"));
        assert_eq!(f.status_record, None);
    }

    #[test]
    fn malformed_replies_are_permanent_bad_reply() {
        for reply in [
            json!([]),
            json!({}),
            json!({"status_code": "200"}),
            json!({"status_code": 1e300}),
            json!(null),
        ] {
            let err = check_result(&sock(), &reply).unwrap_err();
            assert!(matches!(err, OctaviaError::BadReply { .. }), "{reply}");
            assert!(!err.is_transient());
        }
    }

    #[test]
    fn get_replies_are_interpreted() {
        assert_eq!(interpret_get(&sock(), json!({})).unwrap(), None);
        assert_eq!(
            interpret_get(&sock(), json!({"pool_id": "p"})).unwrap(),
            Some(json!({"pool_id": "p"}))
        );
        assert!(matches!(
            interpret_get(&sock(), json!({"status_code": 500, "fault_string": "x"})),
            Err(OctaviaError::AgentFailure(_))
        ));
        assert!(matches!(
            interpret_get(&sock(), json!("x")),
            Err(OctaviaError::BadReply { .. })
        ));
    }

    #[test]
    fn new_keeps_octavia_reply_wait() {
        let c = DriverAgentClient::new(sock(), sock(), sock(), Duration::from_secs(2));
        assert_eq!(c.options().connect_timeout, Duration::from_secs(2));
        assert_eq!(c.options().io_timeout, Duration::from_secs(2));
        assert_eq!(c.options().reply_timeout, DEFAULT_REPLY_TIMEOUT);
        let slow = DriverAgentClient::new(sock(), sock(), sock(), Duration::from_secs(60));
        assert_eq!(slow.options().reply_timeout, Duration::from_secs(60));
    }
}
