//! Desired state: the Octavia objects as the provider was last told, stored as
//! octavia-lib dicts. Drivers update it first, then make LoxiLB match it; the
//! reconciler compares it with what LoxiLB reports.

use crate::store::api;

use serde_json::Value;
use std::collections::BTreeSet;

use super::stmt::Stmt;
use super::SqliteStore;
use crate::store::now_ms;
use crate::store::{StoreError, Table};

pub(crate) fn parse(body: &str) -> Result<Value, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt(format!("desired object: {e}")))
}

impl api::DesiredState for SqliteStore {
    /// Insert or replace one object. `parent` is required for every table but
    /// load balancers.
    async fn put_object(
        &self,
        table: Table,
        id: &str,
        parent: Option<&str>,
        body: &Value,
    ) -> Result<(), StoreError> {
        let text = body.to_string();
        let now = now_ms();
        let stmt = match (table.parent_column(), parent) {
            (None, _) => Stmt::new(format!(
                "INSERT INTO {t} (id, body, updated_at) VALUES (?, ?, ?) ON CONFLICT (id) \
                 DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                t = table.name()
            ))
            .arg(id)
            .arg(text)
            .arg(now),
            (Some(col), Some(parent)) => Stmt::new(format!(
                "INSERT INTO {t} (id, {col}, body, updated_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (id) DO UPDATE SET {col} = excluded.{col}, \
                 body = excluded.body, updated_at = excluded.updated_at",
                t = table.name()
            ))
            .arg(id)
            .arg(parent)
            .arg(text)
            .arg(now),
            (Some(col), None) => {
                return Err(StoreError::Corrupt(format!(
                    "{} {id} stored without its {col}",
                    table.name()
                )))
            }
        };
        self.writes.write(vec![stmt]).await
    }

    /// One object, or None when we never stored it (or it was deleted).
    async fn get_object(&self, table: Table, id: &str) -> Result<Option<Value>, StoreError> {
        let sql = format!("SELECT body FROM {} WHERE id = ?", table.name());
        let mut found = self.read_strings(&sql, id).await?;
        found.pop().map(|b| parse(&b)).transpose()
    }

