//! One node's reconciliation: read our records and desired ids, list the node, compare
//! (pure, `diff`), then repair drift through the applier and remove confirmed orphans.
//!
//! Records are read *before* the node is listed: a change applied in between then
//! looks like an unrecorded object (never acted on at once thanks to the two-scan
//! rule) rather than a lost one. Drift found that way is confirmed by a second look
//! with the load balancers and probes involved held still (`confirm_drift`), so an
//! event in flight is never reported or "repaired" as drift.

use std::collections::BTreeSet;

use serde::Serialize;
use tracing::{error, info, warn};

use super::ctx::Ctx;
use super::diff::{self, Drift, NodeView, ObjectKind, Orphan};
use super::guard::Decision;
use super::orphans::OrphanMemory;
use super::ownership;
use super::stats::RecoveryStats;
use crate::loxilb::{ErrorKind, LoxilbError, NodeId};
use crate::mapping::{self, listener_of_rule_name, ProbeKey};
use crate::store::StoreError;

/// What a pass may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    /// Forget drifted records and re-sync (else only report).
    pub repair: bool,
    /// Remove orphans seen in two consecutive acting scans.
    pub remove_orphans: bool,
    /// Count this scan as a sighting for the two-scan rule.
    pub remember: bool,
    /// An operator confirmed the deletions: the blast-radius limit does not hold them.
    pub confirm: bool,
}

impl Pass {
    pub const DRY_RUN: Pass = Pass {
        repair: false,
        remove_orphans: false,
        remember: false,
        confirm: false,
    };
    pub const FULL: Pass = Pass {
        repair: true,
        remove_orphans: true,
        remember: true,
        confirm: false,
    };
    /// Restart repair: restore at once, leave orphans to the regular passes.
    pub const RESTORE: Pass = Pass {
        repair: true,
        remove_orphans: false,
        remember: false,
        confirm: false,
    };
    pub const ORPHANS: Pass = Pass {
        repair: false,
        remove_orphans: true,
        remember: true,
        confirm: false,
    };

    /// This pass with the operator's confirmation of held deletions.
    pub const fn confirmed(self) -> Pass {
        Pass {
            confirm: true,
            ..self
        }
    }
}

/// An orphan as reported by a pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrphanReport {
    #[serde(flatten)]
    pub orphan: Orphan,
    /// Seen by the previous acting scan too: removable.
    pub confirmed: bool,
    pub removed: bool,
}

/// One node's part of a report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NodeReport {
    pub node: String,
    /// Set when the node could not be scanned (nothing else is then filled in).
    pub error: Option<String>,
    pub drift: Vec<Drift>,
    /// Drift records whose load balancer was re-synced successfully.
    pub repaired: usize,
    /// Load balancers synced on this node.
    pub synced: usize,
    pub orphans: Vec<OrphanReport>,
    /// The confirmed orphans exceed the blast-radius limit: none is removed until an
    /// operator confirms (`--confirm`).
    pub held: bool,
    /// Unrecorded rules under our exact name pattern that Octavia did not confirm gone
    /// (it knows the listener, or could not be trusted): left alone, listed for the
    /// operator.
    pub not_ours: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
