//! Properties of the mapping over generated, well-formed load balancers.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::fixtures::Bodies;
use super::{desired_for_lb, is_ours_rule, plan_rules, LbTree, MappingOptions};

fn member(i: usize) -> impl Strategy<Value = Value> {
    (
        0u8..3,
        prop_oneof![Just(80u16), Just(8080), any::<u16>()],
        prop::option::of(0u16..=256),
        prop::option::of(any::<bool>()),
        prop::option::of(prop_oneof![Just(0u16), any::<u16>()]),
        prop::option::of(Just("10.9.0.1")),
    )
        .prop_map(move |(host, port, weight, up, mport, maddr)| {
            let mut m = json!({"member_id": format!("m{i}"), "pool_id": "p1",
                "address": format!("10.1.0.{host}"), "protocol_port": port});
            if let Some(o) = m.as_object_mut() {
                if let Some(w) = weight {
                    o.insert("weight".into(), json!(w));
                }
                if let Some(u) = up {
                    o.insert("admin_state_up".into(), json!(u));
                }
                if let Some(p) = mport {
                    o.insert("monitor_port".into(), json!(p));
                }
                if let Some(a) = maddr {
                    o.insert("monitor_address".into(), json!(a));
                }
            }
            m
        })
}

fn monitor() -> impl Strategy<Value = Option<Value>> {
    prop::option::of(
        (
            prop::sample::select(vec!["HTTP", "HTTPS", "TCP", "UDP-CONNECT", "SCTP", "PING"]),
            prop::option::of(1u32..=86400),
            prop::option::of(1u32..=86400),
            prop::option::of(1u8..=10),
            any::<bool>(),
        )
            .prop_map(|(t, delay, timeout, retries, up)| {
                json!({"healthmonitor_id": "hm1", "pool_id": "p1", "type": t, "delay": delay,
                "timeout": timeout, "max_retries_down": retries, "admin_state_up": up})
            }),
    )
}

fn bodies() -> impl Strategy<Value = Bodies> {
    (
        prop::sample::select(vec!["TCP", "HTTP", "UDP", "SCTP"]),
        (0usize..5).prop_flat_map(|n| (0..n).map(member).collect::<Vec<_>>()),
        monitor(),
    )
        .prop_map(|(proto, members, hm)| {
            let mut b = Bodies::basic();
            b.listeners[0]["protocol"] = json!(proto);
            b.pools[0]["protocol"] = json!(proto);
            b.members = members;
            b.monitors = hm.into_iter().collect();
            b
        })
}

proptest! {
    #[test]
    fn desired_objects_satisfy_loxilb_validation(b in bodies()) {
        let Ok(tree) = LbTree::from_bodies(&b.lb, &b.listeners, &b.pools, &b.members, &b.monitors)
        else {
            return Err(TestCaseError::fail("generated bodies must read"));
        };
        let d = desired_for_lb(&tree, &MappingOptions::default());
        for r in &d.rules {
            let a = &r.entry.service_arguments;
            prop_assert!(is_ours_rule(&r.entry));
            prop_assert!(!r.entry.endpoints.is_empty(), "an empty rule must not exist");
            prop_assert!(r.entry.endpoints.iter().all(|e| e.weight > 0));
            match a.probetype.as_str() {
                "tcp" | "udp" | "sctp" => prop_assert!(a.probeport != 0),
                "ping" | "" => prop_assert_eq!(a.probeport, 0),
                "http" | "https" => {}
                other => prop_assert!(false, "unexpected probetype {}", other),
            }
            prop_assert!(a.probe_retries >= 0 && a.probe_retries <= 100);
            prop_assert!(a.probe_timeout <= 86400);
        }
        for w in &d.probes {
            prop_assert_eq!(&w.endpoint.name, &w.key.name());
            prop_assert!((1..=86400).contains(&w.endpoint.probe_duration));
            prop_assert!((1..=100).contains(&w.endpoint.inactive_retries));
            let needs_port = matches!(w.endpoint.probe_type.as_str(), "tcp" | "udp" | "sctp");
            prop_assert!(!needs_port || w.endpoint.probe_port != 0 || w.key.port == 0);
        }
        // What was desired, once applied, plans to nothing.
        let applied = d
            .rules
            .iter()
            .map(|r| (r.entry.service_arguments.name.clone(), r.entry.clone()))
            .collect();
        prop_assert!(plan_rules(&d.rules, &applied).is_empty());
    }

    #[test]
    fn row_order_does_not_matter(b in bodies()) {
        let mut reversed = b.clone();
        reversed.members.reverse();
        prop_assert_eq!(b.desired(), reversed.desired());
    }
}
