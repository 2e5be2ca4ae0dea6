//! What an applier sync and the ingress checks read, on MySQL (see the SQLite
//! `sync_read` and `ingress_reads`): a load balancer's tree in one statement, its
//! probe references and applied rules, owners and flavors.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::super::{rows_bodies, LbBodies, SyncInputs, TreeRow};
use super::applied::ref_row;
use super::rows::{int, opt_text, text, texts};
use super::{MysqlStore, StoreError};
use crate::store::sqlite::desired::parse;
use crate::store::sqlite::sync_read::{tree_found, tree_row, TreeRows};

/// The tree of one load balancer (bound five times), `kind` telling rows apart.
/// Unordered: MariaDB streams a `UNION ALL` as it is, but an `ORDER BY` over it
/// materialises it in a temporary table, on disk because `body` is TEXT: a file
/// created and removed per sync, which made ext4's inode allocation a tenth of the
/// server's CPU in B5. The rows are sorted here instead.
pub(super) const TREE: &str = "\
    SELECT 0 AS kind, id, id AS parent, body FROM loadbalancers WHERE id = ? \
    UNION ALL SELECT 1, id, loadbalancer_id, body FROM listeners WHERE loadbalancer_id = ? \
    UNION ALL SELECT 2, id, loadbalancer_id, body FROM pools WHERE loadbalancer_id = ? \
    UNION ALL SELECT 3, m.id, m.pool_id, m.body FROM members m \
      JOIN pools p ON m.pool_id = p.id WHERE p.loadbalancer_id = ? \
    UNION ALL SELECT 4, h.id, h.pool_id, h.body FROM health_monitors h \
      JOIN pools p ON h.pool_id = p.id WHERE p.loadbalancer_id = ?";

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
    ) AS t ORDER BY lb, kind, oid";

impl MysqlStore {
    /// Call `f` with every stored load balancer's id and tree, in id order; rows are
    /// streamed so only one load balancer's bodies are in memory at a time.
    pub async fn for_each_lb_tree(
        &self,
        mut f: impl FnMut(&str, LbBodies),
    ) -> Result<(), StoreError> {
        use futures::TryStreamExt;
        let mut rows = sqlx::query(ALL_TREES).fetch(&self.pool);
        let mut current: Option<(String, TreeRows)> = None;
        while let Some(row) = rows.try_next().await? {
            let lb = text(&row, 0)?;
            if current.as_ref().is_some_and(|(id, _)| *id != lb) {
                if let Some((id, tree)) = current.take() {
                    if let Some(b) = tree.finish() {
                        f(&id, b);
                    }
                }
            }
            let (_, tree) = current.get_or_insert_with(|| (lb, TreeRows::default()));
            tree.push(int(&row, 1)?, &text(&row, 2)?)?;
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
    pub async fn lb_bodies(&self, lb: &str) -> Result<Option<LbBodies>, StoreError> {
        rows_bodies(self.lb_tree(lb).await?)
    }

    /// The rows of [`MysqlStore::lb_bodies`] with their ids and parents.
    pub async fn lb_tree(&self, lb: &str) -> Result<Option<Vec<TreeRow>>, StoreError> {
        let mut q = sqlx::query(TREE);
        for _ in 0..5 {
            q = q.bind(lb);
        }
        let rows = q.fetch_all(&self.pool).await?;
        let mut sorted = rows
            .iter()
            .map(|r| Ok((int(r, 0)?, text(r, 1)?, text(r, 2)?, text(r, 3)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        sorted.sort_unstable_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let rows = sorted
            .into_iter()
            .map(|(kind, id, parent, body)| tree_row(kind, id, parent, body))
            .collect::<Vec<_>>();
        Ok(tree_found(rows))
    }

    /// The desired tree, probe references and applied rules of `lb`.
    pub async fn sync_inputs(&self, lb: &str) -> Result<SyncInputs, StoreError> {
        let tree = self.lb_bodies(lb).await?;
        let rows = sqlx::query(
            "SELECT probe_key, member_id, pool_id, healthmonitor_id, loadbalancer_id, options \
             FROM probe_refs WHERE loadbalancer_id = ? ORDER BY probe_key, member_id",
        )
        .bind(lb)
        .fetch_all(&self.pool)
        .await?;
        let refs = rows
            .iter()
            .map(|r| ref_row(r, 0))
            .collect::<Result<_, _>>()?;
        let rows = sqlx::query(
            "SELECT node, name, body FROM applied_rules WHERE loadbalancer_id = ? \
             ORDER BY node, name",
        )
        .bind(lb)
        .fetch_all(&self.pool)
        .await?;
        let mut applied_rules: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for r in &rows {
            applied_rules
                .entry(text(r, 0)?)
                .or_default()
                .push((text(r, 1)?, text(r, 2)?));
        }
        Ok(SyncInputs {
            tree,
            refs,
            applied_rules,
        })
    }

    /// The load balancer a listener (`"listener"`) or pool (`"pool"`) was accepted under.
    pub async fn owner_of(&self, kind: &str, id: &str) -> Result<Option<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT loadbalancer_id FROM object_owners WHERE object_kind = ? AND object_id = ?",
        )
        .bind(kind)
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(texts(&rows)?.pop())
    }

    /// A load balancer's flavor metadata: as accepted with its create, else from the
    /// desired state; `None` when the load balancer is unknown or has no flavor.
    pub async fn lb_flavor(&self, lb_id: &str) -> Result<Option<Map<String, Value>>, StoreError> {
        // One round trip for both places (the ingress asks on every member event).
        let row = sqlx::query(
            "SELECT (SELECT flavor FROM lb_flavors WHERE loadbalancer_id = ?), \
             (SELECT body FROM loadbalancers WHERE id = ?)",
        )
        .bind(lb_id)
        .bind(lb_id)
        .fetch_one(&self.pool)
        .await?;
        flavor_of(opt_text(&row, 0)?, opt_text(&row, 1)?)
    }

    /// See [`crate::store::api::Journal::pool_owner_flavor`]: one statement.
    pub async fn pool_owner_flavor(
        &self,
        pool_id: &str,
    ) -> Result<Option<(String, Option<Map<String, Value>>)>, StoreError> {
        let row = sqlx::query(
            "SELECT o.loadbalancer_id, f.flavor, l.body FROM object_owners o \
             LEFT JOIN lb_flavors f ON f.loadbalancer_id = o.loadbalancer_id \
             LEFT JOIN loadbalancers l ON l.id = o.loadbalancer_id \
             WHERE o.object_kind = 'pool' AND o.object_id = ?",
        )
        .bind(pool_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let lb = text(&row, 0)?;
        let flavor = flavor_of(opt_text(&row, 1)?, opt_text(&row, 2)?)?;
        Ok(Some((lb, flavor)))
    }
}

/// A load balancer's flavor: as noted at acceptance, else from its desired body.
fn flavor_of(
    noted: Option<String>,
    lb_body: Option<String>,
) -> Result<Option<Map<String, Value>>, StoreError> {
    let body = match (noted, lb_body) {
        (Some(flavor), _) => parse(&flavor)?,
        (None, Some(lb)) => parse(&lb)?.get("flavor").cloned().unwrap_or(Value::Null),
        (None, None) => Value::Null,
    };
    Ok(match body {
        Value::Object(map) => Some(map),
        _ => None,
    })
}
