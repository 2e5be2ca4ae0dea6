use serde_json::json;

use super::*;
use crate::mapping::fixtures::{patch, Bodies};
use crate::mapping::{desired_for_lb, MappingOptions};
use crate::model::Listener;

fn only_rule(b: &Bodies) -> LoadbalanceEntry {
    let d = b.desired();
    assert_eq!(d.rules.len(), 1, "expected exactly one rule");
    d.rules[0].entry.clone()
}

#[test]
fn rule_names_round_trip_and_foreign_names_are_not_ours() {
    let id = "7f1c2a9e-0000-4000-8000-000000000001";
    assert_eq!(rule_name(id), format!("octavia-{id}"));
    assert_eq!(listener_of_rule_name(&rule_name(id)), Some(id));
    for foreign in ["", "octavia-", "k8s-svc", "Octavia-x", "xoctavia-y"] {
        assert_eq!(listener_of_rule_name(foreign), None, "{foreign:?}");
    }
    let mut e = LoadbalanceEntry::default();
    assert!(!is_ours_rule(&e));
    e.service_arguments.name = rule_name("l1");
    assert!(is_ours_rule(&e));
}

#[test]
fn only_octavia_dash_canonical_uuid_is_our_exact_pattern() {
    let id = "7f1c2a9e-0000-4000-8000-000000000001";
    assert_eq!(exact_pattern_listener(&rule_name(id)), Some(id));
    for not_exact in [
        "octavia-listener-7f1c2a9e-0000-4000-8000-000000000001",
        "octavia-7F1C2A9E-0000-4000-8000-000000000001",
        "octavia-7f1c2a9e-0000-4000-8000-00000000000",
        "octavia-7f1c2a9e-0000-4000-8000-000000000001x",
        "octavia-7f1c2a9e00000-4000-8000-000000000001",
        "octavia-gone",
        "7f1c2a9e-0000-4000-8000-000000000001",
    ] {
        assert_eq!(exact_pattern_listener(not_exact), None, "{not_exact:?}");
    }
}

#[test]
fn basic_rule_has_every_argument() {
    let b = Bodies::basic();
    let d = b.desired();
    assert_eq!(
        (d.rules[0].listener_id.as_str(), d.rules[0].pool_id.as_str()),
        ("l1", "p1")
    );
    let e = only_rule(&b);
    let a = &e.service_arguments;
    assert_eq!(a.oper, Oper::Create);
    assert_eq!(a.inactive_timeout, 0);
    assert!(!a.monitor && a.probetype.is_empty() && a.probe_timeout == 0);
    let eps: Vec<(&str, u16, u32)> = e
        .endpoints
        .iter()
        .map(|x| (x.endpoint_ip.as_str(), x.target_port, x.weight))
        .collect();
    assert_eq!(eps, vec![("10.1.0.1", 8080, 1), ("10.1.0.2", 8080, 1)]);
    assert!(e.allowed_sources.is_empty() && e.secondary_ips.is_empty());
    assert!(d.probes.is_empty(), "no monitor, no probes");
}

/// LoxiLB honours weights only with selection priority (rules.go LB2DP, LbSelPrio:
/// weight × slots / 100 datapath slots); the handler cuts weights to 8 bits, so 256 must
/// never be sent as is.
#[test]
fn differing_weights_become_priority_percentages() {
    let mut b = Bodies::basic();
    patch(&mut b.members[0], json!({"weight": 256}));
    patch(
        &mut b.members[1],
        json!({"weight": null, "admin_state_up": null}),
    );
    let e = only_rule(&b);
    let w: Vec<u32> = e.endpoints.iter().map(|e| e.weight).collect();
    assert_eq!(e.service_arguments.sel, Sel::Priority);
    assert_eq!(w, vec![99, 1], "256:1 as percentages, each at least 1");
    assert_eq!(w.iter().sum::<u32>(), 100);

    // Equal weights: plain round robin, weights irrelevant to LoxiLB (sent as 1).
    patch(&mut b.members[0], json!({"weight": 7}));
    patch(&mut b.members[1], json!({"weight": 7}));
    let e = only_rule(&b);
    assert_eq!(e.service_arguments.sel, Sel::RoundRobin);
    assert!(e.endpoints.iter().all(|e| e.weight == 1));

    // Other algorithms ignore weights in LoxiLB: no priority, weights 1.
    patch(&mut b.members[0], json!({"weight": 3}));
    patch(
        &mut b.pools[0],
        json!({"lb_algorithm": "LEAST_CONNECTIONS"}),
    );
    let e = only_rule(&b);
    assert_eq!(e.service_arguments.sel, Sel::LeastConnections);
    assert!(e.endpoints.iter().all(|e| e.weight == 1));
}

