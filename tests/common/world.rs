//! A whole test world: LoxiLB simulator node(s), the test driver agent, real HTTP
//! backends on loopback, and the daemon process, plus Octavia event builders.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::{write_config_with, Context, Daemon, TestResult};

/// An HTTP backend answering 200 on every path until stopped.
pub struct Backend {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Backend {
    pub async fn start() -> TestResult<Backend> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("backend bind")?;
        Self::serve(listener)
    }

    /// Serve again on the same address (after `stop`).
    pub async fn restart(&mut self) -> TestResult {
        let listener = TcpListener::bind(self.addr)
            .await
            .context("backend rebind")?;
        *self = Self::serve(listener)?;
        Ok(())
    }

    fn serve(listener: TcpListener) -> TestResult<Backend> {
        let addr = listener.local_addr()?;
        // `Connection: close`: a stopped backend must not keep answering probes on a
        // kept-alive connection.
        let app = axum::Router::new()
            .fallback(|| async { ([(axum::http::header::CONNECTION, "close")], "ok\n") });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Backend { addr, task })
    }

    /// Close the listening socket: connections are refused from now on.
    pub async fn stop(&self) {
        self.task.abort();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

pub struct World {
    pub dir: tempfile::TempDir,
    pub agent_dir: PathBuf,
    pub agent: Option<driver_agent_sim::AgentHandle>,
    pub sims: Vec<loxilb_sim::SimHandle>,
    pub daemon: Daemon,
}

impl World {
    /// One simulator node, the agent, the daemon.
    pub async fn start(extra_config: &str) -> TestResult<World> {
        let sim = loxilb_sim::spawn(loxilb_sim::SimOptions::default())
            .await
            .context("sim")?;
        let nodes = vec![sim.url()];
        Self::start_with(vec![sim], &nodes, extra_config, true).await
    }

    /// One simulator node started with `opts`, the agent, the daemon; `loxilb_config`
    /// goes into the daemon's `[loxilb]` section.
    pub async fn start_custom(
        opts: loxilb_sim::SimOptions,
        extra_config: &str,
        loxilb_config: &str,
    ) -> TestResult<World> {
        let sim = loxilb_sim::spawn(opts).await.context("sim")?;
        let nodes = vec![sim.url()];
        Self::start_full(vec![sim], &nodes, extra_config, loxilb_config, true).await
    }

    pub async fn start_with(
        sims: Vec<loxilb_sim::SimHandle>,
        nodes: &[String],
        extra_config: &str,
        with_agent: bool,
    ) -> TestResult<World> {
        Self::start_full(sims, nodes, extra_config, "", with_agent).await
    }

    async fn start_full(
        sims: Vec<loxilb_sim::SimHandle>,
        nodes: &[String],
        extra_config: &str,
        loxilb_config: &str,
        with_agent: bool,
    ) -> TestResult<World> {
        let dir = tempfile::tempdir()?;
        let agent_dir = dir.path().join("agent");
        std::fs::create_dir_all(&agent_dir)?;
        let agent = if with_agent {
            Some(driver_agent_sim::spawn(&agent_dir).await.context("agent")?)
        } else {
            None
        };
        let cfg = write_config_with(dir.path(), nodes, &agent_dir, extra_config, loxilb_config)?;
        let daemon = Daemon::start(&cfg).await?;
        Ok(World {
            dir,
            agent_dir,
            agent,
            sims,
            daemon,
        })
    }

    pub fn sim(&self) -> loxilb_sim::Control {
        self.sims[0].control()
    }

    /// Post events one by one (each must be accepted) and wait until all are final.
    pub async fn apply(&self, events: &[Value]) -> TestResult<Vec<Value>> {
        let mut ids = Vec::new();
        for e in events {
            let (code, r) = self.daemon.post(e).await?;
            assert_eq!(code, 202, "{e} -> {r}");
            ids.push(r["id"].as_i64().unwrap_or(0));
        }
        let mut out = Vec::new();
        for id in ids {
            out.push(self.daemon.wait_final(id, Duration::from_secs(30)).await?);
        }
        Ok(out)
    }

    /// Post and require every event to end `done`.
    pub async fn apply_ok(&self, events: &[Value]) -> TestResult {
        for rec in self.apply(events).await? {
            assert_eq!(rec["state"], "done", "{rec}\nlog:\n{}", self.daemon.log());
        }
        Ok(())
    }

    /// Wait until `f` holds, polling every [`super::POLL`].
    pub async fn wait_for<F: FnMut() -> bool>(&self, what: &str, timeout: Duration, mut f: F) {
        let deadline = tokio::time::Instant::now() + timeout;
        while !f() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}\nlog:\n{}",
                self.daemon.log()
            );
            tokio::time::sleep(super::POLL).await;
        }
    }

    /// Status messages the driver agent received.
    pub fn status_messages(&self) -> Vec<Value> {
        self.agent
            .as_ref()
            .map(|a| a.control().status_messages())
            .unwrap_or_default()
    }
}

