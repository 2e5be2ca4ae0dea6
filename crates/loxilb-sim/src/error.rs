//! LoxiLB-shaped API errors.
//!
//! Two layers answer errors in LoxiLB, and they look different on the wire:
//! - a handler error carries LoxiLB's own text (e.g. `host-notfound error`). Up to v0.9.8.4
//!   it is answered HTTP 200 `{"result": "<text>"}`; from v0.9.8.5 handler/common.go
//!   (ResultErrorResponseErrorMessage) picks the status by searching the lower-cased text for
//!   fixed phrases, in a fixed order (404, 401, 409, 400, 403, 503, else 500). [`classify`]
//!   reproduces that table, including its quirks (needles with capitals never match);
//! - go-openapi, before a handler runs (routing, auth, body parsing and swagger validation),
//!   answers `{"code": N, "message": "..."}` whatever the release.
//!
//! The simulator's knobs (injected faults, maintenance) keep the v0.9.8.5 body shape.

use serde_json::json;

use loxilb_version::LoxilbVersion;

/// A failed LoxiLB API call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Handler error (malformed arguments); status from the text like any handler error.
    #[error("{0}")]
    BadArgs(String),
    /// Handler error (capacity); status from the text.
    #[error("{0}")]
    Capacity(String),
    /// Handler error (absent object); status from the text.
    #[error("{0}")]
    NotFound(String),
    /// Handler error (exists / referenced); status from the text.
    #[error("{0}")]
    Conflict(String),
    /// Any other handler error: LoxiLB's error text, status from the text.
    #[error("{0}")]
    Loxilb(String),
    /// go-openapi error before the handler: `{"code", "message"}`; codes of 600 and more
    /// (validation failures) are sent as HTTP 422.
    #[error("{1}")]
    Openapi(u16, String),
    /// go-openapi's answer for an operation without a handler: 501 and a JSON string body.
    #[error("{0}")]
    NotImplemented(String),
    /// 503 from the simulator's maintenance knob.
    #[error("{0}")]
    Maintenance(String),
    /// Injected status (fault knob).
    #[error("{1}")]
    Status(u16, String),
}

/// LoxiLB's status for a handler error text (v0.9.8.5 and later) and the `message` it sends.
pub fn classify(text: &str) -> (u16, String) {
    let m = text.to_lowercase();
    let hit = |needles: &[&str]| needles.iter().any(|n| !n.is_empty() && m.contains(n));
    let (code, message) = if hit(NOT_FOUND) {
        (404, "Resource not found")
    } else if hit(AUTH) {
        (401, "Invalid authentication credentials")
    } else if hit(CONFLICT) {
        (
            409,
            "Resource conflict: Resource already exists OR dependency not found",
        )
    } else if hit(BAD_ARGS) {
        (400, "Malformed arguments for API call")
    } else if hit(CAPACITY) {
        (403, "Capacity insufficient")
    } else if hit(UNAVAILABLE) {
        (503, "Maintenance mode")
    } else {
        // The default case sends the error text itself as message.
        return (500, text.to_string());
    };
    (code, message.to_string())
}

const NOT_FOUND: &[&str] = &[
    "not-exists",
    " not exists",
    "not found",
    "no such",
    "not such",
    "no neigh found",
    "no-nh error",
    "no ulcl",
    "ephost-notfound",
    "host-notfound",
    "no-zone error",
    "no loxi-eni found",
    "no-master",
    "no bfd session",
    "my discriminator not found",
    "no-portimap",
    "no-portomap",
    "no-port error",
    "no such fdb",
    "no such route",
    "no such port",
    "no such mirror",
    "no such allowed src prefix",
    "no such policer",
    "not found interface",
    "no such ifa",
    "no such addrs",
    "vlan not created",
    "vlan not yet created",
    "phy port not created",
    "no-realport",
    "no realport",
    "no-user error",
    "no-rule error",
    "file not found",
];
const AUTH: &[&str] = &[
    "invalid token",
    "token is expired",
    "token not fou",
    "invalid refresh token",
    "invalid token format",
    "authentication failed",
    "user not found",
];
const CONFLICT: &[&str] = &[
    "lbrule-exist error",
    "lbrule-exists error",
    "fwrule-exists",
    "sess-exists",
    "mirr-exists",
    "pol-exists",
    "prop-exists",
    "zone exists",
    "existing zone",
    "already created",
    " existing ",
    " exists",
    "vlan has ports configured",
    "port exists",
    "vlan tag port exists",
    "vlan untag port exists",
    "same fdb",
    "rt exists",
    "nh exists",
    "username already exists",
    "lb rule-referred",
    "cant modify",
    "ep-host add failed as cluster node",
    "vlan bridge already added",
];
// LoxiLB lists a few needles with capitals ("Cors URL ...", "Failed to ..."); as the text is
// lower-cased first they never match, and they are kept so the table stays LoxiLB's.
const BAD_ARGS: &[&str] = &[
    "malformed",
    "parse error",
    "invalid parameters",
    "invalid ",
    "mask format is wrong",
    "not ipv4 address",
    "proto error",
    "malformed-proto",
    "malformed service proto",
    "unknown work type",
    "unknown log level",
    "unknown ep-host-state",
    "host-args unknown probe",
    "unknown probe port",
    "vxlan can not be tagged",
    "range",
    "overflow",
    "fwmark",
    "rule-mark error",
    "rule-snat error",
    "rule-allowed-src error",
    "service-args error",
    "non-udp-n3-args error",
    "secondaryip-args",
    "serv-port-args range",
    "endpoints-range",
    "source address malformed",
    "address malformed",
    "remoteip address malformed",
    "ip address parse error",
    "myip address parse error",
    "malformed-service",
    "malformed-secip",
    "malformed-lbep",
    "malformed-rule",
    "invalid gws",
    "zone number err",
    "zone is not set",
    "vlan zone err",
    "invalid vlanid",
    "fdb attr error",
    "fdb v6 dst unsupported",
    "host-args error",
    "hostarm-args error",
    "password must ",
    "password must not ",
    "password must be at least",
    "Cors URL cannot be empty",
    "wildcard '*' is not allowed",
    "Failed to add Cors",
    "Failed to delete Cors",
    "filename is required",
    "file is empty",
    "no configuration file provided",
    "invalid json format",
];
const CAPACITY: &[&str] = &[
    "capacity",
    " hwm",
    "ulhwm",
    "dlhwm",
    "nh-hwm",
    "rule-hwm",
    "need-realdev",
    "loxilb bgp mode is disabled",
    "running in bgp only mode",
];
const UNAVAILABLE: &[&str] = &[
    "not-ready",
    "timeout",
    "unexpected http response",
    "maintenance",
    "no-master",
    "netrpc call timeout",
];

