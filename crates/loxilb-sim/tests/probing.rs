//! Real probing against loopback backends, each test naming the LoxiLB function it mirrors.
//! The probe tick is shrunk (LoxiLB: 2 s) so LoxiLB's schedule runs faster but keeps its
//! proportions; network timeouts stay real.

mod common;

use std::time::{Duration, Instant};

use common::tls::{ca_signed, self_signed, TlsBackend};
use common::{rule, sim_fast, sim_opts, tcp_ep, Api, Backend};
use loxilb_sim::{CaCert, SimOptions};
use serde_json::{json, Value};

/// 100 ms per LoxiLB second.
const TICK: Duration = Duration::from_millis(200);
const WAIT: Duration = Duration::from_secs(10);

fn http_ep(name: &str, port: u16, req: &str, resp: &str) -> Value {
    json!({"hostName": "127.0.0.1", "name": name, "probeType": "http", "probePort": port,
        "probeReq": req, "probeResp": resp, "probeDuration": 1, "inactiveReTries": 1})
}

/// Wait until `key` has been checked at least once more than `conns` says, then its state.
async fn state_after_check(api: &Api, backend: &Backend, key: &str, after: usize) -> String {
    assert!(
        backend.wait_connections(after + 1, WAIT).await,
        "{key} not checked"
    );
    // The result is recorded right after the connection is answered.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let e = api.endpoint(key).await.expect("endpoint");
    e["currState"].as_str().unwrap_or_default().to_string()
}

/// Mirrors rules.go epCheckNow + loxilib HTTPProber: HEAD to "http://<ip>:<port>/" +
/// probeReq (so "/health" requests "//health"), passes only on 200, probeResp ignored.
#[tokio::test]
async fn epchecknow_http_head_double_slash_status_200_only() {
    let (_sim, api) = sim_fast(TICK).await;
    let ok = Backend::start("127.0.0.1:0", 200, "").await;
    let accepted = Backend::start("127.0.0.1:0", 202, "").await;
    let port = ok.addr.port();
    let ep = http_ep("h200", port, "/health", "no such body");
    assert_eq!(api.post("/config/endpoint", ep).await.0, 200);
    let ep = http_ep("h202", accepted.addr.port(), "/health", "");
    assert_eq!(api.post("/config/endpoint", ep).await.0, 200);
    assert_eq!(state_after_check(&api, &ok, "h200", 0).await, "ok");
    assert_eq!(state_after_check(&api, &accepted, "h202", 0).await, "nok");
    assert_eq!(ok.lines()[0], "HEAD //health HTTP/1.1");
}

/// Mirrors loxilib HTTPProber: Go's client follows redirects (HEAD stays HEAD).
#[tokio::test]
async fn httpprober_follows_redirects() {
    let (_sim, api) = sim_fast(TICK).await;
    let target = Backend::start("127.0.0.1:0", 200, "").await;
    let hop = Backend::redirect(format!("http://{}/final", target.addr)).await;
    let ep = http_ep("redir", hop.addr.port(), "start", "");
    assert_eq!(api.post("/config/endpoint", ep).await.0, 200);
    assert_eq!(state_after_check(&api, &target, "redir", 0).await, "ok");
    assert_eq!(target.lines()[0], "HEAD /final HTTP/1.1");
}

/// Mirrors pkg/utils/net.go HTTPSProber: the backend certificate must chain to the system
/// roots or LoxiLB's CAs; status 200; when probeResp is set the whole body must equal it.
#[tokio::test]
async fn httpsprober_verifies_ca_and_compares_whole_body() {
    let signed = ca_signed();
    let (_sim, api) = sim_opts(SimOptions {
        probe_tick: TICK,
        ca_certs: vec![CaCert::Pem(signed.ca_pem.clone().into_bytes())],
        ..SimOptions::default()
    })
    .await;
    let good = TlsBackend::start(&signed, 200, "healthy").await;
    let own = TlsBackend::start(&self_signed(), 200, "healthy").await;
    let sick = TlsBackend::start(&signed, 503, "healthy").await;
    let cases = [
        ("any-body", good.addr.port(), "", "ok"),
        ("same-body", good.addr.port(), "healthy", "ok"),
        ("part-body", good.addr.port(), "health", "nok"),
        ("self-signed", own.addr.port(), "", "nok"),
        ("status-503", sick.addr.port(), "", "nok"),
    ];
    for (name, port, resp, _) in cases {
        let ep = json!({"hostName": "127.0.0.1", "name": name, "probeType": "https",
            "probePort": port, "probeResp": resp, "probeDuration": 1, "inactiveReTries": 1});
        assert_eq!(api.post("/config/endpoint", ep).await.0, 200);
    }
    // The "ok" ones start ok: wait for the failing ones, then give every probe a few more
    // ticks so a passing verdict has been re-confirmed.
    for (name, _, _, want) in cases {
        if want == "nok" {
            assert!(api.wait_state(name, "nok", WAIT).await, "{name}");
        }
    }
    tokio::time::sleep(TICK * 4).await;
    for (name, _, _, want) in cases {
        let e = api.endpoint(name).await.expect("endpoint");
        assert_eq!(e["currState"], want, "{name}");
    }
}

