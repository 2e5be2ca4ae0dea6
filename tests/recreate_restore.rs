//! End-to-end tests of the recreate gap (issue 22): a change that needs a LoxiLB rule
//! to be deleted and created anew (here a listener's `timeout_client_data`, or a
//! monitor added) while the simulator makes the create fail. Real daemon process,
//! real simulator on loopback, real HTTP backend probed by the simulator.
//!
//! What each case checks:
//! - right after the failed create the daemon posts the previous rule back, so the
//!   listener is never left without a rule (request log: DELETE, failing POST, POST of
//!   the old body, answered 200);
//! - LoxiLB ends with the previous rule and probes (as `GET` lists them, compared with
//!   `config_view`) for a refused event, which fails and is undone; a transient failure
//!   (500 with `coordination_retries = 0`, a reset, a restart) is retried by the
//!   dispatcher, so that event ends `done` with the new rule and the same probes;
//! - the listener is reported ERROR only while it really has no rule.
//!
//! The restart case does not need timing from outside: the simulator's
//! [`loxilb_sim::Interruption`] with `restart: true` restarts it empty at the moment
//! the create arrives and cuts that request, which is exactly "LoxiLB restarted
//! between the delete and the create".
//!
//! Why these fail on the code before the fix (before `Recreating` in
//! src/apply/node.rs): the old rule was deleted and, the create failing, stayed
//! deleted. A transient failure (b, c, d) left the listener without a rule until the
//! dispatcher's retry, and for as long as LoxiLB kept failing, so the request log
//! shows no POST of the old body. A refused event (a) was put back only by its
//! roll-back's sync, a full event later; the refusal here also fires on that first
//! re-post, so the old code ended the event with no rule at all, where the restore's
//! further attempts now put it back.

mod common;

use std::time::Duration;

use common::world::*;
use common::TestResult;
use loxilb_coordinator::mapping::rule_name;
use serde_json::{json, Value};

const LB: &str = "rr";
const LISTENER: &str = "rr-l";
const POOL: &str = "rr-p";

/// A world with `extra` health lines (plus a 1 s rule listing and a metrics port), one
/// HTTP-monitored listener serving through its rule, probes ok; returns the config
/// view of that state and the metrics URL.
async fn serving(extra: &str, vip: &str) -> TestResult<(World, Backend, Value, String)> {
    serving_with(extra, vip, true).await
}

/// [`serving`], with the HTTP monitor only when `monitored`.
async fn serving_with(
    extra: &str,
    vip: &str,
    monitored: bool,
) -> TestResult<(World, Backend, Value, String)> {
    let backend = Backend::start().await?;
    let port = free_port()?;
    let w = World::start(&format!(
        "stats_interval = 1\n{extra}\n[metrics]\naddress = \"127.0.0.1:{port}\"\n"
    ))
    .await?;
    let mut events = scenario(LB, vip, 80, &[backend.port()]);
    if !monitored {
        events.pop();
    }
    w.apply_ok(&events).await?;
    let sim = w.sim();
    let probe_key = format!("127.0.0.1_tcp_{}", backend.port());
    w.wait_for("the probe ok", Duration::from_secs(15), || {
        !monitored || probe(&sim.endpoints(), &probe_key).is_some_and(|p| p["currState"] == "ok")
    })
    .await;
    w.wait_operating(
        "listener ONLINE",
        Duration::from_secs(15),
        &[(LISTENER, "ONLINE"), (LB, "ONLINE")],
    )
    .await;
    let before = config_view(&sim);
    assert_eq!(
        rule_endpoints(&sim.rules(), &rule_name(LISTENER)).len(),
        1,
        "{before}"
    );
    Ok((
        w,
        backend,
        before,
        format!("http://127.0.0.1:{port}/metrics"),
    ))
}

fn free_port() -> TestResult<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr().map(|a| a.port()).unwrap_or(0))
}

