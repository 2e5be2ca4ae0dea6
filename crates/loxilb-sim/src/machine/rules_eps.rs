//! A rule's endpoints: merging a re-post into an existing rule (getLBConsolidatedEPs) and the
//! probe entries every endpoint holds (modNatEpHost), following pkg/loxinet/rules.go.
//!
//! Endpoints dropped by an oper-0 update are not removed: they stay in the rule marked hidden
//! (LoxiLB's inActiveEP), are not listed, hold no probe reference, and come back when posted
//! again. Every endpoint of a (non-SNAT) rule references one probe entry; whether that entry
//! actually probes is decided when the entry is first created.

use std::net::IpAddr;

use super::ep_host::ProbeOpts;

/// LoxiLB's DflLbaInactiveTries, DflHostProbeTimeout, MaxDflLbaInactiveTries, MaxHostProbeTime.
const DEFAULT_RETRIES: i64 = 2;
const DEFAULT_DURATION: i64 = 60;
const MAX_RETRIES: i64 = 100;
const MAX_DURATION: i64 = 86_400;

/// Posted endpoint list handling (`oper`).
pub(crate) const OPER_ADD: i64 = 0;
pub(crate) const OPER_DETACH: i64 = 2;

/// One endpoint (arm) of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleEp {
    pub ip: IpAddr,
    pub port: u16,
    pub weight: u8,
    pub packets: u64,
    pub bytes: u64,
    /// Dropped by an oper-0 update (inActiveEP): kept, not listed, no probe reference.
    pub hidden: bool,
    /// Holds a reference on its probe entry (epCreated).
    pub ep_created: bool,
    /// Scratch mark of the merge (chkVal).
    chk: bool,
}

impl RuleEp {
    pub fn new(ip: IpAddr, port: u16, weight: u8) -> Self {
        RuleEp {
            ip,
            port,
            weight,
            packets: 0,
            bytes: 0,
            hidden: false,
            ep_created: false,
            chk: false,
        }
    }
}

/// Result of merging a re-post: whether the endpoints changed, the new list, the endpoints
/// that must release their probe reference.
pub(crate) struct Merged {
    pub changed: bool,
    pub eps: Vec<RuleEp>,
    pub dropped: Vec<RuleEp>,
}

/// getLBConsolidatedEPs. `old` is the stored list and is updated in place (weights, hidden
/// endpoints posted again) even when the caller later refuses the update, as in LoxiLB.
pub(crate) fn consolidate(old: &mut [RuleEp], new: &mut [RuleEp], oper: i64) -> Merged {
    let mut changed = false;
    let mut found = false;
    for e in old.iter_mut() {
        if let Some(n) = new.iter_mut().find(|n| n.ip == e.ip && n.port == e.port) {
            if e.hidden && oper != OPER_DETACH {
                changed = true;
                e.hidden = false;
            }
            if e.weight != n.weight {
                changed = true;
                e.weight = n.weight;
            }
            e.chk = true;
            n.chk = true;
            found = true;
        }
    }
    let mut dropped = Vec::new();
    if oper == OPER_DETACH {
        if !found {
            return Merged {
                changed: false,
                eps: old.to_vec(),
                dropped,
            };
        }
        let mut kept = Vec::new();
        for e in old.iter_mut() {
            if e.chk {
                e.chk = false;
                dropped.push(e.clone());
            } else {
                kept.push(e.clone());
            }
        }
        return Merged {
            changed: true,
            eps: kept,
            dropped,
        };
    }
    dropped.extend(old.iter().filter(|e| !e.chk && !e.hidden).cloned());
    let mut eps = old.to_vec();
    for n in new.iter_mut().filter(|n| !n.chk) {
        changed = true;
        n.chk = true;
        eps.push(n.clone());
    }
    for e in eps.iter_mut() {
        if !e.chk && oper == OPER_ADD {
            changed = true;
            e.hidden = true;
        }
        e.chk = false;
    }
    for e in old.iter_mut() {
        e.chk = false;
    }
    Merged {
        changed,
        eps,
        dropped,
    }
}

