//! LoxiLB load-balancer rules: validation, create/update (oper 0 replace, 1 attach,
//! 2 detach), delete, listing, and the probes rules create for their endpoints.
//!
//! Follows LoxiLB's AddNatLbRule: a POST for an existing key is an update only if the
//! endpoints (IP, port, weight), `sel`, `mode` or the probe options (`probetype`, `probeport`,
//! `probereq`, `proberesp`) change; otherwise it answers 409 `lbrule-exists error` (so changing
//! only e.g. `name` or `inactiveTimeOut` of an existing rule is a 409 too). An update keeps
//! `name`, `monitor`, `managed`, `block` etc. of the existing rule and stores the new probe
//! options, `sel`, `mode` and `inactiveTimeOut`.
//!
//! Rules with `monitor` (forced on by a `probetype` other than `none`) or mode onearm(1) /
//! fullnat(2) / hostonearm(5) reference one probe per endpoint, keyed
//! `<endpointIP>_<proto>_<targetPort>` (`ping`, port 0, for icmp). Only `monitor` rules let
//! the probe drive the endpoint `state` they report (as LoxiLB syncs state only for them).

use std::net::IpAddr;

use crate::endpoints::{make_key, ProbeOpts};
use crate::error::ApiError;
use crate::model::{LbEndpointWire, LoadbalanceEntry, ServiceArgs};
use crate::state::State;

/// LoxiLB's DflLbaInactiveTries and DflHostProbeTimeout.
const DEFAULT_RULE_RETRIES: u32 = 2;
const DEFAULT_RULE_DURATION: u32 = 60;
const MODE_FULLPROXY: i64 = 4;
const MODE_DSR: i64 = 3;
const MODE_HOSTONEARM: i64 = 5;

/// What identifies a rule: externalIP, port range, protocol, block and host URL.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RuleKey {
    pub ip: IpAddr,
    pub port: u16,
    /// Upper end of the port range; equals `port` when no range was given.
    pub port_max: u16,
    pub proto: String,
    pub block: u32,
    pub host: String,
}

/// One endpoint (arm) of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleEp {
    pub ip: IpAddr,
    pub port: u16,
    pub weight: u8,
    pub packets: u64,
    pub bytes: u64,
}

/// A stored rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    /// Normalised arguments as listed (canonical externalIP, oper 0).
    pub args: ServiceArgs,
    pub eps: Vec<RuleEp>,
    pub secondary_ips: Vec<crate::model::SecondaryIp>,
    pub allowed_sources: Vec<crate::model::AllowedSource>,
    /// Probe keys this rule holds one reference on.
    pub probe_keys: Vec<String>,
}

fn bad(text: &str) -> ApiError {
    ApiError::BadArgs(text.to_string())
}

fn u16_arg(v: i64, text: &str) -> Result<u16, ApiError> {
    u16::try_from(v).map_err(|_| bad(text))
}

/// A validated POST body.
struct Candidate {
    key: RuleKey,
    args: ServiceArgs,
    eps: Vec<RuleEp>,
    oper: i64,
    entry: LoadbalanceEntry,
}

