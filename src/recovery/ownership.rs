//! Asking Octavia whether unrecorded rules under our name pattern are ours (the I/O
//! half of `guard`).
//!
//! An unrecorded `octavia-<uuid>` rule is ours only when Octavia says its listener does
//! not exist. Another coordinator sharing the node names its rules the same way, so
//! its listeners exist in Octavia and its rules stay. A driver agent that answers "not
//! found" for everything (an empty or wrong get socket) is not believed: its "not
//! found" counts only when it answers some listener we do have as existing.

use std::collections::BTreeSet;

use futures::StreamExt;
use serde_json::Value;
use tracing::debug;

use super::ctx::Ctx;
use super::diff::{ObjectKind, Orphan};
use super::guard::{unrecorded_rule_is_ours, OctaviaAnswer};
use crate::mapping::exact_pattern_listener;
use crate::octavia::{self, DriverAgentClient};

/// Get requests in flight at once.
const CONCURRENCY: usize = 8;
/// Desired listeners asked to see whether the agent answers normally.
const PROBES_OF_AGENT: usize = 3;

/// What Octavia's reply to a get means.
pub(crate) fn answer(r: Result<Option<Value>, octavia::OctaviaError>) -> OctaviaAnswer {
    match r {
        Ok(None) => OctaviaAnswer::NotFound,
        Ok(Some(v)) if v.get("provisioning_status").and_then(Value::as_str) == Some("DELETED") => {
            OctaviaAnswer::NotFound
        }
        Ok(Some(_)) => OctaviaAnswer::Exists,
        Err(_) => OctaviaAnswer::Unknown,
    }
}

/// Keep the probe candidates and the rule candidates Octavia confirms are ours; the
/// other rules' names are returned apart (left alone, reported).
pub(crate) async fn confirm(
    ctx: &Ctx,
    candidates: Vec<Orphan>,
    desired_listeners: &BTreeSet<String>,
) -> (Vec<Orphan>, Vec<String>) {
    let (rules, mut kept): (Vec<Orphan>, Vec<Orphan>) = candidates
        .into_iter()
        .partition(|o| o.kind == ObjectKind::Rule);
    if rules.is_empty() {
        return (kept, Vec::new());
    }
    let trusted = agent_answers_normally(&ctx.agent, desired_listeners).await;
    let answers: Vec<(Orphan, OctaviaAnswer)> = futures::stream::iter(rules)
        .map(|o| async move {
            let a = match exact_pattern_listener(&o.name) {
                Some(l) => answer(ctx.agent.get(octavia::ObjectKind::Listeners, l).await),
                None => OctaviaAnswer::Unknown,
            };
            (o, a)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut not_ours = Vec::new();
    for (o, a) in answers {
        if unrecorded_rule_is_ours(a, trusted) {
            kept.push(o);
        } else {
            debug!(rule = %o.name, answer = ?a, trusted, "unrecorded rule not confirmed ours; left alone");
            not_ours.push(o.name);
        }
    }
    not_ours.sort();
    (kept, not_ours)
}

/// Whether the agent says some listener we have exists (asked for a few of them).
async fn agent_answers_normally(
    agent: &DriverAgentClient,
    desired_listeners: &BTreeSet<String>,
) -> bool {
    for l in desired_listeners.iter().take(PROBES_OF_AGENT) {
        if answer(agent.get(octavia::ObjectKind::Listeners, l).await) == OctaviaAnswer::Exists {
            return true;
        }
    }
    false
}
