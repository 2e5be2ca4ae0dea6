//! The TCP ingress on TLS: a client trusting the CA gets answers (with the
//! token), a plain-HTTP client gets none; with a client CA, only clients with a
//! certificate it signed get through.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use serde_json::json;

use crate::common::{closed_port_url, write_config, Daemon, TestResult};

const TOKEN: &str = "tls-test-token";

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM.
struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
}

fn pki() -> TestResult<Pki> {
    let ca_key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, "hardening test CA");
    let ca = params.self_signed(&ca_key)?;
    let leaf = |san: &str, usage: ExtendedKeyUsagePurpose| {
        let key = KeyPair::generate()?;
        let mut p = CertificateParams::new(vec![san.to_owned()])?;
        p.extended_key_usages = vec![usage];
        let cert = p.signed_by(&key, &ca, &ca_key)?;
        TestResult::Ok((cert.pem(), key.serialize_pem()))
    };
    Ok(Pki {
        ca: ca.pem(),
        server: leaf("127.0.0.1", ExtendedKeyUsagePurpose::ServerAuth)?,
        client: leaf("octavia-api", ExtendedKeyUsagePurpose::ClientAuth)?,
    })
}

fn write(dir: &Path, name: &str, text: &str) -> TestResult<String> {
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(path.display().to_string())
}

fn free_port() -> TestResult<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr().map(|a| a.port()).unwrap_or(0))
}

/// A daemon whose TCP ingress serves TLS (mutual with `client_ca`); its port.
async fn tls_daemon(dir: &Path, pki: &Pki, client_ca: bool) -> TestResult<(Daemon, u16)> {
    let port = free_port()?;
    let cfg = write_config(dir, &[closed_port_url()?], dir, "")?;
    let mut lines = format!(
        "[ingress]\ntcp_address = \"127.0.0.1:{port}\"\ntcp_token_file = \"{}\"\n\
         tls_cert_file = \"{}\"\ntls_key_file = \"{}\"\n",
        write(dir, "token", TOKEN)?,
        write(dir, "server.crt", &pki.server.0)?,
        write(dir, "server.key", &pki.server.1)?,
    );
    if client_ca {
        lines.push_str(&format!(
            "tls_client_ca_file = \"{}\"\n",
            write(dir, "clients.crt", &pki.ca)?
        ));
    }
    let text = std::fs::read_to_string(&cfg)
        .unwrap_or_default()
        .replace("[ingress]\n", &lines);
    std::fs::write(&cfg, text)?;
    Ok((Daemon::start(&cfg).await?, port))
}

fn client(pki: &Pki, with_cert: bool) -> TestResult<reqwest::Client> {
    let ca = reqwest::Certificate::from_pem(pki.ca.as_bytes())?;
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca);
    if with_cert {
        let pem = format!("{}{}", pki.client.0, pki.client.1);
        let id = reqwest::Identity::from_pem(pem.as_bytes())?;
        b = b.identity(id);
    }
    Ok(b.build()?)
}

fn event() -> serde_json::Value {
    json!({"method": "loadbalancer_create", "args": {"loadbalancer": {
        "loadbalancer_id": "5d0c2a3e-5b1f-4c6a-9e0d-1f2a3b4c5d6e", "vip_address": "127.0.0.10"}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_ingress_answers_tls_clients_and_refuses_plain_ones() -> TestResult {
    let dir = tempfile::tempdir()?;
    let pki = pki()?;
    let (d, port) = tls_daemon(dir.path(), &pki, false).await?;
    let https = client(&pki, false)?;
    let base = format!("https://127.0.0.1:{port}");
    let ok = https
        .post(format!("{base}/v1/events"))
        .bearer_auth(TOKEN)
        .json(&event())
        .send()
        .await
        .map_err(|e| format!("{e:?}\n{}", d.log()))?;
    assert_eq!(ok.status(), 202);
    // TLS does not replace the token.
    let no_token = https.get(format!("{base}/healthz")).send().await?;
    assert_eq!(no_token.status(), 401);
    // Plain HTTP on the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .bearer_auth(TOKEN)
        .send()
        .await;
    assert!(plain.is_err(), "plain HTTP was answered: {plain:?}");
    assert!(d.log().contains("TLS and bearer token"), "{}", d.log());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_lets_only_clients_with_a_signed_certificate_in() -> TestResult {
    let dir = tempfile::tempdir()?;
    let pki = pki()?;
    let (d, port) = tls_daemon(dir.path(), &pki, true).await?;
    let url = format!("https://127.0.0.1:{port}/healthz");
    let with_cert = client(&pki, true)?
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .map_err(|e| format!("{e:?}\n{}", d.log()))?;
    assert_eq!(with_cert.status(), 200);
    let without = client(&pki, false)?
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await;
    assert!(
        without.is_err(),
        "a client without certificate got {without:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_tcp_without_insecure_is_refused_and_insecure_warns() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cfg = write_config(dir.path(), &[closed_port_url()?], dir.path(), "")?;
    let token = write(dir.path(), "token", TOKEN)?;
    let plain = format!(
        "[ingress]\ntcp_address = \"127.0.0.1:{}\"\ntcp_token_file = \"{token}\"\n",
        free_port()?
    );
    let text = std::fs::read_to_string(&cfg).unwrap_or_default();
    std::fs::write(&cfg, text.replace("[ingress]\n", &plain))?;
    for sub in ["check-config", "run"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_loxilb-coordinator"))
            .arg("--config")
            .arg(&cfg)
            .arg(sub)
            .output()?;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{sub}: plain TCP accepted");
        assert!(
            err.contains("ingress.tcp_address") && err.contains("insecure"),
            "{sub}: {err}"
        );
    }
    let insecure = plain.replace("[ingress]\n", "[ingress]\ninsecure = true\n");
    std::fs::write(&cfg, text.replace("[ingress]\n", &insecure))?;
    let d = Daemon::start(&cfg).await?;
    assert!(d.log().contains("ingress.insecure = true"), "{}", d.log());
    Ok(())
}
