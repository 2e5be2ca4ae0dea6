//! The applier's own records (probe references, applied rules, applied probes), kept
//! in memory behind the store for one leadership term.
//!
//! Why: under a steady event stream every sync read its load balancer's references
//! and applied rules, every reference of its probe keys and each node's applied
//! probes back from the store, although the applier itself wrote all of them (about
//! a sixth of the daemon's CPU in the soak benchmark, and a network round trip each
//! on MySQL). Only the applier writes these records, so what it wrote is what the
//! store holds: entries are filled on first use, every write goes to the store
//! first and then here, and a write whose outcome is unknown (an error) drops
//! everything. The few writers outside the applier (failover forgetting a load
//! balancer, the reconciler's repairs) go through [`Records`] too, or call
//! [`Records::changed_elsewhere`].
//!
//! Consistency with concurrent syncs: references and applied probes are read and
//! written under the probe-key locks, applied rules under the load-balancer lock,
//! so a fill and a write of the same entry never overlap. A fill that overlaps a
//! `changed_elsewhere` (which takes no lock) is discarded: every fill notes the
//! generation before reading and is kept only if it has not moved.
//!
//! The applier is built per leadership term (`app::leader`), and so is this cache:
//! a new leader starts empty and reads everything once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use crate::store::{AppliedProbe, ProbeRefRow, Store, StoreError, SyncInputs};

/// Rules applied for one load balancer: node URL → (name, body), ordered by name.
type LbRules = BTreeMap<String, Vec<(String, String)>>;

#[derive(Default)]
struct Cached {
    /// Bumped by every drop of the whole cache.
    generation: u64,
    /// Load balancer → its references, ordered by key and member.
    lb_refs: HashMap<String, Vec<ProbeRefRow>>,
    /// Load balancer → the rules applied for it.
    lb_rules: HashMap<String, LbRules>,
    /// Probe key → every reference to it (any load balancer), ordered by member.
    key_refs: HashMap<String, Vec<ProbeRefRow>>,
    /// Node URL → probe key → applied body (None: known not applied).
    probes: HashMap<String, HashMap<String, Option<String>>>,
}

/// The store's applier records with a write-through cache (see the module doc).
pub(crate) struct Records {
    store: Store,
    cached: Mutex<Cached>,
}

