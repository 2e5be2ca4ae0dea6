//! Behaviour of `Event::parse` beyond the fixtures: what the lead relies on
//! (ids, hints, cleared fields, serialization shape).

use super::*;
use crate::test_support::TestResult;
use serde_json::{json, Value};

fn parse(method: &str, args: Value) -> TestResult<Event> {
    Event::parse(method, &args).map_err(|e| format!("{method} rejected: {e:?}").into())
}

fn err(method: &str, args: Value) -> EventError {
    match Event::parse(method, &args) {
        Ok(ev) => panic!("{method} accepted: {ev:?}"),
        Err(e) => e,
    }
}

fn member(id: &str, port: u16) -> Value {
    json!({"member_id": id, "pool_id": "p1", "address": "127.0.0.1", "protocol_port": port})
}

#[test]
fn member_create_is_typed() -> TestResult {
    let ev = parse("member_create", json!({"member": member("m1", 8081)}))?;
    let Event::MemberCreate { member } = &ev else {
        panic!("wrong variant {ev:?}");
    };
    assert_eq!(member.address, "127.0.0.1".parse().ok());
    assert_eq!(member.protocol_port, Some(8081));
    assert_eq!(member.weight, None);
    assert_eq!(ev.method(), "member_create");
    assert_eq!(ev.object(), (ObjectKind::Member, "m1"));
    assert_eq!(ordering(&ev).key, KeyHint::Pool("p1".into()));
    Ok(())
}

#[test]
fn update_records_fields_reset_to_null() -> TestResult {
    let ev = parse(
        "member_update",
        json!({"old_member": member("m1", 80),
               "new_member": {"member_id": "m1", "monitor_address": null, "weight": 0}}),
    )?;
    let Event::MemberUpdate { old, new } = &ev else {
        panic!("wrong variant {ev:?}");
    };
    assert!(old.cleared.is_empty());
    assert!(new.cleared.contains("monitor_address"));
    assert!(!new.cleared.contains("weight"));
    assert_eq!(new.weight, Some(0));
    let json = serde_json::to_value(new).unwrap_or_default();
    assert_eq!(
        json,
        json!({"member_id": "m1", "weight": 0, "monitor_address": null})
    );
    assert_eq!(ev.object(), (ObjectKind::Member, "m1"));
    Ok(())
}

#[test]
fn create_dicts_with_nulls_do_not_record_cleared_fields() -> TestResult {
    let ev = parse(
        "member_create",
        json!({"member": {"member_id": "m1", "pool_id": "p1", "address": "::1",
               "protocol_port": 80, "monitor_address": null, "name": null}}),
    )?;
    let Event::MemberCreate { member } = ev else {
        panic!("wrong variant");
    };
    assert!(member.cleared.is_empty());
    assert_eq!(member.monitor_address, None);
    Ok(())
}

