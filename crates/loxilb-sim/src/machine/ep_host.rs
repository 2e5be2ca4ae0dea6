//! One endpoint probe as LoxiLB keeps it (rules.go `epHost`) and what a check does to it
//! (`epCheckNow`, `transitionEPState`), kept apart from the API handlers so the state machine
//! can be tested without a network.

use std::time::{Duration, Instant};

use crate::godur::go_duration;
use crate::model::EndPointGetEntry;

/// Probe types LoxiLB accepts.
pub(crate) const PROBE_TYPES: [&str; 7] = ["tcp", "udp", "sctp", "ping", "http", "https", "none"];
/// `<host>_<type>_<port>`, the key LoxiLB derives when no name is given.
pub(crate) fn make_key(host: &str, probe_type: &str, port: u16) -> String {
    format!("{host}_{probe_type}_{port}")
}

/// LoxiLB's DflHostProbeTimeout (seconds); the inactive back-off stops at three times it.
const DFL_PROBE_SECS: u32 = 60;
/// Seconds added to currProbeDuration per failure beyond the threshold.
const BACKOFF_STEP_SECS: u32 = 20;

/// The options of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProbeOpts {
    pub probe_type: String,
    pub port: u16,
    pub req: String,
    pub resp: String,
    /// Probe interval in seconds.
    pub duration: u32,
    pub retries: u32,
}

/// The result of one probe attempt; `rtt` is set for ping probes only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub ok: bool,
    pub rtt: Option<Duration>,
}

/// Round-trip times of the last ping run (LoxiLB keeps no history).
#[derive(Debug, Clone, Default)]
pub(crate) struct Delays {
    pub min: Duration,
    pub avg: Duration,
    pub max: Duration,
}

/// One endpoint probe.
pub(crate) struct Endpoint {
    pub key: String,
    pub host: String,
    pub opts: ProbeOpts,
    /// LoxiLB's probeActivated: a non-activated probe is listed as "none" and its checks only
    /// clear its state.
    pub activated: bool,
    pub inactive: bool,
    /// LoxiLB's inActTries.
    pub fails: u32,
    /// LoxiLB's initProberOn: the next check uses threshold 1.
    pub init: bool,
    pub red: bool,
    /// Number of LB rules referring to this probe.
    pub rule_count: u32,
    pub delays: Delays,
    /// Changes on every create/update; a check started under another generation is dropped.
    pub gen: u64,
    /// Scheduled by the checkers (false for scripted endpoints).
    pub probed: bool,
    /// LoxiLB's hID: which checker owns it.
    pub helper: Option<usize>,
    /// LoxiLB's sT: end of the last check (None: never checked). A std Instant taken from
    /// the runtime's (pausable) clock, so the machine itself reads no clock.
    pub last_check: Option<Instant>,
    /// LoxiLB's currProbeDuration (seconds): probeDuration plus the inactive back-off.
    pub curr_duration: u32,
}

impl Endpoint {
    pub fn new(key: String, host: String, opts: ProbeOpts) -> Self {
        let activated = opts.probe_type != "none";
        let curr_duration = opts.duration;
        Endpoint {
            key,
            host,
            opts,
            activated,
            inactive: false,
            fails: 0,
            init: true,
            red: false,
            rule_count: 0,
            delays: Delays::default(),
            gen: 0,
            probed: false,
            helper: None,
            last_check: None,
            curr_duration,
        }
    }

