//! End-to-end tests of ownership and guarded deletions (issue #14), each a case
//! measured on the daemon before the fix, with real daemon processes:
//!
//! - two daemons with separate databases on one LoxiLB node each deleted the other's
//!   rule on every second reconcile pass;
//! - another driver's rule (`octavia-listener-<uuid>`) was deleted as an orphan;
//! - a member delete rewrote a probe another daemon's rule uses to LoxiLB's default
//!   TCP probe (the 409 "LB Rule-referred" path);
//! - a get socket answering "not found" for everything made the start-up check remove
//!   every load balancer.

mod common;

use std::time::Duration;

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

/// Octavia-style ids: `n` picks a distinct UUID per object.
fn uuid(kind: u8, n: u8) -> String {
    format!("0b6e3f1a-00{kind:02x}-4000-8000-0000000000{n:02x}")
}

/// One load balancer `n` with a TCP listener (UUID id), a pool, members on `ports` and
/// an HTTP monitor. Returns the events and the listener id.
fn lb_events(n: u8, vip: &str, vip_port: u16, ports: &[u16]) -> (Vec<Value>, String) {
    let (lb_id, l, p) = (uuid(1, n), uuid(2, n), uuid(3, n));
    let mut ev = vec![
        lb(&lb_id, vip),
        listener(&lb_id, &l, vip_port, &p),
        pool(&lb_id, &l, &p),
    ];
    for (i, port) in ports.iter().enumerate() {
        ev.push(member(&p, &member_id(n, i), *port));
    }
    ev.push(http_monitor(&p, &uuid(5, n), 1));
    (ev, l)
}

fn member_id(n: u8, i: usize) -> String {
    uuid(4, n.wrapping_mul(16).wrapping_add(i as u8))
}

/// Octavia (this world's driver agent) knows these listeners and load balancers.
fn octavia_knows(w: &World, listeners: &[&str], lbs: &[&str]) {
    let agent = w
        .agent
        .as_ref()
        .map(|a| a.control())
        .unwrap_or_else(|| panic!("agent"));
    for l in listeners {
        agent.set_fixture(
            "listeners",
            l,
            json!({"listener_id": l, "provisioning_status": "ACTIVE"}),
        );
    }
    for lb in lbs {
        agent.set_fixture(
            "loadbalancers",
            lb,
            json!({"loadbalancer_id": lb, "provisioning_status": "ACTIVE"}),
        );
    }
}

fn rule_names(sim: &loxilb_sim::Control) -> Vec<String> {
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
}

fn rule_deletes(sim: &loxilb_sim::Control) -> u64 {
    sim.counters()
        .by_route
        .iter()
        .filter(|(route, _)| route.starts_with("DELETE /config/loadbalancer"))
        .map(|(_, n)| *n)
        .sum()
}

/// Post a rule straight to LoxiLB (someone else's).
async fn post_rule(sim: &loxilb_sim::SimHandle, name: &str, port: u16) -> TestResult {
    let body = json!({"serviceArguments": {"externalIP": "127.0.0.98", "port": port,
        "protocol": "tcp", "sel": 0, "mode": 0, "name": name},
        "endpoints": [{"endpointIP": "127.0.0.1", "targetPort": 9, "weight": 1}]});
    let resp = reqwest::Client::new()
        .post(format!("{}/netlox/v1/config/loadbalancer", sim.url()))
        .json(&body)
        .send()
        .await
        .context("post rule")?;
    assert!(resp.status().is_success(), "{}", resp.status());
    Ok(())
}

