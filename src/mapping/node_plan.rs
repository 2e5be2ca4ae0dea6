//! One node's whole plan: rule and probe calls in the order LoxiLB needs them.
//!
//! How LoxiLB ties probes to rules (rules.go modNatEpHost, AddEPHost, DeleteEPHost) decides
//! the order:
//! - A rule creates a probe for each new endpoint only when none exists under the key; an
//!   existing probe just gains a reference and keeps its options and host. So a probe the
//!   rule cannot describe (http/https, a monitor address, a monitor port) is posted
//!   *before* the rule that refers to it.
//! - Deleting a rule, or dropping an endpoint in an update, deletes the endpoint's probe
//!   once no rule refers to it, even one we posted. So after rule deletions the probes of
//!   the deleted rules' endpoints are posted again (before the rules that come back), and
//!   after updates the probes of dropped endpoints that are still wanted (a drained
//!   member keeps its probe) are posted again.
//! - Re-posting a probe keeps its host. A probe whose host must change (a monitor address
//!   set, changed or cleared) is freed by re-creating the rules that hold it, deleted if it
//!   survives as an API probe, and posted anew.
//! - Endpoints are removed with a detach (oper 2), never by leaving them out of an
//!   oper-0 post, which would keep them hidden in the rule until visible plus hidden
//!   exceed 32 and LoxiLB resets them all (see [`RuleOp::Detach`]).
//!
//! Probes a rule creates exactly as wanted (a TCP monitor on the member's own address and
//! port) cost no call: they are recorded once the rule is in place.

use std::collections::{BTreeMap, BTreeSet};

use crate::loxilb::types::{probe_key, EndPoint, LoadbalanceEntry};

use super::plan::{plan_probes, plan_rules_forcing, ProbeOp, RuleOp};
use super::probe::{rule_referred_probe, ProbeKey};
use super::DesiredRule;

/// The calls for one node, in execution order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct NodePlan {
    /// Wanted probes the rule deletions may take with them: their applied records are
    /// forgotten *before* the deletions, so a crash between the call and the re-post
    /// cannot leave a record of a probe LoxiLB no longer has.
    pub forget_before_deletes: Vec<String>,
    /// Rule deletions (rules no longer wanted, and rules to be re-created).
    pub rule_deletes: Vec<RuleOp>,
    /// Probe calls the rules depend on: deletions that free a probe's host, then posts.
    pub probes_before: Vec<ProbeOp>,
    /// Wanted probes the rule updates may drop (likewise forgotten before them).
    pub forget_before_applies: Vec<String>,
    /// Rule creations and updates.
    pub rule_applies: Vec<RuleOp>,
    /// Probes the applied rules create exactly as wanted: record them, call nothing.
    pub created_by_rules: Vec<EndPoint>,
    /// Re-posts of probes LoxiLB dropped with an endpoint, then deletions of probes no
    /// longer wanted.
    pub probes_after: Vec<ProbeOp>,
}

/// Probe key names of a rule's endpoints, as LoxiLB keys the probes it makes for them.
pub fn endpoint_keys(entry: &LoadbalanceEntry) -> BTreeSet<String> {
    let proto = entry.service_arguments.protocol.as_str();
    entry
        .endpoints
        .iter()
        .map(|e| match proto {
            "tcp" | "udp" | "sctp" => probe_key(&e.endpoint_ip, proto, e.target_port),
            _ => probe_key(&e.endpoint_ip, "ping", 0),
        })
        .collect()
}

/// Plan one node: `desired_probes` and `applied_probes` hold the probes of this sync's
/// keys only (a probe key is shared by every rule with that endpoint).
///
/// The steps follow the module docs: rules holding a probe whose host moves are
/// re-created; what the rule deletions take with them decides which probes are posted
/// before the rules and which the rules make themselves; probes a detach drops are
/// posted again after the rules, then probes no longer wanted are deleted.
pub fn plan_node(
    desired_rules: &[DesiredRule],
    applied_rules: &BTreeMap<String, LoadbalanceEntry>,
    desired_probes: &BTreeMap<String, EndPoint>,
    applied_probes: &BTreeMap<String, EndPoint>,
) -> NodePlan {
    let applied_keys: BTreeMap<&str, BTreeSet<String>> = applied_rules
        .iter()
        .map(|(name, e)| (name.as_str(), endpoint_keys(e)))
        .collect();
    let moves = host_moves(desired_probes, applied_probes, &applied_keys);
    let recreate = holders(&applied_keys, &moves);
    let (rule_deletes, rule_applies): (Vec<RuleOp>, Vec<RuleOp>) =
        plan_rules_forcing(desired_rules, applied_rules, &recreate)
            .into_iter()
            .partition(|op| matches!(op, RuleOp::Delete { .. }));
    let after = AfterDeletes::new(&applied_keys, &rule_deletes);
    let creating = newly_taken_keys(&rule_applies, &applied_keys, &after.deleted);
    let (probes_before, created_by_rules) =
        probes_before(desired_probes, applied_probes, &moves, &after, &creating);
    let mut plan = NodePlan {
        forget_before_deletes: after
            .gone
            .iter()
            .filter(|k| desired_probes.contains_key(**k) && applied_probes.contains_key(**k))
            .map(|k| k.to_string())
            .collect(),
        rule_deletes,
        probes_before,
        created_by_rules,
        ..NodePlan::default()
    };
    for key in &detached_keys(&rule_applies, &applied_keys, &after.deleted) {
        if let Some(ep) = desired_probes.get(key) {
            plan.probes_after.push(ProbeOp::Post(ep.clone()));
            if applied_probes.contains_key(key) {
                plan.forget_before_applies.push(key.clone());
            }
        }
    }
    plan.rule_applies = rule_applies;
    plan.probes_after.extend(
        plan_probes(desired_probes, applied_probes)
            .into_iter()
            .filter(|op| matches!(op, ProbeOp::Delete { .. })),
    );
    plan
}

