//! The crash-safety loop: a burst of 1,000 mixed events with the daemon SIGKILLed at
//! random moments (at least 20 times) and restarted on the same database. At the end
//! LoxiLB must hold exactly what a fresh daemon builds from the final desired state,
//! every accepted event must be final, and Octavia must have every final status.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use super::{config_view, Daemon, TestResult, World};
use crate::common::world::{
    http_monitor, lb, listener, member, member_delete, monitor_update, pool,
};

const EVENTS: usize = 1000;
const KILLS: usize = 22;

#[derive(Clone)]
struct LbModel {
    vip: String,
    port: u16,
    delay: u32,
    /// member id -> (port, weight)
    members: BTreeMap<String, (u16, u32)>,
}

/// What Octavia believes, event by event.
struct Model {
    rng: StdRng,
    lbs: BTreeMap<String, LbModel>,
    deleted_lbs: Vec<String>,
    deleted_members: Vec<String>,
    next_port: u16,
    next_member: usize,
    next_lb: usize,
}

fn ids(lb_id: &str) -> (String, String, String) {
    (
        format!("{lb_id}-l"),
        format!("{lb_id}-p"),
        format!("{lb_id}-hm"),
    )
}

/// Events creating `m` from nothing.
fn create_events(lb_id: &str, m: &LbModel) -> Vec<Value> {
    let (l, p, hm) = ids(lb_id);
    let mut ev = vec![
        lb(lb_id, &m.vip),
        listener(lb_id, &l, m.port, &p),
        pool(lb_id, &l, &p),
    ];
    for (id, (port, weight)) in &m.members {
        let mut e = member(&p, id, *port);
        e["args"]["member"]["weight"] = json!(weight);
        ev.push(e);
    }
    ev.push(http_monitor(&p, &hm, m.delay));
    ev
}

impl Model {
    fn new(seed: u64) -> Model {
        Model {
            rng: StdRng::seed_from_u64(seed),
            lbs: BTreeMap::new(),
            deleted_lbs: Vec::new(),
            deleted_members: Vec::new(),
            next_port: 21000,
            next_member: 0,
            next_lb: 0,
        }
    }

    fn new_lb(&mut self) -> (String, Vec<Value>) {
        let i = self.next_lb;
        self.next_lb += 1;
        let id = format!("c{i}");
        let m = LbModel {
            vip: format!("127.0.1.{}", i + 1),
            port: 9000 + u16::try_from(i).unwrap_or(0),
            delay: 5,
            members: BTreeMap::new(),
        };
        let ev = create_events(&id, &m);
        self.lbs.insert(id.clone(), m);
        (id, ev)
    }