fn validate(entry: LoadbalanceEntry) -> Result<Candidate, ApiError> {
    let mut a = entry.service_arguments.clone();
    let ip: IpAddr = a
        .external_ip
        .parse()
        .map_err(|_| bad("malformed-service error"))?;
    if !a.private_ip.is_empty() && a.private_ip.parse::<IpAddr>().is_err() {
        return Err(bad("malformed-service privateIP error"));
    }
    let port = u16_arg(a.port, "malformed-service error")?;
    let port_max = u16_arg(a.port_max, "malformed-service error")?;
    if port_max != 0 && port_max < port {
        return Err(bad("malformed-service error"));
    }
    let block = u32::try_from(a.block).map_err(|_| bad("malformed-service error"))?;
    if !(0..=6).contains(&a.sel)
        || !(0..=5).contains(&a.mode)
        || !(0..=2).contains(&a.security)
        || !(0..=2).contains(&a.oper)
        || a.inactive_time_out < 0
        || a.probe_timeout < 0
        || a.probe_retries < 0
    {
        return Err(bad("malformed-service error"));
    }
    let probe_port = u16_arg(a.probeport, "malformed-service-pport error")?;
    if !a.probetype.is_empty() {
        if !["sctp", "tcp", "udp", "ping", "none", "http", "https"].contains(&a.probetype.as_str())
        {
            return Err(bad("malformed-service-ptype error"));
        }
        let needs_port = matches!(a.probetype.as_str(), "sctp" | "tcp" | "udp");
        let no_port = matches!(a.probetype.as_str(), "none" | "ping");
        if (needs_port && probe_port == 0) || (no_port && probe_port != 0) {
            return Err(bad("malformed-service-pport error"));
        }
        if a.probetype != "none" {
            a.monitor = true;
        }
    } else if probe_port != 0 {
        return Err(bad("malformed-service-pport error"));
    }
    if u32::try_from(a.probe_retries).map_or(true, |r| r > 100) {
        return Err(bad("malformed-service error"));
    }
    if entry.endpoints.is_empty() {
        return Err(bad("endpoints-range error"));
    }
    if !["tcp", "udp", "sctp", "icmp"].contains(&a.protocol.as_str()) {
        return Err(bad("malformed-proto error"));
    }
    if a.protocol == "icmp" && port != 0 {
        return Err(bad("malformed-service error"));
    }
    if a.protocol != "sctp" && !entry.secondary_ips.is_empty() {
        return Err(bad("secondaryIP-args error"));
    }
    if entry.secondary_ips.len() > 3 {
        return Err(bad("secondaryIP-args len error"));
    }
    for s in &entry.secondary_ips {
        if s.secondary_ip.parse::<IpAddr>().is_err() {
            return Err(bad("malformed-secIP error"));
        }
    }
    if a.mode == MODE_HOSTONEARM && !ip.is_unspecified() {
        return Err(bad("hostarm-args error"));
    }
    let mut eps = Vec::with_capacity(entry.endpoints.len());
    for e in &entry.endpoints {
        let eip: IpAddr = e
            .endpoint_ip
            .parse()
            .map_err(|_| bad("malformed-lbep error"))?;
        if ip.is_ipv4() && eip.is_ipv6() {
            return Err(bad("malformed-service nat46 error"));
        }
        let eport = u16_arg(e.target_port, "malformed-lbep error")?;
        if a.protocol == "icmp" && eport != 0 {
            return Err(bad("malformed-service error"));
        }
        if a.mode == MODE_DSR && eport != port {
            return Err(bad("malformed-service dsr-port error"));
        }
        let weight = u8::try_from(e.weight).map_err(|_| bad("malformed-weight error"))?;
        eps.push(RuleEp {
            ip: eip,
            port: eport,
            weight,
            packets: 0,
            bytes: 0,
        });
    }
    eps.sort_by_key(|e| (e.ip, e.port));
    eps.dedup_by(|x, y| x.ip == y.ip && x.port == y.port);
    let oper = a.oper;
    a.external_ip = ip.to_string();
    a.oper = 0;
    let key = RuleKey {
        ip,
        port,
        port_max: if port_max == 0 { port } else { port_max },
        proto: a.protocol.clone(),
        block,
        host: a.host.clone(),
    };
    Ok(Candidate {
        key,
        args: a,
        eps,
        oper,
        entry,
    })
}

/// Merge posted endpoints into existing ones per `oper`; returns (changed, result).
fn merge(old: &[RuleEp], new: &[RuleEp], oper: i64) -> (bool, Vec<RuleEp>) {
    let same = |a: &RuleEp, b: &RuleEp| a.ip == b.ip && a.port == b.port;
    if oper == 2 {
        let kept: Vec<RuleEp> = old
            .iter()
            .filter(|o| !new.iter().any(|n| same(o, n)))
            .cloned()
            .collect();
        return (kept.len() != old.len(), kept);
    }
    let mut changed = false;
    let mut out = Vec::with_capacity(old.len() + new.len());
    for o in old {
        match new.iter().find(|n| same(o, n)) {
            Some(n) => {
                let mut e = o.clone();
                if e.weight != n.weight {
                    e.weight = n.weight;
                    changed = true;
                }
                out.push(e);
            }
            None if oper == 1 => out.push(o.clone()),
            None => changed = true,
        }
    }
    for n in new {
        if !old.iter().any(|o| same(o, n)) {
            out.push(n.clone());
            changed = true;
        }
    }
    (changed, out)
}

