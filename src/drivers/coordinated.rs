//! The production driver set: every event updates desired state through the
//! per-object drivers, then the applier makes every LoxiLB node match, then the
//! final provisioning statuses go to the durable outbox.
//!
//! Failure policy (what Octavia sees):
//! - every node applied → ACTIVE (DELETED for deletes);
//! - some nodes applied, the others unreachable → ACTIVE: the load balancer works
//!   on the nodes that answered, and the others are put in the catch-up backlog;
//! - no node reachable → the event stays queued and is retried with backoff (the
//!   objects stay PENDING in Octavia; nothing is lost);
//! - a node refused a call (4xx) → every node is returned to what it held before
//!   (`reconcile`), the event's change is taken out of desired state, and the
//!   object goes to ERROR with LoxiLB's reason.
//!
//! The statuses of an outcome are not written here: they are kept until the
//! dispatcher takes them (`JobHandler::take_statuses`) and journals them with the outcome,
//! in one commit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde::Serialize;
use tracing::{debug, info, warn};

use super::{DesiredStateDrivers, DriverError, DriverSet};
use crate::apply::{Applier, SyncError};
use crate::dispatch::{Job, JobError, JobHandler};
use crate::health::HealthHandle;
use crate::model::Event;
use crate::reconcile::{reconcile, Action, Ctx, Reconciled, Undo};
use crate::status::{lineage, provisioning_statuses, DeliveryHandle, Lineage, Outcome};
use crate::store::{StatusRecord, Store, Table};

/// Drivers that apply events to LoxiLB and report statuses to Octavia.
pub struct CoordinatedDrivers {
    store: Store,
    desired: DriverSet,
    applier: Arc<Applier>,
    delivery: DeliveryHandle,
    /// `enable_coordination`: when false, member events leave probes alone.
    coordinate_probes: bool,
    /// Told after every applied event, so statuses follow changes quickly.
    health: Option<HealthHandle>,
    /// Statuses of outcomes not yet journaled, by event id (see the module doc).
    staged: Mutex<HashMap<i64, Vec<StatusRecord>>>,
}

impl CoordinatedDrivers {
    pub fn new(
        store: Store,
        applier: Arc<Applier>,
        delivery: DeliveryHandle,
        coordinate_probes: bool,
    ) -> Self {
        let desired = DriverSet::from_one(Arc::new(DesiredStateDrivers::new(store.clone())));
        CoordinatedDrivers {
            store,
            desired,
            applier,
            delivery,
            coordinate_probes,
            health: None,
            staged: Mutex::default(),
        }
    }

    /// Tell `health` about every applied event: the desired index is rebuilt and
    /// the load balancer is polled again soon (debounced).
    pub fn with_health(mut self, health: HealthHandle) -> Self {
        self.health = Some(health);
        self
    }

    fn changed(&self, lbs: &[&str]) {
        if let Some(h) = &self.health {
            h.desired_changed_for(lbs);
            for lb in lbs {
                h.poke(lb);
            }
        }
    }

    /// Keep the statuses of `job_id`'s outcome for the dispatcher to journal with it
    /// (a retried event's later outcome replaces them).
    fn report(&self, job_id: i64, event: &Event, lineage: &Lineage, outcome: Outcome<'_>) {
        let records = provisioning_statuses(event, lineage, outcome);
        self.staged().insert(job_id, records);
    }

