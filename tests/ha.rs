//! Cluster mode end to end: three daemon processes on one real MariaDB (Debian's
//! mariadbd, started by `mariadb-harness`), one LoxiLB simulator, one test driver
//! agent. Events go round-robin to the three ingress sockets, as Octavia API calls
//! land on different controllers.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::world::{lb, listener, member, pool};
use common::{write_config_with, Context, Daemon, TestResult};
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
    async fn start(url: &str, n: usize) -> TestResult<Cluster> {
        let dir = tempfile::tempdir()?;
        let agent_dir = dir.path().join("agent");
        std::fs::create_dir_all(&agent_dir)?;
        let agent = driver_agent_sim::spawn(&agent_dir).await.context("agent")?;
        let sim = loxilb_sim::spawn(loxilb_sim::SimOptions::default())
            .await
            .context("sim")?;
        let mut configs = Vec::new();
        for i in 0..n {
            let d = dir.path().join(format!("c{i}"));
            std::fs::create_dir_all(&d)?;
            configs.push(cluster_config(&d, &sim.url(), &agent_dir, url, i)?);
        }
        let mut daemons = Vec::new();
        for cfg in &configs {
            daemons.push(Some(Daemon::start(cfg).await?));
        }
        Ok(Cluster {
            _dir: dir,
            agent,
            sim,
            configs,
            daemons,
        })
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
            tokio::time::sleep(common::POLL).await;
        }
    }

    /// POST `event` to instance `i` (one of those up); the event's id.
    async fn post(&self, i: usize, event: &Value) -> TestResult<i64> {
        let d = self.daemons[i]
            .as_ref()
            .unwrap_or_else(|| panic!("instance {i} is down"));
        let (code, body) = d.post(event).await?;
        assert!(code == 202 || code == 200, "{code}: {body}");
        Ok(body["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("no id: {body}")))
    }

    /// Wait until every event of `ids` is final on the shared journal; returns the
    /// states by id.
    async fn wait_all(&self, ids: &[i64], timeout: Duration) -> TestResult<BTreeMap<i64, String>> {
        let (_, d) = self.up().next().unwrap_or_else(|| panic!("none up"));
        let mut out = BTreeMap::new();
        for id in ids {
            let rec = d.wait_final(*id, timeout).await?;
            out.insert(*id, rec["state"].as_str().unwrap_or("").to_string());
        }
        Ok(out)
    }

    fn kill9(&mut self, i: usize) {
        if let Some(mut d) = self.daemons[i].take() {
            d.kill9();
        }
    }

    async fn restart(&mut self, i: usize) -> TestResult {
        self.daemons[i] = Some(Daemon::start(&self.configs[i]).await?);
        Ok(())
    }

    fn logs(&self) -> String {
        self.up()
            .map(|(i, d)| format!("--- ctl-{i}\n{}", d.log()))
            .collect()
    }
}

/// A daemon configuration in `dir` for instance `ctl-{i}` of a cluster on `url`.
fn cluster_config(
    dir: &Path,
    sim: &str,
    agent_dir: &Path,
    url: &str,
    i: usize,
) -> TestResult<PathBuf> {
    let cfg = write_config_with(dir, &[sim.to_string()], agent_dir, "", "")?;
    let text = std::fs::read_to_string(&cfg).unwrap_or_default();
    let sqlite = format!("url = \"sqlite://{}/coordinator.db\"", dir.display());
    assert!(text.contains(&sqlite), "{text}");
    let text = text.replace(&sqlite, &format!("url = {url:?}"))
        + &format!(
            "\n[cluster]\ninstance_id = \"ctl-{i}\"\nlease_seconds = {LEASE_SECONDS}\npoll_ms = 20\n"
        );
    std::fs::write(&cfg, text)?;
    Ok(cfg)
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
async fn three_instances_share_one_journal_and_one_leader() -> TestResult {
    let server = mariadb_harness::MariaDb::shared()?;
    let url = server.fresh_database("ha_three").await?;
    let c = Cluster::start(&url, 3).await?;
    let leader = c.leader(Duration::from_secs(20)).await;
    let (lbs, members) = (4, 3);
    let mut ids = Vec::new();
    let mut rr = 0;
    for i in 0..lbs {
        for ev in lb_events(i, members) {
            ids.push(c.post(rr % 3, &ev).await?);
            rr += 1;
        }
    }
    let states = c.wait_all(&ids, Duration::from_secs(60)).await?;
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
    // Every instance serves the status API: the followers from what the leader
    // publishes, with the leader's statuses.
    for path in [
        "/v1/status/loadbalancers/lb0",
        "/v1/status/members/lb1-m2",
        "/v1/status/pools/lb3-p",
    ] {
        let want = status_of(&c, leader, path, None).await;
        for i in 0..3 {
            status_of(&c, i, path, Some(&want)).await;
        }
    }
    for i in 0..3 {
        let (code, body) = c.daemons[i]
            .as_ref()
            .map(|d| d.api())
            .unwrap_or_else(|| panic!("ctl-{i} is down"))
            .call("GET", "/v1/status/loadbalancers", None)
            .await?;
        let ids: Vec<&str> = body["loadbalancers"]
            .as_array()
            .map(|a| a.iter().filter_map(|l| l["id"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(
            (code, ids),
            (200, vec!["lb0", "lb1", "lb2", "lb3"]),
            "ctl-{i}"
        );
    }
    Ok(())
}

/// The operating status instance `i` answers for `path`, once it answers 200 (and,
/// with `want`, that status), within ten seconds.
async fn status_of(c: &Cluster, i: usize, path: &str, want: Option<&Value>) -> Value {
    let api = c.daemons[i]
        .as_ref()
        .map(|d| d.api())
        .unwrap_or_else(|| panic!("ctl-{i} is down"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = api.call("GET", path, None).await;
        if let Ok((200, body)) = &got {
            let status = body["operating_status"].clone();
            if !status.is_null() && want.is_none_or(|w| *w == status) {
                return status;
            }
        }
        assert!(
            Instant::now() < deadline,
            "ctl-{i} {path}: {got:?}, want {want:?}\n{}",
            c.logs()
        );
        tokio::time::sleep(common::POLL).await;
    }
}

/// Kill -9 the leader in the middle of a burst of events, five times in one run.
/// No accepted event is lost, LoxiLB ends exactly at the desired state, and a new
/// leader applies again within 2 × lease of each kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn killing_the_leader_five_times_loses_nothing() -> TestResult {
    let server = mariadb_harness::MariaDb::shared()?;
    let url = server.fresh_database("ha_kill").await?;
    let mut c = Cluster::start(&url, 3).await?;
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
            ids.push(c.post(target, ev).await?);
        }
        if n < 5 {
            // Kill the leader while it applies the batch just posted. The baseline
            // is read after the kill: a dead leader commits nothing more, so the
            // next event done is the new leader's.
            let leader = c.leader(Duration::from_secs(30)).await;
            let killed = Instant::now();
            c.kill9(leader);
            let base = done_count(&c).await;
            if base < ids.len() {
                let deadline = killed + Duration::from_secs(30);
                loop {
                    if done_count(&c).await > base {
                        failovers.push(killed.elapsed());
                        break;
                    }
                    assert!(Instant::now() < deadline, "nothing applied after kill {n}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            } else {
                eprintln!("kill {n}: the leader had applied everything; not timed");
            }
            c.restart(leader).await?;
        }
    }
    let states = c.wait_all(&ids, Duration::from_secs(120)).await?;
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
    never_two_leaders(&url, &sim).await?;
    let limit = Duration::from_secs(2 * LEASE_SECONDS);
    eprintln!("failover times: {failovers:?}");
    assert!(failovers.len() >= 3, "{failovers:?}");
    assert!(
        failovers.iter().all(|t| *t < limit),
        "{failovers:?} (limit {limit:?})"
    );
    Ok(())
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

/// Two instances never acted as leader at once: the lease's terms (lease_history)
/// never overlap, and LoxiLB saw each instance's changes in one run per term (an
/// instance that went on changing LoxiLB after another took over would interleave
/// with it and make more runs than there were terms).
async fn never_two_leaders(url: &str, sim: &loxilb_sim::Control) -> TestResult {
    use sqlx::{Connection, Row};
    let mut conn = sqlx::MySqlConnection::connect(url).await?;
    let rows = sqlx::query(
        "SELECT epoch, CAST(holder AS CHAR), \
         CAST(UNIX_TIMESTAMP(acquired_at) * 1000000 AS SIGNED), \
         CAST(UNIX_TIMESTAMP(expires_at) * 1000000 AS SIGNED) \
         FROM lease_history WHERE name = 'leader' ORDER BY epoch",
    )
    .fetch_all(&mut conn)
    .await?;
    let terms: Vec<(u64, String, i64, i64)> = rows
        .iter()
        .map(|r| {
            (
                r.try_get_unchecked::<u64, _>(0).unwrap_or(0),
                r.try_get_unchecked::<String, _>(1).unwrap_or_default(),
                r.try_get_unchecked::<i64, _>(2).unwrap_or(0),
                r.try_get_unchecked::<i64, _>(3).unwrap_or(0),
            )
        })
        .collect();
    assert!(terms.len() >= 2, "{terms:?}");
    for w in terms.windows(2) {
        let ((e1, h1, _, end1), (e2, h2, start2, _)) = (&w[0], &w[1]);
        assert!(e2 > e1, "{terms:?}");
        assert!(
            start2 >= end1,
            "term {e2} of {h2} began before term {e1} of {h1} could expire: {terms:?}"
        );
    }
    let mut runs: Vec<String> = Vec::new();
    for r in sim.requests().into_iter().filter(|r| r.method != "GET") {
        let ua = r.user_agent.unwrap_or_default();
        if runs.last() != Some(&ua) {
            runs.push(ua);
        }
    }
    assert!(
        runs.len() <= terms.len(),
        "{} runs of changes for {} terms: {runs:?}",
        runs.len(),
        terms.len()
    );
    Ok(())
}

/// The leader loses the database for longer than its lease (mariadbd stopped with
/// SIGSTOP): it stops changing LoxiLB within the lease, an instance leads once the
/// database is back, and every event ends applied once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_without_its_database_stops_within_the_lease() -> TestResult {
    let server = mariadb_harness::MariaDb::start()?;
    let pid = server.pid().unwrap_or_else(|| panic!("no pid"));
    let url = server.fresh_database("ha_dbloss").await?;
    let c = Cluster::start(&url, 2).await?;
    c.leader(Duration::from_secs(20)).await;
    let (lbs, members) = (6, 4);
    let mut ids = Vec::new();
    for i in 0..lbs {
        for ev in lb_events(i, members) {
            ids.push(c.post(i % 2, &ev).await?);
        }
    }
    // The burst is journaled; stop the database while the leader applies it.
    let signal = |sig: &str| -> TestResult {
        std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .context("kill")?;
        Ok(())
    };
    signal("-STOP")?;
    let stopped = Instant::now();
    let changes = || {
        c.sim
            .control()
            .requests()
            .iter()
            .filter(|r| r.method != "GET")
            .count()
    };
    tokio::time::sleep(Duration::from_secs(LEASE_SECONDS) + Duration::from_millis(300)).await;
    let at_lease = changes();
    tokio::time::sleep(Duration::from_secs(2 * LEASE_SECONDS)).await;
    let later = changes();
    let roles: Vec<String> = {
        let mut v = Vec::new();
        for (_, d) in c.up() {
            let (_, body) = d.api().call("GET", "/healthz", None).await?;
            v.push(body["cluster"]["role"].as_str().unwrap_or("").to_string());
        }
        v
    };
    signal("-CONT")?;
    assert_eq!(
        at_lease,
        later,
        "LoxiLB still changed {:?} after the database stopped",
        stopped.elapsed()
    );
    assert!(
        roles.iter().all(|r| r == "follower"),
        "nobody leads without the database: {roles:?}"
    );
    c.leader(Duration::from_secs(30)).await;
    let states = c.wait_all(&ids, Duration::from_secs(120)).await?;
    let not_done: Vec<_> = states.iter().filter(|(_, s)| *s != "done").collect();
    assert!(not_done.is_empty(), "{not_done:?}\n{}", c.logs());
    let sim = c.sim.control();
    assert_eq!(sim.rules().len(), lbs);
    for i in 0..lbs {
        let got = rule_weights(&sim, i);
        assert!(at_final_weights(got.clone(), members), "lb{i}: {got:?}");
    }
    never_two_leaders(&url, &sim).await?;
    Ok(())
}

/// `migrate` brings an empty shared database to the schema (twice is harmless) and
/// refuses a SQLite configuration, naming the key.
#[tokio::test]
async fn the_migrate_command_prepares_a_shared_database() -> TestResult {
    let server = mariadb_harness::MariaDb::shared()?;
    let url = server.fresh_database("ha_migrate").await?;
    let dir = tempfile::tempdir()?;
    let run = |cfg: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_loxilb-coordinator"))
            .arg("--config")
            .arg(cfg)
            .arg("migrate")
            .output()
    };
    let cfg = cluster_config(dir.path(), "http://127.0.0.1:9", dir.path(), &url, 0)?;
    for _ in 0..2 {
        let out = run(&cfg)?;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(err.contains("at this release's schema"), "{err}");
    }
    let sqlite_dir = dir.path().join("single");
    std::fs::create_dir_all(&sqlite_dir)?;
    let cfg = write_config_with(
        &sqlite_dir,
        &["http://127.0.0.1:9".into()],
        dir.path(),
        "",
        "",
    )?;
    let out = run(&cfg)?;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("database.url") && err.contains("mysql://"),
        "{err}"
    );
    Ok(())
}

/// A mysql:// database that cannot be reached stops the start within seconds, with
/// the host, the port and the reason, and never the password.
#[test]
fn an_unreachable_database_fails_fast_without_showing_the_password() -> TestResult {
    let dir = tempfile::tempdir()?;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr().map(|a| a.port()).unwrap_or(1)
    };
    let url = format!("mysql://coordinator@127.0.0.1:{port}/loxilb");
    let cfg = cluster_config(dir.path(), "http://127.0.0.1:9", dir.path(), &url, 0)?;
    let started = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_loxilb-coordinator"))
        .arg("--config")
        .arg(&cfg)
        .arg("run")
        .env("LOXILB_COORDINATOR_DATABASE_PASSWORD", "pw-must-not-show")
        .output()?;
    let took = started.elapsed();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{all}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(all.contains(&format!("127.0.0.1:{port}")), "{all}");
    assert!(all.to_lowercase().contains("refused"), "the reason: {all}");
    assert!(!all.contains("pw-must-not-show"), "{all}");
    Ok(())
}
