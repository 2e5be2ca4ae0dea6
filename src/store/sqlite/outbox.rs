//! The status outbox: statuses for Octavia wait here until the driver agent took them.
//!
//! Drivers write statuses in the same database as the journal, so a driver agent
//! outage (or our own crash) delays statuses but never loses them. One row per
//! object: a newer status replaces an undelivered older one, because Octavia only
//! needs the latest state, and `seq` keeps delivery in production order.

use crate::store::api::{self, *};

use super::stmt::Stmt;
use super::{direct, SqliteStore};
use crate::store::{now_ms, StoreError};

impl api::StatusOutbox for SqliteStore {
    /// Queue statuses; later calls win per object, and `seq` continues from the
    /// largest queued one, in record order. Each 500 records are one batched write
    /// (see `write_batch`); records need no atomicity with each other.
    async fn enqueue_statuses(&self, records: &[StatusRecord]) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        // Written 500 records at a time: a full refresh of 100k members as one
        // write would hold the write lock (and the records) for its whole length.
        for part in records.chunks(500) {
            self.writes.write(outbox_inserts(part, now)).await?;
        }
        Ok(())
    }

    /// Oldest undelivered statuses first. Read on the calling thread (a bounded
    /// index scan; a pool query would cost two thread hand-offs per delivery round).
    async fn pending_statuses(&self, limit: i64) -> Result<Vec<PendingStatus>, StoreError> {
        const SQL: &str = "SELECT object_kind, object_id, provisioning_status, \
            operating_status, seq, updated_at FROM status_outbox ORDER BY seq LIMIT ?";
        self.readers.with(|c| {
            direct::query(c, SQL, true, &[&limit], |row| {
                Ok(PendingStatus {
                    record: StatusRecord {
                        collection: row.get(0)?,
                        id: row.get(1)?,
                        provisioning_status: row.get(2)?,
                        operating_status: row.get(3)?,
                    },
                    seq: row.get(4)?,
                    queued_at: row.get(5)?,
                })
            })
        })
    }

    /// Remove delivered rows. A row that changed during delivery (its seq moved on)
    /// stays, but loses the fields that were delivered and not set again since:
    /// sending an old provisioning status a second time is not harmless, because
    /// Octavia may have started the object's next change in between.
    async fn ack_statuses(&self, delivered: &[PendingStatus]) -> Result<(), StoreError> {
        // Cached statements per row: the batch runs on the store's own connection
        // (`direct`), where a statement costs no hand-off, and a fixed shape stays
        // compiled.
        let stmts = delivered.iter().flat_map(ack_stmts).collect();
        self.writes.write(stmts).await
    }

    /// Number of undelivered statuses (metric: outbox backlog).
    async fn outbox_len(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM status_outbox")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }
}

/// The statements acknowledging one delivered row (see `ack_statuses`). A field whose
/// seq is not above the delivered seq was part of what was delivered.
fn ack_stmts(p: &PendingStatus) -> [Stmt; 3] {
    const DELIVERED: &str =
        "DELETE FROM status_outbox WHERE object_kind = ? AND object_id = ? AND seq = ?";
    const CLEAR: &str = "UPDATE status_outbox SET \
        provisioning_status = CASE WHEN COALESCE(provisioning_seq, 0) <= ? \
            THEN NULL ELSE provisioning_status END, \
        operating_status = CASE WHEN COALESCE(operating_seq, 0) <= ? \
            THEN NULL ELSE operating_status END \
        WHERE object_kind = ? AND object_id = ?";
    const EMPTY: &str = "DELETE FROM status_outbox WHERE object_kind = ? AND object_id = ? \
        AND provisioning_status IS NULL AND operating_status IS NULL";
    let (kind, id) = (p.record.collection.as_str(), p.record.id.as_str());
    [
        Stmt::new(DELIVERED).arg(kind).arg(id).arg(p.seq),
        Stmt::new(CLEAR).arg(p.seq).arg(p.seq).arg(kind).arg(id),
        Stmt::new(EMPTY).arg(kind).arg(id),
    ]
}

/// The upserts queueing `records`, one cached statement each (see `ack_statuses`).
pub(crate) fn outbox_inserts(records: &[StatusRecord], now: i64) -> Vec<Stmt> {
    // Each statement's subquery sees the rows inserted before it, so `seq` grows
    // in record order (only the order matters). A field given by the record gets
    // the record's seq as its own (a new row leaves them NULL: see migration 0007's comment).
    const UPSERT: &str = "INSERT INTO status_outbox (object_kind, object_id, \
        provisioning_status, operating_status, seq, updated_at) \
        VALUES (?, ?, ?, ?, (SELECT COALESCE(MAX(seq), 0) FROM status_outbox) + 1, ?) \
        ON CONFLICT (object_kind, object_id) DO UPDATE SET \
        provisioning_status = COALESCE(excluded.provisioning_status, status_outbox.provisioning_status), \
        operating_status = COALESCE(excluded.operating_status, status_outbox.operating_status), \
        provisioning_seq = CASE WHEN excluded.provisioning_status IS NULL \
            THEN status_outbox.provisioning_seq ELSE excluded.seq END, \
        operating_seq = CASE WHEN excluded.operating_status IS NULL \
            THEN status_outbox.operating_seq ELSE excluded.seq END, \
        seq = excluded.seq, updated_at = excluded.updated_at";
    records
        .iter()
        .map(|r| {
            Stmt::new(UPSERT)
                .arg(r.collection.as_str())
                .arg(r.id.as_str())
                .arg(r.provisioning_status.as_deref())
                .arg(r.operating_status.as_deref())
                .arg(now)
        })
        .collect()
}