/// Two daemons (separate databases, one Octavia) on one LoxiLB node: reconcile passes
/// of each, alternating, delete nothing of the other's. Before: the second pass of
/// each deleted the other's rule (and the probes it used).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_on_one_node_leave_each_others_rules_alone() -> TestResult {
    let (a, b) = (Backend::start().await?, Backend::start().await?);
    let sim = loxilb_sim::spawn(loxilb_sim::SimOptions::default())
        .await
        .context("sim")?;
    let nodes = vec![sim.url()];
    let first = World::start_with(vec![sim], &nodes, "", true).await?;
    let second = World::start_with(Vec::new(), &nodes, "", true).await?;
    let (ev1, l1) = lb_events(1, "127.0.0.31", 8131, &[a.port()]);
    let (ev2, l2) = lb_events(2, "127.0.0.32", 8132, &[b.port()]);
    first.apply_ok(&ev1).await?;
    second.apply_ok(&ev2).await?;
    // One Octavia behind both: it knows both listeners.
    for w in [&first, &second] {
        octavia_knows(w, &[&l1, &l2], &[&uuid(1, 1), &uuid(1, 2)]);
    }
    let sim = first.sim();
    let both = {
        let mut v = vec![rule_name(&l1), rule_name(&l2)];
        v.sort();
        v
    };
    assert_eq!(rule_names(&sim), both);
    let probes_before = sim.endpoints().len();
    let deletes_before = rule_deletes(&sim);

    let mut last = Vec::new();
    for _ in 0..3 {
        last.clear();
        for w in [&first, &second] {
            let r = admin(&w.daemon, "POST", "/v1/reconcile").await?;
            assert_eq!(rule_names(&sim), both, "{r}");
            last.push(r);
        }
    }
    // Each lists the other's rule as looking like ours but not ours, and no orphan.
    for (r, other) in last.iter().zip([&l2, &l1]) {
        assert_eq!(r["nodes"][0]["not_ours"], json!([rule_name(other)]), "{r}");
        assert_eq!(r["nodes"][0]["orphans"], json!([]), "{r}");
    }
    assert_eq!(rule_deletes(&sim), deletes_before, "no rule deleted");
    assert_eq!(sim.endpoints().len(), probes_before, "no probe deleted");
    Ok(())
}

/// Rules that are not exactly ours by name are never deleted, even with Octavia
/// trusted and the blast-radius limit open; an exact-pattern rule whose listener
/// Octavia does not know is. Before: `octavia-listener-<uuid>` (octavia-loxilb-driver's
/// naming) was deleted as our orphan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_drivers_rule_is_never_deleted_an_exact_orphan_is() -> TestResult {
    let a = Backend::start().await?;
    let w = World::start("orphan_max_fraction = 1.0").await?;
    let (ev, l) = lb_events(3, "127.0.0.33", 8133, &[a.port()]);
    w.apply_ok(&ev).await?;
    octavia_knows(&w, &[&l], &[&uuid(1, 3)]);
    let foreign = format!("octavia-listener-{}", uuid(9, 1));
    let not_exact = "octavia-legacy".to_string();
    let orphan = rule_name(&uuid(9, 2));
    post_rule(&w.sims[0], &foreign, 7101).await?;
    post_rule(&w.sims[0], &not_exact, 7102).await?;
    post_rule(&w.sims[0], &orphan, 7103).await?;
    let sim = w.sim();
    assert_eq!(sim.rules().len(), 4);

    for _ in 0..3 {
        admin(&w.daemon, "POST", "/v1/reconcile").await?;
    }
    let mut want = vec![rule_name(&l), foreign, not_exact];
    want.sort();
    assert_eq!(rule_names(&sim), want, "{}", w.daemon.log());
    assert!(w.daemon.log().contains("orphaned LoxiLB rule removed"));
    Ok(())
}

