//! Router tests driven with `oneshot`: validation table, journaling, auth, limits.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use super::*;
use crate::dispatch::{DispatchOptions, Dispatcher};
use crate::drivers::{DesiredStateDrivers, DriverSet};
use crate::shutdown::Shutdown;
use crate::store::test_store;
use crate::test_support::TestResult;

struct Ready(bool);

#[async_trait::async_trait]
impl Readiness for Ready {
    async fn loxilb_reachable(&self) -> bool {
        self.0
    }
}

fn state(store: Store, wait: bool, ready: bool) -> ApiState {
    let drivers = DriverSet::from_one(Arc::new(DesiredStateDrivers::new(store.clone())));
    let dispatcher = Dispatcher::new(
        store.clone(),
        Arc::new(drivers),
        DispatchOptions::default(),
        Shutdown::new(),
    );
    ApiState {
        store,
        intake: crate::dispatch::Intake::Local(dispatcher),
        readiness: Arc::new(Ready(ready)),
        wait_for_outcome: wait,
        sync_timeout: Duration::from_secs(5),
        health: None,
        nat_mode: crate::config::NatMode::Fullnat,
        uuid_ids: true,
    }
}

async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    body: Vec<u8>,
    token: Option<&str>,
) -> TestResult<(StatusCode, Value)> {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req.body(Body::from(body))?;
    let resp = app.clone().oneshot(req).await?;
    let status = resp.status();
    let bytes = resp.into_body().collect().await?.to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok((status, value))
}

const LB1: &str = "8d7c2a3e-5b1f-4c6a-9e0d-1f2a3b4c5d6e";
const LB2: &str = "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e";

/// The state of tests written with short ids ("lb1", "p1"): UUIDs not required.
fn short_id_state(store: Store, wait: bool, ready: bool) -> ApiState {
    ApiState {
        uuid_ids: false,
        ..state(store, wait, ready)
    }
}

