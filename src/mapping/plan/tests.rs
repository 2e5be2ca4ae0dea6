use serde_json::json;

use super::*;
use crate::loxilb::types::{AllowedSource, Oper};
use crate::mapping::fixtures::{op_names as names, patch, Bodies};
use crate::mapping::rule_default_probe;

fn applied_of(rules: &[DesiredRule]) -> BTreeMap<String, LoadbalanceEntry> {
    rules
        .iter()
        .map(|r| (r.entry.service_arguments.name.clone(), r.entry.clone()))
        .collect()
}

#[test]
fn missing_rules_are_applied_and_equal_ones_left_alone() {
    let d = Bodies::basic().desired();
    let ops = plan_rules(&d.rules, &BTreeMap::new());
    assert_eq!(ops, vec![RuleOp::Apply(d.rules[0].entry.clone())]);
    assert!(plan_rules(&d.rules, &applied_of(&d.rules)).is_empty());
}

#[test]
fn canonical_form_ignores_order_state_and_port_max_zero() {
    let d = Bodies::basic().desired();
    let mut applied = applied_of(&d.rules);
    let e = applied.get_mut("octavia-l1").unwrap();
    e.endpoints.reverse();
    e.endpoints[0].state = Some("active".into());
    e.endpoints[1].counter = Some("3:100".into());
    e.service_arguments.port_max = 0;
    assert!(plan_rules(&d.rules, &applied).is_empty());

    let mut with_sources = d.rules.clone();
    with_sources[0].entry.allowed_sources = vec![
        AllowedSource {
            prefix: "10.0.0.0/8".into(),
        },
        AllowedSource {
            prefix: "1.0.0.0/8".into(),
        },
    ];
    let mut applied = applied_of(&with_sources);
    applied
        .get_mut("octavia-l1")
        .unwrap()
        .allowed_sources
        .reverse();
    assert!(plan_rules(&with_sources, &applied).is_empty());
}

#[test]
fn changed_rules_are_reapplied() {
    let before = Bodies::basic();
    let applied = applied_of(&before.desired().rules);
    let changes: Vec<fn(&mut Bodies)> = vec![
        |b| patch(&mut b.members[0], json!({"weight": 5})),
        |b| {
            patch(
                &mut b.pools[0],
                json!({"lb_algorithm": "LEAST_CONNECTIONS"}),
            )
        },
        |b| {
            patch(
                &mut b.listeners[0],
                json!({"allowed_cidrs": ["10.0.0.0/8"]}),
            )
        },
    ];
    for (i, f) in changes.into_iter().enumerate() {
        let mut b = before.clone();
        f(&mut b);
        let d = b.desired();
        let ops = plan_rules(&d.rules, &applied);
        assert_eq!(
            ops,
            vec![RuleOp::Apply(d.rules[0].entry.clone())],
            "change {i}"
        );
    }
}

/// getLBConsolidatedEPs keeps endpoints left out of an oper-0 post hidden (and resets
/// everything past 32), so endpoints leave by detach (oper 2); an update follows only
/// when something else changed too.
#[test]
fn removed_endpoints_are_detached_not_left_out() {
    let before = Bodies::basic();
    let applied = applied_of(&before.desired().rules);
    let mut drained = before.clone();
    patch(&mut drained.members[0], json!({"weight": 0}));
    let d = drained.desired();
    let ops = plan_rules(&d.rules, &applied);
    assert_eq!(names(&ops), vec!["detach octavia-l1 x1"]);
    let RuleOp::Detach { detach, leaves } = &ops[0] else {
        panic!("{ops:?}");
    };
    assert_eq!(detach.service_arguments.oper, Oper::Detach);
    assert_eq!(detach.endpoints[0].endpoint_ip, "10.1.0.1");
    assert_eq!(leaves, &d.rules[0].entry, "what LoxiLB holds afterwards");

    // Removal and a weight change: detach, then the update.
    let mut both = drained.clone();
    patch(&mut both.members[1], json!({"weight": 3}));
    both.members.push(json!({"member_id": "m3", "pool_id": "p1",
        "address": "10.1.0.3", "protocol_port": 8080, "weight": 1}));
    let d = both.desired();
    assert_eq!(
        names(&plan_rules(&d.rules, &applied)),
        vec!["detach octavia-l1 x1", "apply octavia-l1"]
    );

    // Nothing of the old list stays: delete and create, never an empty rule.
    let mut replaced = before.clone();
    for m in &mut replaced.members {
        patch(m, json!({"protocol_port": 9090}));
    }
    let d = replaced.desired();
    assert_eq!(
        names(&plan_rules(&d.rules, &applied)),
        vec!["delete octavia-l1@80", "apply octavia-l1"]
    );
}

/// AddLbRule never sees a change between allowed-source lists of equal length (a lone
/// change is answered 409 "lbrule-exists" and nothing is stored): such a rule is
/// re-created; a list of another length is an ordinary update.
#[test]
fn allowed_sources_replaced_one_for_one_recreate_the_rule() {
    let mut before = Bodies::basic();
    patch(
        &mut before.listeners[0],
        json!({"allowed_cidrs": ["10.0.0.0/8"]}),
    );
    let applied = applied_of(&before.desired().rules);
    let mut other = before.clone();
    patch(
        &mut other.listeners[0],
        json!({"allowed_cidrs": ["192.168.0.0/16"]}),
    );
    assert_eq!(
        names(&plan_rules(&other.desired().rules, &applied)),
        vec!["delete octavia-l1@80", "apply octavia-l1"]
    );
    let mut more = before.clone();
    patch(
        &mut more.listeners[0],
        json!({"allowed_cidrs": ["10.0.0.0/8", "192.168.0.0/16"]}),
    );
    assert_eq!(
        names(&plan_rules(&more.desired().rules, &applied)),
        vec!["apply octavia-l1"]
    );
}