/// An exact-pattern orphan is left alone while the get socket answers none of our
/// listeners, is held by the blast-radius limit once it does (one orphan beside one
/// load balancer is 100 %), and goes with `orphans --confirm`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orphan_needs_a_trusted_agent_and_is_held_over_the_limit_until_confirmed() -> TestResult
{
    let a = Backend::start().await?;
    let port = free_port()?;
    let w = World::start(&format!("\n[metrics]\naddress = \"127.0.0.1:{port}\"\n")).await?;
    let (ev, l) = lb_events(6, "127.0.0.36", 8136, &[a.port()]);
    w.apply_ok(&ev).await?;
    let orphan = rule_name(&uuid(9, 3));
    post_rule(&w.sims[0], &orphan, 7104).await?;
    let sim = w.sim();
    let all = rule_names(&sim);

    // The agent knows nothing, not even our listener: its "not found" is not believed.
    for _ in 0..3 {
        let r = admin(&w.daemon, "POST", "/v1/reconcile").await?;
        assert_eq!(r["nodes"][0]["orphans"], json!([]), "{r}");
        assert_eq!(r["nodes"][0]["not_ours"], json!([orphan.clone()]), "{r}");
    }
    assert_eq!(rule_names(&sim), all);

    // Trusted now: seen twice, then held by the limit.
    octavia_knows(&w, &[&l], &[]);
    admin(&w.daemon, "POST", "/v1/reconcile").await?;
    let r = admin(&w.daemon, "POST", "/v1/reconcile").await?;
    assert_eq!(r["nodes"][0]["held"], true, "{r}");
    assert_eq!(r["nodes"][0]["orphans"][0]["name"], orphan.as_str(), "{r}");
    assert_eq!(r["nodes"][0]["orphans"][0]["confirmed"], true, "{r}");
    assert_eq!(r["nodes"][0]["orphans"][0]["removed"], false, "{r}");
    assert_eq!(rule_names(&sim), all, "held: nothing removed");
    assert!(w.daemon.log().contains("blast-radius limit"));
    let metrics = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .context("metrics")?
        .text()
        .await
        .unwrap_or_default();
    assert!(
        metrics.contains("loxilb_coordinator_guarded_deletions_blocked_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("loxilb_coordinator_guarded_deletion_candidates 1"),
        "{metrics}"
    );
    let deleted = cli(&w, &["orphans", "--delete", "--json"])?;
    assert_eq!(deleted.status.code(), Some(2), "{}", text(&deleted));
    assert_eq!(rule_names(&sim), all, "--delete stays within the limit");

    let confirmed = cli(&w, &["orphans", "--confirm", "--json"])?;
    assert_eq!(confirmed.status.code(), Some(0), "{}", text(&confirmed));
    assert_eq!(rule_names(&sim), vec![rule_name(&l)]);
    Ok(())
}

/// A member delete on a backend another daemon's rule probes leaves that daemon's HTTP
/// probe as it is. Before: the 409 "LB Rule-referred" path posted LoxiLB's default
/// TCP probe over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_delete_leaves_a_probe_another_daemons_rule_uses() -> TestResult {
    let (shared, own) = (Backend::start().await?, Backend::start().await?);
    let sim = loxilb_sim::spawn(loxilb_sim::SimOptions::default())
        .await
        .context("sim")?;
    let nodes = vec![sim.url()];
    let first = World::start_with(vec![sim], &nodes, "", true).await?;
    let second = World::start_with(Vec::new(), &nodes, "", true).await?;
    let (ev1, _) = lb_events(4, "127.0.0.34", 8134, &[shared.port(), own.port()]);
    let (ev2, _) = lb_events(5, "127.0.0.35", 8135, &[shared.port()]);
    first.apply_ok(&ev1).await?;
    second.apply_ok(&ev2).await?;
    let sim = first.sim();
    let key = format!("127.0.0.1_tcp_{}", shared.port());
    let before = probe(&sim.endpoints(), &key).cloned().unwrap_or_default();
    assert_eq!(before["probeType"], "http", "{before}");

    first
        .apply_ok(&[member_delete(&uuid(3, 4), &member_id(4, 0), shared.port())])
        .await?;
    let after = probe(&sim.endpoints(), &key).cloned().unwrap_or_default();
    for field in ["probeType", "probeReq", "probeDuration", "inactiveReTries"] {
        assert_eq!(after[field], before[field], "{field}: {after}");
    }
    assert!(first.daemon.log().contains("rule we do not own"));
    // The second daemon sees no drift on it.
    let r = admin(&second.daemon, "POST", "/v1/reconcile?dry_run=true").await?;
    assert_eq!(r["nodes"][0]["drift"], json!([]), "{r}");
    Ok(())
}

