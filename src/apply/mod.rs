//! The applier: makes every LoxiLB node hold what the desired state of one load
//! balancer asks for, calling LoxiLB only for what differs from what we applied.
//!
//! One sync = read the load balancer's desired objects → map them (pure, in
//! `mapping`) to rules and probe wants → record the wants as probe references →
//! merge every reference of each affected probe key (shared probes span load
//! balancers) → per node, plan against the applied records and execute the plan.
//!
//! The sync is idempotent: run twice, the second run finds everything applied and
//! makes no call. That is what makes journal replay after a crash safe, and what the
//! node catch-up and the reconciler reuse.
//!
//! Per node, calls go in the order LoxiLB's probe/rule coupling needs
//! (`mapping::plan_node` explains why): rule deletions, then the probes the rules will
//! refer to (HTTP/HTTPS, monitor addresses, and those the deletions took with them),
//! then rule creations and updates, then re-posts of probes an update dropped with its
//! endpoint (a drained member keeps its probe), then probe deletions (after the rules
//! that referred to them are gone, so LoxiLB rarely answers 409).

mod error;
mod locks;
mod node;
mod records;
pub mod validate;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use tracing::warn;

use crate::loxilb::{EndPoint, LoadbalanceEntry, LoxilbClient, NodeId};
use crate::mapping::{self, DesiredLb, DesiredRule, LbTree, MappingOptions, ProbeKey, ProbeWant};
use crate::store::{LbBodies, ProbeRefRow, Store, SyncInputs};

pub use error::{NodeError, SyncError};
use locks::Stripes;
pub use node::probe_defaults_restorable;
use records::Records;

/// What one sync did on each node.
#[derive(Debug, Default)]
pub struct SyncOutcome {
    /// Node URL and its result, in configuration order.
    pub nodes: Vec<(String, Result<NodeCalls, NodeFailure>)>,
}

/// Which part of a node's sync failed: rules carry traffic, probes only health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Rules,
    Probes,
}

/// One node's failure and the phase it happened in.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct NodeFailure {
    pub phase: Phase,
    pub error: NodeError,
}

/// Calls made on one node.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct NodeCalls {
    pub rules: usize,
    pub probes: usize,
}

impl SyncOutcome {
    pub fn all_ok(&self) -> bool {
        self.nodes.iter().all(|(_, r)| r.is_ok())
    }

    pub fn any_ok(&self) -> bool {
        self.nodes.iter().any(|(_, r)| r.is_ok())
    }

    /// The first permanent failure, if any node had one.
    pub fn permanent_error(&self) -> Option<&NodeFailure> {
        self.nodes
            .iter()
            .filter_map(|(_, r)| r.as_ref().err())
            .find(|e| !e.error.is_transient())
    }

    /// True when every failure (if any) was in the probe phase: traffic is configured.
    pub fn rules_ok(&self) -> bool {
        self.nodes
            .iter()
            .filter_map(|(_, r)| r.as_ref().err())
            .all(|e| e.phase == Phase::Probes)
    }

    pub fn calls(&self) -> usize {
        self.nodes
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok())
            .map(|c| c.rules + c.probes)
            .sum()
    }
}

/// A probe want as kept in `probe_refs.options`.
#[derive(Serialize, Deserialize)]
struct StoredWant {
    host: String,
    proto: String,
    port: u16,
    endpoint: EndPoint,
}

/// One run's inputs, shared by its per-node runs.
pub(crate) struct Run<'a> {
    lb: &'a str,
    /// What each node should hold at the end of the run.
    target: Target<'a>,
    /// Applied rules per node URL: (name, body).
    applied: &'a BTreeMap<String, Vec<(String, String)>>,
    keys: &'a BTreeSet<String>,
    /// This load balancer's references before the sync: any probe they name may be on
    /// a node without our record (a crash after its POST).
    referred: &'a [ProbeRefRow],
}

/// Where a run takes each node.
pub(crate) enum Target<'a> {
    /// The desired state: the same rules and merged probes on every node.
    Desired {
        rules: &'a [DesiredRule],
        merged: &'a BTreeMap<String, EndPoint>,
    },
    /// What each node held before a refused sync (node URL → records): the last
    /// state LoxiLB accepted.
    Before(&'a BTreeMap<String, NodeBefore>),
}