fn probe_opts_differ(a: &ServiceArgs, b: &ServiceArgs) -> bool {
    a.probetype != b.probetype
        || a.probeport != b.probeport
        || a.probereq != b.probereq
        || a.proberesp != b.proberesp
}

/// Whether a rule with these arguments creates probes for its endpoints.
fn creates_probes(a: &ServiceArgs) -> bool {
    a.monitor || matches!(a.mode, 1 | 2 | 5)
}

/// Protocol part and port of the probe key for an endpoint of a rule with `proto`.
fn key_proto(proto: &str, ep_port: u16) -> (&'static str, u16) {
    match proto {
        "tcp" => ("tcp", ep_port),
        "udp" => ("udp", ep_port),
        "sctp" => ("sctp", ep_port),
        _ => ("ping", 0),
    }
}

/// The probes (key, host, options) a rule refers to, one per distinct key.
fn probe_specs(a: &ServiceArgs, eps: &[RuleEp]) -> Vec<(String, String, ProbeOpts)> {
    if !creates_probes(a) {
        return Vec::new();
    }
    let mut out: Vec<(String, String, ProbeOpts)> = Vec::new();
    for e in eps {
        let (p, pport) = key_proto(&a.protocol, e.port);
        let host = e.ip.to_string();
        let key = make_key(&host, p, pport);
        if out.iter().any(|(k, _, _)| *k == key) {
            continue;
        }
        let mut opts = ProbeOpts {
            probe_type: p.to_string(),
            port: pport,
            req: String::new(),
            resp: String::new(),
            duration: u32::try_from(a.probe_timeout)
                .ok()
                .filter(|d| *d > 0)
                .unwrap_or(DEFAULT_RULE_DURATION),
            retries: u32::try_from(a.probe_retries)
                .ok()
                .filter(|r| *r > 0)
                .unwrap_or(DEFAULT_RULE_RETRIES),
        };
        if !a.probetype.is_empty() {
            opts.probe_type = a.probetype.clone();
            opts.port = u16::try_from(a.probeport).unwrap_or(0);
            if opts.port == 0 && matches!(a.probetype.as_str(), "http" | "https") {
                opts.port = e.port;
            }
            opts.req = a.probereq.clone();
            opts.resp = a.proberesp.clone();
        }
        out.push((key, host, opts));
    }
    out
}

impl State {
    /// POST /config/loadbalancer.
    pub fn lb_post(&mut self, entry: LoadbalanceEntry) -> Result<(), ApiError> {
        let c = validate(entry)?;
        let Some(existing) = self.rules.get(&c.key) else {
            if c.oper == 2 {
                return Err(ApiError::NotFound("lbrule not-exists error".into()));
            }
            return self.lb_create(c);
        };
        let old = &existing.args;
        let (eps_changed, new_eps) = merge(&existing.eps, &c.eps, c.oper);
        let changed = eps_changed
            || probe_opts_differ(old, &c.args)
            || old.sel != c.args.sel
            || old.mode != c.args.mode;
        if !changed {
            return Err(ApiError::Conflict("lbrule-exists error".into()));
        }
        if old.security != c.args.security {
            return Err(ApiError::Conflict(
                "lbrule-exist error: cant modify rule security mode".into(),
            ));
        }
        if new_eps.is_empty() {
            self.lb_remove(&c.key);
            return Ok(());
        }
        if (old.mode == MODE_FULLPROXY) != (c.args.mode == MODE_FULLPROXY) {
            return Err(ApiError::Conflict(
                "lbrule-exist error: cant modify fullproxy rule mode".into(),
            ));
        }
        if old.egress != c.args.egress {
            return Err(ApiError::Conflict(
                "lbrule-exist error: cant modify rule egress mode".into(),
            ));
        }
        let Some(mut rule) = self.rules.remove(&c.key) else {
            return Err(ApiError::Status(500, "lbrule vanished".into()));
        };
        let opts_changed = probe_opts_differ(&rule.args, &c.args)
            || rule.args.probe_timeout != c.args.probe_timeout
            || rule.args.probe_retries != c.args.probe_retries
            || rule.args.mode != c.args.mode;
        rule.args.probetype = c.args.probetype.clone();
        rule.args.probeport = c.args.probeport;
        rule.args.probereq = c.args.probereq.clone();
        rule.args.proberesp = c.args.proberesp.clone();
        rule.args.probe_timeout = c.args.probe_timeout;
        rule.args.probe_retries = c.args.probe_retries;
        rule.args.sel = c.args.sel;
        rule.args.mode = c.args.mode;
        rule.args.inactive_time_out = c.args.inactive_time_out;
        rule.eps = new_eps;
        let specs = probe_specs(&rule.args, &rule.eps);
        let new_keys: Vec<String> = specs.iter().map(|(k, _, _)| k.clone()).collect();
        for k in &rule.probe_keys {
            if opts_changed || !new_keys.contains(k) {
                self.ep_release(k);
            }
        }
        for (k, host, opts) in &specs {
            if opts_changed || !rule.probe_keys.contains(k) {
                self.ep_acquire(k, host, opts);
            }
        }
        rule.probe_keys = new_keys;
        self.rules.insert(c.key, rule);
        Ok(())
    }

