//! The probing side of the runtime: LoxiLB's checkers as tokio tasks, the checks in
//! flight, and the HTTP clients with the CA pool https probes trust.
//!
//! The state machine decides which probes exist and when they are due; this keeps the
//! things that cannot live in it (task handles, TLS configuration, the file system).

use std::collections::HashMap;

use tokio::task::AbortHandle;

use super::probers::{self, Clients};
use super::tls_roots::{CaLoadError, TlsRoots};
use crate::machine::Clock;
use crate::options::SimOptions;

/// Aborts a task (a checker, or one probe's check in flight) when dropped.
#[derive(Debug)]
pub(crate) struct AbortOnDrop(pub AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A check in flight: the probe generation it checks and its task.
pub(crate) struct InFlight {
    pub gen: u64,
    /// Held for its Drop: removing the entry aborts the check.
    pub _task: AbortOnDrop,
}

/// Everything probing needs besides the state machine.
pub(crate) struct Probing {
    /// False once the simulator shut down (or when built with probing off): checkers stop.
    pub enabled: bool,
    /// Where checkers and checks are spawned (Control may run on any thread).
    pub rt: tokio::runtime::Handle,
    pub clock: Clock,
    roots: TlsRoots,
    pub clients: Clients,
    /// LoxiLB's checkers, started on first use.
    pub checkers: Vec<AbortOnDrop>,
    /// The check in flight per probe key.
    pub in_flight: HashMap<String, InFlight>,
}

impl Probing {
    pub fn new(rt: tokio::runtime::Handle, opts: &SimOptions) -> Self {
        let enabled = opts.probing;
        let roots = TlsRoots::new(if enabled { &opts.ca_certs } else { &[] });
        let clients = if enabled {
            Clients {
                http: probers::client(TlsRoots::new(&[]).client_config()),
                https: probers::client(roots.client_config()),
            }
        } else {
            Clients {
                http: None,
                https: None,
            }
        };
        Probing {
            enabled,
            rt,
            clock: Clock::new(opts.probe_tick),
            roots,
            clients,
            checkers: Vec::new(),
            in_flight: HashMap::new(),
        }
    }

    /// The per-host CA files AddEPHost would append for an https probe of `host`.
    pub fn read_host_ca(&self, host: &str) -> Result<Vec<Vec<u8>>, CaLoadError> {
        self.roots.read_host_ca(host)
    }

    /// Append a CA to the https pool; the https client is rebuilt when the pool grew.
    pub fn trust_ca(&mut self, pem: &[u8]) {
        if self.roots.add_pem_grew(pem) && self.enabled {
            self.clients.https = probers::client(self.roots.client_config());
        }
    }

    /// Stop the checkers and every check in flight; returns the handles so the caller
    /// can drop (abort) them outside its locks.
    pub fn stop(&mut self) -> (Vec<AbortOnDrop>, HashMap<String, InFlight>) {
        self.enabled = false;
        (
            std::mem::take(&mut self.checkers),
            std::mem::take(&mut self.in_flight),
        )
    }
}
