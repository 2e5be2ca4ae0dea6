//! Health monitor × member → LoxiLB endpoint probe ("probe want").
//!
//! The probe's name is its [`ProbeKey`], `<member address>_<rule protocol>_<member port>`,
//! because that is the only key a LoxiLB rule consults for its endpoint; the probe itself
//! may target another host/port (`monitor_address`/`monitor_port`) and another type (an
//! HTTP monitor on a tcp rule).
//!
//! Timing: LoxiLB has one knob, `probeDuration` (the interval), and no per-probe timeout;
//! a probe must finish before the next one starts. So the interval is the monitor's `delay`
//! but at least `timeout + 1` s: `probeDuration = clamp(max(delay, timeout + 1), 1, 86400)`
//! (86400 is LoxiLB's limit). `inactiveReTries` is Octavia's `max_retries_down` (failures
//! before a member goes down), else `max_retries`, else the configured default, clamped to
//! LoxiLB's 1..=100.
//!
//! HTTP(S): LoxiLB requests `"<scheme>://<host>:<port>/" + probeReq` (epCheckNow), so
//! `probeReq` is the monitor's `url_path` without its leading `/`: "/health" is sent as
//! "health" and LoxiLB requests exactly "/health". An HTTP probe (a HEAD) passes only on
//! status 200 and ignores `probeResp`; an HTTPS probe (a GET) passes only on 200 and,
//! when `probeResp` is set, only if the whole body equals it. Octavia has no body
//! expectation, so `probeResp` is always empty; ingress refuses expected codes other than
//! 200 and methods other than GET/HEAD, which LoxiLB cannot check.

use crate::loxilb::types::{probe_key, EndPoint, ServiceArguments};
use crate::model::{HealthMonitor, Member, MonitorType};

use super::l4::pool_rule_proto;
use super::tree::LbTree;
use super::MappingOptions;

/// LoxiLB's limits on probe options.
const MAX_DURATION: u32 = 86_400;
const MAX_RETRIES: u32 = 100;
/// What LoxiLB gives a probe it creates for a rule (DflHostProbeTimeout, DflLbaInactiveTries).
pub const RULE_PROBE_DURATION: u32 = 60;
pub const RULE_PROBE_RETRIES: u32 = 2;

/// The identity of a LoxiLB probe as rules look it up.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProbeKey {
    /// The rule endpoint's address (the member address, not its monitor address).
    pub host: String,
    /// The rule's protocol: tcp, udp, sctp (ping for icmp rules).
    pub proto: String,
    /// The endpoint's target port (0 for ping).
    pub port: u16,
}

impl ProbeKey {
    /// `<host>_<proto>_<port>`, the probe's LoxiLB name.
    pub fn name(&self) -> String {
        probe_key(&self.host, &self.proto, self.port)
    }

    /// Inverse of [`ProbeKey::name`]; `None` when the text is not of that form. IPv6
    /// addresses contain no `_`, so splitting at the last two `_` is unambiguous.
    pub fn parse(name: &str) -> Option<ProbeKey> {
        let (rest, port) = name.rsplit_once('_')?;
        let (host, proto) = rest.rsplit_once('_')?;
        if host.is_empty() || proto.is_empty() {
            return None;
        }
        Some(ProbeKey {
            host: host.to_owned(),
            proto: proto.to_owned(),
            port: port.parse().ok()?,
        })
    }
}

/// One monitored member's wish for the probe under `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeWant {
    pub key: ProbeKey,
    pub endpoint: EndPoint,
    pub healthmonitor_id: String,
    pub member_id: String,
    pub pool_id: String,
}

/// A key and the probe options for it, before ids are attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProbeSpec {
    pub key: ProbeKey,
    pub endpoint: EndPoint,
}

/// Interval and failure count of a monitor's probes.
pub(crate) struct Timing {
    pub duration: u32,
    pub retries: u32,
}

pub(crate) fn timing(hm: &HealthMonitor, opts: &MappingOptions) -> Timing {
    let delay = hm.delay.unwrap_or(opts.default_delay);
    let timeout = hm.timeout.unwrap_or(opts.default_timeout);
    let retries = hm
        .max_retries_down
        .or(hm.max_retries)
        .map(u32::from)
        .unwrap_or(opts.default_max_retries);
    Timing {
        duration: delay.max(timeout.saturating_add(1)).clamp(1, MAX_DURATION),
        retries: retries.clamp(1, MAX_RETRIES),
    }
}

/// LoxiLB probe type for a monitor type. TLS-HELLO (refused at ingress) degrades to a TCP
/// connect; a missing type means the rule protocol's own probe.
fn probe_type(t: Option<MonitorType>, rule_proto: &str) -> String {
    match t {
        Some(MonitorType::Http) => "http",
        Some(MonitorType::Https) => "https",
        Some(MonitorType::Tcp | MonitorType::TlsHello) => "tcp",
        Some(MonitorType::UdpConnect) => "udp",
        Some(MonitorType::Sctp) => "sctp",
        Some(MonitorType::Ping) => "ping",
        None => rule_proto,
    }
    .to_owned()
}

