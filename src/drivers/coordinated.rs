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
//! - a node refused a call (4xx) → the event's change is undone in desired state,
//!   the load balancer is synced back (removing what this event created on every
//!   node) and the object goes to ERROR with LoxiLB's reason.
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
use crate::apply::{Applier, SyncOutcome};
use crate::dispatch::{Job, JobError, JobHandler};
use crate::health::HealthHandle;
use crate::model::Event;
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
    async fn undo(&self, event: &Event) -> Result<(), DriverError> {
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

    async fn sync(&self, lb: &str, touch_probes: bool) -> Result<SyncOutcome, JobError> {
        self.applier
            .sync_lb(lb, &self.applier.all_nodes(), touch_probes)
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

async fn put_back<T: Serialize>(
    store: &Store,
    table: Table,
    id: &str,
    parent: Option<&str>,
    obj: &T,
) -> Result<(), DriverError> {
    let body = serde_json::to_value(obj)
        .map_err(|e| DriverError::Permanent(format!("cannot encode object: {e}")))?;
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

/// What a sync outcome means for the events it carried.
enum Decision {
    /// Applied (on at least one node; `backlog` when some node must catch up).
    Applied { backlog: bool },
    /// A node refused a call: undo, report ERROR.
    Refused(String),
    /// No node reachable: retry the events later.
    Unreachable(String),
}

fn decide(outcome: &SyncOutcome, only_member_deletes: bool) -> Decision {
    let d = decide_inner(outcome, only_member_deletes);
    crate::metrics::global().coordination(match &d {
        Decision::Applied { backlog: false } => "success",
        Decision::Applied { backlog: true } => "partial",
        Decision::Refused(_) => "refused",
        Decision::Unreachable(_) => "unreachable",
    });
    d
}

fn decide_inner(outcome: &SyncOutcome, only_member_deletes: bool) -> Decision {
    // Seed semantics: a member delete succeeds even when removing its probes fails;
    // the failure is logged and kept for retry (the catch-up backlog).
    if only_member_deletes && !outcome.all_ok() && outcome.rules_ok() {
        warn!("health monitor coordination failed; probe removal queued for retry");
        return Decision::Applied { backlog: true };
    }
    if let Some(err) = outcome.permanent_error() {
        return Decision::Refused(err.to_string());
    }
    if !outcome.any_ok() {
        let reason = outcome
            .nodes
            .iter()
            .filter_map(|(_, r)| r.as_ref().err())
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        return Decision::Unreachable(reason);
    }
    Decision::Applied {
        backlog: !outcome.all_ok(),
    }
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

    /// Sync each distinct load balancer of `prepared` once.
    async fn sync_all(
        &self,
        prepared: &[&Prepared],
    ) -> Result<Vec<(String, SyncOutcome)>, JobError> {
        let touch_probes =
            self.coordinate_probes || prepared.iter().any(|p| !is_member_event(&p.event));
        let mut lbs: Vec<&str> = Vec::new();
        for p in prepared {
            if !p.lb.is_empty() && !lbs.contains(&p.lb.as_str()) {
                lbs.push(&p.lb);
            }
        }
        let mut out = Vec::new();
        for lb in lbs {
            out.push((lb.to_string(), self.sync(lb, touch_probes).await?));
        }
        Ok(out)
    }

    /// Combine the decisions of every synced load balancer.
    fn decide_all(&self, prepared: &[&Prepared], outcomes: &[(String, SyncOutcome)]) -> Decision {
        let only_deletes = prepared
            .iter()
            .all(|p| matches!(p.event, Event::MemberDelete { .. }));
        let mut backlog = false;
        for (_, o) in outcomes {
            match decide(o, only_deletes) {
                Decision::Applied { backlog: b } => backlog |= b,
                other => return other,
            }
        }
        Decision::Applied { backlog }
    }

    async fn backlog_all(&self, outcomes: &[(String, SyncOutcome)]) {
        for (lb, o) in outcomes {
            if !o.all_ok() {
                mark_backlog(&self.store, lb, o).await;
            }
        }
    }

    /// Undo the events' desired changes (newest first) and sync back.
    async fn roll_back(&self, prepared: &[&Prepared]) -> Result<(), JobError> {
        for p in prepared.iter().rev() {
            self.undo(&p.event).await.map_err(driver_error)?;
        }
        match self.sync_all(prepared).await {
            Ok(outcomes) => self.backlog_all(&outcomes).await,
            Err(e) => {
                warn!(error = %e, "undo sync failed; the catch-up and reconciler will retry")
            }
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
        let outcomes = self.sync_all(&[&p]).await?;
        match self.decide_all(&[&p], &outcomes) {
            Decision::Applied { backlog } => {
                if backlog {
                    self.backlog_all(&outcomes).await;
                }
                // One INFO line per event: its operation line, or this one.
                if !log_applied(&p.event, job.id) {
                    info!(event_id = job.id, method = %job.method, loadbalancer_id = %p.lb,
                          calls = outcomes.iter().map(|(_, o)| o.calls()).sum::<usize>(), "event applied to LoxiLB");
                }
                self.changed(&[&p.lb]);
                self.report(job.id, &p.event, &p.lineage, Outcome::Applied);
                Ok(())
            }
            Decision::Refused(reason) => {
                warn!(event_id = job.id, method = %job.method, loadbalancer_id = %p.lb, %reason, "LoxiLB refused the change; undoing it");
                self.roll_back(&[&p]).await?;
                self.report(job.id, &p.event, &p.lineage, Outcome::Failed(&reason));
                Err(JobError::Permanent(reason))
            }
            Decision::Unreachable(reason) => Err(JobError::Transient(reason)),
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
    /// each load balancer is synced once, so a burst of member events costs one rule
    /// update and one call per changed probe instead of one round per event. When a
    /// node refuses the combined change, the batch is undone and its events are
    /// applied one by one, so only the culprit ends in ERROR.
    async fn apply_batch(&self, jobs: &[Job]) -> Vec<Result<(), JobError>> {
        let mut prepared: Vec<Result<Prepared, JobError>> = Vec::with_capacity(jobs.len());
        for job in jobs {
            match self.prepare(job).await {
                Err(JobError::Transient(m)) => return vec![Err(JobError::Transient(m))],
                r => prepared.push(r),
            }
        }
        let ready: Vec<&Prepared> = prepared.iter().filter_map(|r| r.as_ref().ok()).collect();
        let outcomes = match self.sync_all(&ready).await {
            Ok(o) => o,
            Err(e) => return vec![Err(e)],
        };
        match self.decide_all(&ready, &outcomes) {
            Decision::Unreachable(reason) => vec![Err(JobError::Transient(reason))],
            Decision::Refused(reason) => {
                info!(events = jobs.len(), %reason, "combined change refused; applying the events one by one");
                if let Err(e) = self.roll_back(&ready).await {
                    return vec![Err(e)];
                }
                let mut out = Vec::with_capacity(jobs.len());
                for job in jobs {
                    let r = self.apply(job).await;
                    let stop = matches!(r, Err(JobError::Transient(_)));
                    out.push(r);
                    if stop {
                        break;
                    }
                }
                out
            }
            Decision::Applied { backlog } => {
                if backlog {
                    self.backlog_all(&outcomes).await;
                }
                let calls: usize = outcomes.iter().map(|(_, o)| o.calls()).sum();
                let lbs: Vec<&str> = outcomes.iter().map(|(lb, _)| lb.as_str()).collect();
                self.changed(&lbs);
                // At most one INFO line per event: the events' operation lines, and
                // the batch line only when none of them had one.
                let mut logged = false;
                for (job, p) in jobs.iter().zip(&prepared) {
                    if let Ok(p) = p {
                        logged |= log_applied(&p.event, job.id);
                    }
                }
                if logged {
                    debug!(events = jobs.len(), calls, "batch applied to LoxiLB");
                } else {
                    info!(events = jobs.len(), calls, "batch applied to LoxiLB");
                }
                for (job, p) in jobs.iter().zip(&prepared) {
                    if let Ok(p) = p {
                        self.report(job.id, &p.event, &p.lineage, Outcome::Applied);
                    }
                }
                prepared.into_iter().map(|r| r.map(|_| ())).collect()
            }
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
