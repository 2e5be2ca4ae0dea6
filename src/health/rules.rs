//! Pure status rules: LoxiLB observations → member operating status, and the
//! aggregation member → pool → load balancer that Octavia's amphora health manager
//! performs (see `reference/octavia.md`), so operators see the same results.
//!
//! # Vocabulary
//! The seed design speaks of four LoxiLB health states; [`HealthState`] keeps them as
//! the documented abstraction over what LoxiLB really reports:
//!
//! | LoxiLB reports                          | [`HealthState`] | Octavia      |
//! |-----------------------------------------|-----------------|--------------|
//! | probe `ok` / rule endpoint `active`     | `Active`        | ONLINE       |
//! | probe `red` (forced down), admin down   | `Inactive`      | OFFLINE      |
//! | weight 0 (not a rule endpoint)          | `Maintenance`   | DRAINING     |
//! | probe `nok` / rule endpoint `inactive`  | `Error`         | ERROR        |
//!
//! # Member precedence (first match wins)
//! 1. member, its pool or its load balancer admin down → OFFLINE (no probe exists; an
//!    operator complaint about other providers is disabled members shown as ERROR);
//! 2. pool without a health monitor, or monitor admin down → NO_MONITOR;
//! 3. `red` on any node → OFFLINE (an operator forced it down);
//! 4. `nok` on every node that reports it → ERROR (a drained member whose check fails
//!    is ERROR too, as haproxy reports such a server DOWN);
//! 5. weight 0 → DRAINING;
//! 6. `ok` → ONLINE;
//! 7. no node reports the member (probe not created yet, node just restarted) → the
//!    previous status when there is one (no flapping while the applier catches up),
//!    else OFFLINE, as amphora reports a configured but unreported member.
//!
//! # When nodes disagree
//! Each LoxiLB node probes on its own. `ok` on ANY node wins over `nok` elsewhere:
//! traffic reaches the member through whichever node is active, a member reachable
//! from one node is serving, and preferring the worst view would flap with each
//! node's probe timing. `red` anywhere wins over both, because it is an operator's
//! explicit decision (applied to every node).

use crate::octavia::OperatingStatus;

/// The seed's health vocabulary (see the module table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HealthState {
    Active,
    Inactive,
    Maintenance,
    Error,
}

impl HealthState {
    pub fn operating_status(self) -> OperatingStatus {
        match self {
            HealthState::Active => OperatingStatus::Online,
            HealthState::Inactive => OperatingStatus::Offline,
            HealthState::Maintenance => OperatingStatus::Draining,
            HealthState::Error => OperatingStatus::Error,
        }
    }
}

/// What the nodes said about one member's probe key: how many nodes saw each
/// state. Compact (3 bytes) so one per endpoint stays cheap at 100k endpoints.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Observation {
    pub ok: u8,
    pub nok: u8,
    pub red: u8,
}

impl Observation {
    /// Add one node's view: `Some(Active|Error|Inactive)` as mapped from LoxiLB.
    pub fn add(&mut self, s: HealthState) {
        match s {
            HealthState::Active => self.ok = self.ok.saturating_add(1),
            HealthState::Error => self.nok = self.nok.saturating_add(1),
            HealthState::Inactive => self.red = self.red.saturating_add(1),
            HealthState::Maintenance => {}
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ok == 0 && self.nok == 0 && self.red == 0
    }

    /// The combined state (see "When nodes disagree"); `None` when no node reported.
    pub fn combined(&self) -> Option<HealthState> {
        if self.red > 0 {
            Some(HealthState::Inactive)
        } else if self.ok > 0 {
            Some(HealthState::Active)
        } else if self.nok > 0 {
            Some(HealthState::Error)
        } else {
            None
        }
    }
}

/// A LoxiLB probe `currState` in the seed vocabulary; `None` for unknown or empty
/// (not probed yet) states, which count as "not reported".
pub fn probe_state(curr_state: &str) -> Option<HealthState> {
    match curr_state {
        "ok" => Some(HealthState::Active),
        "nok" => Some(HealthState::Error),
        "red" => Some(HealthState::Inactive),
        _ => None,
    }
}

/// A rule endpoint `state` in the seed vocabulary (used when no probe entry exists).
pub fn rule_endpoint_state(state: &str) -> Option<HealthState> {
    match state {
        "active" => Some(HealthState::Active),
        "inactive" => Some(HealthState::Error),
        _ => None,
    }
}

/// Everything the member rule needs about one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberFacts {
    /// Member, pool and load balancer all admin up.
    pub admin_up: bool,
    /// The pool has an admin-up health monitor.
    pub monitored: bool,
    /// weight 0.
    pub drained: bool,
}

