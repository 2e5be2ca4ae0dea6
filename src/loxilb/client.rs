//! Typed LoxiLB operations over every configured node.
//!
//! The client is cheap to clone (one `Arc`) and shares a single HTTP connection pool and a
//! single rate limiter between all nodes. It maps LoxiLB's answers to what the coordinator
//! needs to decide: a 404 on delete is success (`Deleted::NotFound`), a 409
//! "lbrule-exists" on apply means nothing had to change, and any other 409 is a
//! `Conflict` error the caller must handle (typically "LB Rule-referred" on a probe).

use std::future::Future;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::error::{ErrorKind, LoxilbError};
use super::transport::{error_for, Credentials, Node, Request, Transport};
use super::types::{
    EndPoint, EndPointGetEntry, EndPointHostState, EndPointList, LoadbalanceEntry, RuleList,
    VersionGetEntry,
};

/// How to reach and pace the LoxiLB nodes.
#[derive(Clone)]
pub struct ClientOptions {
    /// Base URLs, e.g. `http://10.0.0.5:11111` (the `/netlox/v1` base path is added).
    pub nodes: Vec<String>,
    /// Per-attempt timeout (connect + request + answer): `coordination_timeout`.
    pub timeout: Duration,
    /// Retries after the first attempt for transient failures: `coordination_retries`.
    pub retries: u32,
    /// Global LoxiLB calls per second over all nodes: `rate_limit_calls`.
    pub rate_limit_per_sec: u32,
    /// Extra PEM root certificate for HTTPS nodes.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate (mutual TLS); needs `client_key`.
    pub client_cert: Option<PathBuf>,
    /// PEM private key of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// Username and password for `/auth/login`, when LoxiLB has authentication enabled.
    pub credentials: Option<(String, String)>,
    /// First retry delay (before jitter).
    pub backoff_min: Duration,
    /// Upper bound of the retry delay (before jitter).
    pub backoff_max: Duration,
    /// Changes go out only while this allows (the leader lease, in a cluster).
    pub fence: crate::fence::Fence,
    /// This instance's id in a cluster, sent in the User-Agent.
    pub instance: Option<String>,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("nodes", &self.nodes)
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("rate_limit_per_sec", &self.rate_limit_per_sec)
            .field("ca_file", &self.ca_file)
            .field("client_cert", &self.client_cert)
            .field("client_key", &self.client_key)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|(u, _)| (u, "<redacted>")),
            )
            .field("backoff_min", &self.backoff_min)
            .field("backoff_max", &self.backoff_max)
            .field("fence", &self.fence)
            .field("instance", &self.instance)
            .finish()
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            nodes: Vec::new(),
            timeout: Duration::from_secs(5),
            retries: 3,
            rate_limit_per_sec: 50,
            ca_file: None,
            client_cert: None,
            client_key: None,
            credentials: None,
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            fence: crate::fence::Fence::always(),
            instance: None,
        }
    }
}

/// `loxilb-coordinator/VERSION`, plus `(instance ID)` in a cluster: LoxiLB's access
/// logs (and the simulator's request log) then tell the instances apart.
fn user_agent(instance: Option<&str>) -> String {
    let base = concat!("loxilb-coordinator/", env!("CARGO_PKG_VERSION"));
    match instance {
        Some(id) => format!("{base} (instance {id})"),
        None => base.to_string(),
    }
}

/// Index of a node in [`ClientOptions::nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub usize);

/// Outcome of a delete: absent objects count as deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Removed,
    NotFound,
}

/// Outcome of posting a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleApplied {
    /// Created or updated.
    Applied,
    /// LoxiLB already had this exact rule (409 "lbrule-exists").
    AlreadyExists,
}

/// What a liveness check learned about a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// `version` of `GET /version`.
    pub version: String,
    /// `buildInfo` of `GET /version`.
    pub build_info: String,
    /// Round trip of the check, retries included.
    pub latency: Duration,
    /// Identity of the node's current run, when reported (`bootId`); a change means the
    /// node restarted and has lost its in-memory configuration. `None` on stock LoxiLB.
    pub boot_id: Option<String>,
    /// Process start time in milliseconds since the Unix epoch (`startTime`), when reported.
    pub start_time_ms: Option<u64>,
    /// Seconds since the process started (`uptimeSeconds`), when reported.
    pub uptime_secs: Option<u64>,
}

/// Client for all configured LoxiLB nodes.
#[derive(Clone)]
pub struct LoxilbClient {
    inner: Arc<Transport>,
    /// The release each node last reported on `GET /version` (by node index).
    versions: Arc<std::sync::Mutex<Vec<Option<String>>>>,
}