    fn staged(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Vec<StatusRecord>>> {
        self.staged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Put desired state back as it was before a refused event.
    async fn undo(&self, event: &Event) -> Result<(), SyncError> {
        match event {
            Event::LoadbalancerCreate { loadbalancer } => {
                self.store
                    .delete_loadbalancer_tree(&loadbalancer.loadbalancer_id)
                    .await?;
            }
            Event::ListenerCreate { listener } => {
                self.store
                    .delete_object(Table::Listeners, &listener.listener_id)
                    .await?;
            }
            Event::PoolCreate { pool } => {
                self.store
                    .delete_object(Table::Pools, &pool.pool_id)
                    .await?;
            }
            Event::MemberCreate { member } => {
                self.store
                    .delete_object(Table::Members, &member.member_id)
                    .await?;
            }
            Event::HealthMonitorCreate { healthmonitor } => {
                self.store
                    .delete_object(Table::HealthMonitors, &healthmonitor.healthmonitor_id)
                    .await?;
            }
            Event::LoadbalancerUpdate { old, .. } => {
                put_back(
                    &self.store,
                    Table::Loadbalancers,
                    &old.loadbalancer_id,
                    None,
                    old,
                )
                .await?
            }
            Event::ListenerUpdate { old, .. } => {
                let parent = old.loadbalancer_id.as_deref();
                put_back(&self.store, Table::Listeners, &old.listener_id, parent, old).await?
            }
            Event::PoolUpdate { old, .. } => {
                let parent = old.loadbalancer_id.as_deref();
                put_back(&self.store, Table::Pools, &old.pool_id, parent, old).await?
            }
            Event::MemberUpdate { old, .. } => {
                let parent = old.pool_id.as_deref();
                put_back(&self.store, Table::Members, &old.member_id, parent, old).await?
            }
            Event::HealthMonitorUpdate { old, .. } => {
                let parent = old.pool_id.as_deref();
                put_back(
                    &self.store,
                    Table::HealthMonitors,
                    &old.healthmonitor_id,
                    parent,
                    old,
                )
                .await?
            }
            // Deletes stay deleted (leftovers on LoxiLB are the reconciler's), and a
            // batch or failover has no single previous state to return to.
            _ => {}
        }
        Ok(())
    }
}

async fn put_back<T: Serialize>(
    store: &Store,
    table: Table,
    id: &str,
    parent: Option<&str>,
    obj: &T,
) -> Result<(), SyncError> {
    let body = serde_json::to_value(obj)
        .map_err(|e| SyncError::Desired(format!("cannot encode object: {e}")))?;
    let parent = match (parent, store.get_object(table, id).await?) {
        (Some(p), _) => Some(p.to_string()),
        (None, Some(cur)) => ["loadbalancer_id", "pool_id"]
            .iter()
            .find_map(|k| cur.get(*k).and_then(|v| v.as_str()).map(str::to_string)),
        (None, None) => None,
    };
    store
        .put_object(table, id, parent.as_deref(), &body)
        .await?;
    Ok(())
}

fn store_error(e: &crate::store::StoreError) -> JobError {
    if e.is_transient() {
        JobError::Transient(e.to_string())
    } else {
        JobError::Permanent(e.to_string())
    }
}

fn driver_error(e: DriverError) -> JobError {
    match e {
        DriverError::Transient(m) => JobError::Transient(m),
        DriverError::Permanent(m) => JobError::Permanent(m),
    }
}

/// An event whose desired-state change is made, waiting for its LoxiLB sync.
struct Prepared {
    event: Event,
    lineage: Lineage,
    /// Empty when the object belongs to no load balancer we know.
    lb: String,
}

/// Whether [`CoordinatedDrivers::undo`] can take `e`'s change out of desired state:
/// creates and updates. Deletes stay deleted (leftovers on LoxiLB are the
/// reconciler's); a failover or a batch update has no single previous state.
fn undoable(e: &Event) -> bool {
    matches!(
        e,
        Event::LoadbalancerCreate { .. }
            | Event::ListenerCreate { .. }
            | Event::PoolCreate { .. }
            | Event::MemberCreate { .. }
            | Event::HealthMonitorCreate { .. }
            | Event::LoadbalancerUpdate { .. }
            | Event::ListenerUpdate { .. }
            | Event::PoolUpdate { .. }
            | Event::MemberUpdate { .. }
            | Event::HealthMonitorUpdate { .. }
    )
}

fn is_member_event(e: &Event) -> bool {
    matches!(
        e,
        Event::MemberCreate { .. }
            | Event::MemberUpdate { .. }
            | Event::MemberDelete { .. }
            | Event::MemberBatchUpdate { .. }
    )
}

impl CoordinatedDrivers {
    /// Parse the journaled event, find its parents, update desired state.
    async fn prepare(&self, job: &Job) -> Result<Prepared, JobError> {
        let args: serde_json::Value = serde_json::from_str(&job.args)
            .map_err(|e| JobError::Permanent(format!("journaled args unreadable: {e}")))?;
        let event = Event::parse(&job.method, &args)
            .map_err(|e| JobError::Permanent(format!("journaled event invalid: {e}")))?;
        // Parents are looked up before the change: a delete removes the rows.
        let lineage = lineage(&self.store, &event)
            .await
            .map_err(|e| store_error(&e))?;
        let lb = if lineage.loadbalancer_id.is_empty() {
            job.ordering_key
                .strip_prefix("lb:")
                .unwrap_or("")
                .to_string()
        } else {
            lineage.loadbalancer_id.clone()
        };
        self.desired.route(&event).await.map_err(driver_error)?;
        if let Event::LoadbalancerFailover { .. } = event {
            // Failover re-applies everything: forget what we believe is applied.
            self.applier
                .forget_applied_lb(&lb)
                .await
                .map_err(|e| store_error(&e))?;
        }
        Ok(Prepared { event, lineage, lb })
    }

    /// The reconcile context for `prepared` events.
    fn ctx(&self, prepared: &[&Prepared]) -> Ctx<'_> {
        Ctx {
            applier: &self.applier,
            store: &self.store,
            touch_probes: self.coordinate_probes
                || prepared.iter().any(|p| !is_member_event(&p.event)),
            only_member_deletes: prepared
                .iter()
                .all(|p| matches!(p.event, Event::MemberDelete { .. })),
        }
    }

    /// Reconcile `lb` for `prepared` (events of that load balancer, in order); a
    /// refusal takes their changes out of desired state again, newest first.
    async fn reconcile(&self, lb: &str, prepared: &[&Prepared]) -> Result<Reconciled, JobError> {
        let undo = UndoEvents {
            drivers: self,
            events: prepared.iter().map(|p| &p.event).collect(),
        };
        reconcile(lb, &self.ctx(prepared), &undo)
            .await
            .map_err(|e| {
                if e.is_transient() {
                    JobError::Transient(e.to_string())
                } else {
                    JobError::Permanent(e.to_string())
                }
            })
    }
}

/// Takes events' desired changes out again (see [`CoordinatedDrivers::undo`]).
struct UndoEvents<'a> {
    drivers: &'a CoordinatedDrivers,
    events: Vec<&'a Event>,
}

