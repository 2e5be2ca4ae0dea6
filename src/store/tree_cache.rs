//! A write-through copy of load balancers' desired trees, for the leader's term.
//!
//! Why: every applier sync read its load balancer's whole desired tree back from
//! the database (and every driver update read the object it merges into), although
//! the leader's own drivers had written all of it: on SQLite a fifth of a sync's
//! reads, on MySQL a network round trip and a five-way `UNION` per event. Only the
//! leader's drivers (and its recovery) write desired state, and they do so through
//! this handle, so what they wrote is what the database holds.
//!
//! Exactly consistent, or not used:
//! - A copy belongs to one leadership term (the lease epoch; a single SQLite
//!   instance has one term for its life). Another term, or none (a follower, a
//!   closed fence), drops everything: the other leader may have written.
//! - A tree is copied from a read of the database (a "fill") and then follows every
//!   write through this handle. A fill that overlapped a write of any object of its
//!   tree (or of the load balancer itself) is not kept: the read may predate it.
//! - Writes to one tree that overlap each other drop the tree (their order in the
//!   database is unknown). A write that fails, or is dropped before its outcome is
//!   known, turns the copy off for the rest of the term: the database may still
//!   apply it later (a statement already sent), and nothing here would see it.
//! - A new pool (or a pool or load balancer removed) drops its tree instead of
//!   editing it: the tree is a join, and a new pool adopts members stored before it.
//!
//! Bodies are kept as the JSON text written, so a copy parses to exactly what a
//! read would, and memory is bounded by [`BUDGET`] bytes of text (whole trees are
//! dropped beyond it; the holder of 100k members must stay within B4's 64 MB).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use super::api::{bodies_of, LbBodies, Table, TreeRow};
use super::StoreError;

/// Bytes of body text kept at most (the soak's 50 load balancers with 20 members
/// each take about 0.7 MB).
pub(crate) const BUDGET: usize = 2 << 20;

/// Writes remembered for fills in flight; an older fill is not kept.
const LOG_MAX: usize = 4096;

/// One write, as the cache sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op<'a> {
    Put {
        table: Table,
        id: &'a str,
        parent: Option<&'a str>,
    },
    Delete {
        table: Table,
        id: &'a str,
    },
    DeleteTree {
        lb: &'a str,
    },
}

impl Op<'_> {
    /// The ids a fill must not have raced: the object and its parent.
    fn keys(&self) -> Vec<String> {
        match *self {
            Op::Put { id, parent, .. } => {
                let mut k = vec![id.to_string()];
                k.extend(parent.map(str::to_string));
                k
            }
            Op::Delete { id, .. } => vec![id.to_string()],
            Op::DeleteTree { lb } => vec![lb.to_string()],
        }
    }
}

/// One load balancer's tree: id → (stored parent, body text) per table.
#[derive(Debug, Default)]
struct Tree {
    incarnation: u64,
    rows: BTreeMap<(u8, String), (String, String)>,
    bytes: usize,
    writing: u32,
    dirty: bool,
}

fn rank(t: Table) -> u8 {
    match t {
        Table::Loadbalancers => 0,
        Table::Listeners => 1,
        Table::Pools => 2,
        Table::Members => 3,
        Table::HealthMonitors => 4,
    }
}

const TABLES: [Table; 5] = [
    Table::Loadbalancers,
    Table::Listeners,
    Table::Pools,
    Table::Members,
    Table::HealthMonitors,
];

#[derive(Debug, Default)]
struct Inner {
    /// The term the trees belong to (None: caching off).
    term: Option<i64>,
    /// A term in which a write's outcome became unknown: no caching until the next.
    poisoned: Option<i64>,
    trees: HashMap<String, Tree>,
    /// (table, id) → load balancer, for every object of a kept tree.
    owner: HashMap<(Table, String), String>,
    bytes: usize,
    next_incarnation: u64,
    /// Count of finished writes.
    seq: u64,
    fills: usize,
    /// (seq, keys) of writes finished while fills were in flight.
    log: VecDeque<(u64, Vec<String>)>,
    /// Every write finished after this seq is in `log`.
    log_floor: u64,
}

/// The cache; one per store handle, shared by its clones.
#[derive(Debug, Default)]
pub(crate) struct TreeCache {
    inner: Mutex<Inner>,
}

