//! Executing one load balancer's plan on one LoxiLB node.
//!
//! Each successful call is recorded at once, so a crash or a failure half-way leaves
//! records that match the node and the next sync continues where this one stopped.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use tracing::{debug, info, warn};

use super::{Applier, NodeBefore, NodeCalls, NodeError, NodeFailure, Phase, Run};
use crate::loxilb::{EndPoint, ErrorKind, LoadbalanceEntry, LoxilbClient, NodeId};
use crate::mapping::{self, DesiredRule, ProbeKey, ProbeOp, RuleOp};
use crate::store::{AppliedProbe, Store};

pub(super) async fn apply(
    a: &Applier,
    n: NodeId,
    run: &Run<'_>,
    applied: &[(String, String)],
) -> (Option<NodeBefore>, Result<NodeCalls, NodeFailure>) {
    let url = a.client.node_url(n).to_string();
    let before = match read_before(a, &url, run.keys, applied).await {
        Ok(b) => b,
        Err(e) => return (None, Err(rules_phase(e.into()))),
    };
    let (rules, desired_probes) = run.target.for_node(&url, run.keys);
    let r = execute(a, n, run, &url, &before, &rules, &desired_probes).await;
    (Some(before), r)
}

fn rules_phase(error: NodeError) -> NodeFailure {
    NodeFailure {
        phase: Phase::Rules,
        error,
    }
}

/// What the node holds for this load balancer before the run, as our records say:
/// the plan's starting point, and what a refused sync returns the node to.
async fn read_before(
    a: &Applier,
    url: &str,
    keys: &BTreeSet<String>,
    applied: &[(String, String)],
) -> Result<NodeBefore, crate::store::StoreError> {
    let rules = applied
        .iter()
        .filter_map(|(name, body)| match serde_json::from_str(body) {
            Ok(entry) => Some((name.clone(), entry)),
            Err(e) => {
                warn!(node = %url, rule = %name, error = %e, "unreadable applied rule record; it will be applied again");
                None
            }
        })
        .collect();
    let probes = bodies(a.records.applied_probes(url, keys).await)?;
    Ok(NodeBefore { rules, probes })
}

/// Plan `url` from `before` to the target (`rules`, `desired_probes`) and make the calls.
async fn execute(
    a: &Applier,
    n: NodeId,
    run: &Run<'_>,
    url: &str,
    before: &NodeBefore,
    rules: &[DesiredRule],
    desired_probes: &BTreeMap<String, EndPoint>,
) -> Result<NodeCalls, NodeFailure> {
    let lb = run.lb;
    let (applied_rules, applied_probes) = (&before.rules, &before.probes);
    let mut plan = mapping::plan_node(rules, applied_rules, desired_probes, applied_probes);
    // A probe this load balancer referred to may be on the node without our record of
    // it (a crash between its POST and the record): see `mapping::uncertain_deletes`.
    plan.probes_after.extend(mapping::uncertain_deletes(
        &super::unrecorded_referred(run.referred, desired_probes, applied_probes),
        desired_probes,
        applied_probes,
    ));
    refuse_known(&plan)?;
    let mut calls = NodeCalls::default();
    // Everything up to the rules carries traffic (a probe posted first is what the
    // rule will refer to): a failure there is a rule failure.
    forget_probes(a, url, &plan.forget_before_deletes)
        .await
        .map_err(rules_phase)?;
    // Rules deleted to be created anew: until their successor is in place the listener
    // has no rule, so any failure before that puts the old body back.
    let mut gap = Recreating::new(&plan, applied_rules);
    let rules_done = async {
        run_rule_ops(a, n, lb, plan.rule_deletes, &mut calls, &mut gap).await?;
        run_probe_ops(a, n, plan.probes_before, &mut calls).await?;
        forget_probes(a, url, &plan.forget_before_applies).await?;
        run_rule_ops(a, n, lb, plan.rule_applies, &mut calls, &mut gap).await
    }
    .await;
    if let Err(error) = rules_done {
        gap.restore(a, n, lb).await;
        return Err(rules_phase(error));
    }
    if !plan.created_by_rules.is_empty() {
        // The rules just applied made LoxiLB create exactly these probes.
        record_probes(a, url, &plan.created_by_rules)
            .await
            .map_err(rules_phase)?;
        debug!(node = %url, probes = plan.created_by_rules.len(), "probes created by their rules");
    }
    run_probe_ops(a, n, plan.probes_after, &mut calls)
        .await
        .map_err(|error| NodeFailure {
            phase: Phase::Probes,
            error,
        })?;
    Ok(calls)
}

