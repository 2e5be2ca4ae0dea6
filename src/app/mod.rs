//! Wiring: open the store, build the LoxiLB client, start the leader's tasks
//! (`leader`), replay the journal, serve the ingress API, and shut down in order.
//!
//! [`run`] takes an already-bound listener so tests (and systemd socket hand-over
//! later) choose the socket; the daemon's `main` binds the configured one.

mod leader;
pub mod term;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UnixListener};
use tracing::{info, warn};

use crate::config::Config;
use crate::dispatch::Intake;
use crate::ingress::{self, ApiState, BearerToken, Readiness};
use crate::loxilb::{ClientOptions, LoxilbClient, LoxilbError};
use crate::serve;
use crate::shutdown::Shutdown;
use crate::store::{Store, StoreError};

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
pub fn loxilb_client(config: &Config) -> Result<LoxilbClient, AppError> {
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
        fence: crate::fence::Fence::always(),
        instance: None,
    })
    .map_err(|e| AppError::Loxilb(Box::new(e)))
}

/// Run the daemon until `shutdown` is triggered; returns once every task finished
/// or left its work in the journal.
pub async fn run(
    listener: IngressListener,
    config: Config,
    shutdown: Shutdown,
) -> Result<(), AppError> {
    config.validate()?;
    let gid = config.database.file_gid().and_then(Result::ok);
    let store =
        Store::open_exclusive(&config.database.url, config.database.max_connections, gid).await?;
    let client = loxilb_client(&config)?;
    let leader = leader::start(&config, &store, &client, &shutdown).await?;
    let replayed = leader.dispatcher.replay().await?;
    if replayed > 0 {
        info!(events = replayed, "replaying unfinished journal entries");
    }
    let intake = Intake::Local(leader.dispatcher.clone());
    let admin = leader.admin.clone();
    let hm = &config.health_monitoring;
    let state = ApiState {
        store: store.clone(),
        intake: intake.clone(),
        readiness: Arc::new(LoxilbReadiness(client.clone())),
        wait_for_outcome: !hm.async_processing,
        sync_timeout: Duration::from_secs(config.ingress.sync_timeout),
        health: Some(leader.health.clone()),
        nat_mode: config.loxilb.nat_mode,
        uuid_ids: config.ingress.require_uuid_ids,
    };
    let max_body = config.ingress.max_body_bytes;
    let token = config.tcp_token()?.map(|t| BearerToken::new(t.expose()));

    // Metrics first: once the ingress answers, /metrics must answer too (a client
    // that waits for the ingress, as tests and start-up probes do, found it unbound).
    if let Some(addr) = config.metrics.address {
        let l = TcpListener::bind(addr).await?;
        info!(%addr, "Prometheus metrics at /metrics");
        let sources = crate::metrics::server::Sources {
            store: store.clone(),
            intake: intake.clone(),
        };
        let limits = crate::metrics::server::limits(config.ingress.conn_limits());
        shutdown.spawn(crate::metrics::server::serve(
            l,
            sources,
            limits,
            shutdown.clone(),
        ));
    }

    let mut servers = tokio::task::JoinSet::new();
    let limits = config.ingress.conn_limits();
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
    let (first, first_token, first_tls) = match listener {
        IngressListener::Unix(l) => (serve::Listener::Unix(l), None, None),
        IngressListener::Tcp(l) => (serve::Listener::Tcp(l), token, tls.clone()),
    };
    let app = ingress::router_with(state.clone(), max_body, admin.clone(), first_token);
    servers.spawn(serve::serve(
        first,
        app,
        limits,
        first_tls,
        shutdown.clone(),
    ));
    if let Some((l, addr, t)) = tcp {
        match (&tls, config.ingress.tls_client_ca_file.is_some()) {
            (Some(_), true) => info!(%addr, "ingress also on TCP: mutual TLS and bearer token"),
            (Some(_), false) => info!(%addr, "ingress also on TCP: TLS and bearer token"),
            (None, _) => {}
        }
        let app = ingress::router_with(state.clone(), max_body, admin.clone(), Some(t));
        servers.spawn(serve::serve(
            serve::Listener::Tcp(l),
            app,
            limits,
            tls,
            shutdown.clone(),
        ));
    }
    // systemd: READY once the database, the ingress and a first LoxiLB contact are
    // done. An unreachable LoxiLB does not block start-up: events wait in the journal.
    if !LoxilbReadiness(client.clone()).loxilb_reachable().await {
        warn!("no LoxiLB node answered at start; events wait in the journal until one does");
    }
    notify_systemd(&[sd_notify::NotifyState::Ready]);
    start_watchdog(store.clone(), &shutdown);
    info!(nodes = ?config.loxilb.nodes, "loxilb-coordinator running");

    // Serve until shutdown; a server that dies on its own also stops the daemon.
    let mut result = Ok(());
    tokio::select! {
        _ = shutdown.triggered() => {}
        Some(done) = servers.join_next() => {
            if let Ok(Err(e)) = done {
                warn!(error = %e, "ingress server stopped");
                result = Err(AppError::Serve(e));
            }
            shutdown.trigger();
        }
    }
    notify_systemd(&[sd_notify::NotifyState::Stopping]);
    while servers.join_next().await.is_some() {}
    // Nobody serves the socket any more: remove it, so the next start finds no
    // stale file and clients get "no such file" rather than "refused".
    if let Some(file) = &socket_file {
        file.remove().await;
    }
    shutdown.wait_complete().await;
    let left = intake.queue_depth();
    if left > 0 {
        info!(
            events = left,
            "events left in the journal for the next start"
        );
    }
    store.close().await;
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

/// Tell systemd (when started by it) about our state; a no-op otherwise.
fn notify_systemd(state: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(false, state) {
        warn!(error = %e, "cannot notify systemd");
    }
}

/// With `WatchdogSec=` set, ping systemd at half the interval, but only while the
/// database answers: a daemon that cannot journal is better restarted.
fn start_watchdog(store: Store, shutdown: &Shutdown) {
    let mut usec = 0u64;
    if !sd_notify::watchdog_enabled(false, &mut usec) || usec == 0 {
        return;
    }
    let every = Duration::from_micros(usec / 2).max(Duration::from_millis(10));
    let stop = shutdown.clone();
    shutdown.spawn(async move {
        loop {
            tokio::select! {
                _ = stop.triggered() => return,
                _ = tokio::time::sleep(every) => {}
            }
            match store.ping().await {
                Ok(()) => notify_systemd(&[sd_notify::NotifyState::Watchdog]),
                Err(e) => {
                    warn!(error = %e, "database does not answer; withholding the watchdog ping")
                }
            }
        }
    });
}
