//! The catch-up backlog with its dead letters, and the look-ups reconciliation and
//! the start-up check need, on MySQL (see the SQLite `applied` and `recovery`).

use std::collections::BTreeSet;

use super::super::{now_ms, BacklogEntry, DeadLetter};
use super::rows::{int, opt_int, text, texts};
use super::{MysqlStore, StoreError};

impl MysqlStore {
    /// Record that `node` missed load balancer `lb`'s latest change. A new miss of a
    /// dead-lettered pair starts a fresh retry cycle.
    pub async fn mark_backlog(&self, node: &str, lb: &str, reason: &str) -> Result<(), StoreError> {
        let now = now_ms();
        // `dead_at` is assigned last: MySQL evaluates the list left to right on the
        // updated row, and the other assignments read the old dead_at.
        let guard = self.guard()?;
        let sql = format!(
            "INSERT INTO node_backlog (node, loadbalancer_id, reason, attempts, since, \
             next_attempt_at) SELECT ?, ?, ?, 0, ?, ? {} ON DUPLICATE KEY UPDATE \
             reason = VALUES(reason), \
             attempts = CASE WHEN dead_at IS NULL THEN attempts ELSE 0 END, \
             since = CASE WHEN dead_at IS NULL THEN since ELSE VALUES(since) END, \
             next_attempt_at = CASE WHEN dead_at IS NULL THEN next_attempt_at \
                 ELSE VALUES(next_attempt_at) END, \
             dead_at = NULL",
            super::Guard::from_clause(&guard)
        );
        let q = sqlx::query(&sql)
            .bind(node)
            .bind(lb)
            .bind(reason)
            .bind(now)
            .bind(now);
        self.guarded(&guard, q).await
    }

    /// A failed catch-up attempt: try again at `next_attempt_at` (ms since the epoch).
    pub async fn defer_backlog(
        &self,
        node: &str,
        lb: &str,
        reason: &str,
        next_attempt_at: i64,
    ) -> Result<(), StoreError> {
        let guard = self.guard()?;
        let sql = format!(
            "UPDATE node_backlog SET attempts = attempts + 1, reason = ?, next_attempt_at = ? \
             WHERE node = ? AND loadbalancer_id = ? AND {}",
            super::Guard::condition(&guard)
        );
        let q = sqlx::query(&sql)
            .bind(reason)
            .bind(next_attempt_at)
            .bind(node)
            .bind(lb);
        self.guarded(&guard, q).await
    }

    pub async fn clear_backlog(&self, node: &str, lb: &str) -> Result<(), StoreError> {
        let guard = self.guard()?;
        let sql = format!(
            "DELETE FROM node_backlog WHERE node = ? AND loadbalancer_id = ? AND {}",
            super::Guard::condition(&guard)
        );
        let q = sqlx::query(&sql).bind(node).bind(lb);
        self.guarded(&guard, q).await
    }

