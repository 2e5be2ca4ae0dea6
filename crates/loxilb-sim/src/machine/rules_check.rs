//! The checks of ConfigPostLoadbalancer and AddLbRule (pkg/loxinet/rules.go, v0.9.8+), in
//! LoxiLB's order and with its error texts, turning a posted body into a [`Candidate`].
//!
//! The handler narrows numbers with Go casts (port and targetPort to 16 bits, weight to
//! 8 bits: 256 becomes 0, 300 becomes 44), so out-of-range values wrap instead of failing.

use std::net::IpAddr;

use super::rules_eps::RuleEp;
use crate::error::ApiError;
use crate::flip::Flip;
use crate::model::{LoadbalanceEntry, ServiceArgs};

/// LoxiLB's MaxLBEndPoints, LbMaxInactiveTimeout and its two default inactive timeouts.
pub(crate) const MAX_ENDPOINTS: usize = 32;
const MAX_INACTIVE_TIMEOUT: i64 = 86_400;
const DEFAULT_INACTIVE_TIMEOUT: i64 = 240;
const DEFAULT_INACTIVE_NS_TIMEOUT: i64 = 20;
pub(crate) const MODE_DSR: i64 = 3;
pub(crate) const MODE_FULLPROXY: i64 = 4;
const MODE_HOSTONEARM: i64 = 5;
const SEL_HASH: i64 = 1;
const SEL_N3: i64 = 6;

/// What identifies a rule: VIP, port range, protocol, block and host URL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RuleKey {
    pub ip: IpAddr,
    pub port: u16,
    /// Upper end of the range; equals `port` for single-port rules.
    pub port_max: u16,
    pub proto: u8,
    pub block: u32,
    pub host: String,
}

/// The service arguments AddLbRule works with, after the handler's casts and defaults.
#[derive(Debug, Clone, Default)]
pub(crate) struct Serv {
    pub protocol: String,
    /// portMax as posted (0 when not given); the firewall side effects depend on it.
    pub port_max: u16,
    pub sel: i64,
    pub mode: i64,
    pub monitor: bool,
    pub probetype: String,
    pub probeport: u16,
    pub probereq: String,
    pub proberesp: String,
    pub probe_timeout: i64,
    pub probe_retries: i64,
    /// Effective: 0 became the protocol's default.
    pub inactive_timeout: i64,
    pub name: String,
    pub private_ip: Option<IpAddr>,
    pub managed: bool,
    pub bgp: bool,
    pub security: i64,
    pub egress: bool,
    pub ppv2: bool,
    pub oper: i64,
}

/// A posted rule that passed AddLbRule's checks.
pub(crate) struct Candidate {
    pub key: RuleKey,
    pub serv: Serv,
    pub eps: Vec<RuleEp>,
    /// Secondary IPs, sorted.
    pub sec_ips: Vec<IpAddr>,
    /// allowedSources prefixes as posted.
    pub sources: Vec<String>,
}

