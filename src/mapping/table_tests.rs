//! The parameter mapping, Octavia → LoxiLB, as tables.

use serde_json::{json, Value};

use super::fixtures::{patch, Bodies};
use crate::loxilb::types::{Mode, Sel};

/// What one member's probe (for member m1 of the fixture) must look like.
struct ProbeRow {
    case: &'static str,
    monitor: Value,
    member: Value,
    key: &'static str,
    probe_type: &'static str,
    host: &'static str,
    port: u16,
    req: &'static str,
    resp: &'static str,
    duration: u32,
    retries: u32,
}

#[rustfmt::skip]
fn probe_rows() -> Vec<ProbeRow> {
    let row = |case, monitor, member, probe_type, host, port, req, resp, duration, retries| ProbeRow {
        case, monitor, member, key: "10.1.0.1_tcp_8080", probe_type, host, port, req, resp, duration, retries,
    };
    vec![
        row("http as stored", json!({}), json!({}), "http", "10.1.0.1", 8080, "health", "", 10, 3),
        row("url path / is an empty probeReq", json!({"url_path": "/"}), json!({}), "http", "10.1.0.1", 8080, "", "", 10, 3),
        row("nested url path keeps inner slashes", json!({"url_path": "/a/b?x=1"}), json!({}), "http", "10.1.0.1", 8080, "a/b?x=1", "", 10, 3),
        row("https, path and codes defaulted", json!({"type": "HTTPS", "url_path": null, "expected_codes": null}),
            json!({}), "https", "10.1.0.1", 8080, "", "", 10, 3),
        row("expected codes range", json!({"expected_codes": "200-204"}), json!({}),
            "http", "10.1.0.1", 8080, "health", "", 10, 3),
        row("single expected code", json!({"expected_codes": "204"}), json!({}),
            "http", "10.1.0.1", 8080, "health", "", 10, 3),
        row("tcp has no request/response", json!({"type": "TCP"}), json!({}), "tcp", "10.1.0.1", 8080, "", "", 10, 3),
        row("udp-connect", json!({"type": "UDP-CONNECT"}), json!({}), "udp", "10.1.0.1", 8080, "", "", 10, 3),
        row("sctp", json!({"type": "SCTP"}), json!({}), "sctp", "10.1.0.1", 8080, "", "", 10, 3),
        row("ping has port 0", json!({"type": "PING"}), json!({}), "ping", "10.1.0.1", 0, "", "", 10, 3),
        row("timeout equal to delay", json!({"delay": 10, "timeout": 10}), json!({}),
            "http", "10.1.0.1", 8080, "health", "", 11, 3),
        row("timeout above delay", json!({"delay": 3, "timeout": 7}), json!({}),
            "http", "10.1.0.1", 8080, "health", "", 8, 3),
        row("delay and timeout defaulted (30, 10)", json!({"delay": null, "timeout": null}), json!({}),
            "http", "10.1.0.1", 8080, "health", "", 30, 3),
        row("LoxiLB's interval limit", json!({"delay": 86400, "timeout": 86400}), json!({}),
            "http", "10.1.0.1", 8080, "health", "", 86400, 3),
        row("max_retries when max_retries_down is absent", json!({"max_retries_down": null}), json!({}),
            "http", "10.1.0.1", 8080, "health", "", 10, 2),
        row("retries defaulted", json!({"max_retries_down": null, "max_retries": null}), json!({}),
            "http", "10.1.0.1", 8080, "health", "", 10, 3),
        row("monitor address and port", json!({}), json!({"monitor_address": "10.9.9.9", "monitor_port": 9000}),
            "http", "10.9.9.9", 9000, "health", "", 10, 3),
        row("monitor port 0 reads as unset", json!({}), json!({"monitor_port": 0}),
            "http", "10.1.0.1", 8080, "health", "", 10, 3),
        row("ping ignores monitor port", json!({"type": "PING"}), json!({"monitor_port": 9000}),
            "ping", "10.1.0.1", 0, "", "", 10, 3),
        row("drained member keeps its probe", json!({}), json!({"weight": 0}),
            "http", "10.1.0.1", 8080, "health", "", 10, 3),
    ]
}

