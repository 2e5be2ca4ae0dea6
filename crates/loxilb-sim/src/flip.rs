//! Deliberately wrong behaviours, for the tests of `loxilb-coordinator conformance` only.
//!
//! The conformance command compares a LoxiLB with the compat table. To show that a
//! difference is caught, and caught by exactly the case that owns the behaviour, the
//! simulator can be told to get one behaviour wrong. No other use: a flipped simulator is
//! no longer LoxiLB.

use std::fmt;
use std::str::FromStr;

/// One behaviour the simulator can be told to get wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flip {
    /// A POST of an existing probe key moves the probe to the posted host (LoxiLB keeps
    /// the host: AddEPHost updates only the options).
    ProbeRepostMovesHost,
    /// A rule with probetype http is accepted (AddLbRule answers
    /// "malformed-service-ptype error").
    RuleAcceptsHttpProbe,
    /// DSR with a selection other than hash is accepted (ConfigPostLoadbalancer refuses it).
    DsrAcceptsAnySelection,
    /// A probe stays when the last rule referring to it goes (LoxiLB deletes it, whoever
    /// created it). Also leaves a probe behind that a conformance run must clean up.
    ProbeOutlivesLastRule,
}

impl Flip {
    /// Every flip, for tests that try each.
    pub const ALL: [Flip; 4] = [
        Flip::ProbeRepostMovesHost,
        Flip::RuleAcceptsHttpProbe,
        Flip::DsrAcceptsAnySelection,
        Flip::ProbeOutlivesLastRule,
    ];

    /// The name used on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Flip::ProbeRepostMovesHost => "probe-repost-moves-host",
            Flip::RuleAcceptsHttpProbe => "rule-accepts-http-probe",
            Flip::DsrAcceptsAnySelection => "dsr-accepts-any-selection",
            Flip::ProbeOutlivesLastRule => "probe-outlives-last-rule",
        }
    }
}

impl fmt::Display for Flip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A flip name that is not known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown behaviour to flip: {0:?}")]
pub struct BadFlip(pub String);

impl FromStr for Flip {
    type Err = BadFlip;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Flip::ALL
            .into_iter()
            .find(|f| f.as_str() == s.trim())
            .ok_or_else(|| BadFlip(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Flip::ALL {
            assert_eq!(f.as_str().parse::<Flip>(), Ok(f));
        }
        assert!("nope".parse::<Flip>().is_err());
    }
}
