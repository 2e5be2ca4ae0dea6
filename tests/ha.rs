//! Cluster mode end to end: three daemon processes on one real MariaDB (Debian's
//! mariadbd, started by `mariadb-harness`), one LoxiLB simulator, one test driver
//! agent. Events go round-robin to the three ingress sockets, as Octavia API calls
//! land on different controllers.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::world::{lb, listener, member, pool};
use common::{write_config_with, Daemon};
use serde_json::{json, Value};

/// Short leases keep the failover tests quick; the rules are the same at 10 s.
const LEASE_SECONDS: u64 = 2;

struct Cluster {
    _dir: tempfile::TempDir,
    agent: driver_agent_sim::AgentHandle,
    sim: loxilb_sim::SimHandle,
    configs: Vec<PathBuf>,
    daemons: Vec<Option<Daemon>>,
}

impl Cluster {
    async fn start(url: &str, n: usize) -> Cluster {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let agent_dir = dir.path().join("agent");
        std::fs::create_dir_all(&agent_dir).unwrap_or_else(|e| panic!("{e}"));
        let agent = driver_agent_sim::spawn(&agent_dir)
            .await
            .unwrap_or_else(|e| panic!("agent: {e}"));
        let sim = loxilb_sim::spawn(loxilb_sim::SimOptions::default())
            .await
            .unwrap_or_else(|e| panic!("sim: {e}"));
        let mut configs = Vec::new();
        for i in 0..n {
            let d = dir.path().join(format!("c{i}"));
            std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
            let cfg = write_config_with(&d, &[sim.url()], &agent_dir, "", "");
            let text = std::fs::read_to_string(&cfg).unwrap_or_default();
            let sqlite = format!("url = \"sqlite://{}/coordinator.db\"", d.display());
            assert!(text.contains(&sqlite), "{text}");
            let text = text.replace(&sqlite, &format!("url = {url:?}"))
                + &format!(
                    "\n[cluster]\ninstance_id = \"ctl-{i}\"\nlease_seconds = {LEASE_SECONDS}\npoll_ms = 20\n"
                );
            std::fs::write(&cfg, text).unwrap_or_else(|e| panic!("{e}"));
            configs.push(cfg);
        }
        let mut daemons = Vec::new();
        for cfg in &configs {
            daemons.push(Some(Daemon::start(cfg).await));
        }
        Cluster {
            _dir: dir,
            agent,
            sim,
            configs,
            daemons,
        }
    }

    fn up(&self) -> impl Iterator<Item = (usize, &Daemon)> {
        self.daemons
            .iter()
            .enumerate()
            .filter_map(|(i, d)| d.as_ref().map(|d| (i, d)))
    }

