//! LB rule behaviour: rule-created probes and their reference counts, conflicts,
//! attach/detach/replace, deletes and validation.

mod common;

use common::{rule, sim, tcp_ep};
use serde_json::json;

const EP_DEL: &str = "/config/endpoint/epipaddress/10.0.0.1?probe_type=tcp&probe_port=80";

#[tokio::test]
async fn monitored_rules_create_refcounted_probes_removed_with_last_rule() {
    let (_sim, api) = sim(false).await;
    let mon = json!({"monitor": true});
    assert_eq!(
        api.post(
            "/config/loadbalancer",
            rule("192.0.2.1", 80, &[("10.0.0.1", 80)], mon.clone())
        )
        .await
        .0,
        200
    );
    let e = api
        .endpoint("10.0.0.1_tcp_80")
        .await
        .expect("rule-created probe");
    assert_eq!(
        (
            e["probeType"].clone(),
            e["probeDuration"].clone(),
            e["inactiveReTries"].clone()
        ),
        (json!("tcp"), json!(60), json!(2))
    );
    let (s, v) = api.delete(EP_DEL).await;
    assert_eq!((s, v["result"].clone()), (409, json!("LB Rule-referred")));

    // A second rule sharing the member refers to the same probe.
    assert_eq!(
        api.post(
            "/config/loadbalancer",
            rule("192.0.2.2", 80, &[("10.0.0.1", 80)], mon)
        )
        .await
        .0,
        200
    );
    assert_eq!(api.endpoints().await.len(), 1);

    // A health monitor reaches the rules by POSTing the same key.
    let mut hm = tcp_ep("10.0.0.1", 80);
    hm["name"] = json!("10.0.0.1_tcp_80");
    hm["probeType"] = json!("http");
    hm["probeReq"] = json!("/hc");
    assert_eq!(api.post("/config/endpoint", hm).await.0, 200);
    assert_eq!(
        api.endpoint("10.0.0.1_tcp_80").await.expect("ep")["probeType"],
        "http"
    );

    assert_eq!(
        api.delete("/config/loadbalancer/externalipaddress/192.0.2.1/port/80/protocol/tcp")
            .await
            .0,
        200
    );
    assert!(
        api.endpoint("10.0.0.1_tcp_80").await.is_some(),
        "still referenced by rule 2"
    );
    assert_eq!(api.delete(EP_DEL).await.0, 409);
    assert_eq!(
        api.delete("/config/loadbalancer/externalipaddress/192.0.2.2/port/80/protocol/tcp")
            .await
            .0,
        200
    );
    assert!(
        api.endpoints().await.is_empty(),
        "last rule removal deletes the probe"
    );
}

#[tokio::test]
async fn api_created_probe_is_deleted_with_last_referring_rule_and_modes_create_probes() {
    let (_sim, api) = sim(false).await;
    assert_eq!(
        api.post("/config/endpoint", tcp_ep("10.0.0.1", 80)).await.0,
        200
    );
    assert_eq!(
        api.post(
            "/config/loadbalancer",
            rule("192.0.2.1", 80, &[("10.0.0.1", 80)], json!({"mode": 2}))
        )
        .await
        .0,
        200
    );
    assert_eq!(api.delete(EP_DEL).await.0, 409);
    assert_eq!(
        api.delete("/config/loadbalancer/externalipaddress/192.0.2.1/port/80/protocol/tcp")
            .await
            .0,
        200
    );
    assert!(api.endpoints().await.is_empty());
    // Plain dnat without monitor creates a non-probing entry; icmp rules key ping on port 0.
    assert_eq!(
        api.post(
            "/config/loadbalancer",
            rule("192.0.2.1", 80, &[("10.0.0.1", 80)], json!({}))
        )
        .await
        .0,
        200
    );
    let e = api
        .endpoint("10.0.0.1_tcp_80")
        .await
        .expect("inactive entry");
    assert_eq!(e["probeType"], "none");
    let icmp = rule(
        "192.0.2.3",
        0,
        &[("10.0.0.5", 0)],
        json!({"protocol": "icmp", "monitor": true}),
    );
    assert_eq!(api.post("/config/loadbalancer", icmp).await.0, 200);
    assert!(api.endpoint("10.0.0.5_ping_0").await.is_some());
    // Rule probe options override the defaults.
    let o = json!({"monitor": true, "probetype": "tcp", "probeport": 8080, "probeTimeout": 5, "probeRetries": 4});
    assert_eq!(
        api.post(
            "/config/loadbalancer",
            rule("192.0.2.4", 80, &[("10.0.0.6", 80)], o)
        )
        .await
        .0,
        200
    );
    let e = api.endpoint("10.0.0.6_tcp_80").await.expect("ep");
    assert_eq!(
        (
            e["probePort"].clone(),
            e["probeDuration"].clone(),
            e["inactiveReTries"].clone()
        ),
        (json!(8080), json!(5), json!(4))
    );
}

#[tokio::test]
async fn identical_repost_is_409_lbrule_exists() {
    let (_sim, api) = sim(false).await;
    let r = rule(
        "192.0.2.1",
        80,
        &[("10.0.0.1", 80), ("10.0.0.2", 80)],
        json!({"name": "a"}),
    );
    assert_eq!(api.post("/config/loadbalancer", r.clone()).await.0, 200);
    let (s, v) = api.post("/config/loadbalancer", r.clone()).await;
    assert_eq!(
        (s, v["code"].clone(), v["result"].clone()),
        (409, json!(409), json!("lbrule-exists error"))
    );
    // Only an unrelated option changes: LoxiLB still says exists.
    let mut renamed = r.clone();
    renamed["serviceArguments"]["name"] = json!("b");
    assert_eq!(api.post("/config/loadbalancer", renamed).await.0, 409);
    // sel change is an update.
    let mut sel = r;
    sel["serviceArguments"]["sel"] = json!(1);
    assert_eq!(api.post("/config/loadbalancer", sel).await.0, 200);
    assert_eq!(api.rules().await[0]["serviceArguments"]["sel"], 1);
    assert_eq!(api.rules().await[0]["serviceArguments"]["name"], "a");
}

