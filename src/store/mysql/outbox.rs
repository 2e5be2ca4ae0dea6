//! The status outbox on MySQL (see the SQLite `outbox` for its meaning). A queued
//! status's seq comes from the `outbox_seq` counter row, taken under its lock for
//! the whole transaction: seqs are unique and in commit order with several writers
//! (a delivery that read a row at seq s must never meet another version at s).

use sqlx::mysql::MySqlTransaction;
use sqlx::QueryBuilder;

use super::super::now_ms;
use super::rows::{int, opt_text, text};
use super::{retrying, MysqlStore, StoreError};
use crate::store::{PendingStatus, StatusRecord};

/// Records per statement (and per transaction in `enqueue_statuses`).
const CHUNK: usize = 500;

/// Queue `records` inside `tx`: later records win per object, seqs follow record
/// order. A field the record sets gets the record's seq as its own.
pub(super) async fn enqueue_in(
    tx: &mut MySqlTransaction<'_>,
    records: &[StatusRecord],
    now: i64,
) -> Result<(), StoreError> {
    for part in records.chunks(CHUNK) {
        let n = i64::try_from(part.len()).unwrap_or(i64::MAX);
        // LAST_INSERT_ID(expr) hands the new value back with the UPDATE's result:
        // one round trip instead of an UPDATE and a SELECT.
        let done = sqlx::query(
            "UPDATE counters SET value = LAST_INSERT_ID(value + ?) WHERE name = 'outbox_seq'",
        )
        .bind(n)
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Corrupt(
                "the outbox_seq counter is missing".into(),
            ));
        }
        let last = i64::try_from(done.last_insert_id())
            .map_err(|_| StoreError::Corrupt("outbox seq out of range".into()))?;
        let first = last - n + 1;
        // One statement; MySQL applies its rows in order, so a second record of the
        // same object updates the row the first inserted (latest wins). The SET list
        // reads only VALUES() and each column's own old value: MySQL evaluates the
        // assignments left to right on the updated row.
        let mut q = QueryBuilder::new(
            "INSERT INTO status_outbox (object_kind, object_id, provisioning_status, \
             operating_status, seq, updated_at) ",
        );
        let mut seq = first;
        q.push_values(part, |mut b, r| {
            b.push_bind(r.collection.as_str())
                .push_bind(r.id.as_str())
                .push_bind(r.provisioning_status.as_deref())
                .push_bind(r.operating_status.as_deref())
                .push_bind(seq)
                .push_bind(now);
            seq += 1;
        });
        q.push(
            " ON DUPLICATE KEY UPDATE \
             provisioning_seq = CASE WHEN VALUES(provisioning_status) IS NULL \
                 THEN provisioning_seq ELSE VALUES(seq) END, \
             operating_seq = CASE WHEN VALUES(operating_status) IS NULL \
                 THEN operating_seq ELSE VALUES(seq) END, \
             provisioning_status = COALESCE(VALUES(provisioning_status), provisioning_status), \
             operating_status = COALESCE(VALUES(operating_status), operating_status), \
             seq = VALUES(seq), updated_at = VALUES(updated_at)",
        );
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Acknowledge delivered rows inside `tx` (see `ack_statuses`): rows still at their
/// delivered seq go in one statement; the few that changed during delivery are
/// looked up and lose only the fields that were delivered.
async fn ack_in(tx: &mut MySqlTransaction<'_>, part: &[PendingStatus]) -> Result<(), StoreError> {
    let mut q =
        QueryBuilder::new("DELETE FROM status_outbox WHERE (object_kind, object_id, seq) IN (");
    let mut list = q.separated(", ");
    for p in part {
        list.push("(")
            .push_bind_unseparated(p.record.collection.as_str())
            .push_unseparated(", ")
            .push_bind_unseparated(p.record.id.as_str())
            .push_unseparated(", ")
            .push_bind_unseparated(p.seq)
            .push_unseparated(")");
    }
    q.push(")");
    let res = q.build().execute(&mut **tx).await?;
    if res.rows_affected() == u64::try_from(part.len()).unwrap_or(u64::MAX) {
        return Ok(());
    }
    let mut q = QueryBuilder::new(
        "SELECT object_kind, object_id FROM status_outbox WHERE (object_kind, object_id) IN (",
    );
    let mut list = q.separated(", ");
    for p in part {
        list.push("(")
            .push_bind_unseparated(p.record.collection.as_str())
            .push_unseparated(", ")
            .push_bind_unseparated(p.record.id.as_str())
            .push_unseparated(")");
    }
    q.push(")");
    let changed = q.build().fetch_all(&mut **tx).await?;
    for row in &changed {
        let key = (text(row, 0)?, text(row, 1)?);
        if let Some(p) = part
            .iter()
            .find(|p| (p.record.collection.as_str(), p.record.id.as_str()) == (&key.0, &key.1))
        {
            clear_delivered(tx, p).await?;
        }
    }
    Ok(())
}

