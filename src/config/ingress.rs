//! `[ingress]`: where the Octavia provider driver (Python side) reaches the daemon.
//!
//! The Unix socket is the normal path and is protected by its file mode. The optional TCP
//! listener exists for drivers on other hosts and therefore always requires a bearer
//! token, read from a file so it never sits in the main config or the environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::de;
use super::error::{quoted, ConfigError, Problems};
use super::octavia::non_empty_path;
use super::secret::Secret;
use crate::ingress::tls::TlsFiles;
use crate::serve::ConnLimits;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IngressConfig {
    #[serde(deserialize_with = "de::parse")]
    pub socket_path: PathBuf,
    /// File mode of the socket, written as an octal string ("0660"). At most "0777".
    #[serde(
        deserialize_with = "de::octal_mode",
        serialize_with = "de::ser_octal_mode"
    )]
    pub socket_mode: u32,
    /// Optional TCP listener (e.g. "127.0.0.1:9443"); requires `tcp_token_file`.
    #[serde(deserialize_with = "de::opt_parse")]
    pub tcp_address: Option<SocketAddr>,
    /// File holding the bearer token for the TCP listener; see [`crate::config::Config::tcp_token`].
    #[serde(deserialize_with = "de::opt_parse")]
    pub tcp_token_file: Option<PathBuf>,
    /// Largest accepted request body in bytes. 1024..=67108864.
    #[serde(deserialize_with = "de::uint")]
    pub max_body_bytes: usize,
    /// Seconds a request waits for its result when health_monitoring.async_processing=false.
    #[serde(deserialize_with = "de::uint")]
    pub sync_timeout: u64,
    /// Object ids must be UUIDs, as Octavia assigns them (default). `false` accepts
    /// any id of 1..=64 characters from `A-Za-z0-9._-`: for callers other than
    /// Octavia (the end-to-end harness, hand-written events), never for Octavia.
    #[serde(deserialize_with = "de::boolean")]
    pub require_uuid_ids: bool,
    /// Seconds a client has to send a request's headers (and finish a TLS
    /// handshake). 1..=300.
    #[serde(deserialize_with = "de::uint")]
    pub header_read_timeout: u64,
    /// Seconds a connection with no request in progress is kept. 1..=3600.
    #[serde(deserialize_with = "de::uint")]
    pub idle_timeout: u64,
    /// Seconds of waiting for the next part of a request body. 1..=300.
    #[serde(deserialize_with = "de::uint")]
    pub body_timeout: u64,
    /// Connections each ingress listener holds at once; for one more, the one idle
    /// longest is closed. 16..=65536.
    #[serde(deserialize_with = "de::uint")]
    pub max_connections: usize,
    /// PEM certificate chain of the TCP listener's TLS; with `tls_key_file`.
    #[serde(deserialize_with = "de::opt_parse")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `tls_cert_file`.
    #[serde(deserialize_with = "de::opt_parse")]
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA bundle: clients must present a certificate it signed (mutual TLS).
    #[serde(deserialize_with = "de::opt_parse")]
    pub tls_client_ca_file: Option<PathBuf>,
    /// Serve the TCP listener without TLS. The token then crosses the network in
    /// clear text; refused unless set, and warned about at every start.
    #[serde(deserialize_with = "de::boolean")]
    pub insecure: bool,
}

impl Default for IngressConfig {
    fn default() -> Self {
        IngressConfig {
            socket_path: PathBuf::from("/run/loxilb-coordinator/ingress.sock"),
            socket_mode: 0o660,
            tcp_address: None,
            tcp_token_file: None,
            max_body_bytes: 1024 * 1024,
            sync_timeout: 60,
            require_uuid_ids: true,
            header_read_timeout: 10,
            idle_timeout: 60,
            body_timeout: 10,
            max_connections: 512,
            tls_cert_file: None,
            tls_key_file: None,
            tls_client_ca_file: None,
            insecure: false,
        }
    }
}

