//! LoxiLB load-balancer rules: create, update of an existing rule, delete, listing
//! (AddLbRule, DeleteLbRule and GetLBRule of pkg/loxinet/rules.go, v0.9.8+).
//!
//! A POST for an existing key is an update only when something AddLbRule compares changed
//! (endpoints, probe options, sel, mode, proxy protocol, allowed sources); otherwise it is a
//! 409 `lbrule-exists error`. An update stores the probe options, sel, mode, inactive timeout
//! and allowed sources but keeps what creation chose: name, monitor, managed, bgp, privateIP
//! and the NAT action (dnat or fullnat), so `mode` may be listed as fullnat on a rule that
//! still does dnat. See rules_check.rs for the checks, rules_eps.rs and rules_probes.rs for
//! endpoints and their probes, rule_table.rs for the stored form.

use std::net::IpAddr;

use serde_json::json;

use super::answer::{ok_json, success, Answer};
use super::rule_table::{listed_port_max, NatKind, Rule};
use super::rules_check::{
    check, proto_number, Candidate, Refusal, RuleKey, MAX_ENDPOINTS, MODE_FULLPROXY,
};
use super::rules_eps::{consolidate, Merged, OPER_DETACH};
use super::sim::Sim;
use crate::error::ApiError;
use crate::model::LoadbalanceEntry;

/// The load-balancer rule calls of the LoxiLB API, already bound from HTTP (path and
/// query integers cast to LoxiLB's narrower types by the handlers).
#[derive(Debug, Clone)]
pub(crate) enum RuleOp {
    /// POST /config/loadbalancer, after swagger validation.
    Add(Box<LoadbalanceEntry>),
    /// GET /config/loadbalancer/all.
    List,
    /// DELETE /config/loadbalancer/all.
    DeleteAll,
    /// DELETE /config/loadbalancer/name/{name}.
    DeleteName(String),
    /// DELETE by externalipaddress/port[/portmax]/protocol (+ hosturl, block).
    Delete {
        ip: String,
        port: u16,
        port_max: u16,
        proto: String,
        block: u32,
        host: String,
    },
}

/// Answer one rule call.
pub(crate) fn handle(sim: &mut Sim, op: RuleOp) -> Result<Answer, ApiError> {
    match op {
        RuleOp::Add(entry) => {
            let result = sim.lb_post(*entry)?;
            Ok(ok_json(&json!({ "result": result })))
        }
        RuleOp::List => {
            let body = serde_json::to_vec(&json!({ "lbAttr": sim.lb_entries() }));
            Ok((200, body.unwrap_or_default()))
        }
        RuleOp::DeleteAll => {
            sim.lb_delete_all();
            Ok(success())
        }
        // ConfigDeleteLoadbalancerByName answers Success whether or not a rule matched.
        RuleOp::DeleteName(name) => {
            sim.lb_delete_name(&name);
            Ok(success())
        }
        RuleOp::Delete {
            ip,
            port,
            port_max,
            proto,
            block,
            host,
        } => {
            let host = if host == "any" { "" } else { host.as_str() };
            sim.lb_delete(&ip, port, port_max, &proto, block, host)?;
            Ok(success())
        }
    }
}

/// Whether a rule with this mode/monitor makes its probe entries probe (activateProbe).
fn activates(mode: i64, monitor: bool) -> bool {
    monitor || matches!(mode, 1 | 2 | 5)
}

/// What a successful POST answers: LoxiLB's `result`.
pub(crate) type Posted = &'static str;

impl Sim {
    /// POST /config/loadbalancer after swagger validation.
    pub fn lb_post(&mut self, entry: LoadbalanceEntry) -> Result<Posted, ApiError> {
        let c = match check(&entry, self.flip()) {
            Ok(c) => c,
            Err(Refusal::Result(text)) => return Ok(text),
            Err(Refusal::Error(e)) => return Err(e),
        };
        if self.rules.map.contains_key(&c.key) {
            return self.lb_update(c).map(|()| "Success");
        }
        if c.serv.oper == OPER_DETACH {
            return Err(ApiError::Loxilb("lbrule not-exists error".into()));
        }
        self.lb_create(c).map(|()| "Success")
    }

