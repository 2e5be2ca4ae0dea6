//! DSR limits at the ingress: hash selection only, member port = listener port; the
//! mode from the configuration or the load balancer's flavor.

use super::*;
use crate::config::NatMode;
use crate::test_support::TestResult;

fn post(method: &str, args: Value) -> Vec<u8> {
    json!({"method": method, "args": args})
        .to_string()
        .into_bytes()
}

fn app(store: &Store, mode: NatMode) -> Router {
    let mut st = short_id_state(store.clone(), false, true);
    st.nat_mode = mode;
    router(st, 1 << 20)
}

fn pool(alg: &str, extra: Value) -> Value {
    let mut p = json!({"pool_id": "p1", "loadbalancer_id": "lb1", "protocol": "TCP",
                       "lb_algorithm": alg});
    if let (Some(p), Value::Object(e)) = (p.as_object_mut(), extra) {
        p.extend(e);
    }
    p
}

fn member(port: u16) -> Value {
    json!({"member_id": format!("m{port}"), "pool_id": "p1", "address": "127.0.0.1",
           "protocol_port": port})
}

async fn wait_done(app: &Router, id: &Value) -> TestResult {
    for _ in 0..200 {
        let (_, body) = send(app, "GET", &format!("/v1/events/{id}"), vec![], None).await?;
        if body["state"] == "done" {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("event {id} not applied");
}

fn refused(status: StatusCode, body: &Value, field: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "unsupported", "{body}");
    assert_eq!(body["field"], field, "{body}");
    assert!(
        body["user_fault_string"]
            .as_str()
            .is_some_and(|s| s.contains("DSR")),
        "{body}"
    );
}

#[tokio::test]
async fn configured_dsr_refuses_non_hash_pools_and_source_ip_persistence() -> TestResult {
    let (store, _d) = test_store().await;
    let app = app(&store, NatMode::Dsr);
    for alg in ["ROUND_ROBIN", "LEAST_CONNECTIONS"] {
        let body = post("pool_create", json!({"pool": pool(alg, json!({}))}));
        let (s, answer) = send(&app, "POST", "/v1/events", body, None).await?;
        refused(s, &answer, "pool.lb_algorithm");
    }
    let sticky = pool(
        "SOURCE_IP",
        json!({"session_persistence": {"type": "SOURCE_IP"}}),
    );
    let (s, answer) = send(
        &app,
        "POST",
        "/v1/events",
        post("pool_create", json!({"pool": sticky})),
        None,
    )
    .await?;
    refused(s, &answer, "pool.session_persistence.type");
    assert_eq!(store.event_count().await.unwrap_or_default(), 0);
    let ok = post(
        "pool_create",
        json!({"pool": pool("SOURCE_IP_PORT", json!({}))}),
    );
    let (s, answer) = send(&app, "POST", "/v1/events", ok, None).await?;
    assert_eq!(s, StatusCode::ACCEPTED, "{answer}");
    // Fullnat (the default) takes any algorithm.
    let (store2, _d2) = test_store().await;
    let fullnat = app_fullnat(&store2);
    let rr = post(
        "pool_create",
        json!({"pool": pool("ROUND_ROBIN", json!({}))}),
    );
    assert_eq!(
        send(&fullnat, "POST", "/v1/events", rr, None).await?.0,
        StatusCode::ACCEPTED
    );
    Ok(())
}

fn app_fullnat(store: &Store) -> Router {
    app(store, NatMode::Fullnat)
}

#[tokio::test]
async fn a_dsr_flavor_is_honoured_in_graphs_and_for_later_events_of_its_lb() -> TestResult {
    let (store, _d) = test_store().await;
    let app = app_fullnat(&store);
    let graph = |member_port: u16| {
        post(
            "loadbalancer_create",
            json!({"loadbalancer": {"loadbalancer_id": "lb1", "vip_address": "127.0.0.10",
                "flavor": {"nat_mode": "dsr"},
                "listeners": [{"listener_id": "l1", "loadbalancer_id": "lb1", "protocol": "TCP",
                    "protocol_port": 80, "default_pool_id": "p1",
                    "default_pool": pool("SOURCE_IP", json!({"listener_id": "l1",
                        "members": [member(member_port)]}))}]}}),
        )
    };
    let (s, answer) = send(&app, "POST", "/v1/events", graph(8080), None).await?;
    refused(
        s,
        &answer,
        "loadbalancer.listeners[0].default_pool.members[0].protocol_port",
    );
    let (s, answer) = send(&app, "POST", "/v1/events", graph(80), None).await?;
    assert_eq!(s, StatusCode::ACCEPTED, "{answer}");
    let flavor = store.lb_flavor("lb1").await?;
    assert_eq!(
        flavor.and_then(|f| f.get("nat_mode").cloned()),
        Some(json!("dsr"))
    );
    // The flavor is known from the accepted create, applied or not.
    let rr = json!({"pool": {"pool_id": "p2", "loadbalancer_id": "lb1", "protocol": "TCP",
                             "lb_algorithm": "ROUND_ROBIN"}});
    let (s, body) = send(&app, "POST", "/v1/events", post("pool_create", rr), None).await?;
    refused(s, &body, "pool.lb_algorithm");
    Ok(())
}

/// Objects created one by one: the members are checked against the listener of the
/// DSR load balancer's pool.
#[tokio::test]
async fn a_dsr_flavor_is_honoured_for_objects_created_one_by_one() -> TestResult {
    let (store, _d) = test_store().await;
    let app = app_fullnat(&store);
    let lb2 = json!({"loadbalancer": {"loadbalancer_id": "lb2", "vip_address": "127.0.0.11",
                                      "flavor": {"nat_mode": "dsr"}}});
    let l2 = json!({"listener": {"listener_id": "l2", "loadbalancer_id": "lb2",
                                 "protocol": "TCP", "protocol_port": 80, "default_pool_id": "p3"}});
    let p3 = json!({"pool": {"pool_id": "p3", "loadbalancer_id": "lb2", "listener_id": "l2",
                             "protocol": "TCP", "lb_algorithm": "SOURCE_IP"}});
    let mut last = Value::Null;
    for (method, args) in [
        ("loadbalancer_create", lb2),
        ("listener_create", l2),
        ("pool_create", p3),
    ] {
        let (s, body) = send(&app, "POST", "/v1/events", post(method, args), None).await?;
        assert_eq!(s, StatusCode::ACCEPTED, "{method}: {body}");
        last = body["id"].clone();
    }
    wait_done(&app, &last).await?;
    let m = |port: u16| {
        json!({"member_id": format!("n{port}"), "pool_id": "p3", "address": "127.0.0.1",
               "protocol_port": port})
    };
    let (s, body) = send(
        &app,
        "POST",
        "/v1/events",
        post("member_create", json!({"member": m(8080)})),
        None,
    )
    .await?;
    refused(s, &body, "member.protocol_port");
    let batch = json!({"pool_id": "p3", "members": [m(80), m(81)]});
    let (s, body) = send(
        &app,
        "POST",
        "/v1/events",
        post("member_batch_update", batch),
        None,
    )
    .await?;
    refused(s, &body, "members[1].protocol_port");
    let (s, body) = send(
        &app,
        "POST",
        "/v1/events",
        post("member_create", json!({"member": m(80)})),
        None,
    )
    .await?;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    Ok(())
}