impl IngressConfig {
    /// The TLS files of the TCP listener, when configured.
    pub fn tls_files(&self) -> Option<TlsFiles<'_>> {
        match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert,
                key,
                client_ca: self.tls_client_ca_file.as_deref(),
            }),
            _ => None,
        }
    }

    /// The timeouts and cap of the ingress listeners.
    pub fn conn_limits(&self) -> ConnLimits {
        ConnLimits {
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            body_timeout: Duration::from_secs(self.body_timeout),
            max_connections: self.max_connections,
        }
    }

    pub(crate) fn validate(&self, p: &mut Problems) {
        non_empty_path(p, "ingress.socket_path", &self.socket_path);
        if self.socket_mode > 0o777 {
            p.push(
                "ingress.socket_mode",
                quoted(&format!("{:04o}", self.socket_mode)),
                "must be an octal mode between \"0000\" and \"0777\"",
            );
        }
        if let (Some(addr), None) = (&self.tcp_address, &self.tcp_token_file) {
            p.push(
                "ingress.tcp_address",
                quoted(&addr.to_string()),
                "requires ingress.tcp_token_file: the TCP listener is never unauthenticated",
            );
        }
        self.validate_tls(p);
        p.range(
            "ingress.max_body_bytes",
            self.max_body_bytes as u64,
            1024,
            64 * 1024 * 1024,
        );
        p.range("ingress.sync_timeout", self.sync_timeout, 1, 3600);
        p.range(
            "ingress.header_read_timeout",
            self.header_read_timeout,
            1,
            300,
        );
        p.range("ingress.idle_timeout", self.idle_timeout, 1, 3600);
        p.range("ingress.body_timeout", self.body_timeout, 1, 300);
        p.range(
            "ingress.max_connections",
            self.max_connections as u64,
            16,
            65536,
        );
    }
}

impl IngressConfig {
    fn validate_tls(&self, p: &mut Problems) {
        let shown = |v: &Option<PathBuf>| {
            quoted(&v.as_deref().unwrap_or(Path::new("")).display().to_string())
        };
        match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(_), None) => p.push(
                "ingress.tls_cert_file",
                shown(&self.tls_cert_file),
                "requires ingress.tls_key_file",
            ),
            (None, Some(_)) => p.push(
                "ingress.tls_key_file",
                shown(&self.tls_key_file),
                "requires ingress.tls_cert_file",
            ),
            _ => {}
        }
        if self.tls_client_ca_file.is_some() && self.tls_cert_file.is_none() {
            p.push(
                "ingress.tls_client_ca_file",
                shown(&self.tls_client_ca_file),
                "requires ingress.tls_cert_file and ingress.tls_key_file",
            );
        }
        if self.tcp_address.is_none() && (self.tls_cert_file.is_some() || self.insecure) {
            let key = if self.insecure {
                "ingress.insecure"
            } else {
                "ingress.tls_cert_file"
            };
            p.push(
                key,
                "set",
                "applies to the TCP listener only; set ingress.tcp_address",
            );
        }
        if let Some(addr) = &self.tcp_address {
            if self.tls_cert_file.is_none() && !self.insecure {
                p.push(
                    "ingress.tcp_address",
                    quoted(&addr.to_string()),
                    "requires TLS (ingress.tls_cert_file and ingress.tls_key_file), or ingress.insecure = true to send the token in clear text",
                );
            }
            if self.tls_cert_file.is_some() && self.insecure {
                p.push(
                    "ingress.insecure",
                    "true",
                    "contradicts ingress.tls_cert_file: choose one",
                );
            }
        }
    }
}

/// Reads and checks the token file; see [`crate::config::Config::tcp_token`].
pub(crate) fn read_token_file(path: &Path) -> Result<Secret, ConfigError> {
    let err = |reason: String| ConfigError::TokenFile {
        path: path.to_owned(),
        reason,
    };
    let text = super::secret::read_private_file(path).map_err(err)?;
    let token = text.trim();
    if token.is_empty() {
        return Err(err(
            "is empty; expected the bearer token on one line".to_owned()
        ));
    }
    Ok(Secret::new(token))
}
