//! What the server, the probe checkers and `Control` share: the state
//! machine behind its mutex, the probing runtime, the knobs and the request log.
//!
//! Every mutex is held only for short synchronous work, never across an `.await`, so the
//! in-process `Control` can be used from any thread or task. Lock order, where two are
//! held: `sim` before `probing` (effects are carried out under the `sim` lock so that the
//! next call sees them done).

use std::sync::Mutex;

use loxilb_version::LoxilbVersion;

use super::knobs::{Knobs, RequestLog};
use super::probing::Probing;
use crate::machine::Sim;

/// One simulator instance's shared state.
pub(crate) struct Shared {
    /// LoxiLB itself.
    pub sim: Mutex<Sim>,
    /// The checkers, the in-flight checks and the https trust pool.
    pub probing: Mutex<Probing>,
    pub knobs: Knobs,
    pub log: Mutex<RequestLog>,
    /// The LoxiLB release (also in the machine); shapes errors answered before it runs.
    pub version: LoxilbVersion,
}
