//! LoxiLB's endpoint checkers as tokio tasks: each ticks on the simulator's clock, asks
//! the state machine which of its probes are due ([`crate::machine::select`]), runs the
//! attempts with [`super::probers`] and hands the outcomes back. The rules of the schedule
//! are in `machine::schedule`; only the waiting and the sockets are here.

use std::sync::{Arc, Weak};

use tokio::time::{Instant, MissedTickBehavior};

use super::lock::lock;
use super::probers;
use super::probing::{AbortOnDrop, InFlight, Probing};
use super::shared::Shared;
use crate::machine::{select, CheckStart, Clock, Pick, CHECKERS, CHECKER_SECS};

/// Start the checkers on first use. The caller holds the `probing` lock.
pub(crate) fn ensure_started(shared: &Arc<Shared>, probing: &mut Probing) {
    if !probing.enabled || !probing.checkers.is_empty() {
        return;
    }
    for id in 0..CHECKERS {
        let task = probing
            .rt
            .spawn(checker(Arc::downgrade(shared), id, probing.clock));
        probing.checkers.push(AbortOnDrop(task.abort_handle()));
    }
}

/// The machine's clock reading: tokio's (pausable) time as a std Instant.
fn now() -> std::time::Instant {
    Instant::now().into_std()
}

/// One of LoxiLB's endpoint checkers.
async fn checker(shared: Weak<Shared>, id: usize, clock: Clock) {
    let mut ticker = tokio::time::interval_at(Instant::now() + clock.tick(), clock.tick());
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut run: u64 = 0;
    let mut cursor: Option<String> = None;
    let mut pause = false;
    loop {
        let now = ticker.tick().await.into_std();
        let picks = {
            let Some(sh) = shared.upgrade() else { return };
            if !lock(&sh.probing).enabled {
                return;
            }
            if pause {
                pause = false;
                continue;
            }
            let sim = lock(&sh.sim);
            let (picks, full) = select(&sim.endpoints, clock, id, run, now, cursor.as_deref());
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

/// Check one probe as epCheckNow does and record the result; false when the simulator
/// is gone or probing was stopped.
async fn check_one(shared: &Weak<Shared>, pick: Pick) -> bool {
    let Some((task, thr)) = ({
        let Some(sh) = shared.upgrade() else {
            return false;
        };
        let mut sim = lock(&sh.sim);
        let mut probing = lock(&sh.probing);
        if !probing.enabled {
            return false;
        }
        match sim.begin_check(&pick, now()) {
            CheckStart::Stale | CheckStart::Done => None,
            CheckStart::Probe { host, opts, thr } => {
                let clients = probing.clients.clone();
                let task = probing
                    .rt
                    .spawn(async move { probers::check(&clients, &host, &opts).await });
                let in_flight = InFlight {
                    gen: pick.gen,
                    _task: AbortOnDrop(task.abort_handle()),
                };
                probing.in_flight.insert(pick.key.clone(), in_flight);
                Some((task, thr))
            }
        }
    }) else {
        return true;
    };
    let outcome = task.await;
    let Some(sh) = shared.upgrade() else {
        return false;
    };
    let mut sim = lock(&sh.sim);
    let mut probing = lock(&sh.probing);
    // Done: forget it (aborting a finished task does nothing), unless a newer check of a
    // re-created probe took its place.
    if probing.in_flight.get(&pick.key).map(|f| f.gen) == Some(pick.gen) {
        probing.in_flight.remove(&pick.key);
    }
    if let Ok(outcome) = outcome {
        sim.finish_check(&pick, outcome, thr, now());
    }
    probing.enabled
}
