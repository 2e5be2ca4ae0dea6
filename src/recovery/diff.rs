//! Pure comparison of one node's applied records with what the node reports.
//!
//! Repair works by making the records honest: a record whose object is missing or
//! differs on the node is forgotten, and the next sync of its load balancer (which
//! plans against the records) re-applies it. So this module only has to say which
//! records lie and why, and which objects on the node are ours but wanted by no one.
//!
//! Only fields we set are compared: LoxiLB adds run-time fields (probe results,
//! counters, endpoint states) that are not drift.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::loxilb::{EndPoint, EndPointGetEntry, LoadbalanceEntry};
use crate::mapping::exact_pattern_listener;

/// What one node looks like to us: our records, its listing, and what is desired.
pub struct NodeView<'a> {
    /// (loadbalancer_id, rule name, recorded body).
    pub applied_rules: &'a [(String, String, String)],
    /// (probe key, recorded body).
    pub applied_probes: &'a [(String, String)],
    pub observed_rules: &'a [LoadbalanceEntry],
    pub observed_probes: &'a [EndPointGetEntry],
    /// Listener ids in desired state.
    pub desired_listeners: &'a BTreeSet<String>,
    /// Probe keys some desired member refers to.
    pub referenced_probes: &'a BTreeSet<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Rule,
    Probe,
}

/// A record that does not match the node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub kind: ObjectKind,
    /// Rule name or probe key.
    pub name: String,
    /// The load balancer a rule record belongs to; empty for probes (shared).
    pub loadbalancer_id: String,
    /// Human-readable description, e.g. `probeDuration 30 -> 7`.
    pub difference: String,
}

/// An object on the node that may be ours and that nothing needs any more: a probe we
/// recorded, or an unrecorded rule named exactly as we name rules. The latter is only
/// a candidate until Octavia confirms its listener is gone (`guard`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Orphan {
    pub kind: ObjectKind,
    /// Rule name or probe key.
    pub name: String,
    /// Probe host, type and port (what a probe deletion needs); empty for rules.
    pub host: String,
    pub probe_type: String,
    pub port: u16,
}

/// Result of comparing one node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    pub drift: Vec<Drift>,
    pub orphans: Vec<Orphan>,
}

/// Compare one node. Foreign objects (not recorded by us and not named exactly as we
/// name rules) are never reported, whatever their key.
pub fn compare(v: &NodeView<'_>) -> Findings {
    let mut f = Findings::default();
    let recorded_rules: BTreeSet<&str> =
        v.applied_rules.iter().map(|(_, n, _)| n.as_str()).collect();
    rule_drift(v, &recorded_rules, &mut f);
    probe_findings(v, &mut f);
    unrecorded_rules(v, &recorded_rules, &mut f);
    f
}

/// Each recorded rule missing or different on the node.
fn rule_drift(v: &NodeView<'_>, recorded_rules: &BTreeSet<&str>, f: &mut Findings) {
    let observed_rules: BTreeMap<&str, &LoadbalanceEntry> = v
        .observed_rules
        .iter()
        .map(|r| (r.service_arguments.name.as_str(), r))
        .collect();
    let unrecorded_by_key: BTreeMap<RuleKey<'_>, &LoadbalanceEntry> = v
        .observed_rules
        .iter()
        .filter(|r| !recorded_rules.contains(r.service_arguments.name.as_str()))
        .map(|r| (rule_key(r), r))
        .collect();
    for (lb, name, body) in v.applied_rules {
        let difference = match serde_json::from_str::<LoadbalanceEntry>(body) {
            Err(e) => Some(format!("unreadable record ({e})")),
            Ok(rec) => match observed_rules
                .get(name.as_str())
                .or_else(|| unrecorded_by_key.get(&rule_key(&rec)))
            {
                None => Some("rule missing on the node".to_string()),
                Some(obs) => rule_difference(&rec, obs),
            },
        };
        if let Some(difference) = difference {
            f.drift.push(Drift {
                kind: ObjectKind::Rule,
                name: name.clone(),
                loadbalancer_id: lb.clone(),
                difference,
            });
        }
    }
}

/// Each recorded probe missing or different on the node, or no longer referenced.
fn probe_findings(v: &NodeView<'_>, f: &mut Findings) {
    let observed_probes: BTreeMap<&str, &EndPointGetEntry> = v
        .observed_probes
        .iter()
        .map(|p| (p.name.as_str(), p))
        .collect();

    // Probe candidates come only from our records: a probe we never recorded is not
    // ours, even when its key is one we use.
    for (key, body) in v.applied_probes {
        let observed = observed_probes.get(key.as_str());
        let rec = serde_json::from_str::<EndPoint>(body);
        if let (Some(obs), Ok(rec)) = (observed, &rec) {
            if !v.referenced_probes.contains(key) {
                f.orphans.push(Orphan {
                    kind: ObjectKind::Probe,
                    name: key.clone(),
                    host: obs.host_name.clone(),
                    probe_type: obs.probe_type.clone(),
                    port: obs.probe_port,
                });
                continue;
            }
            if let Some(difference) = probe_difference(rec, obs) {
                f.drift.push(probe_drift(key, difference));
            }
            continue;
        }
        let difference = match (observed, rec) {
            (_, Err(e)) => format!("unreadable record ({e})"),
            _ => "probe missing on the node".to_string(),
        };
        f.drift.push(probe_drift(key, difference));
    }
}

