//! Listener → LoxiLB load-balancer rule.
//!
//! A rule is keyed in LoxiLB by (externalIP, port range, protocol); we set `portMax = port`
//! (a single port) because that is how LoxiLB lists a rule posted with `portMax` 0 too, so
//! a read-back rule compares equal to what we posted.
//!
//! The rule carries the pool's health-monitor options (`probetype`, `probeport`, `probereq`,
//! `proberesp`, `probeTimeout`, `probeRetries`) so that the probes LoxiLB creates for the
//! rule's endpoints already have the right options: in the common case no separate
//! `POST /config/endpoint` is needed. LoxiLB rejects a tcp/udp/sctp `probetype` with
//! `probeport` 0 and applies one `probeport` to every endpoint, so the rule names a probe
//! type only when it can describe every endpoint's probe (see [`rule_probe_options`]); the
//! per-member probes ([`super::probe`]) then correct the rest (monitor address, differing
//! monitor ports).

use std::net::IpAddr;

use serde::Deserialize;

use crate::config::NatMode;
use crate::loxilb::types::{
    AllowedSource, LbEndpoint, LoadbalanceEntry, Mode, Oper, Sel, ServiceArguments,
};
use crate::model::{
    HealthMonitor, LbAlgorithm, Listener, ListenerProtocol, Member, Pool, PoolProtocol,
    SessionPersistenceType,
};

use super::probe::{self, ProbeSpec};
use super::tree::LbTree;
use super::{DesiredRule, MappingOptions};

/// Prefix of every rule name the coordinator owns. Octavia ids are UUIDs, so names stay
/// far below any practical length limit (the swagger sets none).
pub const RULE_NAME_PREFIX: &str = "octavia-";

/// The name of the rule that serves a listener.
pub fn rule_name(listener_id: &str) -> String {
    format!("{RULE_NAME_PREFIX}{listener_id}")
}

/// The listener id a rule name was made from; `None` for names we did not make.
pub fn listener_of_rule_name(name: &str) -> Option<&str> {
    name.strip_prefix(RULE_NAME_PREFIX)
        .filter(|id| !id.is_empty())
}

/// Whether a rule (e.g. from a LoxiLB listing) is one the coordinator created.
pub fn is_ours_rule(entry: &LoadbalanceEntry) -> bool {
    listener_of_rule_name(&entry.service_arguments.name).is_some()
}

/// LoxiLB's rule protocol for a listener protocol. HTTP(S) are served at L4 as tcp.
pub(crate) fn listener_l4(p: ListenerProtocol) -> &'static str {
    match p {
        ListenerProtocol::Udp => "udp",
        ListenerProtocol::Sctp => "sctp",
        ListenerProtocol::Tcp
        | ListenerProtocol::Http
        | ListenerProtocol::Https
        | ListenerProtocol::TerminatedHttps
        | ListenerProtocol::Prometheus => "tcp",
    }
}

/// LoxiLB's protocol for a pool protocol (Octavia pairs pools only with listeners of the
/// same transport, so this agrees with [`listener_l4`]).
pub(crate) fn pool_l4(p: PoolProtocol) -> &'static str {
    match p {
        PoolProtocol::Udp => "udp",
        PoolProtocol::Sctp => "sctp",
        PoolProtocol::Tcp
        | PoolProtocol::Http
        | PoolProtocol::Https
        | PoolProtocol::Proxy
        | PoolProtocol::Proxyv2 => "tcp",
    }
}

/// The protocol of the rule(s) a pool serves, which is the protocol part of its members'
/// probe keys: the protocol of a listener using it as default pool (smallest listener id),
/// else the pool's own (they agree in any configuration Octavia accepts).
pub(crate) fn pool_rule_proto(tree: &LbTree, pool: &Pool) -> Option<&'static str> {
    tree.listeners
        .iter()
        .filter(|l| tree.default_pool_of(l).map(|p| p.pool_id.as_str()) == Some(&pool.pool_id))
        .filter_map(|l| l.protocol.map(|p| (&l.listener_id, listener_l4(p))))
        .min()
        .map(|(_, proto)| proto)
        .or(pool.protocol.map(pool_l4))
}

