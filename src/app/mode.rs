//! How this instance runs: alone on SQLite (it leads from the start), or as a member
//! of a cluster on MySQL (it leads while it holds the lease, see `term`).
//!
//! Both give the ingress the same three things: where accepted events go (`Intake`),
//! the leader-only routes, and the cluster status shown by readyz and metrics.

use std::sync::Arc;

use axum::Router;
use tracing::info;

use crate::cluster::{ClusterStatus, Election, MysqlLeases};
use crate::config::Config;
use crate::dispatch::{Intake, LocalLeader};
use crate::fence::Fence;
use crate::loxilb::LoxilbClient;
use crate::shutdown::Shutdown;
use crate::store::mysql::MysqlStore;
use crate::store::Store;

use super::term::{LeaderRoutes, Terms};
use super::{leader, AppError};

/// What the serving part of `run` needs from the mode.
pub struct Mode {
    pub store: Store,
    pub client: LoxilbClient,
    pub intake: Intake,
    /// Status, reconcile, orphans, dead letters, validation.
    pub leader_routes: Router,
    pub cluster: ClusterStatus,
}

/// Open the database the configuration names and start this instance's part.
pub async fn start(config: &Config, shutdown: &Shutdown) -> Result<Mode, AppError> {
    if config.database.is_cluster() {
        cluster(config, shutdown).await
    } else {
        single(config, shutdown).await
    }
}

/// SQLite: this process is the only instance and leads at once.
async fn single(config: &Config, shutdown: &Shutdown) -> Result<Mode, AppError> {
    let db = &config.database;
    let gid = db.file_gid().and_then(Result::ok);
    let store = Store::open_exclusive(&db.url, db.max_connections, gid).await?;
    let client = super::loxilb_client(config, Fence::always(), None)?;
    let agent = config.octavia.client();
    let leader = leader::start(config, &store, &client, agent, shutdown).await?;
    let replayed = leader.dispatcher.replay().await?;
    if replayed > 0 {
        info!(events = replayed, "replaying unfinished journal entries");
    }
    let leader_routes = leader.api(&store);
    Ok(Mode {
        store,
        client,
        intake: Intake::Local(leader.dispatcher),
        leader_routes,
        cluster: ClusterStatus::single(config.cluster.instance_id.clone()),
    })
}

/// MySQL: any number of instances share the database; the election decides which
/// one leads, and `Terms` starts and stops the leader's tasks accordingly.
async fn cluster(config: &Config, shutdown: &Shutdown) -> Result<Mode, AppError> {
    let db = &config.database;
    let password = config.database_password()?;
    let me = config.cluster.instance_id.clone();
    let fence = Fence::cluster();
    let mysql = MysqlStore::open(
        &db.url,
        password.as_ref().map(|p| p.expose()),
        db.max_connections,
    )
    .await?
    .with_fence(&me, fence.clone());
    // The election gets a small pool of its own: on the store's, its renewals would
    // queue behind busy connections and could miss the local deadline.
    let pool = sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(config.cluster.lease())
        .connect_lazy_with((*mysql.pool().connect_options()).clone());
    let store = Store::from(mysql);
    let client = super::loxilb_client(config, fence.clone(), Some(me.clone()))?;
    let (election, cluster) =
        Election::new(MysqlLeases::new(pool), me.clone(), config.cluster.lease());
    shutdown.spawn(election.with_fence(fence.clone()).run(shutdown.clone()));
    let local = LocalLeader::default();
    let ttl = config.health_monitoring.status_cache_ttl_duration();
    let routes =
        LeaderRoutes::with_follower_status(crate::health::follower_router(store.clone(), ttl));
    let terms = Terms {
        config: Arc::new(config.clone()),
        store: store.clone(),
        client: client.clone(),
        agent: config.octavia.client().with_fence(fence),
        roles: cluster.subscribe(),
        local: local.clone(),
        routes: routes.clone(),
        poll: config.cluster.poll(),
    };
    shutdown.spawn(terms.run(shutdown.clone()));
    info!(instance_id = %me, lease = ?config.cluster.lease(), "cluster mode: following the leader lease");
    Ok(Mode {
        store,
        client,
        intake: Intake::Journal {
            poll: config
                .cluster
                .poll()
                .min(std::time::Duration::from_millis(20)),
            local,
        },
        leader_routes: routes.router(),
        cluster,
    })
}