/// Rules of ours on the node that we hold no record of and Octavia no longer wants.
fn unrecorded_rules(v: &NodeView<'_>, recorded_rules: &BTreeSet<&str>, f: &mut Findings) {
    // Unrecorded rules are candidates only under exactly our name pattern: other
    // drivers use the `octavia-` prefix too, and their rules are never ours.
    for r in v.observed_rules {
        let name = r.service_arguments.name.as_str();
        let Some(listener) = exact_pattern_listener(name) else {
            continue;
        };
        if !recorded_rules.contains(name) && !v.desired_listeners.contains(listener) {
            f.orphans.push(Orphan {
                kind: ObjectKind::Rule,
                name: name.to_string(),
                host: String::new(),
                probe_type: String::new(),
                port: 0,
            });
        }
    }
}

/// LoxiLB's identity of a rule: VIP, port and protocol (its `ruleKey`; block and
/// host URL, which we never set, left out), not the name.
type RuleKey<'a> = (&'a str, u16, &'a str);

/// Why a record also matches an unrecorded rule at its key: LoxiLB keeps one rule per
/// key and the name it was created with, so when our create met another driver's
/// rule there (a migration, `loxilb-coordinator-sync`), LoxiLB updated that rule in
/// place under its old name. It is the rule serving our listener; looking it up by
/// name only would call it missing on every pass and re-post it for nothing.
fn rule_key(r: &LoadbalanceEntry) -> RuleKey<'_> {
    let a = &r.service_arguments;
    (a.external_ip.as_str(), a.port, a.protocol.as_str())
}

fn probe_drift(key: &str, difference: String) -> Drift {
    Drift {
        kind: ObjectKind::Probe,
        name: key.to_string(),
        loadbalancer_id: String::new(),
        difference,
    }
}

/// Differences in the rule fields we set; `None` when they match.
pub fn rule_difference(rec: &LoadbalanceEntry, obs: &LoadbalanceEntry) -> Option<String> {
    let (a, b) = (&rec.service_arguments, &obs.service_arguments);
    let mut d = Vec::new();
    let mut field = |name: &str, x: String, y: String| {
        if x != y {
            d.push(format!("{name} {x} -> {y}"));
        }
    };
    field("externalIP", a.external_ip.clone(), b.external_ip.clone());
    field("port", a.port.to_string(), b.port.to_string());
    field("protocol", a.protocol.clone(), b.protocol.clone());
    field("sel", format!("{:?}", a.sel), format!("{:?}", b.sel));
    field("mode", format!("{:?}", a.mode), format!("{:?}", b.mode));
    field("monitor", a.monitor.to_string(), b.monitor.to_string());
    let eps = |e: &LoadbalanceEntry| {
        let mut v: Vec<String> = e
            .endpoints
            .iter()
            .map(|p| format!("{}:{}/w{}", p.endpoint_ip, p.target_port, p.weight))
            .collect();
        v.sort();
        v.join(",")
    };
    field(
        "endpoints",
        format!("[{}]", eps(rec)),
        format!("[{}]", eps(obs)),
    );
    (!d.is_empty()).then(|| d.join("; "))
}

/// Differences in the probe fields we set; `None` when they match.
pub fn probe_difference(rec: &EndPoint, obs: &EndPointGetEntry) -> Option<String> {
    let mut d = Vec::new();
    let mut field = |name: &str, x: String, y: String| {
        if x != y {
            d.push(format!("{name} {x:?} -> {y:?}"));
        }
    };
    field("hostName", rec.host_name.clone(), obs.host_name.clone());
    field("probeType", rec.probe_type.clone(), obs.probe_type.clone());
    field(
        "probePort",
        rec.probe_port.to_string(),
        obs.probe_port.to_string(),
    );
    field("probeReq", rec.probe_req.clone(), obs.probe_req.clone());
    field("probeResp", rec.probe_resp.clone(), obs.probe_resp.clone());
    field(
        "probeDuration",
        rec.probe_duration.to_string(),
        obs.probe_duration.to_string(),
    );
    field(
        "inactiveReTries",
        rec.inactive_retries.to_string(),
        obs.inactive_retries.to_string(),
    );
    (!d.is_empty()).then(|| d.join("; "))
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod tests;
