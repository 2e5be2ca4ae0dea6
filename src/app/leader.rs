//! What only the leader runs: the applier and the dispatcher, status delivery,
//! node catch-up, journal pruning, reconciliation and health polling.
//!
//! Why apart from `run`: a single instance starts this once, at start-up. In a
//! cluster, an instance starts it each time it wins the lease and stops it (through
//! its own child [`Shutdown`]) as soon as it may no longer act, so these tasks are
//! built from scratch per leadership term: a new leader replays the journal,
//! rebuilds its indexes and refreshes every status, as a fresh start does.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;

use crate::apply::Applier;
use crate::config::Config;
use crate::dispatch::{DispatchOptions, Dispatcher};
use crate::drivers::CoordinatedDrivers;
use crate::health::{HealthHandle, HealthOptions, HealthSync};
use crate::ingress;
use crate::loxilb::LoxilbClient;
use crate::mapping::MappingOptions;
use crate::octavia::DriverAgentClient as AgentClient;
use crate::recovery::{
    self, DeadLetterPolicy, NodeCatchUp, Reconciler, ReconcilerOptions, RecoveryStats,
    StartupSnapshot,
};
use crate::shutdown::Shutdown;
use crate::status::{DeliveryHandle, DeliveryOptions, StatusDelivery};
use crate::store::{JournalPruner, Store, StoreError};

/// The handles the rest of the daemon uses while this term lasts.
pub struct Leader {
    pub dispatcher: Dispatcher,
    pub health: HealthHandle,
    /// Operator routes that act on LoxiLB (reconcile now, ...).
    pub admin: Router,
}

impl Leader {
    /// The leader-only API: the operator routes and the status routes (answered
    /// from this term's health index).
    pub fn api(&self, store: &Store) -> Router {
        self.admin
            .clone()
            .merge(crate::health::router(self.health.clone(), store.clone()))
    }
}

/// Every path of [`Leader::api`], as the routers that serve them list them: the
/// paths a cluster instance forwards to its running term (`term::LeaderRoutes`).
pub fn api_paths() -> impl Iterator<Item = &'static str> {
    [
        &recovery::admin::PATHS[..],
        &ingress::admin::PATHS[..],
        &crate::health::api::PATHS[..],
    ]
    .into_iter()
    .flatten()
    .copied()
}

/// Start the leader's tasks under `shutdown`. Unfinished events are not submitted
/// here: the caller replays them (single instance) or its journal tail does.
pub async fn start(
    config: &Config,
    store: &Store,
    client: &LoxilbClient,
    agent: AgentClient,
    shutdown: &Shutdown,
) -> Result<Leader, StoreError> {
    let hm = &config.health_monitoring;
    let applier = Arc::new(Applier::new(
        store.clone(),
        client.clone(),
        MappingOptions {
            nat_mode: config.loxilb.nat_mode,
            default_delay: hm.default_delay,
            default_timeout: hm.default_timeout,
            default_max_retries: hm.default_max_retries,
        },
    ));
    let (delivery, delivery_handle) = StatusDelivery::new(
        store.clone(),
        agent.clone(),
        DeliveryOptions {
            batch_max: hm.batch_size,
            ..DeliveryOptions::default()
        },
    );
    shutdown.spawn(delivery.run(shutdown.clone()));
    let stats = Arc::new(RecoveryStats::default());
    start_upkeep(config, store, &applier, &delivery_handle, &stats, shutdown);
    let reconciler = start_reconciler(config, store, &applier, &agent, stats, shutdown).await?;
    let admin = recovery::router(reconciler).merge(ingress::admin::router(applier.clone()));
    let health = start_health(config, store, client, agent, &delivery_handle, shutdown);
    let drivers = CoordinatedDrivers::new(
        store.clone(),
        applier,
        delivery_handle,
        hm.enable_coordination,
    )
    .with_health(health.clone());
    let dispatcher = Dispatcher::new(
        store.clone(),
        Arc::new(drivers),
        DispatchOptions {
            max_concurrent: hm.max_concurrent_checks,
            batch_max: hm.batch_size,
            ..DispatchOptions::default()
        },
        shutdown.clone(),
    );
    Ok(Leader {
        dispatcher,
        health,
        admin,
    })
}

