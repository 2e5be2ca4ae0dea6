//! Endpoint API behaviour: key derivation, in-place update, validation, delete, host state.

mod common;

use common::{sim, tcp_ep};
use serde_json::json;

#[tokio::test]
async fn key_is_name_or_host_type_port_and_listing_has_all_fields() {
    let (_sim, api) = sim(false).await;
    let (s, v) = api.post("/config/endpoint", tcp_ep("10.0.0.1", 80)).await;
    assert_eq!((s, v), (200, json!({"result": "Success"})));
    let mut named = tcp_ep("10.0.0.2", 81);
    named["name"] = json!("member-a");
    assert_eq!(api.post("/config/endpoint", named).await.0, 200);
    let eps = api.endpoints().await;
    assert_eq!(eps.len(), 2);
    let e = api.endpoint("10.0.0.1_tcp_80").await.expect("derived key");
    for f in [
        "hostName",
        "name",
        "probeType",
        "probePort",
        "probeReq",
        "probeResp",
        "probeDuration",
        "inactiveReTries",
        "minDelay",
        "avgDelay",
        "maxDelay",
        "currState",
    ] {
        assert!(e.get(f).is_some(), "missing {f} in {e}");
    }
    assert_eq!(e["hostName"], "10.0.0.1");
    assert_eq!(e["currState"], "ok", "new endpoints start ok");
    let n = api.endpoint("member-a").await.expect("named key");
    assert_eq!(n["probePort"], 81);
}

#[tokio::test]
async fn repost_of_existing_key_replaces_options_in_place() {
    let (_sim, api) = sim(false).await;
    let mut ep = tcp_ep("10.0.0.1", 80);
    ep["name"] = json!("10.0.0.1_tcp_80");
    assert_eq!(api.post("/config/endpoint", ep.clone()).await.0, 200);
    ep["probeType"] = json!("http");
    ep["probeReq"] = json!("/healthz");
    ep["probeResp"] = json!("200");
    ep["probeDuration"] = json!(7);
    ep["inactiveReTries"] = json!(3);
    assert_eq!(
        api.post("/config/endpoint", ep).await.0,
        200,
        "update is not an error"
    );
    let eps = api.endpoints().await;
    assert_eq!(eps.len(), 1);
    let e = &eps[0];
    assert_eq!(e["probeType"], "http");
    assert_eq!(e["probeReq"], "/healthz");
    assert_eq!(e["probeResp"], "200");
    assert_eq!(e["probeDuration"], 7);
    assert_eq!(e["inactiveReTries"], 3);
}

#[tokio::test]
async fn validation_errors_are_400_with_loxilb_texts() {
    let (_sim, api) = sim(false).await;
    let cases = [
        (
            json!({"hostName": "not-an-ip", "probeType": "tcp", "probePort": 80}),
            "host-parse error",
        ),
        (
            json!({"hostName": "10.0.0.1", "probeType": "tcp", "probePort": 80, "inactiveReTries": 101}),
            "host-args error",
        ),
        (
            json!({"hostName": "10.0.0.1", "probeType": "tcp", "probePort": 80, "probeDuration": 86401}),
            "host-args error",
        ),
        (
            json!({"hostName": "10.0.0.1", "probeType": "tcp", "probePort": 0}),
            "host-args unknown probe port",
        ),
        (
            json!({"hostName": "10.0.0.1", "probeType": "udp"}),
            "host-args unknown probe port",
        ),
        (
            json!({"hostName": "10.0.0.1", "probeType": "sctp", "probePort": 0}),
            "host-args unknown probe port",
        ),
        (
            json!({"hostName": "10.0.0.1", "probeType": "icmp"}),
            "host-args unknown probe type",
        ),
    ];
    for (body, text) in cases {
        let (s, v) = api.post("/config/endpoint", body.clone()).await;
        assert_eq!(s, 400, "{body} -> {v}");
        assert_eq!(v["code"], 400);
        assert_eq!(v["result"], text, "{body}");
        assert!(v["message"].is_string());
    }
    let (s, v) = api.post("/config/endpoint", json!({"hostName": 5})).await;
    assert_eq!((s, v["code"].clone()), (400, json!(400)), "wrong JSON type");
    assert!(api.endpoints().await.is_empty());
    // Boundaries are accepted.
    let ok = json!({"hostName": "::1", "probeType": "ping", "inactiveReTries": 100, "probeDuration": 86400});
    assert_eq!(api.post("/config/endpoint", ok).await.0, 200);
}

#[tokio::test]
async fn delete_absent_is_404_and_present_is_removed() {
    let (_sim, api) = sim(false).await;
    let (s, v) = api
        .delete("/config/endpoint/epipaddress/10.0.0.1?probe_type=tcp&probe_port=80")
        .await;
    assert_eq!(s, 404);
    assert_eq!(v["result"], "host-notfound error");
    assert_eq!(
        api.post("/config/endpoint", tcp_ep("10.0.0.1", 80)).await.0,
        200
    );
    let (s, _) = api
        .delete("/config/endpoint/epipaddress/10.0.0.1?probe_type=tcp&probe_port=80")
        .await;
    assert_eq!(s, 200);
    assert!(api.endpoints().await.is_empty());
    let mut named = tcp_ep("10.0.0.1", 80);
    named["name"] = json!("x y");
    assert_eq!(api.post("/config/endpoint", named).await.0, 200);
    assert_eq!(
        api.delete("/config/endpoint/epipaddress/10.0.0.1?name=x%20y")
            .await
            .0,
        200
    );
    assert!(api.endpoints().await.is_empty());
}

#[tokio::test]
async fn host_state_red_forces_red_until_green() {
    let (_sim, api) = sim(false).await;
    assert_eq!(
        api.post("/config/endpoint", tcp_ep("10.0.0.1", 80)).await.0,
        200
    );
    assert_eq!(
        api.post("/config/endpoint", tcp_ep("10.0.0.1", 81)).await.0,
        200
    );
    let red = json!({"hostName": "10.0.0.1", "epPort": 80, "epProto": "tcp", "state": "red"});
    assert_eq!(api.post("/config/endpointhoststate", red).await.0, 200);
    assert_eq!(
        api.endpoint("10.0.0.1_tcp_80").await.expect("ep")["currState"],
        "red"
    );
    assert_eq!(
        api.endpoint("10.0.0.1_tcp_81").await.expect("ep")["currState"],
        "ok"
    );
    let green = json!({"hostName": "10.0.0.1", "epPort": 0, "epProto": "", "state": "green"});
    assert_eq!(api.post("/config/endpointhoststate", green).await.0, 200);
    assert_eq!(
        api.endpoint("10.0.0.1_tcp_80").await.expect("ep")["currState"],
        "ok"
    );
    let (s, v) = api
        .post(
            "/config/endpointhoststate",
            json!({"hostName": "10.9.9.9", "state": "red"}),
        )
        .await;
    assert_eq!(
        (s, v["result"].clone()),
        (404, json!("host-notfound error"))
    );
    let (s, _) = api
        .post(
            "/config/endpointhoststate",
            json!({"hostName": "10.0.0.1", "state": "blue"}),
        )
        .await;
    assert_eq!(s, 400);
}
