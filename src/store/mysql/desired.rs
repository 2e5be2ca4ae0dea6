//! Desired state on MySQL (see the SQLite `desired` for its meaning).

use serde_json::Value;
use sqlx::mysql::MySqlTransaction;

use super::super::{now_ms, Table};
use super::rows::{text, texts};
use super::{retrying, MysqlStore, StoreError};
use crate::store::sqlite::desired::parse;

impl MysqlStore {
    /// Insert or replace one object. `parent` is required for every table but
    /// load balancers.
    pub async fn put_object(
        &self,
        table: Table,
        id: &str,
        parent: Option<&str>,
        body: &Value,
    ) -> Result<(), StoreError> {
        let text = body.to_string();
        let now = now_ms();
        let t = table.name();
        let guard = self.guard()?;
        let from = super::Guard::from_clause(&guard);
        let (sql, parent) = match (table.parent_column(), parent) {
            (None, _) => (
                format!(
                    "INSERT INTO {t} (id, body, updated_at) SELECT ?, ?, ? {from} \
                     ON DUPLICATE KEY UPDATE body = VALUES(body), updated_at = VALUES(updated_at)"
                ),
                None,
            ),
            (Some(col), Some(parent)) => (
                format!(
                    "INSERT INTO {t} (id, {col}, body, updated_at) SELECT ?, ?, ?, ? {from} \
                     ON DUPLICATE KEY UPDATE {col} = VALUES({col}), body = VALUES(body), \
                     updated_at = VALUES(updated_at)"
                ),
                Some(parent),
            ),
            (Some(col), None) => {
                return Err(StoreError::Corrupt(format!(
                    "{t} {id} stored without its {col}"
                )))
            }
        };
        let mut q = sqlx::query(&sql).bind(id);
        if let Some(parent) = parent {
            q = q.bind(parent);
        }
        let q = q.bind(&text).bind(now);
        self.guarded(&guard, q).await
    }

    /// One object, or None when we never stored it (or it was deleted).
    pub async fn get_object(&self, table: Table, id: &str) -> Result<Option<Value>, StoreError> {
        let sql = format!("SELECT body FROM {} WHERE id = ?", table.name());
        let rows = sqlx::query(&sql).bind(id).fetch_all(&self.pool).await?;
        texts(&rows)?.pop().map(|b| parse(&b)).transpose()
    }

    /// Ids of the children of `parent` in `table`, ordered.
    pub async fn child_ids(&self, table: Table, parent: &str) -> Result<Vec<String>, StoreError> {
        let Some(col) = table.parent_column() else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT id FROM {} WHERE {col} = ? ORDER BY id",
            table.name()
        );
        let rows = sqlx::query(&sql).bind(parent).fetch_all(&self.pool).await?;
        texts(&rows)
    }

    /// The parent id stored with object `id`.
    pub async fn parent_of(&self, table: Table, id: &str) -> Result<Option<String>, StoreError> {
        let Some(col) = table.parent_column() else {
            return Ok(None);
        };
        let sql = format!("SELECT {col} FROM {} WHERE id = ?", table.name());
        let rows = sqlx::query(&sql).bind(id).fetch_all(&self.pool).await?;
        Ok(texts(&rows)?.pop())
    }

    /// One object and its parent column, in one read.
    pub async fn get_with_parent(
        &self,
        table: Table,
        id: &str,
    ) -> Result<Option<(Value, Option<String>)>, StoreError> {
        let Some(col) = table.parent_column() else {
            return Ok(self.get_object(table, id).await?.map(|b| (b, None)));
        };
        let sql = format!("SELECT body, {col} FROM {} WHERE id = ?", table.name());
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(r) => Ok(Some((parse(&text(&r, 0)?)?, Some(text(&r, 1)?)))),
            None => Ok(None),
        }
    }

    /// Children of `parent` in `table`, ordered by id so results are deterministic.
    pub async fn children(&self, table: Table, parent: &str) -> Result<Vec<Value>, StoreError> {
        let Some(col) = table.parent_column() else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT body FROM {} WHERE {col} = ? ORDER BY id",
            table.name()
        );
        let rows = sqlx::query(&sql).bind(parent).fetch_all(&self.pool).await?;
        texts(&rows)?.iter().map(|b| parse(b)).collect()
    }

    /// All objects of a table, ordered by id.
    pub async fn all_objects(&self, table: Table) -> Result<Vec<Value>, StoreError> {
        let sql = format!("SELECT body FROM {} ORDER BY id", table.name());
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        texts(&rows)?.iter().map(|b| parse(b)).collect()
    }

    /// Remove one object; true when it existed.
    pub async fn delete_object(&self, table: Table, id: &str) -> Result<bool, StoreError> {
        let guard = self.guard()?;
        let sql = format!(
            "DELETE FROM {} WHERE id = ? AND {}",
            table.name(),
            super::Guard::condition(&guard)
        );
        let q = sqlx::query(&sql).bind(id);
        let res = super::Guard::bind(&guard, q).execute(&self.pool).await?;
        if res.rows_affected() == 0 {
            self.confirm_guard(&guard).await?;
        }
        Ok(res.rows_affected() > 0)
    }

    /// Remove a load balancer and everything below it in one transaction.
    /// Returns the ids removed per table so every child can be reported DELETED.
    pub async fn delete_loadbalancer_tree(
        &self,
        lb_id: &str,
    ) -> Result<Vec<(Table, String)>, StoreError> {
        retrying(|| async {
            let mut tx = self.begin_leader().await?;
            let removed = delete_tree_in(&mut tx, lb_id).await?;
            self.commit_leader(tx).await?;
            Ok(removed)
        })
        .await
    }
}

/// The ids of `table`'s rows whose `col` is `parent` (ordered), then deletes them.
async fn take_children(
    tx: &mut MySqlTransaction<'_>,
    table: Table,
    col: &str,
    parent: &str,
) -> Result<Vec<(Table, String)>, StoreError> {
    let t = table.name();
    let sql = format!("SELECT id FROM {t} WHERE {col} = ? ORDER BY id FOR UPDATE");
    let rows = sqlx::query(&sql).bind(parent).fetch_all(&mut **tx).await?;
    let sql = format!("DELETE FROM {t} WHERE {col} = ?");
    sqlx::query(&sql).bind(parent).execute(&mut **tx).await?;
    Ok(texts(&rows)?.into_iter().map(|id| (table, id)).collect())
}

async fn delete_tree_in(
    tx: &mut MySqlTransaction<'_>,
    lb_id: &str,
) -> Result<Vec<(Table, String)>, StoreError> {
    let mut removed = Vec::new();
    let pools = sqlx::query("SELECT id FROM pools WHERE loadbalancer_id = ? FOR UPDATE")
        .bind(lb_id)
        .fetch_all(&mut **tx)
        .await?;
    for pool in texts(&pools)? {
        for table in [Table::Members, Table::HealthMonitors] {
            removed.extend(take_children(tx, table, "pool_id", &pool).await?);
        }
    }
    for table in [Table::Pools, Table::Listeners] {
        removed.extend(take_children(tx, table, "loadbalancer_id", lb_id).await?);
    }
    let res = sqlx::query("DELETE FROM loadbalancers WHERE id = ?")
        .bind(lb_id)
        .execute(&mut **tx)
        .await?;
    if res.rows_affected() > 0 {
        removed.push((Table::Loadbalancers, lb_id.to_string()));
    }
    Ok(removed)
}
