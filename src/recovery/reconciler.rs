//! The reconciler task: periodic full passes, passes on demand (admin API), a poll
//! that spots a LoxiLB node that restarted or lost our objects and restores it at
//! once, and the start-up check against Octavia.
//!
//! Everything runs in this one task, so the orphan scan memory needs no lock and two
//! passes never overlap. Repairs call `Applier::sync_lb`, which takes the load
//! balancer's lock and the client's rate limit, so they queue behind events for the
//! same load balancer instead of racing them.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{interval_at, Instant, MissedTickBehavior};
use tracing::{info, warn};

use super::ctx::Ctx;
use super::guard::BlastRadius;
use super::node::{node_pass, NodeReport, Pass};
use super::orphans::OrphanMemory;
use super::startup::{self, StartupSnapshot};
use super::stats::{RecoveryStats, StatsSnapshot};
use crate::apply::Applier;
use crate::loxilb::NodeId;
use crate::octavia::DriverAgentClient;
use crate::shutdown::Shutdown;
use crate::store::{DeadLetter, Store, StoreError};

/// Timing of the reconciler.
#[derive(Debug, Clone)]
pub struct ReconcilerOptions {
    /// `enable_status_reconciliation`: run full passes every `interval`.
    pub periodic: bool,
    /// `reconciliation_interval`.
    pub interval: Duration,
    /// `status_update_interval`: how often each node is polled for a restart.
    pub poll_interval: Duration,
    /// Concurrent get requests of the start-up check.
    pub startup_concurrency: usize,
    /// Pause between start-up check attempts while the agent is unreachable.
    pub startup_retry: Duration,
    /// Blast-radius limit of orphan removal and start-up removals.
    pub limit: BlastRadius,
}

/// The result of an on-demand pass.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    pub dry_run: bool,
    pub nodes: Vec<NodeReport>,
    /// Load balancers Octavia reported not found at start-up that were not removed
    /// (agent not trusted, or over the blast-radius limit); `--confirm` removes them.
    pub held_loadbalancers: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("the reconciler is not running (shutting down)")]
    Stopped,
    #[error("database: {0}")]
    Store(#[from] StoreError),
}

struct Command {
    pass: Pass,
    reply: oneshot::Sender<Report>,
}

/// Cheap handle for the admin API and the metrics exporter.
#[derive(Clone)]
pub struct ReconcilerHandle {
    tx: mpsc::Sender<Command>,
    stats: Arc<RecoveryStats>,
    store: Store,
}

impl ReconcilerHandle {
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Compare every node with our records; unless `dry_run`, repair drift and remove
    /// orphans seen in two consecutive passes, within the blast-radius limit unless
    /// `confirm` (which also removes the load balancers held at start-up).
    pub async fn reconcile(&self, dry_run: bool, confirm: bool) -> Result<Report, RecoveryError> {
        let pass = match (dry_run, confirm) {
            (true, _) => Pass::DRY_RUN,
            (false, false) => Pass::FULL,
            (false, true) => Pass::FULL.confirmed(),
        };
        self.ask(pass).await
    }

    /// List orphan candidates (nothing is changed or remembered).
    pub async fn orphans(&self) -> Result<Report, RecoveryError> {
        self.ask(Pass::DRY_RUN).await
    }

    /// Scan for orphans and remove those the previous acting scan saw too; `confirm`
    /// lifts the blast-radius limit and removes the load balancers held at start-up.
    pub async fn delete_orphans(&self, confirm: bool) -> Result<Report, RecoveryError> {
        let pass = if confirm {
            Pass::ORPHANS.confirmed()
        } else {
            Pass::ORPHANS
        };
        self.ask(pass).await
    }

    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, RecoveryError> {
        Ok(self.store.dead_letters().await?)
    }

    async fn ask(&self, pass: Pass) -> Result<Report, RecoveryError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command { pass, reply })
            .await
            .map_err(|_| RecoveryError::Stopped)?;
        rx.await.map_err(|_| RecoveryError::Stopped)
    }
}

/// What a node last said about its identity.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Identity {
    boot_id: Option<String>,
    start_time_ms: Option<u64>,
}

impl Identity {
    /// A restart: some reported identity field changed.
    fn restarted_since(&self, before: &Identity) -> bool {
        changed(&self.boot_id, &before.boot_id)
            || changed(&self.start_time_ms, &before.start_time_ms)
    }
}

/// Both values known and different.
fn changed<T: PartialEq>(now: &Option<T>, before: &Option<T>) -> bool {
    now.is_some() && before.is_some() && now != before
}

/// The reconciler task; build with [`Reconciler::new`], run with [`Reconciler::run`].
pub struct Reconciler {
    ctx: Ctx,
    agent: DriverAgentClient,
    opts: ReconcilerOptions,
    rx: mpsc::Receiver<Command>,
    memory: OrphanMemory,
    identities: HashMap<NodeId, Identity>,
    startup: StartupSnapshot,
}

impl Reconciler {
    pub fn new(
        store: Store,
        applier: Arc<Applier>,
        agent: DriverAgentClient,
        stats: Arc<RecoveryStats>,
        opts: ReconcilerOptions,
        startup: StartupSnapshot,
    ) -> (Reconciler, ReconcilerHandle) {
        let (tx, rx) = mpsc::channel(16);
        let handle = ReconcilerHandle {
            tx,
            stats: stats.clone(),
            store: store.clone(),
        };
        let r = Reconciler {
            ctx: Ctx {
                store,
                applier,
                stats,
                agent: agent.clone(),
                limit: opts.limit,
                deletions: Default::default(),
            },
            agent,
            opts,
            rx,
            memory: OrphanMemory::default(),
            identities: HashMap::new(),
            startup,
        };
        (r, handle)
    }

