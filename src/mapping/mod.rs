//! Pure mapping from Octavia desired state to LoxiLB desired objects, and pure plans
//! (diffs) of those objects against what was applied on a node.
//!
//! Nothing here does I/O, awaits or touches the store: the applier reads the desired
//! tables, builds an [`LbTree`] per load balancer, asks [`desired_for_lb`] for the rules
//! and probe wants, merges wants that share a probe key with [`merge_probe`] (several
//! load balancers can write the same LoxiLB probe) and finally diffs against what it
//! recorded as applied with [`plan_rules`] / [`plan_probes`]. Keeping this pure makes the
//! whole Octavia → LoxiLB translation testable without a LoxiLB.
//!
//! Decisions (the WHY lives in each file's docs):
//! - One LoxiLB rule per listener with a default pool, named [`rule_name`]`(listener_id)`
//!   so our rules are recognisable among foreign ones. A name alone proves nothing
//!   (other drivers use the prefix too): recovery treats an unrecorded rule as ours only
//!   under [`exact_pattern_listener`] and with Octavia's word (`recovery::guard`).
//! - No rule exists while the LB, listener or pool is admin down, or while no member can
//!   take traffic: LoxiLB deletes a rule whose update leaves no endpoints, so an empty rule
//!   is never desired.
//! - A drained member (weight 0) and an admin-down member are not rule endpoints: a drained
//!   member gets no new flows. A drained member keeps its probe so Octavia still gets its
//!   health; an admin-down member has no probe (Octavia reports it OFFLINE regardless).
//! - Probes are keyed exactly as LoxiLB rules look them up: `<member ip>_<rule proto>_<member
//!   port>` ([`ProbeKey`]); the probe itself may target the monitor address/port.
//! - Only top-level rows of the tree count. Nested copies (a pool's `members`, a listener's
//!   `default_pool`, a pool's `healthmonitor`) are ignored: they are snapshots from graph
//!   creates and go stale as soon as the child rows change.

mod l4;
mod merge;
mod node_plan;
mod plan;
mod probe;
mod refusals;
mod rule;
mod tree;

pub(crate) use l4::pool_rule_proto;
pub use merge::merge_probe;
pub use node_plan::{endpoint_keys, plan_node, rule_creates, uncertain_deletes, NodePlan};
pub use plan::{plan_probes, plan_rules, plan_rules_forcing, ProbeOp, RuleOp};
pub use probe::{rule_default_probe, rule_referred_probe, ProbeKey, ProbeWant};
pub use refusals::known_refusal;
pub use rule::{
    exact_pattern_listener, is_ours_rule, listener_expects_rule, listener_of_rule_name,
    listener_rule_key, rule_name, RULE_NAME_PREFIX,
};
pub use tree::{LbTree, MappingError};

use crate::config::NatMode;
use crate::loxilb::types::LoadbalanceEntry;

/// Operator defaults that the Octavia objects do not carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MappingOptions {
    /// LoxiLB mode for rules whose load balancer's flavor does not choose one.
    pub nat_mode: NatMode,
    /// Seconds between probes when a health monitor has no `delay`.
    pub default_delay: u32,
    /// Seconds a probe may take when a health monitor has no `timeout`.
    pub default_timeout: u32,
    /// Failures before a member is down when a monitor has neither retry field.
    pub default_max_retries: u32,
}

impl Default for MappingOptions {
    /// The `[health]` defaults of the design seed (30 s, 10 s, 3) and fullnat.
    fn default() -> Self {
        MappingOptions {
            nat_mode: NatMode::Fullnat,
            default_delay: 30,
            default_timeout: 10,
            default_max_retries: 3,
        }
    }
}

/// One load balancer's desired LoxiLB objects.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DesiredLb {
    /// One per listener that can serve traffic, sorted by listener id.
    pub rules: Vec<DesiredRule>,
    /// One per monitored member, sorted by (key, member id). Keys may repeat (two pools of
    /// the LB sharing a member address and port); [`merge_probe`] resolves that.
    pub probes: Vec<ProbeWant>,
}

/// A rule and the Octavia objects it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredRule {
    pub listener_id: String,
    pub pool_id: String,
    pub entry: LoadbalanceEntry,
}

/// Every rule and probe want of one load balancer.
pub fn desired_for_lb(tree: &LbTree, opts: &MappingOptions) -> DesiredLb {
    let mut rules = rule::rules_for_lb(tree, opts);
    rules.sort_by(|a, b| a.listener_id.cmp(&b.listener_id));
    let mut probes = probe::wants_for_lb(tree, opts);
    probes.sort_by(|a, b| (&a.key, &a.member_id).cmp(&(&b.key, &b.member_id)));
    DesiredLb { rules, probes }
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod table_tests;
