//! Journal retention on MySQL (see the SQLite `retention`): the same plan, deleted
//! in batches of short transactions. InnoDB reuses freed pages itself, so nothing
//! is handed back explicitly (`pages_freed` is 0) and "pages" do not apply.

use std::time::Duration;

use super::super::{now_ms, Pruned, Retention};
use super::rows::int;
use super::{retrying, MysqlStore, StoreError};
use crate::store::prune_plan as plan;

impl MysqlStore {
    /// One pruning pass: age limit first, then the count limit, `batch` rows per
    /// statement, with a pause of `pause` between statements.
    pub async fn prune_events(
        &self,
        retention: &Retention,
        batch: u64,
        pause: Duration,
    ) -> Result<Pruned, StoreError> {
        let batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
        let now = now_ms();
        // The age cutoff the plan computes; counting needs it first.
        let cutoff = plan(retention, now, 0, 0).finished_before_ms;
        let (done, aged) = self.count_done(cutoff).await?;
        let plan = plan(retention, now, done, aged);
        let mut deleted = 0u64;
        loop {
            let n = self
                .delete_batch(
                    "DELETE FROM events WHERE state = 'done' AND updated_at < ? \
                     ORDER BY id LIMIT ?",
                    plan.finished_before_ms,
                    batch,
                )
                .await?;
            deleted += n;
            if n < batch.unsigned_abs() {
                break;
            }
            tokio::time::sleep(pause).await;
        }
        let mut excess = plan.excess;
        while excess > 0 {
            let take = batch.min(i64::try_from(excess).unwrap_or(i64::MAX));
            let n = self
                .delete_batch(
                    "DELETE FROM events WHERE state = 'done' AND updated_at >= ? \
                     ORDER BY id LIMIT ?",
                    plan.finished_before_ms,
                    take,
                )
                .await?;
            deleted += n;
            excess = excess.saturating_sub(n);
            if n == 0 {
                break;
            }
            tokio::time::sleep(pause).await;
        }
        if deleted > 0 {
            self.prune_journal_keys().await?;
        }
        Ok(Pruned {
            events: deleted,
            pages_freed: 0,
        })
    }

    /// Finished events, and how many of them finished before `cutoff`.
    async fn count_done(&self, cutoff: i64) -> Result<(u64, u64), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*), CAST(COALESCE(SUM(updated_at < ?), 0) AS SIGNED) \
             FROM events WHERE state = 'done'",
        )
        .bind(cutoff)
        .fetch_one(&self.pool)
        .await?;
        Ok((int(&row, 0)?.unsigned_abs(), int(&row, 1)?.unsigned_abs()))
    }

    async fn delete_batch(&self, sql: &str, cutoff: i64, limit: i64) -> Result<u64, StoreError> {
        let res = sqlx::query(sql)
            .bind(cutoff)
            .bind(limit)
            .execute(&self.pool)
            .await?;
        Ok(res.rows_affected())
    }

    /// Keys whose last event is gone: nothing orders against them any more. A key
    /// being accepted right now holds its row (locked, `last_id` about to change),
    /// and a key deleted here is simply created again by its next acceptance.
    async fn prune_journal_keys(&self) -> Result<(), StoreError> {
        sqlx::query(
            "DELETE k FROM journal_keys k LEFT JOIN events e ON e.id = k.last_id \
             WHERE e.id IS NULL AND k.last_id > 0",
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Remove a failed event from the journal (operator `clear-event`). Returns false
    /// when the event does not exist or is not failed.
    pub async fn clear_failed(&self, id: i64) -> Result<bool, StoreError> {
        retrying(|| async {
            let mut tx = self.begin_leader().await?;
            let res = sqlx::query("DELETE FROM events WHERE id = ? AND state = 'failed'")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            if res.rows_affected() == 1 {
                sqlx::query("DELETE FROM member_changes WHERE event_id = ?")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            self.commit_leader(tx).await?;
            Ok(res.rows_affected() == 1)
        })
        .await
    }

    /// Bytes the database's tables and indexes take (InnoDB's own estimate).
    pub async fn file_bytes(&self) -> Result<u64, StoreError> {
        let row = sqlx::query(
            "SELECT CAST(COALESCE(SUM(data_length + index_length), 0) AS SIGNED) \
             FROM information_schema.tables WHERE table_schema = DATABASE()",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(int(&row, 0)?.unsigned_abs())
    }

    /// SQLite's (pages, free pages); a server database has no such file: (0, 0).
    pub async fn file_pages(&self) -> Result<(u64, u64), StoreError> {
        Ok((0, 0))
    }
}
