//! One probe attempt, per probe type, as LoxiLB's `epCheckNow` makes it.
//!
//! - `tcp` (loxilib `L4ServiceProber`): connect with a 1 s timeout. When both probeReq and
//!   probeResp are set, probeReq is written and ONE read of up to `len(probeResp)` bytes must
//!   match the start of probeResp (2 s deadline); otherwise the connect alone decides.
//! - `udp` (same function): with probeReq and probeResp set, the same exchange as tcp.
//!   Otherwise "probe" is sent: a reply passes, an ICMP port-unreachable fails, and silence
//!   passes after LoxiLB's waits (1 s read deadline, then 1 s, 3 s for IPv6, for the ICMP
//!   error). LoxiLB sees the ICMP error on a raw socket; the simulator sees the same error
//!   as `ECONNREFUSED` on its connected socket, which needs no privileges.
//! - `http` (loxilib `HTTPProber`): `HEAD http://<ip>:<port>/<probeReq>` (so "/health" asks
//!   for "//health"), 2 s timeout, redirects followed; passes only on status 200; probeResp
//!   is ignored.
//! - `https` (loxilb `utils.HTTPSProber`): `GET https://<ip>:<port>/<probeReq>`, 2 s timeout,
//!   certificate checked against the system roots plus LoxiLB's CAs ([`crate::tls_roots`]);
//!   passes only on 200 and, when probeResp is set, a body exactly equal to it.
//! - `ping` and `sctp` are approximated: ICMP echo needs a raw socket (root) and SCTP a kernel
//!   module, neither of which tests have. "The host answers" stands in: a TCP connect to the
//!   probe port (7, echo, for ping) that is accepted *or refused* passes; a timeout fails.
//!   On loopback they therefore always pass. Ping's 500 ms run timeout is kept and its
//!   round-trip time is reported as min/avg/max delay.
//!
//! Port 0 is not replaced by a default: LoxiLB dials port 0 for http/https and fails.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::machine::{Outcome, ProbeOpts};

/// loxilib's connect timeout for tcp/udp probes.
const L4_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// loxilib's deadline for a probeReq/probeResp exchange.
const L4_EXCHANGE_DEADLINE: Duration = Duration::from_secs(2);
/// loxilib's read deadline of a plain udp probe.
const UDP_READ_DEADLINE: Duration = Duration::from_secs(1);
/// How long loxilib then waits for an ICMP unreachable (IPv4, IPv6).
const UDP_ICMP_WAIT: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(3));
/// Timeout of LoxiLB's HTTP and HTTPS probe clients.
pub(crate) const HTTP_TIMEOUT: Duration = Duration::from_secs(2);
/// The pinger's run timeout in epCheckNow.
const PING_TIMEOUT: Duration = Duration::from_millis(500);
/// Go's client follows at most 10 redirects.
const MAX_REDIRECTS: usize = 10;

/// An outcome without a round-trip time.
fn plain(ok: bool) -> Outcome {
    Outcome { ok, rtt: None }
}

/// The HTTP clients: `http` trusts the system roots (Go's default client), `https` the
/// LoxiLB pool.
#[derive(Clone)]
pub(crate) struct Clients {
    pub http: Option<reqwest::Client>,
    pub https: Option<reqwest::Client>,
}

/// Build a probe client: 2 s timeout, redirects followed, Go's user agent, no proxy.
pub(crate) fn client(tls: Option<rustls::ClientConfig>) -> Option<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .no_proxy()
        .timeout(HTTP_TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        .pool_max_idle_per_host(0)
        .user_agent("Go-http-client/1.1");
    if let Some(cfg) = tls {
        b = b.use_preconfigured_tls(cfg);
    }
    b.build()
        .map_err(|e| tracing::warn!(error = %e, "probe client unavailable"))
        .ok()
}