    fn lb_create(&mut self, c: Candidate) -> Result<(), ApiError> {
        let specs = probe_specs(&c.args, &c.eps);
        for (k, host, opts) in &specs {
            self.ep_acquire(k, host, opts);
        }
        let rule = Rule {
            args: c.args,
            eps: c.eps,
            secondary_ips: c.entry.secondary_ips,
            allowed_sources: c.entry.allowed_sources,
            probe_keys: specs.into_iter().map(|(k, _, _)| k).collect(),
        };
        self.rules.insert(c.key, rule);
        Ok(())
    }

    /// Remove a rule and release its probes.
    fn lb_remove(&mut self, key: &RuleKey) -> bool {
        let Some(rule) = self.rules.remove(key) else {
            return false;
        };
        for k in &rule.probe_keys {
            self.ep_release(k);
        }
        true
    }

    /// DELETE by externalIP/port[/portmax]/protocol (+ block, host URL).
    pub fn lb_delete(
        &mut self,
        ip: &str,
        port: &str,
        port_max: Option<&str>,
        proto: &str,
        block: u32,
        host: &str,
    ) -> Result<(), ApiError> {
        let ip: IpAddr = ip.parse().map_err(|_| bad("malformed-service error"))?;
        let port: u16 = port.parse().map_err(|_| bad("malformed-service error"))?;
        let port_max: u16 = match port_max {
            Some(p) => p.parse().map_err(|_| bad("malformed-service error"))?,
            None => 0,
        };
        if !["tcp", "udp", "sctp", "icmp"].contains(&proto) {
            return Err(bad("malformed-proto error"));
        }
        let key = RuleKey {
            ip,
            port,
            port_max: if port_max == 0 { port } else { port_max },
            proto: proto.to_string(),
            block,
            host: host.to_string(),
        };
        if self.lb_remove(&key) {
            Ok(())
        } else {
            Err(ApiError::NotFound("no-rule error".into()))
        }
    }

    /// DELETE /config/loadbalancer/name/{name}: every rule with that name.
    pub fn lb_delete_name(&mut self, name: &str) -> Result<(), ApiError> {
        let keys: Vec<RuleKey> = self
            .rules
            .iter()
            .filter(|(_, r)| r.args.name == name)
            .map(|(k, _)| k.clone())
            .collect();
        if keys.is_empty() {
            return Err(ApiError::NotFound("no-rule error".into()));
        }
        for k in &keys {
            self.lb_remove(k);
        }
        Ok(())
    }

    /// DELETE /config/loadbalancer/all.
    pub fn lb_delete_all(&mut self) {
        let keys: Vec<RuleKey> = self.rules.keys().cloned().collect();
        for k in &keys {
            self.lb_remove(k);
        }
    }

