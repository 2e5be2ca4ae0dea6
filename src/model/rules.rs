//! Range and format rules, one small function per rule.
//!
//! Each takes the field's full path so the error names exactly what is
//! wrong. Limits follow Octavia's API and what LoxiLB accepts (e.g. probe
//! intervals up to LoxiLB's 86400 s `probeDuration` limit).

use super::error::EventError;
use std::net::IpAddr;

/// Longest object id we accept (Octavia uses 36-character UUIDs).
pub const MAX_ID_LEN: usize = 64;
/// Longest probe interval/timeout LoxiLB accepts (`probeDuration`), seconds.
pub const MAX_PROBE_SECONDS: u32 = 86_400;
/// Member weight bounds (Octavia).
pub const MAX_WEIGHT: u16 = 256;
/// Health monitor retry bounds (Octavia).
pub const MIN_RETRIES: u8 = 1;
pub const MAX_RETRIES: u8 = 10;
/// Octavia limits `url_path` to 2048 characters.
pub const MAX_URL_PATH_LEN: usize = 2048;

/// Returns the value or `Invalid(path, "is required")`.
pub fn require<'a, T>(path: &str, value: &'a Option<T>) -> Result<&'a T, EventError> {
    value
        .as_ref()
        .ok_or_else(|| EventError::invalid(path, "is required"))
}

/// Object ids: 1..=64 characters of `[A-Za-z0-9._-]`. They become parts of
/// LoxiLB rule names and journal keys, so nothing else is allowed.
pub fn check_id(path: &str, id: &str) -> Result<(), EventError> {
    if id.is_empty() {
        return Err(EventError::invalid(path, "must not be empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(EventError::invalid(
            path,
            format!("longer than {MAX_ID_LEN} characters"),
        ));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(EventError::invalid(
            path,
            format!("contains {c:?}; ids use only A-Z a-z 0-9 . _ -"),
        ));
    }
    Ok(())
}

/// `check_id` for an optional reference to another object.
pub fn check_opt_id(path: &str, id: Option<&str>) -> Result<(), EventError> {
    id.map_or(Ok(()), |id| check_id(path, id))
}

/// TCP/UDP/SCTP ports: 1..=65535 (0 is not a port LoxiLB can serve or probe).
pub fn check_port(path: &str, port: Option<u16>) -> Result<(), EventError> {
    match port {
        Some(0) => Err(EventError::invalid(path, "must be in 1..=65535")),
        _ => Ok(()),
    }
}

/// Member weight: 0 (drain) ..= 256.
pub fn check_weight(path: &str, weight: Option<u16>) -> Result<(), EventError> {
    match weight {
        Some(w) if w > MAX_WEIGHT => Err(EventError::invalid(
            path,
            format!("{w} is outside 0..={MAX_WEIGHT}"),
        )),
        _ => Ok(()),
    }
}

/// `max_retries` and `max_retries_down`: 1..=10.
pub fn check_retries(path: &str, retries: Option<u8>) -> Result<(), EventError> {
    match retries {
        Some(r) if !(MIN_RETRIES..=MAX_RETRIES).contains(&r) => Err(EventError::invalid(
            path,
            format!("{r} is outside {MIN_RETRIES}..={MAX_RETRIES}"),
        )),
        _ => Ok(()),
    }
}

/// Probe `delay` and `timeout`: 1..=86400 seconds.
pub fn check_probe_seconds(path: &str, seconds: Option<u32>) -> Result<(), EventError> {
    match seconds {
        Some(s) if !(1..=MAX_PROBE_SECONDS).contains(&s) => Err(EventError::invalid(
            path,
            format!("{s} is outside 1..={MAX_PROBE_SECONDS}"),
        )),
        _ => Ok(()),
    }
}

/// A probe cannot wait longer than the interval between probes.
pub fn check_timeout_within_delay(
    path: &str,
    timeout: Option<u32>,
    delay: Option<u32>,
) -> Result<(), EventError> {
    match (timeout, delay) {
        (Some(t), Some(d)) if t > d => Err(EventError::invalid(
            path,
            format!("timeout {t} exceeds delay {d}"),
        )),
        _ => Ok(()),
    }
}

/// Listener `connection_limit`: -1 (unlimited) or at least 1.
pub fn check_connection_limit(path: &str, limit: Option<i64>) -> Result<(), EventError> {
    match limit {
        Some(l) if l != -1 && l < 1 => Err(EventError::invalid(
            path,
            format!("{l} must be -1 (unlimited) or >= 1"),
        )),
        _ => Ok(()),
    }
}

