//! Desired state: the Octavia objects as the provider was last told (octavia-lib
//! dicts). Drivers update it first, then make LoxiLB match it.

use crate::store::StoreError;
use serde_json::Value;
use std::collections::BTreeSet;

/// The desired-state tables and the column naming each row's parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    Loadbalancers,
    Listeners,
    Pools,
    Members,
    HealthMonitors,
}

impl Table {
    pub fn name(self) -> &'static str {
        match self {
            Table::Loadbalancers => "loadbalancers",
            Table::Listeners => "listeners",
            Table::Pools => "pools",
            Table::Members => "members",
            Table::HealthMonitors => "health_monitors",
        }
    }

    pub fn parent_column(self) -> Option<&'static str> {
        match self {
            Table::Loadbalancers => None,
            Table::Listeners | Table::Pools => Some("loadbalancer_id"),
            Table::Members | Table::HealthMonitors => Some("pool_id"),
        }
    }
}

/// Apply an update's "new" dict (only changed fields plus the id) onto the stored
/// object: fields present in `patch` replace those in `base`.
pub fn merge_update(base: &Value, patch: &Value) -> Value {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            let mut out = b.clone();
            for (k, v) in p {
                out.insert(k.clone(), v.clone());
            }
            Value::Object(out)
        }
        (_, p) => p.clone(),
    }
}

/// Reading and writing desired state.
pub trait DesiredState {
    /// Insert or replace one object. `parent` is required for every table but
    /// load balancers.
    async fn put_object(
        &self,
        table: Table,
        id: &str,
        parent: Option<&str>,
        body: &Value,
    ) -> Result<(), StoreError>;
    /// One object, or None when we never stored it (or it was deleted).
    async fn get_object(&self, table: Table, id: &str) -> Result<Option<Value>, StoreError>;
    /// Children of `parent` in `table`, ordered by id so results are deterministic.
    async fn children(&self, table: Table, parent: &str) -> Result<Vec<Value>, StoreError>;
    /// Ids of the children of `parent` in `table`, ordered.
    async fn child_ids(&self, table: Table, parent: &str) -> Result<Vec<String>, StoreError>;
    /// The parent id stored with object `id` (None for load balancers and unknown ids).
    async fn parent_of(&self, table: Table, id: &str) -> Result<Option<String>, StoreError>;
    /// One object and its stored parent id, in one read.
    async fn get_with_parent(
        &self,
        table: Table,
        id: &str,
    ) -> Result<Option<(Value, Option<String>)>, StoreError>;
    /// All objects of a table, ordered by id.
    async fn all_objects(&self, table: Table) -> Result<Vec<Value>, StoreError>;
    /// Remove one object; true when it existed.
    async fn delete_object(&self, table: Table, id: &str) -> Result<bool, StoreError>;
    /// Remove a load balancer and everything below it in one transaction; the ids
    /// removed per table, so every child can be reported DELETED.
    async fn delete_loadbalancer_tree(
        &self,
        lb_id: &str,
    ) -> Result<Vec<(Table, String)>, StoreError>;
    /// Ids of every desired load balancer and every listener.
    async fn desired_ids(&self) -> Result<(BTreeSet<String>, BTreeSet<String>), StoreError>;
}