/// A listener update that only changes the client timeout (a re-create of its rule).
/// The old listener is complete, as Octavia sends it: a refused update is undone by
/// putting it back.
fn timeout_change(seconds: u64) -> Value {
    let old = listener(LB, LISTENER, 80, POOL)["args"]["listener"].clone();
    json!({"method": "listener_update", "args": {
        "old_listener": old,
        "new_listener": {"listener_id": LISTENER, "loadbalancer_id": LB,
                         "timeout_client_data": seconds * 1000}}})
}

fn rule_posts() -> loxilb_sim::Fault {
    loxilb_sim::Fault {
        status: 0,
        rate: 1.0,
        method: Some("POST".into()),
        path_prefix: Some("/config/loadbalancer".into()),
        remaining: Some(1),
    }
}

/// (method, status, inactiveTimeOut of a posted rule) of every rule call, in order.
fn rule_calls(sim: &loxilb_sim::Control) -> Vec<(String, u16, Option<i64>)> {
    sim.requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/config/loadbalancer") && r.method != "GET")
        .map(|r| {
            let timeout = r
                .body
                .as_ref()
                .and_then(|b| b["serviceArguments"]["inactiveTimeOut"].as_i64());
            (r.method, r.status, timeout)
        })
        .collect()
}

/// The first rule calls of the recreate: the old rule deleted, the new one (timeout
/// `new`) failing with `failed`, then the old body (timeout 0) posted back: answered
/// as `restores` says (the last one 200).
fn assert_restored_at_once(sim: &loxilb_sim::Control, new: i64, failed: u16, restores: &[u16]) {
    let calls = rule_calls(sim);
    let mut want = vec![
        ("DELETE".to_string(), 200, None),
        ("POST".to_string(), failed, Some(new)),
    ];
    want.extend(restores.iter().map(|s| ("POST".to_string(), *s, Some(0))));
    assert!(
        calls.len() >= want.len() && calls[..want.len()] == want[..],
        "rule calls: {calls:?}"
    );
}

async fn metric(url: &str, prefix: &str) -> TestResult<f64> {
    let text = reqwest::get(url).await?.text().await.unwrap_or_default();
    Ok(text
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum())
}

async fn print_gap(url: &str, case: &str) -> TestResult {
    let name = "loxilb_coordinator_rule_recreate_gap_seconds";
    let count = metric(url, &format!("{name}_count")).await?;
    let sum = metric(url, &format!("{name}_sum")).await?;
    eprintln!("{case}: recreate gaps observed = {count}, total = {sum:.4} s");
    assert!(count >= 1.0, "{case}: no recreate gap observed");
    Ok(())
}

/// The listener keeps ONLINE (its rule is back) over a few rule listings.
async fn listener_stays_online(w: &World) {
    let start = w.status_messages().len();
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let errors: Vec<_> = operating(&w.status_messages()[start..])
        .into_iter()
        .filter(|(_, id, s)| (id == LISTENER || id == LB) && s == "ERROR")
        .collect();
    assert!(errors.is_empty(), "{errors:?}\nlog:\n{}", w.daemon.log());
    assert_eq!(
        last_operating(&w.status_messages(), LISTENER).as_deref(),
        Some("ONLINE")
    );
}

/// (a) LoxiLB refuses the new rule (400), and the first re-post too. Before the fix
/// the old rule stayed deleted: the roll-back's one re-post was refused and the event
/// failed with the listener rule-less; now the restore's second attempt lands, and
/// the roll-back has nothing left to do on the rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_create_puts_the_previous_rule_back_and_fails_the_event() -> TestResult {
    let (w, _b, before, metrics) = serving("", "127.0.0.60").await?;
    let sim = w.sim();
    sim.clear_requests();
    sim.add_fault(loxilb_sim::Fault {
        status: 400,
        remaining: Some(2),
        ..rule_posts()
    });
    let recs = w.apply(&[timeout_change(7)]).await?;
    assert_eq!(recs[0]["state"], "failed", "{}", recs[0]);
    assert_restored_at_once(&sim, 7, 400, &[400, 200]);
    assert_eq!(rule_calls(&sim).len(), 4, "{:?}", rule_calls(&sim));
    assert_eq!(config_view(&sim), before, "LoxiLB not as before the event");
    listener_stays_online(&w).await;
    print_gap(&metrics, "400").await?;
    Ok(())
}

