//! The knobs tests turn to shape how API calls are answered (latency, injected faults,
//! connection resets and cuts, maintenance) and the log of requests seen.
//!
//! These model the network and the operator around LoxiLB, not LoxiLB itself, so they
//! live in the runtime, in front of the state machine. Atomics and short-held mutexes
//! only: the in-process `Control` may turn them from any thread.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::interrupt::{matches, spend, Interruption};
use super::lock::lock;

/// Most requests kept in the log; older ones are dropped first.
pub(crate) const MAX_RECORDED: usize = 200_000;

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

/// Test knobs that shape how API calls are answered.
pub(crate) struct Knobs {
    latency_us: AtomicU64,
    reset_rate_bits: AtomicU64,
    maintenance: AtomicBool,
    pub faults: Mutex<Vec<Fault>>,
    pub interruptions: Mutex<Vec<Interruption>>,
}

impl Knobs {
    pub fn new(latency: Duration) -> Self {
        Knobs {
            latency_us: AtomicU64::new(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX)),
            reset_rate_bits: AtomicU64::new(0f64.to_bits()),
            maintenance: AtomicBool::new(false),
            faults: Mutex::new(Vec::new()),
            interruptions: Mutex::new(Vec::new()),
        }
    }
    pub fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(Ordering::Relaxed))
    }
    pub fn set_latency(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.latency_us.store(us, Ordering::Relaxed);
    }
    pub fn reset_rate(&self) -> f64 {
        f64::from_bits(self.reset_rate_bits.load(Ordering::Relaxed))
    }
    pub fn set_reset_rate(&self, rate: f64) {
        self.reset_rate_bits
            .store(clamp_rate(rate).to_bits(), Ordering::Relaxed);
    }
    pub fn maintenance(&self) -> bool {
        self.maintenance.load(Ordering::Relaxed)
    }
    pub fn set_maintenance(&self, on: bool) {
        self.maintenance.store(on, Ordering::Relaxed);
    }

    /// The status of the first fault that matches and fires for this request, if any.
    /// A fault with `remaining == Some(0)` is spent and skipped.
    pub fn fire_fault(&self, method: &str, rel_path: &str) -> Option<u16> {
        let mut faults = lock(&self.faults);
        for f in faults.iter_mut() {
            let applies = matches(
                f.method.as_deref(),
                f.path_prefix.as_deref(),
                f.remaining,
                method,
                rel_path,
            );
            if !applies || !roll(f.rate) {
                continue;
            }
            spend(&mut f.remaining);
            return Some(f.status);
        }
        None
    }
}

/// Clamp a probability to 0..=1 (NaN counts as 0).
pub(crate) fn clamp_rate(rate: f64) -> f64 {
    if rate.is_nan() {
        0.0
    } else {
        rate.clamp(0.0, 1.0)
    }
}

/// True with probability `rate`.
pub(crate) fn roll(rate: f64) -> bool {
    let rate = clamp_rate(rate);
    rate >= 1.0 || (rate > 0.0 && rand::random::<f64>() < rate)
}

/// Requests seen on the LoxiLB API, and counters over them.
#[derive(Default)]
pub(crate) struct RequestLog {
    pub requests: VecDeque<RecordedRequest>,
    pub counters: Counters,
}

impl RequestLog {
    pub fn record(&mut self, req: RecordedRequest, kind: &str) {
        self.counters.total += 1;
        *self.counters.by_route.entry(kind.to_string()).or_insert(0) += 1;
        *self.counters.by_status.entry(req.status).or_insert(0) += 1;
        if req.status == 0 {
            self.counters.resets += 1;
        }
        if self.requests.len() >= MAX_RECORDED {
            self.requests.pop_front();
        }
        self.requests.push_back(req);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(
        status: u16,
        method: Option<&str>,
        prefix: Option<&str>,
        remaining: Option<u64>,
    ) -> Fault {
        Fault {
            status,
            rate: 1.0,
            method: method.map(str::to_string),
            path_prefix: prefix.map(str::to_string),
            remaining,
        }
    }

    #[test]
    fn faults_match_method_prefix_and_run_out() {
        let k = Knobs::new(Duration::ZERO);
        lock(&k.faults).push(fault(500, Some("post"), Some("/config/endpoint"), Some(2)));
        assert_eq!(k.fire_fault("GET", "/config/endpoint/all"), None);
        assert_eq!(k.fire_fault("POST", "/config/loadbalancer"), None);
        assert_eq!(k.fire_fault("POST", "/config/endpoint"), Some(500));
        assert_eq!(k.fire_fault("POST", "/config/endpointhoststate"), Some(500));
        assert_eq!(k.fire_fault("POST", "/config/endpoint"), None);
    }

    #[test]
    fn rate_zero_never_fires_and_rates_are_clamped() {
        let k = Knobs::new(Duration::ZERO);
        let mut f = fault(503, None, None, None);
        f.rate = 0.0;
        lock(&k.faults).push(f);
        assert!((0..1000).all(|_| k.fire_fault("GET", "/version").is_none()));
        k.set_reset_rate(7.0);
        assert_eq!(k.reset_rate(), 1.0);
        k.set_reset_rate(f64::NAN);
        assert_eq!(k.reset_rate(), 0.0);
    }
}