    /// The next random event (and the LB it concerns, when it creates or deletes one).
    fn next_event(&mut self, n: usize) -> Vec<Value> {
        if n == EVENTS / 2 {
            // Half-way: one load balancer goes (cascade) and another arrives.
            let gone = self.lbs.keys().next().cloned().unwrap_or_default();
            self.lbs.remove(&gone);
            self.deleted_lbs.push(gone.clone());
            let mut ev = vec![json!({"method": "loadbalancer_delete", "args": {
                "loadbalancer": {"loadbalancer_id": gone}, "cascade": true}})];
            ev.extend(self.new_lb().1);
            return ev;
        }
        let lb_ids: Vec<String> = self.lbs.keys().cloned().collect();
        let lb_id = lb_ids[self.rng.random_range(0..lb_ids.len())].clone();
        let (_, p, hm) = ids(&lb_id);
        let roll = self.rng.random_range(0..100);
        let count = self.lbs[&lb_id].members.len();
        let pick = |rng: &mut StdRng, m: &LbModel| -> Option<(String, (u16, u32))> {
            let i = rng.random_range(0..m.members.len().max(1));
            m.members.iter().nth(i).map(|(k, v)| (k.clone(), *v))
        };
        if roll < 40 && count < 10 || count == 0 {
            let id = format!("m{}", self.next_member);
            self.next_member += 1;
            let port = self.next_port;
            self.next_port += 1;
            if let Some(m) = self.lbs.get_mut(&lb_id) {
                m.members.insert(id.clone(), (port, 1));
            }
            return vec![member(&p, &id, port)];
        }
        let m = self.lbs[&lb_id].clone();
        if roll < 70 {
            let Some((id, (port, _))) = pick(&mut self.rng, &m) else {
                return vec![];
            };
            if let Some(m) = self.lbs.get_mut(&lb_id) {
                m.members.remove(&id);
            }
            self.deleted_members.push(id.clone());
            return vec![member_delete(&p, &id, port)];
        }
        if roll < 90 {
            let Some((id, (port, _))) = pick(&mut self.rng, &m) else {
                return vec![];
            };
            let weight = self.rng.random_range(1..=5u32);
            if let Some(m) = self.lbs.get_mut(&lb_id) {
                m.members.insert(id.clone(), (port, weight));
            }
            return vec![json!({"method": "member_update", "args": {
                "old_member": {"member_id": id, "pool_id": p, "address": "127.0.0.1", "protocol_port": port},
                "new_member": {"member_id": id, "pool_id": p, "weight": weight}}})];
        }
        let delay = [2u32, 3, 5, 10][self.rng.random_range(0..4)];
        if let Some(m) = self.lbs.get_mut(&lb_id) {
            m.delay = delay;
        }
        vec![monitor_update(
            &p,
            &hm,
            json!({"delay": delay, "timeout": 1}),
        )]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_burst_of_1000_events_loses_and_duplicates_nothing() -> TestResult {
    let started = Instant::now();
    let mut w = World::start("").await?;
    let agent = w
        .agent
        .as_ref()
        .map(|a| a.control())
        .unwrap_or_else(|| panic!("agent"));
    let cfg = w.dir.path().join("coordinator.toml");
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let mut model = Model::new(seed);
    let mut rng = StdRng::seed_from_u64(seed ^ 0xdead);
    let mut kill_at: Vec<usize> = (0..KILLS).map(|_| rng.random_range(1..EVENTS)).collect();
    kill_at.sort_unstable();

    let mut batches: Vec<Vec<Value>> = Vec::new();
    for _ in 0..5 {
        batches.push(model.new_lb().1);
    }
    while batches.iter().map(Vec::len).sum::<usize>() < EVENTS {
        let n = batches.iter().map(Vec::len).sum::<usize>();
        let ev = model.next_event(n);
        if !ev.is_empty() {
            batches.push(ev);
        }
    }
    // Octavia knows every load balancer that exists at the end (and the deleted
    // one until it is deleted, which the start-up check must not act on early).
    for id in model.lbs.keys().chain(model.deleted_lbs.iter()) {
        agent.set_fixture(
            "loadbalancers",
            id,
            json!({"loadbalancer_id": id, "provisioning_status": "ACTIVE"}),
        );
    }

    let mut accepted = Vec::new();
    let mut posted = 0usize;
    let mut kills = 0usize;
    for batch in &batches {
        for e in batch {
            let (code, r) = w.daemon.post(e).await?;
            assert_eq!(code, 202, "{e} -> {r}");
            accepted.push(r["id"].as_i64().unwrap_or(0));
            posted += 1;
            while kill_at.first().is_some_and(|k| *k <= posted) {
                kill_at.remove(0);
                tokio::time::sleep(Duration::from_millis(rng.random_range(0..40))).await;
                w.daemon.kill9();
                kills += 1;
                w.daemon = Daemon::start(&cfg).await?;
            }
        }
    }
    assert!(kills >= 20, "{kills} kills");
    for id in &accepted {
        let rec = w.daemon.wait_final(*id, Duration::from_secs(30)).await?;
        if rec["state"] == "failed" {
            assert!(
                rec["reason"].as_str().is_some_and(|r| !r.is_empty()),
                "failed without a reason: {rec}"
            );
        }
    }
    let all = super::admin(&w.daemon, "GET", "/v1/events?limit=10000").await?;
    let n = all["events"].as_array().map_or(0, Vec::len);
    assert_eq!(n, accepted.len(), "journal lost or duplicated events");
    let failed: Vec<&Value> = all["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["state"] == "failed")
        .collect();
    assert!(failed.is_empty(), "unexpected failures: {failed:?}");

    // The expectation: a fresh daemon building only the final state.
    let fresh = World::start("").await?;
    let mut final_events = Vec::new();
    for (id, m) in &model.lbs {
        final_events.extend(create_events(id, m));
    }
    fresh.apply_ok(&final_events).await?;
    let want = config_view(&fresh.sim());
    let sim = w.sim();
    let deadline = Instant::now() + Duration::from_secs(15);
    while config_view(&sim) != want {
        assert!(
            Instant::now() < deadline,
            "LoxiLB differs from the final desired state:\n got {}\nwant {}",
            config_view(&sim),
            want
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rules = sim.rules();
    let mut names: Vec<&str> = rules
        .iter()
        .filter_map(|r| r["serviceArguments"]["name"].as_str())
        .collect();
    let total = names.len();
    names.dedup();
    assert_eq!(names.len(), total, "duplicate rules");
    assert_eq!(total, model.lbs.len());

    // Every final provisioning status reached the driver agent.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut missing = Vec::new();
        for (id, m) in &model.lbs {
            for (coll, oid) in [
                ("loadbalancers", id.clone()),
                ("listeners", ids(id).0),
                ("pools", ids(id).1),
                ("healthmonitors", ids(id).2),
            ] {
                if agent.latest_status(coll, &oid).0.as_deref() != Some("ACTIVE") {
                    missing.push(format!("{coll}/{oid} ACTIVE"));
                }
            }
            for mid in m.members.keys() {
                if agent.latest_status("members", mid).0.as_deref() != Some("ACTIVE") {
                    missing.push(format!("members/{mid} ACTIVE"));
                }
            }
        }
        for id in model.deleted_lbs.iter() {
            if agent.latest_status("loadbalancers", id).0.as_deref() != Some("DELETED") {
                missing.push(format!("loadbalancers/{id} DELETED"));
            }
        }
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "statuses not delivered: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "{} events, {kills} kills, {:?}",
        accepted.len(),
        started.elapsed()
    );
    Ok(())
}
