//! The ordering rules, one row per case.

use serde_json::{json, Value};

use super::*;

fn of(method: &str, args: Value) -> Ordering {
    match Event::parse(method, &args) {
        Ok(ev) => ordering(&ev),
        Err(e) => panic!("{method} rejected: {e:?}"),
    }
}

fn under(key: KeyHint) -> Ordering {
    Ordering { key, owner: None }
}

fn lb(id: &str) -> KeyHint {
    KeyHint::Loadbalancer(id.into())
}

fn teaching(key: KeyHint, kind: &'static str, id: &str, owner: OwnerRef) -> Ordering {
    let id = id.into();
    Ordering {
        key,
        owner: Some(OwnerFact { kind, id, owner }),
    }
}

fn pool(extra: Value) -> Value {
    let mut p = json!({"pool_id": "p1", "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"});
    if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    json!({ "pool": p })
}

fn check(cases: Vec<(&str, Value, Ordering)>) {
    for (method, args, want) in cases {
        assert_eq!(of(method, args.clone()), want, "{method} {args}");
    }
}

/// Load balancers, listeners and pools: the closest parent named, and the owner a
/// created listener or pool teaches.
#[test]
fn parents_are_ordered_under_the_closest_parent_they_name() {
    let body = json!({"loadbalancer_id": "lb1", "vip_address": "127.0.0.9"});
    let listener = json!({"listener": {"listener_id": "l1", "loadbalancer_id": "lb1",
        "protocol": "TCP", "protocol_port": 80}});
    let lb1 = || OwnerRef::Loadbalancer("lb1".into());
    let l1 = || KeyHint::Listener("l1".into());
    check(vec![
        (
            "loadbalancer_create",
            json!({"loadbalancer": body}),
            under(lb("lb1")),
        ),
        (
            "loadbalancer_failover",
            json!({"loadbalancer_id": "lb1"}),
            under(lb("lb1")),
        ),
        (
            "listener_create",
            listener,
            teaching(lb("lb1"), "listener", "l1", lb1()),
        ),
        (
            "listener_delete",
            json!({"listener": {"listener_id": "l1", "loadbalancer_id": "lb1"}}),
            under(lb("lb1")),
        ),
        (
            "listener_delete",
            json!({"listener": {"listener_id": "l1"}}),
            under(l1()),
        ),
        (
            "pool_create",
            pool(json!({"listener_id": "l1"})),
            teaching(l1(), "pool", "p1", OwnerRef::Listener("l1".into())),
        ),
        (
            "pool_create",
            pool(json!({"loadbalancer_id": "lb1", "listener_id": "l1"})),
            teaching(lb("lb1"), "pool", "p1", lb1()),
        ),
        (
            "pool_delete",
            json!({"pool": {"pool_id": "p1", "listener_id": "l1"}}),
            under(l1()),
        ),
        (
            "pool_delete",
            json!({"pool": {"pool_id": "p1"}}),
            under(KeyHint::Pool("p1".into())),
        ),
        (
            "pool_update",
            json!({"old_pool": {"pool_id": "p1", "loadbalancer_id": "lb1"},
                "new_pool": {"pool_id": "p1", "name": "x"}}),
            under(lb("lb1")),
        ),
    ]);
}

/// Members and health monitors: under their pool, else with their own object.
#[test]
fn children_are_ordered_under_their_pool_or_their_own_object() {
    let p1 = || under(KeyHint::Pool("p1".into()));
    check(vec![
        (
            "health_monitor_delete",
            json!({"healthmonitor": {"healthmonitor_id": "h1", "pool_id": "p1"}}),
            p1(),
        ),
        (
            "health_monitor_delete",
            json!({"healthmonitor": {"healthmonitor_id": "h1"}}),
            under(KeyHint::Other("healthmonitor:h1".into())),
        ),
        (
            "member_batch_update",
            json!({"pool_id": "p1", "members": []}),
            p1(),
        ),
        (
            "member_delete",
            json!({"member": {"member_id": "m1", "pool_id": "p1"}}),
            p1(),
        ),
        (
            "member_delete",
            json!({"member": {"member_id": "m1"}}),
            under(KeyHint::Other("member:m1".into())),
        ),
    ]);
}