    /// Children of `parent` in `table` (listeners/pools of a load balancer, members/
    /// monitors of a pool), ordered by id so results are deterministic.
    async fn children(&self, table: Table, parent: &str) -> Result<Vec<Value>, StoreError> {
        let Some(col) = table.parent_column() else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT body FROM {} WHERE {col} = ? ORDER BY id",
            table.name()
        );
        let rows = self.read_strings(&sql, parent).await?;
        rows.iter().map(|b| parse(b)).collect()
    }

    /// Ids of the children of `parent` in `table`, ordered.
    async fn child_ids(&self, table: Table, parent: &str) -> Result<Vec<String>, StoreError> {
        let Some(col) = table.parent_column() else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT id FROM {} WHERE {col} = ? ORDER BY id",
            table.name()
        );
        self.read_strings(&sql, parent).await
    }

    /// The parent id stored with object `id`.
    async fn parent_of(&self, table: Table, id: &str) -> Result<Option<String>, StoreError> {
        let Some(col) = table.parent_column() else {
            return Ok(None);
        };
        let sql = format!("SELECT {col} FROM {} WHERE id = ?", table.name());
        Ok(self.read_strings(&sql, id).await?.pop())
    }

    /// One object and its parent column, in one read.
    async fn get_with_parent(
        &self,
        table: Table,
        id: &str,
    ) -> Result<Option<(Value, Option<String>)>, StoreError> {
        let Some(col) = table.parent_column() else {
            return Ok(self.get_object(table, id).await?.map(|b| (b, None)));
        };
        let sql = format!("SELECT body, {col} FROM {} WHERE id = ?", table.name());
        match self.read_pairs(&sql, id).await?.pop() {
            Some((body, parent)) => Ok(Some((parse(&body)?, Some(parent)))),
            None => Ok(None),
        }
    }

    /// All objects of a table, ordered by id.
    async fn all_objects(&self, table: Table) -> Result<Vec<Value>, StoreError> {
        let sql = format!("SELECT body FROM {} ORDER BY id", table.name());
        let rows: Vec<(String,)> = sqlx::query_as(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(|(b,)| parse(b)).collect()
    }

    /// Remove one object; true when it existed.
    async fn delete_object(&self, table: Table, id: &str) -> Result<bool, StoreError> {
        let _w = self.write_lock.lock().await;
        let sql = format!("DELETE FROM {} WHERE id = ?", table.name());
        let res = sqlx::query(&sql).bind(id).execute(&self.pool).await?;
        Ok(res.rows_affected() > 0)
    }

    /// Remove a load balancer and everything below it in one transaction.
    /// Returns the ids removed per table so every child can be reported DELETED.
    async fn delete_loadbalancer_tree(
        &self,
        lb_id: &str,
    ) -> Result<Vec<(Table, String)>, StoreError> {
        let _w = self.write_lock.lock().await;
        let mut tx = super::begin_write(&self.pool).await?;
        let mut removed = Vec::new();
        let pools: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM pools WHERE loadbalancer_id = ?")
                .bind(lb_id)
                .fetch_all(&mut *tx)
                .await?;
        for (pool,) in &pools {
            for table in [Table::Members, Table::HealthMonitors] {
                let sql = format!(
                    "SELECT id FROM {} WHERE pool_id = ? ORDER BY id",
                    table.name()
                );
                let ids: Vec<(String,)> =
                    sqlx::query_as(&sql).bind(pool).fetch_all(&mut *tx).await?;
                removed.extend(ids.into_iter().map(|(id,)| (table, id)));
                let sql = format!("DELETE FROM {} WHERE pool_id = ?", table.name());
                sqlx::query(&sql).bind(pool).execute(&mut *tx).await?;
            }
        }
        for table in [Table::Pools, Table::Listeners] {
            let sql = format!(
                "SELECT id FROM {} WHERE loadbalancer_id = ? ORDER BY id",
                table.name()
            );
            let ids: Vec<(String,)> = sqlx::query_as(&sql).bind(lb_id).fetch_all(&mut *tx).await?;
            removed.extend(ids.into_iter().map(|(id,)| (table, id)));
            let sql = format!("DELETE FROM {} WHERE loadbalancer_id = ?", table.name());
            sqlx::query(&sql).bind(lb_id).execute(&mut *tx).await?;
        }
        let res = sqlx::query("DELETE FROM loadbalancers WHERE id = ?")
            .bind(lb_id)
            .execute(&mut *tx)
            .await?;
        if res.rows_affected() > 0 {
            removed.push((Table::Loadbalancers, lb_id.to_string()));
        }
        tx.commit().await?;
        Ok(removed)
    }

    /// Ids of every desired load balancer and every listener.
    async fn desired_ids(&self) -> Result<(BTreeSet<String>, BTreeSet<String>), StoreError> {
        let lbs: Vec<(String,)> = sqlx::query_as("SELECT id FROM loadbalancers")
            .fetch_all(&self.pool)
            .await?;
        let listeners: Vec<(String,)> = sqlx::query_as("SELECT id FROM listeners")
            .fetch_all(&self.pool)
            .await?;
        Ok((
            lbs.into_iter().map(|(k,)| k).collect(),
            listeners.into_iter().map(|(k,)| k).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use crate::store::*;
    use serde_json::json;

    #[test]
    fn update_merges_only_changed_fields() {
        let base = json!({"member_id": "m", "weight": 1, "address": "10.0.0.1"});
        let merged = merge_update(&base, &json!({"member_id": "m", "weight": 0}));
        assert_eq!(
            merged,
            json!({"member_id": "m", "weight": 0, "address": "10.0.0.1"})
        );
    }
}
