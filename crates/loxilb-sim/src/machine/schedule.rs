//! When probes run: the schedule of LoxiLB's endpoint checkers (rules.go `epTicker`,
//! `RulesInit`), as pure decisions; the runtime owns the tickers and sockets.
//!
//! LoxiLB runs `MaxEndPointCheckers` (4) helpers, each on its own `EndPointCheckerDuration`
//! (2 s) ticker; a new endpoint is bound to helper `n % 4` in creation order. Each helper
//! counts its ticks; on every tick it picks its endpoints that are due and checks them one
//! after the other, stopping once its checks have taken 2 s. An endpoint is due
//! - on any tick: when its first check after create/update is pending (`initProberOn`) and
//!   15 s (`InitHostProbeTimeout`) passed since its last check; a new endpoint has never been
//!   checked, so it is due on its helper's next tick (about 2 s after creation);
//! - on even ticks: when it is inactive, or a ping probe without a measured delay;
//! - on odd ticks: when `currProbeDuration` seconds passed since its last check (so an
//!   active probe with probeDuration 0 is checked every other tick, 4 s).
//!
//! A helper takes at most 20 (`MaxEndPointSweeps`) endpoints per tick; when it had to stop
//! there it skips the next tick. Go walks its map in random order; the simulator resumes
//! after the last endpoint taken so none starves.
//!
//! `SimOptions::probe_tick` (default 2 s) scales this clock: one LoxiLB second is half a
//! tick, for every interval above and for probeDuration. The probes' own network timeouts
//! (the runtime's probers) stay real.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::time::{Duration, Instant};

use super::ep_host::{Endpoint, Outcome, ProbeOpts};
use super::sim::Sim;

/// LoxiLB's EndPointCheckerDuration (seconds): tick period and per-tick check budget.
pub(crate) const CHECKER_SECS: u64 = 2;
/// LoxiLB's InitHostProbeTimeout (seconds).
const INIT_PROBE_SECS: u64 = 15;
/// LoxiLB's MaxEndPointSweeps.
const MAX_SWEEPS: usize = 20;

/// LoxiLB's seconds on the simulator's clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    /// One LoxiLB second.
    unit: Duration,
}

impl Clock {
    pub fn new(tick: Duration) -> Self {
        Clock {
            unit: (tick / 2).max(Duration::from_micros(1)),
        }
    }
    /// Whole LoxiLB seconds in `d` (Go truncates `Seconds()` the same way).
    pub fn secs(self, d: Duration) -> u64 {
        u64::try_from(d.as_nanos() / self.unit.as_nanos()).unwrap_or(u64::MAX)
    }
    pub fn tick(self) -> Duration {
        self.unit * 2
    }
}

/// One endpoint picked for checking this tick.
pub(crate) struct Pick {
    pub key: String,
    pub gen: u64,
}

/// Which of helper `id`'s endpoints are due at `now` on run `run`; `cursor` is where the
/// previous full sweep stopped. Returns the picks and whether the sweep limit was hit.
pub(crate) fn select(
    endpoints: &BTreeMap<String, Endpoint>,
    clock: Clock,
    id: usize,
    run: u64,
    now: Instant,
    cursor: Option<&str>,
) -> (Vec<Pick>, bool) {
    let (after, upto) = match cursor {
        Some(c) => (Bound::Excluded(c), Bound::Included(c)),
        None => (Bound::Unbounded, Bound::Unbounded),
    };
    let mut iter: Box<dyn Iterator<Item = _>> =
        Box::new(endpoints.range::<str, _>((after, Bound::Unbounded)));
    if cursor.is_some() {
        iter = Box::new(iter.chain(endpoints.range::<str, _>((Bound::Unbounded, upto))));
    }
    let mut picks = Vec::new();
    for (key, ep) in iter {
        if !ep.probed || ep.helper != Some(id) {
            continue;
        }
        let since = ep
            .last_check
            .map_or(u64::MAX, |s| clock.secs(now.saturating_duration_since(s)));
        let init_due = ep.init && since >= INIT_PROBE_SECS;
        let due = if run.is_multiple_of(2) {
            (ep.opts.probe_type == "ping" && ep.delays.avg.is_zero()) || ep.inactive || init_due
        } else {
            init_due || since >= u64::from(ep.curr_duration)
        };
        if due {
            picks.push(Pick {
                key: key.clone(),
                gen: ep.gen,
            });
            if picks.len() >= MAX_SWEEPS {
                return (picks, true);
            }
        }
    }
    (picks, false)
}

/// What the start of a check decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CheckStart {
    /// The probe is gone or was replaced since it was picked: skip it.
    Stale,
    /// Nothing to probe (not activated, or a type epCheckNow does not probe): the probe
    /// was made active and its check is over.
    Done,
    /// Run this attempt, then report it with the failure threshold `thr`.
    Probe {
        host: String,
        opts: ProbeOpts,
        thr: i64,
    },
}

impl Sim {
    /// The start of epCheckNow for a picked probe at `now`.
    pub fn begin_check(&mut self, pick: &Pick, now: Instant) -> CheckStart {
        let Some(ep) = self
            .endpoints
            .get_mut(&pick.key)
            .filter(|e| e.gen == pick.gen)
        else {
            return CheckStart::Stale;
        };
        match ep.begin_check() {
            None => {
                ep.last_check = Some(now);
                CheckStart::Done
            }
            Some(thr) => CheckStart::Probe {
                host: ep.host.clone(),
                opts: ep.opts.clone(),
                thr,
            },
        }
    }

    /// The end of epCheckNow: record the attempt's outcome at `now`, unless the probe was
    /// replaced or deleted meanwhile.
    pub fn finish_check(&mut self, pick: &Pick, outcome: Outcome, thr: i64, now: Instant) {
        let accumulate = self.setup.version.failures_accumulate();
        if let Some(ep) = self
            .endpoints
            .get_mut(&pick.key)
            .filter(|e| e.gen == pick.gen)
        {
            ep.finish_check(outcome, thr, accumulate);
            ep.last_check = Some(now);
        }
    }
}
