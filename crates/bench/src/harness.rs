//! Starting the pieces of a benchmark world and talking to them.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use loxilb_coordinator::app::{self, IngressListener};
use loxilb_coordinator::cli::api_client::ApiClient;
use loxilb_coordinator::config::Config;
use loxilb_coordinator::ingress::listen::bind_unix;
use loxilb_coordinator::shutdown::Shutdown;
use loxilb_coordinator::store::Store;
use serde_json::Value;

/// The simulator, the driver agent and a daemon child process in a temp dir.
pub struct World {
    pub _dir: tempfile::TempDir,
    pub config_path: PathBuf,
    pub sim: loxilb_sim::SimHandle,
    pub _agent: driver_agent_sim::AgentHandle,
    pub child: Child,
    pub socket: PathBuf,
    pub store: Store,
    /// With `--instances N` on MariaDB: the other N - 1 daemons, each with its own
    /// config file and ingress socket, on the same shared database.
    pub others: Vec<(Child, PathBuf)>,
}

/// Whether benchmark worlds put the daemon on MariaDB (`--mariadb`).
static MARIADB: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn use_mariadb(on: bool) {
    MARIADB.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// How many daemons share the MariaDB database (`--instances`; 1 without `--mariadb`).
static INSTANCES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);

pub fn use_instances(n: usize) {
    INSTANCES.store(n.max(1), std::sync::atomic::Ordering::Relaxed);
}

fn instances() -> usize {
    if MARIADB.load(std::sync::atomic::Ordering::Relaxed) {
        INSTANCES.load(std::sync::atomic::Ordering::Relaxed)
    } else {
        1
    }
}

/// With `--mariadb`: a fresh database on this run's MariaDB server, as the daemon's
/// URL and the `[cluster]` lines of its configuration.
async fn mariadb_database() -> Result<Option<(String, String)>, String> {
    if !MARIADB.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(None);
    }
    let server = mariadb_harness::MariaDb::shared().map_err(|e| e.to_string())?;
    let url = server
        .fresh_database("bench")
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some((
        url,
        // A networked database needs more than SQLite's 4 connections: the leader's 50
        // concurrent load balancers each wait for one per query.
        // A short lease: B4's restarted daemon leads within seconds of the kill, so its
        // "holding" sample is a leader's (with the default 10 s it would still follow).
        "[cluster]\nlease_seconds = 3\n".to_string(),
    )))
}

impl World {
    /// `latency`: the simulator's answer delay per call.
    pub async fn start(latency: Duration) -> Result<World, String> {
        Self::start_with(latency, None).await
    }