/// Mirrors rules.go RulesInit: without LoxiLB's CA the same CA-signed backend fails.
#[tokio::test]
async fn rulesinit_ca_pool_without_loxilb_ca_rejects_private_ca() {
    let signed = ca_signed();
    let (_sim, api) = sim_fast(TICK).await;
    let good = TlsBackend::start(&signed, 200, "").await;
    let ep = json!({"hostName": "127.0.0.1", "name": "x", "probeType": "https",
        "probePort": good.addr.port(), "probeDuration": 1, "inactiveReTries": 1});
    assert_eq!(api.post("/config/endpoint", ep).await.0, 200);
    assert!(api.wait_state("x", "nok", WAIT).await);
}

/// Mirrors rules.go AddEPHost: an https probe loads `<CertPath>/<hostName>/rootCA.crt`
/// into the shared pool.
#[tokio::test]
async fn addephost_loads_per_host_ca() {
    let signed = ca_signed();
    let dir = tempfile::tempdir().expect("tempdir");
    let host_dir = dir.path().join("127.0.0.1");
    std::fs::create_dir(&host_dir).expect("mkdir");
    std::fs::write(host_dir.join("rootCA.crt"), &signed.ca_pem).expect("write");
    let (_sim, api) = sim_opts(SimOptions {
        probe_tick: TICK,
        ca_certs: vec![CaCert::CertDir(dir.path().to_path_buf())],
        ..SimOptions::default()
    })
    .await;
    let good = TlsBackend::start(&signed, 200, "").await;
    let ep = json!({"hostName": "127.0.0.1", "name": "x", "probeType": "https",
        "probePort": good.addr.port(), "probeDuration": 1, "inactiveReTries": 1});
    assert_eq!(api.post("/config/endpoint", ep).await.0, 200);
    tokio::time::sleep(TICK * 6).await;
    assert_eq!(api.endpoint("x").await.expect("ep")["currState"], "ok");
}

/// Mirrors rules.go epTicker: a new probe is checked on its checker's first tick; an
/// updated one again once InitHostProbeTimeout (15 LoxiLB seconds) passed since its last
/// check, not at its 60 s interval.
#[tokio::test]
async fn epticker_new_on_first_tick_updated_after_init_timeout() {
    let (_sim, api) = sim_fast(TICK).await;
    let b = Backend::start("127.0.0.1:0", 200, "").await;
    let mut ep = http_ep("t", b.addr.port(), "", "");
    ep["probeDuration"] = json!(60);
    let t0 = Instant::now();
    assert_eq!(api.post("/config/endpoint", ep.clone()).await.0, 200);
    assert!(b.wait_connections(1, WAIT).await);
    let first = t0.elapsed();
    assert!(first <= TICK + TICK / 2, "first check after {first:?}");
    // The backend counts the connection when the check starts; let that check end
    // before the update, or the update races a check in flight (whose result the
    // simulator drops, docs/loxilb-compat.md) and the timing measured is not the
    // updated probe's.
    tokio::time::sleep(TICK / 4).await;
    let t1 = Instant::now();
    assert_eq!(api.post("/config/endpoint", ep).await.0, 200);
    assert!(b.wait_connections(2, WAIT).await);
    let again = t1.elapsed();
    let unit = TICK / 2;
    assert!(
        again >= unit * 14 && again <= unit * 20,
        "update checked after {again:?}"
    );
}

