use serde_json::json;

use super::*;
use crate::mapping::fixtures::{op_names as rule_names, patch, Bodies};
use crate::mapping::{merge_probe, DesiredLb};

/// The rules of `d` as they would be recorded once applied.
fn applied_of(d: &DesiredLb) -> BTreeMap<String, LoadbalanceEntry> {
    d.rules
        .iter()
        .map(|r| (r.entry.service_arguments.name.clone(), r.entry.clone()))
        .collect()
}

/// One merged probe per key, as the applier computes them.
fn probes_of(d: &DesiredLb) -> BTreeMap<String, EndPoint> {
    let mut by_key: BTreeMap<String, Vec<&crate::mapping::ProbeWant>> = BTreeMap::new();
    for w in &d.probes {
        by_key.entry(w.key.name()).or_default().push(w);
    }
    by_key
        .into_iter()
        .filter_map(|(k, ws)| merge_probe(&ws).map(|(ep, _)| (k, ep)))
        .collect()
}

fn posts(ops: &[ProbeOp]) -> Vec<String> {
    ops.iter()
        .filter_map(|op| match op {
            ProbeOp::Post(ep) => Some(format!("{}@{}", ep.name, ep.host_name)),
            ProbeOp::Delete { .. } => None,
        })
        .collect()
}

fn deletes(ops: &[ProbeOp]) -> Vec<String> {
    ops.iter()
        .filter_map(|op| match op {
            ProbeOp::Delete { key, .. } => Some(key.name()),
            ProbeOp::Post(_) => None,
        })
        .collect()
}

const M1: &str = "10.1.0.1_tcp_8080";
const M2: &str = "10.1.0.2_tcp_8080";

/// AddEPHost keeps an existing probe's options: an HTTP probe the rule cannot describe
/// is posted before the rule that refers to it.
#[test]
fn http_probes_are_posted_before_the_rule() {
    let d = Bodies::monitored().desired();
    let p = plan_node(&d.rules, &BTreeMap::new(), &probes_of(&d), &BTreeMap::new());
    assert!(p.rule_deletes.is_empty());
    assert_eq!(
        posts(&p.probes_before),
        vec![format!("{M1}@10.1.0.1"), format!("{M2}@10.1.0.2")]
    );
    assert_eq!(rule_names(&p.rule_applies), vec!["apply octavia-l1"]);
    assert!(p.created_by_rules.is_empty() && p.probes_after.is_empty());
}

/// modNatEpHost creates a TCP monitor's probes with the rule's options: no call.
#[test]
fn tcp_probes_the_rule_creates_cost_no_call() {
    let mut b = Bodies::monitored();
    patch(&mut b.monitors[0], json!({"type": "TCP"}));
    let d = b.desired();
    let p = plan_node(&d.rules, &BTreeMap::new(), &probes_of(&d), &BTreeMap::new());
    assert!(p.probes_before.is_empty(), "{:?}", p.probes_before);
    assert_eq!(p.created_by_rules.len(), 2);
    // Replayed: nothing to do.
    let applied_probes = probes_of(&d);
    let p = plan_node(&d.rules, &applied_of(&d), &probes_of(&d), &applied_probes);
    assert_eq!(p, NodePlan::default());
}

/// A probe whose record was lost while its rule stays: the rule will not make it again
/// (LoxiLB only adds a reference for an endpoint it has), so it is posted.
#[test]
fn an_unrecorded_probe_of_a_standing_rule_is_posted_not_assumed() {
    let mut b = Bodies::monitored();
    patch(&mut b.monitors[0], json!({"type": "TCP"}));
    let d = b.desired();
    let mut recorded = probes_of(&d);
    recorded.remove(M1);
    let p = plan_node(&d.rules, &applied_of(&d), &probes_of(&d), &recorded);
    assert_eq!(posts(&p.probes_before), vec![format!("{M1}@10.1.0.1")]);
    assert!(p.created_by_rules.is_empty() && p.rule_applies.is_empty());

    // A member added to the rule: its probe is the one the update makes.
    let mut b2 = b.clone();
    b2.members.push(json!({"member_id": "m3", "pool_id": "p1",
        "address": "10.1.0.3", "protocol_port": 8080}));
    let d2 = b2.desired();
    let p = plan_node(&d2.rules, &applied_of(&d), &probes_of(&d2), &probes_of(&d));
    assert!(p.probes_before.is_empty(), "{:?}", p.probes_before);
    assert_eq!(p.created_by_rules.len(), 1);
    assert_eq!(p.created_by_rules[0].name, "10.1.0.3_tcp_8080");
}

