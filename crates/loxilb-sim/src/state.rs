//! Shared simulator state: LoxiLB's configuration (endpoints, rules), the knobs tests turn
//! (latency, faults, resets, maintenance), auth tokens and the request log.
//!
//! Everything lives behind `std::sync::Mutex`es that are never held across an `.await`, so the
//! in-process [`crate::Control`] can be used from any thread or task. LoxiLB's configuration is
//! one mutex because rules and endpoint probes are updated together (reference counts).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use crate::control::{Counters, Fault, RecordedRequest};
use crate::endpoints::Endpoint;
use crate::probe::ProbeCtx;
use crate::rules::RuleTable;

/// Most requests kept in the log; older ones are dropped first.
pub(crate) const MAX_RECORDED: usize = 200_000;

/// Lock a mutex, ignoring poisoning: the state stays usable even if a task panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One LoxiLB "process lifetime"; replaced by `restart_empty`. LoxiLB reports no boot
/// identity; its process time in GET /status/process is the only trace of a restart.
#[derive(Debug, Clone)]
pub(crate) struct Boot {
    pub instant: Instant,
}

impl Boot {
    pub fn new() -> Self {
        Boot {
            instant: Instant::now(),
        }
    }
}

/// LoxiLB's in-memory configuration.
pub(crate) struct State {
    /// Endpoint probes by key (`name`, or `<host>_<type>_<port>`); BTreeMap keeps listing O(n).
    pub endpoints: BTreeMap<String, Endpoint>,
    /// LB rules with their numbers and firewall side effects.
    pub rules: RuleTable,
    pub boot: Boot,
    /// Generation counter: every (re)started prober gets a fresh number so a prober of a
    /// replaced endpoint can tell its results are stale.
    pub next_gen: u64,
    pub probe: ProbeCtx,
    /// A behaviour flipped on purpose (conformance tests only).
    pub flip: Option<crate::Flip>,
}

impl State {
    pub fn new(probe: ProbeCtx) -> Self {
        State {
            endpoints: BTreeMap::new(),
            rules: RuleTable::default(),
            boot: Boot::new(),
            next_gen: 1,
            probe,
            flip: None,
        }
    }

    pub fn gen(&mut self) -> u64 {
        self.next_gen += 1;
        self.next_gen
    }
}

/// Test knobs that shape how API calls are answered.
pub(crate) struct Knobs {
    latency_us: AtomicU64,
    reset_rate_bits: AtomicU64,
    maintenance: AtomicBool,
    pub faults: Mutex<Vec<Fault>>,
    pub interruptions: Mutex<Vec<crate::interrupt::Interruption>>,
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
            let applies = crate::interrupt::matches(
                f.method.as_deref(),
                f.path_prefix.as_deref(),
                f.remaining,
                method,
                rel_path,
            );
            if !applies || !roll(f.rate) {
                continue;
            }
            crate::interrupt::spend(&mut f.remaining);
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

/// Everything the server, the probers and [`crate::Control`] share.
pub(crate) struct Shared {
    pub state: Mutex<State>,
    pub knobs: Knobs,
    pub log: Mutex<RequestLog>,
    /// Issued tokens and their expiry.
    pub tokens: Mutex<HashMap<String, Instant>>,
    pub auth: Option<(String, String)>,
    pub token_ttl: Duration,
    /// The LoxiLB release this instance behaves as.
    pub version: crate::LoxilbVersion,
}

impl Shared {
    pub fn new(
        weak: &Weak<Shared>,
        opts: &crate::SimOptions,
        rt: tokio::runtime::Handle,
    ) -> Shared {
        Shared {
            state: Mutex::new(State {
                flip: opts.flip,
                ..State::new(ProbeCtx::new(weak.clone(), rt, opts))
            }),
            knobs: Knobs::new(opts.latency),
            log: Mutex::new(RequestLog::default()),
            tokens: Mutex::new(HashMap::new()),
            auth: opts.auth.clone(),
            token_ttl: opts.token_ttl,
            version: opts.version,
        }
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