#[tokio::test]
async fn attach_detach_replace_and_empty_update_deletes_rule() {
    let (_sim, api) = sim(false).await;
    let eps_of = |rules: &Vec<serde_json::Value>| -> Vec<String> {
        rules[0]["endpoints"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| {
                        format!(
                            "{}:{}",
                            e["endpointIP"].as_str().unwrap_or(""),
                            e["targetPort"]
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
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
    let attach = rule(
        "192.0.2.1",
        80,
        &[("10.0.0.2", 80)],
        json!({"oper": 1, "monitor": true}),
    );
    assert_eq!(api.post("/config/loadbalancer", attach).await.0, 200);
    assert_eq!(
        eps_of(&api.rules().await),
        vec!["10.0.0.1:80", "10.0.0.2:80"]
    );
    // getLBConsolidatedEPs puts stored endpoints missing from an attach post into the
    // drop list too, so LoxiLB releases 10.0.0.1's probe although it stays in the rule.
    let keys: Vec<String> = api
        .endpoints()
        .await
        .iter()
        .map(|e| e["name"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(keys, vec!["10.0.0.2_tcp_80"]);
    let detach = rule(
        "192.0.2.1",
        80,
        &[("10.0.0.1", 80)],
        json!({"oper": 2, "monitor": true}),
    );
    assert_eq!(api.post("/config/loadbalancer", detach).await.0, 200);
    assert_eq!(eps_of(&api.rules().await), vec!["10.0.0.2:80"]);
    assert!(
        api.endpoint("10.0.0.1_tcp_80").await.is_none(),
        "detached member's probe released"
    );
    let detach_all = rule(
        "192.0.2.1",
        80,
        &[("10.0.0.2", 80)],
        json!({"oper": 2, "monitor": true}),
    );
    assert_eq!(api.post("/config/loadbalancer", detach_all).await.0, 200);
    assert!(
        api.rules().await.is_empty(),
        "update leaving no endpoints deletes the rule"
    );
    assert!(api.endpoints().await.is_empty());
    let (s, v) = api
        .post(
            "/config/loadbalancer",
            rule("192.0.2.9", 80, &[("10.0.0.1", 80)], json!({"oper": 2})),
        )
        .await;
    assert_eq!(
        (s, v["result"].clone()),
        (404, json!("lbrule not-exists error"))
    );
}

#[tokio::test]
async fn immutable_modes_conflict_and_deletes_404_when_absent() {
    let (_sim, api) = sim(false).await;
    assert_eq!(
        api.post(
            "/config/loadbalancer",
            rule("192.0.2.1", 80, &[("10.0.0.1", 80)], json!({"name": "web"}))
        )
        .await
        .0,
        200
    );
    let (s, v) = api
        .post(
            "/config/loadbalancer",
            rule("192.0.2.1", 80, &[("10.0.0.1", 80)], json!({"mode": 4})),
        )
        .await;
    assert_eq!(
        (s, v["result"].clone()),
        (
            409,
            json!("lbrule-exist error: cant modify fullproxy rule mode")
        )
    );
    let (s, _) = api
        .post(
            "/config/loadbalancer",
            rule("192.0.2.1", 80, &[("10.0.0.2", 80)], json!({"security": 1})),
        )
        .await;
    assert_eq!(s, 409);
    assert_eq!(
        api.delete("/config/loadbalancer/externalipaddress/192.0.2.1/port/81/protocol/tcp")
            .await
            .0,
        404
    );
    assert_eq!(
        api.delete("/config/loadbalancer/name/nope").await.0,
        200,
        "ConfigDeleteLoadbalancerByName always answers Success"
    );
    assert_eq!(api.delete("/config/loadbalancer/name/web").await.0, 200);
    assert!(api.rules().await.is_empty());
    assert_eq!(
        api.delete("/config/loadbalancer/externalipaddress/192.0.2.1/port/80/protocol/tcp")
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn rule_validation_is_400() {
    let (_sim, api) = sim(false).await;
    let cases = [
        (
            rule("nope", 80, &[("10.0.0.1", 80)], json!({})),
            "malformed-service error",
        ),
        (
            rule(
                "192.0.2.1",
                80,
                &[("10.0.0.1", 80)],
                json!({"protocol": "icmp"}),
            ),
            "malformed-service error",
        ),
        (
            rule("192.0.2.1", 80, &[], json!({})),
            "endpoints-range error",
        ),
        (
            rule("192.0.2.1", 80, &[("x", 80)], json!({})),
            "malformed-lbep error",
        ),
        (
            rule(
                "192.0.2.1",
                80,
                &[("10.0.0.1", 80)],
                json!({"probetype": "tcp"}),
            ),
            "malformed-service-pport error",
        ),
        (
            rule(
                "192.0.2.1",
                80,
                &[("10.0.0.1", 80)],
                json!({"protocol": ""}),
            ),
            "malformed-proto error",
        ),
    ];
    for (body, text) in cases {
        let (s, v) = api.post("/config/loadbalancer", body.clone()).await;
        assert_eq!((s, v["result"].clone()), (400, json!(text)), "{body}");
    }
    assert!(api.rules().await.is_empty());
}
