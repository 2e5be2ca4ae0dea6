//! Strict bodies at the ingress: duplicate keys, non-UUID ids, over-long strings
//! and control characters get 400 naming the field, and nothing is journaled.

use super::*;

fn lb(fields: Value) -> Value {
    let mut lb = json!({"loadbalancer_id": LB1, "vip_address": "127.0.0.10"});
    if let (Some(o), Value::Object(extra)) = (lb.as_object_mut(), fields) {
        o.extend(extra);
    }
    json!({"method": "loadbalancer_create", "args": {"loadbalancer": lb}})
}

async fn refused(app: &Router, body: Vec<u8>, field: &str) {
    let (status, answer) = send(app, "POST", "/v1/events", body.clone(), None).await;
    let shown = String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{shown}: {answer}");
    assert_eq!(answer["field"].as_str(), Some(field), "{shown}: {answer}");
}

#[tokio::test]
async fn duplicate_keys_at_any_depth_are_refused() {
    let (store, _d) = test_store().await;
    let app = router(state(store.clone(), false, true), 1 << 20);
    // The measured attack: the second "method" used to win and run a delete.
    let body = format!(
        r#"{{"method":"l7policy_create","method":"loadbalancer_delete","args":{{"loadbalancer":{{"loadbalancer_id":"{LB1}"}},"cascade":true}}}}"#
    );
    refused(&app, body.into_bytes(), "method").await;
    let nested = format!(
        r#"{{"method":"loadbalancer_create","args":{{"loadbalancer":{{"loadbalancer_id":"{LB1}","vip_address":"127.0.0.10","name":"a","name":"b"}}}}}}"#
    );
    refused(&app, nested.into_bytes(), "loadbalancer.name").await;
    let in_list = format!(
        r#"{{"method":"member_batch_update","args":{{"pool_id":"{LB2}","members":[{{"member_id":"{LB1}","weight":1,"weight":2}}]}}}}"#
    );
    refused(&app, in_list.into_bytes(), "members[0].weight").await;
    assert_eq!(store.event_count().await.unwrap_or(-1), 0);
}

#[tokio::test]
async fn non_uuid_ids_long_strings_and_control_characters_are_refused() {
    let (store, _d) = test_store().await;
    let app = router(state(store.clone(), false, true), 1 << 20);
    for id in ["x", "80", "1e400", "8d7c2a3e5b1f4c6a9e0d1f2a3b4c5d6e"] {
        let body = json!({"method": "loadbalancer_create", "args": {"loadbalancer": {
            "loadbalancer_id": id, "vip_address": "127.0.0.10"}}});
        refused(
            &app,
            body.to_string().into_bytes(),
            "loadbalancer.loadbalancer_id",
        )
        .await;
    }
    let long = "n".repeat(256);
    for (extra, field) in [
        (json!({"name": long}), "loadbalancer.name"),
        (
            json!({"description": "d".repeat(100_000)}),
            "loadbalancer.description",
        ),
        (
            json!({"project_id": "p".repeat(256)}),
            "loadbalancer.project_id",
        ),
        (
            json!({"vip_subnet_id": "subnet"}),
            "loadbalancer.vip_subnet_id",
        ),
        (json!({"name": "a\u{0}b"}), "loadbalancer.name"),
        (json!({"name": "a\r\nb"}), "loadbalancer.name"),
    ] {
        refused(&app, lb(extra).to_string().into_bytes(), field).await;
    }
    assert_eq!(
        store.event_count().await.unwrap_or(-1),
        0,
        "a refused body was journaled"
    );
    // At the limits, the same event is accepted.
    let ok = lb(json!({"name": "n".repeat(255), "description": "two\nlines"}));
    let (status, body) = send(
        &app,
        "POST",
        "/v1/events",
        ok.to_string().into_bytes(),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(store.event_count().await.unwrap_or(-1), 1);
}
