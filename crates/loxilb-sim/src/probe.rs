//! Real health probing: one tokio task per activated endpoint, probing every `probeDuration`
//! seconds (60 when 0) and writing results back into the shared state.
//!
//! Probe types:
//! - `tcp`: TCP connect; success when the connection is accepted.
//! - `http`/`https`: `GET <scheme>://host:port/<probeReq>` (certificates are not verified,
//!   so self-signed backends work); judged by [`judge`]. Port 0 means 80/443.
//! - `udp`: a datagram is sent on a connected socket; an ICMP port-unreachable (seen as
//!   `ECONNREFUSED`) is a failure, a reply or silence until the timeout is a success.
//! - `ping` and `sctp`: approximated without raw/SCTP sockets as "host answers": a TCP
//!   connect to the probe port (7 for ping) that is accepted *or refused* proves the host is
//!   up; a timeout or unreachable error is a failure. Loopback is therefore always up.
//! - `none`: never probed.
//!
//! Each attempt has a timeout of half the interval, between 100 ms and 5 s.
//! The task holds only a `Weak` reference and stops when the simulator is gone, and when its
//! endpoint was deleted or replaced (generation mismatch); dropping the endpoint's
//! [`ProberGuard`] aborts it immediately.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Weak;
use std::time::{Duration, Instant};

use tokio::net::{TcpStream, UdpSocket};
use tokio::task::AbortHandle;

use crate::endpoints::ProbeOpts;
use crate::state::{lock, Shared};

/// Default interval when probeDuration is 0 (LoxiLB's DflHostProbeTimeout).
const DEFAULT_INTERVAL_SECS: u64 = 60;
/// Largest probe response body read for matching.
const MAX_BODY: usize = 64 * 1024;

/// Aborts the prober task when dropped.
#[derive(Debug)]
pub(crate) struct ProberGuard(AbortHandle);

impl Drop for ProberGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a prober needs: the shared state (weakly), a runtime to spawn on, an HTTP client.
pub(crate) struct ProbeCtx {
    shared: Weak<Shared>,
    rt: tokio::runtime::Handle,
    pub enabled: bool,
    client: Option<reqwest::Client>,
}

impl ProbeCtx {
    pub fn new(shared: Weak<Shared>, rt: tokio::runtime::Handle, enabled: bool) -> Self {
        let client = if enabled {
            reqwest::Client::builder()
                .danger_accept_invalid_certs(true)
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(0)
                .build()
                .map_err(|e| tracing::warn!(error = %e, "http probe client unavailable"))
                .ok()
        } else {
            None
        };
        ProbeCtx {
            shared,
            rt,
            enabled,
            client,
        }
    }

    /// Start probing `key`; None when probing is disabled or the type is `none`.
    pub fn start(
        &self,
        key: String,
        gen: u64,
        host: String,
        opts: ProbeOpts,
    ) -> Option<ProberGuard> {
        if !self.enabled || opts.probe_type == "none" {
            return None;
        }
        let shared = self.shared.clone();
        let client = self.client.clone();
        let task = self
            .rt
            .spawn(async move { run(shared, client, key, gen, host, opts).await });
        Some(ProberGuard(task.abort_handle()))
    }
}

async fn run(
    shared: Weak<Shared>,
    client: Option<reqwest::Client>,
    key: String,
    gen: u64,
    host: String,
    opts: ProbeOpts,
) {
    let secs = if opts.duration == 0 {
        DEFAULT_INTERVAL_SECS
    } else {
        u64::from(opts.duration)
    };
    let interval = Duration::from_secs(secs);
    let timeout = (interval / 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
    loop {
        let started = Instant::now();
        let ok = check(client.as_ref(), &host, &opts, timeout).await;
        let elapsed = started.elapsed();
        {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let mut st = lock(&shared.state);
            match st.endpoints.get_mut(&key) {
                Some(ep) if ep.gen == gen => ep.record_probe(ok, elapsed),
                _ => return,
            }
        }
        tokio::time::sleep(interval).await;
    }
}

/// Run one probe attempt.
pub(crate) async fn check(
    client: Option<&reqwest::Client>,
    host: &str,
    opts: &ProbeOpts,
    timeout: Duration,
) -> bool {
    let Ok(ip) = host.parse::<IpAddr>() else {
        return false;
    };
    match opts.probe_type.as_str() {
        "tcp" => matches!(
            tokio::time::timeout(timeout, TcpStream::connect((ip, opts.port))).await,
            Ok(Ok(_))
        ),
        "udp" => udp_probe(SocketAddr::new(ip, opts.port), timeout).await,
        "ping" => host_answers(SocketAddr::new(ip, 7), timeout).await,
        "sctp" => host_answers(SocketAddr::new(ip, opts.port), timeout).await,
        "http" | "https" => match client {
            Some(c) => http_probe(c, ip, opts, timeout).await,
            None => false,
        },
        _ => true,
    }
}

async fn host_answers(addr: SocketAddr, timeout: Duration) -> bool {
    match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => e.kind() == ErrorKind::ConnectionRefused,
        Err(_) => false,
    }
}

