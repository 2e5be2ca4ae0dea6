//! LoxiLB's 32 serving members per pool, enforced at the ingress through the router.

use super::*;
use crate::test_support::{ok, TestResult};

fn post(method: &str, args: Value) -> Vec<u8> {
    json!({"method": method, "args": args})
        .to_string()
        .into_bytes()
}

fn member(i: usize, weight: u16) -> Value {
    json!({"member_id": format!("m{i}"), "pool_id": "p1", "address": "127.0.0.1",
           "protocol_port": 10000 + i, "weight": weight, "admin_state_up": true})
}

async fn app_with_pool() -> TestResult<(Router, Store, tempfile::TempDir)> {
    let (store, dir) = test_store().await;
    let app = router(short_id_state(store.clone(), false, true), 1 << 20);
    let (s, _) = send(&app, "POST", "/v1/events", lb_create("lb1"), None).await?;
    assert_eq!(s, StatusCode::ACCEPTED);
    let pool = json!({"pool": {"pool_id": "p1", "loadbalancer_id": "lb1", "protocol": "TCP",
                                "lb_algorithm": "ROUND_ROBIN"}});
    let (s, body) = send(&app, "POST", "/v1/events", post("pool_create", pool), None).await?;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    Ok((app, store, dir))
}

async fn create(app: &Router, i: usize, weight: u16) -> TestResult<(StatusCode, Value)> {
    let body = post("member_create", json!({"member": member(i, weight)}));
    send(app, "POST", "/v1/events", body, None).await
}

async fn journaled(store: &Store) -> TestResult<i64> {
    Ok(store.event_count().await?)
}

fn assert_refused(status: StatusCode, body: &Value, field: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"], "unsupported", "{body}");
    assert_eq!(body["field"], field, "{body}");
    let user = body["user_fault_string"].as_str().unwrap_or("");
    assert!(user.contains("32") && user.contains("p1"), "{user}");
    let operator = body["operator_fault_string"].as_str().unwrap_or("");
    assert!(operator.contains("endpoints-range"), "{operator}");
}

#[tokio::test]
async fn thirty_two_serving_members_are_accepted_and_the_33rd_is_refused() -> TestResult {
    let (app, store, _d) = app_with_pool().await?;
    for i in 0..32 {
        let (s, body) = create(&app, i, 1).await?;
        assert_eq!(s, StatusCode::ACCEPTED, "member {i}: {body}");
    }
    let before = journaled(&store).await?;
    let (s, body) = create(&app, 32, 3).await?;
    assert_refused(s, &body, "member");
    assert_eq!(journaled(&store).await?, before, "nothing journaled");
    Ok(())
}

#[tokio::test]
async fn a_drained_33rd_member_is_accepted_and_refused_when_undrained() -> TestResult {
    let (app, store, _d) = app_with_pool().await?;
    for i in 0..32 {
        assert_eq!(create(&app, i, 1).await?.0, StatusCode::ACCEPTED);
    }
    let (s, body) = create(&app, 32, 0).await?;
    assert_eq!(s, StatusCode::ACCEPTED, "drained member: {body}");
    let before = journaled(&store).await?;
    let undrain = post(
        "member_update",
        json!({"old_member": member(32, 0), "new_member": {"member_id": "m32", "weight": 5}}),
    );
    let (s, body) = send(&app, "POST", "/v1/events", undrain, None).await?;
    assert_refused(s, &body, "new_member.weight");
    assert_eq!(journaled(&store).await?, before);
    // Renaming the drained member changes no count.
    let rename = post(
        "member_update",
        json!({"old_member": member(32, 0), "new_member": {"member_id": "m32", "name": "x"}}),
    );
    let (s, body) = send(&app, "POST", "/v1/events", rename, None).await?;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    Ok(())
}

#[tokio::test]
async fn a_batch_update_of_33_serving_members_is_refused() -> TestResult {
    let (app, store, _d) = app_with_pool().await?;
    let before = journaled(&store).await?;
    let batch: Vec<Value> = (0..33).map(|i| member(i, 1)).collect();
    let body = post(
        "member_batch_update",
        json!({"pool_id": "p1", "members": batch}),
    );
    let (s, answer) = send(&app, "POST", "/v1/events", body, None).await?;
    assert_refused(s, &answer, "members");
    assert_eq!(journaled(&store).await?, before);
    let mut batch: Vec<Value> = (0..32).map(|i| member(i, 1)).collect();
    batch.push(member(32, 0));
    let body = post(
        "member_batch_update",
        json!({"pool_id": "p1", "members": batch}),
    );
    let (s, answer) = send(&app, "POST", "/v1/events", body, None).await?;
    assert_eq!(s, StatusCode::ACCEPTED, "{answer}");
    // The batch is the pool's member set now: one more serving member is too many.
    assert_refused_member(create(&app, 40, 1).await?);
    Ok(())
}

fn assert_refused_member((s, body): (StatusCode, Value)) {
    assert_refused(s, &body, "member");
}

#[tokio::test]
async fn concurrent_creates_do_not_overshoot() -> TestResult {
    let (app, store, _d) = app_with_pool().await?;
    let before = journaled(&store).await?;
    let tasks: Vec<_> = (0..48)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move { ok(create(&app, i, 1).await).0 })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        match t.await {
            Ok(StatusCode::ACCEPTED) => accepted += 1,
            Ok(StatusCode::BAD_REQUEST) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(accepted, 32);
    assert_eq!(journaled(&store).await?, before + 32);
    Ok(())
}

#[tokio::test]
async fn after_a_member_delete_a_new_member_is_accepted() -> TestResult {
    let (app, _store, _d) = app_with_pool().await?;
    for i in 0..32 {
        assert_eq!(create(&app, i, 1).await?.0, StatusCode::ACCEPTED);
    }
    assert_refused_member(create(&app, 32, 1).await?);
    let delete = post("member_delete", json!({"member": member(5, 1)}));
    let (s, body) = send(&app, "POST", "/v1/events", delete, None).await?;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    let (s, body) = create(&app, 32, 1).await?;
    assert_eq!(s, StatusCode::ACCEPTED, "{body}");
    Ok(())
}

#[tokio::test]
async fn a_pool_created_with_33_serving_members_is_refused() -> TestResult {
    let (store, _d) = test_store().await;
    let app = router(short_id_state(store.clone(), false, true), 1 << 20);
    let members: Vec<Value> = (0..33).map(|i| member(i, 1)).collect();
    let pool = json!({"pool": {"pool_id": "p1", "loadbalancer_id": "lb1", "protocol": "TCP",
                                "lb_algorithm": "ROUND_ROBIN", "members": members}});
    let (s, body) = send(&app, "POST", "/v1/events", post("pool_create", pool), None).await?;
    assert_refused(s, &body, "pool.members");
    assert_eq!(journaled(&store).await?, 0);
    Ok(())
}