impl Target<'_> {
    /// The rules and the probes (among `keys`) node `url` should hold.
    fn for_node(
        &self,
        url: &str,
        keys: &BTreeSet<String>,
    ) -> (Vec<DesiredRule>, BTreeMap<String, EndPoint>) {
        match self {
            Target::Desired { rules, merged } => (
                rules.to_vec(),
                merged
                    .iter()
                    .filter(|(k, _)| keys.contains(*k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            Target::Before(before) => before.get(url).map_or_else(Default::default, |b| {
                let rules = b
                    .rules
                    .values()
                    .map(|entry| DesiredRule {
                        listener_id: String::new(),
                        pool_id: String::new(),
                        entry: entry.clone(),
                    })
                    .collect();
                (rules, b.probes.clone())
            }),
        }
    }
}

/// One node's records for a load balancer as a run found them: its applied rules
/// and its applied probes among the run's keys.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeBefore {
    rules: BTreeMap<String, LoadbalanceEntry>,
    probes: BTreeMap<String, EndPoint>,
}

/// What the caller of [`Applier::reconcile_lb`] decides about a sync's outcome, and
/// does while the load balancer is still held.
#[async_trait::async_trait]
pub trait OnRefusal: Send + Sync {
    /// Whether `outcome` is a refusal to undo: every node is then returned to what
    /// it held before the sync.
    fn refused(&self, outcome: &SyncOutcome) -> bool;
    /// Take the refused change out of desired state; runs after the nodes are
    /// restored and before the load balancer is released, so no other sync of it
    /// (a catch-up, a drift repair) sees the refused change in between.
    async fn undo_desired(&self) -> Result<(), SyncError>;
}

/// A sync that never undoes anything (the catch-up and drift repairs).
struct KeepAll;

#[async_trait::async_trait]
impl OnRefusal for KeepAll {
    fn refused(&self, _: &SyncOutcome) -> bool {
        false
    }
    async fn undo_desired(&self) -> Result<(), SyncError> {
        Ok(())
    }
}

/// A sync's outcome and, when it was refused, the outcome of returning every node
/// to what it held before.
#[derive(Debug)]
pub struct Reconciled {
    pub outcome: SyncOutcome,
    pub restored: Option<SyncOutcome>,
}

/// Applies desired state to the LoxiLB nodes; cheap to share behind an `Arc`.
pub struct Applier {
    store: Store,
    /// Probe references and applied records, cached for this term (see `records`).
    records: Records,
    client: LoxilbClient,
    opts: MappingOptions,
    lb_locks: Stripes,
    probe_locks: Stripes,
    leftovers: Leftovers,
}

/// Syncs of some load balancers and writes of some probes held off (see
/// [`Applier::quiesce`]).
pub struct Quiesced<'a> {
    _lbs: Vec<tokio::sync::MutexGuard<'a, ()>>,
    _probes: Vec<tokio::sync::MutexGuard<'a, ()>>,
}

/// Whether probes without references (a removal that failed or was cut short) may
/// exist. Looking for them is a scan of every probe record, so a sync only does it
/// after something went wrong since the last scan that found none; the first sync
/// after start always looks (a crash may have cut a removal short).
struct Leftovers {
    /// Bumped whenever a sync did not finish everywhere.
    marks: AtomicU64,
    /// The `marks` value of the latest scan that found nothing.
    clean_at: AtomicU64,
}

impl Leftovers {
    fn new() -> Leftovers {
        Leftovers {
            marks: AtomicU64::new(1),
            clean_at: AtomicU64::new(0),
        }
    }

    fn may_exist(&self) {
        self.marks.fetch_add(1, Ordering::SeqCst);
    }

    async fn find(&self, store: &Store) -> Result<BTreeSet<String>, SyncError> {
        let mark = self.marks.load(Ordering::SeqCst);
        if self.clean_at.load(Ordering::SeqCst) >= mark {
            return Ok(BTreeSet::new());
        }
        let keys = store.unreferenced_probe_keys().await?;
        if keys.is_empty() {
            // A failure marked after `mark` was read keeps the next sync looking.
            self.clean_at.fetch_max(mark, Ordering::SeqCst);
        }
        Ok(keys)
    }
}

impl Applier {
    pub fn new(store: Store, client: LoxilbClient, opts: MappingOptions) -> Applier {
        Applier {
            records: Records::new(store.clone()),
            store,
            client,
            opts,
            lb_locks: Stripes::new(256),
            probe_locks: Stripes::new(256),
            leftovers: Leftovers::new(),
        }
    }

    pub fn client(&self) -> &LoxilbClient {
        &self.client
    }

