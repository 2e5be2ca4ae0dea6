//! What go-swagger does with a POST /config/loadbalancer body before LoxiLB's handler sees
//! it (api/models/loadbalance_entry.go and go-openapi's error rendering).
//!
//! A body that is not JSON, or a value that does not fit the Go field's type (a string for
//! a number, 70000 for the uint16 `probeport`), is a parse error: HTTP 400
//! `{"code": 400, "message": ...}`. A body that parses but misses a required field or has a
//! value outside an enum is a validation error: code 601/605 sent as HTTP 422. Only the first
//! failure is reported. Neither carries a `result`, in any release.

use serde_json::Value;

use crate::error::ApiError;
use crate::model::LoadbalanceEntry;

/// go-openapi's RequiredFailCode and EnumFailCode.
const REQUIRED: u16 = 601;
const ENUM: u16 = 605;

fn parse_error(reason: &str) -> ApiError {
    ApiError::Openapi(
        400,
        format!("parsing attr body from \"\" failed, because {reason}"),
    )
}

/// Go field types narrower than the i64 the simulator reads: (path, min, max).
const RANGES: &[(&str, i64, i64)] = &[
    ("probeport", 0, u16::MAX as i64),
    ("mode", i32::MIN as i64, i32::MAX as i64),
    ("oper", i32::MIN as i64, i32::MAX as i64),
    ("security", i32::MIN as i64, i32::MAX as i64),
    ("inactiveTimeOut", i32::MIN as i64, i32::MAX as i64),
    ("probeRetries", i32::MIN as i64, i32::MAX as i64),
    ("probeTimeout", 0, u32::MAX as i64),
    ("block", 0, u32::MAX as i64),
];

/// Enums of serviceArguments, checked only for non-zero values (go-swagger skips zero).
const INT_ENUMS: &[(&str, &[i64])] = &[
    ("mode", &[0, 1, 2, 3, 4, 5]),
    ("oper", &[0, 1, 2]),
    ("security", &[0, 1, 2]),
    ("sel", &[0, 1, 2, 3, 4, 5, 6]),
];
const STR_ENUMS: &[(&str, &[&str])] = &[
    (
        "probetype",
        &["tcp", "udp", "sctp", "http", "https", "ping", "none"],
    ),
    ("protocol", &["tcp", "udp", "sctp", "icmp"]),
];

fn missing(v: &Value, key: &str) -> bool {
    v.get(key).is_none_or(Value::is_null)
}

fn required(path: &str) -> ApiError {
    ApiError::Openapi(REQUIRED, format!("{path} in body is required"))
}

/// Parse and validate a LoadbalanceEntry body as LoxiLB's generated server does.
pub(crate) fn loadbalance_entry(body: &[u8]) -> Result<LoadbalanceEntry, ApiError> {
    let raw: Value = serde_json::from_slice(body).map_err(|e| parse_error(&e.to_string()))?;
    let entry: LoadbalanceEntry =
        serde_json::from_value(raw.clone()).map_err(|e| parse_error(&e.to_string()))?;
    let args = raw.get("serviceArguments").cloned().unwrap_or(Value::Null);
    for (key, min, max) in RANGES {
        if let Some(n) = args.get(*key).and_then(Value::as_i64) {
            if n < *min || n > *max {
                return Err(parse_error(&format!("{key} out of range: {n}")));
            }
        }
    }
    // Properties are validated in name order: allowedSources, endpoints, secondaryIPs,
    // serviceArguments.
    if missing(&raw, "endpoints") {
        return Err(required("endpoints"));
    }
    for (i, ep) in raw["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for key in ["endpointIP", "targetPort", "weight"] {
            if !ep.is_null() && missing(ep, key) {
                return Err(required(&format!("endpoints.{i}.{key}")));
            }
        }
    }
    if args.is_null() {
        return Err(required("serviceArguments"));
    }
    if missing(&args, "externalIP") {
        return Err(required("serviceArguments.externalIP"));
    }
    for (key, allowed) in INT_ENUMS {
        let n = args.get(*key).and_then(Value::as_i64).unwrap_or(0);
        if n != 0 && !allowed.contains(&n) {
            return Err(enum_error(key, &format!("{allowed:?}")));
        }
    }
    if missing(&args, "port") {
        return Err(required("serviceArguments.port"));
    }
    for (key, allowed) in STR_ENUMS {
        let s = args.get(*key).and_then(Value::as_str).unwrap_or("");
        if !s.is_empty() && !allowed.contains(&s) {
            return Err(enum_error(key, &format!("{allowed:?}")));
        }
    }
    Ok(entry)
}

fn enum_error(key: &str, allowed: &str) -> ApiError {
    ApiError::Openapi(
        ENUM,
        format!("serviceArguments.{key} in body should be one of {allowed}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(body: &str) -> u16 {
        loadbalance_entry(body.as_bytes())
            .err()
            .map(|e| e.status())
            .unwrap_or(200)
    }

    /// Mirrors api/models/loadbalance_entry.go Validate plus go-openapi ServeError.
    #[test]
    fn loadbalance_entry_validate_parse_400_validation_422() {
        let ok = r#"{"serviceArguments":{"externalIP":"1.1.1.1","port":80},"endpoints":[]}"#;
        assert_eq!(status(ok), 200);
        assert_eq!(status("{"), 400);
        assert_eq!(
            status(r#"{"serviceArguments":{"externalIP":"1.1.1.1","port":"80"},"endpoints":[]}"#),
            400
        );
        assert_eq!(
            status(
                r#"{"serviceArguments":{"externalIP":"1.1.1.1","port":80,"probeport":70000},"endpoints":[]}"#
            ),
            400
        );
        assert_eq!(
            status(r#"{"serviceArguments":{"port":80},"endpoints":[]}"#),
            422
        );
        assert_eq!(
            status(r#"{"serviceArguments":{"externalIP":"1.1.1.1","port":80}}"#),
            422
        );
        assert_eq!(
            status(
                r#"{"serviceArguments":{"externalIP":"1.1.1.1","port":80,"mode":9},"endpoints":[]}"#
            ),
            422
        );
        assert_eq!(
            status(
                r#"{"serviceArguments":{"externalIP":"1.1.1.1","port":80,"probetype":"gopher"},"endpoints":[]}"#
            ),
            422
        );
        assert_eq!(
            status(
                r#"{"serviceArguments":{"externalIP":"1.1.1.1","port":80},"endpoints":[{"endpointIP":"10.0.0.1","targetPort":80}]}"#
            ),
            422
        );
    }
}