/// A member's operating status (module docs: "Member precedence").
pub fn member_status(
    facts: MemberFacts,
    seen: Observation,
    previous: Option<OperatingStatus>,
) -> OperatingStatus {
    if !facts.admin_up {
        return OperatingStatus::Offline;
    }
    if !facts.monitored {
        return OperatingStatus::NoMonitor;
    }
    match seen.combined() {
        Some(HealthState::Inactive) => OperatingStatus::Offline,
        Some(HealthState::Error) => OperatingStatus::Error,
        Some(_) if facts.drained => OperatingStatus::Draining,
        Some(s) => s.operating_status(),
        None => previous.unwrap_or(OperatingStatus::Offline),
    }
}

/// Counts of member statuses of one pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct MemberCounts {
    pub online: u32,
    pub draining: u32,
    pub no_monitor: u32,
    pub error: u32,
    pub offline: u32,
}

impl MemberCounts {
    pub fn add(&mut self, s: OperatingStatus) {
        let slot = match s {
            OperatingStatus::Online => &mut self.online,
            OperatingStatus::Draining => &mut self.draining,
            OperatingStatus::NoMonitor => &mut self.no_monitor,
            OperatingStatus::Error | OperatingStatus::Degraded => &mut self.error,
            OperatingStatus::Offline => &mut self.offline,
        };
        *slot = slot.saturating_add(1);
    }
}

/// A pool's operating status, as amphora: admin down or served by no listener →
/// OFFLINE; no member in service (none, or all admin down) → ONLINE; some ERROR →
/// DEGRADED; none working → ERROR. OFFLINE (admin-down) members never degrade it.
pub fn pool_status(admin_up: bool, served: bool, m: MemberCounts) -> OperatingStatus {
    if !admin_up || !served {
        return OperatingStatus::Offline;
    }
    let working = m.online + m.draining + m.no_monitor;
    match (working, m.error) {
        (_, 0) => OperatingStatus::Online,
        (0, _) => OperatingStatus::Error,
        _ => OperatingStatus::Degraded,
    }
}

/// A listener: admin down (or its load balancer) → OFFLINE; its rule missing from
/// every LoxiLB node although one is expected → ERROR (nothing answers on the
/// listener's port: an amphora whose haproxy frontend is gone is not reported OPEN
/// either); else ONLINE. LoxiLB reports no connection limit state, so the amphora's
/// DEGRADED ("full") never occurs.
///
/// `rule_missing` must be true only for a listener expected to have a rule
/// ([`crate::mapping::listener_expects_rule`]): one without a serving member has no
/// rule on purpose and stays ONLINE, as an amphora listener with an empty pool does.
pub fn listener_status(admin_up: bool, rule_missing: bool) -> OperatingStatus {
    if !admin_up {
        OperatingStatus::Offline
    } else if rule_missing {
        OperatingStatus::Error
    } else {
        OperatingStatus::Online
    }
}

/// A load balancer: admin down → OFFLINE; LoxiLB unreachable for too long → ERROR;
/// else the worst of its pools and listeners (ERROR > DEGRADED), ONLINE otherwise.
/// OFFLINE pools and listeners do not count, as OFFLINE members do not for pools.
///
/// A listener in ERROR (its rule is gone) makes the load balancer ERROR, exactly as a
/// pool in ERROR does: both mean that every connection to that listener fails, and
/// the load balancer already reports that outcome as ERROR when it comes from the
/// pool, so the same client-visible failure must not look milder (DEGRADED) because
/// its cause is a missing rule rather than dead members.
pub fn lb_status(
    admin_up: bool,
    stale_too_long: bool,
    parts: impl IntoIterator<Item = OperatingStatus>,
) -> OperatingStatus {
    if !admin_up {
        return OperatingStatus::Offline;
    }
    if stale_too_long {
        return OperatingStatus::Error;
    }
    let mut out = OperatingStatus::Online;
    for p in parts {
        match p {
            OperatingStatus::Error => return OperatingStatus::Error,
            OperatingStatus::Degraded => out = OperatingStatus::Degraded,
            _ => {}
        }
    }
    out
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
