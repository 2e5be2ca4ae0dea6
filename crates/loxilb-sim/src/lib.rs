//! A simulator of the LoxiLB REST API (`/netlox/v1`) for tests, benchmarks and demos of the
//! loxilb-coordinator daemon, which cannot run against a real LoxiLB here.
//!
//! It reproduces the LoxiLB behaviour the daemon depends on (see
//! `shared/reference/loxilb.md`): endpoint probes keyed `name` or `<ip>_<type>_<port>` with
//! in-place updates, rule-created probes reference-counted per rule, `lbrule-exists` /
//! `LB Rule-referred` conflicts, attach/detach/replace of rule endpoints, LoxiLB's error
//! bodies and status codes, optional token auth, and real TCP/HTTP(S)/UDP probing.
//! On top it offers test knobs ([`Control`], also over HTTP under `/sim/v1`): latency,
//! injected faults, connection resets, maintenance mode, restart without config, scripted
//! endpoints and counters, and a request log.
//!
//! It deliberately uses its own serde types so it independently checks the daemon's client.

mod api;
mod control;
mod control_http;
mod endpoints;
mod ep_host;
mod error;
mod firewall;
mod flip;
mod godur;
mod interrupt;
mod model;
mod probe;
mod probers;
mod rules;
mod rules_check;
mod rules_eps;
mod rules_list;
mod server;
mod state;
mod swagger;
mod tls_roots;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use control::{Control, Counters, Fault, RecordedRequest, ScriptedEndpoint};
pub use error::ApiError;
pub use firewall::FirewallEntry;
pub use flip::{BadFlip, Flip};
pub use interrupt::Interruption;
pub use loxilb_version::{BadVersion, LoxilbVersion};
pub use rules_list::RuleInfo;
pub use server::BASE_PATH;
pub use tls_roots::CaCert;

use state::{lock, Shared};

/// How a simulator instance behaves.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Delay before every API call is answered.
    pub latency: Duration,
    /// When set, LoxiLB's user service is enabled with this one user: POST /auth/login
    /// with these credentials yields a token that every other call (except GET /version)
    /// must send raw in the Authorization header. When None, /auth/login answers 501 and
    /// no token is needed.
    pub auth: Option<(String, String)>,
    /// Lifetime of issued tokens.
    pub token_ttl: Duration,
    /// Run real probes for endpoints (default true).
    pub probing: bool,
    /// The LoxiLB release to behave as (error shape, failure counting, priority slots).
    pub version: LoxilbVersion,
    /// CAs HTTPS probes trust besides the system roots (LoxiLB's /opt/loxilb/cert).
    pub ca_certs: Vec<CaCert>,
    /// Period of LoxiLB's endpoint checkers (2 s); all probe scheduling scales with it.
    pub probe_tick: Duration,
    /// One behaviour to get wrong on purpose; only for the tests of the daemon's
    /// `conformance` command (see [`Flip`]). None for a faithful simulator.
    pub flip: Option<Flip>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            latency: Duration::ZERO,
            auth: None,
            token_ttl: Duration::from_secs(3600),
            probing: true,
            version: LoxilbVersion::default(),
            ca_certs: Vec::new(),
            probe_tick: Duration::from_secs(2),
            flip: None,
        }
    }
}

/// A running simulator.
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

/// Start a simulator on 127.0.0.1 with an ephemeral port.
pub async fn spawn(opts: SimOptions) -> std::io::Result<SimHandle> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
    spawn_on(listener, opts).await
}

/// Start a simulator on an existing listener (e.g. to come back on the same port after
/// [`SimHandle::shutdown`]). The new instance starts empty.
pub async fn spawn_on(listener: TcpListener, opts: SimOptions) -> std::io::Result<SimHandle> {
    let addr = listener.local_addr()?;
    let rt = tokio::runtime::Handle::try_current().map_err(std::io::Error::other)?;
    let shared = Arc::new_cyclic(|weak| Shared::new(weak, &opts, rt));
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(server::serve(listener, shared.clone(), rx));
    tracing::info!(%addr, "loxilb simulator listening");
    Ok(SimHandle {
        addr,
        shared,
        stop: Some(tx),
        task,
    })
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL without the /netlox/v1 suffix, e.g. "http://127.0.0.1:40123".
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// In-process control of this instance's state.
    pub fn control(&self) -> Control {
        Control {
            shared: self.shared.clone(),
        }
    }

    /// Stop serving (listener and open connections closed) and stop all probers; models a
    /// node that is down. Control handles stay usable but see a frozen state.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Err(e) = (&mut self.task).await {
            tracing::warn!(error = %e, "simulator task ended abnormally");
        }
        let guards: Vec<_> = {
            let mut st = lock(&self.shared.state);
            st.probe.enabled = false;
            st.endpoints
                .values_mut()
                .filter_map(|e| e.prober.take())
                .collect()
        };
        drop(guards);
    }
}
