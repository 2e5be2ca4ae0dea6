//! Shared harness of the end-to-end tests: a real daemon process on temporary
//! sockets and a temporary SQLite file, talking to the simulators on loopback.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use loxilb_coordinator::cli::api_client::ApiClient;
use serde_json::Value;

pub mod result;
pub use result::{Context, TestResult};

/// How often the harness polls for a condition (the daemon's health, an event's
/// state, a status message): short, so that a wait ends soon after its condition
/// holds, and not shorter, since a poll copies the agent's message list and the
/// daemon under test shares the machine's two cores.
pub const POLL: Duration = Duration::from_millis(25);

/// A daemon process started from the built binary.
pub struct Daemon {
    pub child: Child,
    pub socket: PathBuf,
    pub config_path: PathBuf,
    pub log_path: PathBuf,
}

/// Write a TOML config for a daemon living in `dir`. `extra` goes into
/// `[health_monitoring]` and overrides the defaults set here for the same keys.
pub fn write_config(
    dir: &Path,
    loxilb_nodes: &[String],
    agent_dir: &Path,
    extra: &str,
) -> TestResult<PathBuf> {
    write_config_with(dir, loxilb_nodes, agent_dir, extra, "")
}

/// Like `write_config`, with `loxilb_extra` added to the `[loxilb]` section (e.g.
/// `nat_mode = "dsr"`).
pub fn write_config_with(
    dir: &Path,
    loxilb_nodes: &[String],
    agent_dir: &Path,
    extra: &str,
    loxilb_extra: &str,
) -> TestResult<PathBuf> {
    let defaults: String = [
        "coordination_timeout = 2",
        "coordination_retries = 1",
        "status_update_interval = 1",
        "status_cache_ttl = 30",
    ]
    .iter()
    .filter(|line| {
        let key = line.split(' ').next().unwrap_or("");
        !extra.lines().any(|l| {
            l.trim_start().starts_with(&format!("{key} "))
                || l.trim_start().starts_with(&format!("{key}="))
        })
    })
    .map(|l| format!("{l}\n"))
    .collect();
    let nodes = loxilb_nodes
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        r#"
[health_monitoring]
{defaults}{extra}

[loxilb]
nodes = [{nodes}]
request_timeout = 2
{loxilb_extra}

[octavia]
status_socket = "{agent}/status.sock"
stats_socket = "{agent}/stats.sock"
get_socket = "{agent}/get.sock"

[ingress]
socket_path = "{dir}/ingress.sock"
# The tests name objects "lb1", "p1": short ids instead of Octavia's UUIDs.
require_uuid_ids = false

[database]
url = "sqlite://{dir}/coordinator.db"

[logging]
level = "info,loxilb_coordinator=debug"
"#,
        agent = agent_dir.display(),
        dir = dir.display(),
    );
    let path = dir.join("coordinator.toml");
    std::fs::write(&path, text).context("write config")?;
    Ok(path)
}

impl Daemon {
    /// Start the daemon binary with `config_path` and wait until its socket answers.
    pub async fn start(config_path: &Path) -> TestResult<Daemon> {
        Self::start_with_env(config_path, &[]).await
    }

    /// Like `start`, with extra environment variables for the process.
    pub async fn start_with_env(config_path: &Path, env: &[(&str, String)]) -> TestResult<Daemon> {
        let dir = config_path.parent().unwrap_or_else(|| Path::new("."));
        let log_path = dir.join(format!("daemon-{}.log", std::process::id()));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .context("log file")?;
        // Through `sh -c exec` so that WATCHDOG_PID can name the daemon's own pid, as
        // systemd sets it (exec keeps the pid).
        let child = Command::new("/bin/sh")
            .arg("-c")
            .arg("export WATCHDOG_PID=$$; exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_loxilb-coordinator"))
            .arg("--config")
            .arg(config_path)
            .arg("run")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("spawn daemon")?;
        let daemon = Daemon {
            child,
            socket: dir.join("ingress.sock"),
            config_path: config_path.to_path_buf(),
            log_path,
        };
        daemon.wait_healthy().await;
        Ok(daemon)
    }

    pub fn api(&self) -> ApiClient {
        ApiClient::new(&self.socket).with_timeout(Duration::from_secs(10))
    }

    async fn wait_healthy(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok((200, _)) = self.api().call("GET", "/healthz", None).await {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "daemon did not become healthy; log:\n{}",
                self.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Send a signal by name (e.g. "HUP") to the daemon.
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status();
    }

    /// SIGTERM and wait for a graceful exit; returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        self.child.wait().ok().and_then(|s| s.code())
    }

    /// POST an event envelope; returns (status, reply).
    pub async fn post(&self, event: &Value) -> TestResult<(u16, Value)> {
        self.api()
            .call("POST", "/v1/events", Some(event))
            .await
            .context("post event")
    }

    /// Wait until event `id` is done or failed; returns its record.
    pub async fn wait_final(&self, id: i64, timeout: Duration) -> TestResult<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (_, rec) = self
                .api()
                .call("GET", &format!("/v1/events/{id}"), None)
                .await
                .context("get event")?;
            let state = rec["state"].as_str().unwrap_or("");
            if state == "done" || state == "failed" {
                return Ok(rec);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "event {id} still {state}: {rec}\nlog:\n{}",
                self.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on (bound, then released).
pub fn closed_port_url() -> TestResult<String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = l.local_addr().map(|a| a.port()).unwrap_or(1);
    drop(l);
    Ok(format!("http://127.0.0.1:{port}"))
}
pub mod world;