/// The rule settings modNatEpHost reads.
pub(crate) struct ProbeSource<'a> {
    pub protocol: &'a str,
    pub probetype: &'a str,
    pub probeport: u16,
    pub probereq: &'a str,
    pub proberesp: &'a str,
    pub probe_timeout: i64,
    pub probe_retries: i64,
}

/// Key protocol and port of an endpoint's probe entry: the rule's protocol on the endpoint's
/// port, `ping` on port 0 for icmp (and anything else).
pub(crate) fn key_proto(protocol: &str, ep_port: u16) -> (&'static str, u16) {
    match protocol {
        "tcp" => ("tcp", ep_port),
        "udp" => ("udp", ep_port),
        "sctp" => ("sctp", ep_port),
        _ => ("ping", 0),
    }
}

/// The options a new entry gets, or None when AddEPHost's validation refuses them (then
/// the endpoint holds no entry at all).
pub(crate) fn entry_opts(src: &ProbeSource<'_>, ep_port: u16) -> Option<ProbeOpts> {
    let retries = if src.probe_retries == 0 {
        DEFAULT_RETRIES
    } else {
        src.probe_retries
    };
    let duration = if src.probe_timeout == 0 {
        DEFAULT_DURATION
    } else {
        src.probe_timeout
    };
    if retries > MAX_RETRIES || duration > MAX_DURATION {
        return None;
    }
    let (ptype, pport) = key_proto(src.protocol, ep_port);
    let (probe_type, port, req, resp) = if src.probetype.is_empty() {
        (ptype.to_string(), pport, String::new(), String::new())
    } else {
        (
            src.probetype.to_string(),
            src.probeport,
            src.probereq.to_string(),
            src.proberesp.to_string(),
        )
    };
    if matches!(probe_type.as_str(), "tcp" | "udp" | "sctp") && port == 0 {
        return None;
    }
    Some(ProbeOpts {
        probe_type,
        port,
        req,
        resp,
        duration: u32::try_from(duration).unwrap_or(0),
        retries: u32::try_from(retries).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(last: u8, port: u16, weight: u8) -> RuleEp {
        RuleEp::new(IpAddr::from([10, 0, 0, last]), port, weight)
    }

    fn shown(eps: &[RuleEp]) -> Vec<(u8, bool)> {
        eps.iter()
            .map(|e| match e.ip {
                IpAddr::V4(a) => (a.octets()[3], e.hidden),
                IpAddr::V6(_) => (0, e.hidden),
            })
            .collect()
    }

    /// Mirrors rules.go getLBConsolidatedEPs: oper 0 hides, re-post unhides, detach removes.
    #[test]
    fn getlbconsolidatedeps_hides_unhides_and_detaches() {
        let mut old = vec![ep(1, 80, 1), ep(2, 80, 1)];
        let m = consolidate(&mut old, &mut [ep(1, 80, 1), ep(2, 80, 1)], 0);
        assert!(!m.changed);
        let m = consolidate(&mut old, &mut [ep(3, 80, 1)], 0);
        assert!(m.changed);
        assert_eq!(shown(&m.eps), vec![(1, true), (2, true), (3, false)]);
        assert_eq!(m.dropped.len(), 2);
        let mut old = m.eps;
        let m = consolidate(&mut old, &mut [ep(1, 80, 1), ep(3, 80, 1)], 0);
        assert!(m.changed, "a hidden endpoint posted again is a change");
        assert_eq!(shown(&m.eps), vec![(1, false), (2, true), (3, false)]);
        assert!(
            m.dropped.is_empty(),
            "already hidden ones are not dropped again"
        );
        let mut old = m.eps;
        let m = consolidate(&mut old, &mut [ep(1, 80, 9)], 1);
        assert!(m.changed);
        assert_eq!(old[0].weight, 9, "weights change in place");
        let m = consolidate(&mut old, &mut [ep(7, 80, 1)], 2);
        assert!(!m.changed, "detach of unknown endpoints changes nothing");
        let m = consolidate(&mut old, &mut [ep(1, 80, 1)], 2);
        assert_eq!(shown(&m.eps), vec![(2, true), (3, false)]);
    }
}