    fn lb_create(&mut self, c: Candidate) -> Result<(), ApiError> {
        let Some(num) = self.rules.marker.get() else {
            return Err(ApiError::Loxilb("rule-hwm error".into()));
        };
        let mut sources = Vec::new();
        for p in &c.sources {
            match self.rules.firewall.add_source(p, num) {
                Some(canon) => sources.push(canon),
                None => {
                    self.rules.marker.release(num);
                    for s in &sources {
                        self.rules.firewall.delete_source(s);
                    }
                    return Err(ApiError::Loxilb("rule-allowed-src error".into()));
                }
            }
        }
        let live = activates(c.serv.mode, c.serv.monitor);
        let mut rule = Rule {
            num,
            nat: NatKind::of_mode(c.serv.mode),
            serv: c.serv,
            eps: c.eps,
            sec_ips: c.sec_ips,
            sources,
        };
        let src_rule = rule.clone();
        self.eps_acquire(&src_rule.probe_source(), &mut rule.eps, live);
        if rule.serv.port_max != 0 {
            self.rules
                .firewall
                .add_lb_range(c.key.ip, c.key.port, rule.serv.port_max, c.key.proto);
        }
        self.rules.map.insert(c.key, rule);
        Ok(())
    }

    /// The existing-rule branch of AddLbRule, in its order of checks.
    fn lb_update(&mut self, mut c: Candidate) -> Result<(), ApiError> {
        let exists = |t: &str| Err(ApiError::Loxilb(t.to_string()));
        let Some(rule) = self.rules.map.get_mut(&c.key) else {
            return exists("lbrule not-exists error");
        };
        if !same_ips(&rule.sec_ips, &c.sec_ips) {
            return exists("secIP modify error");
        }
        let mut m = consolidate(&mut rule.eps, &mut c.eps, c.serv.oper);
        let (o, n) = (&rule.serv, &c.serv);
        let security_differs = o.security != n.security;
        let egress_differs = o.egress != n.egress;
        let fullproxy_differs = (o.mode == MODE_FULLPROXY) != (n.mode == MODE_FULLPROXY);
        if !update_changes(rule, &c, m.changed) {
            return exists("lbrule-exists error");
        }
        if security_differs {
            return exists("lbrule-exist error: cant modify rule security mode");
        }
        if egress_differs {
            return exists("lbrule-exist error: cant modify rule egress mode");
        }
        if m.eps.is_empty() {
            return self.lb_delete_serv(&c.key, c.serv.port_max);
        }
        if fullproxy_differs {
            return exists("lbrule-exist error: cant modify fullproxy rule mode");
        }
        let Some(rule) = self.rules.map.get(&c.key) else {
            return exists("lbrule not-exists error");
        };
        if m.eps.len() > MAX_ENDPOINTS {
            // Too many: every stored endpoint is dropped and the posted list taken as is.
            m.dropped = rule.eps.clone();
            m.eps = c.eps.clone();
            for e in m.eps.iter_mut() {
                e.hidden = false;
                e.ep_created = false;
            }
        }
        self.replace_sources(&c.key, &c.sources)?;
        self.store_update(&c, m);
        Ok(())
    }

    /// An update's allowed sources replace the rule's (all or nothing).
    fn replace_sources(&mut self, key: &RuleKey, posted: &[String]) -> Result<(), ApiError> {
        let Some(rule) = self.rules.map.get_mut(key) else {
            return Err(ApiError::Loxilb("lbrule not-exists error".into()));
        };
        let num = rule.num;
        let old_sources = std::mem::take(&mut rule.sources);
        let mut sources = Vec::new();
        for p in posted {
            match self.rules.firewall.add_source(p, num) {
                Some(canon) => sources.push(canon),
                None => {
                    for s in &sources {
                        self.rules.firewall.delete_source(s);
                    }
                    if let Some(rule) = self.rules.map.get_mut(key) {
                        rule.sources = old_sources;
                    }
                    return Err(ApiError::Loxilb("rule-allowed-src error".into()));
                }
            }
        }
        for s in &old_sources {
            self.rules.firewall.delete_source(s);
        }
        if let Some(rule) = self.rules.map.get_mut(key) {
            rule.sources = sources;
        }
        Ok(())
    }