/// A fill in flight: keep its read with [`Fill::finish`].
pub(crate) struct Fill<'a> {
    cache: &'a TreeCache,
    term: i64,
    seq: u64,
    done: bool,
}

/// A write in flight: report its outcome with [`Write::finish`].
pub(crate) struct Write<'a> {
    cache: &'a TreeCache,
    term: Option<i64>,
    /// Trees the write may change, with the incarnation they had at its start.
    touched: Vec<(String, u64)>,
    done: bool,
}

impl TreeCache {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic under the lock may leave a tree half edited: drop everything.
        self.inner.lock().unwrap_or_else(|poisoned| {
            self.inner.clear_poison();
            let mut c = poisoned.into_inner();
            c.clear();
            c.poisoned = c.term;
            c
        })
    }

    /// `lb`'s tree when kept for `term`; None means "read the database".
    pub(crate) fn bodies(
        &self,
        term: Option<i64>,
        lb: &str,
    ) -> Option<Result<Option<LbBodies>, StoreError>> {
        let mut c = self.lock();
        if !c.sync_term(term) {
            return None;
        }
        let tree = c.trees.get(lb)?;
        Some(bodies_of(tree.rows.iter().map(|((r, _), (_, body))| {
            (TABLES[usize::from(*r)], body.as_str())
        })))
    }

    /// The body text of object `id` when its tree is kept for `term`.
    pub(crate) fn object(&self, term: Option<i64>, table: Table, id: &str) -> Option<String> {
        let mut c = self.lock();
        if !c.sync_term(term) {
            return None;
        }
        let lb = c.owner.get(&(table, id.to_string()))?;
        let tree = c.trees.get(lb)?;
        tree.rows
            .get(&(rank(table), id.to_string()))
            .map(|(_, body)| body.clone())
    }

    /// Object `id` of a kept tree: (body text, stored parent; the load balancer's
    /// own id for a load balancer).
    pub(crate) fn object_with_parent(
        &self,
        term: Option<i64>,
        table: Table,
        id: &str,
    ) -> Option<(String, String)> {
        let mut c = self.lock();
        if !c.sync_term(term) {
            return None;
        }
        let lb = c.owner.get(&(table, id.to_string()))?;
        let (parent, body) = c.trees.get(lb)?.rows.get(&(rank(table), id.to_string()))?;
        Some((body.clone(), parent.clone()))
    }

    /// (id, body text) of every `table` row under `parent`, ordered by id, when
    /// the parent's tree is kept: a kept tree holds all of them (the tree is the
    /// join on exactly these parent columns).
    pub(crate) fn children(
        &self,
        term: Option<i64>,
        table: Table,
        parent: &str,
    ) -> Option<Vec<(String, String)>> {
        let mut c = self.lock();
        if !c.sync_term(term) {
            return None;
        }
        let lb = match table {
            Table::Loadbalancers => return None,
            Table::Listeners | Table::Pools => parent,
            Table::Members | Table::HealthMonitors => {
                c.owner.get(&(Table::Pools, parent.to_string()))?
            }
        };
        let tree = c.trees.get(lb)?;
        let r = rank(table);
        Some(
            tree.rows
                .range((r, String::new())..(r + 1, String::new()))
                .filter(|(_, (p, _))| p == parent)
                .map(|((_, id), (_, body))| (id.clone(), body.clone()))
                .collect(),
        )
    }

    /// Start a fill for `term`; None when caching is off.
    pub(crate) fn begin_fill(&self, term: Option<i64>) -> Option<Fill<'_>> {
        let mut c = self.lock();
        if !c.sync_term(term) {
            return None;
        }
        if c.fills == 0 {
            c.log.clear();
            c.log_floor = c.seq;
        }
        c.fills += 1;
        Some(Fill {
            cache: self,
            term: term?,
            seq: c.seq,
            done: false,
        })
    }

    /// Start a write for `term`: marks the kept trees it may change.
    pub(crate) fn begin_write(&self, term: Option<i64>, op: Op<'_>) -> Write<'_> {
        let mut c = self.lock();
        let mut touched = Vec::new();
        if c.sync_term(term) {
            for lb in c.lbs_of(op) {
                if let Some(t) = c.trees.get_mut(&lb) {
                    t.writing += 1;
                    t.dirty |= t.writing > 1;
                    touched.push((lb, t.incarnation));
                }
            }
        }
        Write {
            cache: self,
            term,
            touched,
            done: false,
        }
    }
}