impl ApiError {
    /// The status and JSON body this error is answered with by `version`.
    pub fn response(&self, version: LoxilbVersion) -> (u16, Vec<u8>) {
        let (status, body) = match self {
            ApiError::BadArgs(t)
            | ApiError::Capacity(t)
            | ApiError::NotFound(t)
            | ApiError::Conflict(t)
            | ApiError::Loxilb(t) => {
                if version.errors_as_200() {
                    (200, json!({ "result": t }))
                } else {
                    let (code, message) = classify(t);
                    let body =
                        json!({"code": code, "fields": null, "message": message, "result": t});
                    (code, body)
                }
            }
            ApiError::Openapi(code, t) => {
                let status = if *code >= 600 { 422 } else { *code };
                (status, json!({"code": code, "message": t}))
            }
            ApiError::NotImplemented(t) => (501, json!(t)),
            ApiError::Maintenance(t) => (503, knob_body(503, t)),
            ApiError::Status(code, t) => (*code, knob_body(*code, t)),
        };
        (status, serde_json::to_vec(&body).unwrap_or_default())
    }

    /// The status answered by the newest release (for logs and tests).
    pub fn status(&self) -> u16 {
        self.response(LoxilbVersion::NEWEST).0
    }
}

fn knob_body(code: u16, text: &str) -> serde_json::Value {
    let message = match code {
        503 => "Maintenance mode".to_string(),
        _ => classify(text).1,
    };
    json!({"code": code, "message": message, "result": text})
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mirrors handler/common.go ResultErrorResponseErrorMessage: first matching group wins.
    #[test]
    fn result_error_response_error_message_table() {
        let s = |t: &str| classify(t).0;
        assert_eq!(s("host-notfound error"), 404);
        assert_eq!(s("lbrule not-exists error"), 404);
        assert_eq!(s("no-rule error"), 404);
        assert_eq!(s("User not found"), 404, "'not found' is in the 404 group");
        assert_eq!(s("Token not found"), 404);
        assert_eq!(s("LB Rule-referred"), 409);
        assert_eq!(s("lbrule-exists error"), 409);
        assert_eq!(s("lbrule-exist error: cant modify rule security mode"), 409);
        assert_eq!(s("endpoints-range error"), 400);
        assert_eq!(s("host-parse error"), 400);
        assert_eq!(s("malformed-service-ptype error"), 400);
        assert_eq!(s("rule-allowed-src error"), 400);
        assert_eq!(s("rule-hwm error"), 403);
        assert_eq!(s("secIP modify error"), 500, "no group matches");
        assert_eq!(s("proxy-proto-v2 not tcp service error"), 500);
        assert_eq!(classify("boom").1, "boom");
        assert_eq!(
            s("Failed to add Cors x"),
            500,
            "capitalised needles never match"
        );
    }

    #[test]
    fn handler_errors_are_200_up_to_v0_9_8_4() {
        let old: LoxilbVersion = "v0.9.8.4".parse().unwrap_or_default();
        let e = ApiError::NotFound("host-notfound error".into());
        let (s, b) = e.response(old);
        assert_eq!(s, 200);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&b).unwrap_or_default(),
            json!({"result": "host-notfound error"})
        );
        assert_eq!(e.status(), 404);
        assert_eq!(ApiError::Openapi(602, "x".into()).response(old).0, 422);
        assert_eq!(ApiError::Status(502, "x".into()).status(), 502);
    }
}
