//! Real probing against loopback backends: state follows the backend, rules follow probes,
//! probeResp judging, and probers stop when their endpoint goes away.

mod common;

use std::time::Duration;

use common::{rule, sim, tcp_ep, Backend};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn tcp_probe_and_rule_state_follow_the_backend() {
    let (_sim, api) = sim(true).await;
    let backend = Backend::start("127.0.0.1:0", 200, "ok").await;
    let port = backend.addr.port();
    let r = rule(
        "192.0.2.1",
        80,
        &[("127.0.0.1", port)],
        json!({"monitor": true, "probeTimeout": 1, "probeRetries": 1}),
    );
    assert_eq!(api.post("/config/loadbalancer", r).await.0, 200);
    let key = format!("127.0.0.1_tcp_{port}");
    assert!(api.wait_state(&key, "ok", WAIT).await);
    assert_eq!(api.rules().await[0]["endpoints"][0]["state"], "active");

    let addr = backend.stop().await;
    assert!(
        api.wait_state(&key, "nok", WAIT).await,
        "stopped backend -> nok"
    );
    assert_eq!(api.rules().await[0]["endpoints"][0]["state"], "inactive");

    let _back = Backend::start(&addr.to_string(), 200, "ok").await;
    assert!(
        api.wait_state(&key, "ok", WAIT).await,
        "restarted backend -> ok"
    );
    assert_eq!(api.rules().await[0]["endpoints"][0]["state"], "active");

    // Red host state makes the rule's endpoint inactive too.
    let red = json!({"hostName": "127.0.0.1", "epPort": port, "epProto": "tcp", "state": "red"});
    assert_eq!(api.post("/config/endpointhoststate", red).await.0, 200);
    assert_eq!(api.rules().await[0]["endpoints"][0]["state"], "inactive");
}

#[tokio::test]
async fn http_probe_judges_probe_resp_lists_ranges_and_body() {
    let (_sim, api) = sim(true).await;
    let backend = Backend::start("127.0.0.1:0", 202, "status: healthy").await;
    let port = backend.addr.port();
    let cases = [
        ("200", "nok"),
        ("200,202", "ok"),
        ("200-204", "ok"),
        ("", "ok"),
        ("healthy", "ok"),
        ("sick", "nok"),
    ];
    for (i, (resp, _)) in cases.iter().enumerate() {
        let ep = json!({"hostName": "127.0.0.1", "name": format!("hc{i}"), "probeType": "http",
            "probePort": port, "probeReq": "/health", "probeResp": resp, "probeDuration": 1, "inactiveReTries": 1});
        assert_eq!(api.post("/config/endpoint", ep).await.0, 200);
    }
    for (i, (resp, want)) in cases.iter().enumerate() {
        assert!(
            api.wait_state(&format!("hc{i}"), want, WAIT).await,
            "probeResp {resp:?} should be {want}"
        );
    }
    // "ok" is also the initial state: require a recorded successful probe for those.
    let end = std::time::Instant::now() + WAIT;
    for (i, (resp, want)) in cases.iter().enumerate() {
        loop {
            let e = api.endpoint(&format!("hc{i}")).await.expect("ep");
            assert_eq!(e["currState"], *want, "probeResp {resp:?}");
            if *want == "nok" || e["maxDelay"] != "0s" {
                break;
            }
            assert!(
                std::time::Instant::now() < end,
                "no successful probe for {resp:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    drop(backend);
}

#[tokio::test]
async fn consecutive_failures_needed_after_first_probe() {
    let (_sim, api) = sim(true).await;
    let backend = Backend::start("127.0.0.1:0", 200, "").await;
    let port = backend.addr.port();
    let mut ep = tcp_ep("127.0.0.1", port);
    ep["inactiveReTries"] = json!(2);
    assert_eq!(api.post("/config/endpoint", ep).await.0, 200);
    let key = format!("127.0.0.1_tcp_{port}");
    // Wait until at least one successful probe has been recorded (delays are set).
    let end = std::time::Instant::now() + WAIT;
    while api.endpoint(&key).await.expect("ep")["maxDelay"] == "0s" {
        assert!(std::time::Instant::now() < end, "no probe recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    backend.stop().await;
    assert!(api.wait_state(&key, "nok", WAIT).await);
}

#[tokio::test]
async fn probers_stop_when_endpoint_is_deleted() {
    let (_sim, api) = sim(true).await;
    let backend = Backend::start("127.0.0.1:0", 200, "").await;
    let port = backend.addr.port();
    assert_eq!(
        api.post("/config/endpoint", tcp_ep("127.0.0.1", port))
            .await
            .0,
        200
    );
    let end = std::time::Instant::now() + WAIT;
    while backend.connections() < 2 {
        assert!(
            std::time::Instant::now() < end,
            "prober never connected twice"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let path = format!("/config/endpoint/epipaddress/127.0.0.1?probe_type=tcp&probe_port={port}");
    assert_eq!(api.delete(&path).await.0, 200);
    let after = backend.connections();
    // Absence of activity can only be observed over time: 2.5 probe intervals.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(backend.connections() <= after + 1, "prober kept running");
}
