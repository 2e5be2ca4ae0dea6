//! Queries of the recovery module: dead letters of the catch-up backlog, and the
//! look-ups reconciliation and the start-up check need (which load balancers and
//! probe keys are wanted, which events arrived since start).
//!
//! Kept apart from `applied.rs` so each file stays about one concern.

use std::collections::BTreeSet;

use serde::Serialize;
use sqlx::Row;

use super::{now_ms, Store, StoreError};

/// A (node, load balancer) pair that is no longer retried.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadLetter {
    pub node: String,
    pub loadbalancer_id: String,
    /// The last failure, as logged.
    pub reason: String,
    pub attempts: i64,
    /// When the node first missed the change (ms since the epoch).
    pub since: i64,
    /// When retrying stopped (ms since the epoch).
    pub dead_at: i64,
}

impl Store {
    /// Stop retrying (node, lb): keep the row as a dead letter with `reason`.
    pub async fn dead_letter_backlog(
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

    /// Every probe key some desired member still refers to.
    pub async fn referenced_probe_keys(&self) -> Result<BTreeSet<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as("SELECT DISTINCT probe_key FROM probe_refs")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(|(k,)| k).collect())
    }

    /// Probe keys we applied on some node that no reference needs any more (their
    /// removal failed or was cut short): any sync may finish removing them.
    pub async fn unreferenced_probe_keys(&self) -> Result<BTreeSet<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT probe_key FROM probes \
             WHERE probe_key NOT IN (SELECT probe_key FROM probe_refs)",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(k,)| k).collect())
    }

    /// Load balancers that refer to probe `key`.
    pub async fn lbs_of_probe_key(&self, key: &str) -> Result<BTreeSet<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT loadbalancer_id FROM probe_refs WHERE probe_key = ? AND loadbalancer_id <> ''",
        )
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(k,)| k).collect())
    }

    /// Ids of every desired load balancer and every listener.
    pub async fn desired_ids(&self) -> Result<(BTreeSet<String>, BTreeSet<String>), StoreError> {
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

    /// Load balancers with unfinished events, and the highest event id so far.
    pub async fn lbs_in_flight(&self) -> Result<(BTreeSet<String>, i64), StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT DISTINCT ordering_key FROM events WHERE state IN ('queued', 'applying')",
        )
        .fetch_all(&self.pool)
        .await?;
        let (max,): (Option<i64>,) = sqlx::query_as("SELECT MAX(id) FROM events")
            .fetch_one(&self.pool)
            .await?;
        let lbs = rows
            .into_iter()
            .filter_map(|(k,)| k.strip_prefix("lb:").map(str::to_string))
            .collect();
        Ok((lbs, max.unwrap_or(0)))
    }

    /// Whether an event for load balancer `lb` was accepted after event `after_id`.
    pub async fn lb_has_events_after(&self, lb: &str, after_id: i64) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM events WHERE ordering_key = ? AND id > ?")
            .bind(format!("lb:{lb}"))
            .bind(after_id)
            .fetch_one(&self.pool)
            .await?;
        let n: i64 = row.try_get("n")?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::test_store;

    #[tokio::test]
    async fn dead_letters_leave_the_due_list_and_a_new_miss_revives_them() {
        let (s, _d) = test_store().await;
        s.mark_backlog("n1", "lb", "down").await.unwrap();
        s.mark_backlog("n1", "lb2", "down").await.unwrap();
        s.dead_letter_backlog("n1", "lb", "400 refused")
            .await
            .unwrap();
        let due = s.due_backlog(10).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].loadbalancer_id, "lb2");
        let dead = s.dead_letters().await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(
            (dead[0].node.as_str(), dead[0].loadbalancer_id.as_str()),
            ("n1", "lb")
        );
        assert_eq!(dead[0].reason, "400 refused");
        assert!(dead[0].dead_at >= dead[0].since);

        s.mark_backlog("n1", "lb", "missed again").await.unwrap();
        assert!(s.dead_letters().await.unwrap().is_empty());
        let due = s.due_backlog(10).await.unwrap();
        assert_eq!(due.len(), 2);
        assert!(due.iter().all(|e| e.attempts == 0));
        s.clear_backlog("n1", "lb").await.unwrap();
        assert_eq!(s.due_backlog(10).await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn in_flight_lbs_come_from_unfinished_lb_keys() {
        let (s, _d) = test_store().await;
        let (lbs, max) = s.lbs_in_flight().await.unwrap();
        assert!(lbs.is_empty());
        assert_eq!(max, 0);
        assert!(!s.lb_has_events_after("x", 0).await.unwrap());
    }
}