    /// Hold off syncs of load balancers `lbs` and writes of probes `probe_keys` while
    /// the guard lives, so a reader sees our records and LoxiLB agree as of one moment
    /// (the reconciler confirming drift). Locks are taken as a sync takes them (load
    /// balancers first, then probes, each set in ascending stripe order), so this
    /// cannot deadlock with a sync.
    pub async fn quiesce(
        &self,
        lbs: &BTreeSet<String>,
        probe_keys: &BTreeSet<String>,
    ) -> Quiesced<'_> {
        let lbs = self.lb_locks.lock_all(lbs.iter()).await;
        let probes = self.probe_locks.lock_all(probe_keys.iter()).await;
        Quiesced {
            _lbs: lbs,
            _probes: probes,
        }
    }

    /// Failover: forget what was applied for `lb`, so its next sync applies it all.
    pub async fn forget_applied_lb(&self, lb: &str) -> Result<(), crate::store::StoreError> {
        self.records.forget_applied_lb(lb).await
    }

    /// Forget the record of rule `name` on node `url` (the reconciler saw it differ).
    /// Written outside the sync locks, so the whole cache goes (a sync reading the
    /// same record meanwhile cannot keep the old value).
    pub async fn forget_applied_rule(
        &self,
        url: &str,
        name: &str,
    ) -> Result<(), crate::store::StoreError> {
        let written = self.store.delete_applied_rule(url, name).await;
        self.records.changed_elsewhere();
        written
    }

    /// Forget the record of probe `key` on node `url` (as [`Self::forget_applied_rule`]).
    pub async fn forget_applied_probe(
        &self,
        url: &str,
        key: &str,
    ) -> Result<(), crate::store::StoreError> {
        let written = self.store.delete_applied_probe(url, key).await;
        self.records.changed_elsewhere();
        written
    }

    /// Applied records or probe references were changed without the applier: read
    /// them from the store again.
    pub fn records_changed_elsewhere(&self) {
        self.records.changed_elsewhere();
    }

    /// Every node, in configuration order.
    pub fn all_nodes(&self) -> Vec<NodeId> {
        self.client.node_ids().collect()
    }

    /// The node with configured URL `url`.
    pub fn node_by_url(&self, url: &str) -> Option<NodeId> {
        self.client
            .node_ids()
            .find(|n| self.client.node_url(*n) == url)
    }

    /// Make `nodes` hold load balancer `lb`'s desired state (nothing, when it has been
    /// deleted). Store failures abort the sync; LoxiLB failures are reported per node.
    /// With `touch_probes` false only rules are synced (member events when
    /// `enable_coordination` is off leave probes alone).
    pub async fn sync_lb(
        &self,
        lb: &str,
        nodes: &[NodeId],
        touch_probes: bool,
    ) -> Result<SyncOutcome, SyncError> {
        Ok(self
            .reconcile_lb(lb, nodes, touch_probes, &KeepAll)
            .await?
            .outcome)
    }

    /// [`Self::sync_lb`], and when `on_refusal` says the outcome is a refusal, return
    /// every node to what our records say it held before (the last state LoxiLB
    /// accepted, never an earlier desired state that may never have applied) and let
    /// the caller undo its desired change, all under the load balancer's lock.
    pub async fn reconcile_lb(
        &self,
        lb: &str,
        nodes: &[NodeId],
        touch_probes: bool,
        on_refusal: &dyn OnRefusal,
    ) -> Result<Reconciled, SyncError> {
        let _lb_guard = self.lb_locks.lock_one(lb).await;
        // Read once, under the load balancer lock: only syncs of `lb` write its
        // probe references and applied rules, so these stay current.
        let inputs = self.records.sync_inputs(lb).await?;
        let desired = self.desired(inputs.tree.as_ref())?;
        if !touch_probes {
            let keys = BTreeSet::new();
            let run = Run {
                lb,
                target: Target::Desired {
                    rules: &desired.rules,
                    merged: &BTreeMap::new(),
                },
                applied: &inputs.applied_rules,
                keys: &keys,
                referred: &[],
            };
            let (outcome, before) = self.run_nodes(nodes, &run).await;
            return self
                .settle(&run, nodes, outcome, before, None, on_refusal)
                .await;
        }
        let result = self
            .sync_with_probes(lb, nodes, &desired, &inputs, on_refusal)
            .await;
        // A sync that did not finish everywhere may leave probes whose references are
        // gone (their removal failed, or a node was not part of it): let the next
        // sync look for them.
        let everywhere = nodes.len() >= self.client.node_ids().count();
        if !everywhere || !result.as_ref().is_ok_and(|r| r.outcome.all_ok()) {
            self.leftovers.may_exist();
        }
        result
    }

    async fn sync_with_probes(
        &self,
        lb: &str,
        nodes: &[NodeId],
        desired: &DesiredLb,
        inputs: &SyncInputs,
        on_refusal: &dyn OnRefusal,
    ) -> Result<Reconciled, SyncError> {
        let mut rows = desired
            .probes
            .iter()
            .map(|w| ref_row(lb, w))
            .collect::<Result<Vec<_>, _>>()?;
        rows.sort_by(|a, b| (&a.probe_key, &a.member_id).cmp(&(&b.probe_key, &b.member_id)));
        let old = &inputs.refs;
        // Probes whose removal failed earlier (their references are already gone, so
        // no load balancer names them any more): finish removing them on these nodes.
        let leftovers = self.leftovers.find(&self.store).await?;
        let mut keys: BTreeSet<String> = old.iter().map(|r| r.probe_key.clone()).collect();
        keys.extend(rows.iter().map(|r| r.probe_key.clone()));
        keys.extend(leftovers);
        let _probe_guards = self.probe_locks.lock_all(keys.iter()).await;
        if *old != rows {
            self.records.replace_probe_refs(lb, old, &rows).await?;
        }
        let merged = if keys.is_empty() {
            BTreeMap::new()
        } else {
            self.merged_probes(&keys).await?
        };
        let run = Run {
            lb,
            target: Target::Desired {
                rules: &desired.rules,
                merged: &merged,
            },
            applied: &inputs.applied_rules,
            keys: &keys,
            referred: old,
        };
        let (outcome, before) = self.run_nodes(nodes, &run).await;
        let refs = (old.as_slice(), rows.as_slice());
        self.settle(&run, nodes, outcome, before, Some(refs), on_refusal)
            .await
    }

    /// After a sync's calls: keep the outcome, or (a refusal) put back the old probe
    /// references, return every node to what it held and undo the desired change.
    async fn settle(
        &self,
        run: &Run<'_>,
        nodes: &[NodeId],
        outcome: SyncOutcome,
        before: BTreeMap<String, NodeBefore>,
        refs: Option<(&[ProbeRefRow], &[ProbeRefRow])>,
        on_refusal: &dyn OnRefusal,
    ) -> Result<Reconciled, SyncError> {
        if !on_refusal.refused(&outcome) {
            return Ok(Reconciled {
                outcome,
                restored: None,
            });
        }
        if let Some((old, new)) = refs {
            if old != new {
                self.records.replace_probe_refs(run.lb, new, old).await?;
            }
        }
        // Keys only the leftover scan brought in are not put back: nobody wants them.
        let before = match refs {
            Some((old, new)) => without_leftovers(before, old, new),
            None => before,
        };
        // What the sync changed is in our records now: plan back from them. A probe
        // POST whose answer was lost is unrecorded; the new references name it, so
        // it is deleted unless the node held it before.
        let current = self.records.sync_inputs(run.lb).await?;
        let restore = Run {
            lb: run.lb,
            target: Target::Before(&before),
            applied: &current.applied_rules,
            keys: run.keys,
            referred: refs.map_or(&[][..], |(_, new)| new),
        };
        let known: Vec<NodeId> = nodes
            .iter()
            .copied()
            .filter(|n| before.contains_key(self.client.node_url(*n)))
            .collect();
        let (restored, _) = self.run_nodes(&known, &restore).await;
        on_refusal.undo_desired().await?;
        Ok(Reconciled {
            outcome,
            restored: Some(restored),
        })
    }

    /// Run `run` on every node at once; also returns what each node held before
    /// (nodes whose records could not be read are missing).
    async fn run_nodes(
        &self,
        nodes: &[NodeId],
        run: &Run<'_>,
    ) -> (SyncOutcome, BTreeMap<String, NodeBefore>) {
        let calls = nodes.iter().map(|n| {
            let n = *n;
            async move {
                let url = self.client.node_url(n).to_string();
                let applied = run.applied.get(&url).map_or(&[][..], Vec::as_slice);
                let (before, r) = node::apply(self, n, run, applied).await;
                (url, before, r)
            }
        });
        let mut before = BTreeMap::new();
        let mut outcome = SyncOutcome::default();
        for (url, b, r) in futures::future::join_all(calls).await {
            if let Some(b) = b {
                before.insert(url.clone(), b);
            }
            outcome.nodes.push((url, r));
        }
        (outcome, before)
    }

    /// The load balancer's desired LoxiLB objects; empty once it is deleted.
    fn desired(&self, tree: Option<&LbBodies>) -> Result<DesiredLb, SyncError> {
        let Some(b) = tree else {
            return Ok(DesiredLb {
                rules: Vec::new(),
                probes: Vec::new(),
            });
        };
        let tree = LbTree::from_bodies(
            &b.loadbalancer,
            &b.listeners,
            &b.pools,
            &b.members,
            &b.monitors,
        )
        .map_err(|e| SyncError::Desired(e.to_string()))?;
        Ok(mapping::desired_for_lb(&tree, &self.opts))
    }

    /// The probe body for each key, merged over every load balancer's references.
    async fn merged_probes(
        &self,
        keys: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, EndPoint>, SyncError> {
        let refs = self.records.probe_refs_for(keys).await?;
        Ok(merge_refs(refs))
    }
}

