//! Drivers that record desired state only.
//!
//! Every LoxiLB-facing driver starts by updating the desired state in SQLite; this
//! implementation does just that, and is the base the LoxiLB drivers build on. It
//! is also what the daemon runs with when no LoxiLB application is configured.

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use super::{
    DriverError, DriverResult, HealthMonitorDriver, ListenerDriver, LoadBalancerDriver,
    MemberDriver, PoolDriver,
};
use crate::model::{split_graph, HealthMonitor, Listener, LoadBalancer, Member, Pool};
use crate::store::{merge_update, Store, Table};

/// Keeps the desired-state tables in step with Octavia's events.
pub struct DesiredStateDrivers {
    store: Store,
}

impl DesiredStateDrivers {
    pub fn new(store: Store) -> Self {
        DesiredStateDrivers { store }
    }

    async fn put<T: Serialize>(
        &self,
        table: Table,
        id: &str,
        parent: Option<&str>,
        obj: &T,
    ) -> DriverResult {
        let body = to_value(obj)?;
        self.store.put_object(table, id, parent, &body).await?;
        Ok(())
    }

    /// Merge an update's changed fields into the stored object (or into `old` when
    /// we never stored it, e.g. the daemon was installed after the object existed).
    async fn merge<T: Serialize>(
        &self,
        table: Table,
        id: &str,
        old: &T,
        new: &T,
    ) -> Result<Value, DriverError> {
        let base = match self.store.get_object(table, id).await? {
            Some(v) => v,
            None => to_value(old)?,
        };
        Ok(merge_update(&base, &to_value(new)?))
    }
}