#[test]
fn rules_no_longer_desired_are_deleted_by_their_applied_key() {
    let d = Bodies::basic().desired();
    let applied = applied_of(&d.rules);
    let ops = plan_rules(&[], &applied);
    assert_eq!(
        ops,
        vec![RuleOp::Delete {
            external_ip: "10.0.0.1".into(),
            port: 80,
            protocol: "tcp".into(),
            name: "octavia-l1".into(),
        }]
    );
}

#[test]
fn key_change_deletes_the_old_key_before_applying() {
    let before = Bodies::basic();
    let applied = applied_of(&before.desired().rules);
    for p in [json!({"protocol_port": 81}), json!({"protocol": "UDP"})] {
        let mut b = before.clone();
        patch(&mut b.listeners[0], p.clone());
        let ops = plan_rules(&b.desired().rules, &applied);
        assert_eq!(
            names(&ops),
            vec!["delete octavia-l1@80", "apply octavia-l1"],
            "{p}"
        );
    }
    let mut b = before.clone();
    patch(&mut b.lb, json!({"vip_address": "10.0.0.2"}));
    let ops = plan_rules(&b.desired().rules, &applied);
    assert!(matches!(&ops[0], RuleOp::Delete { external_ip, .. } if external_ip == "10.0.0.1"));
    assert!(matches!(&ops[1], RuleOp::Apply(e) if e.service_arguments.external_ip == "10.0.0.2"));
}

#[test]
fn swapped_ports_delete_everything_first() {
    let mut b = Bodies::basic();
    b.listeners.push(
        json!({"listener_id": "l2", "protocol": "TCP", "protocol_port": 81,
        "default_pool_id": "p1"}),
    );
    let applied = applied_of(&b.desired().rules);
    patch(&mut b.listeners[0], json!({"protocol_port": 81}));
    patch(&mut b.listeners[1], json!({"protocol_port": 80}));
    let ops = plan_rules(&b.desired().rules, &applied);
    assert_eq!(
        names(&ops),
        vec![
            "delete octavia-l1@80",
            "delete octavia-l2@81",
            "apply octavia-l1",
            "apply octavia-l2"
        ]
    );
}

fn probes(list: &[EndPoint]) -> BTreeMap<String, EndPoint> {
    list.iter().map(|e| (e.name.clone(), e.clone())).collect()
}

#[test]
fn probe_plan_posts_missing_and_changed_and_deletes_stale() {
    let k = |host: &str| ProbeKey {
        host: host.into(),
        proto: "tcp".into(),
        port: 80,
    };
    let same = rule_default_probe(&k("10.1.0.1"));
    let old_opts = rule_default_probe(&k("10.1.0.2"));
    let mut new_opts = old_opts.clone();
    new_opts.probe_duration = 5;
    let fresh = rule_default_probe(&k("10.1.0.3"));
    let stale = rule_default_probe(&k("10.1.0.4"));

    assert!(plan_probes(
        &probes(std::slice::from_ref(&same)),
        &probes(std::slice::from_ref(&same))
    )
    .is_empty());
    let ops = plan_probes(
        &probes(&[same.clone(), new_opts.clone(), fresh.clone()]),
        &probes(&[same, old_opts, stale.clone()]),
    );
    assert_eq!(
        ops,
        vec![
            ProbeOp::Delete {
                key: k("10.1.0.4"),
                endpoint: stale
            },
            ProbeOp::Post(new_opts),
            ProbeOp::Post(fresh),
        ]
    );
}

#[test]
fn probe_delete_falls_back_to_endpoint_fields_for_odd_names() {
    let ep = EndPoint {
        host_name: "10.1.0.9".into(),
        name: "custom".into(),
        probe_type: "http".into(),
        probe_port: 81,
        ..EndPoint::default()
    };
    let ops = plan_probes(&BTreeMap::new(), &probes(std::slice::from_ref(&ep)));
    assert_eq!(
        ops,
        vec![ProbeOp::Delete {
            key: ProbeKey {
                host: "10.1.0.9".into(),
                proto: "http".into(),
                port: 81
            },
            endpoint: ep
        }]
    );
}

#[test]
fn client_timeout_change_recreates_the_rule() {
    // LoxiLB answers 409 "lbrule-exists" to a re-POST differing only in
    // inactiveTimeOut: the change must go through delete and create.
    let before = Bodies::basic();
    let applied = applied_of(&before.desired().rules);
    let mut b = before.clone();
    patch(&mut b.listeners[0], json!({"timeout_client_data": 5000}));
    assert_eq!(
        names(&plan_rules(&b.desired().rules, &applied)),
        vec!["delete octavia-l1@80", "apply octavia-l1"]
    );
}

#[test]
fn monitor_or_mode_change_recreates_the_rule() {
    // LoxiLB keeps `monitor` and the NAT mode of an existing rule on update, so a
    // change of either must delete the rule and create it again.
    let before = Bodies::basic();
    let applied = applied_of(&before.desired().rules);
    let mut flipped = before.desired().rules;
    flipped[0].entry.service_arguments.monitor = !flipped[0].entry.service_arguments.monitor;
    assert_eq!(
        names(&plan_rules(&flipped, &applied)),
        vec!["delete octavia-l1@80", "apply octavia-l1"]
    );
    let mut b = before.clone();
    patch(&mut b.lb, json!({"flavor": {"nat_mode": "dsr"}}));
    assert_eq!(
        names(&plan_rules(&b.desired().rules, &applied)),
        vec!["delete octavia-l1@80", "apply octavia-l1"]
    );
}