/// A load balancer with one TCP listener, one pool, members on `ports` and an HTTP
/// monitor (delay 1 s).
pub fn scenario(lb_id: &str, vip: &str, vip_port: u16, ports: &[u16]) -> Vec<Value> {
    let (l, p) = (format!("{lb_id}-l"), format!("{lb_id}-p"));
    let mut ev = vec![
        lb(lb_id, vip),
        listener(lb_id, &l, vip_port, &p),
        pool(lb_id, &l, &p),
    ];
    for (i, port) in ports.iter().enumerate() {
        ev.push(member(&p, &format!("{lb_id}-m{i}"), *port));
    }
    ev.push(http_monitor(&p, &format!("{lb_id}-hm"), 1));
    ev
}

/// The parts of LoxiLB state we configure (not probe results or counters), sorted.
pub fn config_view(sim: &loxilb_sim::Control) -> Value {
    let mut eps: Vec<Value> = sim
        .endpoints()
        .into_iter()
        .map(|e| {
            json!([
                e["name"],
                e["hostName"],
                e["probeType"],
                e["probePort"],
                e["probeReq"],
                e["probeResp"],
                e["probeDuration"],
                e["inactiveReTries"]
            ])
        })
        .collect();
    eps.sort_by_key(|v| v.to_string());
    let mut rules: Vec<Value> = sim
        .rules()
        .into_iter()
        .map(|mut r| {
            if let Some(list) = r["endpoints"].as_array_mut() {
                for e in list.iter_mut() {
                    e["state"] = Value::Null;
                    e["counter"] = Value::Null;
                }
                list.sort_by_key(|v| v.to_string());
            }
            r
        })
        .collect();
    rules.sort_by_key(|v| v.to_string());
    json!({"endpoints": eps, "rules": rules})
}

/// Probe entries on a simulator, by name.
pub fn probe<'a>(endpoints: &'a [Value], name: &str) -> Option<&'a Value> {
    endpoints.iter().find(|e| e["name"] == name)
}

/// Endpoints of the rule named `name`.
pub fn rule_endpoints(rules: &[Value], name: &str) -> Vec<Value> {
    rules
        .iter()
        .find(|r| r["serviceArguments"]["name"] == name)
        .and_then(|r| r["endpoints"].as_array().cloned())
        .unwrap_or_default()
}

/// Every (collection, id, provisioning_status) the agent received, in order.
pub fn provisioning(messages: &[Value]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for m in messages {
        let Some(obj) = m.as_object() else { continue };
        for (collection, entries) in obj {
            for e in entries.as_array().into_iter().flatten() {
                if let Some(p) = e["provisioning_status"].as_str() {
                    let id = e["id"].as_str().unwrap_or("").to_string();
                    out.push((collection.clone(), id, p.to_string()));
                }
            }
        }
    }
    out
}

// ---- Octavia event builders (octavia-lib to_dict shapes) ----

pub fn lb(id: &str, vip: &str) -> Value {
    json!({"method": "loadbalancer_create", "args": {"loadbalancer": {
        "loadbalancer_id": id, "vip_address": vip, "admin_state_up": true, "project_id": "p"}}})
}