    /// [`World::start`] with `[health_monitoring] batch_size` set (the default is 10).
    pub async fn start_with(latency: Duration, batch_size: Option<usize>) -> Result<World, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let sim = loxilb_sim::spawn(loxilb_sim::SimOptions {
            latency,
            probing: false,
            ..Default::default()
        })
        .await
        .map_err(|e| format!("simulator: {e}"))?;
        let agent_dir = dir.path().join("agent");
        let agent = driver_agent_sim::spawn(&agent_dir)
            .await
            .map_err(|e| format!("driver agent: {e}"))?;
        let socket = dir.path().join("ingress.sock");
        let db = dir.path().join("coordinator.db");
        let hm = format!(
            "{batch}rate_limit_calls = 100000\nmax_concurrent_checks = 50\n\
             status_update_interval = 3600\nstatus_cache_ttl = 7200\n\
             reconciliation_interval = 604800\n",
            batch = batch_size.map_or(String::new(), |b| format!("batch_size = {b}\n")),
        );
        let shared = mariadb_database().await?;
        let mut config = daemon_config(&DaemonFiles {
            sim: &sim.url(),
            agent: &agent_dir,
            socket: &socket,
            db: &db,
            health_monitoring: &hm,
            database: "",
            level: "warn",
        });
        if let Some((url, cluster)) = &shared {
            let sqlite = format!("url = \"sqlite://{}\"", db.display());
            config =
                config.replace(&sqlite, &format!("url = {url:?}\nmax_connections = 32")) + cluster;
        }
        let config_path = dir.path().join("coordinator.toml");
        let with_id = |i: usize| match &shared {
            Some(_) => format!("{config}instance_id = \"bench-{i}\"\n"),
            None => config.clone(),
        };
        std::fs::write(&config_path, with_id(1)).map_err(|e| e.to_string())?;
        let child = spawn_daemon(&config_path, &socket).await?;
        let mut others = Vec::new();
        for i in 2..=instances() {
            let sock = dir.path().join(format!("ingress-{i}.sock"));
            let path = dir.path().join(format!("coordinator-{i}.toml"));
            let text = with_id(i).replace(
                &format!("socket_path = \"{}\"", socket.display()),
                &format!("socket_path = \"{}\"", sock.display()),
            );
            std::fs::write(&path, text).map_err(|e| e.to_string())?;
            others.push((spawn_daemon(&path, &sock).await?, sock));
        }
        let store = match &shared {
            Some((url, _)) => {
                let mysql = loxilb_coordinator::store::mysql::MysqlStore::open(url, None, 2)
                    .await
                    .map_err(|e| e.to_string())?;
                Store::from(mysql)
            }
            None => Store::open(&format!("sqlite://{}", db.display()), 2)
                .await
                .map_err(|e| e.to_string())?,
        };
        Ok(World {
            _dir: dir,
            config_path,
            sim,
            _agent: agent,
            child,
            socket,
            store,
            others,
        })
    }

    /// Stop the daemon (SIGKILL) and start a fresh one on the same database: its
    /// memory then holds the state, not the garbage of a burst.
    pub async fn restart_daemon(&mut self) -> Result<(), String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn_daemon(&self.config_path, &self.socket).await?;
        Ok(())
    }

    /// The ingress of instance `i % N`: events spread round-robin over the daemons,
    /// as Octavia's API calls land on different controllers.
    pub fn api_for(&self, i: usize) -> ApiClient {
        let n = self.others.len() + 1;
        let socket = match i % n {
            0 => &self.socket,
            k => &self.others[k - 1].1,
        };
        ApiClient::new(socket).with_timeout(Duration::from_secs(60))
    }

    /// POST every event with `concurrency` clients; returns when all are accepted.
    pub async fn post_all(&self, events: Vec<Value>, concurrency: usize) -> Result<(), String> {
        let chunks: Vec<Vec<Value>> = {
            let mut c: Vec<Vec<Value>> = vec![Vec::new(); concurrency.max(1)];
            for (i, e) in events.into_iter().enumerate() {
                c[i % concurrency.max(1)].push(e);
            }
            c
        };
        let tasks = chunks.into_iter().enumerate().map(|(i, chunk)| {
            let api = self.api_for(i);
            async move {
                for e in chunk {
                    match api.call("POST", "/v1/events", Some(&e)).await {
                        Ok((202, _)) | Ok((200, _)) => {}
                        Ok((code, body)) => return Err(format!("POST answered {code}: {body}")),
                        Err(err) => return Err(err.to_string()),
                    }
                }
                Ok(())
            }
        });
        for r in futures::future::join_all(tasks).await {
            r?;
        }
        Ok(())
    }

    /// Wait until no event is queued or applying.
    pub async fn wait_idle(&self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            let oldest = self
                .store
                .oldest_unfinished_at()
                .await
                .map_err(|e| e.to_string())?;
            if oldest.is_none() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("events still unfinished at the deadline".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Fails when any event ended `failed`: a benchmark of refused work measures
    /// nothing (LoxiLB limits such as 32 endpoints per rule or 2048 rules per node).
    pub async fn ensure_none_failed(&self) -> Result<(), String> {
        let failed = self
            .store
            .list_events(Some(loxilb_coordinator::store::EventState::Failed), 3)
            .await
            .map_err(|e| e.to_string())?;
        match failed.first() {
            None => Ok(()),
            Some(e) => Err(format!(
                "events failed, e.g. {} {}: {}",
                e.method,
                e.id,
                e.reason.as_deref().unwrap_or("")
            )),
        }
    }

    /// Resident memory of the daemon process in MiB.
    pub fn daemon_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    }

    /// CPU time (user + system) the daemon processes have used, in seconds.
    pub fn daemon_cpu_secs(&self) -> f64 {
        cpu_secs(self.child.id())
            + self
                .others
                .iter()
                .map(|(c, _)| cpu_secs(c.id()))
                .sum::<f64>()
    }

    /// LoxiLB mutations the simulator has seen since its counters were reset.
    pub fn mutations(&self) -> u64 {
        let c = self.sim.control().counters();
        c.by_route
            .iter()
            .filter(|(route, _)| !route.starts_with("GET"))
            .map(|(_, n)| *n)
            .sum()
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for (c, _) in &mut self.others {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn spawn_daemon(
    config_path: &std::path::Path,
    socket: &std::path::Path,
) -> Result<Child, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let child = Command::new(exe)
        .arg("daemon")
        .arg(config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("daemon: {e}"))?;
    let api = ApiClient::new(socket);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(api.call("GET", "/healthz", None).await, Ok((200, _))) {
        if Instant::now() > deadline {
            return Err("daemon did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(child)
}

/// The child process: the daemon exactly as `loxilb-coordinator run` starts it.
pub async fn run_daemon(config: PathBuf) -> Result<(), String> {
    let config = Config::load(Some(&config)).map_err(|e| e.to_string())?;
    loxilb_coordinator::telemetry::init(&config.logging);
    let listener = bind_unix(&config.ingress.socket_path, config.ingress.socket_mode)
        .await
        .map_err(|e| e.to_string())?;
    let shutdown = Shutdown::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.trigger();
    });
    app::run(IngressListener::Unix(listener), config, shutdown)
        .await
        .map_err(|e| e.to_string())
}

/// CPU time (user + system) process `pid` has used, in seconds.
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 12th
    // and 13th of them, in clock ticks (100 per second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(f64::NAN))
        .collect();
    match (f.get(11), f.get(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => f64::NAN,
    }
}

/// Where a benchmark daemon finds its world, and the settings a benchmark changes.
pub struct DaemonFiles<'a> {
    pub sim: &'a str,
    pub agent: &'a std::path::Path,
    pub socket: &'a std::path::Path,
    pub db: &'a std::path::Path,
    /// Lines for `[health_monitoring]`.
    pub health_monitoring: &'a str,
    /// Extra lines for `[database]`.
    pub database: &'a str,
    pub level: &'a str,
}

/// The daemon configuration (TOML) of a benchmark world.
pub fn daemon_config(f: &DaemonFiles<'_>) -> String {
    format!(
        r#"
[health_monitoring]
{hm}
[loxilb]
nodes = ["{sim}"]

[octavia]
status_socket = "{agent}/status.sock"
stats_socket = "{agent}/stats.sock"
get_socket = "{agent}/get.sock"

[ingress]
socket_path = "{socket}"
# Benchmarks name objects "lb1", "soak-lb1-p": readable ids instead of Octavia's UUIDs.
require_uuid_ids = false

[database]
url = "sqlite://{db}"
{database}
[logging]
level = "{level}"
"#,
        hm = f.health_monitoring,
        sim = f.sim,
        agent = f.agent.display(),
        socket = f.socket.display(),
        db = f.db.display(),
        database = f.database,
        level = f.level,
    )
}
