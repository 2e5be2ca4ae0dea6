//! Octavia as the source of truth at start-up: load balancers we hold that Octavia
//! deleted while we were down are removed from desired state and from LoxiLB.
//!
//! Only load balancers that were settled when we started are candidates: one with
//! unfinished events is in the middle of an Octavia operation (a create we have not
//! finished may not be visible yet), and one that receives an event after start is
//! evidently known to Octavia. The snapshot is taken before journal replay for that.
//! An unreachable driver agent does not stop the daemon: the check is retried later.

use std::collections::BTreeSet;

use futures::StreamExt;
use tracing::{error, info, warn};

use super::ctx::Ctx;
use super::guard::{Decision, OctaviaAnswer};
use super::ownership::answer;
use super::stats::RecoveryStats;
use crate::octavia::{DriverAgentClient, ObjectKind};
use crate::store::{Store, StoreError};

/// Load balancers to verify with Octavia, taken before the journal is replayed.
#[derive(Debug, Clone, Default)]
pub struct StartupSnapshot {
    candidates: BTreeSet<String>,
    /// Reported not found but not removed (untrusted agent or blast-radius limit):
    /// waiting for an operator's confirmation.
    held: BTreeSet<String>,
    max_event_id: i64,
}

impl StartupSnapshot {
    pub async fn take(store: &Store) -> Result<StartupSnapshot, StoreError> {
        let (mut candidates, _) = store.desired_ids().await?;
        let (busy, max_event_id) = store.lbs_in_flight().await?;
        candidates.retain(|lb| !busy.contains(lb));
        Ok(StartupSnapshot {
            candidates,
            held: BTreeSet::new(),
            max_event_id,
        })
    }

    pub fn is_done(&self) -> bool {
        self.candidates.is_empty()
    }

    /// Load balancers held for an operator's confirmation.
    pub fn held(&self) -> Vec<String> {
        self.held.iter().cloned().collect()
    }
}