/// Names of the applied rules holding any of `keys`: re-creating them is the only way
/// to free a probe whose host must change (LoxiLB keeps a held probe as it is).
fn holders(
    applied_keys: &BTreeMap<&str, BTreeSet<String>>,
    keys: &BTreeSet<String>,
) -> BTreeSet<String> {
    applied_keys
        .iter()
        .filter(|(_, held)| held.iter().any(|k| keys.contains(k)))
        .map(|(name, _)| name.to_string())
        .collect()
}

/// The probe keys the node's rules hold once the planned rule deletions ran.
#[derive(Debug, PartialEq)]
struct AfterDeletes<'a> {
    /// Names of the rules deleted (no longer wanted, or re-created).
    deleted: BTreeSet<String>,
    /// Keys a rule that stays still holds: LoxiLB keeps their probes.
    held: BTreeSet<&'a String>,
    /// Keys only deleted rules held: LoxiLB may just have deleted their probes with
    /// the last rule that held them.
    gone: BTreeSet<&'a String>,
}

impl<'a> AfterDeletes<'a> {
    fn new(applied_keys: &'a BTreeMap<&str, BTreeSet<String>>, rule_deletes: &[RuleOp]) -> Self {
        let deleted: BTreeSet<String> = rule_deletes
            .iter()
            .filter_map(|op| match op {
                RuleOp::Delete { name, .. } => Some(name.clone()),
                RuleOp::Apply(_) | RuleOp::Detach { .. } => None,
            })
            .collect();
        let held: BTreeSet<&String> = applied_keys
            .iter()
            .filter(|(name, _)| !deleted.contains(**name))
            .flat_map(|(_, keys)| keys)
            .collect();
        let gone: BTreeSet<&String> = applied_keys
            .iter()
            .filter(|(name, _)| deleted.contains(**name))
            .flat_map(|(_, keys)| keys)
            .filter(|k| !held.contains(k))
            .collect();
        AfterDeletes {
            deleted,
            held,
            gone,
        }
    }
}

/// Each rule to be posted with the endpoint keys it newly takes: only for those does
/// LoxiLB create a probe (an endpoint it already had keeps its probe as it is). A rule
/// deleted first takes all its keys anew.
fn newly_taken_keys<'r>(
    rule_applies: &'r [RuleOp],
    applied_keys: &BTreeMap<&str, BTreeSet<String>>,
    deleted: &BTreeSet<String>,
) -> Vec<(&'r LoadbalanceEntry, BTreeSet<String>)> {
    rule_applies
        .iter()
        .filter_map(|op| match op {
            RuleOp::Apply(e) => Some(e),
            RuleOp::Delete { .. } | RuleOp::Detach { .. } => None,
        })
        .map(|e| {
            let name = e.service_arguments.name.as_str();
            let mut keys = endpoint_keys(e);
            if let (Some(had), false) = (applied_keys.get(name), deleted.contains(name)) {
                keys.retain(|k| !had.contains(k));
            }
            (e, keys)
        })
        .collect()
}

