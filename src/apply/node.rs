//! Executing one load balancer's plan on one LoxiLB node.
//!
//! Each successful call is recorded at once, so a crash or a failure half-way leaves
//! records that match the node and the next sync continues where this one stopped.

use std::collections::{BTreeMap, BTreeSet};

use tracing::{debug, info, warn};

use super::{Applier, NodeCalls, NodeError, NodeFailure, Phase, Run};
use crate::loxilb::{EndPoint, ErrorKind, LoadbalanceEntry, NodeId};
use crate::mapping::{self, DesiredRule, ProbeOp, RuleOp};
use crate::store::AppliedProbe;

pub(super) async fn apply(
    a: &Applier,
    n: NodeId,
    run: &Run<'_>,
    applied: &[(String, String)],
) -> Result<NodeCalls, NodeFailure> {
    let (lb, rules, merged, keys) = (run.lb, &run.desired.rules, run.merged, run.keys);
    let mut calls = NodeCalls::default();
    let posted = apply_rules(a, n, lb, rules, applied, &mut calls)
        .await
        .map_err(|error| NodeFailure {
            phase: Phase::Rules,
            error,
        })?;
    // Only a rule posted by this very sync can have just created a probe; a rule that
    // was already in place says nothing about a probe that went missing or drifted.
    let posted: Vec<DesiredRule> = rules
        .iter()
        .filter(|r| posted.contains(&r.entry.service_arguments.name))
        .cloned()
        .collect();
    apply_probes(a, n, &posted, merged, keys, &mut calls)
        .await
        .map_err(|error| NodeFailure {
            phase: Phase::Probes,
            error,
        })?;
    Ok(calls)
}

async fn apply_rules(
    a: &Applier,
    n: NodeId,
    lb: &str,
    rules: &[DesiredRule],
    applied: &[(String, String)],
    calls: &mut NodeCalls,
) -> Result<BTreeSet<String>, NodeError> {
    let url = a.client.node_url(n).to_string();
    let mut posted = BTreeSet::new();

    let applied_rules: BTreeMap<String, LoadbalanceEntry> = applied
        .iter()
        .filter_map(|(name, body)| match serde_json::from_str(body) {
            Ok(entry) => Some((name.clone(), entry)),
            Err(e) => {
                warn!(node = %url, rule = %name, error = %e, "unreadable applied rule record; it will be applied again");
                None
            }
        })
        .collect();
    let mut ops = mapping::plan_rules(rules, &applied_rules);
    // Deletions first: a rule whose key changed must leave before its successor comes.
    ops.sort_by_key(|op| !matches!(op, RuleOp::Delete { .. }));
    for op in ops {
        calls.rules += 1;
        match op {
            RuleOp::Apply(entry) => {
                let name = entry.service_arguments.name.clone();
                let outcome = a.client.apply_rule(n, &entry).await?;
                crate::metrics::global().rules_applied.inc();
                let body = serde_json::to_string(&entry).unwrap_or_default();
                a.store.put_applied_rule(&url, &name, lb, &body).await?;
                posted.insert(name.clone());
                info!(node = %url, loadbalancer_id = %lb, rule = %name, endpoints = entry.endpoints.len(), ?outcome, "LoxiLB rule applied");
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
                a.store.delete_applied_rule(&url, &name).await?;
                info!(node = %url, loadbalancer_id = %lb, rule = %name, ?outcome, "LoxiLB rule deleted");
            }
        }
    }

    Ok(posted)
}

async fn apply_probes(
    a: &Applier,
    n: NodeId,
    rules: &[DesiredRule],
    merged: &BTreeMap<String, EndPoint>,
    keys: &BTreeSet<String>,
    calls: &mut NodeCalls,
) -> Result<(), NodeError> {
    let url = a.client.node_url(n).to_string();
    let applied_probes: BTreeMap<String, EndPoint> = a
        .store
        .applied_probes(&url, keys)
        .await?
        .into_iter()
        .filter_map(|(key, body)| serde_json::from_str(&body).ok().map(|ep| (key, ep)))
        .collect();
    let desired_probes: BTreeMap<String, EndPoint> = merged
        .iter()
        .filter(|(k, _)| keys.contains(*k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut ops = mapping::plan_probes(&desired_probes, &applied_probes);
    ops.sort_by_key(|op| matches!(op, ProbeOp::Delete { .. }));
    // The rules (applied just before) already made LoxiLB create exactly these
    // probes: record them as ours without a call, all in one write.
    let (created, ops): (Vec<ProbeOp>, Vec<ProbeOp>) = ops.into_iter().partition(|op| {
        matches!(op, ProbeOp::Post(ep)
            if !applied_probes.contains_key(&ep.name) && rule_creates(rules, ep))
    });
    let created: Vec<EndPoint> = created
        .into_iter()
        .filter_map(|op| match op {
            ProbeOp::Post(ep) => Some(ep),
            ProbeOp::Delete { .. } => None,
        })
        .collect();
    record_probes(a, &url, &created).await?;
    if !created.is_empty() {
        debug!(node = %url, probes = created.len(), "probes created by their rules");
    }
    for op in ops {
        match op {
            ProbeOp::Post(ep) => {
                calls.probes += 1;
                a.client.create_endpoint(n, &ep).await?;
                crate::metrics::global().probes_created.inc();
                record_probe(a, &url, &ep).await?;
                info!(node = %url, probe_key = %ep.name, probe_type = %ep.probe_type, interval_s = ep.probe_duration, retries = ep.inactive_retries, "LoxiLB probe set");
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
                        // A rule still refers to the probe: LoxiLB keeps it, so put back
                        // the options that rule would use on its own.
                        let restored = mapping::rule_default_probe(&key);
                        a.client.create_endpoint(n, &restored).await?;
                        calls.probes += 1;
                        info!(node = %url, probe_key = %name, "probe still referred to by a LoxiLB rule; its default options were restored");
                    }
                    Err(e) => return Err(e.into()),
                }
                a.store.delete_applied_probe(&url, &name).await?;
            }
        }
    }
    Ok(())
}

/// True when a rule posted by this sync has the probe's member as an endpoint and its own probe
/// options give exactly `ep`: LoxiLB creates that probe with the rule.
fn rule_creates(rules: &[DesiredRule], ep: &EndPoint) -> bool {
    let Some(key) = mapping::ProbeKey::parse(&ep.name) else {
        return false;
    };
    rules.iter().any(|r| {
        let args = &r.entry.service_arguments;
        args.monitor
            && args.protocol == key.proto
            && r.entry
                .endpoints
                .iter()
                .any(|e| e.endpoint_ip == key.host && e.target_port == key.port)
            && mapping::rule_referred_probe(args, &key) == *ep
    })
}

async fn record_probe(a: &Applier, url: &str, ep: &EndPoint) -> Result<(), NodeError> {
    record_probes(a, url, std::slice::from_ref(ep)).await
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
    a.store.put_applied_probes(url, &records).await?;
    Ok(())
}
