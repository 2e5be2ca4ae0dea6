//! Table tests of the pure node comparison.

use std::collections::BTreeSet;

use super::*;
use crate::loxilb::{LbEndpoint, ServiceArguments};

fn rule(name: &str, port: u16, eps: &[(&str, u16)]) -> LoadbalanceEntry {
    LoadbalanceEntry {
        service_arguments: ServiceArguments {
            external_ip: "10.0.0.1".into(),
            port,
            protocol: "tcp".into(),
            name: name.into(),
            ..Default::default()
        },
        endpoints: eps
            .iter()
            .map(|(ip, p)| LbEndpoint {
                endpoint_ip: (*ip).into(),
                target_port: *p,
                weight: 1,
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn ep(key: &str, duration: u32) -> EndPoint {
    EndPoint {
        host_name: "10.1.0.1".into(),
        name: key.into(),
        probe_type: "http".into(),
        probe_port: 80,
        probe_req: "/health".into(),
        probe_resp: "200".into(),
        probe_duration: duration,
        inactive_retries: 2,
    }
}

fn seen(e: &EndPoint) -> EndPointGetEntry {
    EndPointGetEntry {
        host_name: e.host_name.clone(),
        name: e.name.clone(),
        probe_type: e.probe_type.clone(),
        probe_port: e.probe_port,
        probe_req: e.probe_req.clone(),
        probe_resp: e.probe_resp.clone(),
        probe_duration: e.probe_duration,
        inactive_retries: e.inactive_retries,
        curr_state: "ok".into(),
        ..Default::default()
    }
}

struct Case {
    name: &'static str,
    applied_rules: Vec<(String, String, String)>,
    applied_probes: Vec<(String, String)>,
    observed_rules: Vec<LoadbalanceEntry>,
    observed_probes: Vec<EndPointGetEntry>,
    listeners: &'static [&'static str],
    refs: &'static [&'static str],
    drift: &'static [(&'static str, &'static str)],
    orphans: &'static [&'static str],
}

fn rec_rule(lb: &str, r: &LoadbalanceEntry) -> (String, String, String) {
    let body = serde_json::to_string(r).unwrap_or_default();
    (lb.into(), r.service_arguments.name.clone(), body)
}

fn rec_probe(e: &EndPoint) -> (String, String) {
    (e.name.clone(), serde_json::to_string(e).unwrap_or_default())
}

const K: &str = "10.1.0.1_tcp_80";
/// An unrecorded rule under exactly our name pattern.
const GONE: &str = "octavia-0b6e3f1a-0000-4000-8000-00000000dead";

fn cases() -> Vec<Case> {
    let mut all = drift_cases();
    all.extend(orphan_cases());
    all
}

/// Recorded objects compared with the node's.
fn drift_cases() -> Vec<Case> {
    let r1 = rule("octavia-l1", 80, &[("10.1.0.1", 80)]);
    let p1 = ep(K, 5);
    vec![
        Case {
            name: "everything in place: nothing to say",
            applied_rules: vec![rec_rule("lb1", &r1)],
            applied_probes: vec![rec_probe(&p1)],
            observed_rules: vec![r1.clone()],
            observed_probes: vec![seen(&p1)],
            listeners: &["l1"],
            refs: &[K],
            drift: &[],
            orphans: &[],
        },
        Case {
            name: "restart: rule and probe missing",
            applied_rules: vec![rec_rule("lb1", &r1)],
            applied_probes: vec![rec_probe(&p1)],
            observed_rules: vec![],
            observed_probes: vec![],
            listeners: &["l1"],
            refs: &[K],
            drift: &[("octavia-l1", "rule missing"), (K, "probe missing")],
            orphans: &[],
        },
        Case {
            name: "endpoint list and probe options changed behind our back",
            applied_rules: vec![rec_rule("lb1", &r1)],
            applied_probes: vec![rec_probe(&p1)],
            observed_rules: vec![rule("octavia-l1", 80, &[("10.9.9.9", 80)])],
            observed_probes: vec![seen(&ep(K, 30))],
            listeners: &["l1"],
            refs: &[K],
            drift: &[
                ("octavia-l1", "endpoints"),
                (K, "probeDuration \"5\" -> \"30\""),
            ],
            orphans: &[],
        },
        Case {
            name: "run-time fields are not drift",
            applied_rules: vec![rec_rule("lb1", &r1)],
            applied_probes: vec![rec_probe(&p1)],
            observed_rules: vec![{
                let mut r = r1.clone();
                r.endpoints[0].state = Some("inactive".into());
                r.endpoints[0].counter = Some("5:500".into());
                r
            }],
            observed_probes: vec![{
                let mut s = seen(&p1);
                s.curr_state = "nok".into();
                s.avg_delay = "3ms".into();
                s
            }],
            listeners: &["l1"],
            refs: &[K],
            drift: &[],
            orphans: &[],
        },
    ]
}

/// Unrecorded and unreferenced objects: orphans only when ours.
fn orphan_cases() -> Vec<Case> {
    let r1 = rule("octavia-l1", 80, &[("10.1.0.1", 80)]);
    let p1 = ep(K, 5);
    vec![
        Case {
            name:
                "our unrecorded rule of a deleted listener and our unreferenced probe are orphans",
            applied_rules: vec![],
            applied_probes: vec![rec_probe(&p1)],
            observed_rules: vec![rule(GONE, 81, &[])],
            observed_probes: vec![seen(&p1)],
            listeners: &["l1"],
            refs: &[],
            drift: &[],
            orphans: &[GONE, K],
        },
        Case {
            name: "foreign rule and foreign probe (even with our key) are never candidates",
            applied_rules: vec![],
            applied_probes: vec![],
            observed_rules: vec![
                rule("someone-else", 82, &[]),
                rule("octavia-", 83, &[]),
                // Another driver's naming, and our prefix without a listener UUID.
                rule(
                    "octavia-listener-0b6e3f1a-0000-4000-8000-00000000dead",
                    84,
                    &[],
                ),
                rule("octavia-gone", 85, &[]),
            ],
            observed_probes: vec![seen(&p1), seen(&ep("10.2.2.2_tcp_1", 9))],
            listeners: &[],
            refs: &[],
            drift: &[],
            orphans: &[],
        },
        Case {
            name: "an unrecorded rule of a desired listener is not an orphan (sync in flight)",
            applied_rules: vec![],
            applied_probes: vec![],
            observed_rules: vec![r1.clone()],
            observed_probes: vec![],
            listeners: &["l1"],
            refs: &[],
            drift: &[],
            orphans: &[],
        },
        Case {
            name: "an unreadable record is drift (forgotten and re-applied)",
            applied_rules: vec![("lb1".into(), "octavia-l1".into(), "{not json".into())],
            applied_probes: vec![(K.into(), "not json".into())],
            observed_rules: vec![r1.clone()],
            observed_probes: vec![seen(&p1)],
            listeners: &["l1"],
            refs: &[K],
            drift: &[("octavia-l1", "unreadable"), (K, "unreadable")],
            orphans: &[],
        },
    ]
}

#[test]
fn comparison_table() {
    for c in cases() {
        let listeners: BTreeSet<String> = c.listeners.iter().map(|s| s.to_string()).collect();
        let refs: BTreeSet<String> = c.refs.iter().map(|s| s.to_string()).collect();
        let f = compare(&NodeView {
            applied_rules: &c.applied_rules,
            applied_probes: &c.applied_probes,
            observed_rules: &c.observed_rules,
            observed_probes: &c.observed_probes,
            desired_listeners: &listeners,
            referenced_probes: &refs,
        });
        assert_eq!(f.drift.len(), c.drift.len(), "{}: {:?}", c.name, f.drift);
        for (name, what) in c.drift {
            assert!(
                f.drift
                    .iter()
                    .any(|d| d.name == *name && d.difference.contains(what)),
                "{}: no drift {name} ~ {what}: {:?}",
                c.name,
                f.drift
            );
        }
        let mut got: Vec<&str> = f.orphans.iter().map(|o| o.name.as_str()).collect();
        got.sort();
        let mut want: Vec<&str> = c.orphans.to_vec();
        want.sort();
        assert_eq!(got, want, "{}", c.name);
    }
}

/// A migration: our create met another driver's rule at the same VIP, port and
/// protocol, and LoxiLB updated that rule in place under its old name.
#[test]
fn a_rule_adopted_under_another_name_is_matched_by_key() {
    let ours = rule("octavia-l1", 80, &[("10.1.0.1", 80)]);
    let applied = vec![rec_rule("lb1", &ours)];
    let none = BTreeSet::new();
    let view = |observed: &[LoadbalanceEntry]| {
        compare(&NodeView {
            applied_rules: &applied,
            applied_probes: &[],
            observed_rules: observed,
            observed_probes: &[],
            desired_listeners: &none,
            referenced_probes: &none,
        })
    };
    let adopted = rule("octavia-listener-l1", 80, &[("10.1.0.1", 80)]);
    let f = view(std::slice::from_ref(&adopted));
    assert_eq!(f, Findings::default(), "same content: no drift, no orphan");

    let stale = rule("octavia-listener-l1", 80, &[("10.1.0.9", 80)]);
    let f = view(&[stale]);
    assert_eq!(f.drift.len(), 1);
    assert!(
        f.drift[0].difference.starts_with("endpoints"),
        "{:?}",
        f.drift
    );

    // Another port is another key: our rule is missing.
    let f = view(&[rule("octavia-listener-l1", 81, &[("10.1.0.1", 80)])]);
    assert_eq!(f.drift[0].difference, "rule missing on the node");
}

#[test]
fn rule_drift_records_the_owning_load_balancer() {
    let r1 = rule("octavia-l1", 80, &[]);
    let applied = vec![rec_rule("lb7", &r1)];
    let none = BTreeSet::new();
    let f = compare(&NodeView {
        applied_rules: &applied,
        applied_probes: &[],
        observed_rules: &[],
        observed_probes: &[],
        desired_listeners: &none,
        referenced_probes: &none,
    });
    assert_eq!(f.drift[0].loadbalancer_id, "lb7");
    assert_eq!(f.drift[0].kind, ObjectKind::Rule);
}

#[test]
fn orphan_probes_carry_what_a_deletion_needs() {
    let p = ep(K, 5);
    let applied = vec![rec_probe(&p)];
    let observed = vec![seen(&p)];
    let none = BTreeSet::new();
    let f = compare(&NodeView {
        applied_rules: &[],
        applied_probes: &applied,
        observed_rules: &[],
        observed_probes: &observed,
        desired_listeners: &none,
        referenced_probes: &none,
    });
    assert_eq!(
        f.orphans,
        vec![Orphan {
            kind: ObjectKind::Probe,
            name: K.into(),
            host: "10.1.0.1".into(),
            probe_type: "http".into(),
            port: 80,
        }]
    );
}
