//! The LB table as LoxiLB stores it: rules by key, the rule-number marker and the firewall
//! entries rules create. Plain data, shared by the rule handlers and the listing.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::firewall::{Firewall, Marker};
use super::rules_check::{RuleKey, Serv, MODE_FULLPROXY};
use super::rules_eps::{ProbeSource, RuleEp};

/// The datapath action AddLbRule picks at creation (actType); never changed by updates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NatKind {
    Dnat,
    FullNat,
    FullProxy,
}

impl NatKind {
    pub(crate) fn of_mode(mode: i64) -> NatKind {
        match mode {
            1 | 2 | 5 => NatKind::FullNat,
            MODE_FULLPROXY => NatKind::FullProxy,
            _ => NatKind::Dnat,
        }
    }
}

/// A stored rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// Rule number from LoxiLB's marker (ruleNum).
    pub num: u64,
    pub nat: NatKind,
    pub serv: Serv,
    pub eps: Vec<RuleEp>,
    pub sec_ips: Vec<IpAddr>,
    /// Allowed sources in canonical form (srcList).
    pub sources: Vec<String>,
}

impl Rule {
    pub(crate) fn probe_source(&self) -> ProbeSource<'_> {
        let s = &self.serv;
        ProbeSource {
            protocol: &s.protocol,
            probetype: &s.probetype,
            probeport: s.probeport,
            probereq: &s.probereq,
            proberesp: &s.proberesp,
            probe_timeout: s.probe_timeout,
            probe_retries: s.probe_retries,
        }
    }
}

/// The LB table: rules, their numbers and their firewall side effects.
#[derive(Debug, Default)]
pub(crate) struct RuleTable {
    pub map: BTreeMap<RuleKey, Rule>,
    pub marker: Marker,
    pub firewall: Firewall,
}

/// GetLBRule lists portMax 0 when the range is a single port.
pub(crate) fn listed_port_max(k: &RuleKey) -> u16 {
    if k.port == k.port_max {
        0
    } else {
        k.port_max
    }
}