#[async_trait]
impl Undo for UndoEvents<'_> {
    fn possible(&self) -> bool {
        self.events.iter().all(|e| undoable(e))
    }

    async fn undo(&self) -> Result<(), SyncError> {
        for e in self.events.iter().rev() {
            self.drivers.undo(e).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl JobHandler for CoordinatedDrivers {
    async fn apply(&self, job: &Job) -> Result<(), JobError> {
        let p = self.prepare(job).await?;
        if p.lb.is_empty() {
            // Nothing on LoxiLB can depend on an object outside any load balancer
            // (e.g. deleting something we never knew): the change is complete.
            self.changed(&[]);
            if !log_applied(&p.event, job.id) {
                debug!(event_id = job.id, method = %job.method, "event applied (nothing on LoxiLB)");
            }
            self.report(job.id, &p.event, &p.lineage, Outcome::Applied);
            return Ok(());
        }
        let r = self.reconcile(&p.lb, &[&p]).await?;
        match r.action {
            Action::Done | Action::CatchUp => {
                // One INFO line per event: its operation line, or this one.
                if !log_applied(&p.event, job.id) {
                    info!(event_id = job.id, method = %job.method, loadbalancer_id = %p.lb,
                          calls = r.calls, "event applied to LoxiLB");
                }
                self.changed(&[&p.lb]);
                self.report(job.id, &p.event, &p.lineage, Outcome::Applied);
                Ok(())
            }
            Action::Refused(reason) => {
                warn!(event_id = job.id, method = %job.method, loadbalancer_id = %p.lb, %reason,
                      "LoxiLB refused the change; every node keeps what it had and the change is undone");
                self.report(job.id, &p.event, &p.lineage, Outcome::Failed(&reason));
                Err(JobError::Permanent(reason))
            }
            Action::Requeue(reason) => Err(JobError::Transient(reason)),
        }
    }

    fn take_statuses(&self, ids: &[i64]) -> Vec<StatusRecord> {
        let mut staged = self.staged();
        ids.iter()
            .filter_map(|id| staged.remove(id))
            .flatten()
            .collect()
    }

    fn outcomes_committed(&self) {
        self.delivery.notify();
    }

    /// Coalescing: the desired changes of all waiting events are made first, then
    /// their load balancer is reconciled once, so a burst of member events costs one
    /// rule update and one call per changed probe instead of one round per event.
    /// When a node refuses the combined change, the nodes are returned to what they
    /// held, the batch's changes are undone, and its events are applied one by one,
    /// so only the culprit ends in ERROR.
    async fn apply_batch(&self, jobs: &[Job]) -> Vec<Result<(), JobError>> {
        let mut prepared: Vec<Result<Prepared, JobError>> = Vec::with_capacity(jobs.len());
        for job in jobs {
            match self.prepare(job).await {
                Err(JobError::Transient(m)) => return vec![Err(JobError::Transient(m))],
                r => prepared.push(r),
            }
        }
        let ready: Vec<&Prepared> = prepared.iter().filter_map(|r| r.as_ref().ok()).collect();
        let mut calls = 0;
        let mut refused = Vec::new();
        for lb in distinct_lbs(&ready) {
            let of_lb: Vec<&Prepared> = ready.iter().copied().filter(|p| p.lb == lb).collect();
            let r = match self.reconcile(lb, &of_lb).await {
                Ok(r) => r,
                Err(e) => return vec![Err(e)],
            };
            calls += r.calls;
            match r.action {
                Action::Done | Action::CatchUp => {}
                Action::Requeue(reason) => return vec![Err(JobError::Transient(reason))],
                Action::Refused(reason) => {
                    info!(loadbalancer_id = %lb, events = of_lb.len(), %reason, "combined change refused; applying the events one by one");
                    refused.push(lb);
                }
            }
        }
        let lbs: Vec<&str> = distinct_lbs(&ready)
            .into_iter()
            .filter(|lb| !refused.contains(lb))
            .collect();
        self.changed(&lbs);
        self.log_batch(jobs, &prepared, &refused, calls);
        let mut out = Vec::with_capacity(jobs.len());
        for (job, p) in jobs.iter().zip(&prepared) {
            let r = match p {
                Err(e) => Err(e.clone()),
                // Its changes were undone with the whole batch's: apply it alone.
                Ok(p) if refused.contains(&p.lb.as_str()) => self.apply(job).await,
                Ok(p) => {
                    self.report(job.id, &p.event, &p.lineage, Outcome::Applied);
                    Ok(())
                }
            };
            let stop = matches!(r, Err(JobError::Transient(_)));
            out.push(r);
            if stop {
                break;
            }
        }
        out
    }
}

/// The load balancers of `prepared`, in first-seen order (usually one: a batch holds
/// the events of one ordering key); events outside any load balancer are skipped.
fn distinct_lbs<'a>(prepared: &[&'a Prepared]) -> Vec<&'a str> {
    let mut lbs: Vec<&str> = Vec::new();
    for p in prepared {
        if !p.lb.is_empty() && !lbs.contains(&p.lb.as_str()) {
            lbs.push(&p.lb);
        }
    }
    lbs
}

