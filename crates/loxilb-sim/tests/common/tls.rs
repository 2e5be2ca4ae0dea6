//! Certificates minted per test (rcgen) and a loopback HTTPS backend (tokio-rustls).

use std::net::SocketAddr;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A server certificate for 127.0.0.1 and the PEM of the CA that signed it (itself when
/// self-signed).
pub struct ServerCert {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: Vec<u8>,
    pub ca_pem: String,
}

/// A CA and a 127.0.0.1 certificate it signed.
pub fn ca_signed() -> ServerCert {
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "loxilb-sim test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
    let key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("params")
        .signed_by(&key, &ca_cert, &ca_key)
        .expect("leaf");
    ServerCert {
        chain: vec![leaf.der().clone()],
        key: key.serialize_der(),
        ca_pem: ca_cert.pem(),
    }
}

/// A self-signed 127.0.0.1 certificate.
pub fn self_signed() -> ServerCert {
    let c = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("cert");
    ServerCert {
        chain: vec![c.cert.der().clone()],
        key: c.key_pair.serialize_der(),
        ca_pem: c.cert.pem(),
    }
}

/// An HTTPS backend answering every request with `status` and `body`.
pub struct TlsBackend {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for TlsBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TlsBackend {
    pub async fn start(cert: &ServerCert, status: u16, body: &'static str) -> TlsBackend {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key.clone()));
        let cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(cert.chain.clone(), key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut s) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut buf = vec![0u8; 4096];
                    let mut got = Vec::new();
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    let resp = format!(
                        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                    let _ = s.shutdown().await;
                });
            }
        });
        TlsBackend { addr, task }
    }
}
