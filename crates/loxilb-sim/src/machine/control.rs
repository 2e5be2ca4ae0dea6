//! The test knobs that act on LoxiLB's configuration itself (as an operator or a crash
//! would): restart without config, rule deletes behind the client's back, scripted probes
//! and counters, and read-only views of what LoxiLB does not list.
//!
//! They are state-machine operations like the API calls, so a test can also drive them
//! without a server; the knobs that shape transport (latency, faults, resets) are the
//! runtime's.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::effect::Effect;
use super::ep_host::{make_key, Endpoint, ProbeOpts, PROBE_TYPES};
use super::firewall::FirewallEntry;
use super::rules_list::RuleInfo;
use super::sim::Sim;

/// An endpoint inserted without probing (scale tests).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptedEndpoint {
    pub host: String,
    pub probe_type: String,
    pub port: u16,
    /// "ok", "nok" or "red".
    pub state: String,
    #[serde(default)]
    pub name: Option<String>,
}

impl ScriptedEndpoint {
    /// The never-probed endpoint this describes; None for an unknown probe type or state.
    fn endpoint(self) -> Option<Endpoint> {
        if !PROBE_TYPES.contains(&self.probe_type.as_str())
            || !matches!(self.state.as_str(), "ok" | "nok" | "red")
        {
            return None;
        }
        let key = match &self.name {
            Some(n) if !n.is_empty() => n.clone(),
            _ => make_key(&self.host, &self.probe_type, self.port),
        };
        let opts = ProbeOpts {
            probe_type: self.probe_type,
            port: self.port,
            req: String::new(),
            resp: String::new(),
            duration: 60,
            retries: 2,
        };
        let mut ep = Endpoint::new(key, self.host, opts);
        ep.init = false;
        ep.inactive = self.state == "nok";
        ep.red = self.state == "red";
        Some(ep)
    }
}

impl Sim {
    /// LoxiLB restarted at `now` without saved config: rules, probes (and their checks)
    /// and tokens are gone, and the process start time changes.
    pub fn restart_empty(&mut self, now: Instant) {
        let keys: Vec<String> = self.endpoints.keys().cloned().collect();
        for key in keys {
            self.emit(Effect::CancelCheck { key });
        }
        self.endpoints.clear();
        self.rules = Default::default();
        self.tokens.clear();
        self.boot = now;
    }

    /// Delete every rule named `name`, as an operator with loxicmd would; false when none
    /// had that name.
    pub fn delete_rule_named(&mut self, name: &str) -> bool {
        let had = self.rules.map.values().any(|r| r.serv.name == name);
        self.lb_delete_name(name);
        had
    }

    /// Bulk-insert endpoints that are never probed. Entries with an unknown probe type or
    /// state are skipped; returns how many were inserted.
    pub fn script_endpoints(&mut self, eps: Vec<ScriptedEndpoint>) -> usize {
        let mut n = 0;
        for ep in eps.into_iter().filter_map(ScriptedEndpoint::endpoint) {
            self.ep_script(ep);
            n += 1;
        }
        n
    }

    /// The entries of GET /config/endpoint/all as JSON values.
    pub fn endpoint_values(&self) -> Vec<serde_json::Value> {
        self.endpoints
            .values()
            .filter_map(|e| serde_json::to_value(e.entry()).ok())
            .collect()
    }

    /// The entries of GET /config/loadbalancer/all as JSON values.
    pub fn rule_values(&self) -> Vec<serde_json::Value> {
        self.lb_entries()
            .iter()
            .filter_map(|r| serde_json::to_value(r).ok())
            .collect()
    }

    /// Rule internals LoxiLB does not list (number, NAT action, hidden endpoints).
    pub fn rule_info(&self) -> Vec<RuleInfo> {
        self.lb_info()
    }

    /// Firewall entries LB rules created (port ranges, allowed sources).
    pub fn firewall_entries(&self) -> Vec<FirewallEntry> {
        self.rules.firewall.entries.keys().cloned().collect()
    }
}