enum ScanError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Loxilb(#[from] Box<LoxilbError>),
    #[error(transparent)]
    Apply(#[from] crate::apply::NodeError),
}

/// Scan node `n` and act as `pass` allows.
pub(crate) async fn node_pass(
    ctx: &Ctx,
    n: NodeId,
    pass: Pass,
    memory: &mut OrphanMemory,
) -> NodeReport {
    let url = ctx.applier.client().node_url(n).to_string();
    let mut report = NodeReport {
        node: url.clone(),
        ..NodeReport::default()
    };
    if let Err(e) = run(ctx, n, pass, memory, &mut report).await {
        warn!(node = %url, error = %e, "reconciliation of a LoxiLB node failed");
        RecoveryStats::bump(&ctx.stats.repair_failures, 1);
        report.error = Some(e.to_string());
    }
    report
}

async fn run(
    ctx: &Ctx,
    n: NodeId,
    pass: Pass,
    memory: &mut OrphanMemory,
    report: &mut NodeReport,
) -> Result<(), ScanError> {
    let url = report.node.clone();
    let applied_rules = ctx.store.all_applied_rules(&url).await?;
    let applied_probes = ctx.store.all_applied_probes(&url).await?;
    let (desired_lbs, listeners) = ctx.store.desired_ids().await?;
    let refs = ctx.store.referenced_probe_keys().await?;
    let client = ctx.applier.client();
    let observed_rules = client.list_rules(n).await.map_err(Box::new)?;
    let observed_probes = client.list_endpoints(n).await.map_err(Box::new)?;
    let found = diff::compare(&NodeView {
        applied_rules: &applied_rules,
        applied_probes: &applied_probes,
        observed_rules: &observed_rules,
        observed_probes: &observed_probes,
        desired_listeners: &listeners,
        referenced_probes: &refs,
    });
    report.drift = confirm_drift(ctx, n, &url, found.drift, (&listeners, &refs)).await?;
    let (candidates, not_ours) = ownership::confirm(ctx, found.orphans, &listeners).await;
    report.not_ours = not_ours;
    let sightings = if pass.remember {
        memory.observe(&url, &candidates)
    } else {
        memory.peek(&url, &candidates)
    };
    report.orphans = sightings
        .into_iter()
        .map(|(orphan, confirmed)| OrphanReport {
            orphan,
            confirmed,
            removed: false,
        })
        .collect();
    // Only rule deletions cut traffic; probes we recorded and nothing refers to do not.
    let rule_deletions = report
        .orphans
        .iter()
        .filter(|o| o.confirmed && o.orphan.kind == ObjectKind::Rule)
        .count();
    report.held = ctx.limit.decide(
        rule_deletions,
        ctx.recent_deletions(),
        desired_lbs.len(),
        pass.confirm,
    ) == Decision::Hold;

    if pass.repair {
        let mut lbs: BTreeSet<String> = desired_lbs;
        lbs.extend(applied_rules.iter().map(|(lb, _, _)| lb.clone()));
        repair(ctx, n, &url, lbs, report).await?;
    }
    if pass.remove_orphans && report.held {
        error!(node = %url, rules = rule_deletions, limit_fraction = ctx.limit.max_fraction, limit_count = ctx.limit.max_count,
               "orphan removal would exceed the blast-radius limit; nothing deleted. Check `loxilb-coordinator orphans`, then `orphans --confirm`");
        crate::metrics::global().guarded_deletions_blocked.inc();
    } else if pass.remove_orphans {
        remove_confirmed(ctx, n, &url, pass.confirm, memory, report).await;
    }
    Ok(())
}

/// Remove the confirmed orphans of `report`, marking each removed; a failure is
/// counted and left for the next pass.
async fn remove_confirmed(
    ctx: &Ctx,
    n: NodeId,
    url: &str,
    confirmed_by_operator: bool,
    memory: &mut OrphanMemory,
    report: &mut NodeReport,
) {
    for o in report.orphans.iter_mut().filter(|o| o.confirmed) {
        match remove_orphan(ctx, n, url, &o.orphan).await {
            Ok(()) => {
                o.removed = true;
                if o.orphan.kind == ObjectKind::Rule && !confirmed_by_operator {
                    ctx.record_deletions(1);
                }
                memory.forget(url, &o.orphan);
                RecoveryStats::bump(&ctx.stats.orphans_removed, 1);
                crate::metrics::global().orphans_removed.inc();
            }
            Err(e) => {
                RecoveryStats::bump(&ctx.stats.repair_failures, 1);
                warn!(node = %url, kind = ?o.orphan.kind, object = %o.orphan.name, error = %e, "orphan removal failed; next pass retries");
            }
        }
    }
}

/// The drift that holds when looked at again with the load balancers and probes
/// involved held still.
///
/// Our records and the node's listing are read at different moments, so a sync that
/// lands in between (an event in flight) makes them differ without anything having
/// drifted; "repairing" that would re-post whichever value was read. Drift is rare, so
/// each pass that finds some reads both sides once more while no sync of those load
/// balancers and no write of those probes can run (`Applier::quiesce`), and keeps only
/// what still differs.
async fn confirm_drift(
    ctx: &Ctx,
    n: NodeId,
    url: &str,
    drift: Vec<Drift>,
    (listeners, refs): (&BTreeSet<String>, &BTreeSet<String>),
) -> Result<Vec<Drift>, ScanError> {
    if drift.is_empty() {
        return Ok(drift);
    }
    let lbs: BTreeSet<String> = drift
        .iter()
        .filter(|d| d.kind == ObjectKind::Rule)
        .map(|d| d.loadbalancer_id.clone())
        .collect();
    let keys: BTreeSet<String> = drift
        .iter()
        .filter(|d| d.kind == ObjectKind::Probe)
        .map(|d| d.name.clone())
        .collect();
    let again = {
        let _still = ctx.applier.quiesce(&lbs, &keys).await;
        let applied_rules = ctx.store.all_applied_rules(url).await?;
        let applied_probes = ctx.store.all_applied_probes(url).await?;
        let client = ctx.applier.client();
        let observed_rules = client.list_rules(n).await.map_err(Box::new)?;
        let observed_probes = client.list_endpoints(n).await.map_err(Box::new)?;
        diff::compare(&NodeView {
            applied_rules: &applied_rules,
            applied_probes: &applied_probes,
            observed_rules: &observed_rules,
            observed_probes: &observed_probes,
            desired_listeners: listeners,
            referenced_probes: refs,
        })
        .drift
    };
    let first: BTreeSet<(ObjectKind, &str)> =
        drift.iter().map(|d| (d.kind, d.name.as_str())).collect();
    Ok(again
        .into_iter()
        .filter(|d| first.contains(&(d.kind, d.name.as_str())))
        .collect())
}

/// Forget drifted records, then sync every load balancer on this node.
async fn repair(
    ctx: &Ctx,
    n: NodeId,
    url: &str,
    mut lbs: BTreeSet<String>,
    report: &mut NodeReport,
) -> Result<(), ScanError> {
    let mut drift_lbs: Vec<BTreeSet<String>> = Vec::new();
    for d in &report.drift {
        warn!(node = %url, kind = ?d.kind, object = %d.name, loadbalancer_id = %d.loadbalancer_id,
              difference = %d.difference, "LoxiLB differs from what we applied; repairing");
        let owners = match d.kind {
            ObjectKind::Rule => {
                ctx.applier.forget_applied_rule(url, &d.name).await?;
                BTreeSet::from([d.loadbalancer_id.clone()])
            }
            ObjectKind::Probe => {
                ctx.applier.forget_applied_probe(url, &d.name).await?;
                ctx.store.lbs_of_probe_key(&d.name).await?
            }
        };
        lbs.extend(owners.iter().cloned());
        drift_lbs.push(owners);
    }
    let mut failed = BTreeSet::new();
    for lb in &lbs {
        match ctx.applier.sync_lb(lb, &[n], true).await {
            Ok(outcome) => {
                report.synced += 1;
                match outcome.nodes.into_iter().find_map(|(_, r)| r.err()) {
                    None => {
                        ctx.store.clear_backlog(url, lb).await?;
                    }
                    Some(e) => {
                        failed.insert(lb.clone());
                        ctx.store.mark_backlog(url, lb, &e.to_string()).await?;
                    }
                }
            }
            Err(e) => {
                warn!(node = %url, loadbalancer_id = %lb, error = %e, "repair sync failed");
                failed.insert(lb.clone());
            }
        }
    }
    for (d, owners) in report.drift.iter().zip(&drift_lbs) {
        if owners.iter().all(|lb| !failed.contains(lb)) {
            report.repaired += 1;
            info!(node = %url, kind = ?d.kind, object = %d.name, "repaired");
        }
    }
    RecoveryStats::bump(&ctx.stats.drift_repaired, report.repaired as u64);
    crate::metrics::global()
        .reconcile_repairs
        .inc_by(report.repaired as u64);
    let unrepaired = report.drift.len() - report.repaired;
    RecoveryStats::bump(&ctx.stats.repair_failures, unrepaired as u64);
    Ok(())
}

/// Remove one confirmed orphan, after checking once more that nothing wants it.
async fn remove_orphan(ctx: &Ctx, n: NodeId, url: &str, o: &Orphan) -> Result<(), ScanError> {
    let client = ctx.applier.client();
    match o.kind {
        ObjectKind::Rule => {
            let (_, listeners) = ctx.store.desired_ids().await?;
            let recorded = ctx
                .store
                .all_applied_rules(url)
                .await?
                .iter()
                .any(|(_, name, _)| *name == o.name);
            if recorded || listener_of_rule_name(&o.name).is_some_and(|l| listeners.contains(l)) {
                return Ok(());
            }
            let outcome = client
                .delete_rule_by_name(n, &o.name)
                .await
                .map_err(Box::new)?;
            info!(node = %url, rule = %o.name, ?outcome, "orphaned LoxiLB rule removed");
        }
        ObjectKind::Probe => {
            if ctx.store.referenced_probe_keys().await?.contains(&o.name) {
                return Ok(());
            }
            let deleted = client
                .delete_endpoint(n, &o.host, &o.name, &o.probe_type, o.port)
                .await;
            match deleted {
                Ok(outcome) => {
                    info!(node = %url, probe_key = %o.name, ?outcome, "orphaned LoxiLB probe removed")
                }
                Err(e) if e.kind == ErrorKind::Conflict => {
                    // A rule still refers to it: LoxiLB keeps it. When all such rules
                    // are ours, give back the options they would use; a rule of someone
                    // else's keeps the probe as they set it. Either way it is no longer
                    // ours.
                    if let Some(key) = ProbeKey::parse(&o.name) {
                        if crate::apply::probe_defaults_restorable(client, &ctx.store, n, url, &key)
                            .await?
                        {
                            let restored = mapping::rule_default_probe(&key);
                            client
                                .create_endpoint(n, &restored)
                                .await
                                .map_err(Box::new)?;
                        }
                    }
                    info!(node = %url, probe_key = %o.name, "orphaned probe still used by a rule; record dropped");
                }
                Err(e) => return Err(Box::new(e).into()),
            }
            ctx.applier.forget_applied_probe(url, &o.name).await?;
        }
    }
    Ok(())
}