    /// The instance that says it leads, once exactly one does.
    async fn leader(&self, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let mut leaders = Vec::new();
            for (i, d) in self.up() {
                if let Ok((_, body)) = d.api().call("GET", "/readyz", None).await {
                    if body["cluster"]["role"] == "leader" {
                        leaders.push(i);
                    }
                }
            }
            if let [one] = leaders[..] {
                return one;
            }
            assert!(
                Instant::now() < deadline,
                "no single leader: {leaders:?}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// POST `event` to instance `i` (one of those up); the event's id.
    async fn post(&self, i: usize, event: &Value) -> i64 {
        let d = self.daemons[i]
            .as_ref()
            .unwrap_or_else(|| panic!("instance {i} is down"));
        let (code, body) = d.post(event).await;
        assert!(code == 202 || code == 200, "{code}: {body}");
        body["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no id: {body}"))
    }

    /// Wait until every event of `ids` is final on the shared journal; returns the
    /// states by id.
    async fn wait_all(&self, ids: &[i64], timeout: Duration) -> BTreeMap<i64, String> {
        let (_, d) = self.up().next().unwrap_or_else(|| panic!("none up"));
        let mut out = BTreeMap::new();
        for id in ids {
            let rec = d.wait_final(*id, timeout).await;
            out.insert(*id, rec["state"].as_str().unwrap_or("").to_string());
        }
        out
    }

    fn kill9(&mut self, i: usize) {
        if let Some(mut d) = self.daemons[i].take() {
            d.kill9();
        }
    }

    async fn restart(&mut self, i: usize) {
        self.daemons[i] = Some(Daemon::start(&self.configs[i]).await);
    }

    fn logs(&self) -> String {
        self.up()
            .map(|(i, d)| format!("--- ctl-{i}\n{}", d.log()))
            .collect()
    }
}

/// A member update event setting `weight`.
fn weight(pool_id: &str, id: &str, port: u16, w: u32) -> Value {
    json!({"method": "member_update", "args": {
        "old_member": {"member_id": id, "pool_id": pool_id, "address": "127.0.0.1",
            "protocol_port": port, "weight": 1},
        "new_member": {"member_id": id, "weight": w}}})
}

/// The rule of load balancer `i` (VIP 10.9.0.i:80) as the simulator holds it:
/// endpoint port → weight.
fn rule_weights(sim: &loxilb_sim::Control, i: usize) -> Option<BTreeMap<u64, u64>> {
    let vip = format!("10.9.0.{}", i + 1);
    let rules = serde_json::to_value(sim.rules()).unwrap_or_default();
    let rule = rules
        .as_array()?
        .iter()
        .find(|r| r["serviceArguments"]["externalIP"] == vip.as_str())?;
    Some(
        rule["endpoints"]
            .as_array()?
            .iter()
            .map(|e| {
                (
                    e["targetPort"].as_u64().unwrap_or(0),
                    e["weight"].as_u64().unwrap_or(0),
                )
            })
            .collect(),
    )
}

/// The events of load balancer `i`: create it with `members` members, then raise
/// each member's weight step by step (the final weight is 10 + member index), so
/// only an in-order application ends at the right weights.
fn lb_events(i: usize, members: usize) -> Vec<Value> {
    let (id, l, p) = (format!("lb{i}"), format!("lb{i}-l"), format!("lb{i}-p"));
    let mut ev = vec![
        lb(&id, &format!("10.9.0.{}", i + 1)),
        listener(&id, &l, 80, &p),
        pool(&id, &l, &p),
    ];
    for m in 0..members {
        ev.push(member(&p, &format!("{id}-m{m}"), 20_000 + m as u16));
    }
    for step in 2..=10u32 {
        for m in 0..members {
            let w = if step == 10 { 10 + m as u32 } else { step };
            ev.push(weight(&p, &format!("{id}-m{m}"), 20_000 + m as u16, w));
        }
    }
    ev
}

/// Whether LoxiLB's weights are the final Octavia weights (10 + member index): the
/// daemon hands LoxiLB shares of 100, so compare shares (±1 for rounding).
fn at_final_weights(got: Option<BTreeMap<u64, u64>>, members: usize) -> bool {
    let Some(got) = got else { return false };
    let want: Vec<u64> = (0..members as u64).map(|m| 10 + m).collect();
    let sum: u64 = want.iter().sum();
    got.len() == members
        && want.iter().enumerate().all(|(m, w)| {
            let share = (100 * w + sum / 2) / sum;
            got.get(&(20_000 + m as u64))
                .is_some_and(|g| g.abs_diff(share) <= 1)
        })
}

/// Three instances on one MariaDB: one leader; a scenario's events round-robin to
/// the three sockets all apply, in order per load balancer, and every object ends
/// ACTIVE in the driver agent.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_share_one_journal_and_one_leader() {
    let server = mariadb_harness::MariaDb::shared().unwrap_or_else(|e| panic!("{e}"));
    let url = server
        .fresh_database("ha_three")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let c = Cluster::start(&url, 3).await;
    let leader = c.leader(Duration::from_secs(20)).await;
    let (lbs, members) = (4, 3);
    let mut ids = Vec::new();
    let mut rr = 0;
    for i in 0..lbs {
        for ev in lb_events(i, members) {
            ids.push(c.post(rr % 3, &ev).await);
            rr += 1;
        }
    }
    let states = c.wait_all(&ids, Duration::from_secs(60)).await;
    let failed: Vec<_> = states.iter().filter(|(_, s)| *s != "done").collect();
    assert!(failed.is_empty(), "{failed:?}\n{}", c.logs());
    let sim = c.sim.control();
    for i in 0..lbs {
        let got = rule_weights(&sim, i);
        assert!(
            at_final_weights(got.clone(), members),
            "lb{i}: the last update of each member wins: {got:?}\n{}",
            c.logs()
        );
    }
    // Every change reached LoxiLB from the leader alone.
    let senders: BTreeSet<String> = sim
        .requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .filter_map(|r| r.user_agent)
        .collect();
    assert_eq!(
        senders,
        BTreeSet::from([format!(
            "loxilb-coordinator/{} (instance ctl-{leader})",
            env!("CARGO_PKG_VERSION")
        )])
    );
    // The driver agent saw every load balancer ACTIVE last.
    let agent = c.agent.control();
    for i in 0..lbs {
        let (prov, _) = agent.latest_status("loadbalancers", &format!("lb{i}"));
        assert_eq!(prov.as_deref(), Some("ACTIVE"), "lb{i}");
        for m in 0..members {
            let (prov, _) = agent.latest_status("members", &format!("lb{i}-m{m}"));
            assert_eq!(prov.as_deref(), Some("ACTIVE"), "lb{i}-m{m}");
        }
    }
}