    /// Live (not dead-lettered) backlog entries due now, oldest first.
    pub async fn due_backlog(&self, limit: i64) -> Result<Vec<BacklogEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT node, loadbalancer_id, reason, attempts, since FROM node_backlog \
             WHERE dead_at IS NULL AND next_attempt_at <= ? ORDER BY since LIMIT ?",
        )
        .bind(now_ms())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BacklogEntry {
                    node: text(r, 0)?,
                    loadbalancer_id: text(r, 1)?,
                    reason: text(r, 2)?,
                    attempts: int(r, 3)?,
                    since: int(r, 4)?,
                })
            })
            .collect()
    }

    pub async fn backlog_len(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM node_backlog")
            .fetch_one(&self.pool)
            .await?;
        int(&row, 0)
    }

    /// Stop retrying (node, lb): keep the row as a dead letter with `reason`.
    pub async fn dead_letter_backlog(
        &self,
        node: &str,
        lb: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let guard = self.guard()?;
        let sql = format!(
            "UPDATE node_backlog SET dead_at = ?, reason = ?, attempts = attempts + 1 \
             WHERE node = ? AND loadbalancer_id = ? AND {}",
            super::Guard::condition(&guard)
        );
        let q = sqlx::query(&sql)
            .bind(now_ms())
            .bind(reason)
            .bind(node)
            .bind(lb);
        self.guarded(&guard, q).await
    }

    /// Every dead letter, oldest first.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        let rows = sqlx::query(
            "SELECT node, loadbalancer_id, reason, attempts, since, dead_at FROM node_backlog \
             WHERE dead_at IS NOT NULL ORDER BY dead_at, node, loadbalancer_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeadLetter {
                    node: text(r, 0)?,
                    loadbalancer_id: text(r, 1)?,
                    reason: text(r, 2)?,
                    attempts: int(r, 3)?,
                    since: int(r, 4)?,
                    dead_at: int(r, 5)?,
                })
            })
            .collect()
    }

    /// Every probe key some desired member still refers to.
    pub async fn referenced_probe_keys(&self) -> Result<BTreeSet<String>, StoreError> {
        self.key_set("SELECT DISTINCT probe_key FROM probe_refs", None)
            .await
    }

    /// Probe keys we applied on some node that no reference needs any more.
    pub async fn unreferenced_probe_keys(&self) -> Result<BTreeSet<String>, StoreError> {
        self.key_set(
            "SELECT DISTINCT probe_key FROM probes \
             WHERE probe_key NOT IN (SELECT probe_key FROM probe_refs)",
            None,
        )
        .await
    }

    /// Load balancers that refer to probe `key`.
    pub async fn lbs_of_probe_key(&self, key: &str) -> Result<BTreeSet<String>, StoreError> {
        self.key_set(
            "SELECT DISTINCT loadbalancer_id FROM probe_refs \
             WHERE probe_key = ? AND loadbalancer_id <> ''",
            Some(key),
        )
        .await
    }

    /// Ids of every desired load balancer and every listener.
    pub async fn desired_ids(&self) -> Result<(BTreeSet<String>, BTreeSet<String>), StoreError> {
        Ok((
            self.key_set("SELECT id FROM loadbalancers", None).await?,
            self.key_set("SELECT id FROM listeners", None).await?,
        ))
    }

    /// Load balancers with unfinished events, and the highest event id so far.
    pub async fn lbs_in_flight(&self) -> Result<(BTreeSet<String>, i64), StoreError> {
        let keys = self
            .key_set(
                "SELECT DISTINCT ordering_key FROM events WHERE state IN ('queued', 'applying')",
                None,
            )
            .await?;
        let row = sqlx::query("SELECT MAX(id) FROM events")
            .fetch_one(&self.pool)
            .await?;
        let lbs = keys
            .into_iter()
            .filter_map(|k| k.strip_prefix("lb:").map(str::to_string))
            .collect();
        Ok((lbs, opt_int(&row, 0)?.unwrap_or(0)))
    }

    /// Whether an event for load balancer `lb` was accepted after event `after_id`.
    pub async fn lb_has_events_after(&self, lb: &str, after_id: i64) -> Result<bool, StoreError> {
        let row =
            sqlx::query("SELECT EXISTS (SELECT 1 FROM events WHERE ordering_key = ? AND id > ?)")
                .bind(format!("lb:{lb}"))
                .bind(after_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(int(&row, 0)? > 0)
    }

    /// The first column of `sql` (bound to `param` when given), as a set.
    async fn key_set(
        &self,
        sql: &str,
        param: Option<&str>,
    ) -> Result<BTreeSet<String>, StoreError> {
        let mut q = sqlx::query(sql);
        if let Some(p) = param {
            q = q.bind(p);
        }
        let rows = q.fetch_all(&self.pool).await?;
        Ok(texts(&rows)?.into_iter().collect())
    }
}