async fn udp_probe(addr: SocketAddr, timeout: Duration) -> bool {
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let Ok(sock) = UdpSocket::bind(local).await else {
        return false;
    };
    if sock.connect(addr).await.is_err() || sock.send(b"loxilb-sim probe").await.is_err() {
        return false;
    }
    let mut buf = [0u8; 512];
    match tokio::time::timeout(timeout, sock.recv(&mut buf)).await {
        Ok(Ok(_)) | Err(_) => true,
        Ok(Err(_)) => false,
    }
}

async fn http_probe(
    client: &reqwest::Client,
    ip: IpAddr,
    opts: &ProbeOpts,
    timeout: Duration,
) -> bool {
    let scheme = opts.probe_type.as_str();
    let port = match (opts.port, scheme) {
        (0, "https") => 443,
        (0, _) => 80,
        (p, _) => p,
    };
    let host = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    let path = opts.req.trim_start_matches('/');
    let url = format!("{scheme}://{host}:{port}/{path}");
    let attempt = async {
        let resp = client.get(&url).send().await.ok()?;
        let status = resp.status().as_u16();
        let needs_body = !opts.resp.trim().is_empty() && parse_codes(&opts.resp).is_none();
        let body = if needs_body {
            let mut bytes = resp.bytes().await.ok()?.to_vec();
            bytes.truncate(MAX_BODY);
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            String::new()
        };
        Some(judge(&opts.resp, status, &body))
    };
    matches!(tokio::time::timeout(timeout, attempt).await, Ok(Some(true)))
}

/// Parse a status spec like `"200"`, `"200,202"` or `"200-204, 301"`; None if it is not one.
pub(crate) fn parse_codes(spec: &str) -> Option<Vec<(u16, u16)>> {
    let spec = spec.trim();
    if spec.is_empty()
        || !spec
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ',' | '-' | ' '))
    {
        return None;
    }
    let mut out = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (a.trim().parse().ok()?, b.trim().parse().ok()?),
            None => {
                let v = part.parse().ok()?;
                (v, v)
            }
        };
        out.push((lo, hi));
    }
    (!out.is_empty()).then_some(out)
}

/// Judge an HTTP probe answer by probeResp: empty means any 2xx; a status list/range means
/// the status must match; anything else must appear in the body.
pub(crate) fn judge(spec: &str, status: u16, body: &str) -> bool {
    let trimmed = spec.trim();
    if trimmed.is_empty() {
        return (200..300).contains(&status);
    }
    match parse_codes(trimmed) {
        Some(ranges) => ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&status)),
        None => body.contains(spec),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judge_by_status_list_range_or_body() {
        assert!(judge("", 204, ""));
        assert!(!judge("", 301, ""));
        assert!(judge("200", 200, ""));
        assert!(!judge("200", 201, ""));
        assert!(judge("200,202", 202, ""));
        assert!(!judge("200,202", 201, ""));
        assert!(judge("200-204", 203, ""));
        assert!(!judge("200-204", 205, ""));
        assert!(judge("200-204, 301", 301, ""));
        assert!(judge("healthy", 500, "I am healthy"));
        assert!(!judge("healthy", 200, "sick"));
        assert_eq!(parse_codes("2x0"), None);
        assert_eq!(parse_codes("99999"), None);
        assert_eq!(parse_codes(","), None);
    }

    #[tokio::test]
    async fn tcp_probe_follows_listener() {
        let l = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("bind: {e}"),
        };
        let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
        let opts = ProbeOpts {
            probe_type: "tcp".into(),
            port,
            req: String::new(),
            resp: String::new(),
            duration: 1,
            retries: 1,
        };
        let t = Duration::from_millis(500);
        assert!(check(None, "127.0.0.1", &opts, t).await);
        drop(l);
        assert!(!check(None, "127.0.0.1", &opts, t).await);
        let ping = ProbeOpts {
            probe_type: "ping".into(),
            port: 0,
            ..opts.clone()
        };
        assert!(check(None, "127.0.0.1", &ping, t).await);
        assert!(!check(None, "not-an-ip", &ping, t).await);
    }

    #[tokio::test]
    async fn udp_probe_sees_port_unreachable() {
        let sock = match UdpSocket::bind("127.0.0.1:0").await {
            Ok(s) => s,
            Err(e) => panic!("bind: {e}"),
        };
        let addr = sock.local_addr().unwrap_or_else(|e| panic!("{e}"));
        assert!(udp_probe(addr, Duration::from_millis(200)).await);
        drop(sock);
        assert!(!udp_probe(addr, Duration::from_millis(500)).await);
    }
}