#[test]
fn serialization_omits_unset_fields_and_names_type() -> TestResult {
    let ev = parse(
        "health_monitor_create",
        json!({"healthmonitor": {"healthmonitor_id": "h1", "pool_id": "p1", "type": "UDP-CONNECT",
               "delay": 5, "timeout": 5, "max_retries": 3, "url_path": null, "future": 1}}),
    )?;
    let Event::HealthMonitorCreate { healthmonitor } = &ev else {
        panic!("wrong variant");
    };
    assert_eq!(healthmonitor.r#type, Some(MonitorType::UdpConnect));
    assert_eq!(
        serde_json::to_value(healthmonitor).unwrap_or_default(),
        json!({"healthmonitor_id": "h1", "pool_id": "p1", "type": "UDP-CONNECT",
               "delay": 5, "timeout": 5, "max_retries": 3})
    );
    let env = ev.to_envelope().unwrap_or_default();
    assert_eq!(env["method"], "health_monitor_create");
    assert_eq!(env["args"]["healthmonitor"]["type"], "UDP-CONNECT");
    Ok(())
}

#[test]
fn to_envelope_uses_octavia_argument_names() -> TestResult {
    let ev = parse(
        "listener_update",
        json!({"old_listener": {"listener_id": "l1"}, "new_listener": {"listener_id": "l1",
               "allowed_cidrs": ["10.0.0.0/8"], "default_pool_id": null}}),
    )?;
    let env = ev.to_envelope().unwrap_or_default();
    assert_eq!(
        env,
        json!({"method": "listener_update", "args": {"old_listener": {"listener_id": "l1"},
               "new_listener": {"listener_id": "l1", "allowed_cidrs": ["10.0.0.0/8"],
               "default_pool_id": null}}})
    );
    let lb = parse(
        "loadbalancer_delete",
        json!({"loadbalancer": {"loadbalancer_id": "lb1"}}),
    )?;
    assert_eq!(
        lb.to_envelope().unwrap_or_default(),
        json!({"method": "loadbalancer_delete",
               "args": {"loadbalancer": {"loadbalancer_id": "lb1"}, "cascade": false}})
    );
    Ok(())
}

#[test]
fn graph_create_keeps_children() -> TestResult {
    let ev = parse(
        "loadbalancer_create",
        json!({"loadbalancer": {"loadbalancer_id": "lb1", "vip_address": "127.0.0.5",
            "listeners": [{"listener_id": "l1", "protocol": "TCP", "protocol_port": 80,
                "default_pool": {"pool_id": "p1", "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN",
                    "members": [member("m1", 81), null]}}]}}),
    )?;
    let Event::LoadbalancerCreate { loadbalancer } = ev else {
        panic!("wrong variant");
    };
    let listeners = loadbalancer.listeners.unwrap_or_default();
    let pool = listeners.first().and_then(|l| l.default_pool.clone());
    assert_eq!(pool.and_then(|p| p.members).map(|m| m.len()), Some(1));
    Ok(())
}

#[test]
fn monitor_update_checks_timeout_against_the_resulting_delay() -> TestResult {
    let old = json!({"healthmonitor_id": "h1", "pool_id": "p1", "type": "TCP",
                     "delay": 10, "timeout": 5, "max_retries": 3});
    let update = |new: Value| {
        Event::parse(
            "health_monitor_update",
            &json!({"old_healthmonitor": old, "new_healthmonitor": new}),
        )
    };
    assert!(update(json!({"healthmonitor_id": "h1", "timeout": 10})).is_ok());
    assert!(update(json!({"healthmonitor_id": "h1", "timeout": 11})).is_err());
    assert!(update(json!({"healthmonitor_id": "h1", "delay": 4})).is_err());
    assert!(update(json!({"healthmonitor_id": "h1", "delay": 4, "timeout": 4})).is_ok());
    // A cleared delay is unknown here, so only the ranges apply.
    assert!(update(json!({"healthmonitor_id": "h1", "delay": null, "timeout": 11})).is_ok());
    Ok(())
}

#[test]
fn deletes_check_ids_only() -> TestResult {
    for (method, args) in [
        (
            "listener_delete",
            json!({"listener": {"listener_id": "l1", "protocol": "PROMETHEUS"}}),
        ),
        (
            "pool_delete",
            json!({"pool": {"pool_id": "p1", "protocol": "PROXY", "tls_enabled": true}}),
        ),
        (
            "member_delete",
            json!({"member": {"member_id": "m1", "backup": true, "weight": 999}}),
        ),
        (
            "health_monitor_delete",
            json!({"healthmonitor": {"healthmonitor_id": "h1", "type": "TLS-HELLO", "delay": 0}}),
        ),
        (
            "loadbalancer_delete",
            json!({"loadbalancer": {"loadbalancer_id": "lb1", "additional_vips": [{}]}, "cascade": true}),
        ),
    ] {
        let ev = parse(method, args)?;
        assert_eq!(ev.method(), method);
    }
    Ok(())
}

#[test]
fn unsupported_errors_explain_to_user_and_operator() -> TestResult {
    let e = err(
        "pool_create",
        json!({"pool": {"pool_id": "p1", "loadbalancer_id": "lb1", "protocol": "HTTP",
               "lb_algorithm": "ROUND_ROBIN", "session_persistence": {"type": "HTTP_COOKIE"}}}),
    );
    let EventError::Unsupported {
        user_fault_string,
        operator_fault_string,
    } = &e
    else {
        panic!("not unsupported: {e:?}");
    };
    assert!(
        user_fault_string.contains("HTTP_COOKIE"),
        "{user_fault_string}"
    );
    assert!(
        operator_fault_string.starts_with("pool.session_persistence.type"),
        "{operator_fault_string}"
    );
    let e = err("l7rule_update", json!({}));
    assert_eq!(e.kind(), "unsupported");
    Ok(())
}

#[test]
fn invalid_comes_before_unsupported() -> TestResult {
    let e = err(
        "member_create",
        json!({"member": {"member_id": "m1", "pool_id": "p1", "address": "127.0.0.1",
               "protocol_port": 0, "backup": true}}),
    );
    assert_eq!(e.field(), Some("member.protocol_port"));
    Ok(())
}

#[test]
fn envelope_classifies_before_requiring_args() -> TestResult {
    let e = parse_envelope(&json!({"method": "validate_flavor"}));
    assert_eq!(e.err().map(|e| e.kind()), Some("not_an_event"));
    let e = parse_envelope(&json!({"method": "l7policy_create", "args": null}));
    assert_eq!(e.err().map(|e| e.kind()), Some("unsupported"));
    let e = Event::parse("pool_delete", &json!([1]));
    assert_eq!(
        e.err().and_then(|e| e.field().map(str::to_owned)),
        Some("args".into())
    );
    let long = "x".repeat(10_000);
    let e = parse_envelope(&json!({"method": long, "args": {}}));
    let Some(EventError::UnknownMethod { method }) = e.err() else {
        panic!("expected UnknownMethod");
    };
    assert_eq!(method.len(), 80);
    Ok(())
}

#[test]
fn structs_deserialize_through_the_same_checks() -> TestResult {
    let m: Result<Member, _> = serde_json::from_value(json!({"member_id": "m1", "weight": "x"}));
    let msg = m.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("weight"), "{msg}");
    let l: Result<Listener, _> =
        serde_json::from_value(json!({"listener_id": "l1", "allowed_cidrs": ["10.1.0.0/16"]}));
    let cidrs = l.ok().and_then(|l| l.allowed_cidrs).unwrap_or_default();
    assert_eq!(
        cidrs.first().map(|c| c.to_string()),
        Some("10.1.0.0/16".into())
    );
    Ok(())
}

#[test]
fn object_kind_names() -> TestResult {
    assert_eq!(ObjectKind::HealthMonitor.as_str(), "healthmonitor");
    assert_eq!(ObjectKind::HealthMonitor.status_key(), "healthmonitors");
    assert_eq!(ObjectKind::Loadbalancer.status_key(), "loadbalancers");
    assert_eq!(
        serde_json::to_value(ObjectKind::HealthMonitor).unwrap_or_default(),
        json!("healthmonitor")
    );
    Ok(())
}
