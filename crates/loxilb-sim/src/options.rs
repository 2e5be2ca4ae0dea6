//! How a simulator instance is set up.

use std::path::PathBuf;
use std::time::Duration;

use loxilb_version::LoxilbVersion;

use crate::flip::Flip;

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

/// A CA the simulated LoxiLB trusts for HTTPS probes, besides the system roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaCert {
    /// PEM text of one or more CA certificates.
    Pem(Vec<u8>),
    /// A PEM file, read when the simulator starts (LoxiLB's `/opt/loxilb/cert/rootCA.crt`).
    File(PathBuf),
    /// A directory laid out like LoxiLB's `cmn.CertPath`: `<dir>/rootCA.crt` is read at start
    /// and `<dir>/<hostName>/rootCA.crt` whenever an https probe for that host is added.
    CertDir(PathBuf),
}
