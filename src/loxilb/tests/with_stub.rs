//! Client behaviour against scripted stubs: retries, classification, auth, limits.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::stub::{client, dead_url, opts, raw_stub, Misbehaviour, Stub};
use crate::loxilb::{
    ClientOptions, Deleted, EndPoint, ErrorKind, LoadbalanceEntry, LoxilbClient, Mode, NodeId,
    RuleApplied, Sel,
};
use crate::test_support::lock;

const N0: NodeId = NodeId(0);

fn probe() -> EndPoint {
    EndPoint {
        host_name: "10.0.0.9".into(),
        name: "10.0.0.9_tcp_80".into(),
        probe_type: "tcp".into(),
        probe_port: 80,
        probe_duration: 5,
        inactive_retries: 2,
        ..EndPoint::default()
    }
}

#[tokio::test]
async fn transient_503_is_retried_until_success() {
    let stub = Stub::start().await;
    stub.script(&[
        (503, r#"{"code":503,"result":"maintenance mode"}"#),
        (503, r#"{"code":503,"result":"maintenance mode"}"#),
    ]);
    let c = client(vec![stub.url.clone()]);
    c.create_endpoint(N0, &probe()).await.unwrap();
    let hits = stub.hits();
    assert_eq!(hits.len(), 3);
    assert!(hits
        .iter()
        .all(|h| h.method == "POST" && h.uri == "/netlox/v1/config/endpoint"));
    let body: serde_json::Value = serde_json::from_str(&hits[2].body).unwrap();
    assert_eq!(body["hostName"], "10.0.0.9");
    assert_eq!(body["probePort"], 80);
}

#[tokio::test]
async fn bad_request_is_permanent_and_not_retried() {
    let stub = Stub::start().await;
    stub.set_default(
        400,
        r#"{"code":400,"message":"bad","result":"host-args error"}"#,
    );
    let c = client(vec![stub.url.clone()]);
    let e = c.create_endpoint(N0, &probe()).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Permanent);
    assert!(!e.is_transient());
    assert_eq!(e.status, Some(400));
    assert_eq!(e.result.as_deref(), Some("host-args error"));
    assert_eq!(stub.hits().len(), 1);
}

#[tokio::test]
async fn forbidden_is_permanent_and_not_retried() {
    let stub = Stub::start().await;
    stub.set_default(403, r#"{"code":403,"result":"capacity"}"#);
    let c = client(vec![stub.url.clone()]);
    let e = c
        .apply_rule(N0, &LoadbalanceEntry::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Permanent);
    assert_eq!(stub.hits().len(), 1);
}

#[tokio::test]
async fn exhausted_retries_report_node_method_path_status_and_result() {
    let stub = Stub::start().await;
    stub.set_default(
        500,
        r#"{"code":500,"message":"oops","result":"internal boom"}"#,
    );
    let c = LoxilbClient::new(ClientOptions {
        retries: 2,
        ..opts(vec![stub.url.clone()])
    })
    .unwrap();
    let e = c.list_rules(N0).await.unwrap_err();
    assert_eq!(stub.hits().len(), 3);
    assert!(e.is_transient());
    assert_eq!(e.node, stub.url);
    assert_eq!(e.method, "GET");
    assert_eq!(e.path, "/netlox/v1/config/loadbalancer/all");
    assert_eq!(e.status, Some(500));
    assert_eq!(e.result.as_deref(), Some("internal boom"));
    assert!(e.detail.ends_with("(after 3 attempts)"), "{}", e.detail);
    let text = e.to_string();
    for part in [
        stub.url.as_str(),
        "GET",
        "/config/loadbalancer/all",
        "500",
        "internal boom",
    ] {
        assert!(text.contains(part), "{text:?} lacks {part:?}");
    }
}

#[tokio::test]
async fn unreadable_success_answer_is_permanent_and_not_retried() {
    let stub = Stub::start().await;
    stub.set_default(
        200,
        r#"{"lbAttr": [{"serviceArguments": {"port": "eighty"}}]}"#,
    );
    let c = client(vec![stub.url.clone()]);
    let e = c.list_rules(N0).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Permanent);
    assert_eq!(e.status, Some(200));
    assert_eq!(stub.hits().len(), 1);
    stub.set_default(200, "not json at all");
    let e = c.list_endpoints(N0).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Permanent);
}

