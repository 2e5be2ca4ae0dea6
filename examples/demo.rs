//! The demo: the whole system on one machine, on loopback
//! (`cargo run --release --example demo [-- --keep-running]`).
//!
//! Starts the LoxiLB simulator, the test driver agent, three real HTTP backends and
//! the daemon (temporary SQLite file and sockets), replays a small Octavia scenario
//! through the ingress API exactly as the Octavia shim would, and prints how the
//! events, LoxiLB and the statuses sent to Octavia change. Exits non-zero when the
//! system does not get where the story says (probes ok, load balancer ONLINE, then
//! DEGRADED once a backend stops).
//!
//! An example, not a subcommand of the daemon: the simulator and the test driver
//! agent (with their control APIs) are dev-dependencies, so the daemon's binary and
//! the container image carry neither.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::net::TcpListener;

use clap::Parser;
use loxilb_coordinator::app::{self, IngressListener};
use loxilb_coordinator::cli::api_client::ApiClient;
use loxilb_coordinator::config::Config;
use loxilb_coordinator::ingress::listen::bind_unix;
use loxilb_coordinator::shutdown::Shutdown;

/// Run the daemon with the LoxiLB simulator, a test driver agent and real loopback
/// backends, replay a small Octavia scenario and print what happens.
#[derive(Debug, Parser)]
#[command(
    name = "demo",
    after_help = "Example:\n  cargo run --release --example demo -- --keep-running"
)]
struct Args {
    /// Keep everything running after the scenario until Ctrl-C.
    #[arg(long)]
    keep_running: bool,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    match runtime.block_on(run(args.keep_running)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::ExitCode::from(1)
        }
    }
}

/// Start a tiny HTTP backend on 127.0.0.1 that answers 200 on every path; abort the
/// returned task to take it down.
async fn start_backend(
    name: &'static str,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // `Connection: close` so a stopped backend stops answering probes at once.
    let app = axum::Router::new().fallback(move || async move {
        (
            [(axum::http::header::CONNECTION, "close")],
            format!("hello from {name}\n"),
        )
    });
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, task))
}

/// One line per rule: name, VIP:port and each endpoint with LoxiLB's view of it.
fn show_loxilb(control: &loxilb_sim::Control) {
    println!("LoxiLB rules:");
    for r in control.rules() {
        let a = &r["serviceArguments"];
        let eps: Vec<String> = r["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                format!(
                    "{}:{} w{} {}",
                    e["endpointIP"].as_str().unwrap_or("?"),
                    e["targetPort"],
                    e["weight"],
                    e["state"].as_str().unwrap_or("-")
                )
            })
            .collect();
        println!(
            "  {} {}:{}/{} monitor={} -> [{}]",
            a["name"].as_str().unwrap_or("?"),
            a["externalIP"].as_str().unwrap_or("?"),
            a["port"],
            a["protocol"].as_str().unwrap_or("?"),
            a["monitor"],
            eps.join(", ")
        );
    }
    println!("LoxiLB endpoint probes:");
    for e in control.endpoints() {
        println!(
            "  {} {} {} every {}s, down after {} -> {}",
            e["name"].as_str().unwrap_or("?"),
            e["probeType"].as_str().unwrap_or("?"),
            e["probeReq"].as_str().unwrap_or(""),
            e["probeDuration"],
            e["inactiveReTries"],
            e["currState"].as_str().unwrap_or("?")
        );
    }
}

/// Octavia's view: the latest provisioning and operating status per object, folded
/// from every status message the driver agent received.
fn show_octavia(messages: &[Value]) {
    let mut latest: std::collections::BTreeMap<(String, String), (String, String)> =
        std::collections::BTreeMap::new();
    for m in messages {
        for (collection, entries) in m.as_object().into_iter().flatten() {
            for e in entries.as_array().into_iter().flatten() {
                let id = e["id"].as_str().unwrap_or("?").to_string();
                let slot = latest.entry((collection.clone(), id)).or_default();
                if let Some(p) = e["provisioning_status"].as_str() {
                    slot.0 = p.to_string();
                }
                if let Some(o) = e["operating_status"].as_str() {
                    slot.1 = o.to_string();
                }
            }
        }
    }
    println!("Octavia (driver agent) view, {} messages:", messages.len());
    for ((collection, id), (p, o)) in latest {
        println!("  {collection:<15} {id}  {p:<8} {o}");
    }
}

/// Wait until the driver agent has seen `collection` `id` with operating `status`;
/// an error after `timeout`.
async fn wait_operating(
    agent: &driver_agent_sim::AgentHandle,
    collection: &str,
    id: &str,
    status: &str,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        let seen = agent.control().status_messages().iter().any(|m| {
            m[collection].as_array().into_iter().flatten().any(|e| {
                e["id"].as_str() == Some(id) && e["operating_status"].as_str() == Some(status)
            })
        });
        if seen {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!(
        "the driver agent did not see {collection} {id} {status} within {timeout:?}"
    ))
}