/// Why a body is not turned into a rule.
pub(crate) enum Refusal {
    /// ConfigPostLoadbalancer's DSR check: HTTP 200 with this `result` in every release.
    Result(&'static str),
    Error(ApiError),
}

fn bad(text: &str) -> Refusal {
    Refusal::Error(ApiError::Loxilb(text.to_string()))
}

/// IP protocol number of a rule protocol, as AddLbRule maps it.
pub(crate) fn proto_number(p: &str) -> Option<u8> {
    match p {
        "tcp" => Some(6),
        "udp" => Some(17),
        "icmp" => Some(1),
        "sctp" => Some(132),
        "none" => Some(0),
        _ => None,
    }
}

/// ConfigPostLoadbalancer then AddLbRule up to the lookup of the existing rule, in
/// LoxiLB's order of checks (each step below keeps its part of that order).
/// `flip` gets one behaviour wrong on purpose (conformance tests only).
pub(crate) fn check(entry: &LoadbalanceEntry, flip: Option<Flip>) -> Result<Candidate, Refusal> {
    let a = &entry.service_arguments;
    let mut s = serv_of(a);
    let port = a.port as u16;
    let vip = check_service(&mut s, a, flip)?;
    check_probe(&mut s, flip == Some(Flip::RuleAcceptsHttpProbe))?;
    let proto = check_shape(&s, entry, port)?;
    let sec_ips = check_ports_and_sec_ips(&s, entry, vip, port)?;
    if s.mode == MODE_HOSTONEARM && !vip.is_unspecified() {
        return Err(bad("hostarm-args error"));
    }
    let eps = check_endpoints(&s, entry, vip, port)?;
    let key = RuleKey {
        ip: vip,
        port,
        port_max: if s.port_max == 0 { port } else { s.port_max },
        proto,
        block: a.block as u32,
        host: a.host.clone(),
    };
    let sources = entry
        .allowed_sources
        .iter()
        .map(|x| x.prefix.clone())
        .collect();
    Ok(Candidate {
        key,
        serv: s,
        eps,
        sec_ips,
        sources,
    })
}

/// The service arguments after the handler's casts to LoxiLB's narrower types.
fn serv_of(a: &ServiceArgs) -> Serv {
    Serv {
        protocol: a.protocol.clone(),
        port_max: a.port_max as u16,
        sel: a.sel,
        mode: a.mode,
        monitor: a.monitor,
        probetype: a.probetype.clone(),
        probeport: a.probeport as u16,
        probereq: a.probereq.clone(),
        proberesp: a.proberesp.clone(),
        probe_timeout: a.probe_timeout,
        probe_retries: a.probe_retries,
        inactive_timeout: i64::from(a.inactive_time_out as u32),
        name: a.name.clone(),
        private_ip: None,
        managed: a.managed,
        bgp: a.bgp,
        security: a.security,
        egress: a.egress,
        ppv2: a.proxyprotocolv2,
        oper: a.oper,
    }
}

/// The handler's DSR check, then the VIP, private IP and inactivity timeout; returns the VIP.
fn check_service(s: &mut Serv, a: &ServiceArgs, flip: Option<Flip>) -> Result<IpAddr, Refusal> {
    let dsr_flipped = flip == Some(Flip::DsrAcceptsAnySelection);
    if s.mode == MODE_DSR && s.sel != SEL_HASH && !dsr_flipped {
        return Err(Refusal::Result(
            "Error: Only Hash Selection criteria allowed for DSR mode",
        ));
    }
    let vip: IpAddr = a
        .external_ip
        .parse()
        .map_err(|_| bad("malformed-service error"))?;
    if !a.private_ip.is_empty() {
        let p = a.private_ip.parse().ok();
        s.private_ip = Some(p.ok_or_else(|| bad("malformed-service privateIP error"))?);
    }
    if s.inactive_timeout > MAX_INACTIVE_TIMEOUT {
        return Err(bad("service-args error"));
    } else if s.inactive_timeout == 0 {
        s.inactive_timeout = if matches!(s.protocol.as_str(), "tcp" | "sctp") {
            DEFAULT_INACTIVE_TIMEOUT
        } else {
            DEFAULT_INACTIVE_NS_TIMEOUT
        };
    }
    Ok(vip)
}

/// Endpoint count, icmp port, proxy protocol and protocol; returns the protocol number.
fn check_shape(s: &Serv, entry: &LoadbalanceEntry, port: u16) -> Result<u8, Refusal> {
    if entry.endpoints.is_empty() || entry.endpoints.len() > MAX_ENDPOINTS {
        return Err(bad("endpoints-range error"));
    }
    if s.protocol == "icmp" && port != 0 {
        return Err(bad("malformed-service error"));
    }
    if s.ppv2 && s.protocol != "tcp" {
        return Err(bad("proxy-proto-v2 not tcp service error"));
    }
    proto_number(&s.protocol).ok_or_else(|| bad("malformed-proto error"))
}

/// N3 selection, secondary IP count, port range, then the secondary IPs (sorted).
fn check_ports_and_sec_ips(
    s: &Serv,
    entry: &LoadbalanceEntry,
    vip: IpAddr,
    port: u16,
) -> Result<Vec<IpAddr>, Refusal> {
    // The handler passes secondary IPs on for sctp rules only.
    let sec_in: Vec<&str> = if s.protocol == "sctp" {
        entry
            .secondary_ips
            .iter()
            .map(|x| x.secondary_ip.as_str())
            .collect()
    } else {
        Vec::new()
    };
    if s.protocol != "udp" && s.sel == SEL_N3 {
        return Err(bad("non-udp-n3-args error"));
    }
    if sec_in.len() > 3 {
        return Err(bad("secondaryIP-args len error"));
    }
    if s.port_max != 0 && s.port_max < port {
        return Err(bad("serv-port-args range error"));
    }
    let mut sec_ips = Vec::new();
    for t in sec_in {
        let ip: IpAddr = t.parse().map_err(|_| bad("malformed-secIP error"))?;
        if vip.is_ipv4() && ip.is_ipv6() {
            return Err(bad("malformed-secIP nat46 error"));
        }
        sec_ips.push(ip);
    }
    sec_ips.sort_by_key(|ip| sort_key(*ip));
    Ok(sec_ips)
}

/// The endpoints (sorted), each checked against the service.
fn check_endpoints(
    s: &Serv,
    entry: &LoadbalanceEntry,
    vip: IpAddr,
    port: u16,
) -> Result<Vec<RuleEp>, Refusal> {
    let mut eps = Vec::with_capacity(entry.endpoints.len());
    for e in &entry.endpoints {
        let ip: IpAddr = e
            .endpoint_ip
            .parse()
            .map_err(|_| bad("malformed-lbep error"))?;
        if vip.is_ipv4() && ip.is_ipv6() {
            return Err(bad("malformed-service nat46 error"));
        }
        let eport = e.target_port as u16;
        if s.protocol == "icmp" && eport != 0 {
            return Err(bad("malformed-service error"));
        }
        if s.mode == MODE_DSR && eport != port {
            return Err(bad("malformed-service dsr-port error"));
        }
        eps.push(RuleEp::new(ip, eport, e.weight as u8));
    }
    eps.sort_by_key(|e| sort_key(e.ip));
    Ok(eps)
}

/// AddLbRule's rule-level probe checks; a probetype other than none forces `monitor`.
/// `accept_http` is the flipped behaviour of [`Flip::RuleAcceptsHttpProbe`].
fn check_probe(s: &mut Serv, accept_http: bool) -> Result<(), Refusal> {
    if s.probetype.is_empty() {
        if s.probeport != 0 {
            return Err(bad("malformed-service-pport error"));
        }
        return Ok(());
    }
    let http = accept_http && s.probetype == "http";
    if !http
        && !matches!(
            s.probetype.as_str(),
            "sctp" | "tcp" | "udp" | "ping" | "none"
        )
    {
        return Err(bad("malformed-service-ptype error"));
    }
    let needs_port = http || matches!(s.probetype.as_str(), "sctp" | "tcp" | "udp");
    if needs_port && s.probeport == 0 || !needs_port && s.probeport != 0 {
        return Err(bad("malformed-service-pport error"));
    }
    if s.probetype != "none" {
        s.monitor = true;
    }
    Ok(())
}

/// LoxiLB sorts endpoints and secondary IPs (stably) by their IPv4 value; IPv6 addresses
/// all sort as 0 and so keep their posted order.
fn sort_key(ip: IpAddr) -> u32 {
    match ip {
        IpAddr::V4(a) => u32::from(a),
        IpAddr::V6(_) => 0,
    }
}