fn lb_create(id: &str) -> Vec<u8> {
    json!({"method": "loadbalancer_create", "args": {"loadbalancer": {
        "loadbalancer_id": id, "vip_address": "127.0.0.10", "admin_state_up": true}}})
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn every_bad_body_in_the_fixture_is_rejected_and_nothing_is_journaled() -> TestResult {
    let (store, _d) = test_store().await;
    let app = router(state(store.clone(), false, true), 1 << 20);
    let text = include_str!("../../tests/fixtures/bad_events.json");
    let cases: Vec<Value> = serde_json::from_str(text)?;
    assert!(cases.len() >= 30, "fixture has only {} cases", cases.len());
    for case in &cases {
        let name = case["name"].as_str().unwrap_or("?");
        let (status, body) = send(
            &app,
            "POST",
            "/v1/events",
            case["body"].to_string().into_bytes(),
            None,
        )
        .await?;
        assert!(status.is_client_error(), "{name}: got {status} {body}");
        let expect = case["expect"].as_str().unwrap_or("");
        let got = body["error"].as_str().unwrap_or("");
        match expect {
            // Envelope errors are reported as invalid fields (method/args).
            "bad_request" => assert!(got == "invalid" || got == "bad_request", "{name}: {body}"),
            _ => assert_eq!(got, expect, "{name}: {body}"),
        }
        if let Some(field) = case.get("field").and_then(Value::as_str) {
            assert_eq!(body["field"].as_str(), Some(field), "{name}: {body}");
        }
        if expect == "unsupported" {
            assert!(
                body["user_fault_string"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{name}"
            );
            assert!(
                body["operator_fault_string"]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{name}"
            );
        }
    }
    // Not JSON at all.
    let (status, body) = send(&app, "POST", "/v1/events", b"{not json".to_vec(), None).await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "bad_request");
    assert_eq!(
        store.event_count().await.unwrap_or(-1),
        0,
        "a rejected event was journaled"
    );
    Ok(())
}

#[tokio::test]
async fn a_valid_event_is_journaled_and_reported() -> TestResult {
    let (store, _d) = test_store().await;
    let app = router(state(store.clone(), false, true), 1 << 20);
    let (status, body) = send(&app, "POST", "/v1/events", lb_create(LB1), None).await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id in {body}"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (s, rec) = send(&app, "GET", &format!("/v1/events/{id}"), vec![], None).await?;
        assert_eq!(s, StatusCode::OK);
        if rec["state"] == "done" {
            assert_eq!(rec["method"], "loadbalancer_create");
            assert_eq!(rec["object_id"], LB1);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "not applied: {rec}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (s, _) = send(&app, "GET", "/v1/events/999999", vec![], None).await?;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, list) = send(&app, "GET", "/v1/events?state=done", vec![], None).await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["events"].as_array().map(Vec::len), Some(1));
    let (s, _) = send(&app, "GET", "/v1/events?state=bogus", vec![], None).await?;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = send(
        &app,
        "POST",
        &format!("/v1/events/{id}/retry"),
        vec![],
        None,
    )
    .await?;
    assert_eq!(s, StatusCode::CONFLICT, "only failed events can be retried");
    let (s, _) = send(&app, "DELETE", &format!("/v1/events/{id}"), vec![], None).await?;
    assert_eq!(s, StatusCode::CONFLICT, "only failed events can be cleared");
    let (s, _) = send(&app, "DELETE", "/v1/events/999999", vec![], None).await?;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A failed event is cleared once, and is gone.
    let failed = store
        .accept_event(
            "member_delete",
            "{}",
            ("member", "m-gone"),
            &crate::store::KeyHint::Other("m-gone".into()),
            None,
        )
        .await?;
    store
        .finish_event(failed.id, crate::store::EventState::Failed, Some("refused"))
        .await?;
    let path = format!("/v1/events/{}", failed.id);
    let (s, body) = send(&app, "DELETE", &path, vec![], None).await?;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["cleared"], true);
    let (s, _) = send(&app, "GET", &path, vec![], None).await?;
    assert_eq!(s, StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test]
async fn synchronous_mode_answers_with_the_outcome() -> TestResult {
    let (store, _d) = test_store().await;
    let app = router(state(store, true, true), 1 << 20);
    let (status, body) = send(&app, "POST", "/v1/events", lb_create(LB2), None).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "done");
    Ok(())
}

#[tokio::test]
async fn oversized_bodies_are_refused() -> TestResult {
    let (store, _d) = test_store().await;
    let app = router(state(store.clone(), false, true), 64);
    let (status, _) = send(&app, "POST", "/v1/events", lb_create(LB1), None).await?;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(store.event_count().await.unwrap_or(-1), 0);
    Ok(())
}

#[tokio::test]
async fn tcp_router_requires_the_bearer_token() -> TestResult {
    let (store, _d) = test_store().await;
    let app = router_with_token(
        state(store.clone(), false, true),
        1 << 20,
        BearerToken::new("s3cret"),
    );
    let (s, _) = send(&app, "GET", "/healthz", vec![], None).await?;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = send(&app, "GET", "/healthz", vec![], Some("s3cre")).await?;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = send(&app, "POST", "/v1/events", lb_create(LB2), Some("wrong!")).await?;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(store.event_count().await.unwrap_or(-1), 0);
    let (s, _) = send(&app, "GET", "/healthz", vec![], Some("s3cret")).await?;
    assert_eq!(s, StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn readiness_reflects_loxilb_reachability() -> TestResult {
    let (store, _d) = test_store().await;
    let (s, body) = send(
        &router(state(store.clone(), false, false), 1024),
        "GET",
        "/readyz",
        vec![],
        None,
    )
    .await?;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["database"], true);
    assert_eq!(body["loxilb"], false);
    assert_eq!(body["loxilb_nodes"], json!([]));
    assert_eq!(body["cluster"]["role"], "single", "{body}");
    let (s, _) = send(
        &router(state(store, false, true), 1024),
        "GET",
        "/readyz",
        vec![],
        None,
    )
    .await?;
    assert_eq!(s, StatusCode::OK);
    Ok(())
}

/// `/readyz` and `/healthz` show the role, the epoch and the leader's id handed in
/// with `with_cluster`; a follower is still ready (it journals events).
#[tokio::test]
async fn readyz_and_healthz_show_the_cluster_role() -> TestResult {
    let (store, _d) = test_store().await;
    let (tx, rx) = tokio::sync::watch::channel(crate::cluster::Role::Follower {
        leader: Some("ctl-1".into()),
        epoch: 7,
    });
    let status = crate::cluster::ClusterStatus::for_tests("ctl-2", rx);
    let app = with_cluster(router(state(store, false, true), 1024), status);
    let (s, body) = send(&app, "GET", "/readyz", vec![], None).await?;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        body["cluster"],
        json!({"role": "follower", "epoch": 7, "leader": "ctl-1",
               "instance_id": "ctl-2", "leadership_changes": 0})
    );
    let _ = tx.send(crate::cluster::Role::Leader { epoch: 8 });
    let (_, body) = send(&app, "GET", "/healthz", vec![], None).await?;
    assert_eq!(body["cluster"]["role"], "leader");
    assert_eq!(body["cluster"]["epoch"], 8);
    assert_eq!(body["cluster"]["leader"], "ctl-2");
    Ok(())
}

#[tokio::test]
async fn status_routes_are_merged_and_behind_the_token() -> TestResult {
    use crate::health::{HealthOptions, HealthSync};
    let (store, _d) = test_store().await;
    let agent = crate::octavia::DriverAgentClient::new(
        "/nonexistent/status.sock".into(),
        "/nonexistent/stats.sock".into(),
        "/nonexistent/get.sock".into(),
        Duration::from_secs(1),
    );
    let (_delivery, handle) = crate::status::StatusDelivery::new(
        store.clone(),
        agent.clone(),
        crate::status::DeliveryOptions::default(),
    );
    let client = crate::loxilb::LoxilbClient::new(crate::loxilb::ClientOptions {
        nodes: vec!["http://127.0.0.1:9".into()],
        ..Default::default()
    })?;
    let (_sync, health) = HealthSync::new(
        store.clone(),
        client,
        agent,
        handle,
        HealthOptions::default(),
    );
    let mut st = state(store, false, true);
    st.health = Some(health);
    let app = router_with_token(st.clone(), 1 << 20, BearerToken::new("s3cret"));
    let uri = "/v1/status/members/m1";
    let (s, _) = send(&app, "GET", uri, vec![], None).await?;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, body) = send(&app, "GET", uri, vec![], Some("s3cret")).await?;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    let (s, _) = send(&router(st, 1024), "GET", "/v1/status/pools/p", vec![], None).await?;
    assert_eq!(s, StatusCode::NOT_FOUND);
    Ok(())
}

mod desired;
mod dsr;
mod limits;
mod strict;