pub fn listener(lb: &str, id: &str, port: u16, pool: &str) -> Value {
    json!({"method": "listener_create", "args": {"listener": {
        "listener_id": id, "loadbalancer_id": lb, "protocol": "TCP", "protocol_port": port,
        "default_pool_id": pool, "admin_state_up": true}}})
}

pub fn pool(lb: &str, listener: &str, id: &str) -> Value {
    json!({"method": "pool_create", "args": {"pool": {
        "pool_id": id, "loadbalancer_id": lb, "listener_id": listener, "protocol": "TCP",
        "lb_algorithm": "ROUND_ROBIN", "admin_state_up": true}}})
}

pub fn member(pool: &str, id: &str, port: u16) -> Value {
    json!({"method": "member_create", "args": {"member": {
        "member_id": id, "pool_id": pool, "address": "127.0.0.1", "protocol_port": port,
        "weight": 1, "admin_state_up": true}}})
}

pub fn member_delete(pool: &str, id: &str, port: u16) -> Value {
    json!({"method": "member_delete", "args": {"member": {
        "member_id": id, "pool_id": pool, "address": "127.0.0.1", "protocol_port": port}}})
}

pub fn http_monitor(pool: &str, id: &str, delay: u32) -> Value {
    json!({"method": "health_monitor_create", "args": {"healthmonitor": {
        "healthmonitor_id": id, "pool_id": pool, "type": "HTTP", "delay": delay, "timeout": 1,
        "max_retries": 2, "max_retries_down": 2, "http_method": "GET", "url_path": "/health",
        "expected_codes": "200", "admin_state_up": true}}})
}

pub fn monitor_update(pool: &str, id: &str, new: Value) -> Value {
    let mut new = new;
    new["healthmonitor_id"] = json!(id);
    new["pool_id"] = json!(pool);
    json!({"method": "health_monitor_update", "args": {
        "old_healthmonitor": {"healthmonitor_id": id, "pool_id": pool},
        "new_healthmonitor": new}})
}

pub fn monitor_delete(pool: &str, id: &str) -> Value {
    json!({"method": "health_monitor_delete", "args": {"healthmonitor": {
        "healthmonitor_id": id, "pool_id": pool}}})
}

/// Every (collection, id, operating_status) the agent received, in order.
pub fn operating(messages: &[Value]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for m in messages {
        let Some(obj) = m.as_object() else { continue };
        for (collection, entries) in obj {
            for e in entries.as_array().into_iter().flatten() {
                if let Some(s) = e["operating_status"].as_str() {
                    let id = e["id"].as_str().unwrap_or("").to_string();
                    out.push((collection.clone(), id, s.to_string()));
                }
            }
        }
    }
    out
}

/// The last operating status the agent received for `id`.
pub fn last_operating(messages: &[Value], id: &str) -> Option<String> {
    operating(messages)
        .into_iter()
        .rev()
        .find(|(_, i, _)| i == id)
        .map(|(_, _, s)| s)
}

impl World {
    /// Listener statistics messages the driver agent received.
    pub fn stats_messages(&self) -> Vec<Value> {
        self.agent
            .as_ref()
            .map(|a| a.control().stats_messages())
            .unwrap_or_default()
    }

    /// Wait until the agent's last operating status of every `(id, status)` matches.
    pub async fn wait_operating(&self, what: &str, timeout: Duration, want: &[(&str, &str)]) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let msgs = self.status_messages();
            let last: Vec<_> = want
                .iter()
                .map(|(id, _)| (id.to_string(), last_operating(&msgs, id)))
                .collect();
            if want
                .iter()
                .zip(&last)
                .all(|((_, s), (_, got))| got.as_deref() == Some(*s))
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}: got {last:?}\nlog:\n{}",
                self.daemon.log()
            );
            tokio::time::sleep(super::POLL).await;
        }
    }
}

/// Run the daemon's CLI against the world's daemon (its config file).
pub fn cli(w: &World, args: &[&str]) -> TestResult<std::process::Output> {
    std::process::Command::new(env!("CARGO_BIN_EXE_loxilb-coordinator"))
        .arg("--config")
        .arg(&w.daemon.config_path)
        .args(args)
        .output()
        .context("run the CLI")
}

/// A CLI run's stdout and stderr as one text.
pub fn text(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr)
}