    pub async fn run(mut self, shutdown: Shutdown) {
        let now = Instant::now();
        let mut poll = interval_at(now + self.opts.poll_interval, self.opts.poll_interval);
        poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let full_every = self.opts.interval.max(Duration::from_secs(1));
        let mut full = interval_at(now + full_every, full_every);
        full.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut next_startup = now;
        loop {
            if !self.startup.is_done() && Instant::now() >= next_startup {
                startup::check(
                    &self.ctx,
                    &self.agent,
                    &mut self.startup,
                    self.opts.startup_concurrency,
                )
                .await;
                next_startup = Instant::now() + self.opts.startup_retry;
            }
            tokio::select! {
                _ = shutdown.triggered() => return,
                Some(cmd) = self.rx.recv() => {
                    let report = self.pass(cmd.pass).await;
                    let _ = cmd.reply.send(report);
                }
                _ = poll.tick() => self.poll_nodes(&shutdown).await,
                _ = full.tick(), if self.opts.periodic => {
                    let report = self.pass(Pass::FULL).await;
                    let drift: usize = report.nodes.iter().map(|n| n.drift.len()).sum();
                    info!(drift, "periodic reconciliation done");
                }
            }
        }
    }

    async fn pass(&mut self, pass: Pass) -> Report {
        RecoveryStats::bump(&self.ctx.stats.passes, 1);
        if pass.confirm && pass.remove_orphans {
            startup::remove_held(&self.ctx, &mut self.startup).await;
        }
        let mut nodes = Vec::new();
        for n in self.ctx.applier.all_nodes() {
            nodes.push(node_pass(&self.ctx, n, pass, &mut self.memory).await);
        }
        let held_loadbalancers = self.startup.held();
        if pass.remove_orphans {
            let held_orphans: usize = nodes
                .iter()
                .filter(|n| n.held)
                .map(|n| {
                    n.orphans
                        .iter()
                        .filter(|o| o.confirmed && !o.removed)
                        .count()
                })
                .sum();
            let held = held_orphans + held_loadbalancers.len();
            crate::metrics::global()
                .guarded_deletion_candidates
                .set(i64::try_from(held).unwrap_or(i64::MAX));
        }
        Report {
            dry_run: pass == Pass::DRY_RUN,
            nodes,
            held_loadbalancers,
        }
    }

    /// Ping every node; restore any that restarted or lost objects we recorded.
    async fn poll_nodes(&mut self, shutdown: &Shutdown) {
        for n in self.ctx.applier.all_nodes() {
            if shutdown.is_triggered() {
                return;
            }
            // Unreachable or unreadable: the catch-up and the next poll handle it.
            if let Ok(Some(why)) = self.needs_restore(n).await {
                let url = self.ctx.applier.client().node_url(n).to_string();
                warn!(node = %url, %why, "LoxiLB node lost state; restoring it now");
                RecoveryStats::bump(&self.ctx.stats.restarts_detected, 1);
                RecoveryStats::bump(&self.ctx.stats.passes, 1);
                let r = node_pass(&self.ctx, n, Pass::RESTORE, &mut self.memory).await;
                info!(node = %url, repaired = r.repaired, drift = r.drift.len(), synced = r.synced, error = ?r.error, "node restore done");
            }
        }
    }

    /// Why node `n` must be restored, if it must.
    async fn needs_restore(&mut self, n: NodeId) -> Result<Option<String>, StoreError> {
        let client = self.ctx.applier.client();
        let Ok(info) = client.ping(n).await else {
            return Ok(None);
        };
        let now = Identity {
            boot_id: info.boot_id,
            start_time_ms: info.start_time_ms,
        };
        let restarted = self
            .identities
            .insert(n, now.clone())
            .is_some_and(|before| now.restarted_since(&before));
        if restarted {
            return Ok(Some("the node reports a new boot".into()));
        }
        // Stock LoxiLB reports no boot identity: missing rules we recorded tell instead.
        let url = client.node_url(n).to_string();
        let recorded = self.ctx.store.all_applied_rules(&url).await?;
        if recorded.is_empty() {
            return Ok(None);
        }
        let Ok(rules) = client.list_rules(n).await else {
            return Ok(None);
        };
        let missing = recorded
            .iter()
            .filter(|(_, name, _)| !rules.iter().any(|r| r.service_arguments.name == *name))
            .count();
        Ok((missing > 0).then(|| format!("{missing} recorded rule(s) missing")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(b: Option<&str>, t: Option<u64>) -> Identity {
        Identity {
            boot_id: b.map(str::to_string),
            start_time_ms: t,
        }
    }

    #[test]
    fn a_restart_is_a_changed_boot_id_or_start_time() {
        assert!(id(Some("b"), Some(1)).restarted_since(&id(Some("a"), Some(1))));
        assert!(id(None, Some(2)).restarted_since(&id(None, Some(1))));
        assert!(!id(Some("a"), Some(1)).restarted_since(&id(Some("a"), Some(1))));
        // Stock LoxiLB reports nothing: never a restart by identity.
        assert!(!id(None, None).restarted_since(&id(None, None)));
        assert!(!id(Some("a"), None).restarted_since(&id(None, None)));
    }
}
