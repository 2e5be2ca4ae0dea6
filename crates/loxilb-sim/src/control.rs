//! In-process control of a running simulator: fault injection, latency, resets, maintenance,
//! restarts, scripted endpoints/counters, and the request log and counters.
//!
//! Control calls never go through latency, faults, maintenance or auth and are not recorded.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::endpoints::{make_key, Endpoint, ProbeOpts, PROBE_TYPES};
use crate::state::{lock, Boot, Shared};

/// An injected failure: matching API calls answer `status` with LoxiLB's error body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    pub status: u16,
    /// Probability (0..=1) that a matching request fails.
    pub rate: f64,
    /// HTTP method to match (case-insensitive); None matches all.
    #[serde(default)]
    pub method: Option<String>,
    /// Path prefix relative to /netlox/v1, e.g. "/config/endpoint"; None matches all.
    #[serde(default)]
    pub path_prefix: Option<String>,
    /// How many more times it may fire; None is unlimited.
    #[serde(default)]
    pub remaining: Option<u64>,
}

/// One API request as the simulator saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    /// Path relative to /netlox/v1 (e.g. "/config/endpoint"), like [`Fault::path_prefix`].
    pub path: String,
    /// Raw query string without '?'.
    pub query: Option<String>,
    /// Parsed JSON body; a non-JSON body is kept as a JSON string; None when empty.
    pub body: Option<serde_json::Value>,
    /// Status answered; 0 when the connection was cut without a response.
    pub status: u16,
    /// The client's User-Agent (the coordinator names its instance there, so a
    /// test can tell which of several instances sent what). LoxiLB ignores it.
    #[serde(default)]
    pub user_agent: Option<String>,
}

/// Request counters since start (not reset by `restart_empty` or `clear_requests`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub total: u64,
    /// Keyed by "METHOD /route/template", e.g. "DELETE /config/endpoint/epipaddress/{ip_address}".
    pub by_route: BTreeMap<String, u64>,
    /// Keyed by HTTP status (0 = connection cut).
    pub by_status: BTreeMap<u16, u64>,
    /// Requests whose connection was cut.
    pub resets: u64,
}

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

/// Cloneable handle on a simulator's state, usable from any task or thread.
#[derive(Clone)]
pub struct Control {
    pub(crate) shared: Arc<Shared>,
}

impl Control {
    /// Delay applied to every API call before it is answered.
    pub fn set_latency(&self, d: Duration) {
        self.shared.knobs.set_latency(d);
    }

    /// Add a fault; faults are checked in insertion order and the first that fires wins.
    pub fn add_fault(&self, f: Fault) {
        lock(&self.shared.knobs.faults).push(f);
    }

    pub fn clear_faults(&self) {
        lock(&self.shared.knobs.faults).clear();
    }

    /// Add a targeted connection cut (see [`crate::Interruption`]); checked after the
    /// random resets and before the faults, in insertion order.
    pub fn add_interruption(&self, i: crate::Interruption) {
        lock(&self.shared.knobs.interruptions).push(i);
    }

    pub fn clear_interruptions(&self) {
        lock(&self.shared.knobs.interruptions).clear();
    }

    /// Delete every rule named `name` behind the client's back (as an operator with
    /// loxicmd would); false when none had that name.
    pub fn delete_rule_named(&self, name: &str) -> bool {
        let mut st = lock(&self.shared.state);
        let had = st.rules.map.values().any(|r| r.serv.name == name);
        st.lb_delete_name(name);
        had
    }

    /// Fraction of API requests whose connection is closed without a response.
    pub fn set_reset_rate(&self, rate: f64) {
        self.shared.knobs.set_reset_rate(rate);
    }

    /// When on, every API call answers 503 with LoxiLB's error body.
    pub fn set_maintenance(&self, on: bool) {
        self.shared.knobs.set_maintenance(on);
    }

    /// LoxiLB restarted without saved config: rules, endpoints, probers and tokens are gone
    /// and the start time / boot id change.
    pub fn restart_empty(&self) {
        let (endpoints, rules) = {
            let mut st = lock(&self.shared.state);
            st.boot = Boot::new();
            (
                std::mem::take(&mut st.endpoints),
                std::mem::take(&mut st.rules),
            )
        };
        // Dropped outside the lock: dropping endpoints aborts their probers.
        drop((endpoints, rules));
        lock(&self.shared.tokens).clear();
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log).requests.iter().cloned().collect()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.log).requests.clear();
    }

    pub fn counters(&self) -> Counters {
        lock(&self.shared.log).counters.clone()
    }

    /// Zero the counters (extra to the brief; handy between benchmark phases).
    pub fn reset_counters(&self) {
        lock(&self.shared.log).counters = Counters::default();
    }

    /// Same JSON as the entries of GET /config/endpoint/all.
    pub fn endpoints(&self) -> Vec<serde_json::Value> {
        let st = lock(&self.shared.state);
        st.endpoints
            .values()
            .filter_map(|e| serde_json::to_value(e.entry()).ok())
            .collect()
    }

    /// Rule internals LoxiLB does not list (number, NAT action, hidden endpoints).
    pub fn rule_info(&self) -> Vec<crate::RuleInfo> {
        lock(&self.shared.state).lb_info()
    }

    /// Firewall entries LB rules created (port ranges, allowed sources).
    pub fn firewall(&self) -> Vec<crate::FirewallEntry> {
        let st = lock(&self.shared.state);
        st.rules.firewall.entries.keys().cloned().collect()
    }

    /// Same JSON as the entries of GET /config/loadbalancer/all.
    pub fn rules(&self) -> Vec<serde_json::Value> {
        let st = lock(&self.shared.state);
        st.lb_entries()
            .iter()
            .filter_map(|r| serde_json::to_value(r).ok())
            .collect()
    }

    /// Bulk-insert endpoints that are never probed. Entries with an unknown probe type or
    /// state are skipped; returns how many were inserted.
    pub fn script_endpoints(&self, eps: Vec<ScriptedEndpoint>) -> usize {
        let mut st = lock(&self.shared.state);
        let mut n = 0;
        for s in eps {
            if !PROBE_TYPES.contains(&s.probe_type.as_str())
                || !matches!(s.state.as_str(), "ok" | "nok" | "red")
            {
                continue;
            }
            let key = match &s.name {
                Some(n) if !n.is_empty() => n.clone(),
                _ => make_key(&s.host, &s.probe_type, s.port),
            };
            let opts = ProbeOpts {
                probe_type: s.probe_type,
                port: s.port,
                req: String::new(),
                resp: String::new(),
                duration: 60,
                retries: 2,
            };
            let mut ep = Endpoint::new(key, s.host, opts);
            ep.init = false;
            ep.inactive = s.state == "nok";
            ep.red = s.state == "red";
            st.ep_script(ep);
            n += 1;
        }
        n
    }

    /// Force an endpoint's currState ("ok", "nok", "red"); false if key or state is unknown.
    /// A live prober overwrites ok/nok with its next result.
    pub fn set_endpoint_state(&self, key: &str, state: &str) -> bool {
        lock(&self.shared.state).ep_force_state(key, state)
    }

    /// Set the "<packets>:<bytes>" counter of `endpoint_ip` in the first rule matching
    /// external_ip/port/protocol; false if nothing matched.
    pub fn set_counter(
        &self,
        external_ip: &str,
        port: u16,
        protocol: &str,
        endpoint_ip: &str,
        packets: u64,
        bytes: u64,
    ) -> bool {
        lock(&self.shared.state).lb_set_counter(
            external_ip,
            port,
            protocol,
            endpoint_ip,
            packets,
            bytes,
        )
    }
}
