//! Helpers shared by the integration tests: a small JSON client for the simulator, polling
//! with timeouts, and loopback backends whose availability a test controls.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loxilb_sim::{SimHandle, SimOptions};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    pub token: Option<String>,
}

impl Api {
    pub fn new(sim: &SimHandle) -> Api {
        Api {
            base: sim.url(),
            client: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
            token: None,
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = if path.starts_with("/sim/") {
            format!("{}{path}", self.base)
        } else {
            format!("{}/netlox/v1{path}", self.base)
        };
        let mut req = self.client.request(method, url);
        if let Some(t) = &self.token {
            req = req.header("Authorization", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }
    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// All endpoints from GET /config/endpoint/all.
    pub async fn endpoints(&self) -> Vec<Value> {
        let (s, v) = self.get("/config/endpoint/all").await;
        assert_eq!(s, 200, "{v}");
        v["Attr"].as_array().cloned().unwrap_or_default()
    }

    pub async fn endpoint(&self, key: &str) -> Option<Value> {
        self.endpoints()
            .await
            .into_iter()
            .find(|e| e["name"] == key)
    }

    /// All rules from GET /config/loadbalancer/all.
    pub async fn rules(&self) -> Vec<Value> {
        let (s, v) = self.get("/config/loadbalancer/all").await;
        assert_eq!(s, 200, "{v}");
        v["lbAttr"].as_array().cloned().unwrap_or_default()
    }

    /// Poll until the endpoint's currState is `want`.
    pub async fn wait_state(&self, key: &str, want: &str, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Some(e) = self.endpoint(key).await {
                if e["currState"] == want {
                    return true;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

pub async fn sim(probing: bool) -> (SimHandle, Api) {
    let sim = loxilb_sim::spawn(SimOptions {
        probing,
        ..SimOptions::default()
    })
    .await
    .expect("spawn");
    let api = Api::new(&sim);
    (sim, api)
}

pub fn tcp_ep(host: &str, port: u16) -> Value {
    json!({"hostName": host, "probeType": "tcp", "probePort": port, "probeDuration": 1, "inactiveReTries": 1})
}

pub fn rule(vip: &str, port: u16, eps: &[(&str, u16)], extra: Value) -> Value {
    let mut args = json!({"externalIP": vip, "port": port, "protocol": "tcp", "sel": 0, "mode": 0});
    if let (Some(a), Some(e)) = (args.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            a.insert(k.clone(), v.clone());
        }
    }
    let eps: Vec<Value> = eps
        .iter()
        .map(|(ip, p)| json!({"endpointIP": ip, "targetPort": p, "weight": 1}))
        .collect();
    json!({"serviceArguments": args, "endpoints": eps})
}

/// A simulator with probing on and the probe tick shrunk to `tick` (LoxiLB: 2 s), so one
/// LoxiLB second lasts `tick / 2`.
pub async fn sim_fast(tick: Duration) -> (SimHandle, Api) {
    sim_opts(SimOptions {
        probe_tick: tick,
        ..SimOptions::default()
    })
    .await
}

pub async fn sim_opts(opts: SimOptions) -> (SimHandle, Api) {
    let sim = loxilb_sim::spawn(opts).await.expect("spawn");
    let api = Api::new(&sim);
    (sim, api)
}

/// A loopback HTTP backend answering every request with `status` (changeable) and `body`,
/// or redirecting to `location`; counts accepted connections and records request lines.
pub struct Backend {
    pub addr: SocketAddr,
    pub conns: Arc<AtomicUsize>,
    pub status: Arc<AtomicU16>,
    pub lines: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl Backend {
    pub async fn start(addr: &str, status: u16, body: &'static str) -> Backend {
        Self::start_with(addr, status, body, None).await
    }

    /// Answers 302 with a Location header.
    pub async fn redirect(to: String) -> Backend {
        Self::start_with("127.0.0.1:0", 302, "", Some(to)).await
    }

    async fn start_with(
        addr: &str,
        status: u16,
        body: &'static str,
        location: Option<String>,
    ) -> Backend {
        let listener = TcpListener::bind(addr).await.expect("bind backend");
        let addr = listener.local_addr().expect("addr");
        let conns = Arc::new(AtomicUsize::new(0));
        let status = Arc::new(AtomicU16::new(status));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (c, st, ln) = (conns.clone(), status.clone(), lines.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = listener.accept().await else {
                    return;
                };
                c.fetch_add(1, Ordering::SeqCst);
                let (st, ln, location) = (st.clone(), ln.clone(), location.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let mut got = Vec::new();
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&got).into_owned();
                    let line = text.lines().next().unwrap_or_default().to_string();
                    let head = line.starts_with("HEAD ");
                    ln.lock().expect("lines").push(line);
                    let status = st.load(Ordering::SeqCst);
                    let loc = location
                        .map(|l| format!("Location: {l}\r\n"))
                        .unwrap_or_default();
                    let resp = format!(
                        "HTTP/1.1 {status} X\r\n{loc}Content-Length: {}\r\nConnection: close\r\n\r\n{}",
                        body.len(),
                        if head { "" } else { body }
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                });
            }
        });
        Backend {
            addr,
            conns,
            status,
            lines,
            task,
        }
    }

    pub fn connections(&self) -> usize {
        self.conns.load(Ordering::SeqCst)
    }

    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    /// Wait until at least `n` connections were accepted; false on timeout.
    pub async fn wait_connections(&self, n: usize, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while self.connections() < n {
            if Instant::now() >= end {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Close the port and wait until it is really closed.
    pub async fn stop(self) -> SocketAddr {
        self.task.abort();
        let _ = self.task.await;
        self.addr
    }
}
pub mod tls;
