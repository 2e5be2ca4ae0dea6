//! `GET /v1/desired/loadbalancers[/{id}]`: the stored desired state, read-only.

use super::*;
use crate::test_support::TestResult;

const LISTENER: &str = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9";

fn listener_create() -> Vec<u8> {
    json!({"method": "listener_create", "args": {"listener": {
        "listener_id": LISTENER, "loadbalancer_id": LB1, "protocol": "TCP",
        "protocol_port": 80, "admin_state_up": true}}})
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn desired_routes_show_stored_bodies_and_change_nothing() -> TestResult {
    let (store, _d) = test_store().await;
    // Synchronous mode: each POST answers once its event is applied.
    let app = router(state(store.clone(), true, true), 1 << 20);
    for body in [lb_create(LB1), listener_create()] {
        let (s, answer) = send(&app, "POST", "/v1/events", body, None).await?;
        assert_eq!(s, StatusCode::OK, "{answer}");
    }
    let events = store.event_count().await.unwrap_or(-1);

    let (s, list) = send(&app, "GET", "/v1/desired/loadbalancers", vec![], None).await?;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list, json!({"loadbalancers": [LB1]}));

    let uri = format!("/v1/desired/loadbalancers/{LB1}");
    let (s, tree) = send(&app, "GET", &uri, vec![], None).await?;
    assert_eq!(s, StatusCode::OK, "{tree}");
    assert_eq!(tree["loadbalancer"]["vip_address"], "127.0.0.10");
    assert_eq!(tree["listeners"][0]["listener_id"], LISTENER);
    assert_eq!(tree["listeners"][0]["protocol_port"], 80);
    assert_eq!(tree["pools"], json!([]));
    assert_eq!(tree["members"], json!([]));
    assert_eq!(tree["health_monitors"], json!([]));
    assert_eq!(tree["in_flight"], false);

    let (s, body) = send(&app, "GET", "/v1/desired/loadbalancers/nope", vec![], None).await?;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"], "not_found");
    assert_eq!(
        store.event_count().await.unwrap_or(-1),
        events,
        "reads journal nothing"
    );

    let guarded = router_with_token(state(store, true, true), 1 << 20, BearerToken::new("t"));
    let (s, _) = send(&guarded, "GET", &uri, vec![], None).await?;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = send(&guarded, "GET", &uri, vec![], Some("t")).await?;
    assert_eq!(s, StatusCode::OK);
    Ok(())
}
