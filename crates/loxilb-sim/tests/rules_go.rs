//! LB rule behaviours checked against LoxiLB's Go source (pkg/loxinet/rules.go and
//! api/restapi/handler), one test per function they mirror, over real HTTP.

mod common;

use common::{rule, sim, Api};
use loxilb_sim::{SimHandle, SimOptions};
use serde_json::{json, Value};

const LB: &str = "/config/loadbalancer";

async fn sim_v(version: &str) -> (SimHandle, Api) {
    let sim = loxilb_sim::spawn(SimOptions {
        probing: false,
        version: version.parse().expect("version"),
        ..SimOptions::default()
    })
    .await
    .expect("spawn");
    let api = Api::new(&sim);
    (sim, api)
}

async fn post(api: &Api, body: Value) -> (u16, Value) {
    api.post(LB, body).await
}

fn eps_of(r: &Value) -> Vec<String> {
    r["endpoints"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| format!("{}:{}", e["endpointIP"].as_str().unwrap_or(""), e["weight"]))
                .collect()
        })
        .unwrap_or_default()
}

/// Mirrors rules.go AddLbRule: rule probetype only tcp/udp/sctp/ping/none (http/https
/// pass swagger but are refused), probeport needed for tcp/udp/sctp and refused otherwise.
#[tokio::test]
async fn addlbrule_refuses_http_probetype() {
    let (_s, api) = sim(false).await;
    let one = [("10.0.0.1", 80)];
    for (extra, text) in [
        (
            json!({"probetype": "http", "probeport": 80}),
            "malformed-service-ptype error",
        ),
        (
            json!({"probetype": "https"}),
            "malformed-service-ptype error",
        ),
        (json!({"probetype": "udp"}), "malformed-service-pport error"),
        (
            json!({"probetype": "ping", "probeport": 1}),
            "malformed-service-pport error",
        ),
        (
            json!({"probetype": "none", "probeport": 1}),
            "malformed-service-pport error",
        ),
        (json!({"probeport": 1}), "malformed-service-pport error"),
    ] {
        let (s, v) = post(&api, rule("192.0.2.1", 80, &one, extra.clone())).await;
        assert_eq!((s, v["result"].clone()), (400, json!(text)), "{extra}");
    }
    assert!(api.rules().await.is_empty());
    let (s, _) = post(
        &api,
        rule("192.0.2.1", 80, &one, json!({"probetype": "ping"})),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(api.rules().await[0]["serviceArguments"]["monitor"], true);
}

/// Mirrors rules.go AddLbRule: 1..=32 endpoints, inactiveTimeOut <= 86400 with 0 meaning
/// 240 (tcp/sctp) or 20, portMax >= port, sel n3 only for udp, proxy protocol only for tcp.
#[tokio::test]
async fn addlbrule_argument_checks_and_inactive_timeout_default() {
    let (_s, api) = sim(false).await;
    let many: Vec<(String, u16)> = (1..=33).map(|i| (format!("10.0.1.{i}"), 80)).collect();
    let many: Vec<(&str, u16)> = many.iter().map(|(a, p)| (a.as_str(), *p)).collect();
    let one = [("10.0.0.1", 80)];
    for (body, status, text) in [
        (
            rule("192.0.2.1", 80, &many, json!({})),
            400,
            "endpoints-range error",
        ),
        (
            rule("192.0.2.1", 80, &one, json!({"inactiveTimeOut": 86401})),
            400,
            "service-args error",
        ),
        (
            rule("192.0.2.1", 80, &one, json!({"portMax": 79})),
            400,
            "serv-port-args range error",
        ),
        (
            rule("192.0.2.1", 80, &one, json!({"sel": 6})),
            400,
            "non-udp-n3-args error",
        ),
        (
            rule(
                "192.0.2.1",
                80,
                &one,
                json!({"protocol": "udp", "proxyprotocolv2": true}),
            ),
            500,
            "proxy-proto-v2 not tcp service error",
        ),
    ] {
        let (s, v) = post(&api, body).await;
        assert_eq!((s, v["result"].clone()), (status, json!(text)));
    }
    assert_eq!(
        post(&api, rule("192.0.2.1", 80, &many[..32], json!({})))
            .await
            .0,
        200
    );
    let udp = rule("192.0.2.2", 53, &one, json!({"protocol": "udp", "sel": 6}));
    assert_eq!(post(&api, udp).await.0, 200);
    for r in api.rules().await {
        let a = &r["serviceArguments"];
        let want = if a["protocol"] == "tcp" { 240 } else { 20 };
        assert_eq!(a["inactiveTimeOut"], want);
    }
}

/// Mirrors handler/loadbalancer.go ConfigPostLoadbalancer: weight is cast to uint8 and
/// DSR (mode 3) without hash selection is a 200 "Error: ..." result, in every release.
#[tokio::test]
async fn configpostloadbalancer_casts_weight_and_refuses_dsr_without_hash() {
    for version in ["v0.9.8.4", "v0.9.8.8"] {
        let (_s, api) = sim_v(version).await;
        let mut body = rule(
            "192.0.2.1",
            80,
            &[("10.0.0.1", 80), ("10.0.0.2", 80)],
            json!({}),
        );
        body["endpoints"][0]["weight"] = json!(256);
        body["endpoints"][1]["weight"] = json!(300);
        assert_eq!(post(&api, body).await.0, 200);
        assert_eq!(
            eps_of(&api.rules().await[0]),
            vec!["10.0.0.1:0", "10.0.0.2:44"]
        );
        let dsr = rule(
            "192.0.2.3",
            80,
            &[("10.0.0.1", 80)],
            json!({"mode": 3, "sel": 0}),
        );
        let (s, v) = post(&api, dsr).await;
        assert_eq!(
            (s, v),
            (
                200,
                json!({"result": "Error: Only Hash Selection criteria allowed for DSR mode"})
            )
        );
        assert_eq!(api.rules().await.len(), 1, "{version}: no DSR rule");
    }
}

/// Mirrors rules.go AddLbRule (existing rule): a re-post differing only in monitor,
/// probeTimeout, probeRetries, inactiveTimeOut or name is 409 and stores nothing; a real
/// change stores sel/mode/probe options but keeps name, monitor and the NAT action.
#[tokio::test]
async fn addlbrule_update_409_on_uncompared_fields_and_keeps_creation_settings() {
    let (sim, api) = sim(false).await;
    let one = [("10.0.0.1", 80)];
    let base = json!({"name": "a", "inactiveTimeOut": 100});
    assert_eq!(post(&api, rule("192.0.2.1", 80, &one, base)).await.0, 200);
    for extra in [
        json!({"name": "b", "inactiveTimeOut": 100}),
        json!({"name": "a", "monitor": true, "inactiveTimeOut": 100}),
        json!({"name": "a", "probeTimeout": 5, "probeRetries": 7, "inactiveTimeOut": 100}),
        json!({"name": "a", "inactiveTimeOut": 200}),
    ] {
        let (s, v) = post(&api, rule("192.0.2.1", 80, &one, extra)).await;
        assert_eq!(
            (s, v["result"].clone()),
            (409, json!("lbrule-exists error"))
        );
    }
    let a = &api.rules().await[0]["serviceArguments"];
    assert_eq!(
        (a["name"].clone(), a["inactiveTimeOut"].clone()),
        (json!("a"), json!(100))
    );
    let upd = json!({"name": "z", "mode": 2, "sel": 1, "inactiveTimeOut": 0, "monitor": true});
    assert_eq!(post(&api, rule("192.0.2.1", 80, &one, upd)).await.0, 200);
    let a = api.rules().await[0]["serviceArguments"].clone();
    assert_eq!((a["mode"].clone(), a["sel"].clone()), (json!(2), json!(1)));
    assert_eq!((a["name"].clone(), a.get("monitor")), (json!("a"), None));
    assert_eq!(a["inactiveTimeOut"], 240, "effective default stored");
    assert_eq!(sim.control().rule_info()[0].nat, "dnat", "NAT action kept");
}

/// Mirrors rules.go AddLbRule's allowedSources comparison: equal counts are a change only
/// when no stored prefix differs from a posted one, so with one source re-posting the same
/// prefix is an update and posting another prefix is a 409.
#[tokio::test]
async fn addlbrule_allowed_sources_comparison_quirk() {
    let (_s, api) = sim(false).await;
    let with = |p: &str| {
        let mut r = rule("192.0.2.1", 80, &[("10.0.0.1", 80)], json!({}));
        r["allowedSources"] = json!([{"prefix": p}]);
        r
    };
    assert_eq!(post(&api, with("10.0.0.0/8")).await.0, 200);
    assert_eq!(
        post(&api, with("10.0.0.0/8")).await.0,
        200,
        "same prefix: update"
    );
    let (s, v) = post(&api, with("172.16.0.0/12")).await;
    assert_eq!(
        (s, v["result"].clone()),
        (409, json!("lbrule-exists error"))
    );
    assert_eq!(
        api.rules().await[0]["allowedSources"],
        json!([{"prefix": "10.0.0.0/8"}])
    );
}

/// Mirrors rules.go getLBConsolidatedEPs through AddLbRule: oper 0 hides dropped endpoints
/// (not listed, probe reference released, entry deleted), a re-post brings them back, and a
/// merged list over 32 resets the rule to the posted endpoints.
#[tokio::test]
async fn getlbconsolidatedeps_oper0_hides_and_over_32_resets() {
    let (sim, api) = sim(false).await;
    let mon = json!({"monitor": true});
    let two = [("10.0.0.1", 80), ("10.0.0.2", 80)];
    assert_eq!(
        post(&api, rule("192.0.2.1", 80, &two, mon.clone())).await.0,
        200
    );
    assert_eq!(
        post(&api, rule("192.0.2.1", 80, &two[1..], mon.clone()))
            .await
            .0,
        200
    );
    assert_eq!(eps_of(&api.rules().await[0]), vec!["10.0.0.2:1"]);
    assert_eq!(
        sim.control().rule_info()[0].hidden_endpoints,
        vec!["10.0.0.1:80"]
    );
    assert!(
        api.endpoint("10.0.0.1_tcp_80").await.is_none(),
        "reference released"
    );
    assert_eq!(
        post(&api, rule("192.0.2.1", 80, &two, mon.clone())).await.0,
        200
    );
    assert_eq!(
        eps_of(&api.rules().await[0]).len(),
        2,
        "hidden endpoint is back"
    );
    assert!(api.endpoint("10.0.0.1_tcp_80").await.is_some());
    // 2 stored + 31 new = 33 > 32: only the posted 31 remain, none hidden.
    let new: Vec<String> = (1..=31).map(|i| format!("10.0.2.{i}")).collect();
    let new: Vec<(&str, u16)> = new.iter().map(|a| (a.as_str(), 80)).collect();
    assert_eq!(post(&api, rule("192.0.2.1", 80, &new, mon)).await.0, 200);
    assert_eq!(eps_of(&api.rules().await[0]).len(), 31);
    assert!(sim.control().rule_info()[0].hidden_endpoints.is_empty());
    assert!(api.endpoint("10.0.0.1_tcp_80").await.is_none());
}

/// Mirrors rules.go AddLbRule's order of refusals on an existing rule: secIP modify (500),
/// lbrule-exists, security, egress, then no endpoints left deletes the rule.
#[tokio::test]
async fn addlbrule_update_error_order() {
    let (_s, api) = sim(false).await;
    let mut sctp = rule(
        "192.0.2.1",
        80,
        &[("10.0.0.1", 80)],
        json!({"protocol": "sctp"}),
    );
    sctp["secondaryIPs"] = json!([{"secondaryIP": "192.0.2.5"}]);
    assert_eq!(post(&api, sctp.clone()).await.0, 200);
    let mut other = sctp.clone();
    other["secondaryIPs"] = json!([{"secondaryIP": "192.0.2.6"}]);
    let (s, v) = post(&api, other).await;
    assert_eq!((s, v["result"].clone()), (500, json!("secIP modify error")));
    let one = [("10.0.0.1", 80)];
    assert_eq!(
        post(&api, rule("192.0.2.2", 80, &one, json!({}))).await.0,
        200
    );
    let (s, v) = post(&api, rule("192.0.2.2", 80, &one, json!({"security": 1}))).await;
    assert_eq!(
        (s, v["result"].clone()),
        (409, json!("lbrule-exists error"))
    );
    let both = json!({"security": 1, "egress": true, "sel": 1});
    let (_, v) = post(&api, rule("192.0.2.2", 80, &one, both)).await;
    assert_eq!(
        v["result"],
        "lbrule-exist error: cant modify rule security mode"
    );
    let (_, v) = post(
        &api,
        rule("192.0.2.2", 80, &one, json!({"egress": true, "sel": 1})),
    )
    .await;
    assert_eq!(
        v["result"],
        "lbrule-exist error: cant modify rule egress mode"
    );
    assert_eq!(
        post(&api, rule("192.0.2.2", 80, &one, json!({"oper": 2})))
            .await
            .0,
        200
    );
    assert_eq!(
        api.rules().await.len(),
        1,
        "detaching the last endpoint deleted the rule"
    );
}

/// Mirrors rules.go modNatEpHost and AddEPHost/DeleteEPHost with apiCall false: every
/// endpoint of a dnat rule gets a non-probing entry ("none", 409 on API delete); an
/// existing API-created entry keeps its options and is deleted with the last rule.
#[tokio::test]
async fn modnatephost_entries_for_every_endpoint() {
    let (_s, api) = sim(false).await;
    let one = [("10.0.0.1", 80)];
    assert_eq!(
        post(&api, rule("192.0.2.1", 80, &one, json!({}))).await.0,
        200
    );
    let e = api.endpoint("10.0.0.1_tcp_80").await.expect("entry");
    // GetEpHosts leaves the duration of a non-activated entry at zero, which the
    // handler's omitempty drops from the listing.
    assert_eq!(
        (e["probeType"].clone(), e.get("probeDuration").cloned()),
        (json!("none"), None)
    );
    let del = "/config/endpoint/epipaddress/10.0.0.1?probe_type=tcp&probe_port=80";
    assert_eq!(api.delete(del).await.0, 409);
    let mut hm = common::tcp_ep("10.0.0.9", 80);
    hm["name"] = json!("10.0.0.9_tcp_80");
    hm["probeDuration"] = json!(7);
    assert_eq!(api.post("/config/endpoint", hm).await.0, 200);
    let opts = json!({"monitor": true, "probeTimeout": 30});
    assert_eq!(
        post(&api, rule("192.0.2.2", 80, &[("10.0.0.9", 80)], opts))
            .await
            .0,
        200
    );
    let e = api.endpoint("10.0.0.9_tcp_80").await.expect("entry");
    assert_eq!(e["probeDuration"], 7, "existing entry keeps its options");
    let gone = "/config/loadbalancer/externalipaddress/192.0.2.2/port/80/protocol/tcp";
    assert_eq!(api.delete(gone).await.0, 200);
    assert!(
        api.endpoint("10.0.0.9_tcp_80").await.is_none(),
        "API-created, still deleted"
    );
}

/// Mirrors rules.go AddLbRule/addLbRuleWithFW and DeleteLbRule: a non-zero portMax adds a
/// firewall entry that only a delete passing that portMax removes; a rule with portMax ==
/// port is listed with portMax 0, so deleting it by port or by name leaks the entry.
#[tokio::test]
async fn deletelbrule_leaves_addlbrulewithfw_entry_unless_portmax_passed() {
    let (sim, api) = sim(false).await;
    let one = [("10.0.0.1", 80)];
    assert_eq!(
        post(
            &api,
            rule("192.0.2.1", 80, &one, json!({"portMax": 80, "name": "n"}))
        )
        .await
        .0,
        200
    );
    assert_eq!(
        post(&api, rule("192.0.2.2", 80, &one, json!({"portMax": 90})))
            .await
            .0,
        200
    );
    let lb = api.rules().await;
    assert!(lb
        .iter()
        .any(|r| r["serviceArguments"].get("portMax").is_none()));
    assert_eq!(sim.control().firewall().len(), 2);
    assert_eq!(api.delete("/config/loadbalancer/name/n").await.0, 200);
    let range = "/config/loadbalancer/externalipaddress/192.0.2.2/port/80/portmax/90/protocol/tcp";
    assert_eq!(api.delete(range).await.0, 200);
    let fw = sim.control().firewall();
    assert_eq!(fw.len(), 1, "{fw:?}");
    assert_eq!(
        (fw[0].destination_ip.as_str(), fw[0].max_destination_port),
        ("192.0.2.1/32", 80)
    );
}

/// Mirrors rules.go addAllowedLbSrc and utils NewMarker: only rules numbered up to 28 can
/// carry allowed sources; a deleted rule's number is reused first.
#[tokio::test]
async fn addallowedlbsrc_limits_rule_numbers_and_marker_reuses() {
    let (sim, api) = sim(false).await;
    let one = [("10.0.0.1", 80)];
    for p in 1..=28u16 {
        assert_eq!(
            post(&api, rule("192.0.2.1", p, &one, json!({}))).await.0,
            200
        );
    }
    let mut src = rule("192.0.2.1", 1000, &one, json!({}));
    src["allowedSources"] = json!([{"prefix": "10.0.0.0/8"}]);
    let (s, v) = post(&api, src.clone()).await;
    assert_eq!(
        (s, v["result"].clone()),
        (400, json!("rule-allowed-src error"))
    );
    assert_eq!(
        api.delete("/config/loadbalancer/externalipaddress/192.0.2.1/port/3/protocol/tcp")
            .await
            .0,
        200
    );
    assert_eq!(post(&api, src).await.0, 200, "number 3 is free again");
    let info = sim.control().rule_info();
    assert_eq!(
        info.iter().find(|r| r.port == 1000).map(|r| r.number),
        Some(3)
    );
    let mut bad = rule("192.0.2.9", 80, &one, json!({}));
    bad["allowedSources"] = json!([{"prefix": "10.0.0.1"}]);
    assert_eq!(post(&api, bad).await.1["result"], "rule-allowed-src error");
}

/// Mirrors rules.go GetLBRule and handler ConfigGetLoadbalancer: only the copied fields,
/// zero values omitted, hidden endpoints skipped, state and counter per endpoint.
#[tokio::test]
async fn getlbrule_lists_only_handler_fields() {
    let (_s, api) = sim(false).await;
    let extra = json!({"probetype": "tcp", "probeport": 81, "probereq": "x", "proberesp": "y",
        "probeTimeout": 9, "probeRetries": 3, "privateIP": "10.9.9.9", "name": "web"});
    assert_eq!(
        post(&api, rule("192.0.2.1", 80, &[("10.0.0.1", 80)], extra))
            .await
            .0,
        200
    );
    let r = api.rules().await.remove(0);
    let keys: Vec<&String> = r["serviceArguments"]
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        [
            "externalIP",
            "inactiveTimeOut",
            "monitor",
            "name",
            "port",
            "probeport",
            "probetype",
            "protocol"
        ]
    );
    assert_eq!(
        (r["secondaryIPs"].clone(), r["allowedSources"].clone()),
        (Value::Null, Value::Null)
    );
    let e = &r["endpoints"][0];
    assert_eq!(
        (e["state"].clone(), e["counter"].clone()),
        (json!("active"), json!("0:0"))
    );
}

/// Mirrors handler/common.go: up to v0.9.8.4 a handler error is 200 {"result"}; from
/// v0.9.8.5 the status follows ResultErrorResponseErrorMessage's text table.
#[tokio::test]
async fn resulterrorresponseerrormessage_by_version() {
    let gone = "/config/loadbalancer/externalipaddress/192.0.2.1/port/80/protocol/tcp";
    let (_a, old) = sim_v("v0.9.8.4").await;
    assert_eq!(
        old.delete(gone).await,
        (200, json!({"result": "no-rule error"}))
    );
    let (_b, new) = sim_v("v0.9.8.5").await;
    let (s, v) = new.delete(gone).await;
    assert_eq!(
        (s, v["code"].clone(), v["message"].clone()),
        (404, json!(404), json!("Resource not found"))
    );
    // Swagger validation is go-openapi's, the same in every release.
    let no_ip = json!({"serviceArguments": {"port": 80}, "endpoints": []});
    assert_eq!(old.post(LB, no_ip).await.0, 422);
    assert_eq!(
        old.post(
            LB,
            json!({"serviceArguments": {"externalIP": "192.0.2.1", "port": "80"}, "endpoints": []})
        )
        .await
        .0,
        400
    );
}
