//! The per-node catch-up backlog and its dead letters, on SQLite.

use crate::store::api;

use super::SqliteStore;
use crate::store::now_ms;
use crate::store::{BacklogEntry, DeadLetter, StoreError};
use sqlx::Row;

impl api::NodeBacklog for SqliteStore {
    /// Record that `node` missed load balancer `lb`'s latest change. A new miss of a
    /// dead-lettered pair starts a fresh retry cycle: it is a new change.
    async fn mark_backlog(&self, node: &str, lb: &str, reason: &str) -> Result<(), StoreError> {
        let _w = self.write_lock.lock().await;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO node_backlog (node, loadbalancer_id, reason, attempts, since, next_attempt_at) \
             VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (node, loadbalancer_id) DO UPDATE SET \
             reason = excluded.reason, \
             attempts = CASE WHEN node_backlog.dead_at IS NULL THEN node_backlog.attempts ELSE 0 END, \
             since = CASE WHEN node_backlog.dead_at IS NULL THEN node_backlog.since ELSE excluded.since END, \
             next_attempt_at = CASE WHEN node_backlog.dead_at IS NULL THEN node_backlog.next_attempt_at \
             ELSE excluded.next_attempt_at END, dead_at = NULL",
        )
        .bind(node)
        .bind(lb)
        .bind(reason)
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A failed catch-up attempt: try again at `next_attempt_at` (ms since the epoch).
    async fn defer_backlog(
        &self,
        node: &str,
        lb: &str,
        reason: &str,
        next_attempt_at: i64,
    ) -> Result<(), StoreError> {
        let _w = self.write_lock.lock().await;
        sqlx::query(
            "UPDATE node_backlog SET attempts = attempts + 1, reason = ?, next_attempt_at = ? \
             WHERE node = ? AND loadbalancer_id = ?",
        )
        .bind(reason)
        .bind(next_attempt_at)
        .bind(node)
        .bind(lb)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn clear_backlog(&self, node: &str, lb: &str) -> Result<(), StoreError> {
        let _w = self.write_lock.lock().await;
        sqlx::query("DELETE FROM node_backlog WHERE node = ? AND loadbalancer_id = ?")
            .bind(node)
            .bind(lb)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Live (not dead-lettered) backlog entries due now, oldest first.
    async fn due_backlog(&self, limit: i64) -> Result<Vec<BacklogEntry>, StoreError> {
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
                    node: r.try_get("node")?,
                    loadbalancer_id: r.try_get("loadbalancer_id")?,
                    reason: r.try_get("reason")?,
                    attempts: r.try_get("attempts")?,
                    since: r.try_get("since")?,
                })
            })
            .collect()
    }

    async fn backlog_len(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM node_backlog")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Stop retrying (node, lb): keep the row as a dead letter with `reason`.
    async fn dead_letter_backlog(
        &self,
        node: &str,
        lb: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let _w = self.write_lock.lock().await;
        sqlx::query(
            "UPDATE node_backlog SET dead_at = ?, reason = ?, attempts = attempts + 1 \
             WHERE node = ? AND loadbalancer_id = ?",
        )
        .bind(now_ms())
        .bind(reason)
        .bind(node)
        .bind(lb)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every dead letter, oldest first.
    async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        let rows = sqlx::query(
            "SELECT node, loadbalancer_id, reason, attempts, since, dead_at FROM node_backlog \
             WHERE dead_at IS NOT NULL ORDER BY dead_at, node, loadbalancer_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DeadLetter {
                    node: r.try_get("node")?,
                    loadbalancer_id: r.try_get("loadbalancer_id")?,
                    reason: r.try_get("reason")?,
                    attempts: r.try_get("attempts")?,
                    since: r.try_get("since")?,
                    dead_at: r.try_get("dead_at")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
impl SqliteStore {
    /// Tests: every backlog entry as old and as due as it can be (a retry budget
    /// spent without waiting for it).
    pub(crate) async fn age_backlog_for_tests(&self) -> Result<(), StoreError> {
        let _w = self.write_lock.lock().await;
        sqlx::query("UPDATE node_backlog SET since = 0, next_attempt_at = 0")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
