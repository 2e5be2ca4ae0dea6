//! In-process control of a running simulator: fault injection, latency, resets, maintenance,
//! restarts, scripted endpoints/counters, and the request log and counters.
//!
//! Control calls never go through latency, faults, maintenance or auth and are not recorded.
//! Those that touch LoxiLB's configuration are state-machine operations (`machine::control`)
//! run under the lock with their effects carried out, like API calls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::effects::with_sim;
use super::interrupt::Interruption;
use super::knobs::{Counters, Fault, RecordedRequest};
use super::lock::lock;
use super::shared::Shared;
use crate::machine::{FirewallEntry, RuleInfo, ScriptedEndpoint};

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

    /// Add a targeted connection cut (see [`Interruption`]); checked after the
    /// random resets and before the faults, in insertion order.
    pub fn add_interruption(&self, i: Interruption) {
        lock(&self.shared.knobs.interruptions).push(i);
    }

    pub fn clear_interruptions(&self) {
        lock(&self.shared.knobs.interruptions).clear();
    }

    /// Delete every rule named `name` behind the client's back (as an operator with
    /// loxicmd would); false when none had that name.
    pub fn delete_rule_named(&self, name: &str) -> bool {
        with_sim(&self.shared, |sim| sim.delete_rule_named(name))
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
        with_sim(&self.shared, |sim| sim.restart_empty(Instant::now()));
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
        lock(&self.shared.sim).endpoint_values()
    }

    /// Rule internals LoxiLB does not list (number, NAT action, hidden endpoints).
    pub fn rule_info(&self) -> Vec<RuleInfo> {
        lock(&self.shared.sim).rule_info()
    }

    /// Firewall entries LB rules created (port ranges, allowed sources).
    pub fn firewall(&self) -> Vec<FirewallEntry> {
        lock(&self.shared.sim).firewall_entries()
    }

    /// Same JSON as the entries of GET /config/loadbalancer/all.
    pub fn rules(&self) -> Vec<serde_json::Value> {
        lock(&self.shared.sim).rule_values()
    }

    /// Bulk-insert endpoints that are never probed. Entries with an unknown probe type or
    /// state are skipped; returns how many were inserted.
    pub fn script_endpoints(&self, eps: Vec<ScriptedEndpoint>) -> usize {
        with_sim(&self.shared, |sim| sim.script_endpoints(eps))
    }

    /// Force an endpoint's currState ("ok", "nok", "red"); false if key or state is unknown.
    /// A live prober overwrites ok/nok with its next result.
    pub fn set_endpoint_state(&self, key: &str, state: &str) -> bool {
        with_sim(&self.shared, |sim| sim.ep_force_state(key, state))
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
        with_sim(&self.shared, |sim| {
            sim.lb_set_counter(external_ip, port, protocol, endpoint_ip, packets, bytes)
        })
    }
}