/// Health check `url_path`: starts with `/`, no whitespace or control
/// characters (it is sent verbatim as LoxiLB's `probeReq`).
pub fn check_url_path(path: &str, url_path: Option<&str>) -> Result<(), EventError> {
    let Some(url) = url_path else {
        return Ok(());
    };
    if !url.starts_with('/') {
        return Err(EventError::invalid(path, "must start with \"/\""));
    }
    if url.len() > MAX_URL_PATH_LEN {
        return Err(EventError::invalid(
            path,
            format!("longer than {MAX_URL_PATH_LEN} characters"),
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(EventError::invalid(
            path,
            "must not contain whitespace or control characters",
        ));
    }
    Ok(())
}

/// Health monitor `http_version`: 1.0 or 1.1.
pub fn check_http_version(path: &str, version: Option<f64>) -> Result<(), EventError> {
    match version {
        Some(v) if v != 1.0 && v != 1.1 => {
            Err(EventError::invalid(path, format!("{v} is not 1.0 or 1.1")))
        }
        _ => Ok(()),
    }
}

/// VIP and member addresses must be unicast host addresses: LoxiLB cannot
/// serve or probe `0.0.0.0`, `::` or multicast/broadcast addresses.
pub fn check_host_address(path: &str, addr: Option<IpAddr>) -> Result<(), EventError> {
    let Some(addr) = addr else {
        return Ok(());
    };
    let broadcast = matches!(addr, IpAddr::V4(v4) if v4.is_broadcast());
    if addr.is_unspecified() || addr.is_multicast() || broadcast {
        return Err(EventError::invalid(
            path,
            format!("{addr} is not a unicast host address"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(r: Result<(), EventError>) -> Option<String> {
        r.err().and_then(|e| e.field().map(str::to_owned))
    }

    #[test]
    fn ids() {
        assert!(check_id("x", "0f2c-4b1e_9.A").is_ok());
        assert!(check_id("x", &"a".repeat(64)).is_ok());
        assert_eq!(field(check_id("x", "")), Some("x".into()));
        assert_eq!(field(check_id("x", &"a".repeat(65))), Some("x".into()));
        assert_eq!(field(check_id("x", "a/b")), Some("x".into()));
        assert_eq!(field(check_id("x", "a b")), Some("x".into()));
        assert_eq!(field(check_id("x", "é")), Some("x".into()));
        assert!(check_opt_id("x", None).is_ok());
    }

    #[test]
    fn numeric_ranges() {
        assert!(check_port("p", Some(1)).is_ok() && check_port("p", Some(65535)).is_ok());
        assert!(check_port("p", Some(0)).is_err() && check_port("p", None).is_ok());
        assert!(check_weight("w", Some(0)).is_ok() && check_weight("w", Some(256)).is_ok());
        assert!(check_weight("w", Some(257)).is_err());
        assert!(check_retries("r", Some(1)).is_ok() && check_retries("r", Some(10)).is_ok());
        assert!(check_retries("r", Some(0)).is_err() && check_retries("r", Some(11)).is_err());
        assert!(check_probe_seconds("d", Some(86_400)).is_ok());
        assert!(check_probe_seconds("d", Some(86_401)).is_err());
        assert!(check_probe_seconds("d", Some(0)).is_err());
        assert!(check_timeout_within_delay("t", Some(5), Some(5)).is_ok());
        assert!(check_timeout_within_delay("t", Some(6), Some(5)).is_err());
        assert!(check_timeout_within_delay("t", Some(6), None).is_ok());
        assert!(check_connection_limit("c", Some(-1)).is_ok());
        assert!(check_connection_limit("c", Some(1)).is_ok());
        assert!(check_connection_limit("c", Some(0)).is_err());
        assert!(check_connection_limit("c", Some(-2)).is_err());
    }

    #[test]
    fn url_paths_and_versions() {
        assert!(check_url_path("u", Some("/healthz?full=1")).is_ok());
        assert!(check_url_path("u", Some("healthz")).is_err());
        assert!(check_url_path("u", Some("/a b")).is_err());
        assert!(check_url_path("u", Some("/a\u{7}")).is_err());
        assert!(check_url_path("u", Some("/a\u{a0}")).is_err());
        assert!(check_url_path("u", Some(&format!("/{}", "a".repeat(2048)))).is_err());
        assert!(check_http_version("v", Some(1.1)).is_ok());
        assert!(check_http_version("v", Some(2.0)).is_err());
    }

    #[test]
    fn host_addresses() {
        let ok: IpAddr = [127, 0, 0, 1].into();
        assert!(check_host_address("a", Some(ok)).is_ok());
        for bad in ["0.0.0.0", "::", "224.0.0.1", "255.255.255.255", "ff02::1"] {
            let addr = bad.parse().ok();
            assert!(
                addr.is_some() && check_host_address("a", addr).is_err(),
                "{bad}"
            );
        }
    }
}