#[test]
fn monitor_parameters_map_to_probe_options() {
    for r in probe_rows() {
        let mut b = Bodies::monitored();
        patch(&mut b.monitors[0], r.monitor.clone());
        patch(&mut b.members[0], r.member.clone());
        let d = b.desired();
        let w = d
            .probes
            .iter()
            .find(|w| w.member_id == "m1")
            .unwrap_or_else(|| panic!("{}: no probe for m1", r.case));
        let e = &w.endpoint;
        assert_eq!(w.key.name(), r.key, "{}", r.case);
        assert_eq!(e.name, r.key, "{}: name is the rule key", r.case);
        assert_eq!(e.probe_type, r.probe_type, "{}", r.case);
        assert_eq!(e.host_name, r.host, "{}", r.case);
        assert_eq!(e.probe_port, r.port, "{}", r.case);
        assert_eq!(e.probe_req, r.req, "{}", r.case);
        assert_eq!(e.probe_resp, r.resp, "{}", r.case);
        assert_eq!(e.probe_duration, r.duration, "{}", r.case);
        assert_eq!(e.inactive_retries, r.retries, "{}", r.case);
        assert_eq!(
            (w.healthmonitor_id.as_str(), w.pool_id.as_str()),
            ("hm1", "p1"),
            "{}",
            r.case
        );
    }
}

#[test]
#[rustfmt::skip]
fn listener_and_pool_parameters_map_to_rule_arguments() {
    // (listener patch, pool patch, protocol, sel)
    let rows: Vec<(Value, Value, &str, Sel)> = vec![
        (json!({}), json!({}), "tcp", Sel::RoundRobin),
        (json!({"protocol": "HTTP"}), json!({"protocol": "HTTP"}), "tcp", Sel::RoundRobin),
        (json!({"protocol": "HTTPS"}), json!({"protocol": "HTTPS"}), "tcp", Sel::RoundRobin),
        (json!({"protocol": "UDP"}), json!({"protocol": "UDP"}), "udp", Sel::RoundRobin),
        (json!({"protocol": "SCTP"}), json!({"protocol": "SCTP"}), "sctp", Sel::RoundRobin),
        (json!({"protocol": null}), json!({"protocol": "UDP"}), "udp", Sel::RoundRobin),
        (json!({}), json!({"lb_algorithm": "LEAST_CONNECTIONS"}), "tcp", Sel::LeastConnections),
        (json!({}), json!({"lb_algorithm": "SOURCE_IP"}), "tcp", Sel::Hash),
        (json!({}), json!({"lb_algorithm": "SOURCE_IP_PORT"}), "tcp", Sel::Hash),
        (json!({}), json!({"lb_algorithm": null}), "tcp", Sel::RoundRobin),
        (json!({}), json!({"session_persistence": {"type": "SOURCE_IP"}}), "tcp", Sel::Persist),
    ];
    for (i, (lp, pp, proto, sel)) in rows.into_iter().enumerate() {
        let mut b = Bodies::basic();
        patch(&mut b.listeners[0], lp);
        patch(&mut b.pools[0], pp);
        let d = b.desired();
        assert_eq!(d.rules.len(), 1, "row {i}");
        let a = &d.rules[0].entry.service_arguments;
        assert_eq!((a.protocol.as_str(), a.sel), (proto, sel), "row {i}");
        assert_eq!((a.external_ip.as_str(), a.port, a.port_max), ("10.0.0.1", 80, 0), "row {i}: portMax 0, no firewall entry");
        assert_eq!((a.mode, a.name.as_str(), a.monitor), (Mode::FullNat, "octavia-l1", false), "row {i}");
    }
}
