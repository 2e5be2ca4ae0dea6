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
use serde_json::Value;
use tracing::{info, warn};

use super::node::Ctx;
use super::stats::RecoveryStats;
use crate::octavia::{DriverAgentClient, ObjectKind};
use crate::store::{Store, StoreError};

/// Load balancers to verify with Octavia, taken before the journal is replayed.
#[derive(Debug, Clone, Default)]
pub struct StartupSnapshot {
    candidates: BTreeSet<String>,
    max_event_id: i64,
}

impl StartupSnapshot {
    pub async fn take(store: &Store) -> Result<StartupSnapshot, StoreError> {
        let (mut candidates, _) = store.desired_ids().await?;
        let (busy, max_event_id) = store.lbs_in_flight().await?;
        candidates.retain(|lb| !busy.contains(lb));
        Ok(StartupSnapshot {
            candidates,
            max_event_id,
        })
    }

    pub fn is_done(&self) -> bool {
        self.candidates.is_empty()
    }
}

/// What Octavia said about one load balancer.
enum Verdict {
    Exists,
    Deleted,
    Unknown(String),
}

fn verdict(r: Result<Option<Value>, crate::octavia::OctaviaError>) -> Verdict {
    match r {
        Ok(None) => Verdict::Deleted,
        Ok(Some(v)) if v.get("provisioning_status").and_then(Value::as_str) == Some("DELETED") => {
            Verdict::Deleted
        }
        Ok(Some(_)) => Verdict::Exists,
        Err(e) => Verdict::Unknown(e.to_string()),
    }
}

/// Check the remaining candidates (at most `concurrency` requests at a time); the
/// ones the agent could not answer for stay in the snapshot for the next attempt.
pub(crate) async fn check(
    ctx: &Ctx,
    agent: &DriverAgentClient,
    snap: &mut StartupSnapshot,
    concurrency: usize,
) {
    let ids: Vec<String> = snap.candidates.iter().cloned().collect();
    let answers: Vec<(String, Verdict)> = futures::stream::iter(ids)
        .map(|id| async move {
            let v = verdict(agent.get(ObjectKind::Loadbalancers, &id).await);
            (id, v)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut unreachable = 0;
    for (lb, v) in answers {
        match v {
            Verdict::Exists => {
                snap.candidates.remove(&lb);
            }
            Verdict::Unknown(e) => {
                unreachable += 1;
                if unreachable == 1 {
                    warn!(loadbalancer_id = %lb, error = %e, "driver agent cannot confirm our load balancers; checking again later");
                }
            }
            Verdict::Deleted => match remove(ctx, &lb, snap.max_event_id).await {
                Ok(()) => {
                    snap.candidates.remove(&lb);
                }
                Err(e) => {
                    warn!(loadbalancer_id = %lb, error = %e, "removing a load balancer Octavia deleted failed; trying again later")
                }
            },
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
    fn absent_or_deleted_means_deleted_and_errors_mean_unknown() {
        assert!(matches!(verdict(Ok(None)), Verdict::Deleted));
        assert!(matches!(
            verdict(Ok(Some(json!({"provisioning_status": "DELETED"})))),
            Verdict::Deleted
        ));
        assert!(matches!(
            verdict(Ok(Some(json!({"provisioning_status": "ACTIVE"})))),
            Verdict::Exists
        ));
        let err = crate::octavia::OctaviaError::BadReply {
            socket: "/x".into(),
            reason: "r".into(),
        };
        assert!(matches!(verdict(Err(err)), Verdict::Unknown(_)));
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