/// `before` without the probes neither `old` nor `new` references name.
fn without_leftovers(
    mut before: BTreeMap<String, NodeBefore>,
    old: &[ProbeRefRow],
    new: &[ProbeRefRow],
) -> BTreeMap<String, NodeBefore> {
    let named: BTreeSet<&str> = old
        .iter()
        .chain(new)
        .map(|r| r.probe_key.as_str())
        .collect();
    for b in before.values_mut() {
        b.probes.retain(|k, _| named.contains(k.as_str()));
    }
    before
}

/// A body (enough to delete the probe) for each key of `refs` that is neither in
/// `desired` nor in `applied`; only those references are parsed, usually none.
fn unrecorded_referred(
    refs: &[ProbeRefRow],
    desired: &BTreeMap<String, EndPoint>,
    applied: &BTreeMap<String, EndPoint>,
) -> BTreeMap<String, EndPoint> {
    let mut bodies = BTreeMap::new();
    for r in refs {
        let k = &r.probe_key;
        if bodies.contains_key(k) || desired.contains_key(k) || applied.contains_key(k) {
            continue;
        }
        if let Ok(stored) = serde_json::from_str::<StoredWant>(&r.options) {
            bodies.insert(r.probe_key.clone(), stored.endpoint);
        }
    }
    bodies
}