/// A row that changed during delivery keeps only what was set after it was read.
async fn clear_delivered(
    tx: &mut MySqlTransaction<'_>,
    p: &PendingStatus,
) -> Result<(), StoreError> {
    let (kind, id) = (p.record.collection.as_str(), p.record.id.as_str());
    sqlx::query(
        "UPDATE status_outbox SET \
         provisioning_status = CASE WHEN COALESCE(provisioning_seq, 0) <= ? \
             THEN NULL ELSE provisioning_status END, \
         operating_status = CASE WHEN COALESCE(operating_seq, 0) <= ? \
             THEN NULL ELSE operating_status END \
         WHERE object_kind = ? AND object_id = ?",
    )
    .bind(p.seq)
    .bind(p.seq)
    .bind(kind)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(
        "DELETE FROM status_outbox WHERE object_kind = ? AND object_id = ? \
         AND provisioning_status IS NULL AND operating_status IS NULL",
    )
    .bind(kind)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl MysqlStore {
    /// Queue statuses; later calls win per object, and `seq` continues from the
    /// largest queued one, in record order. Each 500 records are one transaction
    /// (records need no atomicity with each other).
    pub async fn enqueue_statuses(&self, records: &[StatusRecord]) -> Result<(), StoreError> {
        let now = now_ms();
        for part in records.chunks(CHUNK) {
            retrying(|| async {
                let mut tx = self.begin_leader().await?;
                enqueue_in(&mut tx, part, now).await?;
                self.commit_leader(tx).await?;
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// Oldest undelivered statuses first.
    pub async fn pending_statuses(&self, limit: i64) -> Result<Vec<PendingStatus>, StoreError> {
        let rows = sqlx::query(
            "SELECT object_kind, object_id, provisioning_status, operating_status, seq, \
             updated_at FROM status_outbox ORDER BY seq LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(PendingStatus {
                    record: StatusRecord {
                        collection: text(row, 0)?,
                        id: text(row, 1)?,
                        provisioning_status: opt_text(row, 2)?,
                        operating_status: opt_text(row, 3)?,
                    },
                    seq: int(row, 4)?,
                    queued_at: int(row, 5)?,
                })
            })
            .collect()
    }

    /// Remove delivered rows. A row that changed during delivery (its seq moved on)
    /// stays, but loses the fields that were delivered and not set again since.
    pub async fn ack_statuses(&self, delivered: &[PendingStatus]) -> Result<(), StoreError> {
        if delivered.is_empty() {
            return Ok(());
        }
        retrying(|| async {
            let mut tx = self.begin_leader().await?;
            for part in delivered.chunks(CHUNK) {
                ack_in(&mut tx, part).await?;
            }
            self.commit_leader(tx).await?;
            Ok(())
        })
        .await
    }

    /// Number of undelivered statuses (metric: outbox backlog).
    pub async fn outbox_len(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM status_outbox")
            .fetch_one(&self.pool)
            .await?;
        int(&row, 0)
    }
}
