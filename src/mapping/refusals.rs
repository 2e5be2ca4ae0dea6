//! The rule bodies LoxiLB is known to refuse, checked before any call.
//!
//! A re-create deletes a rule before posting its successor; if LoxiLB then refuses the
//! successor, the listener has no rule at all until the old one is restored. So every
//! rule body is held against LoxiLB's own checks first (docs/loxilb-compat.md:
//! ConfigPostLoadbalancer and AddLbRule in the order LoxiLB makes them), and a change
//! that cannot succeed is refused before anything is deleted. Only what depends on the
//! body alone is checked here; refusals that depend on the node's other rules (rule
//! numbers past 28 for allowed sources, capacity) cannot be foreseen.

use std::net::IpAddr;

use crate::loxilb::types::{LoadbalanceEntry, Mode, Oper, Sel};

/// LoxiLB's MaxLBEndPoints.
const MAX_ENDPOINTS: usize = 32;
/// LoxiLB's LbMaxInactiveTimeout (seconds).
const MAX_INACTIVE_TIMEOUT: i32 = 24 * 3600;

/// LoxiLB's refusal text for `entry`, if it would refuse it (None: it may accept it).
pub fn known_refusal(entry: &LoadbalanceEntry) -> Option<String> {
    let a = &entry.service_arguments;
    if a.mode == Mode::Dsr && a.sel != Sel::Hash {
        return Some("Error: Only Hash Selection criteria allowed for DSR mode".into());
    }
    if a.external_ip.parse::<IpAddr>().is_err() {
        return Some("malformed-service error".into());
    }
    if a.inactive_timeout < 0 || a.inactive_timeout > MAX_INACTIVE_TIMEOUT {
        return Some("service-args error".into());
    }
    match a.probetype.as_str() {
        "" if a.probeport != 0 => return Some("malformed-service-pport error".into()),
        "" => {}
        "tcp" | "udp" | "sctp" if a.probeport == 0 => {
            return Some("malformed-service-pport error".into())
        }
        "none" | "ping" if a.probeport != 0 => return Some("malformed-service-pport error".into()),
        "tcp" | "udp" | "sctp" | "none" | "ping" => {}
        _ => return Some("malformed-service-ptype error".into()),
    }
    let n = entry.endpoints.len();
    let detach = a.oper == Oper::Detach;
    if n == 0 || (n > MAX_ENDPOINTS && !detach) {
        return Some("endpoints-range error".into());
    }
    if !matches!(a.protocol.as_str(), "tcp" | "udp" | "sctp" | "icmp") {
        return Some("malformed-proto error".into());
    }
    if a.port_max != 0 && a.port_max < a.port {
        return Some("serv-port-args range error".into());
    }
    let v4 = a.external_ip.parse::<IpAddr>().is_ok_and(|ip| ip.is_ipv4());
    for e in &entry.endpoints {
        let Ok(ip) = e.endpoint_ip.parse::<IpAddr>() else {
            return Some("malformed-lbep error".into());
        };
        if v4 && ip.is_ipv6() {
            return Some("malformed-service nat46 error".into());
        }
        if a.mode == Mode::Dsr && e.target_port != a.port {
            return Some("malformed-service dsr-port error".into());
        }
    }
    if entry
        .allowed_sources
        .iter()
        .any(|s| s.prefix.parse::<ipnet::IpNet>().is_err())
    {
        return Some("rule-allowed-src error".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loxilb::types::{AllowedSource, LbEndpoint, ServiceArguments};

    fn rule(n: usize) -> LoadbalanceEntry {
        LoadbalanceEntry {
            service_arguments: ServiceArguments {
                external_ip: "10.0.0.1".into(),
                port: 80,
                protocol: "tcp".into(),
                name: "octavia-l".into(),
                ..ServiceArguments::default()
            },
            endpoints: (0..n)
                .map(|i| LbEndpoint {
                    endpoint_ip: format!("10.1.0.{}", i + 1),
                    target_port: 8080,
                    weight: 1,
                    state: None,
                    counter: None,
                })
                .collect(),
            secondary_ips: Vec::new(),
            allowed_sources: Vec::new(),
        }
    }

    /// The checks of handler ConfigPostLoadbalancer and rules.go AddLbRule that depend on
    /// the body alone, with LoxiLB's texts.
    #[test]
    fn bodies_loxilb_refuses_are_named_with_its_text() {
        assert_eq!(known_refusal(&rule(1)), None);
        assert_eq!(known_refusal(&rule(32)), None);
        assert_eq!(
            known_refusal(&rule(33)).as_deref(),
            Some("endpoints-range error")
        );
        assert_eq!(
            known_refusal(&rule(0)).as_deref(),
            Some("endpoints-range error")
        );
        let with = |f: &dyn Fn(&mut LoadbalanceEntry)| {
            let mut r = rule(2);
            f(&mut r);
            known_refusal(&r).unwrap_or_default()
        };
        assert_eq!(
            with(&|r| r.service_arguments.probetype = "http".into()),
            "malformed-service-ptype error"
        );
        assert_eq!(
            with(&|r| r.service_arguments.probetype = "tcp".into()),
            "malformed-service-pport error"
        );
        assert_eq!(
            with(&|r| {
                r.service_arguments.probetype = "tcp".into();
                r.service_arguments.probeport = 8080;
            }),
            ""
        );
        assert_eq!(
            with(&|r| r.service_arguments.mode = Mode::Dsr),
            "Error: Only Hash Selection criteria allowed for DSR mode"
        );
        assert_eq!(
            with(&|r| {
                r.service_arguments.mode = Mode::Dsr;
                r.service_arguments.sel = Sel::Hash;
            }),
            "malformed-service dsr-port error"
        );
        assert_eq!(
            with(&|r| r.service_arguments.inactive_timeout = 86_401),
            "service-args error"
        );
        assert_eq!(
            with(&|r| r.allowed_sources = vec![AllowedSource {
                prefix: "10.0.0.0".into()
            }]),
            "rule-allowed-src error"
        );
        assert_eq!(
            with(&|r| r.endpoints[0].endpoint_ip = "2001:db8::1".into()),
            "malformed-service nat46 error"
        );
    }
}
