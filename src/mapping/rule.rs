//! Listener → LoxiLB load-balancer rule.
//!
//! A rule is keyed in LoxiLB by (externalIP, port range, protocol). We send `portMax` 0
//! (a single port): a non-zero `portMax` makes LoxiLB add a firewall entry at creation
//! that a delete by port/protocol or by name never removes (rules.go AddLbRule /
//! DeleteLbRule), and LoxiLB lists single-port rules with `portMax` 0 anyway.
//!
//! Probe options. A rule may only name the probe types tcp, udp, sctp, ping or none
//! (AddLbRule: "malformed-service-ptype error"); HTTP and HTTPS checks exist only as
//! endpoint probes. A rule's options reach only the probes it *creates*: an endpoint
//! whose probe already exists just adds a reference and leaves the probe as it is
//! (modNatEpHost → AddEPHost). The applier therefore posts every probe that the rule
//! cannot describe (http/https, a monitor address, differing monitor ports) *before*
//! the rule, and the rule carries only what LoxiLB accepts: the monitor's type and port
//! when one tcp/udp/sctp/ping probe describes every endpoint, else the defaults (the
//! rule protocol on each endpoint's port), plus interval and retries (`probeTimeout`,
//! `probeRetries`), which LoxiLB applies to the probes it creates in any case.
//!
//! Selection and weights. LoxiLB ignores endpoint weights except with selection
//! `priority`, its weighted round robin: each endpoint gets `weight × slots / 100` of
//! 16 datapath slots (32 before v0.9.8.7), so weights are percentages (LB2DP, the
//! LbSelPrio branch). A ROUND_ROBIN pool whose serving members' weights differ is
//! therefore sent as `priority` with the weights normalised to percentages, as long as
//! it has at most 16 serving members (beyond that some members would get no slot at
//! all); otherwise as `rr` with every weight 1, and the weights have no effect.

use std::net::IpAddr;

use serde::Deserialize;

use crate::config::NatMode;
use crate::loxilb::types::{
    AllowedSource, LbEndpoint, LoadbalanceEntry, Mode, Oper, Sel, ServiceArguments,
};
use crate::model::{HealthMonitor, LbAlgorithm, Listener, Member, Pool, SessionPersistenceType};

use super::l4::{listener_l4, pool_l4};
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

/// The listener id of a rule name that is exactly our pattern, `octavia-<listener
/// uuid>` with Octavia's lowercase canonical UUID; `None` otherwise.
///
/// Only such a name may mark an unrecorded rule as possibly ours: other drivers use
/// the same prefix (octavia-loxilb-driver names rules `octavia-listener-<uuid>`), and
/// deleting their rules cuts their traffic.
pub fn exact_pattern_listener(name: &str) -> Option<&str> {
    name.strip_prefix(RULE_NAME_PREFIX)
        .filter(|id| is_canonical_uuid(id))
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in lowercase hexadecimal.
fn is_canonical_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
}

/// Whether a rule (e.g. from a LoxiLB listing) carries our name prefix. Not proof that
/// the coordinator created it: deletions go by records and [`exact_pattern_listener`].
pub fn is_ours_rule(entry: &LoadbalanceEntry) -> bool {
    listener_of_rule_name(&entry.service_arguments.name).is_some()
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

fn endpoint_of(m: &Member, weight: u32) -> Option<LbEndpoint> {
    Some(LbEndpoint {
        endpoint_ip: m.address?.to_string(),
        target_port: m.protocol_port?,
        weight,
        state: None,
        counter: None,
    })
}

/// Datapath slots LoxiLB's selection `priority` spreads traffic over (MaxLBPrioSlots from
/// v0.9.8.7; 32 before): more serving members than this cannot all get traffic.
pub(crate) const PRIORITY_SLOTS: usize = 16;

/// Octavia weights (1..=256 for serving members) as percentages summing to 100, each at
/// least 1 (largest remainders get the rounding), or `None` when the weights are all
/// equal (plain round robin does the same) or there are too many members for
/// `priority` to honour them.
pub(crate) fn weight_percentages(weights: &[u16]) -> Option<Vec<u32>> {
    let first = *weights.first()?;
    if weights.iter().all(|w| *w == first) || weights.len() > PRIORITY_SLOTS {
        return None;
    }
    let total: u32 = weights.iter().map(|w| u32::from(*w)).sum();
    if total == 0 {
        return None;
    }
    let mut shares: Vec<(usize, u32, u32)> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let scaled = u32::from(*w) * 100;
            (i, (scaled / total).max(1), scaled % total)
        })
        .collect();
    let assigned: u32 = shares.iter().map(|s| s.1).sum();
    // Hand out what rounding down left, largest remainder first (ties: first member).
    shares.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    for s in shares
        .iter_mut()
        .take(100u32.saturating_sub(assigned) as usize)
    {
        s.1 += 1;
    }
    shares.sort_by_key(|s| s.0);
    Some(shares.into_iter().map(|s| s.1).collect())
}

