//! End-to-end tests of health status sync: the real daemon polls the LoxiLB
//! simulator (which really probes HTTP backends on loopback) and reports operating
//! statuses and listener statistics to the test driver agent.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::result::ok;
use common::world::*;
use common::TestResult;
use serde_json::{json, Value};

/// lb → TCP listener → pool with one member per backend (+ HTTP monitor, delay 1 s,
/// max_retries_down 2 when `monitored`). Ids: `<lb>-l`, `<lb>-p`, `<lb>-m<i>`.
fn scenario(lb_id: &str, vip: &str, backends: &[&Backend], monitored: bool) -> Vec<Value> {
    let (l, p) = (format!("{lb_id}-l"), format!("{lb_id}-p"));
    let mut ev = vec![
        lb(lb_id, vip),
        listener(lb_id, &l, 8080, &p),
        pool(lb_id, &l, &p),
    ];
    for (i, b) in backends.iter().enumerate() {
        ev.push(member(&p, &format!("{lb_id}-m{i}"), b.port()));
    }
    if monitored {
        ev.push(http_monitor(&p, &format!("{lb_id}-hm"), 1));
    }
    ev
}

/// delay (1 s) × max_retries_down (2) + one poll (1 s) + slack for probe phase,
/// debug builds and the delivery round trip.
const DETECT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_down_degrades_then_recovers() -> TestResult {
    let mut b0 = Backend::start().await?;
    let b1 = Backend::start().await?;
    let w = World::start("").await?;
    w.apply_ok(&scenario("lb1", "127.0.0.30", &[&b0, &b1], true))
        .await?;
    let online = [
        ("lb1-m0", "ONLINE"),
        ("lb1-m1", "ONLINE"),
        ("lb1-p", "ONLINE"),
        ("lb1-l", "ONLINE"),
        ("lb1", "ONLINE"),
    ];
    w.wait_operating("all ONLINE", DETECT, &online).await;

    b0.stop().await;
    let degraded = [
        ("lb1-m0", "ERROR"),
        ("lb1-m1", "ONLINE"),
        ("lb1-p", "DEGRADED"),
        ("lb1", "DEGRADED"),
    ];
    w.wait_operating("member ERROR, pool and LB DEGRADED", DETECT, &degraded)
        .await;

    b0.restart().await?;
    w.wait_operating("ONLINE again", DETECT, &online).await;

    // The status API answers from the cache, with the LoxiLB facts behind it.
    let (code, body) = w
        .daemon
        .api()
        .call("GET", "/v1/status/members/lb1-m0", None)
        .await?;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["operating_status"], "ONLINE", "{body}");
    assert_eq!(body["loxilb"]["nodes"]["ok"], 1, "{body}");
    assert!(
        body["age_seconds"].as_f64().is_some_and(|a| a < 30.0),
        "{body}"
    );
    let (code, body) = w
        .daemon
        .api()
        .call("GET", "/v1/status/pools/lb1-p", None)
        .await?;
    assert_eq!(
        (code, &body["operating_status"]),
        (200, &json!("ONLINE")),
        "{body}"
    );
    let (code, _) = w
        .daemon
        .api()
        .call("GET", "/v1/status/loadbalancers/nope", None)
        .await?;
    assert_eq!(code, 404);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_down_admin_down_drained_and_unmonitored() -> TestResult {
    let healthy = Backend::start().await?;
    let dead = Backend::start().await?;
    dead.stop().await;
    let w = World::start("").await?;

    let (drained, disabled, plain) = (
        Backend::start().await?,
        Backend::start().await?,
        Backend::start().await?,
    );
    // a: one healthy member, one drained (weight 0), one admin down.
    let mut a = scenario("a", "127.0.0.31", &[&healthy, &drained, &disabled], true);
    a[4]["args"]["member"]["weight"] = json!(0);
    a[5]["args"]["member"]["admin_state_up"] = json!(false);
    w.apply_ok(&a).await?;
    // b: no health monitor. c: its only member's backend is down.
    w.apply_ok(&scenario("b", "127.0.0.32", &[&plain], false))
        .await?;
    w.apply_ok(&scenario("c", "127.0.0.33", &[&dead], true))
        .await?;

    w.wait_operating(
        "per-member statuses",
        DETECT,
        &[
            ("a-m0", "ONLINE"),
            ("a-m1", "DRAINING"),
            ("a-m2", "OFFLINE"),
            ("a-p", "ONLINE"),
            ("a", "ONLINE"),
            ("b-m0", "NO_MONITOR"),
            ("b-p", "ONLINE"),
            ("b", "ONLINE"),
            ("c-m0", "ERROR"),
            ("c-p", "ERROR"),
            ("c", "ERROR"),
        ],
    )
    .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_cycles_send_nothing_and_the_ttl_sends_one_full_message() -> TestResult {
    let b = Backend::start().await?;
    // A TTL of 5 s leaves 1.5 s between the end of the quiet window (3.5 s after a
    // full refresh was seen) and the next refresh, which can only come later than
    // 5 s after the previous one (cycles drift late, never early).
    let w = World::start("status_cache_ttl = 5").await?;
    w.apply_ok(&scenario("q", "127.0.0.34", &[&b], true))
        .await?;
    let ids = ["q", "q-l", "q-p", "q-m0"];
    let online: Vec<(&str, &str)> = ids.iter().map(|i| (*i, "ONLINE")).collect();
    w.wait_operating("all ONLINE", DETECT, &online).await;
    let is_full = |m: &Value| {
        let got = operating(std::slice::from_ref(m));
        ids.iter().all(|id| got.iter().any(|(_, i, _)| i == id))
    };
    // Statuses are stable now: the next message carrying all of them is a TTL
    // refresh, which restarts the TTL clock.
    let start = w.status_messages().len();
    w.wait_for("a full refresh", Duration::from_secs(20), || {
        w.status_messages()[start..].iter().any(is_full)
    })
    .await;
    let after_full = w.status_messages().len();
    // Three poll cycles with nothing changing: zero status messages.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let quiet = w.status_messages()[after_full..].to_vec();
    assert!(quiet.is_empty(), "unexpected messages: {quiet:?}");
    // The TTL (5 s) passes: exactly one message, carrying every status.
    w.wait_for("the next full refresh", Duration::from_secs(10), || {
        w.status_messages().len() > after_full
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let refresh = w.status_messages()[after_full..].to_vec();
    assert_eq!(refresh.len(), 1, "{refresh:?}");
    assert!(is_full(&refresh[0]), "{refresh:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_loxilb_keeps_members_then_errors_the_lb_then_recovers() -> TestResult {
    let b = Backend::start().await?;
    let w = World::start("stale_cycles_before_error = 3").await?;
    w.apply_ok(&scenario("u", "127.0.0.35", &[&b], true))
        .await?;
    w.wait_operating("ONLINE", DETECT, &[("u-m0", "ONLINE"), ("u", "ONLINE")])
        .await;
    let before = w.status_messages().len();
    w.sim().set_maintenance(true);
    // Two failed cycles: nothing about members is sent.
    let api = w.daemon.api();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = api.call("GET", "/v1/status/loadbalancers/u", None).await?;
        if body["loxilb"]["failed_polls"].as_u64().unwrap_or(0) >= 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no failed polls counted: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = operating(&w.status_messages()[before..]);
    assert!(sent.iter().all(|(c, _, _)| c != "members"), "{sent:?}");
    // Past the limit the load balancer goes ERROR; members still untouched.
    w.wait_operating("LB ERROR", DETECT, &[("u", "ERROR")])
        .await;
    let sent = operating(&w.status_messages()[before..]);
    assert!(
        sent.iter().all(|(c, _, _)| c == "loadbalancers"),
        "{sent:?}"
    );
    w.sim().set_maintenance(false);
    w.wait_operating("recovered", DETECT, &[("u", "ONLINE"), ("u-m0", "ONLINE")])
        .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_statistics_match_the_simulator_counters() -> TestResult {
    let b0 = Backend::start().await?;
    let b1 = Backend::start().await?;
    // Rules (and their counters) are read every `stats_interval`: at the default 10 s
    // the counter could only show at the very end of the 10 s wait (failed under load).
    let w = World::start("stats_interval = 1").await?;
    w.apply_ok(&scenario("s", "127.0.0.36", &[&b0, &b1], true))
        .await?;
    // Both members share 127.0.0.1: the counter is set per endpoint address.
    assert!(w
        .sim()
        .set_counter("127.0.0.36", 8080, "tcp", "127.0.0.1", 7, 1234));
    w.wait_for("stats with the counter", Duration::from_secs(10), || {
        w.stats_messages().iter().any(|m| {
            m["listeners"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|l| l["id"] == "s-l" && l["bytes_in"] == 2468)
        })
    })
    .await;
    let last = w.stats_messages().last().cloned().unwrap_or_default();
    let l = &last["listeners"][0];
    assert_eq!(l["id"], "s-l", "{last}");
    assert_eq!(
        (l["bytes_out"].clone(), l["active_connections"].clone()),
        (json!(0), json!(0)),
        "{last}"
    );
    Ok(())
}

/// Lib level against the simulator (the daemon adds nothing here but time): 100k
/// scripted endpoints, one poll, 10 flips, the next poll's diff holds only those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_thousand_scripted_endpoints_ten_changes() -> TestResult {
    use loxilb_coordinator::health::{
        compute::compute, diff, index::DesiredIndex, observe::*, Snapshot,
    };
    use loxilb_coordinator::loxilb::{ClientOptions, LoxilbClient, NodeId};
    use loxilb_coordinator::mapping::LbTree;

    const N: usize = 100_000;
    let addr = |i: usize| format!("10.{}.{}.{}", i / 62_500, (i / 250) % 250, i % 250 + 1);
    let sim = loxilb_sim::spawn(loxilb_sim::SimOptions::default()).await?;
    let scripted = (0..N)
        .map(|i| loxilb_sim::ScriptedEndpoint {
            host: addr(i),
            probe_type: "tcp".into(),
            port: 80,
            state: "ok".into(),
            name: None,
        })
        .collect();
    assert_eq!(sim.control().script_endpoints(scripted), N);
    let members: Vec<Value> = (0..N)
        .map(|i| json!({"member_id": format!("m{i}"), "pool_id": "p", "address": addr(i), "protocol_port": 80}))
        .collect();
    let tree = LbTree::from_bodies(
        &json!({"loadbalancer_id": "lb"}),
        &[
            json!({"listener_id": "l", "protocol": "TCP", "protocol_port": 80, "default_pool_id": "p"}),
        ],
        &[json!({"pool_id": "p", "protocol": "TCP"})],
        &members,
        &[json!({"healthmonitor_id": "h", "pool_id": "p", "type": "TCP"})],
    )?;
    let index = DesiredIndex::from_trees(&[tree]);
    let client = LoxilbClient::new(ClientOptions {
        nodes: vec![sim.url()],
        timeout: Duration::from_secs(60),
        ..ClientOptions::default()
    })?;
    let poll = || async {
        let endpoints = ok(client.list_endpoints(NodeId(0)).await);
        assert_eq!(endpoints.len(), N);
        observe(&[&NodeReport {
            endpoints,
            rules: None,
        }])
    };
    let first = compute(
        &index,
        Some(&poll().await),
        None,
        &Snapshot::default(),
        0,
        3,
    );
    assert_eq!(diff(&Snapshot::default(), &first).len(), N + 3);
    let mut flipped = HashMap::new();
    for i in (0..N).step_by(N / 10) {
        let key = format!("{}_tcp_80", addr(i));
        assert!(sim.control().set_endpoint_state(&key, "nok"), "{key}");
        flipped.insert(format!("m{i}"), ());
    }
    let second = compute(&index, Some(&poll().await), None, &first, 0, 3);
    let changes = diff(&first, &second);
    let members: Vec<_> = changes
        .iter()
        .filter(|r| r.collection == "members")
        .collect();
    assert_eq!(members.len(), 10);
    assert!(members
        .iter()
        .all(|r| flipped.contains_key(&r.id) && r.operating_status.as_deref() == Some("ERROR")));
    // Plus the pool and the load balancer going DEGRADED.
    assert_eq!(changes.len(), 12, "{changes:?}");
    Ok(())
}

/// A listener whose rule is deleted behind the daemon's back (an operator's loxicmd,
/// a node that lost it) and cannot be put back (LoxiLB answers 500 to rule creates,
/// so the reconciler's node poll fails to restore it) goes ERROR, and its load
/// balancer with it, within a rule listing or two (`stats_interval` = 2 s here),
/// while the pool stays ONLINE (the backends are fine). Once LoxiLB accepts rules
/// again, a reconcile puts the rule back and both return to ONLINE. Before issue 22
/// the listener stayed ONLINE with no rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_deleted_behind_our_back_makes_the_listener_error_until_restored() -> TestResult {
    let b = Backend::start().await?;
    let w = World::start("stats_interval = 2").await?;
    w.apply_ok(&scenario("gone", "127.0.0.38", &[&b], true))
        .await?;
    let online = [
        ("gone-m0", "ONLINE"),
        ("gone-l", "ONLINE"),
        ("gone", "ONLINE"),
    ];
    w.wait_operating("all ONLINE", DETECT, &online).await;

    let rule = loxilb_coordinator::mapping::rule_name("gone-l");
    let refuse_rules = loxilb_sim::Fault {
        status: 500,
        rate: 1.0,
        method: Some("POST".into()),
        path_prefix: Some("/config/loadbalancer".into()),
        remaining: None,
    };
    w.sim().add_fault(refuse_rules);
    assert!(w.sim().delete_rule_named(&rule), "no rule {rule}");
    let deleted = std::time::Instant::now();
    w.wait_operating(
        "listener and LB ERROR",
        Duration::from_secs(6),
        &[("gone-l", "ERROR"), ("gone", "ERROR"), ("gone-p", "ONLINE")],
    )
    .await;
    eprintln!(
        "listener ERROR {:?} after its rule was deleted",
        deleted.elapsed()
    );
    w.sim().clear_faults();

    let (code, body) = w.daemon.api().call("POST", "/v1/reconcile", None).await?;
    assert_eq!(code, 200, "{body}");
    w.wait_operating("ONLINE again", Duration::from_secs(20), &online)
        .await;
    assert_eq!(rule_endpoints(&w.sim().rules(), &rule).len(), 1);
    Ok(())
}