impl Fill<'_> {
    /// Keep `rows`, read from the database for `lb`, unless a write raced them.
    pub(crate) fn finish(mut self, lb: &str, rows: &[TreeRow]) {
        self.done = true;
        let mut c = self.cache.lock();
        c.fills -= 1;
        if c.term != Some(self.term) || c.poisoned == c.term || self.seq < c.log_floor {
            return;
        }
        let raced = c.log.iter().any(|(s, keys)| {
            *s > self.seq
                && keys
                    .iter()
                    .any(|k| k == lb || rows.iter().any(|r| &r.id == k))
        });
        if raced || c.trees.contains_key(lb) {
            return;
        }
        c.insert(lb, rows);
    }
}

impl Drop for Fill<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.cache.lock().fills -= 1;
        }
    }
}

impl Write<'_> {
    /// The write's outcome: `Some(text)` of a put's body, `Some("")` for a
    /// delete, None when it failed (its outcome is unknown).
    pub(crate) fn finish(mut self, op: Op<'_>, ok: Option<&str>) {
        self.done = true;
        let mut c = self.cache.lock();
        c.note_write(op);
        let Some(body) = ok else {
            c.poison(self.term);
            return;
        };
        if c.term != self.term || c.term.is_none() {
            c.clear();
            return;
        }
        let mut valid = Vec::new();
        for (lb, inc) in &self.touched {
            let dirty = match c.trees.get_mut(lb) {
                Some(t) if t.incarnation == *inc => {
                    t.writing -= 1;
                    t.dirty
                }
                _ => continue,
            };
            if dirty {
                c.remove(lb);
            } else {
                valid.push(lb.clone());
            }
        }
        c.apply(op, body, &valid);
    }
}

impl Drop for Write<'_> {
    fn drop(&mut self) {
        if !self.done {
            let mut c = self.cache.lock();
            c.seq += 1;
            c.poison(self.term);
        }
    }
}

impl Inner {
    /// Follow the caller's term; whether caching is on for it.
    fn sync_term(&mut self, term: Option<i64>) -> bool {
        if self.term != term {
            self.clear();
            self.term = term;
        }
        term.is_some() && self.poisoned != term
    }

    fn clear(&mut self) {
        self.trees.clear();
        self.owner.clear();
        self.bytes = 0;
    }

    /// No caching for the rest of `term` (a write's outcome is unknown).
    fn poison(&mut self, term: Option<i64>) {
        self.clear();
        let term = term.or(self.term);
        if self.poisoned != term {
            // Once per term: syncs read every tree from the database from now on.
            tracing::warn!(
                term = ?term,
                "a desired-state write's outcome is unknown; the desired-tree copy is off until the next leadership term (or restart)"
            );
        }
        self.poisoned = term;
        // Fills in flight may have read before that write lands: none is kept.
        self.log_floor = self.seq + 1;
    }

    fn note_write(&mut self, op: Op<'_>) {
        self.seq += 1;
        if self.fills > 0 {
            self.log.push_back((self.seq, op.keys()));
            if self.log.len() > LOG_MAX {
                if let Some((s, _)) = self.log.pop_front() {
                    self.log_floor = s;
                }
            }
        }
    }

    /// The kept trees `op` may change.
    fn lbs_of(&self, op: Op<'_>) -> Vec<String> {
        let mut lbs = Vec::new();
        let mut add = |lb: Option<&String>| {
            if let Some(lb) = lb {
                if !lbs.contains(lb) {
                    lbs.push(lb.clone());
                }
            }
        };
        let owner = |t: Table, id: &str| self.owner.get(&(t, id.to_string()));
        match op {
            Op::Put { table, id, parent } => {
                add(owner(table, id));
                if let Some(p) = parent {
                    match table {
                        Table::Members | Table::HealthMonitors => add(owner(Table::Pools, p)),
                        _ => add(owner(Table::Loadbalancers, p)),
                    }
                }
            }
            Op::Delete { table, id } => add(owner(table, id)),
            Op::DeleteTree { lb } => add(owner(Table::Loadbalancers, lb)),
        }
        lbs
    }