/// (a') Adding a monitor re-creates the rule with monitoring on; LoxiLB refuses it
/// and the first re-post. Before the fix the listener kept no rule (as in (a)).
/// (A monitor removal is not undone when refused, by design: deletes stay deleted in
/// desired state, see `undo` in src/drivers/coordinated.rs, so its roll-back sync
/// applies the removal; it is not a case of "the previous rule back".)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_monitor_create_keeps_the_unmonitored_rule_and_its_probes() -> TestResult {
    let (w, _b, before, _) = serving_with("", "127.0.0.61", false).await?;
    let sim = w.sim();
    sim.add_fault(loxilb_sim::Fault {
        status: 400,
        remaining: Some(2),
        ..rule_posts()
    });
    let recs = w.apply(&[http_monitor(POOL, "rr-hm", 1)]).await?;
    assert_eq!(recs[0]["state"], "failed", "{}", recs[0]);
    assert_eq!(config_view(&sim), before, "LoxiLB not as before the event");
    listener_stays_online(&w).await;
    Ok(())
}

/// A refused monitor update (the probe post answered 400) leaves the previous
/// working rule and probes in place, and the member ONLINE. No rule is re-created
/// here, so this guards the roll-back path (it held before the fix too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_monitor_update_leaves_the_working_rule_and_probes() -> TestResult {
    let (w, _b, before, _) = serving("", "127.0.0.62").await?;
    let sim = w.sim();
    sim.add_fault(loxilb_sim::Fault {
        status: 400,
        rate: 1.0,
        method: Some("POST".into()),
        path_prefix: Some("/config/endpoint".into()),
        remaining: Some(1),
    });
    // Complete old and new monitors, as Octavia sends them.
    let old = http_monitor(POOL, "rr-hm", 1)["args"]["healthmonitor"].clone();
    let mut new = old.clone();
    new["delay"] = json!(2);
    new["url_path"] = json!("/other");
    let update = json!({"method": "health_monitor_update", "args": {
        "old_healthmonitor": old, "new_healthmonitor": new}});
    let recs = w.apply(&[update]).await?;
    assert_eq!(recs[0]["state"], "failed", "{}", recs[0]);
    assert_eq!(config_view(&sim), before, "LoxiLB not as before the event");
    listener_stays_online(&w).await;
    assert_eq!(
        last_operating(&w.status_messages(), "rr-m0").as_deref(),
        Some("ONLINE")
    );
    Ok(())
}

/// After a transient failure the event is retried and ends done: the new rule, the
/// same probes as before.
fn assert_new_rule_same_probes(sim: &loxilb_sim::Control, before: &Value, timeout: i64) {
    let now = config_view(sim);
    assert_eq!(now["endpoints"], before["endpoints"], "probes changed");
    let rules = sim.rules();
    let rule = rules
        .iter()
        .find(|r| r["serviceArguments"]["name"] == rule_name(LISTENER))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        rule["serviceArguments"]["inactiveTimeOut"], timeout,
        "{rule}"
    );
    assert_eq!(rule_endpoints(&rules, &rule_name(LISTENER)).len(), 1);
}

/// (b) A 500 on the create, not retried by the client: the old rule goes back at once,
/// then the dispatcher retries the event, which applies the new rule. Before the fix
/// the listener had no rule until that retry (indefinitely, if LoxiLB kept failing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_error_on_create_restores_then_the_retry_applies() -> TestResult {
    let (w, _b, before, metrics) = serving("coordination_retries = 0", "127.0.0.63").await?;
    let sim = w.sim();
    sim.clear_requests();
    sim.add_fault(loxilb_sim::Fault {
        status: 500,
        ..rule_posts()
    });
    w.apply_ok(&[timeout_change(7)]).await?;
    assert_restored_at_once(&sim, 7, 500, &[200]);
    assert_new_rule_same_probes(&sim, &before, 7);
    listener_stays_online(&w).await;
    print_gap(&metrics, "500").await?;
    Ok(())
}