impl Records {
    pub(crate) fn new(store: Store) -> Records {
        Records {
            store,
            cached: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Cached> {
        // A panic while holding the lock cannot leave a half-made entry visible that
        // the store does not hold (each update is one map operation), so a poisoned
        // lock is still usable; drop everything anyway to be safe.
        self.cached.lock().unwrap_or_else(|poisoned| {
            self.cached.clear_poison();
            let mut c = poisoned.into_inner();
            c.drop_all();
            c
        })
    }

    /// Something outside the applier changed applied records or references: forget
    /// everything (the next syncs read from the store again).
    pub(crate) fn changed_elsewhere(&self) {
        self.lock().drop_all();
    }

    /// A sync's inputs: the tree from the store always (desired state is not cached),
    /// references and applied rules from the cache when present.
    pub(crate) async fn sync_inputs(&self, lb: &str) -> Result<SyncInputs, StoreError> {
        let (generation, hit) = {
            let c = self.lock();
            let hit = match (c.lb_refs.get(lb), c.lb_rules.get(lb)) {
                (Some(refs), Some(rules)) => Some((refs.clone(), rules.clone())),
                _ => None,
            };
            (c.generation, hit)
        };
        if let Some((refs, applied_rules)) = hit {
            let tree = self.store.lb_bodies(lb).await?;
            return Ok(SyncInputs {
                tree,
                refs,
                applied_rules,
            });
        }
        let inputs = self.store.sync_inputs(lb).await?;
        let mut c = self.lock();
        if c.generation == generation {
            c.lb_refs.insert(lb.to_string(), inputs.refs.clone());
            c.lb_rules
                .insert(lb.to_string(), inputs.applied_rules.clone());
        }
        Ok(inputs)
    }

    /// Every reference to any of `keys`, ordered by key and member.
    pub(crate) async fn probe_refs_for(
        &self,
        keys: &BTreeSet<String>,
    ) -> Result<Vec<ProbeRefRow>, StoreError> {
        let (generation, missing) = {
            let c = self.lock();
            let missing: BTreeSet<String> = keys
                .iter()
                .filter(|k| !c.key_refs.contains_key(*k))
                .cloned()
                .collect();
            (c.generation, missing)
        };
        let read = if missing.is_empty() {
            Vec::new()
        } else {
            self.store.probe_refs_for(&missing).await?
        };
        let mut c = self.lock();
        let mut fresh: HashMap<String, Vec<ProbeRefRow>> =
            missing.iter().map(|k| (k.clone(), Vec::new())).collect();
        for r in read {
            fresh.entry(r.probe_key.clone()).or_default().push(r);
        }
        let mut out = Vec::new();
        for k in keys {
            match fresh.get(k) {
                Some(rows) => out.extend(rows.iter().cloned()),
                None => out.extend(c.key_refs.get(k).into_iter().flatten().cloned()),
            }
        }
        if c.generation == generation {
            c.key_refs.extend(fresh);
        }
        Ok(out)
    }

    /// Replace `lb`'s references (`old` are the ones it had) with `rows`.
    pub(crate) async fn replace_probe_refs(
        &self,
        lb: &str,
        old: &[ProbeRefRow],
        rows: &[ProbeRefRow],
    ) -> Result<(), StoreError> {
        let written = self.store.replace_probe_refs(lb, rows).await;
        let mut c = self.lock();
        if written.is_err() {
            c.drop_all();
            return written;
        }
        c.lb_refs.insert(lb.to_string(), rows.to_vec());
        let keys: BTreeSet<&String> = old.iter().chain(rows).map(|r| &r.probe_key).collect();
        for key in keys {
            let Some(cached) = c.key_refs.get_mut(key) else {
                continue;
            };
            let new: Vec<&ProbeRefRow> = rows.iter().filter(|r| &r.probe_key == key).collect();
            // As the store does: the load balancer's rows go, then each new row
            // replaces any row of the same (key, member).
            cached.retain(|r| {
                r.loadbalancer_id != lb && !new.iter().any(|n| n.member_id == r.member_id)
            });
            cached.extend(new.into_iter().cloned());
            cached.sort_by(|a, b| a.member_id.cmp(&b.member_id));
        }
        Ok(())
    }

    /// Probes applied on `node` among `keys`: (key, body).
    pub(crate) async fn applied_probes(
        &self,
        node: &str,
        keys: &BTreeSet<String>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let (generation, missing) = {
            let c = self.lock();
            let known = c.probes.get(node);
            let missing: BTreeSet<String> = keys
                .iter()
                .filter(|k| !known.is_some_and(|p| p.contains_key(*k)))
                .cloned()
                .collect();
            (c.generation, missing)
        };
        let read: HashMap<String, String> = if missing.is_empty() {
            HashMap::new()
        } else {
            self.store
                .applied_probes(node, &missing)
                .await?
                .into_iter()
                .collect()
        };
        let mut c = self.lock();
        let keep = c.generation == generation;
        let known = c.probes.entry(node.to_string()).or_default();
        let mut out = Vec::new();
        for k in keys {
            let body = if missing.contains(k) {
                let body = read.get(k).cloned();
                if keep {
                    known.insert(k.clone(), body.clone());
                }
                body
            } else {
                known.get(k).cloned().flatten()
            };
            if let Some(body) = body {
                out.push((k.clone(), body));
            }
        }
        Ok(out)
    }

    pub(crate) async fn put_applied_probes(
        &self,
        node: &str,
        probes: &[AppliedProbe],
    ) -> Result<(), StoreError> {
        let written = self.store.put_applied_probes(node, probes).await;
        let mut c = self.lock();
        if written.is_err() {
            c.drop_all();
            return written;
        }
        let known = c.probes.entry(node.to_string()).or_default();
        for p in probes {
            known.insert(p.key.clone(), Some(p.options.clone()));
        }
        Ok(())
    }

    pub(crate) async fn delete_applied_probes(
        &self,
        node: &str,
        keys: &[String],
    ) -> Result<(), StoreError> {
        let written = self.store.delete_applied_probes(node, keys).await;
        let mut c = self.lock();
        if written.is_err() {
            c.drop_all();
            return written;
        }
        let known = c.probes.entry(node.to_string()).or_default();
        for k in keys {
            known.insert(k.clone(), None);
        }
        Ok(())
    }

    pub(crate) async fn put_applied_rule(
        &self,
        node: &str,
        name: &str,
        lb: &str,
        body: &str,
    ) -> Result<(), StoreError> {
        let written = self.store.put_applied_rule(node, name, lb, body).await;
        let mut c = self.lock();
        if written.is_err() {
            c.drop_all();
            return written;
        }
        // A record is keyed by (node, name): it leaves any other load balancer.
        c.forget_rule(node, name);
        if let Some(rules) = c.lb_rules.get_mut(lb) {
            let on_node = rules.entry(node.to_string()).or_default();
            on_node.push((name.to_string(), body.to_string()));
            on_node.sort_by(|a, b| a.0.cmp(&b.0));
        }
        Ok(())
    }

    pub(crate) async fn delete_applied_rule(
        &self,
        node: &str,
        name: &str,
    ) -> Result<(), StoreError> {
        let written = self.store.delete_applied_rule(node, name).await;
        let mut c = self.lock();
        if written.is_err() {
            c.drop_all();
            return written;
        }
        c.forget_rule(node, name);
        Ok(())
    }

    /// Failover: forget what was applied for `lb` (see `Store::forget_applied_lb`).
    pub(crate) async fn forget_applied_lb(&self, lb: &str) -> Result<(), StoreError> {
        let written = self.store.forget_applied_lb(lb).await;
        self.changed_elsewhere();
        written
    }
}

impl Cached {
    fn drop_all(&mut self) {
        let generation = self.generation.wrapping_add(1);
        *self = Cached {
            generation,
            ..Cached::default()
        };
    }

    fn forget_rule(&mut self, node: &str, name: &str) {
        for rules in self.lb_rules.values_mut() {
            if let Some(on_node) = rules.get_mut(node) {
                on_node.retain(|(n, _)| n != name);
                if on_node.is_empty() {
                    rules.remove(node);
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
