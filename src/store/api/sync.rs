//! What one applier sync starts from: a load balancer's desired tree, its probe
//! references and the rules applied for it, read together.

use serde_json::Value;
use std::collections::BTreeMap;

use super::applied::ProbeRefRow;
use super::desired::Table;
use crate::store::StoreError;

/// A load balancer and every desired object below it, as stored.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LbBodies {
    pub loadbalancer: Value,
    pub listeners: Vec<Value>,
    pub pools: Vec<Value>,
    pub members: Vec<Value>,
    pub monitors: Vec<Value>,
}

/// One stored object of a load balancer's tree, with the keys the tree is joined
/// on: what the store's desired-tree cache needs to follow later writes (the
/// bodies alone do not say which stored parent a member hangs under).
#[derive(Clone, Debug, PartialEq)]
pub struct TreeRow {
    pub table: Table,
    pub id: String,
    /// The stored parent column (the load balancer's own id for its row).
    pub parent: String,
    /// The body as stored (JSON text), so a copy parses to exactly what a read would.
    pub body: String,
}

/// The bodies of `rows` (a load balancer's tree ordered by table, then id) as
/// [`LbBodies`]; None without the load balancer's own row.
pub fn bodies_of<'a>(
    rows: impl IntoIterator<Item = (Table, &'a str)>,
) -> Result<Option<LbBodies>, StoreError> {
    let mut found = false;
    let mut b = LbBodies::default();
    for (table, text) in rows {
        let body: Value = serde_json::from_str(text)
            .map_err(|e| StoreError::Corrupt(format!("desired object: {e}")))?;
        match table {
            Table::Loadbalancers => {
                b.loadbalancer = body;
                found = true;
            }
            Table::Listeners => b.listeners.push(body),
            Table::Pools => b.pools.push(body),
            Table::Members => b.members.push(body),
            Table::HealthMonitors => b.monitors.push(body),
        }
    }
    Ok(found.then_some(b))
}

/// [`bodies_of`] a backend's tree rows.
pub fn rows_bodies(rows: Option<Vec<TreeRow>>) -> Result<Option<LbBodies>, StoreError> {
    match rows {
        Some(rows) => bodies_of(rows.iter().map(|r| (r.table, r.body.as_str()))),
        None => Ok(None),
    }
}

/// Everything a sync of one load balancer starts from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncInputs {
    /// None when the load balancer is not (or no longer) in desired state.
    pub tree: Option<LbBodies>,
    /// Its probe references, ordered by key and member.
    pub refs: Vec<ProbeRefRow>,
    /// Rules applied for it, per node URL: (name, body), ordered by name.
    pub applied_rules: BTreeMap<String, Vec<(String, String)>>,
}

/// Reads of whole load-balancer trees.
pub trait SyncReads {
    /// Every load balancer's tree, one at a time (only one in memory at once).
    async fn for_each_lb_tree(&self, f: impl FnMut(&str, LbBodies)) -> Result<(), StoreError>;
    /// Load balancer `lb` and everything below it; None when it is not stored.
    async fn lb_bodies(&self, lb: &str) -> Result<Option<LbBodies>, StoreError>;
    /// The rows of [`SyncReads::lb_bodies`] with their ids and parents, ordered by
    /// table (load balancer, listeners, pools, members, monitors), then id; None
    /// when the load balancer is not stored.
    async fn lb_tree(&self, lb: &str) -> Result<Option<Vec<TreeRow>>, StoreError>;
    /// The desired tree, probe references and applied rules of `lb`: what a sync
    /// starts from, read together.
    async fn sync_inputs(&self, lb: &str) -> Result<SyncInputs, StoreError>;
}
