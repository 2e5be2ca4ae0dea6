//! Per-load-balancer reconcile, the way kube-runtime's controllers work: events only
//! change desired state, and [`reconcile`] converges one load balancer's LoxiLB nodes
//! to it and says what should happen next ([`Action`]).
//!
//! It is idempotent (the applier calls LoxiLB only for what differs from our applied
//! records), so running it again after a crash, a retry or a catch-up is safe.
//!
//! A refused change is undone by returning every node to the last state it accepted
//! (our applied records as the sync found them), never by syncing an earlier desired
//! state, which may itself never have been accepted. The caller's [`Undo`] then takes
//! the change out of desired state, while the load balancer is still held, so no other
//! sync sees it in between.
//!
//! What the outcome means is the pure [`action`]; the drivers turn the action into
//! provisioning statuses. `recovery` finds drift between LoxiLB and our records and
//! repairs it through the same applier.

#[cfg(test)]
mod tests;

use async_trait::async_trait;
use tracing::warn;

use crate::apply::{Applier, OnRefusal, SyncError, SyncOutcome};
use crate::store::Store;

/// What a reconcile asks for next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Every node holds the desired state.
    Done,
    /// The change is in place on some nodes; the others are in the catch-up backlog,
    /// which syncs them again with backoff once they answer.
    CatchUp,
    /// No node could take the change: try it again later (the event stays queued and
    /// the dispatcher retries it with backoff).
    Requeue(String),
    /// A node refused the change: every node was returned to what it held before and
    /// the change was taken out of desired state.
    Refused(String),
}

/// The outcome's meaning. `only_member_deletes`: the seed's rule that a member delete
/// succeeds even when removing its probes fails (the probes are retried by the
/// catch-up), as long as the rules took the change.
pub fn action(outcome: &SyncOutcome, only_member_deletes: bool) -> Action {
    if only_member_deletes && !outcome.all_ok() && outcome.rules_ok() {
        return Action::CatchUp;
    }
    if let Some(err) = outcome.permanent_error() {
        return Action::Refused(err.to_string());
    }
    if !outcome.any_ok() {
        let reason = outcome
            .nodes
            .iter()
            .filter_map(|(_, r)| r.as_ref().err())
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        return Action::Requeue(reason);
    }
    if outcome.all_ok() {
        Action::Done
    } else {
        Action::CatchUp
    }
}

/// Takes a refused change out of desired state.
#[async_trait]
pub trait Undo: Send + Sync {
    /// Whether the change can be taken out. When it cannot (a delete stays deleted, a
    /// failover has no previous state), the nodes are not returned to what they held
    /// either: desired state would then ask for what they no longer hold.
    fn possible(&self) -> bool;
    async fn undo(&self) -> Result<(), SyncError>;
}

/// What a reconcile needs besides the load balancer.
pub struct Ctx<'a> {
    pub applier: &'a Applier,
    pub store: &'a Store,
    /// False when only rules may change (member events with `enable_coordination` off).
    pub touch_probes: bool,
    /// See [`action`].
    pub only_member_deletes: bool,
}

/// A reconcile's action and the LoxiLB calls it made.
#[derive(Debug)]
pub struct Reconciled {
    pub action: Action,
    pub calls: usize,
}

/// Converge load balancer `lb` on every node. Store failures are errors; LoxiLB's
/// answers are in the action.
pub async fn reconcile(lb: &str, ctx: &Ctx<'_>, undo: &dyn Undo) -> Result<Reconciled, SyncError> {
    let hook = Hook { ctx, undo };
    let nodes = ctx.applier.all_nodes();
    let r = ctx
        .applier
        .reconcile_lb(lb, &nodes, ctx.touch_probes, &hook)
        .await?;
    let action = action(&r.outcome, ctx.only_member_deletes);
    crate::metrics::global().coordination(match &action {
        Action::Done => "success",
        Action::CatchUp => "partial",
        Action::Refused(_) => "refused",
        Action::Requeue(_) => "unreachable",
    });
    match (&action, &r.restored) {
        (Action::CatchUp, _) => {
            if only_probes_failed(&r.outcome, ctx.only_member_deletes) {
                warn!(loadbalancer_id = %lb, "health monitor coordination failed; probe removal queued for retry");
            }
            mark_backlog(ctx.store, lb, &r.outcome).await;
        }
        // A node that could not be returned to what it held catches up with the
        // desired state (the change is already out of it).
        (Action::Refused(_), Some(restored)) if !restored.all_ok() => {
            mark_backlog(ctx.store, lb, restored).await;
        }
        // Not undone: the refusing nodes catch up (and are dead-lettered, their
        // failure being permanent, so the load balancer shows ERROR).
        (Action::Refused(_), None) => mark_backlog(ctx.store, lb, &r.outcome).await,
        _ => {}
    }
    Ok(Reconciled {
        action,
        calls: r.outcome.calls(),
    })
}

fn only_probes_failed(outcome: &SyncOutcome, only_member_deletes: bool) -> bool {
    only_member_deletes && outcome.rules_ok() && !outcome.all_ok()
}

/// The applier's refusal hook: [`action`] decides, the caller's [`Undo`] undoes.
struct Hook<'a> {
    ctx: &'a Ctx<'a>,
    undo: &'a dyn Undo,
}

#[async_trait]
impl OnRefusal for Hook<'_> {
    fn refused(&self, outcome: &SyncOutcome) -> bool {
        self.undo.possible()
            && matches!(
                action(outcome, self.ctx.only_member_deletes),
                Action::Refused(_)
            )
    }

    async fn undo_desired(&self) -> Result<(), SyncError> {
        self.undo.undo().await
    }
}

/// Put every node that failed into the catch-up backlog.
pub(crate) async fn mark_backlog(store: &Store, lb: &str, outcome: &SyncOutcome) {
    for (node, r) in &outcome.nodes {
        if let Err(e) = r {
            warn!(node = %node, loadbalancer_id = %lb, error = %e, "node missed a change; queued for catch-up");
            if let Err(se) = store.mark_backlog(node, lb, &e.to_string()).await {
                warn!(node = %node, loadbalancer_id = %lb, error = %se, "could not record the catch-up; the reconciler will find the drift");
            }
        }
    }
}
