//! End-to-end tests of the provider drivers: the real daemon applies Octavia events
//! to the LoxiLB simulator, which really probes HTTP backends on loopback, and reports
//! provisioning statuses to the test driver agent.

mod common;

use std::time::Duration;

use common::world::*;
use common::{Context, TestResult};
use loxilb_coordinator::mapping::rule_name;
use serde_json::{json, Value};

fn key(port: u16) -> String {
    format!("127.0.0.1_tcp_{port}")
}

/// `scenario` with members on these backends.
fn scenario_on(lb_id: &str, vip: &str, vip_port: u16, backends: &[&Backend]) -> Vec<Value> {
    let ports: Vec<u16> = backends.iter().map(|b| b.port()).collect();
    scenario(lb_id, vip, vip_port, &ports)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitored_pool_follows_its_probes_and_reports_active() -> TestResult {
    let backends = [
        Backend::start().await?,
        Backend::start().await?,
        Backend::start().await?,
    ];
    let w = World::start("").await?;
    let refs: Vec<&Backend> = backends.iter().collect();
    w.apply_ok(&scenario_on("lb1", "127.0.0.10", 8080, &refs))
        .await?;

    let rules = w.sim().rules();
    let eps = rule_endpoints(&rules, &rule_name("lb1-l"));
    assert_eq!(eps.len(), 3, "{rules:?}");
    let sim = w.sim();
    w.wait_for("three ok probes", Duration::from_secs(15), || {
        let all = sim.endpoints();
        backends
            .iter()
            .all(|b| probe(&all, &key(b.port())).is_some_and(|p| p["currState"] == "ok"))
    })
    .await;
    let all = sim.endpoints();
    let p = probe(&all, &key(backends[0].port()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(p["probeType"], "http", "{p}");
    assert_eq!(
        p["probeReq"], "health",
        "{p}: LoxiLB requests \"/\" + probeReq"
    );
    // Empty probeResp (an HTTP probe ignores it); omitted from the listing as LoxiLB does.
    assert_eq!(
        p.get("probeResp"),
        None,
        "{p}: an HTTP probe ignores probeResp"
    );
    assert_eq!(p["inactiveReTries"], 2, "{p}");

    // Every object and its parents reached ACTIVE at the driver agent.
    w.wait_for("ACTIVE statuses", Duration::from_secs(10), || {
        let got = provisioning(&w.status_messages());
        ["lb1-hm", "lb1-m0", "lb1-m2", "lb1-p", "lb1-l", "lb1"]
            .iter()
            .all(|id| got.iter().any(|(_, i, s)| i == id && s == "ACTIVE"))
    })
    .await;
    // The enabled monitor is ONLINE, as Octavia's amphora driver marks it.
    assert_eq!(
        last_operating(&w.status_messages(), "lb1-hm").as_deref(),
        Some("ONLINE"),
        "{:?}",
        w.status_messages()
    );

    // A backend stops: its probe fails and the rule stops using the endpoint.
    backends[1].stop().await;
    let port = backends[1].port();
    w.wait_for(
        "nok probe and inactive endpoint",
        Duration::from_secs(20),
        || {
            let all = sim.endpoints();
            let nok = probe(&all, &key(port)).is_some_and(|p| p["currState"] == "nok");
            let inactive = rule_endpoints(&sim.rules(), &rule_name("lb1-l"))
                .iter()
                .any(|e| e["targetPort"] == port && e["state"] == "inactive");
            nok && inactive
        },
    )
    .await;

    // Disabling the monitor turns it OFFLINE (and enabling it, ONLINE again).
    for (up, want) in [(false, "OFFLINE"), (true, "ONLINE")] {
        let update = monitor_update("lb1-p", "lb1-hm", json!({"admin_state_up": up}));
        w.apply_ok(&[update]).await?;
        w.wait_for(want, Duration::from_secs(10), || {
            last_operating(&w.status_messages(), "lb1-hm").as_deref() == Some(want)
        })
        .await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_delete_removes_probe_and_shared_probe_keeps_the_other_monitor() -> TestResult {
    let shared = Backend::start().await?;
    let other = Backend::start().await?;
    let w = World::start("").await?;
    // Two load balancers whose pools share the backend address, protocol and port.
    w.apply_ok(&scenario_on("a", "127.0.0.20", 80, &[&shared, &other]))
        .await?;
    let mut b = scenario_on("b", "127.0.0.21", 80, &[&shared]);
    b.pop();
    b.push(http_monitor("b-p", "b-hm", 5));
    w.apply_ok(&b).await?;

    // The faster monitor (a, delay 1) wins the shared probe.
    let sim = w.sim();
    let duration =
        |port: u16| probe(&sim.endpoints(), &key(port)).map(|p| p["probeDuration"].clone());
    let fast = duration(shared.port());
    w.apply_ok(&[monitor_delete("a-p", "a-hm")]).await?;
    let slow = duration(shared.port());
    assert_ne!(
        fast, slow,
        "deleting a's monitor must hand the probe to b's options"
    );
    assert_eq!(slow, Some(json!(5)), "{:?}", sim.endpoints());

    // Deleting b's member that is only in b: the probe stays for nobody else → gone
    // (or back to LoxiLB's own defaults while a's rule still refers to it).
    w.apply_ok(&[member_delete("a-p", "a-m1", other.port())])
        .await?;
    assert!(
        rule_endpoints(&sim.rules(), &rule_name("a-l"))
            .iter()
            .all(|e| e["targetPort"] != other.port()),
        "member still in the rule"
    );
    assert!(
        probe(&sim.endpoints(), &key(other.port())).is_none(),
        "probe of the deleted member left behind: {:?}",
        sim.endpoints()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_changes_update_probes_in_place_or_replace_them() -> TestResult {
    let backends = [Backend::start().await?, Backend::start().await?];
    let w = World::start("").await?;
    let refs: Vec<&Backend> = backends.iter().collect();
    w.apply_ok(&scenario_on("lb", "127.0.0.30", 81, &refs))
        .await?;
    let sim = w.sim();

    // Options only: one POST per probe, nothing deleted.
    sim.clear_requests();
    w.apply_ok(&[monitor_update(
        "lb-p",
        "lb-hm",
        json!({"delay": 3, "url_path": "/ready"}),
    )])
    .await?;
    let reqs = sim.requests();
    let posts = reqs
        .iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/config/endpoint"))
        .count();
    let deletes = reqs
        .iter()
        .filter(|r| r.method == "DELETE" && r.path.starts_with("/config/endpoint"))
        .count();
    assert_eq!(posts, 2, "{reqs:?}");
    assert_eq!(deletes, 0, "{reqs:?}");
    let all = sim.endpoints();
    let p = probe(&all, &key(backends[0].port()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(p["probeReq"], "ready", "{p}");

    // Type change: the probe behind the rule's key becomes a TCP probe; no HTTP probe
    // for that member remains.
    w.apply_ok(&[monitor_update("lb-p", "lb-hm", json!({"type": "TCP"}))])
        .await?;
    let all = sim.endpoints();
    for b in &backends {
        let probes: Vec<&Value> = all
            .iter()
            .filter(|e| e["hostName"] == "127.0.0.1" && e["probePort"] == b.port())
            .collect();
        assert_eq!(probes.len(), 1, "{all:?}");
        assert_eq!(probes[0]["probeType"], "tcp", "{all:?}");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_monitor_create_leaves_loxilb_clean_and_reports_error() -> TestResult {
    let backends = [
        Backend::start().await?,
        Backend::start().await?,
        Backend::start().await?,
    ];
    let w = World::start("").await?;
    let refs: Vec<&Backend> = backends.iter().collect();
    let mut ev = scenario_on("lb", "127.0.0.40", 82, &refs);
    let monitor = ev.pop().unwrap_or_default();
    w.apply_ok(&ev).await?;
    let sim = w.sim();
    let before = config_view(&sim);

    // Adding the monitor re-creates the rule with monitoring on: the old rule is
    // deleted, then LoxiLB refuses the new one (403: out of capacity) half-way.
    sim.add_fault(loxilb_sim::Fault {
        status: 403,
        rate: 1.0,
        method: Some("POST".into()),
        path_prefix: Some("/config/loadbalancer".into()),
        remaining: Some(1),
    });
    let recs = w.apply(&[monitor]).await?;
    assert_eq!(recs[0]["state"], "failed", "{}", recs[0]);
    let reason = recs[0]["reason"].as_str().unwrap_or("");
    assert!(reason.contains("403"), "{reason}");
    assert_eq!(
        config_view(&sim),
        before,
        "LoxiLB not back to its state before the event"
    );
    w.wait_for("ERROR for the monitor", Duration::from_secs(10), || {
        provisioning(&w.status_messages())
            .iter()
            .any(|(_, id, s)| id == "lb-hm" && s == "ERROR")
    })
    .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_a_scenario_twice_gives_identical_loxilb_state() -> TestResult {
    let backends = [Backend::start().await?, Backend::start().await?];
    let w = World::start("").await?;
    let refs: Vec<&Backend> = backends.iter().collect();
    let ev = scenario_on("lb", "127.0.0.50", 83, &refs);
    w.apply_ok(&ev).await?;
    let sim = w.sim();
    let first = config_view(&sim);
    sim.clear_requests();
    w.apply_ok(&ev).await?;
    assert_eq!(config_view(&sim), first);
    let mutations = sim.requests().iter().filter(|r| r.method != "GET").count();
    assert_eq!(
        mutations,
        0,
        "a replay must not call LoxiLB: {:?}",
        sim.requests()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statuses_reach_the_agent_in_order_even_after_it_was_down() -> TestResult {
    let backends = [Backend::start().await?];
    let sim = loxilb_sim::spawn(loxilb_sim::SimOptions::default()).await?;
    let nodes = vec![sim.url()];
    let mut w = World::start_with(vec![sim], &nodes, "", false).await?;
    let refs: Vec<&Backend> = backends.iter().collect();
    w.apply_ok(&scenario_on("lb", "127.0.0.60", 84, &refs))
        .await?;
    // The agent comes up late: nothing was lost meanwhile.
    w.agent = Some(driver_agent_sim::spawn(&w.agent_dir).await?);
    w.wait_for("all statuses", Duration::from_secs(30), || {
        let got = provisioning(&w.status_messages());
        ["lb", "lb-l", "lb-p", "lb-m0", "lb-hm"]
            .iter()
            .all(|id| got.iter().any(|(_, i, s)| i == id && s == "ACTIVE"))
    })
    .await;
    // Later events arrive after earlier ones.
    w.apply_ok(&[member_delete("lb-p", "lb-m0", backends[0].port())])
        .await?;
    w.wait_for("member DELETED", Duration::from_secs(10), || {
        provisioning(&w.status_messages())
            .iter()
            .any(|(_, i, s)| i == "lb-m0" && s == "DELETED")
    })
    .await;
    let got = provisioning(&w.status_messages());
    let active = got
        .iter()
        .position(|(_, i, s)| i == "lb-m0" && s == "ACTIVE");
    let deleted = got
        .iter()
        .position(|(_, i, s)| i == "lb-m0" && s == "DELETED");
    assert!(active < deleted, "{got:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_matches_the_loxilb_swagger() -> TestResult {
    let backends = [Backend::start().await?, Backend::start().await?];
    let w = World::start("").await?;
    let refs: Vec<&Backend> = backends.iter().collect();
    // One step at a time, so that coalescing does not merge the steps away.
    let steps = [
        scenario_on("lb", "127.0.0.70", 85, &refs),
        vec![monitor_update("lb-p", "lb-hm", json!({"delay": 4}))],
        vec![member_delete("lb-p", "lb-m1", backends[1].port())],
        vec![monitor_delete("lb-p", "lb-hm")],
        vec![json!({"method": "loadbalancer_delete", "args": {
            "loadbalancer": {"loadbalancer_id": "lb"}, "cascade": true}})],
    ];
    for step in &steps {
        w.apply_ok(step).await?;
    }
    // LoxiLB's API description, as far as the daemon's requests go, is kept in the
    // repository (crates/swagger-check/loxilb-swagger-subset.yml).
    let path = std::path::PathBuf::from(swagger_check::LOXILB_SUBSET);
    let spec = swagger_check::SwaggerSpec::load(&path).context("swagger")?;
    let reqs = w.sim().requests();
    assert!(reqs.len() > 5, "{reqs:?}");
    for r in reqs {
        let path = format!("/netlox/v1{}", r.path);
        if let Err(problems) =
            spec.validate_request(&r.method, &path, r.query.as_deref(), r.body.as_ref())
        {
            panic!("{} {path}: {problems:?}\nbody: {:?}", r.method, r.body);
        }
    }
    // Cascade delete left nothing of ours behind.
    assert!(w.sim().rules().is_empty(), "{:?}", w.sim().rules());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_get_the_same_state_and_a_down_node_is_caught_up() -> TestResult {
    let backends = [Backend::start().await?, Backend::start().await?];
    let a = loxilb_sim::spawn(loxilb_sim::SimOptions::default()).await?;
    // Node b's address is reserved, but nothing listens there yet.
    let b_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let b_addr = b_listener.local_addr()?;
    drop(b_listener);
    let nodes = vec![a.url(), format!("http://{b_addr}")];
    let mut w = World::start_with(vec![a], &nodes, "", true).await?;
    let refs: Vec<&Backend> = backends.iter().collect();
    w.apply_ok(&scenario_on("lb", "127.0.0.80", 86, &refs))
        .await?;
    assert_eq!(
        rule_endpoints(&w.sim().rules(), &rule_name("lb-l")).len(),
        2
    );
    // Policy: node b unreachable does not fail the load balancer.
    w.wait_for("ACTIVE with one node down", Duration::from_secs(10), || {
        provisioning(&w.status_messages())
            .iter()
            .any(|(_, i, s)| i == "lb-hm" && s == "ACTIVE")
    })
    .await;

    let listener = tokio::net::TcpListener::bind(b_addr).await?;
    let b = loxilb_sim::spawn_on(listener, loxilb_sim::SimOptions::default()).await?;
    w.sims.push(b);
    let (ca, cb) = (w.sims[0].control(), w.sims[1].control());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while config_view(&ca) != config_view(&cb) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(common::POLL).await;
    }
    assert_eq!(config_view(&ca), config_view(&cb), "node b not caught up");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_member_events_is_coalesced() -> TestResult {
    // LoxiLB answering in 20 ms (a real node's order) keeps the daemon busy while the
    // burst arrives, as in production; with an instant simulator, coalescing depended
    // on how the test's posts and the applier were scheduled (1.28 calls per event in
    // a clean-clone run beside a benchmark).
    let w = World::start_custom(
        loxilb_sim::SimOptions {
            latency: Duration::from_millis(20),
            ..Default::default()
        },
        "",
        "",
    )
    .await?;
    let mut setup = scenario_on("lb", "127.0.0.90", 87, &[]);
    let hm = setup.pop().unwrap_or_default();
    setup.push(hm);
    w.apply_ok(&setup).await?;
    let sim = w.sim();
    sim.clear_requests();
    // At most 32 endpoints per rule (AddLbRule: "endpoints-range error").
    let n = 32u16;
    let events: Vec<Value> = (0..n)
        .map(|i| member("lb-p", &format!("m{i}"), 21000 + i))
        .collect();
    w.apply_ok(&events).await?;
    let mutations = sim.requests().iter().filter(|r| r.method != "GET").count();
    let per_event = mutations as f64 / f64::from(n);
    println!("burst of {n} member_create: {mutations} LoxiLB calls, {per_event:.2} per event");
    assert_eq!(
        rule_endpoints(&sim.rules(), &rule_name("lb-l")).len(),
        usize::from(n)
    );
    let probes = sim.endpoints();
    for i in 0..n {
        let p = probe(&probes, &key(21000 + i)).cloned().unwrap_or_default();
        assert_eq!(p["probeType"], "http", "{p}");
        assert_eq!(p["probeReq"], "health", "{p}");
    }
    // One probe POST per member is the floor for HTTP monitors (LoxiLB refuses http on
    // a rule); the rule updates are coalesced on top.
    assert!(per_event <= 1.25, "{per_event} calls per event");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn member_delete_succeeds_when_probe_removal_fails_and_is_retried() -> TestResult {
    let backends = [Backend::start().await?, Backend::start().await?];
    let w = World::start("").await?;
    let refs: Vec<&Backend> = backends.iter().collect();
    w.apply_ok(&scenario_on("lb", "127.0.0.91", 88, &refs))
        .await?;
    let sim = w.sim();
    // Every probe removal fails (503 maintenance-like) a few times.
    sim.add_fault(loxilb_sim::Fault {
        status: 503,
        rate: 1.0,
        method: Some("DELETE".into()),
        path_prefix: Some("/config/endpoint".into()),
        remaining: Some(4),
    });
    let port = backends[1].port();
    w.apply_ok(&[member_delete("lb-p", "lb-m1", port)]).await?;
    w.wait_for("member DELETED", Duration::from_secs(10), || {
        provisioning(&w.status_messages())
            .iter()
            .any(|(_, i, s)| i == "lb-m1" && s == "DELETED")
    })
    .await;
    assert!(
        rule_endpoints(&sim.rules(), &rule_name("lb-l"))
            .iter()
            .all(|e| e["targetPort"] != port),
        "traffic still goes to the deleted member"
    );
    // The catch-up retries the removal until LoxiLB accepts it.
    w.wait_for("probe removal retried", Duration::from_secs(20), || {
        sim.requests().iter().any(|r| {
            r.method == "DELETE" && r.path.starts_with("/config/endpoint") && r.status != 503
        })
    })
    .await;
    // The catch-up logs after it recorded the node as caught up, a moment after
    // LoxiLB answered: wait for the line instead of reading the log at once.
    w.wait_for("node caught up", Duration::from_secs(10), || {
        w.daemon.log().contains("node caught up")
    })
    .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_coordination_member_events_leave_probes_alone() -> TestResult {
    let backends = [Backend::start().await?, Backend::start().await?];
    let w = World::start("enable_coordination = false").await?;
    let refs: Vec<&Backend> = backends.iter().collect();
    w.apply_ok(&scenario_on("lb", "127.0.0.92", 89, &refs))
        .await?;
    let sim = w.sim();
    sim.clear_requests();
    w.apply_ok(&[member_delete("lb-p", "lb-m1", backends[1].port())])
        .await?;
    let probe_calls: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/config/endpoint"))
        .collect();
    assert!(probe_calls.is_empty(), "{probe_calls:?}");
    assert_eq!(rule_endpoints(&sim.rules(), &rule_name("lb-l")).len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listener_client_timeout_change_reaches_the_rule() -> TestResult {
    let backends = [Backend::start().await?];
    let w = World::start("").await?;
    let refs: Vec<&Backend> = backends.iter().collect();
    w.apply_ok(&scenario_on("lb", "127.0.0.93", 94, &refs))
        .await?;
    w.apply_ok(&[json!({"method": "listener_update", "args": {
        "old_listener": {"listener_id": "lb-l", "loadbalancer_id": "lb"},
        "new_listener": {"listener_id": "lb-l", "loadbalancer_id": "lb",
                         "timeout_client_data": 90000}}})])
        .await?;
    let rules = w.sim().rules();
    let rule = rules
        .iter()
        .find(|r| r["serviceArguments"]["name"] == rule_name("lb-l"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(rule["serviceArguments"]["inactiveTimeOut"], 90, "{rule}");
    assert_eq!(
        rule["endpoints"].as_array().map(Vec::len),
        Some(1),
        "{rule}"
    );
    Ok(())
}

/// Octavia's single-call create: one `loadbalancer_create` carrying the listener,
/// its default pool (also listed under the load balancer), members and a monitor.
/// Every object gets onto LoxiLB and every object Octavia locked ends ACTIVE.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graph_create_applies_and_activates_every_nested_object() -> TestResult {
    let backends = [Backend::start().await?, Backend::start().await?];
    let w = World::start("").await?;
    let members: Vec<Value> = backends
        .iter()
        .enumerate()
        .map(|(i, b)| {
            json!({"member_id": format!("g-m{i}"), "address": "127.0.0.1",
                   "protocol_port": b.port(), "weight": 1, "admin_state_up": true})
        })
        .collect();
    let pool = json!({"pool_id": "g-p", "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN",
        "admin_state_up": true, "members": members,
        "healthmonitor": {"healthmonitor_id": "g-hm", "type": "HTTP", "delay": 2,
            "timeout": 1, "max_retries": 2, "max_retries_down": 2, "http_method": "GET",
            "url_path": "/health", "expected_codes": "200", "admin_state_up": true}});
    let graph = json!({"method": "loadbalancer_create", "args": {"loadbalancer": {
        "loadbalancer_id": "g", "vip_address": "127.0.0.20", "admin_state_up": true,
        "project_id": "p",
        "listeners": [{"listener_id": "g-l", "protocol": "TCP", "protocol_port": 8080,
            "admin_state_up": true, "default_pool_id": "g-p", "default_pool": pool}],
        "pools": [pool]}}});
    w.apply_ok(&[graph]).await?;

    let eps = rule_endpoints(&w.sim().rules(), &rule_name("g-l"));
    assert_eq!(eps.len(), 2, "{:?}", w.sim().rules());
    let all = w.sim().endpoints();
    for b in &backends {
        let p = probe(&all, &key(b.port())).cloned().unwrap_or_default();
        assert_eq!(p["probeType"], "http", "{all:?}");
    }
    w.wait_for(
        "every nested object ACTIVE",
        Duration::from_secs(10),
        || {
            let got = provisioning(&w.status_messages());
            ["g-hm", "g-m0", "g-m1", "g-p", "g-l", "g"]
                .iter()
                .all(|id| got.iter().any(|(_, i, s)| i == id && s == "ACTIVE"))
        },
    )
    .await;
    assert_eq!(
        last_operating(&w.status_messages(), "g-hm").as_deref(),
        Some("ONLINE")
    );
    Ok(())
}
