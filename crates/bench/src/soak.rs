//! `bench soak`: an operator's steady state, for a long time (20 minutes by default).
//!
//! 50 load balancers of 20 members each, every member on its own loopback HTTP
//! backend (1,000 endpoints that the simulator really probes), HTTP monitors,
//! `status_update_interval = 1` and a reconciliation pass every minute. A steady 20
//! events/s of weight updates, member replacements (a delete and a create on the same
//! backend) and monitor updates, while 5 % of the backends flip between up and down
//! every 10 s. The daemon logs at INFO to a file, as in production.
//!
//! Sampled every 30 s: resident memory, open files, database size (file and WAL),
//! CPU time and log bytes. Reported: slopes per hour (least squares over the samples
//! after the warm-up), CPU % of one core, log bytes and lines per event, drift reports
//! (the reconciler's "LoxiLB differs from what we applied" lines, which under this
//! load are all false: nothing but the daemon changes LoxiLB), and at the end a dry
//! reconcile that must find LoxiLB exactly as applied.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use loxilb_coordinator::cli::api_client::ApiClient;

const LBS: usize = 50;
const MEMBERS: usize = 20;
const FLIP_SHARE: f64 = 0.05;
const FLIP_EVERY: Duration = Duration::from_secs(10);
const SAMPLE_EVERY: Duration = Duration::from_secs(30);
/// Samples before this are start-up, not steady state.
const WARM_UP: Duration = Duration::from_secs(120);
const DRIFT_LINE: &str = "LoxiLB differs from what we applied";

/// What the soak is asked to do.
pub struct SoakOptions {
    pub minutes: f64,
    /// `[database] retention_days` for the run, in minutes (short, so pruning shows).
    pub retention_minutes: f64,
    /// Steady event rate (events/s; 0 measures the daemon's cost without events).
    pub rate: u64,
    /// Keep the daemon's log here (default: in the run's temp dir, removed after).
    pub log: Option<PathBuf>,
}

/// A loopback HTTP backend that answers 200 or 503, switchable at run time.
struct Backend {
    port: u16,
    up: Arc<AtomicBool>,
}

async fn backend() -> Result<Backend, String> {
    let l = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("backend: {e}"))?;
    let port = l.local_addr().map_err(|e| e.to_string())?.port();
    let up = Arc::new(AtomicBool::new(true));
    let flag = up.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let flag = flag.clone();
            tokio::spawn(async move {
                // Read the request head (probes send no body), answer, close.
                let mut buf = [0u8; 2048];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() < 16 * 1024 {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let status = if flag.load(Ordering::Relaxed) {
                    "200 OK"
                } else {
                    "503 Service Unavailable"
                };
                let answer =
                    format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                let _ = s.write_all(answer.as_bytes()).await;
            });
        }
    });
    Ok(Backend { port, up })
}

fn ids(lb: usize) -> (String, String, String, String) {
    (
        format!("soak-lb{lb}"),
        format!("soak-lb{lb}-l"),
        format!("soak-lb{lb}-p"),
        format!("soak-lb{lb}-hm"),
    )
}

fn member_id(lb: usize, m: usize, generation: u32) -> String {
    format!("soak-lb{lb}-m{m}-g{generation}")
}

fn member_create(lb: usize, m: usize, generation: u32, port: u16) -> Value {
    let (_, _, pool, _) = ids(lb);
    json!({"method": "member_create", "args": {"member": {
        "member_id": member_id(lb, m, generation), "pool_id": pool, "address": "127.0.0.1",
        "protocol_port": port, "weight": 1, "admin_state_up": true}}})
}

fn setup(lb: usize, ports: &[u16]) -> Vec<Value> {
    let (id, l, p, hm) = ids(lb);
    let mut v = vec![
        json!({"method": "loadbalancer_create", "args": {"loadbalancer": {
            "loadbalancer_id": id, "vip_address": format!("10.200.{}.{}", lb / 250, lb % 250 + 1)}}}),
        json!({"method": "listener_create", "args": {"listener": {
            "listener_id": l, "loadbalancer_id": id, "protocol": "TCP",
            "protocol_port": 80, "default_pool_id": p}}}),
        json!({"method": "pool_create", "args": {"pool": {
            "pool_id": p, "loadbalancer_id": id, "listener_id": l, "protocol": "TCP",
            "lb_algorithm": "ROUND_ROBIN"}}}),
        json!({"method": "health_monitor_create", "args": {"healthmonitor": {
            "healthmonitor_id": hm, "pool_id": p, "type": "HTTP", "delay": 5, "timeout": 2,
            "max_retries": 2, "max_retries_down": 2, "http_method": "GET",
            "url_path": "/health", "expected_codes": "200", "admin_state_up": true}}}),
    ];
    for (m, port) in ports.iter().enumerate() {
        v.push(member_create(lb, m, 0, *port));
    }
    v
}

