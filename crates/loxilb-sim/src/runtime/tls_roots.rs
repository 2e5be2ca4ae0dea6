//! The certificate authorities HTTPS probes trust, built the way LoxiLB builds its pool.
//!
//! LoxiLB (rules.go `RulesInit`) starts from the system roots and appends
//! `/opt/loxilb/cert/rootCA.crt` (`cmn.CertPath` + `cmn.CACertFileName`) when it exists;
//! `AddEPHost` appends `/opt/loxilb/cert/<hostName>/rootCA.crt` when an https probe for that
//! host is added, and the pool is shared, so that CA is then trusted for every host. Files
//! that cannot be parsed add nothing (Go's `AppendCertsFromPEM`). The simulator never reads
//! `/opt/loxilb`: the CAs come from [`CaCert`] entries in `SimOptions::ca_certs`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use crate::options::CaCert;

/// LoxiLB's `cmn.CACertFileName`.
pub const CA_CERT_FILE_NAME: &str = "rootCA.crt";

/// The system bundles Go's crypto/x509 looks for on Linux, in its order.
const SYSTEM_BUNDLES: [&str; 6] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// Why a per-host CA file could not be used (LoxiLB answers "rootca cert load failed").
#[derive(Debug, thiserror::Error)]
#[error("rootca cert load failed: {0}")]
pub struct CaLoadError(#[from] std::io::Error);

/// The growing CA pool and the per-host lookup directories.
pub(crate) struct TlsRoots {
    store: RootCertStore,
    cert_dirs: Vec<PathBuf>,
}

impl TlsRoots {
    /// System roots plus the configured CAs; unreadable files are logged and skipped, as
    /// LoxiLB does at start.
    pub fn new(cas: &[CaCert]) -> Self {
        let mut roots = TlsRoots {
            store: RootCertStore::empty(),
            cert_dirs: Vec::new(),
        };
        if let Some(bundle) = system_bundle() {
            roots.add_file(&bundle);
        }
        for ca in cas {
            match ca {
                CaCert::Pem(pem) => roots.add_pem(pem),
                CaCert::File(path) => roots.add_file(path),
                CaCert::CertDir(dir) => {
                    let common = dir.join(CA_CERT_FILE_NAME);
                    if common.exists() {
                        roots.add_file(&common);
                    }
                    roots.cert_dirs.push(dir.clone());
                }
            }
        }
        roots
    }

    fn add_file(&mut self, path: &Path) {
        match std::fs::read(path) {
            Ok(pem) => self.add_pem(&pem),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "CA file not loaded"),
        }
    }

    /// Append every parsable certificate of a PEM text (invalid ones are ignored).
    pub fn add_pem(&mut self, pem: &[u8]) {
        let certs = CertificateDer::pem_slice_iter(pem).filter_map(Result::ok);
        let (added, ignored) = self.store.add_parsable_certificates(certs);
        tracing::debug!(added, ignored, "CA certificates appended");
    }

    /// AddEPHost's per-host CA: the PEM of `<dir>/<host>/rootCA.crt` for each configured
    /// cert dir where it exists; an existing but unreadable file is an error. Only reads:
    /// the state machine decides whether the CAs are appended ([`Self::add_pem_grew`]).
    pub fn read_host_ca(&self, host: &str) -> Result<Vec<Vec<u8>>, CaLoadError> {
        let mut pems = Vec::new();
        for dir in &self.cert_dirs {
            let file = dir.join(host).join(CA_CERT_FILE_NAME);
            if file.exists() {
                pems.push(std::fs::read(&file)?);
            }
        }
        Ok(pems)
    }

    /// Append a PEM text and say whether the pool grew.
    pub fn add_pem_grew(&mut self, pem: &[u8]) -> bool {
        let before = self.store.len();
        self.add_pem(pem);
        self.store.len() > before
    }

    /// A rustls client configuration trusting exactly this pool.
    pub fn client_config(&self) -> Option<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tracing::warn!(error = %e, "TLS configuration unavailable"))
            .ok()
            .map(|b| {
                b.with_root_certificates(self.store.clone())
                    .with_no_client_auth()
            })
    }
}

/// Go's choice of system bundle: `SSL_CERT_FILE`, else the first file of its list that exists.
fn system_bundle() -> Option<PathBuf> {
    if let Some(f) = std::env::var_os("SSL_CERT_FILE") {
        return Some(PathBuf::from(f));
    }
    SYSTEM_BUNDLES
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_pem_adds_nothing_and_missing_host_dir_is_fine() {
        let mut roots = TlsRoots {
            store: RootCertStore::empty(),
            cert_dirs: vec![PathBuf::from("/nonexistent-loxilb-sim")],
        };
        roots.add_pem(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        assert!(roots.store.is_empty());
        assert!(matches!(roots.read_host_ca("10.0.0.1"), Ok(v) if v.is_empty()));
        assert!(roots.client_config().is_some());
    }
}
