//! GET /config/loadbalancer/all (GetLBRule plus ConfigGetLoadbalancer) and the rule
//! internals that LoxiLB does not list but tests need to see (number, NAT action, hidden
//! endpoints).

use serde::Serialize;

use super::ep_host::make_key;
use super::rule_table::{listed_port_max, NatKind, Rule};
use super::rules_check::RuleKey;
use super::rules_eps::key_proto;
use super::sim::Sim;
use crate::model::{
    AllowedSource, LbEndpointOut, LoadbalanceEntryOut, SecondaryIp, ServiceArgsOut,
};

/// What the simulator knows about a rule beyond the listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleInfo {
    pub external_ip: String,
    pub port: u16,
    pub protocol: String,
    /// LoxiLB's rule number (ruleNum).
    pub number: u64,
    /// "dnat", "fullnat" or "fullproxy": chosen at creation, kept by updates.
    pub nat: &'static str,
    /// Endpoints dropped by oper-0 updates ("ip:port"), kept in the rule but not listed.
    pub hidden_endpoints: Vec<String>,
}

fn nat_name(n: NatKind) -> &'static str {
    match n {
        NatKind::Dnat => "dnat",
        NatKind::FullNat => "fullnat",
        NatKind::FullProxy => "fullproxy",
    }
}

fn some_if<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

impl Sim {
    fn lb_entry(&self, k: &RuleKey, r: &Rule) -> LoadbalanceEntryOut {
        let s = &r.serv;
        let endpoints = r
            .eps
            .iter()
            .filter(|e| !e.hidden)
            .map(|e| {
                // Only monitored rules sync their endpoints' state from the probes.
                let up = !s.monitor || {
                    let (p, port) = key_proto(&s.protocol, e.port);
                    self.endpoints
                        .get(&make_key(&e.ip.to_string(), p, port))
                        .is_none_or(|ep| ep.is_up())
                };
                LbEndpointOut {
                    endpoint_ip: e.ip.to_string(),
                    target_port: i64::from(e.port),
                    weight: i64::from(e.weight),
                    state: if up { "active" } else { "inactive" }.to_string(),
                    counter: format!("{}:{}", e.packets, e.bytes),
                }
            })
            .collect();
        LoadbalanceEntryOut {
            service_arguments: ServiceArgsOut {
                external_ip: k.ip.to_string(),
                port: i64::from(k.port),
                port_max: i64::from(listed_port_max(k)),
                protocol: s.protocol.clone(),
                block: i64::from(k.block),
                sel: s.sel,
                mode: s.mode,
                security: s.security,
                inactive_time_out: s.inactive_timeout,
                bgp: s.bgp,
                monitor: s.monitor,
                managed: s.managed,
                probetype: s.probetype.clone(),
                probeport: i64::from(s.probeport),
                name: s.name.clone(),
                snat: false,
                host: k.host.clone(),
                proxyprotocolv2: s.ppv2,
                egress: s.egress,
            },
            endpoints: some_if(endpoints),
            secondary_ips: some_if(
                r.sec_ips
                    .iter()
                    .map(|ip| SecondaryIp {
                        secondary_ip: ip.to_string(),
                    })
                    .collect(),
            ),
            allowed_sources: some_if(
                r.sources
                    .iter()
                    .map(|p| AllowedSource { prefix: p.clone() })
                    .collect(),
            ),
        }
    }

    /// The `lbAttr` entries of GET /config/loadbalancer/all.
    pub fn lb_entries(&self) -> Vec<LoadbalanceEntryOut> {
        self.rules
            .map
            .iter()
            .map(|(k, r)| self.lb_entry(k, r))
            .collect()
    }

    /// Rule internals for `Control::rule_info`.
    pub fn lb_info(&self) -> Vec<RuleInfo> {
        self.rules
            .map
            .iter()
            .map(|(k, r)| RuleInfo {
                external_ip: k.ip.to_string(),
                port: k.port,
                protocol: r.serv.protocol.clone(),
                number: r.num,
                nat: nat_name(r.nat),
                hidden_endpoints: r
                    .eps
                    .iter()
                    .filter(|e| e.hidden)
                    .map(|e| format!("{}:{}", e.ip, e.port))
                    .collect(),
            })
            .collect()
    }
}