/// Rule-level probe type and port for the members that are endpoints, or `None` when
/// the rule should leave LoxiLB's defaults (probe type = rule protocol on each
/// endpoint's port).
///
/// - http/https: never on a rule (LoxiLB refuses them there); the defaults stand and
///   the applier posts the real probes first.
/// - tcp/udp/sctp: LoxiLB needs a non-zero `probeport` and applies it to every
///   endpoint, so the type is named only when all members are probed on one port.
/// - ping: port 0.
fn rule_probe_options(specs: &[ProbeSpec]) -> Option<(String, u16)> {
    let first = specs.first()?;
    let port = first.endpoint.probe_port;
    let ptype = first.endpoint.probe_type.clone();
    match ptype.as_str() {
        "ping" => Some((ptype, 0)),
        "tcp" | "udp" | "sctp"
            if port != 0 && specs.iter().all(|s| s.endpoint.probe_port == port) =>
        {
            Some((ptype, port))
        }
        _ => None,
    }
}

/// The rule's `monitor` and probe options from the pool's (admin-up) monitor.
fn apply_monitor(
    args: &mut ServiceArguments,
    hm: &HealthMonitor,
    serving: &[&Member],
    opts: &MappingOptions,
) {
    args.monitor = true;
    let specs: Vec<ProbeSpec> = serving
        .iter()
        .filter_map(|m| probe::spec_for(hm, m, &args.protocol, opts))
        .collect();
    let timing = probe::timing(hm, opts);
    args.probe_timeout = timing.duration;
    args.probe_retries = i32::try_from(timing.retries).unwrap_or(i32::MAX);
    if let Some((ptype, port)) = rule_probe_options(&specs) {
        args.probetype = ptype;
        args.probeport = port;
    }
}

/// What a listener's rule is made of, or `None` when it must have no rule: listener
/// or default pool admin down, no default pool, no port or protocol, or no member that
/// can take traffic (LoxiLB deletes a rule left without endpoints).
struct RuleInputs<'a> {
    pool: &'a Pool,
    port: u16,
    protocol: &'static str,
    serving: Vec<&'a Member>,
}

fn rule_inputs<'a>(tree: &'a LbTree, listener: &Listener) -> Option<RuleInputs<'a>> {
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
    let serving: Vec<&Member> = tree
        .members_of(pool)
        .filter(|m| member_serves(m) && m.address.is_some() && m.protocol_port.is_some())
        .collect();
    (!serving.is_empty()).then_some(RuleInputs {
        pool,
        port,
        protocol,
        serving,
    })
}

/// Whether a listener of `tree` is meant to have a LoxiLB rule: the same conditions
/// under which [`rules_for_lb`] makes one (load balancer admin up with a VIP address,
/// and [`rule_inputs`]). Health status uses it to tell "no rule, as intended" from
/// "rule missing".
pub fn listener_expects_rule(tree: &LbTree, listener: &Listener) -> bool {
    tree.lb.vip_address.is_some() && tree.lb_up() && rule_inputs(tree, listener).is_some()
}

/// LoxiLB's key of the rule a listener should have (VIP, port, rule protocol), or
/// `None` when it must have none. LoxiLB identifies rules by this key, not by name:
/// a rule taken over from another driver keeps that driver's name (see
/// docs/ownership.md), so the health poll finds a listener's rule by key too.
pub fn listener_rule_key(
    tree: &LbTree,
    listener: &Listener,
) -> Option<(String, u16, &'static str)> {
    let vip = tree.lb.vip_address?;
    if !tree.lb_up() {
        return None;
    }
    let inputs = rule_inputs(tree, listener)?;
    Some((vip.to_string(), inputs.port, inputs.protocol))
}

/// The rule for one listener, or `None` when it must not exist (see the module docs).
fn rule_for_listener(
    tree: &LbTree,
    listener: &Listener,
    vip: IpAddr,
    opts: &MappingOptions,
) -> Option<DesiredRule> {
    let RuleInputs {
        pool,
        port,
        protocol,
        mut serving,
    } = rule_inputs(tree, listener)?;
    // A fixed order, so the rounding of weight percentages never depends on row order.
    serving.sort_by(|a, b| {
        (a.address, a.protocol_port, &a.member_id).cmp(&(b.address, b.protocol_port, &b.member_id))
    });
    let mut sel = sel_of(pool, flavor_algorithm(tree));
    let weights: Vec<u16> = serving.iter().map(|m| m.weight.unwrap_or(1)).collect();
    let percentages = (sel == Sel::RoundRobin)
        .then(|| weight_percentages(&weights))
        .flatten();
    if percentages.is_some() {
        sel = Sel::Priority;
    }
    let mut endpoints: Vec<LbEndpoint> = serving
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let weight = percentages
                .as_ref()
                .and_then(|p| p.get(i).copied())
                .unwrap_or(1);
            endpoint_of(m, weight)
        })
        .collect();
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
        port_max: 0,
        protocol: protocol.to_owned(),
        sel,
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
