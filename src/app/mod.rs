//! Wiring. [`App::build`] opens the store, builds the LoxiLB client and starts this
//! instance's tasks (`mode`: alone, or per leadership term in a cluster; `leader`:
//! the tasks themselves), without binding anything. [`run`] binds the listeners,
//! serves them the same way (`servers`), tells systemd (`systemd`) and shuts down in
//! order.
//!
//! [`run`] takes an already-bound listener so tests (and systemd socket hand-over
//! later) choose the socket; the daemon's `main` binds the configured one.

mod leader;
mod mode;
mod servers;
mod systemd;
pub mod term;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::{TcpListener, UnixListener};
use tracing::{info, warn};

use crate::cluster::ClusterStatus;
use crate::config::Config;
use crate::dispatch::Intake;
use crate::ingress::{self, ApiState, BearerToken, Readiness};
use crate::loxilb::{ClientOptions, LoxilbClient, LoxilbError};
use crate::serve;
use crate::shutdown::Shutdown;
use crate::store::{Store, StoreError};
use servers::Servers;

/// The listener the ingress API is served on.
pub enum IngressListener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

/// Start-up failures; each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("loxilb client: {0}")]
    Loxilb(Box<LoxilbError>),
    #[error("ingress: {0}")]
    Listen(#[from] ingress::listen::ListenError),
    #[error("{0}")]
    Tls(#[from] ingress::tls::TlsError),
    #[error("serving the API failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// `/readyz`: at least one LoxiLB node answers.
struct LoxilbReadiness(LoxilbClient);

#[async_trait::async_trait]
impl Readiness for LoxilbReadiness {
    async fn loxilb_reachable(&self) -> bool {
        let results = self
            .0
            .for_each_node(|c, n| async move { c.ping(n).await })
            .await;
        results.iter().any(|(_, r)| r.is_ok())
    }

    fn node_versions(&self) -> Vec<(String, Option<String>)> {
        self.0.node_versions()
    }
}

/// Build the LoxiLB client from the configuration.
/// `fence` gates its changes (always open for a single instance); `instance` names
/// a cluster member in the User-Agent.
pub fn loxilb_client(
    config: &Config,
    fence: crate::fence::Fence,
    instance: Option<String>,
) -> Result<LoxilbClient, AppError> {
    let hm = &config.health_monitoring;
    let lx = &config.loxilb;
    LoxilbClient::new(ClientOptions {
        nodes: lx.nodes.clone(),
        timeout: Duration::from_secs(hm.coordination_timeout.min(lx.request_timeout.max(1))),
        retries: hm.coordination_retries,
        rate_limit_per_sec: hm.rate_limit_calls,
        ca_file: lx.ca_file.clone(),
        client_cert: lx.client_cert.clone(),
        client_key: lx.client_key.clone(),
        credentials: match (&lx.username, &lx.password) {
            (Some(u), Some(p)) => Some((u.clone(), p.expose().to_string())),
            _ => None,
        },
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_secs(5),
        fence,
        instance,
    })
    .map_err(|e| AppError::Loxilb(Box::new(e)))
}

/// The daemon built from its configuration: the store opened, this instance's tasks
/// started under the `Shutdown` given to [`App::build`], and the routers each listener
/// serves. Nothing is bound: [`run`] binds and serves; tests drive the routers with
/// `oneshot`, as axum's examples test their `app()`.
pub struct App {
    pub store: Store,
    pub client: LoxilbClient,
    pub intake: Intake,
    pub cluster: ClusterStatus,
    state: ApiState,
    /// Status, reconcile, orphans, dead letters, validation.
    leader_routes: Router,
    max_body: usize,
}

impl App {
    /// Open the database the configuration names and start this instance's part
    /// (see `mode`) under `shutdown`. `config` is taken as validated (`run` does it).
    pub async fn build(config: &Config, shutdown: &Shutdown) -> Result<App, AppError> {
        let mode::Mode {
            store,
            client,
            intake,
            leader_routes,
            cluster,
        } = mode::start(config, shutdown).await?;
        let state = ApiState {
            store: store.clone(),
            intake: intake.clone(),
            readiness: Arc::new(LoxilbReadiness(client.clone())),
            wait_for_outcome: !config.health_monitoring.async_processing,
            sync_timeout: Duration::from_secs(config.ingress.sync_timeout),
            // The status routes come with the leader's routes.
            health: None,
            nat_mode: config.loxilb.nat_mode,
            uuid_ids: config.ingress.require_uuid_ids,
        };
        Ok(App {
            store,
            client,
            intake,
            cluster,
            state,
            leader_routes,
            max_body: config.ingress.max_body_bytes,
        })
    }

    /// The ingress API, behind the bearer-token check when `token` is given.
    pub fn ingress(&self, token: Option<BearerToken>) -> Router {
        let app = ingress::router_with(
            self.state.clone(),
            self.max_body,
            self.leader_routes.clone(),
            token,
        );
        ingress::with_cluster(app, self.cluster.clone())
    }

    /// `/metrics`, with this instance's cluster role.
    pub fn metrics(&self) -> Router {
        let sources = crate::metrics::server::Sources {
            store: self.store.clone(),
            intake: self.intake.clone(),
        };
        crate::metrics::server::router_for(sources, self.cluster.clone())
    }

    /// Whether a LoxiLB node answers now.
    pub async fn loxilb_reachable(&self) -> bool {
        LoxilbReadiness(self.client.clone())
            .loxilb_reachable()
            .await
    }

    /// After the servers closed: wait for every task, then close the store.
    async fn stop(self, shutdown: &Shutdown) {
        shutdown.wait_complete().await;
        let left = self.intake.queue_depth();
        if left > 0 {
            info!(
                events = left,
                "events left in the journal for the next start"
            );
        }
        self.store.close().await;
    }
}

/// Run the daemon until `shutdown` is triggered; returns once every task finished
/// or left its work in the journal.
pub async fn run(
    listener: IngressListener,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), AppError> {
    config.validate()?;
    let app = App::build(&config, &shutdown).await?;
    let token = config.tcp_token()?.map(|t| BearerToken::new(t.expose()));
    let limits = config.ingress.conn_limits();
    let mut servers = Servers::new(&shutdown);
    // Metrics first: once the ingress answers, /metrics must answer too (a client
    // that waits for the ingress, as tests and start-up probes do, found it unbound).
    if let Some(addr) = config.metrics.address {
        let l = TcpListener::bind(addr).await?;
        info!(%addr, "Prometheus metrics at /metrics");
        let metrics_limits = crate::metrics::server::limits(limits);
        servers.serve(serve::Listener::Tcp(l), app.metrics(), metrics_limits, None);
    }
    let tls = tcp_tls(&config)?;
    // Every listener is bound before any is served: a client that waits for the
    // Unix socket to answer then finds the TCP listener bound too.
    let tcp = match (config.ingress.tcp_address, token.clone()) {
        (Some(addr), Some(t)) => Some((TcpListener::bind(addr).await?, addr, t)),
        _ => None,
    };
    let socket_file = match &listener {
        IngressListener::Unix(l) => ingress::listen::SocketFile::of(l),
        IngressListener::Tcp(_) => None,
    };
    match listener {
        IngressListener::Unix(l) => {
            servers.serve(serve::Listener::Unix(l), app.ingress(None), limits, None)
        }
        IngressListener::Tcp(l) => servers.serve(
            serve::Listener::Tcp(l),
            app.ingress(token),
            limits,
            tls.clone(),
        ),
    }
    if let Some((l, addr, t)) = tcp {
        match (&tls, config.ingress.tls_client_ca_file.is_some()) {
            (Some(_), true) => info!(%addr, "ingress also on TCP: mutual TLS and bearer token"),
            (Some(_), false) => info!(%addr, "ingress also on TCP: TLS and bearer token"),
            (None, _) => {}
        }
        servers.serve(serve::Listener::Tcp(l), app.ingress(Some(t)), limits, tls);
    }
    // systemd: READY once the database, the ingress and a first LoxiLB contact are
    // done. An unreachable LoxiLB does not block start-up: events wait in the journal.
    if !app.loxilb_reachable().await {
        warn!("no LoxiLB node answered at start; events wait in the journal until one does");
    }
    systemd::notify(&[sd_notify::NotifyState::Ready]);
    systemd::start_watchdog(app.store.clone(), &shutdown);
    info!(nodes = ?config.loxilb.nodes, "loxilb-coordinator running");

    let result = servers.until_shutdown().await.map_err(AppError::Serve);
    systemd::notify(&[sd_notify::NotifyState::Stopping]);
    servers.closed().await;
    // Nobody serves the socket any more: remove it, so the next start finds no
    // stale file and clients get "no such file" rather than "refused".
    if let Some(file) = &socket_file {
        file.remove().await;
    }
    app.stop(&shutdown).await;
    info!("loxilb-coordinator stopped");
    result
}

/// The TCP ingress's TLS acceptor; `None` means plain TCP, which validation
/// allows only with `insecure = true` and which is warned about at every start.
pub fn tcp_tls(config: &Config) -> Result<Option<tokio_rustls::TlsAcceptor>, AppError> {
    match config.ingress.tls_files() {
        Some(files) => Ok(Some(ingress::tls::acceptor(&files)?)),
        None => {
            if config.ingress.insecure {
                warn!(
                    "ingress.insecure = true: the TCP ingress has no TLS; the bearer token \
                     and every answer cross the network in clear text"
                );
            }
            Ok(None)
        }
    }
}
