//! Journal retention: finished events are pruned after `[database] retention_days`
//! or beyond `retention_max_events`, and the file gives the space back.
//!
//! Why it matters: every accepted event is a journal row (about 350 bytes with its
//! index entries), so a daemon taking 20 events/s grows its database by ~600 MB a
//! day if nothing is ever deleted. Only `done` events are pruned: queued and
//! applying ones are work still to do, and failed ones wait for an operator to retry
//! or clear them (`retry`, `clear-event`).
//!
//! Pruning deletes in small batches, each its own short transaction under the
//! store's write lock, so the hot path (which takes that lock per group commit)
//! waits at most one batch. Freed pages go back to the file system through SQLite's
//! incremental vacuum (`auto_vacuum = INCREMENTAL`, set when the store opens).

use crate::store::api::{self, *};

use std::time::Duration;

use super::SqliteStore;
use crate::store::{now_ms, StoreError};

/// Pages given back per incremental-vacuum step (4 KiB each: 4 MiB).
const VACUUM_PAGES: u64 = 1024;

impl SqliteStore {
    /// Finished events, and how many of them finished before `cutoff`.
    async fn count_done(&self, cutoff: i64) -> Result<(u64, u64), StoreError> {
        let (done, aged): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), SUM(CASE WHEN updated_at < ? THEN 1 ELSE 0 END) \
             FROM events WHERE state = 'done'",
        )
        .bind(cutoff)
        .fetch_one(&self.pool)
        .await?;
        Ok((done.unsigned_abs(), aged.unwrap_or(0).unsigned_abs()))
    }

    async fn delete_batch(&self, sql: &str, cutoff: i64, limit: i64) -> Result<u64, StoreError> {
        let _w = self.write_lock.lock().await;
        let res = sqlx::query(sql)
            .bind(cutoff)
            .bind(limit)
            .execute(&self.pool)
            .await?;
        Ok(res.rows_affected())
    }

    /// Hand free pages back to the file system, a step at a time.
    async fn reclaim_space(&self, pause: Duration) -> Result<u64, StoreError> {
        let mut freed = 0u64;
        loop {
            let (free,): (i64,) = sqlx::query_as("PRAGMA freelist_count")
                .fetch_one(&self.pool)
                .await?;
            if free <= 0 {
                return Ok(freed);
            }
            let step = free.unsigned_abs().min(VACUUM_PAGES);
            {
                let _w = self.write_lock.lock().await;
                // A pragma takes no bound parameters; `step` is a number we computed.
                sqlx::query(&format!("PRAGMA incremental_vacuum({step})"))
                    .execute(&self.pool)
                    .await?;
            }
            freed += step;
            tokio::time::sleep(pause).await;
        }
    }
}