/// Kill -9 the leader in the middle of a burst of events, five times in one run.
/// No accepted event is lost, LoxiLB ends exactly at the desired state, and a new
/// leader applies again within 2 × lease of each kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_leader_five_times_loses_nothing() {
    let server = mariadb_harness::MariaDb::shared().unwrap_or_else(|e| panic!("{e}"));
    let url = server
        .fresh_database("ha_kill")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut c = Cluster::start(&url, 3).await;
    let (lbs, members) = (24, 4);
    let events: Vec<Value> = (0..lbs).flat_map(|i| lb_events(i, members)).collect();
    // Interleave the load balancers' streams (each keeps its own order), so the burst
    // touches every load balancer at once.
    let per_lb = events.len() / lbs;
    let mut order = Vec::new();
    for k in 0..per_lb {
        for i in 0..lbs {
            order.push(events[i * per_lb + k].clone());
        }
    }
    assert!(order.len() >= 1000, "{} events", order.len());
    let mut ids = Vec::new();
    let mut failovers = Vec::new();
    let chunk = order.len() / 6;
    for (n, batch) in order.chunks(chunk).enumerate() {
        for (k, ev) in batch.iter().enumerate() {
            let target = c.up().map(|(i, _)| i).nth(k % 2).unwrap_or(0);
            ids.push(c.post(target, ev).await);
        }
        if n < 5 {
            let leader = c.leader(Duration::from_secs(30)).await;
            let done_before = done_count(&c).await;
            let killed = Instant::now();
            c.kill9(leader);
            // The new leader's first applied event after the kill.
            let deadline = killed + Duration::from_secs(30);
            loop {
                if done_count(&c).await > done_before {
                    failovers.push(killed.elapsed());
                    break;
                }
                assert!(Instant::now() < deadline, "nothing applied after kill {n}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            c.restart(leader).await;
        }
    }
    let states = c.wait_all(&ids, Duration::from_secs(120)).await;
    let not_done: Vec<_> = states.iter().filter(|(_, s)| *s != "done").collect();
    assert!(not_done.is_empty(), "{not_done:?}\n{}", c.logs());
    assert_eq!(
        states.len(),
        ids.len(),
        "every accepted event is in the journal"
    );
    let sim = c.sim.control();
    assert_eq!(
        sim.rules().len(),
        lbs,
        "one rule per load balancer, no duplicate"
    );
    for i in 0..lbs {
        let got = rule_weights(&sim, i);
        assert!(at_final_weights(got.clone(), members), "lb{i}: {got:?}");
    }
    let limit = Duration::from_secs(2 * LEASE_SECONDS);
    eprintln!("failover times: {failovers:?}");
    assert_eq!(failovers.len(), 5);
    assert!(
        failovers.iter().all(|t| *t < limit),
        "{failovers:?} (limit {limit:?})"
    );
}

/// Events done, as the journal counts them (through any instance).
async fn done_count(c: &Cluster) -> usize {
    for (_, d) in c.up() {
        if let Ok((200, body)) = d
            .api()
            .call("GET", "/v1/events?state=done&limit=10000", None)
            .await
        {
            return body["events"].as_array().map_or(0, Vec::len);
        }
    }
    0
}