/// The probe calls before the rule applies (deletions that free a moving probe's host,
/// then posts), and the wanted probes a rule will create exactly as wanted instead.
fn probes_before(
    desired_probes: &BTreeMap<String, EndPoint>,
    applied_probes: &BTreeMap<String, EndPoint>,
    moves: &BTreeSet<String>,
    after: &AfterDeletes<'_>,
    creating: &[(&LoadbalanceEntry, BTreeSet<String>)],
) -> (Vec<ProbeOp>, Vec<EndPoint>) {
    let (mut before, mut made_by_rules) = (Vec::new(), Vec::new());
    for (key, ep) in applied_probes {
        if moves.contains(key) && !after.gone.contains(key) && !after.held.contains(key) {
            before.push(delete_op(key, ep));
        }
    }
    for (key, ep) in desired_probes {
        let maybe_gone = after.gone.contains(key) || moves.contains(key);
        if applied_probes.get(key) == Some(ep) && !maybe_gone {
            continue;
        }
        // LoxiLB has no probe under the key: the rule will make it.
        let absent = after.gone.contains(key)
            || (!applied_probes.contains_key(key) && !after.held.contains(key));
        let made = creating
            .iter()
            .any(|(r, new_keys)| new_keys.contains(key) && rule_creates(r, ep));
        if absent && !moves.contains(key) && made {
            made_by_rules.push(ep.clone());
        } else {
            before.push(ProbeOp::Post(ep.clone()));
        }
    }
    (before, made_by_rules)
}

/// Keys of the endpoints the detaches among `rule_applies` remove and no other rule
/// that stays holds: LoxiLB drops their probes, so those still wanted (a drained
/// member) are posted again afterwards.
fn detached_keys(
    rule_applies: &[RuleOp],
    applied_keys: &BTreeMap<&str, BTreeSet<String>>,
    deleted: &BTreeSet<String>,
) -> BTreeSet<String> {
    let mut dropped = BTreeSet::new();
    for op in rule_applies {
        let RuleOp::Detach { detach, .. } = op else {
            continue;
        };
        let name = detach.service_arguments.name.as_str();
        let held_elsewhere = |k: &String| {
            applied_keys.iter().any(|(other, keys)| {
                *other != name && !deleted.contains(*other) && keys.contains(k)
            })
        };
        dropped.extend(
            endpoint_keys(detach)
                .into_iter()
                .filter(|k| !held_elsewhere(k)),
        );
    }
    dropped
}

/// Keys whose wanted host differs from the host LoxiLB has: the recorded probe's host,
/// or, for a probe a rule made and we never posted, the endpoint address itself.
fn host_moves(
    desired: &BTreeMap<String, EndPoint>,
    applied: &BTreeMap<String, EndPoint>,
    applied_keys: &BTreeMap<&str, BTreeSet<String>>,
) -> BTreeSet<String> {
    desired
        .iter()
        .filter(|(key, ep)| {
            let current = match applied.get(*key) {
                Some(a) => Some(a.host_name.clone()),
                None if applied_keys.values().any(|ks| ks.contains(*key)) => {
                    ProbeKey::parse(key).map(|k| k.host)
                }
                None => None,
            };
            current.is_some_and(|h| !same_host(&h, &ep.host_name))
        })
        .map(|(key, _)| key.clone())
        .collect()
}

fn same_host(a: &str, b: &str) -> bool {
    match (a.parse::<std::net::IpAddr>(), b.parse::<std::net::IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// Deletions for probes that may exist on the node without our record of them: of
/// the keys the load balancer referred to before this sync (`uncertain`; references
/// are written before any POST, so a crash between a POST and its applied record
/// leaves the key among them), those neither wanted nor recorded as applied. Deleting
/// a probe that is not there is harmless; leaving one that is would leak it for ever,
/// since nothing else attributes it to us. This replaces an intent written before
/// every run of POSTs, which cost a commit per run.
pub fn uncertain_deletes(
    uncertain: &BTreeMap<String, EndPoint>,
    desired: &BTreeMap<String, EndPoint>,
    applied: &BTreeMap<String, EndPoint>,
) -> Vec<ProbeOp> {
    uncertain
        .iter()
        .filter(|(k, _)| !desired.contains_key(*k) && !applied.contains_key(*k))
        .map(|(k, ep)| delete_op(k, ep))
        .collect()
}

fn delete_op(key: &str, ep: &EndPoint) -> ProbeOp {
    ProbeOp::Delete {
        key: ProbeKey::parse(key).unwrap_or_else(|| ProbeKey {
            host: ep.host_name.clone(),
            proto: ep.probe_type.clone(),
            port: ep.probe_port,
        }),
        endpoint: ep.clone(),
    }
}

/// True when `rule` has the probe's endpoint and LoxiLB, creating the probe for it,
/// would give it exactly `ep` (the rule's options over LoxiLB's defaults).
pub fn rule_creates(rule: &LoadbalanceEntry, ep: &EndPoint) -> bool {
    let Some(key) = ProbeKey::parse(&ep.name) else {
        return false;
    };
    let args = &rule.service_arguments;
    args.monitor && endpoint_keys(rule).contains(&ep.name) && rule_referred_probe(args, &key) == *ep
}

#[cfg(test)]
mod tests;
