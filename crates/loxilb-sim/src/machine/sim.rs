//! Everything one simulated LoxiLB process holds: its configuration (endpoint probes, LB
//! rules with their firewall side effects), its boot time and its auth tokens.
//!
//! This is plain data with no tasks, locks or clocks inside: time comes in with each call
//! and whatever must happen outside (probes to start or stop) goes out as [`Effect`]s,
//! collected here while the resource handlers run and handed back by `apply`. Handlers
//! nest (a rule create acquires probes, which restarts probing), so a buffer is simpler
//! than threading a `Vec<Effect>` through every call, and no effect can be forgotten.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use loxilb_version::LoxilbVersion;

use super::effect::Effect;
use super::ep_host::Endpoint;
use super::rule_table::RuleTable;
use crate::flip::Flip;

/// LoxiLB's MaxEndPointCheckers: probes are spread over this many checkers.
pub(crate) const CHECKERS: usize = 4;

/// How a simulated LoxiLB is set up; fixed for its lifetime.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    /// The release to behave as (error shape, failure counting).
    pub version: LoxilbVersion,
    /// LoxiLB's user service: the one user and password, or None when auth is off.
    pub auth: Option<(String, String)>,
    /// Lifetime of issued tokens.
    pub token_ttl: Duration,
    /// One behaviour to get wrong on purpose (conformance tests only).
    pub flip: Option<Flip>,
    /// The process id GET /status/process lists for "loxilb" (the simulator's own).
    pub pid: u32,
}

/// The state of one simulated LoxiLB.
pub(crate) struct Sim {
    pub setup: Setup,
    /// Endpoint probes by key (`name`, or `<host>_<type>_<port>`); BTreeMap keeps listing O(n).
    pub endpoints: BTreeMap<String, Endpoint>,
    /// LB rules with their numbers and firewall side effects.
    pub rules: RuleTable,
    /// Start of this LoxiLB "process lifetime". LoxiLB reports no boot identity; its
    /// process time in GET /status/process is the only trace of a restart.
    pub boot: Instant,
    /// Issued tokens and their expiry.
    pub tokens: HashMap<String, Instant>,
    /// Last generation handed out: every (re)started probe gets a fresh number so a check
    /// of a replaced probe can tell its result is stale.
    next_gen: u64,
    /// LoxiLB's lepHID: the checker the next new probe gets.
    next_checker: usize,
    effects: Vec<Effect>,
}

impl Sim {
    /// A LoxiLB that started at `now` with no configuration.
    pub fn new(setup: Setup, now: Instant) -> Self {
        Sim {
            setup,
            endpoints: BTreeMap::new(),
            rules: RuleTable::default(),
            boot: now,
            tokens: HashMap::new(),
            next_gen: 1,
            next_checker: 0,
            effects: Vec::new(),
        }
    }

    pub fn flip(&self) -> Option<Flip> {
        self.setup.flip
    }

    /// A fresh probe generation.
    pub fn gen(&mut self) -> u64 {
        self.next_gen += 1;
        self.next_gen
    }

    /// The checker of a new probe (round robin, as LoxiLB's lepHID).
    pub fn assign_checker(&mut self) -> usize {
        let h = self.next_checker % CHECKERS;
        self.next_checker = self.next_checker.wrapping_add(1);
        h
    }

    /// Ask the runtime to do something once the current call is done.
    pub fn emit(&mut self, e: Effect) {
        self.effects.push(e);
    }

    /// The effects decided since the last call, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Remove a probe; a check in flight for it is cancelled.
    pub fn remove_endpoint(&mut self, key: &str) -> Option<Endpoint> {
        let ep = self.endpoints.remove(key)?;
        self.emit(Effect::CancelCheck {
            key: key.to_string(),
        });
        Some(ep)
    }
}
