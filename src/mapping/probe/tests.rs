use serde_json::json;

use super::*;
use crate::mapping::fixtures::{patch, Bodies};

fn key(host: &str, proto: &str, port: u16) -> ProbeKey {
    ProbeKey {
        host: host.into(),
        proto: proto.into(),
        port,
    }
}

#[test]
fn key_name_is_what_rules_look_up_and_parses_back() {
    let k = key("10.1.0.1", "tcp", 8080);
    assert_eq!(k.name(), "10.1.0.1_tcp_8080");
    assert_eq!(ProbeKey::parse(&k.name()), Some(k));
    let v6 = key("2001:db8::1", "udp", 53);
    assert_eq!(ProbeKey::parse("2001:db8::1_udp_53"), Some(v6));
    for bad in [
        "",
        "x",
        "a_b",
        "_tcp_80",
        "1.1.1.1__80",
        "1.1.1.1_tcp_",
        "1.1.1.1_tcp_70000",
    ] {
        assert_eq!(ProbeKey::parse(bad), None, "{bad:?}");
    }
}

#[test]
fn one_want_per_admin_up_member_with_ids() {
    let mut b = Bodies::monitored();
    b.members.push(
        json!({"member_id": "m3", "pool_id": "p1", "address": "10.1.0.3",
        "protocol_port": 8080, "admin_state_up": false}),
    );
    b.members.push(
        json!({"member_id": "m4", "pool_id": "p1", "address": "10.1.0.4",
        "protocol_port": 8080, "weight": 0}),
    );
    b.members.push(json!({"member_id": "m5", "pool_id": "p1"}));
    let d = b.desired();
    let got: Vec<(String, &str)> = d
        .probes
        .iter()
        .map(|w| (w.key.name(), w.member_id.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("10.1.0.1_tcp_8080".to_owned(), "m1"),
            ("10.1.0.2_tcp_8080".to_owned(), "m2"),
            ("10.1.0.4_tcp_8080".to_owned(), "m4"),
        ],
        "admin-down m3 and address-less m5 have no probe; drained m4 keeps one"
    );
    assert!(d
        .probes
        .iter()
        .all(|w| w.healthmonitor_id == "hm1" && w.pool_id == "p1"));
}

#[test]
fn probe_key_uses_the_rule_protocol_not_the_monitor_type() {
    let mut b = Bodies::monitored();
    patch(&mut b.listeners[0], json!({"protocol": "UDP"}));
    patch(&mut b.pools[0], json!({"protocol": "UDP"}));
    patch(&mut b.monitors[0], json!({"type": "HTTP"}));
    let d = b.desired();
    assert_eq!(d.probes[0].key.name(), "10.1.0.1_udp_8080");
    assert_eq!(d.probes[0].endpoint.probe_type, "http");
    assert_eq!(d.probes[0].endpoint.name, "10.1.0.1_udp_8080");
}

#[test]
fn probes_exist_without_a_rule_but_not_when_lb_pool_or_monitor_is_down() {
    let mut all_drained = Bodies::monitored();
    for m in &mut all_drained.members {
        patch(m, json!({"weight": 0}));
    }
    let d = all_drained.desired();
    assert!(d.rules.is_empty());
    assert_eq!(d.probes.len(), 2, "drained members still report health");

    let mut listener_down = Bodies::monitored();
    patch(
        &mut listener_down.listeners[0],
        json!({"admin_state_up": false}),
    );
    assert_eq!(listener_down.desired().probes.len(), 2);

    let downs: Vec<fn(&mut Bodies)> = vec![
        |b| patch(&mut b.lb, json!({"admin_state_up": false})),
        |b| patch(&mut b.pools[0], json!({"admin_state_up": false})),
        |b| patch(&mut b.monitors[0], json!({"admin_state_up": false})),
        |b| patch(&mut b.monitors[0], json!({"pool_id": "other"})),
    ];
    for (i, f) in downs.into_iter().enumerate() {
        let mut b = Bodies::monitored();
        f(&mut b);
        assert!(b.desired().probes.is_empty(), "case {i}");
    }
}

#[test]
fn opts_defaults_fill_missing_timing() {
    let mut b = Bodies::monitored();
    patch(
        &mut b.monitors[0],
        json!({"delay": null, "timeout": null, "max_retries": null, "max_retries_down": null}),
    );
    let opts = MappingOptions {
        default_delay: 7,
        default_timeout: 9,
        default_max_retries: 500,
        ..MappingOptions::default()
    };
    let e = &b.desired_with(&opts).probes[0].endpoint;
    assert_eq!(e.probe_duration, 10, "max(7, 9 + 1)");
    assert_eq!(e.inactive_retries, 100, "clamped to LoxiLB's limit");
    let zero = MappingOptions {
        default_delay: 0,
        default_timeout: 0,
        default_max_retries: 0,
        ..MappingOptions::default()
    };
    let e = &b.desired_with(&zero).probes[0].endpoint;
    assert_eq!((e.probe_duration, e.inactive_retries), (1, 1));
}

#[test]
fn rule_default_probe_matches_loxilb_defaults() {
    let p = rule_default_probe(&key("10.1.0.1", "sctp", 3868));
    assert_eq!(
        p,
        EndPoint {
            host_name: "10.1.0.1".into(),
            name: "10.1.0.1_sctp_3868".into(),
            probe_type: "sctp".into(),
            probe_port: 3868,
            probe_req: String::new(),
            probe_resp: String::new(),
            probe_duration: 60,
            inactive_retries: 2,
        }
    );
    let ping = rule_default_probe(&key("10.1.0.1", "ping", 0));
    assert_eq!((ping.probe_type.as_str(), ping.probe_port), ("ping", 0));
}

#[test]
fn rule_referred_probe_lays_rule_options_over_defaults() {
    let k = key("10.1.0.1", "tcp", 8080);
    assert_eq!(
        rule_referred_probe(&ServiceArguments::default(), &k),
        rule_default_probe(&k)
    );
    // An HTTP monitor cannot be described by the rule (AddLbRule refuses http): the
    // probe a rule would create is the TCP default with the monitor's timing, so the
    // applier must post the HTTP probe itself.
    let mut b = Bodies::monitored();
    let args = b.desired().rules[0].entry.service_arguments.clone();
    let p = rule_referred_probe(&args, &k);
    assert_eq!(
        (p.probe_type.as_str(), p.probe_port, p.probe_req.as_str()),
        ("tcp", 8080, "")
    );
    assert_eq!((p.probe_duration, p.inactive_retries), (10, 3));
    assert_ne!(p, b.desired().probes[0].endpoint);
    // A TCP monitor without monitor_address/monitor_port: the rule alone yields it.
    patch(&mut b.monitors[0], json!({"type": "TCP"}));
    let args = b.desired().rules[0].entry.service_arguments.clone();
    let p = rule_referred_probe(&args, &k);
    assert_eq!(p, b.desired().probes[0].endpoint);
}