/// A monitor address is the probe's host: posted first, since a later POST keeps the
/// host LoxiLB gave the probe when the rule created it.
#[test]
fn monitor_address_probe_comes_first_even_for_tcp() {
    let mut b = Bodies::monitored();
    patch(&mut b.monitors[0], json!({"type": "TCP"}));
    patch(&mut b.members[0], json!({"monitor_address": "10.9.9.9"}));
    let d = b.desired();
    let p = plan_node(&d.rules, &BTreeMap::new(), &probes_of(&d), &BTreeMap::new());
    assert_eq!(posts(&p.probes_before), vec![format!("{M1}@10.9.9.9")]);
    assert_eq!(p.created_by_rules.len(), 1, "m2 is made by the rule");
}

/// A monitor address set later: LoxiLB keeps the probe's host on re-post, so the rule
/// holding it is re-created around a fresh post.
#[test]
fn a_probe_host_change_recreates_the_rule_around_it() {
    let b = Bodies::monitored();
    let before = b.desired();
    let applied = applied_of(&before);
    let applied_probes = probes_of(&before);
    let mut b2 = b.clone();
    patch(&mut b2.members[0], json!({"monitor_address": "10.9.9.9"}));
    let d = b2.desired();
    let p = plan_node(&d.rules, &applied, &probes_of(&d), &applied_probes);
    assert_eq!(rule_names(&p.rule_deletes), vec!["delete octavia-l1@80"]);
    assert_eq!(
        posts(&p.probes_before),
        vec![format!("{M1}@10.9.9.9"), format!("{M2}@10.1.0.2")],
        "both probes went with the rule; both come back first"
    );
    assert_eq!(rule_names(&p.rule_applies), vec!["apply octavia-l1"]);
}

/// DeleteLbRule drops the probes of its endpoints: a re-created rule (here a listener
/// timeout change, which LoxiLB answers 409 on update) gets its HTTP probes back first.
#[test]
fn a_recreated_rule_gets_its_probes_posted_again() {
    let b = Bodies::monitored();
    let before = b.desired();
    let mut b2 = b.clone();
    patch(&mut b2.listeners[0], json!({"timeout_client_data": 5000}));
    let d = b2.desired();
    let p = plan_node(
        &d.rules,
        &applied_of(&before),
        &probes_of(&d),
        &probes_of(&before),
    );
    assert_eq!(rule_names(&p.rule_deletes), vec!["delete octavia-l1@80"]);
    assert_eq!(posts(&p.probes_before).len(), 2);
    assert!(p.probes_after.is_empty());
    // Forgotten before the delete: a crash before the re-post leaves no false record.
    assert_eq!(
        p.forget_before_deletes,
        vec![M1.to_string(), M2.to_string()]
    );
}

/// An update that drops an endpoint drops its probe once no rule holds it: a drained
/// member's probe is posted again after the update; an undrained one needs nothing.
#[test]
fn a_drained_member_gets_its_probe_back_after_the_update() {
    let b = Bodies::monitored();
    let before = b.desired();
    let mut b2 = b.clone();
    patch(&mut b2.members[0], json!({"weight": 0}));
    let d = b2.desired();
    let p = plan_node(
        &d.rules,
        &applied_of(&before),
        &probes_of(&d),
        &probes_of(&before),
    );
    assert!(p.rule_deletes.is_empty() && p.probes_before.is_empty());
    assert_eq!(rule_names(&p.rule_applies), vec!["detach octavia-l1 x1"]);
    assert_eq!(posts(&p.probes_after), vec![format!("{M1}@10.1.0.1")]);
    assert_eq!(p.forget_before_applies, vec![M1.to_string()]);

    // Un-drain: the rule takes the endpoint back and references the existing probe.
    let p = plan_node(
        &before.rules,
        &applied_of(&d),
        &probes_of(&before),
        &probes_of(&d),
    );
    assert_eq!(rule_names(&p.rule_applies), vec!["apply octavia-l1"]);
    assert!(p.probes_before.is_empty() && p.probes_after.is_empty());
}

