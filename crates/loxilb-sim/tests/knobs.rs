//! Test knobs and operations: latency, faults, resets, maintenance, restart, auth,
//! counters and request log, scale, HTTP control surface, shutdown/restart on a port.

mod common;

use std::time::{Duration, Instant};

use common::{rule, sim, tcp_ep, Api};
use loxilb_sim::{Fault, ScriptedEndpoint, SimOptions};
use serde_json::json;

#[tokio::test]
async fn latency_delays_api_calls_but_not_control() {
    let (sim, api) = sim(false).await;
    sim.control().set_latency(Duration::from_millis(300));
    let t = Instant::now();
    assert_eq!(api.get("/config/endpoint/all").await.0, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    let t = Instant::now();
    assert_eq!(api.get("/sim/v1/counters").await.0, 200);
    assert!(t.elapsed() < Duration::from_millis(300));
}

#[tokio::test]
async fn faults_match_method_and_prefix_and_run_out() {
    let (sim, api) = sim(false).await;
    sim.control().add_fault(Fault {
        status: 500,
        rate: 1.0,
        method: Some("POST".into()),
        path_prefix: Some("/config/endpoint".into()),
        remaining: Some(2),
    });
    for _ in 0..2 {
        let (s, v) = api.post("/config/endpoint", tcp_ep("10.0.0.1", 80)).await;
        assert_eq!((s, v["code"].clone()), (500, json!(500)));
        assert!(v["result"].is_string() && v["message"].is_string());
    }
    assert_eq!(
        api.get("/config/endpoint/all").await.0,
        200,
        "GET not matched"
    );
    assert_eq!(
        api.post("/config/endpoint", tcp_ep("10.0.0.1", 80)).await.0,
        200,
        "fault spent"
    );
    sim.control().add_fault(Fault {
        status: 409,
        rate: 1.0,
        method: None,
        path_prefix: None,
        remaining: None,
    });
    assert_eq!(api.get("/version").await.0, 409);
    sim.control().clear_faults();
    assert_eq!(api.get("/version").await.0, 200);
}

#[tokio::test]
async fn resets_cut_the_connection_without_a_response() {
    let (sim, api) = sim(false).await;
    let ctl = sim.control();
    ctl.set_reset_rate(1.0);
    let res = api
        .client
        .get(format!("{}/netlox/v1/version", api.base))
        .send()
        .await;
    assert!(res.is_err(), "client must see an error, got {res:?}");
    assert_eq!(
        api.get("/sim/v1/counters").await.0,
        200,
        "control unaffected"
    );
    ctl.set_reset_rate(0.0);
    assert_eq!(api.get("/version").await.0, 200);
    assert_eq!(ctl.counters().resets, 1);
    assert_eq!(ctl.requests()[0].status, 0);
}

#[tokio::test]
async fn maintenance_answers_503_with_error_body() {
    let (sim, api) = sim(false).await;
    sim.control().set_maintenance(true);
    let (s, v) = api.get("/config/loadbalancer/all").await;
    assert_eq!(
        (s, v["code"].clone(), v["message"].clone()),
        (503, json!(503), json!("Maintenance mode"))
    );
    sim.control().set_maintenance(false);
    assert_eq!(api.get("/config/loadbalancer/all").await.0, 200);
}

#[tokio::test]
/// Mirrors handler/version.go ConfigGetVersion and status.go ConfigGetProcess; a restart
/// empties the configuration.
async fn configgetversion_and_configgetprocess_shapes_across_restart() {
    let (sim, api) = sim(false).await;
    assert_eq!(
        api.post(
            "/config/loadbalancer",
            rule(
                "192.0.2.1",
                80,
                &[("10.0.0.1", 80)],
                json!({"monitor": true})
            )
        )
        .await
        .0,
        200
    );
    assert_eq!(
        api.post("/config/endpoint", tcp_ep("10.0.0.9", 80)).await.0,
        200
    );
    let (_, v1) = api.get("/version").await;
    let (_, p1) = api.get("/status/process").await;
    assert!(p1["processAttr"][0]["pid"].is_string());
    sim.control().restart_empty();
    assert!(api.rules().await.is_empty());
    assert!(api.endpoints().await.is_empty());
    let (_, v2) = api.get("/version").await;
    let (_, p2) = api.get("/status/process").await;
    // handler/version.go: only version and buildInfo, unchanged by a restart.
    let keys: Vec<&String> = v1
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["buildInfo", "version"]);
    assert_eq!(v1, v2);
    // status.go ProcessInfoGet: processAttr only, every process of the host.
    let keys: Vec<&String> = p2
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["processAttr"]);
    let loxilb = p2["processAttr"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["command"] == "loxilb"));
    assert!(loxilb.is_some(), "{p2}");
}

