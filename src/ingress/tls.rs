//! TLS for the TCP ingress (rustls): the server certificate and key, and with a
//! client CA, mutual TLS.
//!
//! The bearer token still authorizes every request; TLS keeps it (and the
//! admin routes' answers) off the wire in clear text and, with a client CA,
//! limits who may even try a token.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

/// Why the TLS configuration could not be loaded; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("ingress.tls_cert_file {path}: {reason}")]
    Cert { path: PathBuf, reason: String },
    #[error("ingress.tls_key_file {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("ingress.tls_client_ca_file {path}: {reason}")]
    ClientCa { path: PathBuf, reason: String },
    #[error("ingress TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The files of the TLS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles<'a> {
    pub cert: &'a Path,
    pub key: &'a Path,
    pub client_ca: Option<&'a Path>,
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| e.to_string())?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("holds no PEM certificate".to_owned());
    }
    Ok(certs)
}

/// Loads the files into an acceptor (HTTP/1.1 only, rustls' safe defaults:
/// TLS 1.2 and 1.3).
pub fn acceptor(files: &TlsFiles<'_>) -> Result<TlsAcceptor, TlsError> {
    let chain = certs(files.cert).map_err(|reason| TlsError::Cert {
        path: files.cert.to_owned(),
        reason,
    })?;
    let key = PrivateKeyDer::from_pem_file(files.key).map_err(|e| TlsError::Key {
        path: files.key.to_owned(),
        reason: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match files.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let ca_err = |reason: String| TlsError::ClientCa {
                path: ca.to_owned(),
                reason,
            };
            let mut roots = RootCertStore::empty();
            for cert in certs(ca).map_err(ca_err)? {
                roots.add(cert).map_err(|e| ca_err(e.to_string()))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| ca_err(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Key {
            path: files.key.to_owned(),
            reason: format!("does not fit the certificate: {e}"),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestResult;

    #[test]
    fn missing_and_mismatched_files_name_the_key() -> TestResult {
        let dir = tempfile::tempdir()?;
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        let files = TlsFiles {
            cert: &cert,
            key: &key,
            client_ca: None,
        };
        let err = acceptor(&files)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("ingress.tls_cert_file"), "{err}");
        let a = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
        let b = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
        std::fs::write(&cert, a.cert.pem())?;
        std::fs::write(&key, b.key_pair.serialize_pem())?;
        let err = acceptor(&files)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("ingress.tls_key_file"), "{err}");
        std::fs::write(&key, a.key_pair.serialize_pem())?;
        assert!(acceptor(&files).is_ok());
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not pem")?;
        let with_ca = TlsFiles {
            client_ca: Some(&ca),
            ..files
        };
        let err = acceptor(&with_ca)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.starts_with("ingress.tls_client_ca_file"), "{err}");
        Ok(())
    }
}