/// Check the remaining candidates (at most `concurrency` requests at a time); the
/// ones the agent could not answer for stay in the snapshot for the next attempt.
///
/// "Not found" is believed only when the agent answered some other load balancer as
/// existing in the same check (an empty or wrong get socket answers "not found" for
/// everything), and the removals must stay within the blast-radius limit. Otherwise
/// nothing is removed: the candidates are held, listed by `orphans`, and removed by
/// `orphans --confirm`.
pub(crate) async fn check(
    ctx: &Ctx,
    agent: &DriverAgentClient,
    snap: &mut StartupSnapshot,
    concurrency: usize,
) {
    let ids: Vec<String> = snap.candidates.iter().cloned().collect();
    let answers: Vec<(String, OctaviaAnswer)> = futures::stream::iter(ids)
        .map(|id| async move {
            let v = answer(agent.get(ObjectKind::Loadbalancers, &id).await);
            (id, v)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let trusted = answers.iter().any(|(_, a)| *a == OctaviaAnswer::Exists);
    let mut unreachable = 0;
    let mut gone = Vec::new();
    for (lb, v) in answers {
        match v {
            OctaviaAnswer::Exists => {
                snap.candidates.remove(&lb);
            }
            OctaviaAnswer::Unknown => {
                unreachable += 1;
                if unreachable == 1 {
                    warn!(loadbalancer_id = %lb, "driver agent cannot confirm our load balancers; checking again later");
                }
            }
            OctaviaAnswer::NotFound => gone.push(lb),
        }
    }
    if gone.is_empty() {
        return;
    }
    let known = match ctx.store.desired_ids().await {
        Ok((lbs, _)) => lbs.len(),
        Err(e) => {
            warn!(error = %e, "cannot count our load balancers; start-up check retried later");
            return;
        }
    };
    let decision = ctx
        .limit
        .decide(gone.len(), ctx.recent_deletions(), known, false);
    if !trusted || decision == Decision::Hold {
        let why = if trusted {
            "removing them would exceed the blast-radius limit"
        } else {
            "the driver agent answered none of our load balancers as existing (is octavia.get_socket right?)"
        };
        error!(count = gone.len(), known, reason = why, loadbalancer_ids = ?gone,
               "Octavia reports load balancers we hold as not found; nothing removed. Check `loxilb-coordinator orphans`, then `orphans --confirm`");
        crate::metrics::global().guarded_deletions_blocked.inc();
        for lb in gone {
            snap.candidates.remove(&lb);
            snap.held.insert(lb);
        }
        crate::metrics::global()
            .guarded_deletion_candidates
            .set(i64::try_from(snap.held.len()).unwrap_or(i64::MAX));
        return;
    }
    for lb in gone {
        match remove(ctx, &lb, snap.max_event_id).await {
            Ok(()) => {
                ctx.record_deletions(1);
                snap.candidates.remove(&lb);
            }
            Err(e) => {
                warn!(loadbalancer_id = %lb, error = %e, "removing a load balancer Octavia deleted failed; trying again later")
            }
        }
    }
}

/// Remove the held load balancers an operator confirmed (`--confirm`).
pub(crate) async fn remove_held(ctx: &Ctx, snap: &mut StartupSnapshot) {
    let held: Vec<String> = snap.held.iter().cloned().collect();
    for lb in held {
        match remove(ctx, &lb, snap.max_event_id).await {
            Ok(()) => {
                snap.held.remove(&lb);
            }
            Err(e) => {
                warn!(loadbalancer_id = %lb, error = %e, "removing a confirmed load balancer failed; confirm again")
            }
        }
    }
}

async fn remove(ctx: &Ctx, lb: &str, max_event_id: i64) -> Result<(), StoreError> {
    if ctx.store.lb_has_events_after(lb, max_event_id).await? {
        info!(loadbalancer_id = %lb, "Octavia reported the load balancer absent, but events for it arrived since start; keeping it");
        return Ok(());
    }
    let removed = ctx.store.delete_loadbalancer_tree(lb).await?;
    warn!(loadbalancer_id = %lb, objects = removed.len(), "Octavia deleted this load balancer while we were down; removing it from desired state and LoxiLB");
    RecoveryStats::bump(&ctx.stats.octavia_deleted_removed, 1);
    match ctx
        .applier
        .sync_lb(lb, &ctx.applier.all_nodes(), true)
        .await
    {
        Ok(outcome) => {
            for (node, r) in &outcome.nodes {
                if let Err(e) = r {
                    ctx.store.mark_backlog(node, lb, &e.to_string()).await?;
                }
            }
        }
        Err(e) => {
            warn!(loadbalancer_id = %lb, error = %e, "LoxiLB clean-up of a deleted load balancer failed; reconciliation will retry")
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn absent_or_deleted_means_not_found_and_errors_mean_unknown() {
        assert_eq!(answer(Ok(None)), OctaviaAnswer::NotFound);
        assert_eq!(
            answer(Ok(Some(json!({"provisioning_status": "DELETED"})))),
            OctaviaAnswer::NotFound
        );
        assert_eq!(
            answer(Ok(Some(json!({"provisioning_status": "ACTIVE"})))),
            OctaviaAnswer::Exists
        );
        let err = crate::octavia::OctaviaError::BadReply {
            socket: "/x".into(),
            reason: "r".into(),
        };
        assert_eq!(answer(Err(err)), OctaviaAnswer::Unknown);
    }

    #[tokio::test]
    async fn snapshot_skips_load_balancers_with_unfinished_events() {
        let (s, _d) = crate::store::test_store().await;
        for id in ["a", "b"] {
            s.put_object(
                crate::store::Table::Loadbalancers,
                id,
                None,
                &json!({"loadbalancer_id": id}),
            )
            .await
            .unwrap();
        }
        let snap = StartupSnapshot::take(&s).await.unwrap();
        assert_eq!(snap.candidates.len(), 2);
        assert!(!snap.is_done());
    }
}