/// (b') LoxiLB keeps failing the create and the old body cannot be put back either:
/// the listener has no rule, and that is reported (listener and LB ERROR) until the
/// failure stops and the retried event creates the new rule. Before issue 22 the
/// listener stayed ONLINE without a rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_that_cannot_be_restored_shows_as_error_until_the_retry_lands() -> TestResult {
    let (w, _b, before, _) = serving("coordination_retries = 0", "127.0.0.64").await?;
    let sim = w.sim();
    sim.add_fault(loxilb_sim::Fault {
        status: 500,
        remaining: None,
        ..rule_posts()
    });
    let (code, r) = w.daemon.post(&timeout_change(7)).await?;
    assert_eq!(code, 202, "{r}");
    w.wait_for("the rule gone", Duration::from_secs(10), || {
        rule_endpoints(&sim.rules(), &rule_name(LISTENER)).is_empty()
    })
    .await;
    w.wait_operating(
        "listener and LB ERROR",
        Duration::from_secs(10),
        &[(LISTENER, "ERROR"), (LB, "ERROR")],
    )
    .await;
    // The backend is fine: the pool and member keep their status.
    assert_eq!(
        last_operating(&w.status_messages(), POOL).as_deref(),
        Some("ONLINE")
    );
    sim.clear_faults();
    let id = r["id"].as_i64().unwrap_or(0);
    let rec = w.daemon.wait_final(id, Duration::from_secs(30)).await?;
    assert_eq!(rec["state"], "done", "{rec}");
    assert_new_rule_same_probes(&sim, &before, 7);
    w.wait_operating(
        "listener and LB ONLINE again",
        Duration::from_secs(10),
        &[(LISTENER, "ONLINE"), (LB, "ONLINE")],
    )
    .await;
    Ok(())
}

/// (c) The create's connection is reset. Same as (b): restored at once, then retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_reset_on_create_restores_then_the_retry_applies() -> TestResult {
    let (w, _b, before, metrics) = serving("coordination_retries = 0", "127.0.0.65").await?;
    let sim = w.sim();
    sim.clear_requests();
    sim.add_interruption(loxilb_sim::Interruption {
        method: Some("POST".into()),
        path_prefix: Some("/config/loadbalancer".into()),
        remaining: Some(1),
        restart: false,
    });
    w.apply_ok(&[timeout_change(7)]).await?;
    assert_restored_at_once(&sim, 7, 0, &[200]);
    assert_new_rule_same_probes(&sim, &before, 7);
    listener_stays_online(&w).await;
    print_gap(&metrics, "reset").await?;
    Ok(())
}

/// (d) LoxiLB restarts empty between the delete and the create (the create's
/// connection dies with it). The old rule is posted back at once to the empty node,
/// the restart is then detected and the node restored, and the retried event applies
/// the new rule: in the end the same probes as before (HTTP, not the defaults a bare
/// rule would create) and the new rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_between_delete_and_create_ends_with_rule_and_probes() -> TestResult {
    let (w, _b, before, _) = serving("coordination_retries = 0", "127.0.0.66").await?;
    let sim = w.sim();
    sim.clear_requests();
    sim.add_interruption(loxilb_sim::Interruption {
        method: Some("POST".into()),
        path_prefix: Some("/config/loadbalancer".into()),
        remaining: Some(1),
        restart: true,
    });
    w.apply_ok(&[timeout_change(7)]).await?;
    assert_restored_at_once(&sim, 7, 0, &[200]);
    w.wait_for(
        "the new rule and the previous probes",
        Duration::from_secs(20),
        || {
            let now = config_view(&sim);
            let rule_ok = sim.rules().iter().any(|r| {
                r["serviceArguments"]["name"] == rule_name(LISTENER)
                    && r["serviceArguments"]["inactiveTimeOut"] == 7
            });
            rule_ok && now["endpoints"] == before["endpoints"]
        },
    )
    .await;
    assert_new_rule_same_probes(&sim, &before, 7);
    listener_stays_online(&w).await;
    Ok(())
}
