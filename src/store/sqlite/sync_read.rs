//! What one applier sync reads, with no hand-off to a database thread.
//!
//! Why: every query through sqlx is a hand-off to the connection's worker thread
//! and back (two thread wake-ups), and under a steady event stream those wake-ups,
//! not SQLite, were most of the daemon's CPU. A sync needs the load balancer's
//! desired tree, its probe references and the rules applied for it on each node;
//! the three statements below (`?1` is the load balancer id in each) run on the
//! calling thread (`direct::Readers`). The leading `kind` column tells tree rows
//! apart; the whole-table variant streams every tree through the pool.

use crate::store::api::{self, *};

use std::collections::BTreeMap;

use sqlx::Row;

use super::applied::ref_row;
use super::desired::parse;
use super::{direct, SqliteStore};
use crate::store::StoreError;

const TREE: &str = "\
    SELECT 0 AS kind, id, id AS parent, body FROM loadbalancers WHERE id = ?1 \
    UNION ALL SELECT 1, id, loadbalancer_id, body FROM listeners WHERE loadbalancer_id = ?1 \
    UNION ALL SELECT 2, id, loadbalancer_id, body FROM pools WHERE loadbalancer_id = ?1 \
    UNION ALL SELECT 3, m.id, m.pool_id, m.body FROM members m \
      JOIN pools p ON m.pool_id = p.id WHERE p.loadbalancer_id = ?1 \
    UNION ALL SELECT 4, h.id, h.pool_id, h.body FROM health_monitors h \
      JOIN pools p ON h.pool_id = p.id WHERE p.loadbalancer_id = ?1 \
    ORDER BY kind, id";

const REFS: &str = "\
    SELECT 5 AS kind, probe_key, member_id, pool_id, healthmonitor_id, loadbalancer_id, \
    options FROM probe_refs WHERE loadbalancer_id = ?1 ORDER BY probe_key, member_id";

const RULES: &str = "\
    SELECT 6 AS kind, node, name, body FROM applied_rules WHERE loadbalancer_id = ?1 \
    ORDER BY node, name";

/// Every load balancer's tree, grouped by load balancer and ordered like [`TREE`].
const ALL_TREES: &str = "\
    SELECT lb, kind, body FROM ( \
      SELECT id AS lb, 0 AS kind, id AS oid, body FROM loadbalancers \
      UNION ALL SELECT loadbalancer_id, 1, id, body FROM listeners \
      UNION ALL SELECT loadbalancer_id, 2, id, body FROM pools \
      UNION ALL SELECT p.loadbalancer_id, 3, m.id, m.body FROM members m \
        JOIN pools p ON m.pool_id = p.id \
      UNION ALL SELECT p.loadbalancer_id, 4, h.id, h.body FROM health_monitors h \
        JOIN pools p ON h.pool_id = p.id \
    ) ORDER BY lb, kind, oid";

impl api::SyncReads for SqliteStore {
    /// Call `f` with every stored load balancer's id and tree, in id order.
    ///
    /// Rows are streamed and grouped, so only one load balancer's bodies are in
    /// memory at a time: with 100k members, reading every table at once held
    /// hundreds of MB of parsed JSON for a moment, and the allocator kept it.
    async fn for_each_lb_tree(&self, mut f: impl FnMut(&str, LbBodies)) -> Result<(), StoreError> {
        use futures::TryStreamExt;
        let mut rows = sqlx::query(ALL_TREES).fetch(&self.pool);
        let mut current: Option<(String, TreeRows)> = None;
        while let Some(row) = rows.try_next().await? {
            let lb: String = row.try_get("lb")?;
            if current.as_ref().is_some_and(|(id, _)| *id != lb) {
                if let Some((id, tree)) = current.take() {
                    if let Some(b) = tree.finish() {
                        f(&id, b);
                    }
                }
            }
            let (_, tree) = current.get_or_insert_with(|| (lb, TreeRows::default()));
            tree.push(row.try_get("kind")?, row.try_get("body")?)?;
        }
        if let Some((id, tree)) = current {
            if let Some(b) = tree.finish() {
                f(&id, b);
            }
        }
        Ok(())
    }

    /// Load balancer `lb` and everything below it (each list ordered by id); None
    /// when it is not stored.
    async fn lb_bodies(&self, lb: &str) -> Result<Option<LbBodies>, StoreError> {
        rows_bodies(self.lb_tree(lb).await?)
    }

    async fn lb_tree(&self, lb: &str) -> Result<Option<Vec<TreeRow>>, StoreError> {
        self.readers.with(|c| read_tree(c, lb))
    }

    /// The desired tree, probe references and applied rules of `lb`, read on the
    /// calling thread (see `direct::Readers`) with the statements kept compiled.
    async fn sync_inputs(&self, lb: &str) -> Result<SyncInputs, StoreError> {
        self.readers.with(|c| {
            let tree = rows_bodies(read_tree(c, lb)?)?;
            let refs = direct::query(c, REFS, true, &[&lb], |r| Ok(ref_row(r, 1)?))?;
            let mut applied_rules: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
            let rules = direct::query(c, RULES, true, &[&lb], |r| {
                Ok((
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?;
            for (node, name, body) in rules {
                applied_rules.entry(node).or_default().push((name, body));
            }
            Ok(SyncInputs {
                tree,
                refs,
                applied_rules,
            })
        })
    }
}

/// The [`TREE`] rows of `lb`, assembled.
fn read_tree(c: &rusqlite::Connection, lb: &str) -> Result<Option<Vec<TreeRow>>, StoreError> {
    let rows = direct::query(c, TREE, true, &[&lb], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
        ))
    })?;
    let rows = rows
        .into_iter()
        .map(|(kind, id, parent, body)| tree_row(kind, id, parent, body))
        .collect::<Vec<_>>();
    Ok(tree_found(rows))
}

/// One row of a tree query (`kind` 0-4 as in [`TREE`]); shared with the MySQL store.
pub(crate) fn tree_row(kind: i64, id: String, parent: String, body: String) -> TreeRow {
    let table = match kind {
        0 => Table::Loadbalancers,
        1 => Table::Listeners,
        2 => Table::Pools,
        3 => Table::Members,
        _ => Table::HealthMonitors,
    };
    TreeRow {
        table,
        id,
        parent,
        body,
    }
}

/// `rows` when they hold the load balancer's own row (the first, by the order).
pub(crate) fn tree_found(rows: Vec<TreeRow>) -> Option<Vec<TreeRow>> {
    rows.first()
        .is_some_and(|r| r.table == Table::Loadbalancers)
        .then_some(rows)
}

/// Tree rows (kind, body) assembled into an [`LbBodies`]; shared with the MySQL store.
#[derive(Default)]
pub(crate) struct TreeRows {
    bodies: LbBodies,
    found: bool,
}

impl TreeRows {
    pub(crate) fn push(&mut self, kind: i64, body: &str) -> Result<(), StoreError> {
        let v = parse(body)?;
        let b = &mut self.bodies;
        match kind {
            0 => {
                b.loadbalancer = v;
                self.found = true;
            }
            1 => b.listeners.push(v),
            2 => b.pools.push(v),
            3 => b.members.push(v),
            _ => b.monitors.push(v),
        }
        Ok(())
    }

    pub(crate) fn finish(self) -> Option<LbBodies> {
        self.found.then_some(self.bodies)
    }
}
