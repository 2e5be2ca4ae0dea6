//! What one applier sync starts from: a load balancer's desired tree, its probe
//! references and the rules applied for it, read together.

use serde_json::Value;
use std::collections::BTreeMap;

use super::applied::ProbeRefRow;
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
    /// The desired tree, probe references and applied rules of `lb`: what a sync
    /// starts from, read together.
    async fn sync_inputs(&self, lb: &str) -> Result<SyncInputs, StoreError>;
}
