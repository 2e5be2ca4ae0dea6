//! End-to-end tests of recovery: a LoxiLB restart is restored without event replay,
//! drift is repaired, orphans are removed after two scans while foreign objects stay,
//! missed changes are retried or dead-lettered, Octavia's deletions during downtime
//! are applied at start, and SIGKILLs during a burst of events lose nothing.

mod common;

use std::time::{Duration, Instant};

use common::world::*;
use common::{Context, Daemon, TestResult};
use loxilb_coordinator::mapping::rule_name;
use serde_json::{json, Value};

async fn admin(d: &Daemon, method: &str, path: &str) -> TestResult<Value> {
    let (code, body) = d
        .api()
        .call(method, path, None)
        .await
        .context(format!("{method} {path}"))?;
    assert_eq!(code, 200, "{method} {path} -> {body}");
    Ok(body)
}

/// Send a request straight to the simulator's LoxiLB API (someone else's change).
async fn loxilb(
    sim: &loxilb_sim::SimHandle,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> TestResult {
    let url = format!("{}/netlox/v1{path}", sim.url());
    let mut req = reqwest::Client::new().request(method.clone(), &url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.context(format!("{method} {url}"))?;
    assert!(
        resp.status().is_success(),
        "{method} {url}: {}",
        resp.status()
    );
    Ok(())
}

async fn event_count(d: &Daemon) -> TestResult<usize> {
    let v = admin(d, "GET", "/v1/events?limit=10000").await?;
    Ok(v["events"].as_array().map_or(0, Vec::len))
}

/// A listener Octavia does not know, named as Octavia names listeners.
const GONE_LISTENER: &str = "0b6e3f1a-0000-4000-8000-00000000dead";

fn drift_of(report: &Value) -> Vec<Value> {
    report["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|n| n["drift"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn orphans_of(report: &Value) -> Vec<Value> {
    report["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|n| n["orphans"].as_array().cloned().unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_loxilb_is_restored_within_a_poll_without_event_replay() -> TestResult {
    let (a, b) = (Backend::start().await?, Backend::start().await?);
    let w = World::start("").await?;
    w.apply_ok(&scenario("lb1", "127.0.0.10", 8080, &[a.port(), b.port()]))
        .await?;
    let sim = w.sim();
    let before = config_view(&sim);
    assert_eq!(sim.rules().len(), 1);
    let events = event_count(&w.daemon).await?;

    sim.restart_empty();
    assert!(sim.rules().is_empty());
    let started = Instant::now();
    // One poll (status_update_interval = 1 s) plus repair time.
    w.wait_for("LoxiLB restored", Duration::from_secs(5), || {
        config_view(&sim) == before
    })
    .await;
    let took = started.elapsed();
    assert_eq!(
        event_count(&w.daemon).await?,
        events,
        "no event was replayed"
    );
    let log = w.daemon.log();
    assert!(log.contains("LoxiLB node lost state"), "{log}");
    assert!(log.contains("rule missing on the node"), "{log}");
    eprintln!("restored in {took:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_behind_our_back_is_reported_repaired_and_logged() -> TestResult {
    let a = Backend::start().await?;
    let w = World::start("").await?;
    w.apply_ok(&scenario("lb1", "127.0.0.11", 8081, &[a.port()]))
        .await?;
    let sim = w.sim();
    let before = config_view(&sim);
    let key = format!("127.0.0.1_tcp_{}", a.port());
    let ours = probe(&sim.endpoints(), &key).cloned().unwrap_or_default();
    let duration = ours["probeDuration"].as_u64().unwrap_or(0);
    assert!(duration > 0 && duration != 7, "{ours}");

    // Someone changes our probe's options.
    let mut changed = ours.clone();
    changed["probeDuration"] = json!(7);
    changed["inactiveReTries"] = json!(9);
    loxilb(
        &w.sims[0],
        reqwest::Method::POST,
        "/config/endpoint",
        Some(changed),
    )
    .await?;
    assert_ne!(config_view(&sim), before);

    let dry = admin(&w.daemon, "POST", "/v1/reconcile?dry_run=true").await?;
    let drift = drift_of(&dry);
    assert_eq!(drift.len(), 1, "{dry}");
    assert_eq!(drift[0]["name"], key.as_str());
    assert!(
        drift[0]["difference"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("probeDuration \"{duration}\" -> \"7\"")),
        "{dry}"
    );
    assert_eq!(
        probe(&sim.endpoints(), &key).map(|p| p["probeDuration"].clone()),
        Some(json!(7)),
        "dry run changed nothing"
    );

    let real = admin(&w.daemon, "POST", "/v1/reconcile?dry_run=false").await?;
    assert_eq!(real["nodes"][0]["repaired"], 1, "{real}");
    assert_eq!(config_view(&sim), before);

    // Someone deletes our rule: the poll notices and restores it.
    loxilb(
        &w.sims[0],
        reqwest::Method::DELETE,
        &format!("/config/loadbalancer/name/{}", rule_name("lb1-l")),
        None,
    )
    .await?;
    assert!(sim.rules().is_empty());
    w.wait_for("rule restored", Duration::from_secs(5), || {
        config_view(&sim) == before
    })
    .await;
    let log = w.daemon.log();
    assert!(log.contains("LoxiLB differs from what we applied"), "{log}");
    assert!(log.contains(&rule_name("lb1-l")), "{log}");
    let after = admin(&w.daemon, "POST", "/v1/reconcile?dry_run=true").await?;
    assert!(drift_of(&after).is_empty(), "{after}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ours_orphans_go_after_two_scans_foreign_objects_stay_dry_run_removes_nothing() -> TestResult
{
    let a = Backend::start().await?;
    // One orphan beside one load balancer is 100 %: open the blast-radius limit, this
    // test is about ownership and the two-scan rule (tests/ownership.rs has the limit).
    let w = World::start("orphan_max_fraction = 1.0").await?;
    // Octavia knows our listener (so its "not found" for the orphan's is believed).
    if let Some(agent) = &w.agent {
        agent.control().set_fixture(
            "listeners",
            "lb1-l",
            json!({"listener_id": "lb1-l", "provisioning_status": "ACTIVE"}),
        );
    }
    let gone = rule_name(GONE_LISTENER);
    w.apply_ok(&scenario("lb1", "127.0.0.12", 8082, &[a.port()]))
        .await?;
    let sim = w.sim();
    let h = &w.sims[0];
    let rule = |name: &str, port: u16| {
        json!({"serviceArguments": {"externalIP": "127.0.0.99", "port": port, "protocol": "tcp",
            "sel": 0, "mode": 0, "name": name},
            "endpoints": [{"endpointIP": "127.0.0.1", "targetPort": 9, "weight": 1}]})
    };
    // Ours by exact name, unrecorded, and Octavia has no such listener (left over from
    // a listener deleted while a record was lost).
    loxilb(
        h,
        reqwest::Method::POST,
        "/config/loadbalancer",
        Some(rule(&gone, 7001)),
    )
    .await?;
    // Someone else's rule, and their probe under a key of the form we use.
    loxilb(
        h,
        reqwest::Method::POST,
        "/config/loadbalancer",
        Some(rule("someone-else", 7002)),
    )
    .await?;
    let foreign_key = "127.0.0.1_tcp_9";
    loxilb(
        h,
        reqwest::Method::POST,
        "/config/endpoint",
        Some(json!({"hostName": "127.0.0.1",
        "name": foreign_key, "probeType": "tcp", "probePort": 9, "probeDuration": 30,
        "inactiveReTries": 3})),
    )
    .await?;
    // What someone configured on the probe; its result (currState, delays) is LoxiLB's
    // own and changes as it probes.
    let configured = |p: Option<&Value>| {
        p.cloned().map(|mut v| {
            for k in ["currState", "minDelay", "avgDelay", "maxDelay"] {
                v[k] = Value::Null;
            }
            v
        })
    };
    let foreign_probe = configured(probe(&sim.endpoints(), foreign_key));
    assert!(foreign_probe.is_some());
    let names = |sim: &loxilb_sim::Control| -> Vec<String> {
        let mut v: Vec<String> = sim
            .rules()
            .iter()
            .map(|r| {
                r["serviceArguments"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect();
        v.sort();
        v
    };
    let all = names(&sim);
    assert_eq!(all.len(), 3, "{all:?}");

    for _ in 0..3 {
        let dry = admin(&w.daemon, "POST", "/v1/reconcile?dry_run=true").await?;
        let orphans = orphans_of(&dry);
        assert_eq!(orphans.len(), 1, "{dry}");
        assert_eq!(orphans[0]["name"], gone.as_str());
        assert_eq!(orphans[0]["removed"], false);
    }
    let listed = admin(&w.daemon, "GET", "/v1/orphans").await?;
    assert_eq!(orphans_of(&listed).len(), 1, "{listed}");
    assert_eq!(names(&sim), all, "dry runs and listings remove nothing");

    let first = admin(&w.daemon, "POST", "/v1/reconcile").await?;
    assert_eq!(orphans_of(&first)[0]["confirmed"], false, "{first}");
    assert_eq!(names(&sim), all, "one scan is not enough");
    let second = admin(&w.daemon, "POST", "/v1/orphans/delete").await?;
    assert_eq!(orphans_of(&second)[0]["removed"], true, "{second}");
    let left = names(&sim);
    assert_eq!(left, vec![rule_name("lb1-l"), "someone-else".to_string()]);
    assert_eq!(
        configured(probe(&sim.endpoints(), foreign_key)),
        foreign_probe,
        "foreign probe untouched"
    );
    let again = admin(&w.daemon, "POST", "/v1/reconcile").await?;
    assert!(orphans_of(&again).is_empty(), "{again}");
    assert!(w.daemon.log().contains("orphaned LoxiLB rule removed"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_of_members_deleted_while_loxilb_was_down_go_once_it_returns() -> TestResult {
    let (a, b) = (Backend::start().await?, Backend::start().await?);
    let w = World::start("").await?;
    w.apply_ok(&scenario("lb1", "127.0.0.13", 8083, &[a.port(), b.port()]))
        .await?;
    let sim = w.sim();
    let gone_key = format!("127.0.0.1_tcp_{}", b.port());
    assert!(probe(&sim.endpoints(), &gone_key).is_some());

    // Only probe removal fails (503): the member delete itself is done, the probe
    // removal waits in the retry backlog.
    sim.add_fault(loxilb_sim::Fault {
        status: 503,
        rate: 1.0,
        method: Some("DELETE".into()),
        path_prefix: Some("/config/endpoint".into()),
        remaining: None,
    });
    // And then the whole node goes down while a second member is deleted.
    w.apply_ok(&[member_delete("lb1-p", "lb1-m1", b.port())])
        .await?;
    sim.set_maintenance(true);
    let (code, r) = w
        .daemon
        .post(&member_delete("lb1-p", "lb1-m0", a.port()))
        .await?;
    assert_eq!(code, 202, "{r}");
    let id = r["id"].as_i64().unwrap_or(0);
    w.wait_for("a refused attempt", Duration::from_secs(10), || {
        sim.counters().by_status.get(&503).copied().unwrap_or(0) >= 2
    })
    .await;
    sim.set_maintenance(false);
    sim.clear_faults();
    let rec = w.daemon.wait_final(id, Duration::from_secs(30)).await?;
    assert_eq!(rec["state"], "done", "{rec}");
    w.wait_for("every probe removed", Duration::from_secs(10), || {
        sim.endpoints().is_empty() && sim.rules().is_empty()
    })
    .await;
    // Our records agree with LoxiLB again, and nothing was dead-lettered.
    let report = admin(&w.daemon, "POST", "/v1/reconcile?dry_run=true").await?;
    assert!(
        drift_of(&report).is_empty() && orphans_of(&report).is_empty(),
        "{report}"
    );
    let dead = admin(&w.daemon, "GET", "/v1/dead-letters").await?;
    assert_eq!(dead["dead_letters"], json!([]), "{dead}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_error_is_dead_lettered_and_reported_error() -> TestResult {
    let (a, b) = (Backend::start().await?, Backend::start().await?);
    let w = World::start("").await?;
    w.apply_ok(&scenario("lb1", "127.0.0.14", 8084, &[a.port(), b.port()]))
        .await?;
    let sim = w.sim();
    sim.add_fault(loxilb_sim::Fault {
        status: 400,
        rate: 1.0,
        method: Some("DELETE".into()),
        path_prefix: Some("/config/endpoint".into()),
        remaining: None,
    });
    w.apply_ok(&[member_delete("lb1-p", "lb1-m1", b.port())])
        .await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let dead = loop {
        let d = admin(&w.daemon, "GET", "/v1/dead-letters").await?;
        if d["dead_letters"].as_array().is_some_and(|l| !l.is_empty()) {
            break d;
        }
        assert!(
            Instant::now() < deadline,
            "no dead letter\n{}",
            w.daemon.log()
        );
        tokio::time::sleep(common::POLL).await;
    };
    let entry = &dead["dead_letters"][0];
    assert_eq!(entry["loadbalancer_id"], "lb1", "{dead}");
    assert!(
        entry["reason"].as_str().unwrap_or("").contains("permanent"),
        "{dead}"
    );
    let agent = w.agent.as_ref().map(|a| a.control());
    w.wait_for("ERROR reported", Duration::from_secs(10), || {
        agent
            .as_ref()
            .is_some_and(|c| c.latest_status("loadbalancers", "lb1").0.as_deref() == Some("ERROR"))
    })
    .await;
    // A 400 is not retried: exactly one refused attempt beyond the event's own.
    let refused = sim.counters().by_status.get(&400).copied().unwrap_or(0);
    assert_eq!(refused, 2, "{:?}", sim.counters());
    assert!(w.daemon.log().contains("dead-lettered"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_balancers_octavia_deleted_while_we_were_down_are_removed_at_start() -> TestResult {
    let a = Backend::start().await?;
    // One of two is 50 %: within this test's blast-radius limit.
    let mut w = World::start("orphan_max_fraction = 0.5").await?;
    let mut events = scenario("keep", "127.0.0.15", 8085, &[a.port()]);
    events.extend(scenario("gone", "127.0.0.16", 8086, &[a.port()]));
    w.apply_ok(&events).await?;
    assert_eq!(w.sim().rules().len(), 2);
    w.daemon.kill9();
    // Octavia knows "keep" only.
    let agent = w
        .agent
        .as_ref()
        .map(|a| a.control())
        .unwrap_or_else(|| panic!("agent"));
    agent.set_fixture(
        "loadbalancers",
        "keep",
        json!({"loadbalancer_id": "keep", "provisioning_status": "ACTIVE"}),
    );
    w.daemon = Daemon::start(&w.dir.path().join("coordinator.toml")).await?;
    let sim = w.sim();
    w.wait_for(
        "deleted load balancer removed",
        Duration::from_secs(10),
        || {
            let rules = sim.rules();
            rules.len() == 1 && rules[0]["serviceArguments"]["name"] == rule_name("keep-l").as_str()
        },
    )
    .await;
    assert!(agent.get_requests().len() >= 2);
    let (code, body) = w
        .daemon
        .api()
        .call("GET", "/v1/events?limit=1000", None)
        .await?;
    assert_eq!(code, 200, "{body}");
    Ok(())
}

#[path = "recovery_crash/mod.rs"]
mod crash;

/// Reconciliation never mistakes an event in flight for drift: while member weight
/// updates stream through one load balancer (each a rule update), reconcile passes
/// in a loop must report no drift at all. Before the fix the reconciler read our
/// records and LoxiLB's listing at different moments, so an update landing in
/// between looked like drift ("LoxiLB differs from what we applied") and was
/// "repaired" with whichever value it had read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_during_a_stream_of_updates_reports_no_drift() -> TestResult {
    let backends = [Backend::start().await?, Backend::start().await?];
    let w = World::start("").await?;
    w.apply_ok(&[
        lb("race", "127.0.0.130"),
        listener("race", "race-l", 96, "race-p"),
        pool("race", "race-l", "race-p"),
        member("race-p", "m0", backends[0].port()),
        member("race-p", "m1", backends[1].port()),
    ])
    .await?;
    let stream = {
        let api = w.daemon.api();
        let port = backends[0].port();
        tokio::spawn(async move {
            for i in 0..150u32 {
                let ev = json!({"method": "member_update", "args": {
                    "old_member": {"member_id": "m0", "pool_id": "race-p",
                        "address": "127.0.0.1", "protocol_port": port, "weight": 1},
                    "new_member": {"member_id": "m0", "weight": 2 + i % 50}}});
                let (code, body) = api.call("POST", "/v1/events", Some(&ev)).await?;
                assert_eq!(code, 202, "{body}");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            TestResult::Ok(())
        })
    };
    let mut passes = 0;
    while !stream.is_finished() {
        let report = admin(&w.daemon, "POST", "/v1/reconcile?dry_run=true").await?;
        let drift: Vec<&Value> = report["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|n| n["drift"].as_array().into_iter().flatten())
            .collect();
        assert!(
            drift.is_empty(),
            "false drift while events were in flight: {drift:?}"
        );
        passes += 1;
    }
    stream.await??;
    assert!(
        passes >= 5,
        "only {passes} reconcile passes ran during the stream"
    );
    Ok(())
}
