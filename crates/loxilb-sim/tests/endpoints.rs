//! Endpoint API behaviour: key derivation, in-place update, validation, delete, host state.

mod common;

use common::{sim, tcp_ep};
use serde_json::json;

/// Mirrors rules.go makeEPKey / AddEPHost key choice and the handler's omitempty listing.
#[tokio::test]
async fn makeepkey_key_is_name_or_host_type_port_and_listing_omits_empty() {
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
        "probeDuration",
        "inactiveReTries",
        "currState",
    ] {
        assert!(e.get(f).is_some(), "missing {f} in {e}");
    }
    // go-swagger omitempty: empty probeReq/probeResp and non-ping delays are left out.
    for f in ["probeReq", "probeResp", "minDelay", "avgDelay", "maxDelay"] {
        assert!(e.get(f).is_none(), "unexpected {f} in {e}");
    }
    assert_eq!(e["hostName"], "10.0.0.1");
    assert_eq!(e["currState"], "ok", "new endpoints start ok");
    let n = api.endpoint("member-a").await.expect("named key");
    assert_eq!(n["probePort"], 81);
}

/// Mirrors rules.go AddEPHost: POSTing an existing key is an update, not an error.
#[tokio::test]
async fn addephost_repost_replaces_options_in_place() {
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

/// Mirrors rules.go validateEPHostOpts (texts, order) and the handler's integer conversions.
#[tokio::test]
async fn validateephostopts_errors_are_400_with_loxilb_texts() {
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
    // The handler's uint16/uint32 conversions: port 65616 is port 80, -1 s is out of range.
    let wrapped = json!({"hostName": "10.0.0.1", "probeType": "tcp", "probePort": 65616});
    assert_eq!(api.post("/config/endpoint", wrapped).await.0, 200);
    assert!(api.endpoint("10.0.0.1_tcp_80").await.is_some());
    let negative =
        json!({"hostName": "10.0.0.1", "probeType": "tcp", "probePort": 80, "probeDuration": -1});
    assert_eq!(
        api.post("/config/endpoint", negative).await.1["result"],
        "host-args error"
    );
    // Boundaries are accepted.
    let ok = json!({"hostName": "::1", "probeType": "ping", "inactiveReTries": 100, "probeDuration": 86400});
    assert_eq!(api.post("/config/endpoint", ok).await.0, 200);
}

/// Mirrors rules.go DeleteEPHost.
#[tokio::test]
async fn deleteephost_absent_is_404_and_present_is_removed() {
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

/// Mirrors rules.go SetEPHostState: state checked first ("unknown ep-host-state"), epPort
/// and epProto go together, with both the exact key must exist ("ephost-notfound error"),
/// with neither every probe of the host is set and no match is still a success.
#[tokio::test]
async fn setephoststate_red_until_green_and_key_rules() {
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
    let state = |k: &'static str| {
        let api = &api;
        async move { api.endpoint(k).await.expect("ep")["currState"].clone() }
    };
    assert_eq!(state("10.0.0.1_tcp_80").await, "red");
    assert_eq!(state("10.0.0.1_tcp_81").await, "ok");
    let green = json!({"hostName": "10.0.0.1", "epPort": 0, "epProto": "", "state": "green"});
    assert_eq!(api.post("/config/endpointhoststate", green).await.0, 200);
    assert_eq!(state("10.0.0.1_tcp_80").await, "ok");
    let all_red = json!({"hostName": "10.0.0.1", "state": "red"});
    assert_eq!(api.post("/config/endpointhoststate", all_red).await.0, 200);
    assert_eq!(state("10.0.0.1_tcp_81").await, "red");
    let none = json!({"hostName": "10.9.9.9", "state": "red"});
    assert_eq!(api.post("/config/endpointhoststate", none).await.0, 200);
    let cases = [
        (
            json!({"hostName": "10.0.0.1", "state": "blue"}),
            400,
            "unknown ep-host-state",
        ),
        (
            json!({"hostName": "10.0.0.1", "epPort": 80, "state": "red"}),
            500,
            "ep-host-state args error",
        ),
        (
            json!({"hostName": "10.0.0.1", "epProto": "tcp", "state": "red"}),
            500,
            "ep-host-state args error",
        ),
        (
            json!({"hostName": "10.0.0.1", "epPort": 82, "epProto": "tcp", "state": "red"}),
            404,
            "ephost-notfound error",
        ),
    ];
    for (body, status, text) in cases {
        let (s, v) = api.post("/config/endpointhoststate", body.clone()).await;
        assert_eq!((s, v["result"].as_str()), (status, Some(text)), "{body}");
    }
}

/// Mirrors rules.go AddEPHost (apiCall on an existing key): the options are replaced but
/// the hostName and the rule count stay, so a probe a rule created keeps the member's
/// address and still cannot be deleted through the API.
#[tokio::test]
async fn addephost_repost_keeps_host_and_rule_count() {
    let (_sim, api) = sim(false).await;
    let r = common::rule(
        "192.0.2.1",
        80,
        &[("10.0.0.1", 8080)],
        json!({"monitor": true}),
    );
    assert_eq!(api.post("/config/loadbalancer", r).await.0, 200);
    let key = "10.0.0.1_tcp_8080";
    let update = json!({"hostName": "10.0.0.99", "name": key, "probeType": "http",
        "probePort": 8081, "probeReq": "/health", "probeDuration": 5, "inactiveReTries": 3});
    assert_eq!(api.post("/config/endpoint", update).await.0, 200);
    let e = api.endpoint(key).await.expect("probe");
    assert_eq!(e["hostName"], "10.0.0.1", "hostName kept");
    assert_eq!(
        (
            e["probeType"].clone(),
            e["probePort"].clone(),
            e["probeReq"].clone()
        ),
        (json!("http"), json!(8081), json!("/health"))
    );
    assert_eq!(
        (e["probeDuration"].clone(), e["inactiveReTries"].clone()),
        (json!(5), json!(3))
    );
    let (s, v) = api
        .delete(&format!("/config/endpoint/epipaddress/10.0.0.1?name={key}"))
        .await;
    assert_eq!(
        (s, v["result"].clone()),
        (409, json!("LB Rule-referred")),
        "rule count kept"
    );
    // An API-created probe keeps its host as well.
    let mut ep = tcp_ep("10.0.0.2", 80);
    ep["name"] = json!("m");
    assert_eq!(api.post("/config/endpoint", ep.clone()).await.0, 200);
    ep["hostName"] = json!("10.0.0.3");
    assert_eq!(api.post("/config/endpoint", ep).await.0, 200);
    assert_eq!(api.endpoint("m").await.expect("m")["hostName"], "10.0.0.2");
}

/// Mirrors rules.go GetEpHosts + handler ConfigGetEndPoint: a non-activated probe (API
/// probeType "none") lists type "none" without probeDuration/inactiveReTries; delays are
/// listed for ping only (Go's "0s" before any run); omitempty drops zero fields.
#[tokio::test]
async fn getephosts_none_hides_options_and_delays_are_ping_only() {
    let (_sim, api) = sim(false).await;
    let none = json!({"hostName": "10.0.0.1", "name": "n", "probeType": "none",
        "probePort": 9, "probeReq": "q", "probeDuration": 5, "inactiveReTries": 3});
    assert_eq!(api.post("/config/endpoint", none).await.0, 200);
    let ping = json!({"hostName": "10.0.0.2", "name": "p", "probeType": "ping",
        "probeDuration": 5, "inactiveReTries": 3});
    assert_eq!(api.post("/config/endpoint", ping).await.0, 200);
    let n = api.endpoint("n").await.expect("n");
    assert_eq!(
        n,
        json!({"hostName": "10.0.0.1", "name": "n", "probeType": "none", "probePort": 9,
            "probeReq": "q", "currState": "ok"})
    );
    let p = api.endpoint("p").await.expect("p");
    assert_eq!(
        p,
        json!({"hostName": "10.0.0.2", "name": "p", "probeType": "ping", "probeDuration": 5,
            "inactiveReTries": 3, "minDelay": "0s", "avgDelay": "0s", "maxDelay": "0s",
            "currState": "ok"})
    );
}