    /// Edit the kept trees after a successful write; `valid` are those that were
    /// kept through the whole write, any other it touches is dropped.
    fn apply(&mut self, op: Op<'_>, body: &str, valid: &[String]) {
        let now = self.lbs_of(op);
        for lb in now.iter().filter(|lb| !valid.contains(lb)) {
            self.remove(lb);
        }
        match op {
            Op::Put {
                table,
                id,
                parent: Some(parent),
            } if matches!(
                table,
                Table::Members | Table::HealthMonitors | Table::Listeners
            ) =>
            {
                self.unlink(table, id);
                let parent_table = match table {
                    Table::Listeners => Table::Loadbalancers,
                    _ => Table::Pools,
                };
                if let Some(lb) = self.owner.get(&(parent_table, parent.to_string())).cloned() {
                    self.link(&lb, table, id, parent, body);
                }
            }
            Op::Put { table, id, parent }
                if matches!(table, Table::Pools | Table::Loadbalancers) =>
            {
                // An update of a kept pool or load balancer edits its body; a new pool
                // (it may adopt stored members) drops the tree it joins.
                match self.owner.get(&(table, id.to_string())).cloned() {
                    Some(lb) if table == Table::Loadbalancers || parent == Some(lb.as_str()) => {
                        let parent = parent.unwrap_or(id).to_string();
                        self.link(&lb, table, id, &parent, body);
                    }
                    _ => {
                        for lb in &now {
                            self.remove(lb);
                        }
                    }
                }
            }
            Op::Delete { table, id }
                if matches!(
                    table,
                    Table::Members | Table::HealthMonitors | Table::Listeners
                ) =>
            {
                self.unlink(table, id)
            }
            _ => {
                for lb in &now {
                    self.remove(lb);
                }
            }
        }
        self.trim(None);
    }

    /// Keep a filled tree.
    fn insert(&mut self, lb: &str, rows: &[TreeRow]) {
        self.next_incarnation += 1;
        let mut tree = Tree {
            incarnation: self.next_incarnation,
            ..Tree::default()
        };
        for r in rows {
            tree.bytes += r.body.len();
            tree.rows.insert(
                (rank(r.table), r.id.clone()),
                (r.parent.clone(), r.body.clone()),
            );
            self.owner.insert((r.table, r.id.clone()), lb.to_string());
        }
        self.bytes += tree.bytes;
        self.trees.insert(lb.to_string(), tree);
        self.trim(Some(lb));
    }

    /// Put one object into kept tree `lb`.
    fn link(&mut self, lb: &str, table: Table, id: &str, parent: &str, body: &str) {
        let Some(tree) = self.trees.get_mut(lb) else {
            return;
        };
        let old = tree.rows.insert(
            (rank(table), id.to_string()),
            (parent.to_string(), body.to_string()),
        );
        let old_len = old.map_or(0, |(_, b)| b.len());
        tree.bytes = tree.bytes + body.len() - old_len;
        self.bytes = self.bytes + body.len() - old_len;
        self.owner.insert((table, id.to_string()), lb.to_string());
    }

    /// Take one object out of whichever kept tree holds it.
    fn unlink(&mut self, table: Table, id: &str) {
        let key = (table, id.to_string());
        let Some(lb) = self.owner.remove(&key) else {
            return;
        };
        if let Some(tree) = self.trees.get_mut(&lb) {
            if let Some((_, body)) = tree.rows.remove(&(rank(table), key.1)) {
                tree.bytes -= body.len();
                self.bytes -= body.len();
            }
        }
    }

    /// Drop kept tree `lb`.
    fn remove(&mut self, lb: &str) {
        if let Some(tree) = self.trees.remove(lb) {
            self.bytes -= tree.bytes;
            for (r, id) in tree.rows.into_keys() {
                self.owner.remove(&(TABLES[usize::from(r)], id));
            }
        }
    }

    /// Drop trees (other than `keep`, unless it alone is too big) beyond [`BUDGET`].
    fn trim(&mut self, keep: Option<&str>) {
        while self.bytes > BUDGET {
            let victim = self
                .trees
                .keys()
                .find(|lb| Some(lb.as_str()) != keep)
                .or_else(|| self.trees.keys().next())
                .cloned();
            match victim {
                Some(lb) => self.remove(&lb),
                None => break,
            }
        }
    }
}

#[cfg(test)]
#[path = "tree_cache_tests.rs"]
mod tests;