/// Mirrors rules.go epTicker: an inactive probe is checked on every even tick, and an
/// active one with probeDuration 0 on every odd tick: both every other tick.
#[tokio::test]
async fn epticker_inactive_and_zero_duration_every_other_tick() {
    let (_sim, api) = sim_fast(TICK).await;
    let down = Backend::start("127.0.0.1:0", 500, "").await;
    let up = Backend::start("127.0.0.1:0", 200, "").await;
    let mut d = http_ep("down", down.addr.port(), "", "");
    d["probeDuration"] = json!(60);
    let mut u = http_ep("up", up.addr.port(), "", "");
    u["probeDuration"] = json!(0);
    assert_eq!(api.post("/config/endpoint", d).await.0, 200);
    assert_eq!(api.post("/config/endpoint", u).await.0, 200);
    assert!(api.wait_state("down", "nok", WAIT).await);
    assert!(up.wait_connections(1, WAIT).await);
    let (d0, u0) = (down.connections(), up.connections());
    tokio::time::sleep(TICK * 10).await;
    let (dn, un) = (down.connections() - d0, up.connections() - u0);
    assert!((3..=7).contains(&dn), "inactive checks in 10 ticks: {dn}");
    assert!(
        (3..=7).contains(&un),
        "probeDuration 0 checks in 10 ticks: {un}"
    );
}

/// Mirrors rules.go AddEPHost + epCheckNow: the init prober (threshold 1) fails a new
/// probe on its first failed check; afterwards inactiveReTries consecutive failures.
#[tokio::test]
async fn epchecknow_first_failure_then_retries() {
    let (_sim, api) = sim_fast(TICK).await;
    let b = Backend::start("127.0.0.1:0", 500, "").await;
    let mut ep = http_ep("r", b.addr.port(), "", "");
    ep["inactiveReTries"] = json!(3);
    assert_eq!(api.post("/config/endpoint", ep).await.0, 200);
    assert_eq!(state_after_check(&api, &b, "r", 0).await, "nok");
    b.set_status(200);
    let n = b.connections();
    assert_eq!(state_after_check(&api, &b, "r", n).await, "ok");
    b.set_status(500);
    let n = b.connections();
    assert_eq!(state_after_check(&api, &b, "r", n).await, "ok");
    assert_eq!(state_after_check(&api, &b, "r", n + 1).await, "ok");
    assert_eq!(state_after_check(&api, &b, "r", n + 2).await, "nok");
}

/// Mirrors rules.go epCheckNow + L4ServiceProber for a rule's endpoint; the rule's view
/// follows the probe (IsEPHostActive) and a red host state.
#[tokio::test]
async fn l4serviceprober_tcp_rule_endpoint_follows_backend() {
    let (_sim, api) = sim_fast(TICK).await;
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
    assert!(backend.wait_connections(1, WAIT).await);
    let addr = backend.stop().await;
    assert!(api.wait_state(&key, "nok", WAIT).await, "stopped -> nok");
    assert_eq!(api.rules().await[0]["endpoints"][0]["state"], "inactive");
    let back = Backend::start(&addr.to_string(), 200, "ok").await;
    assert!(api.wait_state(&key, "ok", WAIT).await, "restarted -> ok");
    assert!(back.connections() > 0);
    assert_eq!(api.rules().await[0]["endpoints"][0]["state"], "active");
    let red = json!({"hostName": "127.0.0.1", "epPort": port, "epProto": "tcp", "state": "red"});
    assert_eq!(api.post("/config/endpointhoststate", red).await.0, 200);
    assert_eq!(api.rules().await[0]["endpoints"][0]["state"], "inactive");
}

/// Mirrors rules.go DeleteEPHost: a deleted probe is no longer checked.
#[tokio::test]
async fn deleteephost_stops_checks() {
    let (_sim, api) = sim_fast(TICK).await;
    let backend = Backend::start("127.0.0.1:0", 200, "").await;
    let port = backend.addr.port();
    let mut ep = tcp_ep("127.0.0.1", port);
    ep["probeDuration"] = json!(0);
    assert_eq!(api.post("/config/endpoint", ep).await.0, 200);
    assert!(backend.wait_connections(2, WAIT).await);
    let path = format!("/config/endpoint/epipaddress/127.0.0.1?probe_type=tcp&probe_port={port}");
    assert_eq!(api.delete(&path).await.0, 200);
    let after = backend.connections();
    tokio::time::sleep(TICK * 5).await;
    assert!(backend.connections() <= after + 1, "checks went on");
}