/// Check before deleting: a body LoxiLB would refuse stops the sync before any call.
fn refuse_known(plan: &mapping::NodePlan) -> Result<(), NodeFailure> {
    for op in &plan.rule_applies {
        let entry = match op {
            RuleOp::Apply(e) | RuleOp::Detach { detach: e, .. } => e,
            RuleOp::Delete { .. } => continue,
        };
        if let Some(reason) = mapping::known_refusal(entry) {
            return Err(rules_phase(NodeError::Refused {
                rule: entry.service_arguments.name.clone(),
                reason,
            }));
        }
    }
    Ok(())
}

/// Probe rows (key, stored body) as bodies; an unreadable body is skipped (its key
/// is then treated as not recorded).
fn bodies(
    rows: Result<Vec<(String, String)>, crate::store::StoreError>,
) -> Result<BTreeMap<String, EndPoint>, crate::store::StoreError> {
    Ok(rows?
        .into_iter()
        .filter_map(|(key, body)| serde_json::from_str(&body).ok().map(|ep| (key, ep)))
        .collect())
}

/// Rules of one node's plan that are deleted to be created anew, from the moment their
/// deletion is done until their successor is applied.
struct Recreating {
    /// Name → the last body LoxiLB accepted (our applied record).
    old: BTreeMap<String, LoadbalanceEntry>,
    /// Name → when the deletion was done; removed once the successor is in place.
    since: BTreeMap<String, Instant>,
}

/// Attempts to put a deleted rule's last accepted body back (each with the client's
/// own retries of transient failures).
const RESTORE_ATTEMPTS: u32 = 3;

impl Recreating {
    fn new(plan: &mapping::NodePlan, applied: &BTreeMap<String, LoadbalanceEntry>) -> Self {
        let reapplied: Vec<&str> = plan
            .rule_applies
            .iter()
            .filter_map(|op| match op {
                RuleOp::Apply(e) => Some(e.service_arguments.name.as_str()),
                _ => None,
            })
            .collect();
        let old = plan
            .rule_deletes
            .iter()
            .filter_map(|op| match op {
                RuleOp::Delete { name, .. } if reapplied.contains(&name.as_str()) => {
                    applied.get(name).map(|e| (name.clone(), e.clone()))
                }
                _ => None,
            })
            .collect();
        Recreating {
            old,
            since: BTreeMap::new(),
        }
    }

    fn deleted(&mut self, name: &str) {
        if self.old.contains_key(name) {
            self.since.insert(name.to_string(), Instant::now());
        }
    }

    fn created(&mut self, name: &str) {
        if let Some(t) = self.since.remove(name) {
            crate::metrics::global()
                .rule_recreate_gap_seconds
                .observe(t.elapsed().as_secs_f64());
        }
    }

    /// Put back every rule still missing: its last accepted body, recorded as applied
    /// again. One that cannot be put back now is left to the catch-up, which re-runs
    /// the sync (and with it this restore) for the node.
    async fn restore(&mut self, a: &Applier, n: NodeId, lb: &str) {
        let url = a.client.node_url(n).to_string();
        let missing: Vec<String> = self.since.keys().cloned().collect();
        for name in missing {
            let Some(body) = self.old.get(&name).cloned() else {
                continue;
            };
            let mut restored = false;
            for attempt in 1..=RESTORE_ATTEMPTS {
                match a.client.apply_rule(n, &body).await {
                    Ok(_) => {
                        let text = serde_json::to_string(&body).unwrap_or_default();
                        if let Err(e) = a.records.put_applied_rule(&url, &name, lb, &text).await {
                            warn!(node = %url, rule = %name, error = %e, "rule restored but not recorded; the reconciler will see it");
                        }
                        restored = true;
                        break;
                    }
                    Err(e) => {
                        warn!(node = %url, rule = %name, attempt, error = %e, "restoring the previous rule failed");
                    }
                }
            }
            self.created(&name);
            if restored {
                warn!(node = %url, loadbalancer_id = %lb, rule = %name, "the new rule failed after the old one was deleted; the previous rule was restored");
            } else {
                warn!(node = %url, loadbalancer_id = %lb, rule = %name, "the new rule failed after the old one was deleted and the previous rule could not be restored; the node is left to the catch-up");
            }
        }
    }
}