/// A get socket answering "not found" for everything removes nothing at start; a
/// trusted agent's "not found" for more than the blast-radius limit removes nothing
/// either; both are listed and `--confirm` removes them. Before: every load balancer
/// was removed from the daemon and from LoxiLB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_get_socket_removes_nothing_at_start_and_confirm_removes_held() -> TestResult {
    let a = Backend::start().await?;
    let mut w = World::start("").await?;
    let mut ids = Vec::new();
    for n in 0..3u8 {
        let (ev, _) = lb_events(
            10 + n,
            &format!("127.0.0.{}", 40 + n),
            8140 + u16::from(n),
            &[a.port()],
        );
        w.apply_ok(&ev).await?;
        ids.push(uuid(1, 10 + n));
    }
    let sim = w.sim();
    let all = rule_names(&sim);
    assert_eq!(all.len(), 3);
    let config = w.dir.path().join("coordinator.toml");

    // Restart against an agent that knows nothing (an empty or wrong get socket).
    let asked = lb_gets(&w);
    w.daemon.kill9();
    w.daemon = Daemon::start(&config).await?;
    wait_checked(&w, asked + 3).await;
    assert_eq!(rule_names(&sim), all, "nothing removed\n{}", w.daemon.log());
    let held = wait_held(&w, 3).await?;
    assert!(w.daemon.log().contains("is octavia.get_socket right?"));
    assert_eq!(held, sorted(&ids));
    assert_eq!(rule_names(&sim), all, "nothing removed");
    assert!(w.daemon.log().contains("nothing removed"));

    // Restart against an agent that knows one of them: 2 of 3 is over the limit.
    w.daemon.kill9();
    octavia_knows(&w, &[], &[&ids[0]]);
    w.daemon = Daemon::start(&config).await?;
    let held = wait_held(&w, 2).await?;
    assert_eq!(held, sorted(&ids[1..]));
    assert_eq!(rule_names(&sim), all, "nothing removed");
    let listed = cli(&w, &["orphans", "--json"])?;
    assert_eq!(listed.status.code(), Some(2), "{}", text(&listed));
    assert!(text(&listed).contains(&ids[1]), "{}", text(&listed));

    let confirmed = cli(&w, &["orphans", "--confirm", "--json"])?;
    assert_eq!(confirmed.status.code(), Some(0), "{}", text(&confirmed));
    w.wait_for("confirmed removals", Duration::from_secs(10), || {
        sim.rules().len() == 1
    })
    .await;
    let r = admin(&w.daemon, "GET", "/v1/orphans").await?;
    assert_eq!(r["held_loadbalancers"], json!([]), "{r}");
    assert!(w
        .daemon
        .log()
        .contains("Octavia deleted this load balancer"));
    Ok(())
}

/// Load balancer gets the agent answered so far.
fn lb_gets(w: &World) -> usize {
    w.agent
        .as_ref()
        .map(|a| a.control().get_requests())
        .unwrap_or_default()
        .iter()
        .filter(|r| r["object"] == "loadbalancers")
        .count()
}

/// Wait until the agent answered `n` load balancer gets in all (the start-up check
/// ran), then give a removal the time it would take.
async fn wait_checked(w: &World, n: usize) {
    w.wait_for("the start-up check", Duration::from_secs(10), || {
        lb_gets(w) >= n
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
}

fn free_port() -> TestResult<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr().map(|a| a.port()).unwrap_or(0))
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

/// Wait until the start-up check holds `n` load balancers; returns them sorted.
async fn wait_held(w: &World, n: usize) -> TestResult<Vec<String>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = admin(&w.daemon, "GET", "/v1/orphans").await?;
        let held: Vec<String> = r["held_loadbalancers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        if held.len() == n {
            return Ok(sorted(&held));
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "held {held:?}\n{}",
            w.daemon.log()
        );
        tokio::time::sleep(common::POLL).await;
    }
}
