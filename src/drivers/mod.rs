//! Provider drivers: one trait per Octavia object, and the routing table from a
//! journaled event to the driver method that applies it.
//!
//! The traits mirror Octavia's ProviderDriver methods so a reader can follow an
//! event from its method name to the code that handles it. Drivers return
//! [`DriverError`], classified transient (retry later, keep the load balancer's
//! queue waiting) or permanent (fail the event with a reason).

mod coordinated;
mod desired;

use std::sync::Arc;

use async_trait::async_trait;

use crate::dispatch::{Job, JobError, JobHandler};
use crate::model::{Event, HealthMonitor, Listener, LoadBalancer, Member, Pool};
use crate::store::StoreError;

pub use coordinated::CoordinatedDrivers;
pub use desired::DesiredStateDrivers;

/// Why a driver could not apply an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    #[error("transient: {0}")]
    Transient(String),
    #[error("{0}")]
    Permanent(String),
}

impl From<StoreError> for DriverError {
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            DriverError::Transient(e.to_string())
        } else {
            DriverError::Permanent(e.to_string())
        }
    }
}

pub type DriverResult = Result<(), DriverError>;

#[async_trait]
pub trait LoadBalancerDriver: Send + Sync {
    async fn create(&self, lb: &LoadBalancer) -> DriverResult;
    async fn update(&self, old: &LoadBalancer, new: &LoadBalancer) -> DriverResult;
    async fn delete(&self, lb: &LoadBalancer, cascade: bool) -> DriverResult;
    async fn failover(&self, lb_id: &str) -> DriverResult;
}

#[async_trait]
pub trait ListenerDriver: Send + Sync {
    async fn create(&self, listener: &Listener) -> DriverResult;
    async fn update(&self, old: &Listener, new: &Listener) -> DriverResult;
    async fn delete(&self, listener: &Listener) -> DriverResult;
}

#[async_trait]
pub trait PoolDriver: Send + Sync {
    async fn create(&self, pool: &Pool) -> DriverResult;
    async fn update(&self, old: &Pool, new: &Pool) -> DriverResult;
    async fn delete(&self, pool: &Pool) -> DriverResult;
}

#[async_trait]
pub trait MemberDriver: Send + Sync {
    async fn create(&self, member: &Member) -> DriverResult;
    async fn update(&self, old: &Member, new: &Member) -> DriverResult;
    async fn delete(&self, member: &Member) -> DriverResult;
    async fn batch_update(&self, pool_id: &str, members: &[Member]) -> DriverResult;
}

#[async_trait]
pub trait HealthMonitorDriver: Send + Sync {
    async fn create(&self, hm: &HealthMonitor) -> DriverResult;
    async fn update(&self, old: &HealthMonitor, new: &HealthMonitor) -> DriverResult;
    async fn delete(&self, hm: &HealthMonitor) -> DriverResult;
}

/// The five drivers the dispatcher routes to.
#[derive(Clone)]
pub struct DriverSet {
    pub loadbalancer: Arc<dyn LoadBalancerDriver>,
    pub listener: Arc<dyn ListenerDriver>,
    pub pool: Arc<dyn PoolDriver>,
    pub member: Arc<dyn MemberDriver>,
    pub health_monitor: Arc<dyn HealthMonitorDriver>,
}

impl DriverSet {
    /// One implementation serving all five traits.
    pub fn from_one<D>(d: Arc<D>) -> DriverSet
    where
        D: LoadBalancerDriver
            + ListenerDriver
            + PoolDriver
            + MemberDriver
            + HealthMonitorDriver
            + 'static,
    {
        DriverSet {
            loadbalancer: d.clone(),
            listener: d.clone(),
            pool: d.clone(),
            member: d.clone(),
            health_monitor: d,
        }
    }

    /// The routing table: which driver method handles which provider method.
    pub async fn route(&self, event: &Event) -> DriverResult {
        match event {
            Event::LoadbalancerCreate { loadbalancer } => {
                self.loadbalancer.create(loadbalancer).await
            }
            Event::LoadbalancerUpdate { old, new } => self.loadbalancer.update(old, new).await,
            Event::LoadbalancerDelete {
                loadbalancer,
                cascade,
            } => self.loadbalancer.delete(loadbalancer, *cascade).await,
            Event::LoadbalancerFailover { loadbalancer_id } => {
                self.loadbalancer.failover(loadbalancer_id).await
            }
            Event::ListenerCreate { listener } => self.listener.create(listener).await,
            Event::ListenerUpdate { old, new } => self.listener.update(old, new).await,
            Event::ListenerDelete { listener } => self.listener.delete(listener).await,
            Event::PoolCreate { pool } => self.pool.create(pool).await,
            Event::PoolUpdate { old, new } => self.pool.update(old, new).await,
            Event::PoolDelete { pool } => self.pool.delete(pool).await,
            Event::MemberCreate { member } => self.member.create(member).await,
            Event::MemberUpdate { old, new } => self.member.update(old, new).await,
            Event::MemberDelete { member } => self.member.delete(member).await,
            Event::MemberBatchUpdate { pool_id, members } => {
                self.member.batch_update(pool_id, members).await
            }
            Event::HealthMonitorCreate { healthmonitor } => {
                self.health_monitor.create(healthmonitor).await
            }
            Event::HealthMonitorUpdate { old, new } => self.health_monitor.update(old, new).await,
            Event::HealthMonitorDelete { healthmonitor } => {
                self.health_monitor.delete(healthmonitor).await
            }
        }
    }
}

#[async_trait]
impl JobHandler for DriverSet {
    async fn apply(&self, job: &Job) -> Result<(), JobError> {
        // The journal holds what passed validation; a row that no longer parses
        // (schema drift after an upgrade) can never succeed.
        let args: serde_json::Value = serde_json::from_str(&job.args)
            .map_err(|e| JobError::Permanent(format!("journaled args unreadable: {e}")))?;
        let event = Event::parse(&job.method, &args)
            .map_err(|e| JobError::Permanent(format!("journaled event invalid: {e}")))?;
        self.route(&event).await.map_err(|e| match e {
            DriverError::Transient(m) => JobError::Transient(m),
            DriverError::Permanent(m) => JobError::Permanent(m),
        })
    }
}