/// Run one attempt of `opts.probe_type` against `host`.
pub(crate) async fn check(clients: &Clients, host: &str, opts: &ProbeOpts) -> Outcome {
    let Ok(ip) = host.parse::<IpAddr>() else {
        return plain(false);
    };
    let addr = SocketAddr::new(ip, opts.port);
    match opts.probe_type.as_str() {
        "tcp" => plain(tcp_probe(addr, &opts.req, &opts.resp).await),
        "udp" => plain(udp_probe(addr, &opts.req, &opts.resp).await),
        "sctp" => plain(host_answers(addr, L4_CONNECT_TIMEOUT).await),
        "ping" => {
            let started = Instant::now();
            let ok = host_answers(SocketAddr::new(ip, 7), PING_TIMEOUT).await;
            Outcome {
                ok,
                rtt: ok.then(|| started.elapsed()),
            }
        }
        "http" => plain(match &clients.http {
            Some(c) => http_probe(c, &url("http", ip, opts)).await,
            None => false,
        }),
        "https" => plain(match &clients.https {
            Some(c) => https_probe(c, &url("https", ip, opts), &opts.resp).await,
            None => false,
        }),
        // epCheckNow treats any other type as passing.
        _ => plain(true),
    }
}

/// `<scheme>://<ip>:<port>/<probeReq>`, exactly as LoxiLB formats it (IPv6 bracketed, which
/// Go's URL parser also ends up dialing).
pub(crate) fn url(scheme: &str, ip: IpAddr, opts: &ProbeOpts) -> String {
    let host = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    format!("{scheme}://{host}:{}/{}", opts.port, opts.req)
}

async fn tcp_probe(addr: SocketAddr, req: &str, resp: &str) -> bool {
    let Ok(Ok(mut s)) = tokio::time::timeout(L4_CONNECT_TIMEOUT, TcpStream::connect(addr)).await
    else {
        return false;
    };
    if req.is_empty() || resp.is_empty() {
        return true;
    }
    let exchange = async {
        s.write_all(req.as_bytes()).await.ok()?;
        let mut buf = vec![0u8; resp.len()];
        let n = s.read(&mut buf).await.ok()?;
        Some(reply_matches(&buf[..n], resp))
    };
    matches!(
        tokio::time::timeout(L4_EXCHANGE_DEADLINE, exchange).await,
        Ok(Some(true))
    )
}

/// loxilib reads once into a copy of probeResp and compares the whole buffer, so a short
/// first read passes when it matches the start of probeResp; an empty read (EOF) fails.
pub(crate) fn reply_matches(got: &[u8], resp: &str) -> bool {
    !got.is_empty() && resp.as_bytes().starts_with(got)
}

async fn udp_probe(addr: SocketAddr, req: &str, resp: &str) -> bool {
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let Ok(sock) = UdpSocket::bind(local).await else {
        return false;
    };
    if sock.connect(addr).await.is_err() {
        return false;
    }
    if !req.is_empty() && !resp.is_empty() {
        let exchange = async {
            sock.send(req.as_bytes()).await.ok()?;
            let mut buf = vec![0u8; resp.len()];
            let n = sock.recv(&mut buf).await.ok()?;
            Some(reply_matches(&buf[..n], resp))
        };
        return matches!(
            tokio::time::timeout(L4_EXCHANGE_DEADLINE, exchange).await,
            Ok(Some(true))
        );
    }
    if sock.send(b"probe").await.is_err() {
        return false;
    }
    let mut buf = [0u8; 1500];
    match tokio::time::timeout(UDP_READ_DEADLINE, sock.recv(&mut buf)).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused => false,
        _ => {
            // No reply: LoxiLB still waits for an ICMP error before calling it alive.
            let wait = if addr.is_ipv6() {
                UDP_ICMP_WAIT.1
            } else {
                UDP_ICMP_WAIT.0
            };
            tokio::time::sleep(wait).await;
            true
        }
    }
}

async fn host_answers(addr: SocketAddr, timeout: Duration) -> bool {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => e.kind() == ErrorKind::ConnectionRefused,
        Err(_) => false,
    }
}

async fn http_probe(client: &reqwest::Client, url: &str) -> bool {
    matches!(client.head(url).send().await, Ok(r) if r.status().as_u16() == 200)
}