/// Forget applied probe records before a call that may make LoxiLB drop the probes.
async fn forget_probes(a: &Applier, url: &str, keys: &[String]) -> Result<(), NodeError> {
    if !keys.is_empty() {
        a.records.delete_applied_probes(url, keys).await?;
    }
    Ok(())
}

async fn run_rule_ops(
    a: &Applier,
    n: NodeId,
    lb: &str,
    ops: Vec<RuleOp>,
    calls: &mut NodeCalls,
    gap: &mut Recreating,
) -> Result<(), NodeError> {
    let url = a.client.node_url(n).to_string();
    for op in ops {
        calls.rules += 1;
        match op {
            RuleOp::Apply(entry) => {
                let name = entry.service_arguments.name.clone();
                let outcome = a.client.apply_rule(n, &entry).await?;
                gap.created(&name);
                crate::metrics::global().rules_applied.inc();
                let body = serde_json::to_string(&entry).unwrap_or_default();
                a.records.put_applied_rule(&url, &name, lb, &body).await?;
                debug!(node = %url, loadbalancer_id = %lb, rule = %name, endpoints = entry.endpoints.len(), ?outcome, "LoxiLB rule applied");
            }
            RuleOp::Detach { detach, leaves } => {
                let name = detach.service_arguments.name.clone();
                // A rule that is not there (lost behind our back) has nothing to
                // detach: create what should be left instead.
                let outcome = match a.client.apply_rule(n, &detach).await {
                    Err(e) if e.kind == ErrorKind::NotFound => {
                        calls.rules += 1;
                        a.client.apply_rule(n, &leaves).await?
                    }
                    other => other?,
                };
                let body = serde_json::to_string(&leaves).unwrap_or_default();
                a.records.put_applied_rule(&url, &name, lb, &body).await?;
                debug!(node = %url, loadbalancer_id = %lb, rule = %name, detached = detach.endpoints.len(), ?outcome, "LoxiLB rule endpoints detached");
            }
            RuleOp::Delete {
                external_ip,
                port,
                protocol,
                name,
            } => {
                let outcome = a
                    .client
                    .delete_rule(n, &external_ip, port, &protocol)
                    .await?;
                gap.deleted(&name);
                a.records.delete_applied_rule(&url, &name).await?;
                debug!(node = %url, loadbalancer_id = %lb, rule = %name, ?outcome, "LoxiLB rule deleted");
            }
        }
    }
    Ok(())
}