/// The steady load's next events (one, or two for a member replacement).
struct Load {
    rng: StdRng,
    generations: Vec<u32>,
    ports: Vec<u16>,
}

impl Load {
    fn next(&mut self) -> Vec<Value> {
        let lb = self.rng.random_range(0..LBS);
        let m = self.rng.random_range(0..MEMBERS);
        let slot = lb * MEMBERS + m;
        let (_, _, pool, hm) = ids(lb);
        let roll: f64 = self.rng.random();
        if roll < 0.6 {
            let id = member_id(lb, m, self.generations[slot]);
            let weight = self.rng.random_range(1..=10);
            vec![json!({"method": "member_update", "args": {
                "old_member": {"member_id": id, "pool_id": pool},
                "new_member": {"member_id": id, "pool_id": pool, "weight": weight}}})]
        } else if roll < 0.8 {
            let old = member_id(lb, m, self.generations[slot]);
            self.generations[slot] += 1;
            let port = self.ports[slot];
            vec![
                json!({"method": "member_delete", "args": {"member": {
                    "member_id": old, "pool_id": pool, "address": "127.0.0.1",
                    "protocol_port": port}}}),
                member_create(lb, m, self.generations[slot], port),
            ]
        } else {
            let delay = self.rng.random_range(3..=8);
            vec![json!({"method": "health_monitor_update", "args": {
                "old_healthmonitor": {"healthmonitor_id": hm, "pool_id": pool},
                "new_healthmonitor": {"healthmonitor_id": hm, "pool_id": pool, "delay": delay}}})]
        }
    }
}

/// One sample of the daemon process and its files.
#[derive(Clone, Copy, Debug)]
struct Sample {
    at_s: f64,
    rss_mib: f64,
    fds: f64,
    db_mib: f64,
    cpu_s: f64,
    log_bytes: f64,
}

fn sample(pid: u32, db: &Path, log: &Path, t0: Instant) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(f64::NAN, |d| d.count() as f64);
    let len = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let wal = PathBuf::from(format!("{}-wal", db.display()));
    let db_bytes = len(db.to_path_buf()) + len(wal);
    Sample {
        at_s: t0.elapsed().as_secs_f64(),
        rss_mib: rss_kib / 1024.0,
        fds,
        db_mib: db_bytes as f64 / (1024.0 * 1024.0),
        cpu_s: crate::harness::cpu_secs(pid),
        log_bytes: len(log.to_path_buf()) as f64,
    }
}

/// Least-squares slope of `y` over `x`, per hour (x in seconds).
fn slope_per_hour(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return f64::NAN;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return f64::NAN;
    }
    sxy / sxx * 3600.0
}

/// Run the soak and print its report.
pub async fn soak(opts: SoakOptions) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let sim = loxilb_sim::spawn(loxilb_sim::SimOptions::default())
        .await
        .map_err(|e| format!("simulator: {e}"))?;
    let agent_dir = dir.path().join("agent");
    let _agent = driver_agent_sim::spawn(&agent_dir)
        .await
        .map_err(|e| format!("driver agent: {e}"))?;
    let mut backends = Vec::with_capacity(LBS * MEMBERS);
    for _ in 0..LBS * MEMBERS {
        backends.push(backend().await?);
    }
    let socket = dir.path().join("ingress.sock");
    let db = dir.path().join("coordinator.db");
    let log = opts
        .log
        .clone()
        .unwrap_or_else(|| dir.path().join("daemon.log"));
    let config_path = dir.path().join("coordinator.toml");
    let config = crate::harness::daemon_config(&crate::harness::DaemonFiles {
        sim: &sim.url(),
        agent: &agent_dir,
        socket: &socket,
        db: &db,
        health_monitoring: "status_update_interval = 1\nreconciliation_interval = 60\n\
                            enable_status_reconciliation = true\n",
        database: &format!("retention_days = {}\n", opts.retention_minutes / 1440.0),
        level: "info",
    });
    std::fs::write(&config_path, config).map_err(|e| e.to_string())?;
    let log_file = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child: Child = Command::new(exe)
        .arg("daemon")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .map_err(|e| format!("daemon: {e}"))?;
    let result = drive(&opts, &child, &backends, &socket, &db, &log, &sim.control()).await;
    let _ = child.kill();
    let _ = child.wait();
    sim.shutdown().await;
    result
}