    /// Store what an update changes and move the probe references to the new endpoints.
    fn store_update(&mut self, c: &Candidate, mut m: Merged) {
        let Some(rule) = self.rules.map.get_mut(&c.key) else {
            return;
        };
        let s = &mut rule.serv;
        s.probetype = c.serv.probetype.clone();
        s.probeport = c.serv.probeport;
        s.probereq = c.serv.probereq.clone();
        s.proberesp = c.serv.proberesp.clone();
        s.probe_retries = c.serv.probe_retries;
        s.probe_timeout = c.serv.probe_timeout;
        s.ppv2 = c.serv.ppv2;
        s.sel = c.serv.sel;
        s.mode = c.serv.mode;
        s.inactive_timeout = c.serv.inactive_timeout;
        rule.eps = Vec::new();
        let src_rule = rule.clone();
        // activateProbe comes from the posted mode and monitor, not the stored ones.
        let live = activates(c.serv.mode, c.serv.monitor);
        self.eps_release(&src_rule.serv.protocol, &mut m.dropped);
        self.eps_acquire(&src_rule.probe_source(), &mut m.eps, live);
        if let Some(rule) = self.rules.map.get_mut(&c.key) {
            rule.eps = m.eps;
        }
    }

    /// DeleteLbRule for a key, with the portMax the caller passed (0 from the routes
    /// without portmax and from listings of single-port rules).
    fn lb_delete_serv(&mut self, key: &RuleKey, port_max: u16) -> Result<(), ApiError> {
        let Some(mut rule) = self.rules.map.remove(key) else {
            return Err(ApiError::Loxilb("no-rule error".into()));
        };
        self.rules.marker.release(rule.num);
        let proto = rule.serv.protocol.clone();
        self.eps_release(&proto, &mut rule.eps);
        if port_max != 0 {
            self.rules
                .firewall
                .delete_lb_range(key.ip, key.port, port_max, key.proto);
        }
        for s in &rule.sources {
            self.rules.firewall.delete_source(s);
        }
        Ok(())
    }

    /// DELETE by externalIP/port[/portmax]/protocol (+ block, host URL).
    pub fn lb_delete(
        &mut self,
        ip: &str,
        port: u16,
        port_max: u16,
        proto: &str,
        block: u32,
        host: &str,
    ) -> Result<(), ApiError> {
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| ApiError::Loxilb("malformed-service error".into()))?;
        if port_max != 0 && port_max < port {
            return Err(ApiError::Loxilb("serv-port-args range error".into()));
        }
        let Some(proto) = proto_number(proto) else {
            return Err(ApiError::Loxilb("malformed-proto error".into()));
        };
        let key = RuleKey {
            ip,
            port,
            port_max: if port_max == 0 { port } else { port_max },
            proto,
            block,
            host: host.to_string(),
        };
        self.lb_delete_serv(&key, port_max)
    }

    /// DELETE /config/loadbalancer/name/{name}: deletes every listed rule with that name,
    /// each with the listed portMax; LoxiLB answers Success even when none matched.
    pub fn lb_delete_name(&mut self, name: &str) {
        let keys: Vec<RuleKey> = self
            .rules
            .map
            .iter()
            .filter(|(_, r)| r.serv.name == name)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &keys {
            let _ = self.lb_delete_serv(k, listed_port_max(k));
        }
    }

    /// DELETE /config/loadbalancer/all, through the listing like LoxiLB.
    pub fn lb_delete_all(&mut self) {
        let keys: Vec<RuleKey> = self.rules.map.keys().cloned().collect();
        for k in &keys {
            let _ = self.lb_delete_serv(k, listed_port_max(k));
        }
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
        let Some(proto) = proto_number(proto) else {
            return false;
        };
        let mut hit = false;
        if let Some(rule) = self
            .rules
            .map
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

/// Whether AddLbRule sees a change in a re-post: the endpoints, probe options, sel,
/// mode, proxy protocol, or the allowed sources. LoxiLB flags a source change only when
/// no stored prefix differs from a posted one: with one source, re-posting it is a change
/// and posting another is not.
fn update_changes(rule: &Rule, c: &Candidate, eps_changed: bool) -> bool {
    let (o, n) = (&rule.serv, &c.serv);
    let changed = eps_changed
        || o.probetype != n.probetype
        || o.probeport != n.probeport
        || o.probereq != n.probereq
        || o.proberesp != n.proberesp
        || o.sel != n.sel
        || o.mode != n.mode
        || o.ppv2 != n.ppv2
        || c.sources.len() != rule.sources.len();
    changed
        || c.sources
            .iter()
            .any(|p| !rule.sources.iter().any(|s| s != p))
}

/// reflect.DeepEqual of the sorted secondary IP lists (IPv4 and its IPv6-mapped form are
/// the same 16 bytes in Go).
fn same_ips(a: &[IpAddr], b: &[IpAddr]) -> bool {
    let canon = |ip: &IpAddr| match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => *v6,
    };
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| canon(x) == canon(y))
}