async fn run_probe_ops(
    a: &Applier,
    n: NodeId,
    ops: Vec<ProbeOp>,
    calls: &mut NodeCalls,
) -> Result<(), NodeError> {
    let url = a.client.node_url(n).to_string();
    let mut ops = ops.into_iter().peekable();
    while let Some(op) = ops.next() {
        match op {
            ProbeOp::Post(ep) => {
                // Posts of distinct keys are independent: a run of them goes out
                // concurrently (an HTTP pool's probes cost one round trip per few
                // members, not one each), and is recorded in one write.
                let mut run = vec![ep];
                while let Some(ProbeOp::Post(_)) = ops.peek() {
                    if let Some(ProbeOp::Post(ep)) = ops.next() {
                        run.push(ep);
                    }
                }
                calls.probes += run.len();
                post_probes(a, n, &url, run).await?;
            }
            ProbeOp::Delete { key, endpoint } => {
                calls.probes += 1;
                let name = key.name();
                let deleted = a
                    .client
                    .delete_endpoint(
                        n,
                        &endpoint.host_name,
                        &name,
                        &endpoint.probe_type,
                        endpoint.probe_port,
                    )
                    .await;
                match deleted {
                    Ok(outcome) => {
                        crate::metrics::global().probes_deleted.inc();
                        debug!(node = %url, probe_key = %name, ?outcome, "LoxiLB probe deleted");
                    }
                    Err(e) if e.kind == ErrorKind::Conflict => {
                        // A rule still refers to the probe: LoxiLB keeps it. Our own
                        // rules get back the options they would use on their own; a
                        // rule someone else owns keeps the probe as they set it.
                        if probe_defaults_restorable(&a.client, &a.store, n, &url, &key).await? {
                            let restored = mapping::rule_default_probe(&key);
                            a.client.create_endpoint(n, &restored).await?;
                            calls.probes += 1;
                            info!(node = %url, probe_key = %name, "probe still referred to by a LoxiLB rule of ours; its default options were restored");
                        } else {
                            info!(node = %url, probe_key = %name, "probe still referred to by a LoxiLB rule we do not own; left as it is");
                        }
                    }
                    Err(e) => return Err(e.into()),
                }
                a.records
                    .delete_applied_probes(&url, std::slice::from_ref(&name))
                    .await?;
            }
        }
    }
    Ok(())
}

/// Whether the probe under `key`, which LoxiLB keeps because a rule refers to it, may
/// be rewritten to the options a rule would use on its own: only when every rule on
/// the node referring to it is one we recorded (`recovery::guard`).
pub async fn probe_defaults_restorable(
    client: &LoxilbClient,
    store: &Store,
    n: NodeId,
    url: &str,
    key: &ProbeKey,
) -> Result<bool, NodeError> {
    let rules = client.list_rules(n).await?;
    let ours: BTreeSet<String> = store
        .all_applied_rules(url)
        .await?
        .into_iter()
        .map(|(_, name, _)| name)
        .collect();
    Ok(crate::recovery::guard::may_restore_probe_defaults(
        key, &rules, &ours,
    ))
}

/// Probe posts in flight at once on one node.
const PROBE_POSTS_IN_FLIGHT: usize = 8;

/// Post probes of distinct keys concurrently; record those that succeeded (all in one
/// write) and report the first failure.
async fn post_probes(
    a: &Applier,
    n: NodeId,
    url: &str,
    eps: Vec<EndPoint>,
) -> Result<(), NodeError> {
    use futures::StreamExt;
    // No write before the POSTs: the probe references that name these keys were
    // recorded before the sync began calling, and a later sync deletes a referred key
    // it neither wants nor has a record of, so a crash between a POST and its record
    // cannot leak the probe.
    let results: Vec<(EndPoint, Result<(), crate::loxilb::LoxilbError>)> =
        futures::stream::iter(eps)
            .map(|ep| async move {
                let r = a.client.create_endpoint(n, &ep).await.map(|_| ());
                (ep, r)
            })
            .buffer_unordered(PROBE_POSTS_IN_FLIGHT)
            .collect()
            .await;
    let mut done = Vec::with_capacity(results.len());
    let mut first_error = None;
    for (ep, r) in results {
        match r {
            Ok(()) => {
                crate::metrics::global().probes_created.inc();
                debug!(node = %url, probe_key = %ep.name, probe_type = %ep.probe_type, interval_s = ep.probe_duration, retries = ep.inactive_retries, "LoxiLB probe set");
                done.push(ep);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    record_probes(a, url, &done).await?;
    match first_error {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

async fn record_probes(a: &Applier, url: &str, eps: &[EndPoint]) -> Result<(), NodeError> {
    let records: Vec<AppliedProbe> = eps
        .iter()
        .map(|ep| AppliedProbe {
            key: ep.name.clone(),
            host: ep.host_name.clone(),
            probe_type: ep.probe_type.clone(),
            port: ep.probe_port,
            options: serde_json::to_string(ep).unwrap_or_default(),
        })
        .collect();
    a.records.put_applied_probes(url, &records).await?;
    Ok(())
}