/// The probe a monitor wants for one member; `None` when the member lacks an address or
/// port (nothing to key the probe by).
pub(crate) fn spec_for(
    hm: &HealthMonitor,
    m: &Member,
    rule_proto: &str,
    opts: &MappingOptions,
) -> Option<ProbeSpec> {
    let address = m.address?;
    let port = m.protocol_port?;
    let key = ProbeKey {
        host: address.to_string(),
        proto: rule_proto.to_owned(),
        port,
    };
    let ptype = probe_type(hm.r#type, rule_proto);
    let t = timing(hm, opts);
    let http = matches!(ptype.as_str(), "http" | "https");
    let endpoint = EndPoint {
        host_name: m.monitor_address.unwrap_or(address).to_string(),
        name: key.name(),
        probe_port: if ptype == "ping" {
            0
        } else {
            // Port 0 is not a port LoxiLB can probe; read it as "not set".
            m.monitor_port.filter(|p| *p != 0).unwrap_or(port)
        },
        probe_req: if http {
            probe_req(hm.url_path.as_deref())
        } else {
            String::new()
        },
        probe_resp: String::new(),
        probe_type: ptype,
        probe_duration: t.duration,
        inactive_retries: t.retries,
    };
    Some(ProbeSpec { key, endpoint })
}

/// `probeReq` for a monitor's `url_path` (default "/"): LoxiLB prefixes it with "/",
/// so the leading "/" is dropped to make it request exactly `url_path`.
pub(crate) fn probe_req(url_path: Option<&str>) -> String {
    let path = url_path.unwrap_or("/");
    path.strip_prefix('/').unwrap_or(path).to_owned()
}

/// Every probe want of a load balancer: one per admin-up member (drained ones included, so
/// their health is still known) of each admin-up pool with an admin-up monitor.
pub(crate) fn wants_for_lb(tree: &LbTree, opts: &MappingOptions) -> Vec<ProbeWant> {
    if !tree.lb_up() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for pool in tree
        .pools
        .iter()
        .filter(|p| p.admin_state_up.unwrap_or(true))
    {
        let Some(hm) = tree
            .monitor_of(pool)
            .filter(|h| h.admin_state_up.unwrap_or(true))
        else {
            continue;
        };
        let Some(proto) = pool_rule_proto(tree, pool) else {
            continue;
        };
        for m in tree.members_of(pool) {
            if !m.admin_state_up.unwrap_or(true) {
                continue;
            }
            if let Some(spec) = spec_for(hm, m, proto, opts) {
                out.push(ProbeWant {
                    key: spec.key,
                    endpoint: spec.endpoint,
                    healthmonitor_id: hm.healthmonitor_id.clone(),
                    member_id: m.member_id.clone(),
                    pool_id: pool.pool_id.clone(),
                });
            }
        }
    }
    out
}

/// The probe LoxiLB itself creates for a rule endpoint with this key when the rule sets no
/// probe options: type = rule protocol, the endpoint port, 60 s, 2 tries. Used to put a
/// probe back when LoxiLB refuses its deletion (409 "LB Rule-referred").
pub fn rule_default_probe(key: &ProbeKey) -> EndPoint {
    EndPoint {
        host_name: key.host.clone(),
        name: key.name(),
        probe_type: key.proto.clone(),
        probe_port: if key.proto == "ping" { 0 } else { key.port },
        probe_req: String::new(),
        probe_resp: String::new(),
        probe_duration: RULE_PROBE_DURATION,
        inactive_retries: RULE_PROBE_RETRIES,
    }
}

/// The probe a rule with these arguments creates for its endpoint `key`: the defaults of
/// [`rule_default_probe`] with the rule's own probe options laid over them (as LoxiLB
/// does). Prefer this over the defaults when the referring rule is known.
pub fn rule_referred_probe(args: &ServiceArguments, key: &ProbeKey) -> EndPoint {
    let mut ep = rule_default_probe(key);
    if args.probe_timeout > 0 {
        ep.probe_duration = args.probe_timeout;
    }
    if let Ok(r) = u32::try_from(args.probe_retries) {
        if r > 0 {
            ep.inactive_retries = r;
        }
    }
    if !args.probetype.is_empty() {
        ep.probe_type = args.probetype.clone();
        ep.probe_port = args.probeport;
        if ep.probe_port == 0 && matches!(ep.probe_type.as_str(), "http" | "https") {
            ep.probe_port = key.port;
        }
        ep.probe_req = args.probereq.clone();
        ep.probe_resp = args.proberesp.clone();
    }
    ep
}

#[cfg(test)]
mod tests;