    /// LoxiLB's currState.
    pub fn curr_state(&self) -> &'static str {
        if self.red {
            "red"
        } else if self.inactive {
            "nok"
        } else {
            "ok"
        }
    }

    /// Whether LB rules consider this endpoint usable (IsEPHostActive).
    pub fn is_up(&self) -> bool {
        !self.red && !self.inactive
    }

    /// The start of epCheckNow: consume the init flag and return the failure threshold, or
    /// None when nothing is probed (not activated, or a type epCheckNow does not probe), in
    /// which case the endpoint is made active.
    pub fn begin_check(&mut self) -> Option<i64> {
        let thr = if self.init {
            1
        } else {
            i64::from(self.opts.retries)
        };
        self.init = false;
        let probed = self.activated
            && matches!(
                self.opts.probe_type.as_str(),
                "tcp" | "udp" | "sctp" | "http" | "https" | "ping"
            );
        if !probed {
            self.inactive = false;
            self.fails = 0;
            return None;
        }
        // Ping always decides on one run.
        Some(if self.opts.probe_type == "ping" {
            1
        } else {
            thr
        })
    }

    /// The end of epCheckNow: ping keeps the run's delays, then the state transition.
    pub fn finish_check(&mut self, outcome: Outcome, thr: i64, accumulate: bool) {
        if self.opts.probe_type == "ping" {
            let rtt = outcome.rtt.filter(|_| outcome.ok).unwrap_or_default();
            self.delays = Delays {
                min: rtt,
                avg: rtt,
                max: rtt,
            };
        }
        self.transition(outcome.ok, thr, accumulate);
    }

    /// LoxiLB's transitionEPState. A success makes the endpoint active; it resets the
    /// failure count always from v0.9.8.7, before only when the endpoint was inactive
    /// (`accumulate`). A failure counts up to `thr` and then marks it inactive; failures
    /// beyond that push currProbeDuration back by 20 s up to 180 s.
    pub fn transition(&mut self, ok: bool, thr: i64, accumulate: bool) {
        if ok {
            if !accumulate || self.inactive {
                self.fails = 0;
            }
            if self.inactive {
                self.inactive = false;
                self.curr_duration = self.opts.duration;
            }
            return;
        }
        let below = i64::from(self.fails) < thr;
        self.fails = self.fails.saturating_add(1);
        if below {
            if i64::from(self.fails) >= thr {
                self.inactive = true;
            }
        } else if self.curr_duration < 3 * DFL_PROBE_SECS {
            self.curr_duration += BACKOFF_STEP_SECS;
        }
    }

    /// The GET /config/endpoint/all entry (GetEpHosts and the handler): a non-activated
    /// probe shows type "none" without interval and retries; delays only for ping.
    pub fn entry(&self) -> EndPointGetEntry<'_> {
        let (ptype, duration, retries) = if self.activated {
            (
                self.opts.probe_type.as_str(),
                self.opts.duration,
                self.opts.retries,
            )
        } else {
            ("none", 0, 0)
        };
        let ping = ptype == "ping";
        let delay = |d: Duration| ping.then(|| go_duration(d));
        EndPointGetEntry {
            host_name: &self.host,
            name: &self.key,
            inactive_re_tries: retries,
            probe_type: ptype,
            probe_req: &self.opts.req,
            probe_resp: &self.opts.resp,
            probe_duration: duration,
            probe_port: self.opts.port,
            min_delay: delay(self.delays.min),
            avg_delay: delay(self.delays.avg),
            max_delay: delay(self.delays.max),
            curr_state: self.curr_state(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(retries: u32, duration: u32) -> Endpoint {
        let opts = ProbeOpts {
            probe_type: "tcp".into(),
            port: 80,
            req: String::new(),
            resp: String::new(),
            duration,
            retries,
        };
        Endpoint::new("k".into(), "10.0.0.1".into(), opts)
    }

    fn check(e: &mut Endpoint, ok: bool, accumulate: bool) {
        let thr = e.begin_check().unwrap_or(0);
        e.finish_check(Outcome { ok, rtt: None }, thr, accumulate);
    }

    /// Mirrors rules.go epCheckNow: the first check after create/update uses threshold 1.
    #[test]
    fn epchecknow_init_prober_threshold_is_one() {
        let mut e = ep(3, 10);
        check(&mut e, false, false);
        assert_eq!(e.curr_state(), "nok");
        check(&mut e, true, false);
        check(&mut e, false, false);
        check(&mut e, false, false);
        assert_eq!(
            e.curr_state(),
            "ok",
            "later checks need inactiveReTries failures"
        );
        check(&mut e, false, false);
        assert_eq!(e.curr_state(), "nok");
    }

    /// Mirrors rules.go transitionEPState (v0.9.8.7 and later): any success resets the count.
    #[test]
    fn transitionepstate_success_resets_from_v0_9_8_7() {
        let mut e = ep(2, 10);
        check(&mut e, true, false);
        for _ in 0..5 {
            check(&mut e, false, false);
            check(&mut e, true, false);
        }
        assert_eq!(e.curr_state(), "ok", "non-consecutive failures never trip");
    }

    /// Mirrors rules.go transitionEPState before v0.9.8.7: failures accumulate across
    /// successes while active, so sporadic misses eventually mark the endpoint inactive.
    #[test]
    fn transitionepstate_failures_accumulate_before_v0_9_8_7() {
        let mut e = ep(2, 10);
        check(&mut e, true, true);
        check(&mut e, false, true);
        check(&mut e, true, true);
        assert_eq!(e.curr_state(), "ok");
        check(&mut e, false, true);
        assert_eq!(
            e.curr_state(),
            "nok",
            "second non-consecutive failure trips"
        );
        check(&mut e, true, true);
        assert_eq!((e.curr_state(), e.fails), ("ok", 0), "reset when inactive");
    }

    /// Mirrors rules.go transitionEPState: failures beyond the threshold add 20 s to
    /// currProbeDuration up to 180 s; recovery restores probeDuration. A threshold of 0
    /// (inactiveReTries 0) never marks an active endpoint inactive.
    #[test]
    fn transitionepstate_inactive_backoff_and_zero_threshold() {
        let mut e = ep(1, 10);
        check(&mut e, false, false);
        for _ in 0..20 {
            check(&mut e, false, false);
        }
        assert_eq!(
            e.curr_duration, 190,
            "grows while below 180, last step may pass it"
        );
        check(&mut e, true, false);
        assert_eq!((e.curr_state(), e.curr_duration), ("ok", 10));
        let mut z = ep(0, 10);
        check(&mut z, true, false);
        for _ in 0..5 {
            check(&mut z, false, false);
        }
        assert_eq!(z.curr_state(), "ok");
    }

    /// Mirrors rules.go epCheckNow: a non-activated probe is only made active, and ping
    /// decides on one run and keeps that run's delays.
    #[test]
    fn epchecknow_none_and_ping() {
        let mut e = ep(3, 10);
        e.inactive = true;
        e.activated = false;
        assert_eq!(e.begin_check(), None);
        assert_eq!(e.curr_state(), "ok");
        let mut p = ep(5, 10);
        p.opts.probe_type = "ping".into();
        p.init = false;
        assert_eq!(p.begin_check(), Some(1));
        let rtt = Duration::from_micros(850);
        p.finish_check(
            Outcome {
                ok: true,
                rtt: Some(rtt),
            },
            1,
            false,
        );
        assert_eq!(p.entry().avg_delay.as_deref(), Some("850µs"));
        p.finish_check(
            Outcome {
                ok: false,
                rtt: None,
            },
            1,
            false,
        );
        assert_eq!(p.curr_state(), "nok");
        assert_eq!(p.entry().max_delay.as_deref(), Some("0s"));
        assert_eq!(ep(1, 1).entry().min_delay, None, "no delays for tcp");
    }
}