/// The LB flavor's `lb_algorithm` when it names one (the provider plugin's
/// `validate_flavor` refuses other values; anything else is ignored here).
fn flavor_algorithm(tree: &LbTree) -> Option<LbAlgorithm> {
    let value = tree.lb.flavor.as_ref()?.get("lb_algorithm")?;
    LbAlgorithm::deserialize(value).ok()
}

/// Selection algorithm. SOURCE_IP session persistence (the only kind ingress accepts)
/// asks for stickiness per client address, which is LoxiLB's `persist`, and wins over
/// any algorithm; otherwise the flavor's `lb_algorithm` replaces the pool's own.
fn sel_of(pool: &Pool, flavor_algorithm: Option<LbAlgorithm>) -> Sel {
    if let Some(sp) = &pool.session_persistence {
        if sp.r#type == SessionPersistenceType::SourceIp {
            return Sel::Persist;
        }
    }
    match flavor_algorithm.or(pool.lb_algorithm) {
        None | Some(LbAlgorithm::RoundRobin) => Sel::RoundRobin,
        Some(LbAlgorithm::LeastConnections) => Sel::LeastConnections,
        Some(LbAlgorithm::SourceIp | LbAlgorithm::SourceIpPort) => Sel::Hash,
    }
}

/// Mode: the LB flavor's `nat_mode` when it names a valid mode, else the configured one.
/// An invalid flavor value is ignored here; refusing it is ingress's job.
fn mode_of(tree: &LbTree, opts: &MappingOptions) -> Mode {
    let nat = tree
        .lb
        .flavor
        .as_ref()
        .and_then(|f| f.get("nat_mode"))
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse::<NatMode>().ok())
        .unwrap_or(opts.nat_mode);
    Mode::from(i64::from(nat.loxilb_mode()))
}

/// Octavia's `timeout_client_data` is milliseconds, LoxiLB's `inactiveTimeOut` seconds:
/// round up so a short non-zero timeout never becomes "no timeout" (0 = LoxiLB default).
fn inactive_timeout(listener: &Listener) -> i32 {
    let ms = listener.timeout_client_data.unwrap_or(0);
    i32::try_from(ms.div_ceil(1000)).unwrap_or(i32::MAX)
}

/// Whether a member takes new flows: admin up and a positive weight (0 = draining).
pub(crate) fn member_serves(m: &Member) -> bool {
    m.admin_state_up.unwrap_or(true) && m.weight.unwrap_or(1) > 0
}

fn endpoint_of(m: &Member) -> Option<LbEndpoint> {
    Some(LbEndpoint {
        endpoint_ip: m.address?.to_string(),
        target_port: m.protocol_port?,
        weight: u32::from(m.weight.unwrap_or(1)),
        state: None,
        counter: None,
    })
}

/// Rule-level probe options for the members that are endpoints, or `None` when the rule
/// should leave LoxiLB's defaults (probe type = rule protocol on the endpoint port).
///
/// - http/https: `probeport` 0 means "the endpoint's port" to LoxiLB, so it is 0 when every
///   member is probed on its own port, else the common monitor port if all share one, else
///   0 (per-member probes fix the rest).
/// - tcp/udp/sctp: LoxiLB needs a non-zero `probeport`, so the type is named only when all
///   members are probed on one port; otherwise the defaults stand and per-member probes
///   carry the real type and port.
/// - ping: port 0.
fn rule_probe_options(specs: &[(ProbeSpec, u16)]) -> Option<(String, u16, String, String)> {
    let (first, _) = specs.first()?;
    let ports: Vec<u16> = specs.iter().map(|(s, _)| s.endpoint.probe_port).collect();
    let common = ports.iter().all(|p| *p == ports[0]).then_some(ports[0]);
    let own_ports = specs
        .iter()
        .all(|(s, target)| s.endpoint.probe_port == *target);
    let ptype = first.endpoint.probe_type.clone();
    let port = match ptype.as_str() {
        "ping" => 0,
        "http" | "https" if own_ports => 0,
        "http" | "https" => common.unwrap_or(0),
        _ => match common {
            Some(p) if p != 0 => p,
            _ => return None,
        },
    };
    Some((
        ptype,
        port,
        first.endpoint.probe_req.clone(),
        first.endpoint.probe_resp.clone(),
    ))
}

