//! LoxiLB releases: which ones the daemon supports, and the behaviours that changed
//! between them.
//!
//! Its own crate because both sides need it: the simulator plays any supported release
//! (`--loxilb-version`), and the daemon checks each node's `GET /version` against the
//! supported range. Keeping it out of the simulator keeps the simulator out of the
//! daemon's binary.
//!
//! A few behaviours changed between releases, and a daemon talking to an operator's LoxiLB
//! must cope with each of them:
//! - up to v0.9.8.4 every handler error is answered HTTP 200 with `{"result": "<error>"}`
//!   (api/restapi/handler/common.go maps errors to status codes only from v0.9.8.5);
//! - before v0.9.8.7 a successful probe does not reset the failure count
//!   (pkg/loxinet/rules.go `transitionEPState`);
//! - from v0.9.8.7 selection `priority` expands weights into 16 datapath slots instead of
//!   32 (`MaxLBPrioSlots`, the LbSelPrio branch of `LB2DP`).
//!
//! LoxiLB's `/version` answers the release without its leading `v` ("0.9.8.8", set by the
//! Makefile from the git tag), or "0.9.8-dev" for an untagged build.

use std::fmt;
use std::str::FromStr;

/// A LoxiLB release, as up to four numbers (v0.9.8.4 → [0, 9, 8, 4]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LoxilbVersion(pub [u16; 4]);

impl LoxilbVersion {
    /// The oldest release the daemon supports.
    pub const OLDEST: LoxilbVersion = LoxilbVersion([0, 9, 3, 0]);
    /// The newest release read (and the simulator's default).
    pub const NEWEST: LoxilbVersion = LoxilbVersion([0, 9, 8, 8]);
    /// Last release that answers errors as HTTP 200 with a `result` text.
    const LAST_ERRORS_AS_200: LoxilbVersion = LoxilbVersion([0, 9, 8, 4]);
    /// First release whose successful probe resets the failure count.
    const FIRST_FAILURE_RESET: LoxilbVersion = LoxilbVersion([0, 9, 8, 7]);

    /// Errors are answered HTTP 200 with `{"result": "<error text>"}`.
    pub fn errors_as_200(self) -> bool {
        self <= Self::LAST_ERRORS_AS_200
    }

    /// Probe failures accumulate across successes (no reset on success while active).
    pub fn failures_accumulate(self) -> bool {
        self < Self::FIRST_FAILURE_RESET
    }

    /// Datapath slots of selection `priority` (weighted round robin).
    pub fn prio_slots(self) -> usize {
        if self < Self::FIRST_FAILURE_RESET {
            32
        } else {
            16
        }
    }
}

impl Default for LoxilbVersion {
    fn default() -> Self {
        Self::NEWEST
    }
}

impl fmt::Display for LoxilbVersion {
    /// As LoxiLB's `/version` prints it: no leading `v`, trailing zero part dropped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.0;
        if d == 0 {
            write!(f, "{a}.{b}.{c}")
        } else {
            write!(f, "{a}.{b}.{c}.{d}")
        }
    }
}

/// Why a version text was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a LoxiLB version (want e.g. v0.9.8.4): {0:?}")]
pub struct BadVersion(pub String);

impl FromStr for LoxilbVersion {
    type Err = BadVersion;

    /// Accepts "v0.9.8.4", "0.9.8.4", "0.9.8" and "0.9.8-dev" (suffix ignored).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadVersion(s.to_string());
        let t = s.trim();
        let t = t.strip_prefix('v').unwrap_or(t);
        let t = t.split(['-', '+', ' ']).next().unwrap_or("");
        let mut out = [0u16; 4];
        let mut n = 0;
        for part in t.split('.') {
            if n == 4 {
                return Err(bad());
            }
            out[n] = part.parse().map_err(|_| bad())?;
            n += 1;
        }
        if n < 2 {
            return Err(bad());
        }
        Ok(LoxilbVersion(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags_and_loxilb_version_texts() {
        let v = |s: &str| s.parse::<LoxilbVersion>();
        assert_eq!(v("v0.9.8.4"), Ok(LoxilbVersion([0, 9, 8, 4])));
        assert_eq!(v("0.9.8.8"), Ok(LoxilbVersion([0, 9, 8, 8])));
        assert_eq!(v("0.9.8-dev"), Ok(LoxilbVersion([0, 9, 8, 0])));
        assert!(v("latest").is_err());
        assert!(v("0").is_err());
        assert!(v("1.2.3.4.5").is_err());
        assert_eq!(LoxilbVersion([0, 9, 8, 4]).to_string(), "0.9.8.4");
        assert_eq!(LoxilbVersion([0, 9, 8, 0]).to_string(), "0.9.8");
    }

    #[test]
    fn version_switches_follow_the_releases() {
        let v = |s: &str| s.parse::<LoxilbVersion>().unwrap_or_default();
        assert!(v("v0.9.8.4").errors_as_200());
        assert!(!v("v0.9.8.5").errors_as_200());
        assert!(v("v0.9.8.6").failures_accumulate());
        assert!(!v("v0.9.8.7").failures_accumulate());
        assert_eq!(v("v0.9.8.4").prio_slots(), 32);
        assert_eq!(v("v0.9.8.8").prio_slots(), 16);
    }
}