async fn https_probe(client: &reqwest::Client, url: &str, want: &str) -> bool {
    let Ok(mut r) = client.get(url).send().await else {
        return false;
    };
    if r.status().as_u16() != 200 {
        return false;
    }
    if want.is_empty() {
        return true;
    }
    // Equality needs at most len(want) + 1 bytes; stop reading beyond that.
    let mut body = Vec::new();
    loop {
        match r.chunk().await {
            Ok(Some(c)) => {
                body.extend_from_slice(&c);
                if body.len() > want.len() {
                    return false;
                }
            }
            Ok(None) => return body == want.as_bytes(),
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a test returns: `?` ends it with the failing step's error.
    type TestResult = Result<(), Box<dyn std::error::Error>>;
    fn opts(t: &str, port: u16, req: &str) -> ProbeOpts {
        ProbeOpts {
            probe_type: t.into(),
            port,
            req: req.into(),
            resp: String::new(),
            duration: 1,
            retries: 1,
        }
    }

    /// Mirrors rules.go epCheckNow: the URL is "<scheme>://<ip>:<port>/" + probeReq.
    #[test]
    fn epchecknow_url_keeps_probe_req_verbatim() -> TestResult {
        let v4: IpAddr = [127, 0, 0, 1].into();
        assert_eq!(
            url("http", v4, &opts("http", 80, "/health")),
            "http://127.0.0.1:80//health"
        );
        assert_eq!(
            url("https", v4, &opts("https", 0, "")),
            "https://127.0.0.1:0/"
        );
        let v6: IpAddr = "::1".parse().unwrap_or(v4);
        assert_eq!(
            url("http", v6, &opts("http", 8080, "x")),
            "http://[::1]:8080/x"
        );
        Ok(())
    }

    /// Mirrors loxilib L4ServiceProber: one read into a copy of probeResp, whole buffer compared.
    #[test]
    fn l4serviceprober_reply_compare_is_prefix_of_one_read() -> TestResult {
        assert!(reply_matches(b"PONG", "PONG"));
        assert!(reply_matches(b"PO", "PONG"));
        assert!(!reply_matches(b"PING", "PONG"));
        assert!(!reply_matches(b"", "PONG"));
        Ok(())
    }

    #[tokio::test]
    async fn l4serviceprober_tcp_connect_and_exchange() -> TestResult {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let addr = l.local_addr()?;
        let server = tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let mut b = [0u8; 16];
                if let Ok(n) = s.read(&mut b).await {
                    let reply: &[u8] = if &b[..n] == b"PING" { b"PONG" } else { b"NOPE" };
                    let _ = s.write_all(reply).await;
                }
            }
        });
        assert!(tcp_probe(addr, "", "").await, "connect alone");
        assert!(tcp_probe(addr, "PING", "PONG").await);
        assert!(!tcp_probe(addr, "HELO", "PONG").await);
        assert!(
            tcp_probe(addr, "HELO", "").await,
            "resp empty: connect only"
        );
        server.abort();
        let _ = server.await;
        assert!(!tcp_probe(addr, "", "").await, "closed port");
        Ok(())
    }

    #[tokio::test]
    async fn l4serviceprober_udp_reply_refused_and_exchange() -> TestResult {
        let sock = UdpSocket::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        let addr = sock.local_addr()?;
        let echo = tokio::spawn(async move {
            let mut b = [0u8; 64];
            while let Ok((n, from)) = sock.recv_from(&mut b).await {
                let reply: &[u8] = if &b[..n] == b"probe" { b"hi" } else { b"PONG" };
                let _ = sock.send_to(reply, from).await;
            }
        });
        assert!(udp_probe(addr, "", "").await, "reply passes");
        assert!(udp_probe(addr, "PING", "PONG").await);
        assert!(!udp_probe(addr, "PING", "PANG").await);
        echo.abort();
        let _ = echo.await;
        let started = Instant::now();
        assert!(!udp_probe(addr, "", "").await, "port unreachable fails");
        assert!(started.elapsed() < UDP_READ_DEADLINE);
        Ok(())
    }
}
