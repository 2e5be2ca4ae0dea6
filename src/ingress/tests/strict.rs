//! Strict bodies at the ingress: duplicate keys, non-UUID ids, over-long strings
//! and control characters get 400 naming the field, and nothing is journaled.

use super::*;
use crate::test_support::{ok, TestResult};

fn lb(fields: Value) -> Value {
    let mut lb = json!({"loadbalancer_id": LB1, "vip_address": "127.0.0.10"});
    if let (Some(o), Value::Object(extra)) = (lb.as_object_mut(), fields) {
        o.extend(extra);
    }
    json!({"method": "loadbalancer_create", "args": {"loadbalancer": lb}})
}

async fn refused(app: &Router, body: Vec<u8>, field: &str) -> TestResult {
    let (status, answer) = send(app, "POST", "/v1/events", body.clone(), None).await?;
    let shown = String::from_utf8_lossy(&body[..body.len().min(120)]).into_owned();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{shown}: {answer}");
    assert_eq!(answer["field"].as_str(), Some(field), "{shown}: {answer}");
    Ok(())
}

#[tokio::test]
async fn duplicate_keys_at_any_depth_are_refused() -> TestResult {
    let (store, _d) = test_store().await;
    let app = router(state(store.clone(), false, true), 1 << 20);
    // The measured attack: the second "method" used to win and run a delete.
    let body = format!(
        r#"{{"method":"l7policy_create","method":"loadbalancer_delete","args":{{"loadbalancer":{{"loadbalancer_id":"{LB1}"}},"cascade":true}}}}"#
    );
    refused(&app, body.into_bytes(), "method").await?;
    let nested = format!(
        r#"{{"method":"loadbalancer_create","args":{{"loadbalancer":{{"loadbalancer_id":"{LB1}","vip_address":"127.0.0.10","name":"a","name":"b"}}}}}}"#
    );
    refused(&app, nested.into_bytes(), "loadbalancer.name").await?;
    let in_list = format!(
        r#"{{"method":"member_batch_update","args":{{"pool_id":"{LB2}","members":[{{"member_id":"{LB1}","weight":1,"weight":2}}]}}}}"#
    );
    refused(&app, in_list.into_bytes(), "members[0].weight").await?;
    assert_eq!(store.event_count().await.unwrap_or(-1), 0);
    Ok(())
}

#[tokio::test]
async fn non_uuid_ids_long_strings_and_control_characters_are_refused() -> TestResult {
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
        .await?;
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
        refused(&app, lb(extra).to_string().into_bytes(), field).await?;
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
    .await?;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(store.event_count().await.unwrap_or(-1), 1);
    Ok(())
}

mod mutations {
    //! The strict mutations through the router: each refused with 400 naming the
    //! field, and the journal stays empty.

    use super::*;
    use proptest::prelude::*;

    const LISTENER: &str = "2f1e0d9c-8b7a-4f6e-9d5c-4b3a2f1e0d9c";

    /// A valid graph create as text; `lb_extra` and `listener_extra` are spliced
    /// into the two objects' key lists, `top_extra` into the envelope's.
    fn body(lb_id: &str, listener_id: &str, name: &str, extra: [&str; 3]) -> String {
        let [top, lb, listener] = extra;
        format!(
            r#"{{"method":"loadbalancer_create"{top},"args":{{"loadbalancer":{{"loadbalancer_id":{lb_id},"vip_address":"127.0.0.10","name":{name}{lb},"listeners":[{{"listener_id":{listener_id},"protocol":"TCP","protocol_port":80{listener}}}]}}}}}}"#,
            lb_id = json!(lb_id),
            listener_id = json!(listener_id),
            name = json!(name),
        )
    }

    /// One mutation of the valid body, and the field its refusal must name.
    fn mutated(kind: usize, id: &str, len: usize, control: char) -> (String, String) {
        let ok = |name: &str| body(LB1, LISTENER, name, ["", "", ""]);
        match kind {
            0 => (
                body(
                    LB1,
                    LISTENER,
                    "n",
                    [r#","method":"loadbalancer_delete""#, "", ""],
                ),
                "method".into(),
            ),
            1 => (
                body(LB1, LISTENER, "n", ["", r#","name":"other""#, ""]),
                "loadbalancer.name".into(),
            ),
            2 => (
                body(LB1, LISTENER, "n", ["", "", r#","protocol_port":81"#]),
                "loadbalancer.listeners[0].protocol_port".into(),
            ),
            3 => (
                body(id, LISTENER, "n", ["", "", ""]),
                "loadbalancer.loadbalancer_id".into(),
            ),
            4 => (
                body(LB1, id, "n", ["", "", ""]),
                "loadbalancer.listeners[0].listener_id".into(),
            ),
            5 => (ok(&"n".repeat(256 + len)), "loadbalancer.name".into()),
            _ => (ok(&format!("a{control}b")), "loadbalancer.name".into()),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn every_mutation_is_refused_naming_its_field_and_nothing_is_journaled(
            kind in 0usize..7,
            id in "[a-z0-9]{1,20}|1e400|80",
            len in 0usize..3000,
            control in prop::sample::select(vec!['\u{0}', '\r', '\n', '\u{1b}', '\u{7f}']),
        ) {
            let rt = ok(tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build());
            rt.block_on(async {
                let (store, _d) = test_store().await;
                let app = router(state(store.clone(), false, true), 1 << 20);
                // The unmutated body is accepted: the refusal is the mutation's.
                let valid = body(LB1, LISTENER, "n", ["", "", ""]);
                let (status, answer) = ok(send(&app, "POST", "/v1/events", valid.into_bytes(), None).await);
                assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
                let (text, field) = mutated(kind, &id, len, control);
                let (status, answer) = ok(send(&app, "POST", "/v1/events", text.into_bytes(), None).await);
                assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
                assert_eq!(answer["field"].as_str(), Some(field.as_str()), "{answer}");
                assert_eq!(store.event_count().await.unwrap_or(-1), 1, "a refused body was journaled");
            });
        }
    }
}
