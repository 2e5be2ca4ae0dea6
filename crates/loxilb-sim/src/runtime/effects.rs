//! Carrying out the state machine's [`Effect`]s, and the one way to run a machine
//! operation that may produce them.
//!
//! Effects are carried out while the `sim` lock is still held, so a call that deletes a
//! probe has also stopped its check before any other call or checker sees the state.

use std::sync::Arc;

use super::checkers;
use super::lock::lock;
use super::probing::InFlight;
use super::shared::Shared;
use crate::machine::{Effect, Sim};

/// Run `f` on the state machine under its lock and carry out the effects it produced.
pub(crate) fn with_sim<R>(shared: &Arc<Shared>, f: impl FnOnce(&mut Sim) -> R) -> R {
    let mut sim = lock(&shared.sim);
    let out = f(&mut sim);
    let effects = sim.take_effects();
    carry_out(shared, effects);
    out
}

/// Carry out effects in order. The caller holds the `sim` lock.
pub(crate) fn carry_out(shared: &Arc<Shared>, effects: Vec<Effect>) {
    if effects.is_empty() {
        return;
    }
    let mut cancelled: Vec<InFlight> = Vec::new();
    {
        let mut probing = lock(&shared.probing);
        for effect in effects {
            match effect {
                Effect::StartCheckers => checkers::ensure_started(shared, &mut probing),
                Effect::CancelCheck { key } => cancelled.extend(probing.in_flight.remove(&key)),
                Effect::TrustCa { pem } => probing.trust_ca(&pem),
            }
        }
    }
    // Dropping aborts the checks, outside the probing lock.
    drop(cancelled);
}
