//! Targeted connection cuts: a matching API request gets no response at all, and may
//! find LoxiLB restarting (empty) first.
//!
//! `set_reset_rate` cuts requests at random; tests of what a client does when one
//! particular call dies (a rule create right after the delete of its predecessor) need
//! the cut on that call only, and a restart exactly between two calls, without racing
//! the client from outside.

use serde::{Deserialize, Serialize};

/// Cut matching requests' connections without handling them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interruption {
    /// HTTP method to match (case-insensitive); None matches all.
    #[serde(default)]
    pub method: Option<String>,
    /// Path prefix relative to /netlox/v1; None matches all.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// How many more times it may fire; None is unlimited.
    #[serde(default)]
    pub remaining: Option<u64>,
    /// Restart empty (as `Control::restart_empty`) before cutting the connection: the
    /// request reached a LoxiLB that went down and came back without its config.
    #[serde(default)]
    pub restart: bool,
}

impl Interruption {
    /// Whether this interruption applies to the request, spending one use if so.
    pub(crate) fn fire(&mut self, method: &str, rel_path: &str) -> bool {
        let hit = matches(
            self.method.as_deref(),
            self.path_prefix.as_deref(),
            self.remaining,
            method,
            rel_path,
        );
        if hit {
            spend(&mut self.remaining);
        }
        hit
    }
}

/// Whether a knob with this method, path prefix (None: any) and remaining count (None:
/// unlimited) applies to a request; shared by interruptions and injected faults.
pub(crate) fn matches(
    want_method: Option<&str>,
    want_prefix: Option<&str>,
    remaining: Option<u64>,
    method: &str,
    rel_path: &str,
) -> bool {
    remaining != Some(0)
        && want_method.is_none_or(|m| m.eq_ignore_ascii_case(method))
        && want_prefix.is_none_or(|p| rel_path.starts_with(p))
}

/// Use up one firing of a knob with a limited count.
pub(crate) fn spend(remaining: &mut Option<u64>) {
    if let Some(r) = remaining.as_mut() {
        *r = r.saturating_sub(1);
    }
}

/// The first interruption of `list` that fires for the request: `Some(restart)`.
pub(crate) fn fire(list: &mut [Interruption], method: &str, rel_path: &str) -> Option<bool> {
    list.iter_mut()
        .find_map(|i| i.fire(method, rel_path).then_some(i.restart))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_method_and_prefix_and_runs_out() {
        let mut list = vec![Interruption {
            method: Some("post".into()),
            path_prefix: Some("/config/loadbalancer".into()),
            remaining: Some(1),
            restart: true,
        }];
        assert_eq!(fire(&mut list, "GET", "/config/loadbalancer/all"), None);
        assert_eq!(fire(&mut list, "POST", "/config/endpoint"), None);
        assert_eq!(fire(&mut list, "POST", "/config/loadbalancer"), Some(true));
        assert_eq!(fire(&mut list, "POST", "/config/loadbalancer"), None);
    }
}