#[tokio::test]
async fn delete_of_absent_objects_is_not_found_success() {
    let stub = Stub::start().await;
    stub.set_default(404, r#"{"code":404,"result":"host-notfound error"}"#);
    let c = client(vec![stub.url.clone()]);
    let d = c
        .delete_endpoint(N0, "10.0.0.9", "10.0.0.9_tcp_80", "tcp", 80)
        .await;
    assert_eq!(d.unwrap(), Deleted::NotFound);
    assert_eq!(
        c.delete_rule(N0, "1.1.1.1", 80, "tcp").await.unwrap(),
        Deleted::NotFound
    );
    assert_eq!(
        c.delete_rule_by_name(N0, "pool-a").await.unwrap(),
        Deleted::NotFound
    );
    let uris: Vec<_> = stub.hits().into_iter().map(|h| (h.method, h.uri)).collect();
    assert_eq!(
        uris,
        vec![
            (
                "DELETE".to_string(),
                "/netlox/v1/config/endpoint/epipaddress/10.0.0.9?name=10.0.0.9_tcp_80&probe_type=tcp&probe_port=80"
                    .to_string()
            ),
            (
                "DELETE".to_string(),
                "/netlox/v1/config/loadbalancer/externalipaddress/1.1.1.1/port/80/protocol/tcp"
                    .to_string()
            ),
            ("DELETE".to_string(), "/netlox/v1/config/loadbalancer/name/pool-a".to_string()),
        ]
    );
    stub.set_default(204, "");
    assert_eq!(
        c.delete_rule_by_name(N0, "pool-a").await.unwrap(),
        Deleted::Removed
    );
}

#[tokio::test]
async fn conflicts_are_told_apart() {
    let stub = Stub::start().await;
    let c = client(vec![stub.url.clone()]);
    stub.script(&[(
        409,
        r#"{"code":409,"message":"Resource Conflict","result":"lbrule-exists error"}"#,
    )]);
    assert_eq!(
        c.apply_rule(N0, &LoadbalanceEntry::default())
            .await
            .unwrap(),
        RuleApplied::AlreadyExists
    );
    assert_eq!(
        c.apply_rule(N0, &LoadbalanceEntry::default())
            .await
            .unwrap(),
        RuleApplied::Applied
    );
    stub.script(&[(409, r#"{"code":409,"result":"LB Rule-referred"}"#)]);
    let e = c
        .delete_endpoint(N0, "10.0.0.9", "10.0.0.9_tcp_80", "tcp", 80)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict);
    assert!(e.result_contains("rule-referred"));
    stub.script(&[(409, r#"{"code":409,"result":"lbrule-smode-change error"}"#)]);
    let e = c
        .apply_rule(N0, &LoadbalanceEntry::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Conflict);
    // No conflict is ever retried.
    assert_eq!(stub.hits().len(), 4);
}

#[tokio::test]
async fn connection_refused_is_transient_after_retries() {
    let c = LoxilbClient::new(ClientOptions {
        retries: 1,
        ..opts(vec![dead_url().await])
    })
    .unwrap();
    let e = c.ping(N0).await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert_eq!(e.status, None);
    assert!(e.detail.starts_with("connect error"), "{}", e.detail);
}

#[tokio::test]
async fn hanging_node_times_out_transiently_within_the_timeout() {
    let (url, accepted) = raw_stub(Misbehaviour::Hang).await;
    let c = LoxilbClient::new(ClientOptions {
        retries: 0,
        timeout: Duration::from_millis(300),
        ..opts(vec![url])
    })
    .unwrap();
    let started = Instant::now();
    let e = c.list_endpoints(N0).await.unwrap_err();
    let took = started.elapsed();
    assert!(e.is_transient(), "{e}");
    assert!(e.detail.starts_with("timeout"), "{}", e.detail);
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn connection_closed_without_answer_is_transient_and_retried() {
    let (url, accepted) = raw_stub(Misbehaviour::Reset).await;
    let c = LoxilbClient::new(ClientOptions {
        retries: 2,
        ..opts(vec![url])
    })
    .unwrap();
    let e = c
        .apply_rule(N0, &LoadbalanceEntry::default())
        .await
        .unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn login_then_relogin_once_on_401() {
    let stub = Stub::start().await;
    stub.enable_auth();
    let c = LoxilbClient::new(ClientOptions {
        credentials: Some(("admin".into(), "s3cret".into())),
        ..opts(vec![stub.url.clone()])
    })
    .unwrap();
    c.list_rules(N0).await.unwrap();
    c.list_rules(N0).await.unwrap();
    stub.expire_tokens();
    c.list_endpoints(N0).await.unwrap();
    let hits: Vec<_> = stub
        .hits()
        .into_iter()
        .map(|h| (h.uri.rsplit('/').next().unwrap_or("").to_string(), h.auth))
        .collect();
    let t = |s: &str| Some(s.to_string());
    assert_eq!(
        hits,
        vec![
            ("login".into(), None),
            ("all".into(), t("tok-1")),
            ("all".into(), t("tok-1")),
            ("all".into(), t("tok-1")),
            ("login".into(), None),
            ("all".into(), t("tok-2")),
        ]
    );
    let login: serde_json::Value = serde_json::from_str(&stub.hits()[0].body).unwrap();
    assert_eq!(
        login,
        serde_json::json!({"username": "admin", "password": "s3cret"})
    );
}

#[tokio::test]
async fn unauthorised_without_credentials_is_permanent() {
    let stub = Stub::start().await;
    stub.set_default(401, r#"{"code":401,"result":"auth required"}"#);
    let c = client(vec![stub.url.clone()]);
    let e = c.list_rules(N0).await.unwrap_err();
    assert_eq!((e.kind, e.status), (ErrorKind::Permanent, Some(401)));
    assert_eq!(stub.hits().len(), 1);
}

#[tokio::test]
async fn rate_limit_is_shared_by_all_calls() {
    let a = Stub::start().await;
    let b = Stub::start().await;
    let c = LoxilbClient::new(ClientOptions {
        rate_limit_per_sec: 10,
        ..opts(vec![a.url.clone(), b.url.clone()])
    })
    .unwrap();
    let started = Instant::now();
    for _ in 0..10 {
        // Two calls per round, one per node: 20 calls against one 10/s budget.
        let r = c.for_each_node(|c, n| async move { c.ping(n).await }).await;
        assert!(r.iter().all(|(_, r)| r.is_ok()));
    }
    // A burst of 10 passes at once, the other 10 are paced at 100 ms each.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(a.hits().len() + b.hits().len(), 20);
}

#[tokio::test]
async fn for_each_node_reports_every_node_in_order() {
    let up = Stub::start().await;
    let c = LoxilbClient::new(ClientOptions {
        retries: 1,
        ..opts(vec![up.url.clone(), dead_url().await])
    })
    .unwrap();
    assert_eq!(c.node_count(), 2);
    assert_eq!(c.node_url(NodeId(0)), up.url);
    assert_eq!(c.node_url(NodeId(7)), "");
    let ep = &probe();
    let results = c
        .for_each_node(|c, n| async move { c.create_endpoint(n, ep).await })
        .await;
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].0, NodeId(0));
    assert!(results[0].1.is_ok());
    assert_eq!(results[1].0, NodeId(1));
    let e = results[1].1.as_ref().unwrap_err();
    assert!(e.is_transient());
    assert_eq!(e.node, c.node_url(NodeId(1)));
    let bad = c.ping(NodeId(5)).await.unwrap_err();
    assert_eq!(bad.kind, ErrorKind::Permanent);
}

#[tokio::test]
async fn typed_listings_and_ping() {
    let stub = Stub::start().await;
    let c = client(vec![stub.url.clone()]);
    stub.script(&[
        (
            200,
            r#"{"lbAttr":[{"serviceArguments":{"externalIP":"10.0.0.1","port":80,"protocol":"tcp",
                "sel":1,"mode":2,"monitor":true,"name":"p1"},
                "endpoints":[{"endpointIP":"192.168.0.2","targetPort":8080,"weight":1,
                "state":"inactive","counter":"0:0"}]}]}"#,
        ),
        (200, r#"{"Attr":[{"hostName":"192.168.0.2","name":"192.168.0.2_tcp_8080","currState":"nok"}]}"#),
        (200, r#"{"version":"v0.9.8","buildInfo":"2025_01_01"}"#),
        (
            200,
            r#"{"version":"v1","bootId":"abc","startTime":1700000000000,"uptimeSeconds":"x"}"#,
        ),
    ]);
    let rules = c.list_rules(N0).await.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].service_arguments.sel, Sel::Hash);
    assert_eq!(rules[0].service_arguments.mode, Mode::FullNat);
    assert_eq!(rules[0].endpoints[0].state.as_deref(), Some("inactive"));
    let eps = c.list_endpoints(N0).await.unwrap();
    assert_eq!(eps[0].curr_state, "nok");
    let info = c.ping(N0).await.unwrap();
    assert_eq!(
        (info.version.as_str(), info.build_info.as_str()),
        ("v0.9.8", "2025_01_01")
    );
    assert_eq!(
        (info.boot_id, info.start_time_ms, info.uptime_secs),
        (None, None, None)
    );
    let info = c.ping(N0).await.unwrap();
    assert_eq!(info.boot_id.as_deref(), Some("abc"));
    assert_eq!(info.start_time_ms, Some(1_700_000_000_000));
    // A wrongly typed extra is ignored rather than failing the liveness check.
    assert_eq!(info.uptime_secs, None);
    let uris: Vec<_> = stub.hits().into_iter().map(|h| h.uri).collect();
    assert_eq!(
        uris,
        [
            "/netlox/v1/config/loadbalancer/all",
            "/netlox/v1/config/endpoint/all",
            "/netlox/v1/version",
            "/netlox/v1/version"
        ]
    );
}

/// A `MakeWriter` collecting log output for inspection.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        lock(&self.0).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn logs_name_the_call_but_never_the_password_or_token() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let stub = Stub::start().await;
    stub.enable_auth();
    let c = LoxilbClient::new(ClientOptions {
        credentials: Some(("admin".into(), "s3cret".into())),
        ..opts(vec![stub.url.clone()])
    })
    .unwrap();
    c.list_rules(N0).await.unwrap();
    stub.expire_tokens();
    c.list_rules(N0).await.unwrap();
    assert!(!format!("{c:?}").contains("s3cret"));
    let logs = String::from_utf8_lossy(&lock(&captured.0)).into_owned();
    assert!(
        logs.contains("/netlox/v1/config/loadbalancer/all"),
        "{logs}"
    );
    assert!(logs.contains("status=200"), "{logs}");
    assert!(logs.contains("latency_ms="), "{logs}");
    assert!(!logs.contains("s3cret"), "{logs}");
    assert!(!logs.contains("tok-1") && !logs.contains("tok-2"), "{logs}");
}
