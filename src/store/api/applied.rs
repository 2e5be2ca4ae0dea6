//! Applied state: what we put on each LoxiLB node (rules, probes), the probe
//! references that explain why a probe exists, and probe intents (probes about to be
//! posted, so a crash between the POST and its record cannot leak one).

use std::collections::BTreeSet;

use crate::store::StoreError;

/// One reason a probe exists: member `member_id` of pool `pool_id` is watched by
/// health monitor `healthmonitor_id`; `options` is the probe body that monitor wants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeRefRow {
    pub probe_key: String,
    pub member_id: String,
    pub pool_id: String,
    pub healthmonitor_id: String,
    pub loadbalancer_id: String,
    pub options: String,
}

/// A probe as recorded applied on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedProbe {
    pub key: String,
    pub host: String,
    pub probe_type: String,
    pub port: u16,
    /// The probe body as JSON.
    pub options: String,
}

/// What was applied where.
pub trait AppliedRecords {
    /// Rules applied on `node` for load balancer `lb`: (name, body).
    async fn applied_rules(
        &self,
        node: &str,
        lb: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;
    /// Every rule applied on `node`: (name, load balancer, body).
    async fn all_applied_rules(
        &self,
        node: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError>;
    /// (node, rule name, updated at) of every applied rule.
    async fn applied_rule_names(&self) -> Result<Vec<(String, String, i64)>, StoreError>;
    async fn put_applied_rule(
        &self,
        node: &str,
        name: &str,
        lb: &str,
        body: &str,
    ) -> Result<(), StoreError>;
    async fn delete_applied_rule(&self, node: &str, name: &str) -> Result<(), StoreError>;
    /// Replace every probe reference of load balancer `lb`.
    async fn replace_probe_refs(&self, lb: &str, rows: &[ProbeRefRow]) -> Result<(), StoreError>;
    async fn probe_refs_for(&self, keys: &BTreeSet<String>)
        -> Result<Vec<ProbeRefRow>, StoreError>;
    /// Probes of `keys` applied on `node`: (key, body).
    async fn applied_probes(
        &self,
        node: &str,
        keys: &BTreeSet<String>,
    ) -> Result<Vec<(String, String)>, StoreError>;
    async fn all_applied_probes(&self, node: &str) -> Result<Vec<(String, String)>, StoreError>;
    async fn put_applied_probe(
        &self,
        node: &str,
        key: &str,
        host: &str,
        probe_type: &str,
        port: u16,
        options: &str,
    ) -> Result<(), StoreError>;
    /// Probes about to be posted on `node`: (key, body), written before the POSTs.
    async fn put_probe_intents(
        &self,
        node: &str,
        intents: &[(String, String)],
    ) -> Result<(), StoreError>;
    async fn probe_intents(
        &self,
        node: &str,
        keys: &BTreeSet<String>,
    ) -> Result<Vec<(String, String)>, StoreError>;
    async fn put_applied_probes(
        &self,
        node: &str,
        probes: &[AppliedProbe],
    ) -> Result<(), StoreError>;
    async fn delete_applied_probe(&self, node: &str, key: &str) -> Result<(), StoreError>;
    async fn delete_applied_probes(&self, node: &str, keys: &[String]) -> Result<(), StoreError>;
    /// Forget every record of load balancer `lb` (it is deleted everywhere).
    async fn forget_applied_lb(&self, lb: &str) -> Result<(), StoreError>;
    /// Every probe key some desired member still refers to.
    async fn referenced_probe_keys(&self) -> Result<BTreeSet<String>, StoreError>;
    /// Probe keys applied on some node that no reference needs any more.
    async fn unreferenced_probe_keys(&self) -> Result<BTreeSet<String>, StoreError>;
    /// Load balancers that refer to probe `key`.
    async fn lbs_of_probe_key(&self, key: &str) -> Result<BTreeSet<String>, StoreError>;
}