/// The rule's `monitor` and probe options from the pool's (admin-up) monitor.
fn apply_monitor(
    args: &mut ServiceArguments,
    hm: &HealthMonitor,
    serving: &[&Member],
    opts: &MappingOptions,
) {
    args.monitor = true;
    let specs: Vec<(ProbeSpec, u16)> = serving
        .iter()
        .filter_map(|m| {
            let spec = probe::spec_for(hm, m, &args.protocol, opts)?;
            Some((spec, m.protocol_port?))
        })
        .collect();
    let timing = probe::timing(hm, opts);
    args.probe_timeout = timing.duration;
    args.probe_retries = i32::try_from(timing.retries).unwrap_or(i32::MAX);
    if let Some((ptype, port, req, resp)) = rule_probe_options(&specs) {
        args.probetype = ptype;
        args.probeport = port;
        args.probereq = req;
        args.proberesp = resp;
    }
}

/// The rule for one listener, or `None` when it must not exist (see the module docs).
fn rule_for_listener(
    tree: &LbTree,
    listener: &Listener,
    vip: IpAddr,
    opts: &MappingOptions,
) -> Option<DesiredRule> {
    if !listener.admin_state_up.unwrap_or(true) {
        return None;
    }
    let pool = tree.default_pool_of(listener)?;
    if !pool.admin_state_up.unwrap_or(true) {
        return None;
    }
    let port = listener.protocol_port?;
    let protocol = listener
        .protocol
        .map(listener_l4)
        .or(pool.protocol.map(pool_l4))?;
    let serving: Vec<&Member> = tree.members_of(pool).filter(|m| member_serves(m)).collect();
    let mut endpoints: Vec<LbEndpoint> = serving.iter().filter_map(|m| endpoint_of(m)).collect();
    if endpoints.is_empty() {
        return None;
    }
    endpoints.sort_by(|a, b| {
        (&a.endpoint_ip, a.target_port, a.weight).cmp(&(&b.endpoint_ip, b.target_port, b.weight))
    });
    let mut allowed_sources: Vec<AllowedSource> = listener
        .allowed_cidrs
        .iter()
        .flatten()
        .map(|c| AllowedSource {
            prefix: c.to_string(),
        })
        .collect();
    allowed_sources.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    allowed_sources.dedup();
    let mut args = ServiceArguments {
        external_ip: vip.to_string(),
        port,
        port_max: port,
        protocol: protocol.to_owned(),
        sel: sel_of(pool, flavor_algorithm(tree)),
        mode: mode_of(tree, opts),
        inactive_timeout: inactive_timeout(listener),
        name: rule_name(&listener.listener_id),
        oper: Oper::Create,
        ..ServiceArguments::default()
    };
    if let Some(hm) = tree
        .monitor_of(pool)
        .filter(|h| h.admin_state_up.unwrap_or(true))
    {
        apply_monitor(&mut args, hm, &serving, opts);
    }
    Some(DesiredRule {
        listener_id: listener.listener_id.clone(),
        pool_id: pool.pool_id.clone(),
        entry: LoadbalanceEntry {
            service_arguments: args,
            endpoints,
            secondary_ips: Vec::new(),
            allowed_sources,
        },
    })
}

/// Every rule of a load balancer (none while it is admin down or has no VIP address).
pub(crate) fn rules_for_lb(tree: &LbTree, opts: &MappingOptions) -> Vec<DesiredRule> {
    let Some(vip) = tree.lb.vip_address.filter(|_| tree.lb_up()) else {
        return Vec::new();
    };
    tree.listeners
        .iter()
        .filter_map(|l| rule_for_listener(tree, l, vip, opts))
        .collect()
}

#[cfg(test)]
mod tests;
