//! LoxiLB's own calls: its user service (login, logout, the token check in front of every
//! other call), GET /version and GET /status/process.

use std::time::{Duration, Instant};

use serde_json::json;

use super::answer::{ok_json, Answer};
use super::sim::Sim;
use crate::error::ApiError;
use crate::model::LoginIn;

/// Longest token lifetime honoured (keeps `now + ttl` from overflowing).
const MAX_TOKEN_TTL: Duration = Duration::from_secs(10 * 365 * 86_400);

/// The system calls of the LoxiLB API, already bound from HTTP.
#[derive(Debug, Clone)]
pub(crate) enum SystemOp {
    /// POST /auth/login. The body is bound only when the user service runs (otherwise the
    /// call is unimplemented whatever it carries), so its parse error travels with it.
    /// `token` is the fresh random token the runtime drew, issued on success.
    Login {
        user: Result<LoginIn, ApiError>,
        token: String,
    },
    /// POST /auth/logout with the caller's token.
    Logout { token: Option<String> },
    /// GET /version.
    Version,
    /// GET /status/process.
    ProcessStatus,
}

impl SystemOp {
    /// Whether the call needs a token when auth is on (swagger: login and version are open).
    pub fn needs_auth(&self) -> bool {
        matches!(self, SystemOp::Logout { .. } | SystemOp::ProcessStatus)
    }
}

/// Answer one system call at `now`.
pub(crate) fn handle(sim: &mut Sim, op: SystemOp, now: Instant) -> Result<Answer, ApiError> {
    match op {
        SystemOp::Login { user, token } => sim.login(user, token, now),
        SystemOp::Logout { token } => {
            if sim.setup.auth.is_none() {
                return Err(not_implemented("auth.PostAuthLogout"));
            }
            if let Some(token) = token {
                sim.tokens.remove(&token);
            }
            Ok((200, Vec::new()))
        }
        // handler/version.go: exactly these two fields.
        SystemOp::Version => Ok(ok_json(&json!({
            "version": sim.setup.version.to_string(),
            "buildInfo": format!("loxilb-sim {}", env!("CARGO_PKG_VERSION")),
        }))),
        SystemOp::ProcessStatus => {
            let up = now.saturating_duration_since(sim.boot);
            Ok(process_status(sim.setup.pid, up))
        }
    }
}

fn not_implemented(op: &str) -> ApiError {
    ApiError::NotImplemented(format!("operation {op} has not yet been implemented"))
}

impl Sim {
    /// go-openapi's API key check of the Authorization header, with LoxiLB's user service
    /// behind it: the header value is the token itself (no "Bearer " prefix). A missing
    /// header is 401; a token the user service does not know (or no longer knows: expired)
    /// comes back as a plain error, which go-openapi answers 500 with the error text.
    pub fn authorize(&mut self, header: Option<&str>, now: Instant) -> Result<(), ApiError> {
        if self.setup.auth.is_none() {
            return Ok(());
        }
        let Some(token) = header.filter(|h| !h.is_empty()) else {
            return Err(ApiError::Openapi(401, "invalid credentials".into()));
        };
        match self.tokens.get(token) {
            Some(exp) if *exp > now => Ok(()),
            Some(_) => {
                self.tokens.remove(token);
                Err(ApiError::Openapi(500, "Token not found".into()))
            }
            None => Err(ApiError::Openapi(500, "Token not found".into())),
        }
    }

    /// POST /auth/login: registered only with LoxiLB's user service (otherwise go-swagger's
    /// default handler answers 501). A known user with a wrong password gets 200 without a
    /// token; an unknown user is the handler error "User not found".
    fn login(
        &mut self,
        user: Result<LoginIn, ApiError>,
        token: String,
        now: Instant,
    ) -> Result<Answer, ApiError> {
        let Some((u, p)) = &self.setup.auth else {
            return Err(not_implemented("auth.PostAuthLogin"));
        };
        let user = user?;
        if user.username != *u {
            return Err(ApiError::Loxilb("User not found".into()));
        }
        if user.password != *p {
            return Ok(ok_json(&json!({})));
        }
        let expiry = now + self.setup.token_ttl.min(MAX_TOKEN_TTL);
        self.tokens.insert(token.clone(), expiry);
        Ok(ok_json(&json!({ "token": token })))
    }
}

/// GET /status/process after `up` of process time: LoxiLB parses `top -bn 1`, so it
/// lists every process of its host (here: an init process and the simulator, `pid`, as
/// "loxilb"), and nothing else.
fn process_status(pid: u32, up: Duration) -> Answer {
    let entry = |pid: String, time: String, command: &str| {
        json!({
            "pid": pid, "user": "root", "priority": "20", "nice": "0",
            "virtMemory": "0", "residentSize": "0", "sharedMemory": "0", "status": "S",
            "CPUUsage": "0.0", "MemoryUsage": "0.0", "time": time, "command": command,
        })
    };
    ok_json(&json!({
        "processAttr": [
            entry("1".into(), top_time(up), "bash"),
            entry(pid.to_string(), top_time(up), "loxilb"),
        ]
    }))
}

/// `top`'s TIME+ format (M:SS.hh).
fn top_time(d: Duration) -> String {
    let cs = d.as_millis() / 10;
    format!("{}:{:02}.{:02}", cs / 6000, (cs / 100) % 60, cs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_time_format() {
        assert_eq!(top_time(Duration::from_millis(61_250)), "1:01.25");
    }
}
