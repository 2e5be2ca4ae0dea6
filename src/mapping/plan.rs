//! Desired vs applied → the LoxiLB calls that close the gap on one node.
//!
//! "Applied" is what the coordinator recorded as posted, keyed by rule name / probe name.
//! Plans are sorted and put deletions before creations: a rule moving from port 80 to 81
//! while another moves from 81 to 80 only works in that order, and a deletion never
//! depends on a creation.
//!
//! Rules compare in a canonical form (endpoints, allowed sources and secondary IPs sorted;
//! LoxiLB-reported `state`/`counter` dropped; `portMax` 0 read as `port`; addresses in
//! canonical text), so a rule read back from LoxiLB or recorded in another order is not
//! needlessly re-posted. A re-post of an identical rule would be a 409 anyway.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::loxilb::types::{EndPoint, LoadbalanceEntry, Oper};

use super::probe::ProbeKey;
use super::DesiredRule;

/// One rule call. `Apply` is unboxed on purpose: the shape is the applier's contract and
/// a plan holds a handful of ops, so the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum RuleOp {
    /// POST the rule (create, or update with oper 0: the posted list is the rule's list;
    /// it only ever adds endpoints or changes weights, since removals go by `Detach`).
    Apply(LoadbalanceEntry),
    /// POST with oper 2 (detach): `detach` lists the endpoints to remove, and LoxiLB then
    /// holds `leaves`. Removing by detach instead of leaving an endpoint out of an oper-0
    /// post matters: LoxiLB keeps endpoints left out of an oper-0 post hidden in the rule
    /// (getLBConsolidatedEPs), and once visible plus hidden ones exceed 32 an update
    /// resets every endpoint, which drops and re-creates their probes with the rule's
    /// options (an HTTP probe silently becomes the TCP default).
    Detach {
        detach: LoadbalanceEntry,
        leaves: LoadbalanceEntry,
    },
    /// DELETE by LoxiLB's key of the applied rule.
    Delete {
        external_ip: String,
        port: u16,
        protocol: String,
        name: String,
    },
}

/// One probe call.
#[derive(Debug, Clone, PartialEq)]
pub enum ProbeOp {
    /// POST /config/endpoint (creates, or replaces the options of an existing key).
    Post(EndPoint),
    /// DELETE the probe; `endpoint` is what was applied (its host, type and port make the
    /// DELETE query).
    Delete { key: ProbeKey, endpoint: EndPoint },
}

fn canonical_ip(text: &str) -> String {
    text.parse::<IpAddr>()
        .map(|ip| ip.to_string())
        .unwrap_or_else(|_| text.to_owned())
}

/// The form two rules are compared in.
fn canonical(entry: &LoadbalanceEntry) -> LoadbalanceEntry {
    let mut e = entry.clone();
    let a = &mut e.service_arguments;
    a.external_ip = canonical_ip(&a.external_ip);
    if a.port_max == 0 {
        a.port_max = a.port;
    }
    for ep in &mut e.endpoints {
        ep.endpoint_ip = canonical_ip(&ep.endpoint_ip);
        ep.state = None;
        ep.counter = None;
    }
    e.endpoints.sort_by(|x, y| {
        (&x.endpoint_ip, x.target_port, x.weight).cmp(&(&y.endpoint_ip, y.target_port, y.weight))
    });
    e.allowed_sources.sort_by(|x, y| x.prefix.cmp(&y.prefix));
    e.allowed_sources.dedup();
    e.secondary_ips
        .sort_by(|x, y| x.secondary_ip.cmp(&y.secondary_ip));
    e
}

/// LoxiLB's identity of a rule.
fn rule_key(entry: &LoadbalanceEntry) -> (String, u16, String) {
    let a = &entry.service_arguments;
    (canonical_ip(&a.external_ip), a.port, a.protocol.clone())
}

fn delete_of(name: &str, applied: &LoadbalanceEntry) -> RuleOp {
    let a = &applied.service_arguments;
    RuleOp::Delete {
        external_ip: a.external_ip.clone(),
        port: a.port,
        protocol: a.protocol.clone(),
        name: name.to_owned(),
    }
}

/// The rule calls for one node. Desired rules are keyed by their `name`; if two share a
/// name the first (in input order) counts.
pub fn plan_rules(
    desired: &[DesiredRule],
    applied: &BTreeMap<String, LoadbalanceEntry>,
) -> Vec<RuleOp> {
    plan_rules_forcing(desired, applied, &BTreeSet::new())
}