impl std::fmt::Debug for LoxilbClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let urls: Vec<_> = self.inner.nodes.iter().map(|n| n.url.as_str()).collect();
        f.debug_struct("LoxilbClient")
            .field("nodes", &urls)
            .finish()
    }
}

impl LoxilbClient {
    /// Builds the client; fails on bad URLs, unreadable TLS files or a zero rate limit.
    pub fn new(opts: ClientOptions) -> Result<Self, LoxilbError> {
        if opts.nodes.is_empty() {
            return Err(LoxilbError::config("", "no LoxiLB nodes configured"));
        }
        let nodes = opts
            .nodes
            .iter()
            .map(|u| Node::new(u))
            .collect::<Result<Vec<_>, _>>()?;
        let per_sec = NonZeroU32::new(opts.rate_limit_per_sec)
            .ok_or_else(|| LoxilbError::config("", "rate_limit_per_sec must be at least 1"))?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .user_agent(user_agent(opts.instance.as_deref()))
            .timeout(opts.timeout)
            .connect_timeout(opts.timeout);
        if let Some(ca) = &opts.ca_file {
            let pem = read_file(ca)?;
            let cert = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| LoxilbError::config("", format!("CA file {}: {e}", ca.display())))?;
            builder = builder.add_root_certificate(cert);
        }
        match (&opts.client_cert, &opts.client_key) {
            (Some(cert), Some(key)) => {
                let mut pem = read_file(cert)?;
                pem.push(b'\n');
                pem.extend(read_file(key)?);
                let identity = reqwest::Identity::from_pem(&pem)
                    .map_err(|e| LoxilbError::config("", format!("client certificate/key: {e}")))?;
                builder = builder.identity(identity);
            }
            (None, None) => {}
            _ => {
                return Err(LoxilbError::config(
                    "",
                    "client_cert and client_key must be given together",
                ))
            }
        }
        let http = builder
            .build()
            .map_err(|e| LoxilbError::config("", format!("HTTP client: {e}")))?;
        let versions = Arc::new(std::sync::Mutex::new(vec![None; nodes.len()]));
        Ok(Self {
            versions,
            inner: Arc::new(Transport {
                http,
                nodes,
                limiter: Transport::limiter(per_sec),
                retries: opts.retries,
                backoff_min: opts.backoff_min,
                backoff_max: opts.backoff_max.max(opts.backoff_min),
                fence: opts.fence,
                credentials: opts
                    .credentials
                    .map(|(username, password)| Credentials { username, password }),
            }),
        })
    }

    pub fn node_count(&self) -> usize {
        self.inner.nodes.len()
    }

    /// All node ids, in configuration order.
    pub fn node_ids(&self) -> impl Iterator<Item = NodeId> {
        (0..self.node_count()).map(NodeId)
    }

    /// The node's URL as configured; empty for an id out of range.
    pub fn node_url(&self, n: NodeId) -> &str {
        self.inner
            .nodes
            .get(n.0)
            .map_or("", |node| node.url.as_str())
    }

    /// Creates or (same key) updates a probe.
    pub async fn create_endpoint(&self, n: NodeId, ep: &EndPoint) -> Result<(), LoxilbError> {
        self.post(n, &["config", "endpoint"], ep).await.map(drop)
    }

    /// Deletes a probe. A 409 "LB Rule-referred" is returned as a `Conflict` error.
    pub async fn delete_endpoint(
        &self,
        n: NodeId,
        host: &str,
        name: &str,
        probe_type: &str,
        probe_port: u16,
    ) -> Result<Deleted, LoxilbError> {
        let query = [
            ("name", name.to_string()),
            ("probe_type", probe_type.to_string()),
            ("probe_port", probe_port.to_string()),
        ];
        self.delete(n, &["config", "endpoint", "epipaddress", host], &query)
            .await
    }

    pub async fn list_endpoints(&self, n: NodeId) -> Result<Vec<EndPointGetEntry>, LoxilbError> {
        let list: EndPointList = self.get_json(n, &["config", "endpoint", "all"]).await?;
        Ok(list.attr)
    }

    pub async fn set_endpoint_host_state(
        &self,
        n: NodeId,
        s: &EndPointHostState,
    ) -> Result<(), LoxilbError> {
        self.post(n, &["config", "endpointhoststate"], s)
            .await
            .map(drop)
    }

    /// Creates or updates a rule; an identical existing rule is `AlreadyExists`.
    pub async fn apply_rule(
        &self,
        n: NodeId,
        rule: &LoadbalanceEntry,
    ) -> Result<RuleApplied, LoxilbError> {
        match self.post(n, &["config", "loadbalancer"], rule).await {
            Ok(_) => Ok(RuleApplied::Applied),
            Err(e) if e.kind == ErrorKind::Conflict && e.result_contains("exists") => {
                Ok(RuleApplied::AlreadyExists)
            }
            Err(e) => Err(e),
        }
    }

    pub async fn delete_rule(
        &self,
        n: NodeId,
        external_ip: &str,
        port: u16,
        protocol: &str,
    ) -> Result<Deleted, LoxilbError> {
        let port = port.to_string();
        let segments = [
            "config",
            "loadbalancer",
            "externalipaddress",
            external_ip,
            "port",
            &port,
            "protocol",
            protocol,
        ];
        self.delete(n, &segments, &[]).await
    }

    pub async fn delete_rule_by_name(&self, n: NodeId, name: &str) -> Result<Deleted, LoxilbError> {
        self.delete(n, &["config", "loadbalancer", "name", name], &[])
            .await
    }

    pub async fn list_rules(&self, n: NodeId) -> Result<Vec<LoadbalanceEntry>, LoxilbError> {
        let list: RuleList = self.get_json(n, &["config", "loadbalancer", "all"]).await?;
        Ok(list.lb_attr)
    }

    /// Liveness check via `GET /version` (cheap, and open even when auth is on). Stock
    /// LoxiLB reports no start time there, so restart detection cannot rely on
    /// `boot_id`/`start_time_ms` alone; reconciliation (missing rules) remains the backstop.
    pub async fn ping(&self, n: NodeId) -> Result<NodeInfo, LoxilbError> {
        let started = Instant::now();
        let v: VersionGetEntry = self.get_json(n, &["version"]).await?;
        let boot_id = match v.boot_id {
            Some(serde_json::Value::String(s)) => Some(s),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        self.note_version(n, &v.version);
        Ok(NodeInfo {
            version: v.version,
            build_info: v.build_info,
            latency: started.elapsed(),
            boot_id,
            start_time_ms: v.start_time.as_ref().and_then(serde_json::Value::as_u64),
            uptime_secs: v
                .uptime_seconds
                .as_ref()
                .and_then(serde_json::Value::as_u64),
        })
    }

    /// Remember the release node `n` reported; logged and exported when it is new or
    /// changed (an upgrade of LoxiLB under a running daemon), with a warning when it is
    /// not one the daemon was checked against (docs/loxilb-compat.md).
    fn note_version(&self, n: NodeId, version: &str) {
        let before = {
            let mut all = self.versions.lock().unwrap_or_else(|e| e.into_inner());
            let Some(slot) = all.get_mut(n.0) else {
                return;
            };
            if slot.as_deref() == Some(version) {
                return;
            }
            slot.replace(version.to_string())
        };
        let url = self.node_url(n);
        crate::metrics::global().loxilb_version(url, before.as_deref(), version);
        match super::version::support(version) {
            Ok(()) => tracing::info!(node = %url, version, "LoxiLB node version"),
            Err(why) => tracing::warn!(node = %url, version, "LoxiLB node version: {why}"),
        }
    }

    /// Every node's URL and the release it last reported (`None` before it answered).
    pub fn node_versions(&self) -> Vec<(String, Option<String>)> {
        let all = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        self.inner
            .nodes
            .iter()
            .zip(all.iter())
            .map(|(node, v)| (node.url.clone(), v.clone()))
            .collect()
    }

    /// Runs `f` concurrently for every node and returns each node's result in node order.
    /// Used for mutations, which must reach every node of an HA cluster. `f` gets its own
    /// handle of the client (a cheap clone) so the future it returns can own it.
    ///
    /// ```text
    /// let rule = &rule;
    /// let results = client.for_each_node(|c, n| async move { c.apply_rule(n, rule).await }).await;
    /// ```
    pub async fn for_each_node<T, F, Fut>(&self, f: F) -> Vec<(NodeId, Result<T, LoxilbError>)>
    where
        F: Fn(LoxilbClient, NodeId) -> Fut,
        Fut: Future<Output = Result<T, LoxilbError>>,
    {
        let calls = self.node_ids().map(|n| {
            let fut = f(self.clone(), n);
            async move { (n, fut.await) }
        });
        futures::future::join_all(calls).await
    }

    fn node(&self, n: NodeId) -> Result<&Node, LoxilbError> {
        self.inner
            .nodes
            .get(n.0)
            .ok_or_else(|| LoxilbError::config("", format!("no LoxiLB node with index {}", n.0)))
    }

    async fn post<B: Serialize>(
        &self,
        n: NodeId,
        segments: &[&str],
        body: &B,
    ) -> Result<Vec<u8>, LoxilbError> {
        let node = self.node(n)?;
        let body = serde_json::to_vec(body)
            .map_err(|e| LoxilbError::config(&node.url, format!("request body: {e}")))?;
        let req = Request {
            method: Method::POST,
            segments,
            query: &[],
            body: Some(body),
        };
        Ok(self.inner.execute(node, &req).await?.body)
    }

    async fn delete(
        &self,
        n: NodeId,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<Deleted, LoxilbError> {
        let node = self.node(n)?;
        let req = Request {
            method: Method::DELETE,
            segments,
            query,
            body: None,
        };
        match self.inner.execute(node, &req).await {
            Ok(_) => Ok(Deleted::Removed),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(Deleted::NotFound),
            Err(e) => Err(e),
        }
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        n: NodeId,
        segments: &[&str],
    ) -> Result<T, LoxilbError> {
        let node = self.node(n)?;
        let req = Request {
            method: Method::GET,
            segments,
            query: &[],
            body: None,
        };
        let reply = self.inner.execute(node, &req).await?;
        serde_json::from_slice(&reply.body).map_err(|e| {
            let path = format!("{}/{}", node.base.path(), segments.join("/"));
            error_for(
                node,
                &req.method,
                &path,
                ErrorKind::Permanent,
                Some(reply.status),
                None,
            )
            .with_detail(format!("unreadable answer: {e}"))
        })
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, LoxilbError> {
    std::fs::read(path).map_err(|e| LoxilbError::config("", format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> ClientOptions {
        ClientOptions {
            nodes: vec!["http://127.0.0.1:11111".into()],
            ..ClientOptions::default()
        }
    }

    #[test]
    fn bad_options_are_rejected_up_front() {
        let cases = [
            ClientOptions {
                nodes: vec![],
                ..base()
            },
            ClientOptions {
                nodes: vec!["127.0.0.1:11111".into()],
                ..base()
            },
            ClientOptions {
                rate_limit_per_sec: 0,
                ..base()
            },
            ClientOptions {
                ca_file: Some("/nonexistent/ca.pem".into()),
                ..base()
            },
            ClientOptions {
                client_cert: Some("/nonexistent/cert.pem".into()),
                ..base()
            },
        ];
        for opts in cases {
            let shown = format!("{opts:?}");
            let e = LoxilbClient::new(opts).expect_err(&shown);
            assert_eq!(e.kind, ErrorKind::Permanent, "{shown}");
            assert!(!e.detail.is_empty());
        }
    }

    #[test]
    fn garbage_pem_files_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.pem");
        std::fs::write(
            &junk,
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let e = LoxilbClient::new(ClientOptions {
            client_cert: Some(junk.clone()),
            client_key: Some(junk),
            ..base()
        })
        .unwrap_err();
        assert!(e.detail.contains("client certificate"), "{e}");
    }

    #[test]
    fn pem_ca_and_client_identity_are_loaded() {
        // A self-signed P-256 certificate and its key, generated for these tests only.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/loxilb/tests/tls");
        let cert = dir.join("test-only-cert.pem");
        let key = dir.join("test-only-key.pem");
        let client = LoxilbClient::new(ClientOptions {
            nodes: vec!["https://127.0.0.1:8091".into()],
            ca_file: Some(cert.clone()),
            client_cert: Some(cert.clone()),
            client_key: Some(key),
            ..base()
        });
        assert!(client.is_ok(), "{:?}", client.err());
        let missing_key = LoxilbClient::new(ClientOptions {
            client_cert: Some(cert),
            ..base()
        });
        assert!(missing_key.is_err());
    }

    #[test]
    fn options_debug_redacts_the_password() {
        let opts = ClientOptions {
            credentials: Some(("admin".into(), "hunter2".into())),
            ..base()
        };
        let shown = format!("{opts:?}");
        assert!(
            shown.contains("admin") && !shown.contains("hunter2"),
            "{shown}"
        );
        let client = LoxilbClient::new(opts).unwrap();
        assert_eq!(client.node_ids().collect::<Vec<_>>(), vec![NodeId(0)]);
        assert!(!format!("{client:?}").contains("hunter2"));
    }
}