fn to_value<T: Serialize>(obj: &T) -> Result<Value, DriverError> {
    serde_json::to_value(obj)
        .map_err(|e| DriverError::Permanent(format!("cannot encode object: {e}")))
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn missing(what: &str, id: &str, field: &str) -> DriverError {
    DriverError::Permanent(format!("{what} {id} has no {field}"))
}

#[async_trait]
impl LoadBalancerDriver for DesiredStateDrivers {
    /// A graph create (nested listeners and pools) stores each object, parents
    /// first, as its own create event would (see `model::graph`).
    async fn create(&self, lb: &LoadBalancer) -> DriverResult {
        let parts = split_graph(lb);
        self.put(
            Table::Loadbalancers,
            &lb.loadbalancer_id,
            None,
            &parts.loadbalancer,
        )
        .await?;
        for l in &parts.listeners {
            ListenerDriver::create(self, l).await?;
        }
        for p in &parts.pools {
            PoolDriver::create(self, p).await?;
        }
        for m in &parts.members {
            MemberDriver::create(self, m).await?;
        }
        for h in &parts.monitors {
            HealthMonitorDriver::create(self, h).await?;
        }
        Ok(())
    }
    async fn update(&self, old: &LoadBalancer, new: &LoadBalancer) -> DriverResult {
        let merged = self
            .merge(Table::Loadbalancers, &old.loadbalancer_id, old, new)
            .await?;
        self.store
            .put_object(Table::Loadbalancers, &old.loadbalancer_id, None, &merged)
            .await?;
        Ok(())
    }
    async fn delete(&self, lb: &LoadBalancer, _cascade: bool) -> DriverResult {
        self.store
            .delete_loadbalancer_tree(&lb.loadbalancer_id)
            .await?;
        Ok(())
    }
    async fn failover(&self, _lb_id: &str) -> DriverResult {
        Ok(())
    }
}

#[async_trait]
impl ListenerDriver for DesiredStateDrivers {
    async fn create(&self, l: &Listener) -> DriverResult {
        let lb = l
            .loadbalancer_id
            .as_deref()
            .ok_or_else(|| missing("listener", &l.listener_id, "loadbalancer_id"))?;
        self.put(Table::Listeners, &l.listener_id, Some(lb), l)
            .await
    }
    async fn update(&self, old: &Listener, new: &Listener) -> DriverResult {
        let merged = self
            .merge(Table::Listeners, &old.listener_id, old, new)
            .await?;
        let lb = str_field(&merged, "loadbalancer_id")
            .ok_or_else(|| missing("listener", &old.listener_id, "loadbalancer_id"))?
            .to_string();
        self.store
            .put_object(Table::Listeners, &old.listener_id, Some(&lb), &merged)
            .await?;
        Ok(())
    }
    async fn delete(&self, l: &Listener) -> DriverResult {
        self.store
            .delete_object(Table::Listeners, &l.listener_id)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl PoolDriver for DesiredStateDrivers {
    async fn create(&self, p: &Pool) -> DriverResult {
        let lb = match (&p.loadbalancer_id, &p.listener_id) {
            (Some(lb), _) => lb.clone(),
            (None, Some(l)) => self
                .store
                .get_object(Table::Listeners, l)
                .await?
                .and_then(|v| str_field(&v, "loadbalancer_id").map(str::to_string))
                .ok_or_else(|| missing("pool", &p.pool_id, "known load balancer"))?,
            (None, None) => return Err(missing("pool", &p.pool_id, "loadbalancer_id")),
        };
        self.put(Table::Pools, &p.pool_id, Some(&lb), p).await
    }
    async fn update(&self, old: &Pool, new: &Pool) -> DriverResult {
        let merged = self.merge(Table::Pools, &old.pool_id, old, new).await?;
        let lb = str_field(&merged, "loadbalancer_id")
            .ok_or_else(|| missing("pool", &old.pool_id, "loadbalancer_id"))?
            .to_string();
        self.store
            .put_object(Table::Pools, &old.pool_id, Some(&lb), &merged)
            .await?;
        Ok(())
    }
    async fn delete(&self, p: &Pool) -> DriverResult {
        for m in self.store.children(Table::Members, &p.pool_id).await? {
            if let Some(id) = str_field(&m, "member_id") {
                self.store.delete_object(Table::Members, id).await?;
            }
        }
        for h in self
            .store
            .children(Table::HealthMonitors, &p.pool_id)
            .await?
        {
            if let Some(id) = str_field(&h, "healthmonitor_id") {
                self.store.delete_object(Table::HealthMonitors, id).await?;
            }
        }
        self.store.delete_object(Table::Pools, &p.pool_id).await?;
        Ok(())
    }
}

#[async_trait]
impl MemberDriver for DesiredStateDrivers {
    async fn create(&self, m: &Member) -> DriverResult {
        let pool = m
            .pool_id
            .as_deref()
            .ok_or_else(|| missing("member", &m.member_id, "pool_id"))?;
        self.put(Table::Members, &m.member_id, Some(pool), m).await
    }
    async fn update(&self, old: &Member, new: &Member) -> DriverResult {
        let merged = self.merge(Table::Members, &old.member_id, old, new).await?;
        let pool = str_field(&merged, "pool_id")
            .ok_or_else(|| missing("member", &old.member_id, "pool_id"))?
            .to_string();
        self.store
            .put_object(Table::Members, &old.member_id, Some(&pool), &merged)
            .await?;
        Ok(())
    }
    async fn delete(&self, m: &Member) -> DriverResult {
        self.store
            .delete_object(Table::Members, &m.member_id)
            .await?;
        Ok(())
    }
    /// The batch is the pool's complete new member list: members not in it go.
    async fn batch_update(&self, pool_id: &str, members: &[Member]) -> DriverResult {
        let keep: std::collections::HashSet<&str> =
            members.iter().map(|m| m.member_id.as_str()).collect();
        for m in self.store.children(Table::Members, pool_id).await? {
            if let Some(id) = str_field(&m, "member_id").filter(|id| !keep.contains(id)) {
                self.store.delete_object(Table::Members, id).await?;
            }
        }
        for m in members {
            self.put(Table::Members, &m.member_id, Some(pool_id), m)
                .await?;
        }
        Ok(())
    }
}

#[async_trait]
impl HealthMonitorDriver for DesiredStateDrivers {
    async fn create(&self, h: &HealthMonitor) -> DriverResult {
        let pool = h
            .pool_id
            .as_deref()
            .ok_or_else(|| missing("health monitor", &h.healthmonitor_id, "pool_id"))?;
        self.put(Table::HealthMonitors, &h.healthmonitor_id, Some(pool), h)
            .await
    }
    async fn update(&self, old: &HealthMonitor, new: &HealthMonitor) -> DriverResult {
        let merged = self
            .merge(Table::HealthMonitors, &old.healthmonitor_id, old, new)
            .await?;
        let pool = str_field(&merged, "pool_id")
            .ok_or_else(|| missing("health monitor", &old.healthmonitor_id, "pool_id"))?
            .to_string();
        self.store
            .put_object(
                Table::HealthMonitors,
                &old.healthmonitor_id,
                Some(&pool),
                &merged,
            )
            .await?;
        Ok(())
    }
    async fn delete(&self, h: &HealthMonitor) -> DriverResult {
        self.store
            .delete_object(Table::HealthMonitors, &h.healthmonitor_id)
            .await?;
        Ok(())
    }
}