/// Node catch-up (with dead letters) and journal pruning.
fn start_upkeep(
    config: &Config,
    store: &Store,
    applier: &Arc<Applier>,
    delivery: &DeliveryHandle,
    stats: &Arc<RecoveryStats>,
    shutdown: &Shutdown,
) {
    let hm = &config.health_monitoring;
    // A node that missed a change is retried about as often as statuses are polled.
    let catch_up_every = Duration::from_secs(hm.status_update_interval.clamp(1, 30));
    let catch_up = NodeCatchUp::new(store.clone(), applier.clone(), catch_up_every)
        .with_dead_letters(DeadLetterPolicy {
            max_age: hm.retry_max_age_duration(),
            delivery: delivery.clone(),
            stats: stats.clone(),
        });
    shutdown.spawn(catch_up.run(shutdown.clone()));
    let retention = crate::store::Retention {
        max_age: config.database.retention(),
        max_events: config.database.retention_max_events,
    };
    // A pass a minute keeps each one small (20 events/s make 1200 rows a minute).
    let pruner = JournalPruner::new(store.clone(), retention, Duration::from_secs(60));
    shutdown.spawn(pruner.run(shutdown.clone()));
}

/// The reconciler, with its start-up snapshot taken before any event is replayed
/// (see `recovery::startup`).
async fn start_reconciler(
    config: &Config,
    store: &Store,
    applier: &Arc<Applier>,
    agent: &AgentClient,
    stats: Arc<RecoveryStats>,
    shutdown: &Shutdown,
) -> Result<recovery::ReconcilerHandle, StoreError> {
    let hm = &config.health_monitoring;
    let startup = StartupSnapshot::take(store).await?;
    let (reconciler, handle) = Reconciler::new(
        store.clone(),
        applier.clone(),
        agent.clone(),
        stats,
        ReconcilerOptions {
            periodic: hm.enable_status_reconciliation,
            interval: hm.reconciliation_interval_duration(),
            poll_interval: hm.status_update_interval_duration(),
            startup_concurrency: 8,
            startup_retry: Duration::from_secs(30),
            limit: recovery::BlastRadius {
                max_fraction: hm.orphan_max_fraction,
                max_count: hm.orphan_max_count,
            },
        },
        startup,
    );
    shutdown.spawn(reconciler.run(shutdown.clone()));
    Ok(handle)
}

/// Health polling: LoxiLB probe states to operating statuses.
fn start_health(
    config: &Config,
    store: &Store,
    client: &LoxilbClient,
    agent: AgentClient,
    delivery: &DeliveryHandle,
    shutdown: &Shutdown,
) -> HealthHandle {
    let hm = &config.health_monitoring;
    let (health, handle) = HealthSync::new(
        store.clone(),
        client.clone(),
        agent,
        delivery.clone(),
        HealthOptions {
            interval: hm.status_update_interval_duration(),
            cache_ttl: hm.status_cache_ttl_duration(),
            stale_cycles_before_error: hm.stale_cycles_before_error,
            // A slow node delays a cycle by at most one interval (at least 2 s, so a
            // busy node with many endpoints still gets to answer).
            node_timeout: hm
                .status_update_interval_duration()
                .max(Duration::from_secs(2)),
            debounce: Duration::from_secs(1),
            // Octavia's amphorae report statistics about every 10 s (the default); the
            // rule listing behind them is LoxiLB's expensive read.
            stats_interval: hm.stats_interval_duration(),
        },
    );
    shutdown.spawn(health.run(shutdown.clone()));
    handle
}