    /// Listing entries: endpoint `state` follows the probe for monitored rules.
    pub fn lb_entries(&self) -> Vec<LoadbalanceEntry> {
        self.rules
            .values()
            .map(|r| {
                let endpoints = r
                    .eps
                    .iter()
                    .map(|e| {
                        let up = !r.args.monitor || {
                            let (p, pport) = key_proto(&r.args.protocol, e.port);
                            self.endpoints
                                .get(&make_key(&e.ip.to_string(), p, pport))
                                .is_none_or(|ep| ep.is_up())
                        };
                        LbEndpointWire {
                            endpoint_ip: e.ip.to_string(),
                            target_port: i64::from(e.port),
                            weight: i64::from(e.weight),
                            state: if up { "active" } else { "inactive" }.to_string(),
                            counter: format!("{}:{}", e.packets, e.bytes),
                        }
                    })
                    .collect();
                LoadbalanceEntry {
                    service_arguments: r.args.clone(),
                    endpoints,
                    secondary_ips: r.secondary_ips.clone(),
                    allowed_sources: r.allowed_sources.clone(),
                }
            })
            .collect()
    }

    /// Set an endpoint's traffic counter on the first rule matching ip/port/protocol.
    pub fn lb_set_counter(
        &mut self,
        external_ip: &str,
        port: u16,
        proto: &str,
        endpoint_ip: &str,
        packets: u64,
        bytes: u64,
    ) -> bool {
        let (Ok(ip), Ok(eip)) = (external_ip.parse::<IpAddr>(), endpoint_ip.parse::<IpAddr>())
        else {
            return false;
        };
        let mut hit = false;
        if let Some(rule) = self
            .rules
            .iter_mut()
            .find(|(k, _)| k.ip == ip && k.port == port && k.proto == proto)
            .map(|(_, r)| r)
        {
            for e in rule.eps.iter_mut().filter(|e| e.ip == eip) {
                e.packets = packets;
                e.bytes = bytes;
                hit = true;
            }
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(ip: &str, port: u16, weight: u8) -> RuleEp {
        RuleEp {
            ip: ip.parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            port,
            weight,
            packets: 0,
            bytes: 0,
        }
    }

    #[test]
    fn merge_replace_attach_detach() {
        let old = vec![ep("10.0.0.1", 80, 1), ep("10.0.0.2", 80, 1)];
        let (c, out) = merge(&old, &old, 0);
        assert!(!c);
        assert_eq!(out, old);
        let (c, out) = merge(&old, &[ep("10.0.0.3", 80, 1)], 0);
        assert!(c);
        assert_eq!(out, vec![ep("10.0.0.3", 80, 1)]);
        let (c, out) = merge(&old, &[ep("10.0.0.3", 80, 1)], 1);
        assert!(c);
        assert_eq!(out.len(), 3);
        let (c, out) = merge(&old, &[ep("10.0.0.1", 80, 9)], 1);
        assert!(c, "weight change is a change");
        assert_eq!(out[0].weight, 9);
        let (c, out) = merge(&old, &[ep("10.0.0.1", 80, 1)], 2);
        assert!(c);
        assert_eq!(out, vec![ep("10.0.0.2", 80, 1)]);
        let (c, _) = merge(&old, &[ep("10.9.9.9", 80, 1)], 2);
        assert!(!c);
    }

    #[test]
    fn probe_specs_keys_and_overrides() {
        let mut a = ServiceArgs {
            protocol: "tcp".into(),
            monitor: true,
            ..Default::default()
        };
        let eps = vec![ep("10.0.0.1", 8080, 1)];
        let s = probe_specs(&a, &eps);
        assert_eq!(s[0].0, "10.0.0.1_tcp_8080");
        assert_eq!((s[0].2.duration, s[0].2.retries), (60, 2));
        a.probetype = "http".into();
        a.probeport = 81;
        a.probereq = "/health".into();
        a.probe_timeout = 5;
        a.probe_retries = 3;
        let s = probe_specs(&a, &eps);
        assert_eq!(s[0].0, "10.0.0.1_tcp_8080", "key keeps the rule protocol");
        assert_eq!(s[0].2.probe_type, "http");
        assert_eq!((s[0].2.port, s[0].2.duration, s[0].2.retries), (81, 5, 3));
        a.protocol = "icmp".into();
        assert_eq!(
            probe_specs(&a, &[ep("10.0.0.1", 0, 1)])[0].0,
            "10.0.0.1_ping_0"
        );
        let plain = ServiceArgs {
            protocol: "tcp".into(),
            ..Default::default()
        };
        assert!(probe_specs(&plain, &eps).is_empty());
        let fullnat = ServiceArgs { mode: 2, ..plain };
        assert_eq!(probe_specs(&fullnat, &eps).len(), 1);
    }
}
