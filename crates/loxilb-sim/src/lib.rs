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
//!
//! Layout: LoxiLB's behaviour is a pure state machine (`machine`: `apply(&mut Sim, Request)
//! -> (Response, Vec<Effect>)`, one handler per resource, no tokio or I/O), so its fidelity
//! to LoxiLB's Go source is tested without a network; `runtime` is the thin layer that
//! reads HTTP, applies the test knobs, calls the machine under a lock and carries out its
//! effects (probe checkers, https trust pool). Shared leaves: `model` (wire types),
//! `swagger` (go-swagger's body validation), `error` (LoxiLB's error bodies), `flip`,
//! `godur`, `options`.

mod error;
mod flip;
mod godur;
mod machine;
mod model;
mod options;
mod runtime;
mod swagger;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use error::ApiError;
pub use flip::{BadFlip, Flip};
pub use loxilb_version::{BadVersion, LoxilbVersion};
pub use machine::{FirewallEntry, RuleInfo, ScriptedEndpoint};
pub use options::{CaCert, SimOptions};
pub use runtime::control::Control;
pub use runtime::interrupt::Interruption;
pub use runtime::knobs::{Counters, Fault, RecordedRequest};
pub use runtime::server::BASE_PATH;

use machine::{Setup, Sim};
use runtime::knobs::{Knobs, RequestLog};
use runtime::lock::lock;
use runtime::probing::Probing;
use runtime::shared::Shared;

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
    let setup = Setup {
        version: opts.version,
        auth: opts.auth.clone(),
        token_ttl: opts.token_ttl,
        flip: opts.flip,
        pid: std::process::id(),
    };
    let shared = Arc::new(Shared {
        sim: Mutex::new(Sim::new(setup, Instant::now())),
        probing: Mutex::new(Probing::new(rt, &opts)),
        knobs: Knobs::new(opts.latency),
        log: Mutex::new(RequestLog::default()),
        version: opts.version,
    });
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(runtime::server::serve(listener, shared.clone(), rx));
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
        // Taken under the lock, aborted (dropped) outside it.
        let stopped = lock(&self.shared.probing).stop();
        drop(stopped);
    }
}