#[test]
fn weight_percentages_sum_to_100_and_stop_past_the_slots() {
    assert_eq!(weight_percentages(&[1, 1, 1]), None);
    assert_eq!(weight_percentages(&[1, 2]), Some(vec![33, 67]));
    assert_eq!(weight_percentages(&[1, 1, 2]), Some(vec![25, 25, 50]));
    assert_eq!(
        weight_percentages(&[10, 20, 30, 40]),
        Some(vec![10, 20, 30, 40])
    );
    let many: Vec<u16> = (1..=17).collect();
    assert_eq!(weight_percentages(&many), None, "17 members > 16 slots");
    let sixteen: Vec<u16> = (1..=16).collect();
    let p = weight_percentages(&sixteen).unwrap_or_default();
    assert_eq!(p.iter().sum::<u32>(), 100);
    assert!(p.iter().all(|x| *x >= 1));
}

#[test]
fn nat_mode_comes_from_config_unless_the_flavor_overrides_it() {
    let b = Bodies::basic();
    let opts = |nat_mode| MappingOptions {
        nat_mode,
        ..MappingOptions::default()
    };
    let mode = |b: &Bodies, o| b.desired_with(&o).rules[0].entry.service_arguments.mode;
    assert_eq!(mode(&b, opts(NatMode::Dnat)), Mode::Dnat);
    assert_eq!(mode(&b, opts(NatMode::Dsr)), Mode::Dsr);
    for (flavor, expected) in [
        (json!({"nat_mode": "onearm"}), Mode::OneArm),
        (json!({"nat_mode": "FullProxy"}), Mode::FullProxy),
        (json!({"nat_mode": "bogus"}), Mode::Dnat),
        (json!({"nat_mode": 3}), Mode::Dnat),
        (json!({"other": "x"}), Mode::Dnat),
    ] {
        let mut f = b.clone();
        patch(&mut f.lb, json!({ "flavor": flavor }));
        assert_eq!(mode(&f, opts(NatMode::Dnat)), expected, "{flavor}");
    }
}