impl CoordinatedDrivers {
    /// At most one INFO line per applied event: the events' operation lines, and the
    /// batch line only when none of them had one.
    fn log_batch(
        &self,
        jobs: &[Job],
        prepared: &[Result<Prepared, JobError>],
        refused: &[&str],
        calls: usize,
    ) {
        let (mut logged, mut applied) = (false, 0);
        for (job, p) in jobs.iter().zip(prepared) {
            if let Ok(p) = p {
                if !refused.contains(&p.lb.as_str()) {
                    applied += 1;
                    logged |= log_applied(&p.event, job.id);
                }
            }
        }
        if logged {
            debug!(events = applied, calls, "batch applied to LoxiLB");
        } else if applied > 0 {
            info!(events = applied, calls, "batch applied to LoxiLB");
        }
    }
}

/// The seed's operation log lines, as structured events with the ids as fields.
/// Returns whether one was logged at INFO (then it is the event's line; see `apply`).
fn log_applied(event: &Event, event_id: i64) -> bool {
    match event {
        Event::HealthMonitorCreate { healthmonitor: hm } => info!(
            event_id,
            healthmonitor_id = %hm.healthmonitor_id,
            pool_id = hm.pool_id.as_deref().unwrap_or(""),
            "created health monitor"
        ),
        Event::HealthMonitorUpdate { new, .. } => {
            info!(event_id, healthmonitor_id = %new.healthmonitor_id, "updated health monitor")
        }
        Event::HealthMonitorDelete { healthmonitor: hm } => info!(
            event_id,
            healthmonitor_id = %hm.healthmonitor_id,
            "deleted health monitor and its endpoint probes"
        ),
        Event::MemberCreate { member } => {
            debug!(
                event_id,
                member_id = %member.member_id,
                address = ?member.address,
                port = ?member.protocol_port,
                "created endpoint probe for member (when its pool is monitored)"
            );
            return false;
        }
        Event::MemberDelete { member } => info!(
            event_id,
            member_id = %member.member_id,
            "cleaned up health probes for deleted member"
        ),
        _ => return false,
    }
    true
}

#[cfg(test)]
mod tests {
    use super::undoable;
    use crate::model::Event;
    use crate::test_support::{Context, TestResult};
    use serde_json::json;

    fn event(method: &str, args: serde_json::Value) -> TestResult<Event> {
        Event::parse(method, &args).context(method)
    }

    /// A refusal returns the nodes to what they held only for a change that can also
    /// be taken out of desired state: a failover's forgotten records would otherwise
    /// make the "return" delete every rule it just put back.
    #[test]
    fn only_creates_and_updates_are_undone() -> TestResult {
        let m =
            json!({"member_id": "m", "pool_id": "p", "address": "127.0.0.1", "protocol_port": 80});
        let lb = json!({"loadbalancer_id": "lb"});
        assert!(undoable(&event("member_create", json!({"member": m}))?));
        assert!(undoable(&event(
            "member_update",
            json!({"old_member": m, "new_member": m})
        )?));
        assert!(!undoable(&event("member_delete", json!({"member": m}))?));
        assert!(!undoable(&event(
            "loadbalancer_failover",
            json!({"loadbalancer_id": "lb"})
        )?));
        assert!(!undoable(&event(
            "loadbalancer_delete",
            json!({"loadbalancer": lb, "cascade": true})
        )?));
        Ok(())
    }
}