/// [`plan_rules`], where the applied rules named in `recreate` are deleted and created
/// anew even if nothing else asks for it (a probe whose host must move: LoxiLB keeps a
/// probe's host on re-post, so the probe has to go with the rules that hold it).
pub fn plan_rules_forcing(
    desired: &[DesiredRule],
    applied: &BTreeMap<String, LoadbalanceEntry>,
    recreate: &BTreeSet<String>,
) -> Vec<RuleOp> {
    let mut want: BTreeMap<&str, &LoadbalanceEntry> = BTreeMap::new();
    for d in desired {
        want.entry(d.entry.service_arguments.name.as_str())
            .or_insert(&d.entry);
    }
    let mut deletes = Vec::new();
    let mut applies = Vec::new();
    let recreated = |name: &str, old: &LoadbalanceEntry, new: &LoadbalanceEntry| {
        recreate.contains(name) || needs_recreate(old, new)
    };
    for (name, old) in applied {
        match want.get(name.as_str()) {
            None => deletes.push(delete_of(name, old)),
            Some(new) if recreated(name, old, new) => deletes.push(delete_of(name, old)),
            Some(_) => {}
        }
    }
    for (name, new) in &want {
        let new = *new;
        let Some(old) = applied.get(*name).filter(|old| !recreated(name, old, new)) else {
            applies.push(RuleOp::Apply(new.clone()));
            continue;
        };
        if canonical(old) == canonical(new) {
            continue;
        }
        match detach_of(old, new) {
            // Nothing of the old list stays: an update would empty the rule first.
            Some((_, leaves)) if leaves.endpoints.is_empty() => {
                deletes.push(delete_of(name, old));
                applies.push(RuleOp::Apply(new.clone()));
            }
            Some((detach, leaves)) => {
                let done = canonical(&leaves) == canonical(new);
                applies.push(RuleOp::Detach { detach, leaves });
                if !done {
                    applies.push(RuleOp::Apply(new.clone()));
                }
            }
            None => applies.push(RuleOp::Apply(new.clone())),
        }
    }
    deletes.extend(applies);
    deletes
}

/// The detach that removes the endpoints of `old` missing from `new` (by address and
/// port), and the rule LoxiLB holds after it: `new`'s arguments (an update stores them)
/// with the endpoints of `old` that stay. `None` when nothing is removed.
fn detach_of(
    old: &LoadbalanceEntry,
    new: &LoadbalanceEntry,
) -> Option<(LoadbalanceEntry, LoadbalanceEntry)> {
    let same = |a: &crate::loxilb::types::LbEndpoint, b: &crate::loxilb::types::LbEndpoint| {
        canonical_ip(&a.endpoint_ip) == canonical_ip(&b.endpoint_ip)
            && a.target_port == b.target_port
    };
    let (gone, kept): (Vec<_>, Vec<_>) = old
        .endpoints
        .iter()
        .cloned()
        .partition(|o| !new.endpoints.iter().any(|n| same(o, n)));
    if gone.is_empty() {
        return None;
    }
    let mut detach = new.clone();
    detach.service_arguments.oper = Oper::Detach;
    detach.endpoints = gone;
    let mut leaves = new.clone();
    leaves.endpoints = kept;
    Some((detach, leaves))
}

/// A rule must be deleted and created anew, not updated in place, when its key
/// changed or when it changes a setting LoxiLB does not update on an existing rule:
/// `monitor` (whether endpoints follow their probes), the NAT mode, and
/// `inactiveTimeOut` (a re-POST that differs only there is answered 409
/// "lbrule-exists", which would leave the old timeout in place), and allowed sources
/// replaced by as many others: AddLbRule compares equal-length source lists so that
/// such a change is never seen (a lone change is answered 409 and stored nowhere).
fn needs_recreate(old: &LoadbalanceEntry, new: &LoadbalanceEntry) -> bool {
    let sources = |e: &LoadbalanceEntry| canonical(e).allowed_sources;
    rule_key(old) != rule_key(new)
        || old.service_arguments.monitor != new.service_arguments.monitor
        || old.service_arguments.mode != new.service_arguments.mode
        || old.service_arguments.inactive_timeout != new.service_arguments.inactive_timeout
        || (old.allowed_sources.len() == new.allowed_sources.len() && sources(old) != sources(new))
}

/// The probe calls for one node: POST what is missing or different, DELETE what was
/// applied and is no longer desired.
pub fn plan_probes(
    desired: &BTreeMap<String, EndPoint>,
    applied: &BTreeMap<String, EndPoint>,
) -> Vec<ProbeOp> {
    let mut ops: Vec<ProbeOp> = applied
        .iter()
        .filter(|(name, _)| !desired.contains_key(*name))
        .map(|(name, ep)| ProbeOp::Delete {
            key: ProbeKey::parse(name).unwrap_or_else(|| ProbeKey {
                host: ep.host_name.clone(),
                proto: ep.probe_type.clone(),
                port: ep.probe_port,
            }),
            endpoint: ep.clone(),
        })
        .collect();
    ops.extend(
        desired
            .iter()
            .filter(|(name, ep)| applied.get(*name) != Some(*ep))
            .map(|(_, ep)| ProbeOp::Post(ep.clone())),
    );
    ops
}

#[cfg(test)]
mod tests;