#[test]
fn flavor_lb_algorithm_replaces_the_pools_but_not_persistence() {
    let sel = |flavor: serde_json::Value, pool: serde_json::Value| {
        let mut b = Bodies::basic();
        patch(&mut b.lb, json!({ "flavor": flavor }));
        patch(&mut b.pools[0], pool);
        only_rule(&b).service_arguments.sel
    };
    let rr = json!({"lb_algorithm": "ROUND_ROBIN"});
    assert_eq!(
        sel(json!({"lb_algorithm": "LEAST_CONNECTIONS"}), rr.clone()),
        Sel::LeastConnections
    );
    assert_eq!(
        sel(json!({"lb_algorithm": "SOURCE_IP_PORT"}), rr.clone()),
        Sel::Hash
    );
    assert_eq!(
        sel(json!({"lb_algorithm": "bogus"}), rr.clone()),
        Sel::RoundRobin
    );
    assert_eq!(sel(json!({"lb_algorithm": 7}), rr.clone()), Sel::RoundRobin);
    assert_eq!(
        sel(
            json!({"nat_mode": "dsr"}),
            json!({"lb_algorithm": "SOURCE_IP"})
        ),
        Sel::Hash
    );
    let sticky =
        json!({"lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "SOURCE_IP"}});
    assert_eq!(
        sel(json!({"lb_algorithm": "LEAST_CONNECTIONS"}), sticky),
        Sel::Persist
    );
}

#[test]
fn allowed_cidrs_become_sorted_unique_prefixes() {
    let mut b = Bodies::basic();
    patch(
        &mut b.listeners[0],
        json!({"allowed_cidrs": ["192.168.0.0/16", "10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"]}),
    );
    let p: Vec<String> = only_rule(&b)
        .allowed_sources
        .into_iter()
        .map(|s| s.prefix)
        .collect();
    assert_eq!(p, vec!["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"]);
}

#[test]
fn client_data_timeout_is_rounded_up_to_seconds() {
    for (ms, secs) in [
        (0u32, 0i32),
        (1, 1),
        (999, 1),
        (1000, 1),
        (1001, 2),
        (50000, 50),
    ] {
        let mut b = Bodies::basic();
        patch(&mut b.listeners[0], json!({ "timeout_client_data": ms }));
        assert_eq!(
            only_rule(&b).service_arguments.inactive_timeout,
            secs,
            "{ms} ms"
        );
    }
    let l = Listener {
        timeout_client_data: Some(u32::MAX),
        ..Listener::default()
    };
    assert_eq!(inactive_timeout(&l), 4_294_968);
}

#[test]
fn no_rule_when_anything_on_the_path_is_admin_down_or_empty() {
    type Case = (&'static str, fn(&mut Bodies));
    let cases: Vec<Case> = vec![
        ("lb down", |b| {
            patch(&mut b.lb, json!({"admin_state_up": false}))
        }),
        ("no vip", |b| patch(&mut b.lb, json!({"vip_address": null}))),
        ("listener down", |b| {
            patch(&mut b.listeners[0], json!({"admin_state_up": false}))
        }),
        ("pool down", |b| {
            patch(&mut b.pools[0], json!({"admin_state_up": false}))
        }),
        ("no port", |b| {
            patch(&mut b.listeners[0], json!({"protocol_port": null}))
        }),
        ("no pool", |b| b.pools.clear()),
        ("no members", |b| b.members.clear()),
        ("all drained", |b| {
            for m in &mut b.members {
                patch(m, json!({"weight": 0}));
            }
        }),
        ("all admin down", |b| {
            for m in &mut b.members {
                patch(m, json!({"admin_state_up": false}));
            }
        }),
        ("members of another pool", |b| {
            for m in &mut b.members {
                patch(m, json!({"pool_id": "p9"}));
            }
        }),
        ("listener without default pool", |b| {
            patch(&mut b.listeners[0], json!({"default_pool_id": null}));
            patch(&mut b.pools[0], json!({"listener_id": null}));
        }),
    ];
    let basic = Bodies::basic();
    let tree = basic.tree();
    assert!(listener_expects_rule(&tree, &tree.listeners[0]));
    for (case, f) in cases {
        let mut b = Bodies::basic();
        f(&mut b);
        assert!(b.desired().rules.is_empty(), "{case}");
        // Health status must agree: no rule here is as intended, not a missing rule.
        let tree = b.tree();
        assert!(
            tree.listeners
                .iter()
                .all(|l| !listener_expects_rule(&tree, l)),
            "{case}"
        );
    }
}

#[test]
fn drained_and_admin_down_members_are_left_out() {
    let mut b = Bodies::basic();
    b.members.push(
        json!({"member_id": "m3", "pool_id": "p1", "address": "10.1.0.3",
        "protocol_port": 8080}),
    );
    patch(&mut b.members[0], json!({"weight": 0}));
    patch(&mut b.members[1], json!({"admin_state_up": false}));
    let ips: Vec<String> = only_rule(&b)
        .endpoints
        .into_iter()
        .map(|e| e.endpoint_ip)
        .collect();
    assert_eq!(ips, vec!["10.1.0.3"]);
}

#[test]
fn pool_found_through_its_listener_id_and_several_listeners() {
    let mut b = Bodies::basic();
    patch(&mut b.listeners[0], json!({"default_pool_id": null}));
    b.listeners
        .push(json!({"listener_id": "l0", "protocol": "UDP", "protocol_port": 53}));
    let d = b.desired();
    let names: Vec<&str> = d.rules.iter().map(|r| r.listener_id.as_str()).collect();
    assert_eq!(names, vec!["l1"], "l0 has no pool");
}

#[test]
fn monitored_pool_puts_probe_options_on_the_rule() {
    let b = Bodies::monitored();
    let a = only_rule(&b).service_arguments;
    assert!(a.monitor);
    assert_eq!(
        (
            a.probetype.as_str(),
            a.probeport,
            a.probereq.as_str(),
            a.proberesp.as_str()
        ),
        ("", 0, "", ""),
        "LoxiLB refuses http on a rule: defaults there, the HTTP probe is posted"
    );
    assert_eq!((a.probe_timeout, a.probe_retries), (10, 3));
}

#[test]
fn rule_probe_port_follows_what_loxilb_can_express() {
    // (monitor type, member1 patch, member2 patch) -> (probetype, probeport)
    let rows = vec![
        ("HTTP", json!({}), json!({}), ("", 0)),
        (
            "HTTP",
            json!({"monitor_port": 9000}),
            json!({"monitor_port": 9000}),
            ("", 0),
        ),
        ("HTTPS", json!({}), json!({}), ("", 0)),
        ("TCP", json!({}), json!({}), ("tcp", 8080)),
        ("TCP", json!({}), json!({"protocol_port": 8081}), ("", 0)),
        (
            "TCP",
            json!({"monitor_port": 22}),
            json!({"monitor_port": 22, "protocol_port": 81}),
            ("tcp", 22),
        ),
        ("UDP-CONNECT", json!({}), json!({}), ("udp", 8080)),
        ("PING", json!({"monitor_port": 1}), json!({}), ("ping", 0)),
    ];
    for (t, m1, m2, expected) in rows {
        let mut b = Bodies::monitored();
        patch(&mut b.monitors[0], json!({ "type": t }));
        patch(&mut b.members[0], m1.clone());
        patch(&mut b.members[1], m2.clone());
        let a = only_rule(&b).service_arguments;
        assert!(a.monitor, "{t}");
        assert_eq!(
            (a.probetype.as_str(), a.probeport),
            expected,
            "{t} {m1} {m2}"
        );
        assert!(
            a.probereq.is_empty() && a.proberesp.is_empty(),
            "only endpoint probes carry a request"
        );
        assert!(
            ["", "tcp", "udp", "sctp", "ping", "none"].contains(&a.probetype.as_str()),
            "AddLbRule accepts only these: {}",
            a.probetype
        );
        assert_eq!(
            (a.probe_timeout, a.probe_retries),
            (10, 3),
            "timing is always set"
        );
    }
}

#[test]
fn admin_down_monitor_means_no_monitoring() {
    let mut b = Bodies::monitored();
    patch(&mut b.monitors[0], json!({"admin_state_up": false}));
    let d = desired_for_lb(&b.tree(), &MappingOptions::default());
    assert!(!d.rules[0].entry.service_arguments.monitor);
    assert!(d.rules[0].entry.service_arguments.probetype.is_empty());
    assert!(d.probes.is_empty());
}

#[test]
fn ipv6_addresses_are_canonical_text() {
    let mut b = Bodies::basic();
    patch(&mut b.lb, json!({"vip_address": "2001:DB8:0:0::1"}));
    for m in &mut b.members {
        patch(m, json!({"address": "2001:db8::0:10"}));
    }
    patch(&mut b.members[1], json!({"protocol_port": 8081}));
    let e = only_rule(&b);
    assert_eq!(e.service_arguments.external_ip, "2001:db8::1");
    assert_eq!(e.endpoints[0].endpoint_ip, "2001:db8::10");
}
