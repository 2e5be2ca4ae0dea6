//! `loxilb-coordinator conformance` against the simulator: every case passes in each
//! release mode, a flipped behaviour is caught by exactly its case, an interrupted run
//! leaves nothing behind, and the safety refusals, `--cleanup` and `--dry-run` hold.
//! The binary runs as a child process, as an operator runs it.

mod common;

use common::{Context, TestResult};
use std::net::SocketAddr;
use std::process::{Output, Stdio};
use std::time::Duration;

use loxilb_sim::{Flip, SimHandle, SimOptions};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_loxilb-coordinator");
const VIP: &str = "127.0.0.200";
const RANGE: &str = "40000-40039";

/// Loopback TCP backends that accept and close every connection (probes need a peer).
struct Backends {
    addrs: Vec<SocketAddr>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Backends {
    /// One backend on 127.0.0.1 and one on 127.0.0.2 (the probe host case needs two
    /// addresses).
    async fn start() -> TestResult<Backends> {
        let mut addrs = Vec::new();
        let mut tasks = Vec::new();
        for ip in ["127.0.0.1", "127.0.0.2"] {
            let l = TcpListener::bind((ip, 0))
                .await
                .context(format!("bind {ip}"))?;
            addrs.push(l.local_addr()?);
            tasks.push(tokio::spawn(async move {
                while let Ok((s, _)) = l.accept().await {
                    drop(s);
                }
            }));
        }
        Ok(Backends { addrs, tasks })
    }

    fn args(&self) -> Vec<String> {
        self.addrs
            .iter()
            .flat_map(|a| ["--backend".to_string(), a.to_string()])
            .collect()
    }
}

impl Drop for Backends {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn sim(version: &str, auth: bool, flip: Option<Flip>) -> TestResult<SimHandle> {
    loxilb_sim::spawn(SimOptions {
        version: version.parse()?,
        auth: auth.then(|| ("admin".to_string(), "s3cret-pw".to_string())),
        probe_tick: Duration::from_millis(200),
        flip,
        ..SimOptions::default()
    })
    .await
    .context("sim")
}

fn base_args(sim: &SimHandle) -> Vec<String> {
    [
        "conformance",
        "--node",
        &sim.url(),
        "--vip",
        VIP,
        "--port-range",
        RANGE,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

async fn run(args: &[String]) -> TestResult<Output> {
    Command::new(BIN)
        .args(args)
        .env_remove("LOXILB_COORDINATOR_CONFIG")
        .env_remove("LOXILB_CONFORMANCE_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .await
        .context(format!("run {BIN}"))
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn report(o: &Output) -> TestResult<Value> {
    serde_json::from_slice(&o.stdout).map_err(|e| format!("not JSON ({e}): {}", text(o)).into())
}

/// (case, verdict) of every row.
fn verdicts(r: &Value) -> Vec<(String, String)> {
    r["cases"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| {
                    (
                        c["case"].as_str().unwrap_or("?").to_string(),
                        c["verdict"].as_str().unwrap_or("?").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The simulator holds no rule and no probe at all.
fn assert_empty(sim: &SimHandle, context: &str) {
    let c = sim.control();
    assert!(
        c.rules().is_empty(),
        "rules left: {:?}\n{context}",
        c.rules()
    );
    assert!(
        c.endpoints().is_empty(),
        "probes left: {:?}\n{context}",
        c.endpoints()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_passes_against_the_simulator_in_each_release_mode() -> TestResult {
    let backends = Backends::start().await?;
    // Errors as 200 (<= v0.9.8.4), status codes with accumulating failures (v0.9.8.5,
    // v0.9.8.6), failure reset and 16 slots (>= v0.9.8.7), the newest; with and without
    // LoxiLB's user service.
    for (version, auth) in [
        ("v0.9.8.4", true),
        ("v0.9.8.5", false),
        ("v0.9.8.7", false),
        ("v0.9.8.8", true),
    ] {
        let sim = sim(version, auth, None).await?;
        let mut args = base_args(&sim);
        args.extend(backends.args());
        args.push("--json".into());
        // Credentials from the flags, or (newest release) from the daemon's own
        // configuration file, as an operator would pass it.
        let dir = tempfile::tempdir()?;
        if auth && version == "v0.9.8.8" {
            let path = dir.path().join("coordinator.toml");
            let toml = format!(
                "[loxilb]\nnodes = [\"{}\"]\nusername = \"admin\"\npassword = \"s3cret-pw\"\n",
                sim.url()
            );
            std::fs::write(&path, toml)?;
            args.extend(["--config".into(), path.display().to_string()]);
        } else if auth {
            args.extend(["--username".into(), "admin".into()]);
            args.extend(["--password".into(), "s3cret-pw".into()]);
        }
        let o = run(&args).await?;
        assert_eq!(o.status.code(), Some(0), "{version}: {}", text(&o));
        let r = report(&o)?;
        assert_eq!(
            r["loxilb_version"].as_str(),
            Some(version.trim_start_matches('v')),
            "{version}"
        );
        let v = verdicts(&r);
        assert_eq!(
            v.len(),
            loxilb_coordinator::conformance::catalog::CASES.len()
        );
        for (case, verdict) in &v {
            assert_eq!(verdict, "PASS", "{version} {case}: {}", text(&o));
        }
        assert_eq!(r["left_behind"], json!([]), "{version}");
        assert_empty(&sim, &format!("{version}: {}", text(&o)));
        sim.shutdown().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_flipped_behaviour_makes_exactly_its_case_differ() -> TestResult {
    let backends = Backends::start().await?;
    // The cases that check each behaviour: one each, except the deletion of a probe with
    // its last rule, which both probe-sharing cases observe.
    let owners = |f: Flip| -> &'static [&'static str] {
        match f {
            Flip::ProbeRepostMovesHost => &["probe_repost_keeps_host"],
            Flip::RuleAcceptsHttpProbe => &["rule_http_probetype_refused"],
            Flip::DsrAcceptsAnySelection => &["dsr_requires_hash"],
            Flip::ProbeOutlivesLastRule => &[
                "rule_creates_probe_entries",
                "api_probe_kept_then_deleted_with_last_rule",
            ],
        }
    };
    for flip in Flip::ALL {
        let sim = sim("v0.9.8.8", false, Some(flip)).await?;
        let mut args = base_args(&sim);
        args.extend(backends.args());
        args.push("--json".into());
        let o = run(&args).await?;
        assert_eq!(o.status.code(), Some(2), "{flip}: {}", text(&o));
        let r = report(&o)?;
        let diffs: Vec<&Value> = r["cases"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["verdict"] == "DIFF")
            .collect();
        let diff_names: Vec<&str> = diffs.iter().filter_map(|d| d["case"].as_str()).collect();
        assert_eq!(diff_names, owners(flip), "{flip}: {}", text(&o));
        for d in &diffs {
            assert!(
                d["consequence"].as_str().is_some_and(|s| !s.is_empty()),
                "{flip}: a difference says what the daemon gets wrong"
            );
            assert!(d["compat_row"].as_str().is_some_and(|s| !s.is_empty()));
        }
        let others_pass = verdicts(&r)
            .iter()
            .filter(|(c, _)| !owners(flip).contains(&c.as_str()))
            .all(|(_, v)| v == "PASS");
        assert!(others_pass, "{flip}: {}", text(&o));
        // Even a LoxiLB that keeps probes it should delete is left clean.
        assert_eq!(r["left_behind"], json!([]), "{flip}");
        assert_empty(&sim, &format!("{flip}: {}", text(&o)));

        // The table form names the row and the consequence too.
        if flip == Flip::ProbeRepostMovesHost {
            args.pop();
            let o = run(&args).await?;
            assert_eq!(o.status.code(), Some(2), "{}", text(&o));
            let out = String::from_utf8_lossy(&o.stdout);
            assert!(
                out.contains("Differences from docs/loxilb-compat.md"),
                "{out}"
            );
            assert!(
                out.contains("probe_repost_keeps_host")
                    && out.contains("keeps probing the old host"),
                "{out}"
            );
            assert!(out.contains("version 0.9.8.8"), "{out}");
            assert_empty(&sim, &text(&o));
        }
        sim.shutdown().await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_mid_run_removes_everything_the_run_created() -> TestResult {
    let backends = Backends::start().await?;
    let sim = sim("v0.9.8.8", false, None).await?;
    // Slow answers keep each rule alive long enough to interrupt while it exists.
    sim.control().set_latency(Duration::from_millis(120));
    let mut args = base_args(&sim);
    args.extend(backends.args());
    args.extend(["--run-id".into(), "int1".into()]);
    let child = Command::new(BIN)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id().unwrap_or_else(|| panic!("no pid"));
    let control = sim.control();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let holds_ours = || {
        control
            .rules()
            .iter()
            .any(|r| r["serviceArguments"]["name"] == "octavia-conformance-int1")
    };
    while !holds_ours() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the run never created a rule"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let sent = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .context("kill")?;
    assert!(sent.success());
    let o = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("the run did not stop after SIGINT"))?;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("interrupted") && text(&o).contains("everything it created was removed"),
        "{}",
        text(&o)
    );
    assert_empty(&sim, &text(&o));
    Ok(())
}

/// POST a rule named `name` on VIP:port with one endpoint (no monitor: no probing).
async fn post_rule(sim: &SimHandle, name: &str, port: u16, ep_port: u16) -> TestResult {
    let body = json!({"serviceArguments": {"externalIP": VIP, "port": port, "protocol": "tcp", "name": name},
        "endpoints": [{"endpointIP": "127.0.0.1", "targetPort": ep_port, "weight": 1}]});
    let r = reqwest::Client::new()
        .post(format!("{}/netlox/v1/config/loadbalancer", sim.url()))
        .json(&body)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    Ok(())
}

async fn post_probe(sim: &SimHandle, body: Value) -> TestResult {
    let r = reqwest::Client::new()
        .post(format!("{}/netlox/v1/config/endpoint", sim.url()))
        .json(&body)
        .send()
        .await?;
    assert_eq!(r.status().as_u16(), 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cleanup_removes_only_the_leftovers_of_that_run() -> TestResult {
    let sim = sim("v0.9.8.8", false, None).await?;
    post_rule(&sim, "octavia-conformance-left1", 40000, 9).await?;
    post_rule(&sim, "octavia-conformance-left1-renamed", 40001, 9).await?;
    post_rule(&sim, "octavia-conformance-left12", 40002, 10).await?;
    post_rule(&sim, "lb-other", 40003, 10).await?;
    post_probe(&sim, json!({"hostName": "127.0.0.1", "name": "octavia-conformance-left1-none", "probeType": "none"})).await?;
    post_probe(
        &sim,
        json!({"hostName": "127.0.0.1", "name": "other", "probeType": "none"}),
    )
    .await?;
    let args: Vec<String> = ["conformance", "--node", &sim.url(), "--cleanup", "left1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let o = run(&args).await?;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("removed 2 rules and 1 probes"),
        "{}",
        text(&o)
    );
    let names: Vec<String> = sim
        .control()
        .rules()
        .iter()
        .filter_map(|r| r["serviceArguments"]["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(names, ["octavia-conformance-left12", "lb-other"]);
    let probes: Vec<String> = sim
        .control()
        .endpoints()
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect();
    assert!(probes.contains(&"other".to_string()), "{probes:?}");
    assert!(
        !probes
            .iter()
            .any(|p| p.starts_with("octavia-conformance-left1-")),
        "{probes:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_the_calls_and_sends_none() -> TestResult {
    let backends = Backends::start().await?;
    let sim = sim("v0.9.8.8", false, None).await?;
    let mut args = base_args(&sim);
    args.extend(backends.args());
    args.extend(["--dry-run".into(), "--username".into(), "admin".into()]);
    args.extend(["--password".into(), "s3cret-pw".into()]);
    let o = run(&args).await?;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let api = format!("{}/netlox/v1", sim.url());
    for call in [
        format!("POST {api}/auth/login"),
        format!("GET {api}/version"),
        format!("GET {api}/config/loadbalancer/all"),
        format!("POST {api}/config/loadbalancer"),
        format!("POST {api}/config/endpoint"),
        format!("DELETE {api}/config/loadbalancer/externalipaddress/{VIP}/port/40000/protocol/tcp"),
    ] {
        assert!(out.contains(&call), "missing {call}:\n{out}");
    }
    assert!(
        !out.contains("s3cret-pw"),
        "a dry run never prints the password"
    );
    assert!(
        sim.control().requests().is_empty(),
        "a dry run sends nothing"
    );
    assert_eq!(sim.control().counters().total, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_without_vip_or_range_and_where_it_could_touch_others() -> TestResult {
    let backends = Backends::start().await?;
    let sim = sim("v0.9.8.8", false, None).await?;
    let node = sim.url();
    let o = run(&[
        "conformance".into(),
        "--node".into(),
        node.clone(),
        "--port-range".into(),
        RANGE.into(),
    ])
    .await?;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--vip"),
        "{}",
        text(&o)
    );
    let o = run(&[
        "conformance".into(),
        "--node".into(),
        node.clone(),
        "--vip".into(),
        VIP.into(),
    ])
    .await?;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--port-range"),
        "{}",
        text(&o)
    );
    let bad_range: Vec<String> = [
        "conformance",
        "--node",
        &node,
        "--vip",
        VIP,
        "--port-range",
        "40010-40000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let o = run(&bad_range).await?;
    assert_eq!(
        o.status.code(),
        Some(1),
        "usage errors are not differences: {}",
        text(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--port-range"),
        "{}",
        text(&o)
    );
    assert_eq!(
        sim.control().counters().total,
        0,
        "no call without VIP and range"
    );

    // Someone else's rule within the range: refused, nothing created.
    post_rule(&sim, "lb-someone", 40020, 9).await?;
    sim.control().clear_requests();
    let mut args = base_args(&sim);
    args.extend(backends.args());
    let o = run(&args).await?;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("refusing to run")
            && String::from_utf8_lossy(&o.stderr).contains("40020"),
        "{}",
        text(&o)
    );
    let writes = sim
        .control()
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .count();
    assert_eq!(writes, 0, "a refused run writes nothing");
    assert_eq!(sim.control().rules().len(), 1);

    // A probe on a backend: our rules could take it with them, so refused too.
    let _ = reqwest::Client::new()
        .delete(format!(
            "{node}/netlox/v1/config/loadbalancer/name/lb-someone"
        ))
        .send()
        .await;
    let b = backends.addrs[0];
    post_probe(
        &sim,
        json!({"hostName": b.ip().to_string(), "probeType": "tcp", "probePort": b.port(),
        "probeDuration": 60, "inactiveReTries": 2}),
    )
    .await?;
    let o = run(&args).await?;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&format!("{}_tcp_{}", b.ip(), b.port())),
        "{}",
        text(&o)
    );
    assert!(sim.control().rules().is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_backends_the_cases_that_need_them_are_skipped() -> TestResult {
    let sim = sim("v0.9.8.8", false, None).await?;
    let mut args = base_args(&sim);
    args.push("--json".into());
    let o = run(&args).await?;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let r = report(&o)?;
    for c in loxilb_coordinator::conformance::catalog::CASES {
        let verdict = verdicts(&r)
            .into_iter()
            .find(|(n, _)| n == c.name)
            .map(|(_, v)| v);
        let want = if c.backends == 0 { "PASS" } else { "SKIP" };
        assert_eq!(verdict.as_deref(), Some(want), "{}", c.name);
    }
    assert_eq!(r["summary"]["diff"], 0);
    assert_empty(&sim, &text(&o));
    Ok(())
}