/// A deleted member's probe is deleted after the rule no longer refers to it.
#[test]
fn a_deleted_member_probe_goes_after_the_rule_update() {
    let b = Bodies::monitored();
    let before = b.desired();
    let mut b2 = b.clone();
    b2.members.remove(0);
    let d = b2.desired();
    let p = plan_node(
        &d.rules,
        &applied_of(&before),
        &probes_of(&d),
        &probes_of(&before),
    );
    assert_eq!(rule_names(&p.rule_applies), vec!["detach octavia-l1 x1"]);
    assert!(posts(&p.probes_after).is_empty());
    assert_eq!(deletes(&p.probes_after), vec![M1.to_string()]);
}

#[test]
fn endpoint_keys_follow_the_rule_protocol() {
    let d = Bodies::monitored().desired();
    let mut e = d.rules[0].entry.clone();
    assert_eq!(
        endpoint_keys(&e).into_iter().collect::<Vec<_>>(),
        vec![M1.to_string(), M2.to_string()]
    );
    e.service_arguments.protocol = "icmp".into();
    assert!(endpoint_keys(&e).contains("10.1.0.1_ping_0"));
}

/// A probe posted just before a crash, its record never written: deleted once
/// nothing wants it, left alone while it is wanted or recorded.
#[test]
fn an_unrecorded_probe_is_deleted_only_when_nothing_wants_it() {
    let ep = |key: &str| EndPoint {
        host_name: "127.0.0.1".into(),
        name: key.into(),
        probe_type: "http".into(),
        probe_port: 8080,
        probe_duration: 5,
        inactive_retries: 2,
        ..Default::default()
    };
    let uncertain: BTreeMap<String, EndPoint> = [
        "127.0.0.1_tcp_8080",
        "127.0.0.1_tcp_8081",
        "127.0.0.1_tcp_8082",
    ]
    .into_iter()
    .map(|k| (k.to_string(), ep(k)))
    .collect();
    let desired = BTreeMap::from([("127.0.0.1_tcp_8081".to_string(), ep("127.0.0.1_tcp_8081"))]);
    let applied = BTreeMap::from([("127.0.0.1_tcp_8082".to_string(), ep("127.0.0.1_tcp_8082"))]);
    let ops = uncertain_deletes(&uncertain, &desired, &applied);
    assert_eq!(deletes(&ops), ["127.0.0.1_tcp_8080"]);
    assert!(uncertain_deletes(&uncertain, &uncertain, &BTreeMap::new()).is_empty());
}

fn keys(ks: &[&str]) -> BTreeSet<String> {
    ks.iter().map(|k| k.to_string()).collect()
}

fn delete(name: &str) -> RuleOp {
    RuleOp::Delete {
        external_ip: "10.0.0.1".into(),
        port: 80,
        protocol: "tcp".into(),
        name: name.into(),
    }
}

/// A probe survives a rule deletion while any rule that stays holds its key (LoxiLB
/// deletes it only with the last reference): such a key is held, not gone.
#[test]
fn a_key_another_rule_holds_is_not_gone_with_a_deleted_rule() {
    let applied: BTreeMap<&str, BTreeSet<String>> =
        BTreeMap::from([("octavia-a", keys(&[M1, M2])), ("octavia-b", keys(&[M2]))]);
    let after = AfterDeletes::new(&applied, &[delete("octavia-a")]);
    assert_eq!(after.deleted, keys(&["octavia-a"]));
    assert_eq!(
        after.gone.into_iter().cloned().collect::<BTreeSet<_>>(),
        keys(&[M1])
    );
    assert_eq!(
        after.held.into_iter().cloned().collect::<BTreeSet<_>>(),
        keys(&[M2])
    );
}

/// Every rule holding a moving probe's key is re-created, and only those.
#[test]
fn only_rules_holding_a_moving_probe_are_recreated() {
    let applied: BTreeMap<&str, BTreeSet<String>> = BTreeMap::from([
        ("octavia-a", keys(&[M1])),
        ("octavia-b", keys(&[M1, M2])),
        ("octavia-c", keys(&[M2])),
    ]);
    assert_eq!(
        holders(&applied, &keys(&[M1])),
        keys(&["octavia-a", "octavia-b"])
    );
    assert!(holders(&applied, &BTreeSet::new()).is_empty());
}