/// Wait until every probe reports `state` for `names`; an error after `timeout`.
async fn wait_probes(
    control: &loxilb_sim::Control,
    names: &[String],
    state: &str,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        let eps = control.endpoints();
        let done = names.iter().all(|n| {
            eps.iter()
                .any(|e| e["name"].as_str() == Some(n.as_str()) && e["currState"] == state)
        });
        if done {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!(
        "the simulator's probes {names:?} did not all become {state} within {timeout:?}"
    ))
}

/// The scenario: one load balancer, an HTTP listener, a pool with three members and
/// an HTTP health monitor, then a weight change.
const LB_ID: &str = "7c1c5c6e-0d7e-4a43-9a57-6f0a2f7f0001";

fn scenario(backends: &[SocketAddr]) -> Vec<Value> {
    let lb = LB_ID;
    let listener = "7c1c5c6e-0d7e-4a43-9a57-6f0a2f7f0002";
    let pool = "7c1c5c6e-0d7e-4a43-9a57-6f0a2f7f0003";
    let hm = "7c1c5c6e-0d7e-4a43-9a57-6f0a2f7f0004";
    let mut events = vec![
        json!({"method": "loadbalancer_create", "args": {"loadbalancer": {
            "loadbalancer_id": lb, "name": "demo-lb", "vip_address": "127.0.0.10",
            "admin_state_up": true, "project_id": "demo"}}}),
        json!({"method": "listener_create", "args": {"listener": {
            "listener_id": listener, "loadbalancer_id": lb, "protocol": "HTTP",
            "protocol_port": 8080, "admin_state_up": true, "default_pool_id": pool}}}),
        json!({"method": "pool_create", "args": {"pool": {
            "pool_id": pool, "loadbalancer_id": lb, "listener_id": listener,
            "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "admin_state_up": true}}}),
    ];
    for (i, b) in backends.iter().enumerate() {
        events.push(json!({"method": "member_create", "args": {"member": {
            "member_id": format!("7c1c5c6e-0d7e-4a43-9a57-6f0a2f7f01{i:02}"), "pool_id": pool,
            "address": b.ip().to_string(), "protocol_port": b.port(), "weight": 1,
            "admin_state_up": true}}}));
    }
    events.push(
        json!({"method": "health_monitor_create", "args": {"healthmonitor": {
        "healthmonitor_id": hm, "pool_id": pool, "type": "HTTP", "delay": 2, "timeout": 1,
        "max_retries": 2, "max_retries_down": 2, "http_method": "GET", "url_path": "/health",
        "expected_codes": "200", "admin_state_up": true}}}),
    );
    events.push(json!({"method": "member_update", "args": {
        "old_member": {"member_id": "7c1c5c6e-0d7e-4a43-9a57-6f0a2f7f0100", "pool_id": pool},
        "new_member": {"member_id": "7c1c5c6e-0d7e-4a43-9a57-6f0a2f7f0100", "weight": 5}}}));
    events
}

/// Write the demo daemon's effective configuration as `coordinator.toml` in `dir`, so
/// the operator commands can reach the running demo with `--config` like any daemon.
/// The demo sets no secret, so the redacted rendering is the whole configuration.
fn write_config(dir: &Path, config: &Config) -> Result<PathBuf, String> {
    let path = dir.join("coordinator.toml");
    std::fs::write(&path, config.redacted_toml())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// The operator commands worth trying against the running demo, with its config file.
fn try_commands(config_path: &Path) -> Vec<String> {
    let config = config_path.display();
    vec![
        format!("cargo run --release -- --config {config} events"),
        format!("cargo run --release -- --config {config} health-status"),
        format!("cargo run --release -- --config {config} health-status --loadbalancer {LB_ID}"),
        format!("cargo run --release -- --config {config} validate-health-monitors"),
    ]
}

/// Run the demo; returns when the scenario was shown (or on Ctrl-C with `keep_running`).
async fn run(keep_running: bool) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let sim = loxilb_sim::spawn(loxilb_sim::SimOptions::default())
        .await
        .map_err(|e| format!("simulator: {e}"))?;
    let agent = driver_agent_sim::spawn(&dir.path().join("octavia"))
        .await
        .map_err(|e| format!("driver agent: {e}"))?;
    let mut backends = Vec::new();
    let mut backend_tasks = Vec::new();
    for name in ["backend-a", "backend-b", "backend-c"] {
        let (addr, task) = start_backend(name).await?;
        backends.push(addr);
        backend_tasks.push(task);
    }

    let mut config = Config::default();
    config.database.url = format!("sqlite://{}", dir.path().join("coordinator.db").display());
    config.ingress.socket_path = dir.path().join("ingress.sock");
    config.loxilb.nodes = vec![sim.url()];
    config.octavia.status_socket = agent.status_path();
    config.octavia.stats_socket = agent.stats_path();
    config.octavia.get_socket = agent.get_path();
    config.health_monitoring.status_update_interval = 2;
    // Keep the console for the story; warnings and errors still show.
    config.logging.level = "warn".into();
    loxilb_coordinator::telemetry::init(&config.logging);

    println!("LoxiLB simulator   {}", sim.url());
    println!(
        "driver agent       {}",
        dir.path().join("octavia").display()
    );
    println!("backends           {backends:?}");
    println!(
        "daemon socket      {}",
        config.ingress.socket_path.display()
    );
    println!("database           {}", config.database.url);
    let config_path = write_config(dir.path(), &config)?;
    println!("config             {}\n", config_path.display());

    let listener = bind_unix(&config.ingress.socket_path, config.ingress.socket_mode)
        .await
        .map_err(|e| e.to_string())?;
    let shutdown = Shutdown::new();
    let daemon = tokio::spawn(app::run(
        IngressListener::Unix(listener),
        config.clone(),
        shutdown.clone(),
    ));
    let api = ApiClient::new(&config.ingress.socket_path);

    let mut ids = Vec::new();
    for event in scenario(&backends) {
        let method = event["method"].as_str().unwrap_or("").to_string();
        let (code, reply) = api
            .call("POST", "/v1/events", Some(&event))
            .await
            .map_err(|e| e.to_string())?;
        println!("POST {method:<22} -> {code} {reply}");
        if let Some(id) = reply.get("id").and_then(Value::as_i64) {
            ids.push((id, method));
        }
    }
    println!();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for (id, method) in &ids {
        loop {
            let (_, rec) = api
                .call("GET", &format!("/v1/events/{id}"), None)
                .await
                .map_err(|e| e.to_string())?;
            let state = rec
                .get("state")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            if state == "done" || state == "failed" || tokio::time::Instant::now() > deadline {
                println!(
                    "event {id:>3} {method:<22} {state} {}",
                    rec.get("reason").and_then(Value::as_str).unwrap_or("")
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let control = sim.control();
    let probe_names: Vec<String> = backends
        .iter()
        .map(|b| format!("{}_tcp_{}", b.ip(), b.port()))
        .collect();
    wait_probes(&control, &probe_names, "ok", Duration::from_secs(15)).await?;
    println!();
    show_loxilb(&control);
    wait_operating(
        &agent,
        "loadbalancers",
        LB_ID,
        "ONLINE",
        Duration::from_secs(15),
    )
    .await?;
    println!();
    show_octavia(&agent.control().status_messages());

    println!("\nstopping backend-b ({}) ...", backends[1]);
    backend_tasks[1].abort();
    wait_probes(&control, &probe_names[1..2], "nok", Duration::from_secs(20)).await?;
    show_loxilb(&control);
    wait_operating(
        &agent,
        "loadbalancers",
        LB_ID,
        "DEGRADED",
        Duration::from_secs(15),
    )
    .await?;
    println!();
    show_octavia(&agent.control().status_messages());
    if keep_running {
        println!("\nrunning; try, from another terminal:");
        for command in try_commands(&config_path) {
            println!("  {command}");
        }
        println!("Ctrl-C to stop");
        let _ = tokio::signal::ctrl_c().await;
    }
    shutdown.trigger();
    match daemon.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e.to_string()),
        Err(e) => return Err(e.to_string()),
    }
    agent.stop().await;
    sim.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The README's first command: the scenario runs to the end, the load balancer
    /// goes ONLINE and then DEGRADED when a backend stops (each step is an error
    /// when it does not happen in time).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_demo_goes_online_then_degraded() {
        run(false).await.unwrap_or_else(|e| panic!("{e}"));
    }

    /// The written file is what the daemon would read, and every suggested command
    /// points at it.
    #[test]
    fn written_config_loads_and_the_suggested_commands_use_it() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut config = Config::default();
        config.ingress.socket_path = dir.path().join("ingress.sock");
        config.loxilb.nodes = vec!["http://127.0.0.1:11111".into()];
        config.health_monitoring.status_update_interval = 2;
        config.logging.level = "warn".into();
        let path = write_config(dir.path(), &config).unwrap_or_else(|e| panic!("{e}"));
        let loaded = Config::load_with_env(Some(&path), std::collections::HashMap::new())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded, config);
        let commands = try_commands(&path);
        assert!(commands.len() >= 3);
        for c in &commands {
            assert!(c.contains(&format!("--config {}", path.display())), "{c}");
        }
        for sub in [" events", " health-status", " validate-health-monitors"] {
            assert!(commands.iter().any(|c| c.ends_with(sub)), "{sub}");
        }
    }
}