impl api::Maintenance for SqliteStore {
    /// One pruning pass: age limit first, then the count limit, `batch` rows per
    /// transaction, with a pause of `pause` between transactions; then give the
    /// freed pages back to the file system.
    async fn prune_events(
        &self,
        retention: &Retention,
        batch: u64,
        pause: Duration,
    ) -> Result<Pruned, StoreError> {
        let batch = i64::try_from(batch.max(1)).unwrap_or(i64::MAX);
        let now = now_ms();
        let (done, aged) = self.count_done(age_cutoff(retention, now)).await?;
        let plan = plan(retention, now, done, aged);
        let mut deleted = 0u64;
        // Age: the partial index on finished events' `updated_at` finds them directly.
        loop {
            let n = self
                .delete_batch(
                    "DELETE FROM events WHERE id IN (SELECT id FROM events \
                     WHERE state = 'done' AND updated_at < ? LIMIT ?)",
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
        // Count: the oldest finished events (lowest ids) beyond the limit.
        let mut excess = plan.excess;
        while excess > 0 {
            let take = batch.min(i64::try_from(excess).unwrap_or(i64::MAX));
            let n = self
                .delete_batch(
                    "DELETE FROM events WHERE id IN (SELECT id FROM events \
                     WHERE state = 'done' AND updated_at >= ? ORDER BY id LIMIT ?)",
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
        let pages_freed = if deleted > 0 {
            self.reclaim_space(pause).await?
        } else {
            0
        };
        Ok(Pruned {
            events: deleted,
            pages_freed,
        })
    }

    /// Remove a failed event from the journal (operator `clear-event`): it will not
    /// be applied. Returns false when the event does not exist or is not failed.
    async fn clear_failed(&self, id: i64) -> Result<bool, StoreError> {
        let _w = self.write_lock.lock().await;
        let mut tx = super::begin_write(&self.pool).await?;
        let res = sqlx::query("DELETE FROM events WHERE id = ? AND state = 'failed'")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if res.rows_affected() == 1 {
            // Its pending member-set changes no longer count against the pool.
            sqlx::query("DELETE FROM member_changes WHERE event_id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(res.rows_affected() == 1)
    }

    /// Bytes of the database file in use (pages in use times the page size).
    async fn file_bytes(&self) -> Result<u64, StoreError> {
        let (count, free) = self.file_pages().await?;
        let (size,): (i64,) = sqlx::query_as("PRAGMA page_size")
            .fetch_one(&self.pool)
            .await?;
        Ok(count.saturating_sub(free) * size.unsigned_abs())
    }

    /// The database's pages: all, and free.
    async fn file_pages(&self) -> Result<(u64, u64), StoreError> {
        let (count,): (i64,) = sqlx::query_as("PRAGMA page_count")
            .fetch_one(&self.pool)
            .await?;
        let (free,): (i64,) = sqlx::query_as("PRAGMA freelist_count")
            .fetch_one(&self.pool)
            .await?;
        Ok((count.unsigned_abs(), free.unsigned_abs()))
    }

    /// Cheap liveness query used by `/readyz`.
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Copy the WAL into the database file and empty it, then close the pool and the
    /// idle read connections. (The writers' connections close when the last handle
    /// goes; with the WAL already emptied, what stays on disk is the database file.)
    async fn close(&self) {
        {
            let _w = self.write_lock.lock().await;
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&self.pool)
                .await
            {
                tracing::warn!(error = %e, "cannot checkpoint the database on close");
            }
        }
        self.readers.clear();
        self.pool.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::*;
    use crate::store::{test_store, EventState, KeyHint};
    use crate::test_support::ok;

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn plan_applies_the_age_limit_then_the_count_limit() {
        let r = Retention {
            max_age: DAY,
            max_events: 100,
        };
        let now = 10 * 86_400_000;
        // 150 finished, 30 of them too old: 30 by age, then 20 beyond the count.
        let p = plan(&r, now, 150, 30);
        assert_eq!(p.finished_before_ms, 9 * 86_400_000);
        assert_eq!(p.excess, 20);
        // Under both limits: nothing.
        assert_eq!(plan(&r, now, 100, 0).excess, 0);
        // Everything too old: the count limit has nothing left to remove.
        assert_eq!(plan(&r, now, 500, 500).excess, 0);
        // A retention longer than the epoch does not underflow.
        let forever = Retention {
            max_age: Duration::from_secs(u64::MAX),
            max_events: 1,
        };
        assert!(plan(&forever, now, 3, 0).finished_before_ms < 0);
    }

    async fn accept(store: &Store, n: usize) -> Vec<i64> {
        let mut ids = Vec::new();
        for i in 0..n {
            let args = format!("{{\"i\": {i}}}");
            let member = format!("m{i}");
            let a = ok(store
                .accept_event(
                    "member_update",
                    &args,
                    ("member", &member),
                    &KeyHint::Loadbalancer("x".into()),
                    None,
                )
                .await);
            ids.push(a.id);
        }
        ids
    }

    #[tokio::test]
    async fn pruned_space_goes_back_to_the_file_system() {
        let (store, _dir) = test_store().await;
        let mut all = Vec::new();
        for _ in 0..4 {
            let ids = accept(&store, 500).await;
            let done: Vec<_> = ids.iter().map(|id| (*id, EventState::Done, None)).collect();
            ok(store.finish_events(&done, &[]).await);
            all.extend(ids);
        }
        let (before, _) = ok(store.file_pages().await);
        let none = Retention {
            max_age: Duration::ZERO,
            max_events: 1,
        };
        tokio::time::sleep(Duration::from_millis(5)).await;
        let p = ok(store.prune_events(&none, 500, Duration::ZERO).await);
        assert_eq!(p.events, all.len() as u64);
        assert!(p.pages_freed > 0, "{p:?}");
        let (after, free) = ok(store.file_pages().await);
        assert_eq!(free, 0, "every free page was handed back");
        assert!(after < before, "file shrank: {before} -> {after} pages");
    }
}