async fn drive(
    opts: &SoakOptions,
    child: &Child,
    backends: &[Backend],
    socket: &Path,
    db: &Path,
    log: &Path,
    sim: &loxilb_sim::Control,
) -> Result<(), String> {
    let api = ApiClient::new(socket).with_timeout(Duration::from_secs(60));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !matches!(api.call("GET", "/healthz", None).await, Ok((200, _))) {
        if Instant::now() > deadline {
            return Err("daemon did not start".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ports: Vec<u16> = backends.iter().map(|b| b.port).collect();
    for lb in 0..LBS {
        for ev in setup(lb, &ports[lb * MEMBERS..(lb + 1) * MEMBERS]) {
            post(&api, &ev).await?;
        }
    }
    wait_idle(&api, Duration::from_secs(300)).await?;
    println!(
        "soak: {LBS} load balancers x {MEMBERS} members (HTTP monitors, {} endpoints), \
         {} events/s, {:.0} % of backends flip every {} s, {} min, retention {} min",
        LBS * MEMBERS,
        opts.rate,
        FLIP_SHARE * 100.0,
        FLIP_EVERY.as_secs(),
        opts.minutes,
        opts.retention_minutes
    );
    let pid = child.id();
    sim.reset_counters();
    let t0 = Instant::now();
    let run_for = Duration::from_secs_f64(opts.minutes * 60.0);
    let mut load = Load {
        rng: StdRng::seed_from_u64(20),
        generations: vec![0; LBS * MEMBERS],
        ports,
    };
    let mut flip_rng = StdRng::seed_from_u64(5);
    // At rate 0 the loop still ticks (10/s) for flips and samples, posting nothing.
    let tick = Duration::from_micros(1_000_000 / if opts.rate > 0 { opts.rate } else { 10 });
    let mut pacer = tokio::time::interval(tick);
    let mut next_flip = Instant::now() + FLIP_EVERY;
    let mut next_sample = Instant::now();
    let mut samples = Vec::new();
    let mut events = 0u64;
    let log_at_start = std::fs::metadata(log).map_or(0, |m| m.len());
    let lines_at_start = count_lines(log);
    let drift_at_start = count_matching(log, DRIFT_LINE);
    println!("| t (min) | RSS MiB | fds | db+WAL MiB | CPU % since last | log KiB |");
    println!("|---|---|---|---|---|---|");
    while t0.elapsed() < run_for {
        pacer.tick().await;
        if opts.rate > 0 {
            for ev in load.next() {
                post(&api, &ev).await?;
                events += 1;
            }
        }
        if Instant::now() >= next_flip {
            next_flip += FLIP_EVERY;
            let n = ((backends.len() as f64) * FLIP_SHARE).round() as usize;
            for _ in 0..n {
                let b = &backends[flip_rng.random_range(0..backends.len())];
                b.up.fetch_xor(true, Ordering::Relaxed);
            }
        }
        if Instant::now() >= next_sample {
            next_sample += SAMPLE_EVERY;
            let s = sample(pid, db, log, t0);
            let cpu = samples.last().map_or(f64::NAN, |p: &Sample| {
                (s.cpu_s - p.cpu_s) / (s.at_s - p.at_s) * 100.0
            });
            println!(
                "| {:.1} | {:.1} | {} | {:.1} | {:.1} | {:.0} |",
                s.at_s / 60.0,
                s.rss_mib,
                s.fds,
                s.db_mib,
                cpu,
                s.log_bytes / 1024.0
            );
            samples.push(s);
        }
    }
    let last = sample(pid, db, log, t0);
    samples.push(last);
    wait_idle(&api, Duration::from_secs(300)).await?;
    let c = sim.counters();
    let reads: u64 = c
        .by_route
        .iter()
        .filter(|(r, _)| r.starts_with("GET"))
        .map(|(_, n)| *n)
        .sum();
    println!(
        "LoxiLB calls during the run: {} changes ({:.2} per event), {} reads",
        c.total - reads,
        (c.total - reads) as f64 / events.max(1) as f64,
        reads
    );
    report(
        &api,
        &samples,
        events,
        log,
        log_at_start,
        lines_at_start,
        drift_at_start,
    )
    .await
}

async fn report(
    api: &ApiClient,
    samples: &[Sample],
    events: u64,
    log: &Path,
    log_at_start: u64,
    lines_at_start: usize,
    drift_at_start: usize,
) -> Result<(), String> {
    let steady: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.at_s >= WARM_UP.as_secs_f64())
        .collect();
    let series = |f: fn(&Sample) -> f64| -> Vec<(f64, f64)> {
        steady.iter().map(|s| (s.at_s, f(s))).collect()
    };
    let (first, last) = match (samples.first(), samples.last()) {
        (Some(f), Some(l)) => (f, l),
        _ => return Err("no samples".into()),
    };
    let cpu_pct = (last.cpu_s - first.cpu_s) / (last.at_s - first.at_s).max(1e-9) * 100.0;
    let log_bytes = std::fs::metadata(log).map_or(0, |m| m.len()) - log_at_start;
    let lines = count_lines(log) - lines_at_start;
    let drift = count_matching(log, DRIFT_LINE) - drift_at_start;
    let (code, body) = api
        .call("POST", "/v1/reconcile?dry_run=true", None)
        .await
        .map_err(|e| e.to_string())?;
    let final_drift: usize = body["nodes"]
        .as_array()
        .map(|nodes| {
            nodes
                .iter()
                .map(|n| n["drift"].as_array().map_or(0, Vec::len))
                .sum()
        })
        .unwrap_or(usize::MAX);
    let (_, failed) = api
        .call("GET", "/v1/events?state=failed&limit=10", None)
        .await
        .map_err(|e| e.to_string())?;
    let failed = failed["events"].as_array().map_or(0, Vec::len);
    println!();
    println!("| figure | value | target |");
    println!("|---|---|---|");
    println!("| events posted | {events} | |");
    println!(
        "| RSS slope (steady state) | {:+.2} MiB/h (last {:.1} MiB) | <= 1 MB/h |",
        slope_per_hour(&series(|s| s.rss_mib)),
        last.rss_mib
    );
    println!(
        "| open files slope | {:+.1} /h (last {}) | flat |",
        slope_per_hour(&series(|s| s.fds)),
        last.fds
    );
    println!(
        "| database + WAL slope | {:+.2} MiB/h (last {:.1} MiB, max {:.1}) | bounded |",
        slope_per_hour(&series(|s| s.db_mib)),
        last.db_mib,
        samples.iter().map(|s| s.db_mib).fold(0.0, f64::max)
    );
    println!("| daemon CPU | {cpu_pct:.1} % of a core | <= 5 % |");
    println!(
        "| log | {:.0} bytes/event, {:.2} lines/event ({} KiB) | <= 1 line/event |",
        log_bytes as f64 / events.max(1) as f64,
        lines as f64 / events.max(1) as f64,
        log_bytes / 1024
    );
    println!("| drift reports during the run | {drift} | 0 |");
    println!("| drift at the end (dry reconcile, HTTP {code}) | {final_drift} | 0 |");
    println!("| failed events | {failed} | 0 |");
    Ok(())
}

fn count_lines(p: &Path) -> usize {
    std::fs::read(p).map_or(0, |b| b.iter().filter(|c| **c == b'\n').count())
}

fn count_matching(p: &Path, needle: &str) -> usize {
    std::fs::read_to_string(p).map_or(0, |s| s.lines().filter(|l| l.contains(needle)).count())
}

async fn post(api: &ApiClient, ev: &Value) -> Result<(), String> {
    match api.call("POST", "/v1/events", Some(ev)).await {
        Ok((202, _)) | Ok((200, _)) => Ok(()),
        Ok((code, body)) => Err(format!("POST answered {code}: {body}")),
        Err(e) => Err(e.to_string()),
    }
}

async fn wait_idle(api: &ApiClient, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let (_, body) = api
            .call("GET", "/v1/events?state=queued&limit=1", None)
            .await
            .map_err(|e| e.to_string())?;
        let (_, applying) = api
            .call("GET", "/v1/events?state=applying&limit=1", None)
            .await
            .map_err(|e| e.to_string())?;
        let empty = |v: &Value| v["events"].as_array().is_none_or(Vec::is_empty);
        if empty(&body) && empty(&applying) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("events still unfinished at the deadline".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_is_per_hour() {
        let pts = [(0.0, 10.0), (1800.0, 11.0), (3600.0, 12.0)];
        assert!((slope_per_hour(&pts) - 2.0).abs() < 1e-9);
        assert!(slope_per_hour(&pts[..1]).is_nan());
    }

    #[test]
    fn load_keeps_every_pool_at_its_member_count() {
        let mut load = Load {
            rng: StdRng::seed_from_u64(1),
            generations: vec![0; LBS * MEMBERS],
            ports: (0..(LBS * MEMBERS) as u16).collect(),
        };
        let mut creates = 0i64;
        for _ in 0..1000 {
            for ev in load.next() {
                match ev["method"].as_str() {
                    Some("member_create") => creates += 1,
                    Some("member_delete") => creates -= 1,
                    _ => {}
                }
            }
        }
        assert_eq!(creates, 0, "every delete has its create");
    }
}