/// Merge references into one probe body per key (see `mapping::merge_probe`).
fn merge_refs(refs: Vec<ProbeRefRow>) -> BTreeMap<String, EndPoint> {
    let mut by_key: BTreeMap<String, Vec<ProbeWant>> = BTreeMap::new();
    for r in refs {
        let Ok(stored) = serde_json::from_str::<StoredWant>(&r.options) else {
            warn!(probe_key = %r.probe_key, member_id = %r.member_id, "unreadable probe reference ignored");
            continue;
        };
        by_key
            .entry(r.probe_key.clone())
            .or_default()
            .push(ProbeWant {
                key: ProbeKey {
                    host: stored.host,
                    proto: stored.proto,
                    port: stored.port,
                },
                endpoint: stored.endpoint,
                healthmonitor_id: r.healthmonitor_id,
                member_id: r.member_id,
                pool_id: r.pool_id,
            });
    }
    let mut merged = BTreeMap::new();
    for (key, wants) in by_key {
        let refs: Vec<&ProbeWant> = wants.iter().collect();
        if let Some((endpoint, losers)) = mapping::merge_probe(&refs) {
            if !losers.is_empty() {
                warn!(
                    probe_key = %key,
                    overridden_monitors = ?losers,
                    "health monitors disagree on a shared LoxiLB probe; the most frequent one's options are used"
                );
            }
            merged.insert(key, endpoint);
        }
    }
    merged
}

fn ref_row(lb: &str, w: &ProbeWant) -> Result<ProbeRefRow, SyncError> {
    let stored = StoredWant {
        host: w.key.host.clone(),
        proto: w.key.proto.clone(),
        port: w.key.port,
        endpoint: w.endpoint.clone(),
    };
    Ok(ProbeRefRow {
        probe_key: w.key.name(),
        member_id: w.member_id.clone(),
        pool_id: w.pool_id.clone(),
        healthmonitor_id: w.healthmonitor_id.clone(),
        loadbalancer_id: lb.to_string(),
        options: serde_json::to_string(&stored).map_err(|e| SyncError::Desired(e.to_string()))?,
    })
}

#[cfg(test)]
mod tests;