/// Mirrors handler/auth.go AuthPostLogin and BearerAuthAuth, pkg/user ValidateUser and
/// ValidateToken, and go-openapi's Authorize: a missing header is 401, a token the user
/// service does not know (garbage, "Bearer <token>", expired) is a plain error answered 500,
/// a wrong password is 200 without a token, an unknown user is "User not found" (404).
#[tokio::test]
async fn authpostlogin_raw_token_and_bearerauthauth_errors() {
    let sim = loxilb_sim::spawn(SimOptions {
        auth: Some(("admin".into(), "secret".into())),
        token_ttl: Duration::from_millis(400),
        probing: false,
        ..SimOptions::default()
    })
    .await
    .expect("spawn");
    let mut api = Api::new(&sim);
    let (s, v) = api.get("/config/endpoint/all").await;
    assert_eq!((s, v["code"].clone()), (401, json!(401)));
    assert_eq!(api.get("/version").await.0, 200, "version needs no token");
    let (s, v) = api
        .post(
            "/auth/login",
            json!({"username": "admin", "password": "nope"}),
        )
        .await;
    assert_eq!((s, v.get("token").is_none()), (200, true), "{v}");
    let (s, v) = api
        .post("/auth/login", json!({"username": "root", "password": "x"}))
        .await;
    assert_eq!((s, v["result"].clone()), (404, json!("User not found")));
    let (s, v) = api
        .post(
            "/auth/login",
            json!({"username": "admin", "password": "secret"}),
        )
        .await;
    assert_eq!(s, 200);
    let token = v["token"].as_str().expect("token").to_string();
    api.token = Some(token.clone());
    assert_eq!(api.get("/config/endpoint/all").await.0, 200, "raw token");
    api.token = Some(format!("Bearer {token}"));
    assert_eq!(
        api.get("/config/endpoint/all").await.0,
        500,
        "bearer prefix"
    );
    api.token = Some("garbage".into());
    let (s, v) = api.get("/config/endpoint/all").await;
    assert_eq!((s, v["message"].clone()), (500, json!("Token not found")));
    api.token = Some(token);
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let s = api.get("/config/endpoint/all").await.0;
        if s == 500 {
            break;
        }
        assert!(Instant::now() < end, "token never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Mirrors configure_loxilb_rest_api.go: without the user service /auth/login keeps
/// go-swagger's default handler (501) and any Authorization header is accepted.
#[tokio::test]
async fn configure_without_user_service_login_is_501_and_no_token_needed() {
    let sim = loxilb_sim::spawn(SimOptions {
        probing: false,
        ..SimOptions::default()
    })
    .await
    .expect("spawn");
    let mut api = Api::new(&sim);
    let (s, _) = api
        .post("/auth/login", json!({"username": "admin", "password": "x"}))
        .await;
    assert_eq!(s, 501);
    api.token = Some("anything".into());
    assert_eq!(api.get("/config/endpoint/all").await.0, 200);
}

#[tokio::test]
async fn counters_and_request_log() {
    let (sim, api) = sim(false).await;
    let ctl = sim.control();
    assert_eq!(
        api.post("/config/endpoint", tcp_ep("10.0.0.1", 80)).await.0,
        200
    );
    assert_eq!(
        api.delete("/config/endpoint/epipaddress/10.0.0.2?probe_type=tcp&probe_port=80")
            .await
            .0,
        404
    );
    assert_eq!(api.get("/config/endpoint/all").await.0, 200);
    let c = ctl.counters();
    assert_eq!(c.total, 3);
    assert_eq!(c.by_route.get("POST /config/endpoint"), Some(&1));
    assert_eq!(
        c.by_route
            .get("DELETE /config/endpoint/epipaddress/{ip_address}"),
        Some(&1)
    );
    assert_eq!(c.by_status.get(&404), Some(&1));
    assert_eq!(c.by_status.get(&200), Some(&2));
    let reqs = ctl.requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/config/endpoint");
    assert_eq!(
        reqs[0].body.as_ref().map(|b| b["hostName"].clone()),
        Some(json!("10.0.0.1"))
    );
    assert_eq!(
        reqs[1].query.as_deref(),
        Some("probe_type=tcp&probe_port=80")
    );
    assert_eq!(reqs[1].status, 404);
    let (_, over_http) = api.get("/sim/v1/counters").await;
    assert_eq!(over_http["total"], 3);
    ctl.clear_requests();
    assert!(ctl.requests().is_empty());
    assert_eq!(ctl.counters().total, 3, "counters survive clearing the log");
    assert_eq!(ctl.endpoints().len(), 1);
    assert_eq!(ctl.endpoints()[0]["name"], "10.0.0.1_tcp_80");
}

#[tokio::test]
async fn hundred_thousand_scripted_endpoints_are_listed() {
    let (sim, api) = sim(true).await;
    let ctl = sim.control();
    let eps: Vec<ScriptedEndpoint> = (0..100_000u32)
        .map(|i| ScriptedEndpoint {
            host: format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255),
            probe_type: "tcp".into(),
            port: 80,
            state: if i % 10 == 0 { "nok" } else { "ok" }.into(),
            name: None,
        })
        .collect();
    assert_eq!(ctl.script_endpoints(eps), 100_000);
    let t = Instant::now();
    let all = api.endpoints().await;
    let took = t.elapsed();
    assert_eq!(all.len(), 100_000);
    assert!(took < Duration::from_secs(20), "listing took {took:?}");
    assert_eq!(
        all.iter().filter(|e| e["currState"] == "nok").count(),
        10_000
    );
    assert!(ctl.set_endpoint_state("10.0.0.1_tcp_80", "red"));
    assert!(!ctl.set_endpoint_state("missing", "red"));
    assert_eq!(
        api.endpoint("10.0.0.1_tcp_80").await.expect("ep")["currState"],
        "red"
    );
}

#[tokio::test]
async fn counters_of_rule_endpoints_can_be_scripted() {
    let (sim, api) = sim(false).await;
    assert_eq!(
        api.post(
            "/config/loadbalancer",
            rule("192.0.2.1", 80, &[("10.0.0.1", 80)], json!({}))
        )
        .await
        .0,
        200
    );
    assert!(sim
        .control()
        .set_counter("192.0.2.1", 80, "tcp", "10.0.0.1", 12, 3400));
    assert!(!sim
        .control()
        .set_counter("192.0.2.1", 81, "tcp", "10.0.0.1", 1, 1));
    assert_eq!(api.rules().await[0]["endpoints"][0]["counter"], "12:3400");
}

#[tokio::test]
async fn control_over_http() {
    let (_sim, api) = sim(false).await;
    assert_eq!(
        api.put("/sim/v1/maintenance", json!({"on": true})).await.0,
        200
    );
    assert_eq!(api.get("/version").await.0, 503);
    assert_eq!(
        api.put("/sim/v1/maintenance", json!({"on": false})).await.0,
        200
    );
    assert_eq!(
        api.post(
            "/sim/v1/faults",
            json!({"status": 500, "rate": 1.0, "remaining": 1})
        )
        .await
        .0,
        200
    );
    assert_eq!(api.get("/version").await.0, 500);
    assert_eq!(api.get("/version").await.0, 200);
    assert_eq!(api.delete("/sim/v1/faults").await.0, 200);
    let eps = json!([{"host": "10.0.0.1", "probe_type": "tcp", "port": 80, "state": "nok"}]);
    assert_eq!(
        api.post("/sim/v1/script/endpoints", eps).await.1["inserted"],
        1
    );
    assert_eq!(
        api.put(
            "/sim/v1/script/endpoint-state",
            json!({"key": "10.0.0.1_tcp_80", "state": "ok"})
        )
        .await
        .0,
        200
    );
    assert_eq!(
        api.put(
            "/sim/v1/script/endpoint-state",
            json!({"key": "nope", "state": "ok"})
        )
        .await
        .0,
        404
    );
    assert_eq!(
        api.endpoint("10.0.0.1_tcp_80").await.expect("ep")["currState"],
        "ok"
    );
    assert_eq!(api.put("/sim/v1/latency", json!({"ms": 1})).await.0, 200);
    assert_eq!(
        api.put("/sim/v1/reset-rate", json!({"rate": 0.0})).await.0,
        200
    );
    assert_eq!(
        api.get("/sim/v1/requests").await.1.as_array().map(Vec::len),
        Some(4)
    );
    assert_eq!(api.post("/sim/v1/restart", json!({})).await.0, 200);
    assert!(api.endpoints().await.is_empty());
    assert_eq!(api.put("/sim/v1/latency", json!({"ms": "x"})).await.0, 400);
}

#[tokio::test]
async fn shutdown_closes_the_port_and_spawn_on_restarts_empty() {
    let (sim, api) = sim(false).await;
    let addr = sim.addr();
    assert_eq!(
        api.post("/config/endpoint", tcp_ep("10.0.0.1", 80)).await.0,
        200
    );
    sim.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "port closed"
    );
    assert!(api
        .client
        .get(format!("{}/netlox/v1/version", api.base))
        .send()
        .await
        .is_err());
    let listener = tokio::net::TcpListener::bind(addr).await.expect("rebind");
    let sim2 = loxilb_sim::spawn_on(
        listener,
        SimOptions {
            probing: false,
            ..SimOptions::default()
        },
    )
    .await
    .expect("spawn_on");
    assert_eq!(sim2.url(), format!("http://{addr}"));
    assert!(api.endpoints().await.is_empty());
}
