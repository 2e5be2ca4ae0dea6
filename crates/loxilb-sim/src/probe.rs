//! When probes run: LoxiLB's endpoint checkers (rules.go `epTicker`, `RulesInit`).
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
//! ([`crate::probers`]) stay real.

use std::ops::Bound;
use std::sync::Weak;
use std::time::Duration;

use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::probers::{self, Clients};
use crate::state::{lock, Shared, State};
use crate::tls_roots::{CaLoadError, TlsRoots};

/// LoxiLB's MaxEndPointCheckers.
pub(crate) const HELPERS: usize = 4;
/// LoxiLB's EndPointCheckerDuration (seconds): tick period and per-tick check budget.
const CHECKER_SECS: u64 = 2;
/// LoxiLB's InitHostProbeTimeout (seconds).
const INIT_PROBE_SECS: u64 = 15;
/// LoxiLB's MaxEndPointSweeps.
const MAX_SWEEPS: usize = 20;

/// Aborts a task (a helper, or one endpoint's in-flight check) when dropped.
#[derive(Debug)]
pub(crate) struct ProberGuard(AbortHandle);

impl Drop for ProberGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

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
    fn tick(self) -> Duration {
        self.unit * 2
    }
}

/// Everything probing needs; lives in [`State`].
pub(crate) struct ProbeCtx {
    shared: Weak<Shared>,
    rt: tokio::runtime::Handle,
    pub enabled: bool,
    pub clock: Clock,
    roots: TlsRoots,
    clients: Clients,
    /// LoxiLB's lepHID: the helper the next new endpoint gets.
    next_helper: usize,
    helpers: Vec<ProberGuard>,
}

impl ProbeCtx {
    pub fn new(shared: Weak<Shared>, rt: tokio::runtime::Handle, opts: &crate::SimOptions) -> Self {
        let enabled = opts.probing;
        let roots = TlsRoots::new(if enabled { &opts.ca_certs } else { &[] });
        let clients = if enabled {
            Clients {
                http: probers::client(TlsRoots::new(&[]).client_config()),
                https: probers::client(roots.client_config()),
            }
        } else {
            Clients {
                http: None,
                https: None,
            }
        };
        ProbeCtx {
            shared,
            rt,
            enabled,
            clock: Clock::new(opts.probe_tick),
            roots,
            clients,
            next_helper: 0,
            helpers: Vec::new(),
        }
    }

    /// The helper of a new endpoint (round robin, as LoxiLB's lepHID).
    pub fn assign_helper(&mut self) -> usize {
        let h = self.next_helper % HELPERS;
        self.next_helper = self.next_helper.wrapping_add(1);
        h
    }

    /// Start the helpers on first use (the shared state exists by then).
    pub fn ensure_started(&mut self) {
        if !self.enabled || !self.helpers.is_empty() {
            return;
        }
        for id in 0..HELPERS {
            let task = self.rt.spawn(helper(self.shared.clone(), id, self.clock));
            self.helpers.push(ProberGuard(task.abort_handle()));
        }
    }

    /// AddEPHost's per-host CA for an https probe; rebuilds the https client when it grew.
    pub fn add_host_ca(&mut self, host: &str) -> Result<(), CaLoadError> {
        if self.roots.add_host_ca(host)? && self.enabled {
            self.clients.https = probers::client(self.roots.client_config());
        }
        Ok(())
    }
}

/// One endpoint picked for checking this tick.
struct Pick {
    key: String,
    gen: u64,
}

/// Which of helper `id`'s endpoints are due at `now` on run `run`; `cursor` is where the
/// previous full sweep stopped. Returns the picks and whether the sweep limit was hit.
fn select(
    st: &State,
    id: usize,
    run: u64,
    now: Instant,
    cursor: Option<&str>,
) -> (Vec<Pick>, bool) {
    let clock = st.probe.clock;
    let (after, upto) = match cursor {
        Some(c) => (Bound::Excluded(c), Bound::Included(c)),
        None => (Bound::Unbounded, Bound::Unbounded),
    };
    let mut iter: Box<dyn Iterator<Item = _>> =
        Box::new(st.endpoints.range::<str, _>((after, Bound::Unbounded)));
    if cursor.is_some() {
        iter = Box::new(iter.chain(st.endpoints.range::<str, _>((Bound::Unbounded, upto))));
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

/// One of LoxiLB's endpoint checkers.
async fn helper(shared: Weak<Shared>, id: usize, clock: Clock) {
    let mut ticker = tokio::time::interval_at(Instant::now() + clock.tick(), clock.tick());
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut run: u64 = 0;
    let mut cursor: Option<String> = None;
    let mut pause = false;
    loop {
        let now = ticker.tick().await;
        let picks = {
            let Some(sh) = shared.upgrade() else { return };
            let st = lock(&sh.state);
            if !st.probe.enabled {
                return;
            }
            if pause {
                pause = false;
                continue;
            }
            let (picks, full) = select(&st, id, run, now, cursor.as_deref());
            if full {
                pause = true;
                cursor = picks.last().map(|p| p.key.clone());
            }
            picks
        };
        run = run.wrapping_add(1);
        let begin = Instant::now();
        for pick in picks {
            if !check_one(&shared, pick).await {
                return;
            }
            if clock.secs(begin.elapsed()) >= CHECKER_SECS {
                break;
            }
        }
    }
}

/// Check one endpoint as epCheckNow does and record the result; false when the simulator
/// is gone or probing was stopped.
async fn check_one(shared: &Weak<Shared>, pick: Pick) -> bool {
    let job = {
        let Some(sh) = shared.upgrade() else {
            return false;
        };
        let mut st = lock(&sh.state);
        if !st.probe.enabled {
            return false;
        }
        let clients = st.probe.clients.clone();
        let rt = st.probe.rt.clone();
        let Some(ep) = st
            .endpoints
            .get_mut(&pick.key)
            .filter(|e| e.gen == pick.gen)
        else {
            return true;
        };
        match ep.begin_check() {
            None => {
                ep.last_check = Some(Instant::now());
                return true;
            }
            Some(thr) => {
                let (host, opts) = (ep.host.clone(), ep.opts.clone());
                let task = rt.spawn(async move { probers::check(&clients, &host, &opts).await });
                ep.prober = Some(ProberGuard(task.abort_handle()));
                (task, thr)
            }
        }
    };
    let (task, thr) = job;
    let outcome = task.await;
    let Some(sh) = shared.upgrade() else {
        return false;
    };
    let accumulate = sh.version.failures_accumulate();
    let mut st = lock(&sh.state);
    if let (Ok(outcome), Some(ep)) = (
        outcome,
        st.endpoints
            .get_mut(&pick.key)
            .filter(|e| e.gen == pick.gen),
    ) {
        ep.prober = None;
        ep.finish_check(outcome, thr, accumulate);
        ep.last_check = Some(Instant::now());
    }
    st.probe.enabled
}
