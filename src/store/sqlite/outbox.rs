//! The status outbox: statuses for Octavia wait here until the driver agent took them.
//!
//! Drivers write statuses in the same database as the journal, so a driver agent
//! outage (or our own crash) delays statuses but never loses them. One row per
//! object: a newer status replaces an undelivered older one, because Octavia only
//! needs the latest state, and `seq` keeps delivery in production order.

use crate::store::api::{self, *};

use super::write_batch::Stmt;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_store;

    fn rec(c: &str, id: &str, p: Option<&str>, o: Option<&str>) -> StatusRecord {
        StatusRecord {
            collection: c.into(),
            id: id.into(),
            provisioning_status: p.map(str::to_string),
            operating_status: o.map(str::to_string),
        }
    }

    fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
        r.unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn latest_wins_per_object_and_order_follows_production() {
        let (s, _d) = test_store().await;
        ok(s.enqueue_statuses(&[
            rec("members", "m1", Some("ACTIVE"), None),
            rec("pools", "p1", Some("ACTIVE"), None),
        ])
        .await);
        ok(
            s.enqueue_statuses(&[rec("members", "m1", None, Some("ONLINE"))])
                .await,
        );
        let pending = ok(s.pending_statuses(10).await);
        assert_eq!(pending.len(), 2);
        assert_eq!(pending[0].record, rec("pools", "p1", Some("ACTIVE"), None));
        assert_eq!(
            pending[1].record,
            rec("members", "m1", Some("ACTIVE"), Some("ONLINE"))
        );
    }

    /// One call writes several statements of rows: order and "latest wins" hold
    /// within a statement and across them.
    #[tokio::test]
    async fn a_large_call_keeps_record_order_and_latest_wins() {
        let (s, _d) = test_store().await;
        let mut records: Vec<StatusRecord> = (0..250)
            .map(|i| rec("members", &format!("m{i}"), Some("ACTIVE"), None))
            .collect();
        records.push(rec("members", "m0", None, Some("ONLINE")));
        records.push(rec("members", "m120", None, Some("ERROR")));
        ok(s.enqueue_statuses(&records).await);
        let pending = ok(s.pending_statuses(1000).await);
        let ids: Vec<&str> = pending.iter().map(|p| p.record.id.as_str()).collect();
        let mut want: Vec<String> = (1..250)
            .filter(|i| *i != 120)
            .map(|i| format!("m{i}"))
            .collect();
        want.push("m0".into());
        want.push("m120".into());
        assert_eq!(ids, want);
        assert!(pending.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(
            pending[248].record,
            rec("members", "m0", Some("ACTIVE"), Some("ONLINE"))
        );
        ok(s.ack_statuses(&pending).await);
        assert_eq!(ok(s.outbox_len().await), 0);
    }

    /// An event's outcome and the statuses it produced are one write.
    #[tokio::test]
    async fn an_outcome_and_its_statuses_are_stored_together() {
        use crate::store::{EventState, KeyHint};
        let (s, _d) = test_store().await;
        let e = ok(s
            .accept_event(
                "member_create",
                "{}",
                ("member", "m1"),
                &KeyHint::Loadbalancer("lb".into()),
                None,
            )
            .await);
        let statuses = [rec("members", "m1", Some("ACTIVE"), Some("ONLINE"))];
        ok(
            s.finish_events(&[(e.id, EventState::Done, None)], &statuses)
                .await,
        );
        let rec_done = ok(s.event(e.id).await).unwrap_or_else(|| panic!("missing"));
        assert_eq!(rec_done.state, EventState::Done);
        let pending = ok(s.pending_statuses(10).await);
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].record, statuses[0]);
    }

    #[tokio::test]
    async fn ack_keeps_rows_replaced_during_delivery() {
        let (s, _d) = test_store().await;
        ok(s.enqueue_statuses(&[
            rec("members", "m1", Some("ACTIVE"), None),
            rec("pools", "p1", Some("ACTIVE"), None),
        ])
        .await);
        let taken = ok(s.pending_statuses(10).await);
        // While delivering, the member is deleted.
        ok(
            s.enqueue_statuses(&[rec("members", "m1", Some("DELETED"), None)])
                .await,
        );
        ok(s.ack_statuses(&taken).await);
        let left = ok(s.pending_statuses(10).await);
        assert_eq!(left.len(), 1);
        assert_eq!(
            left[0].record.provisioning_status.as_deref(),
            Some("DELETED")
        );
        assert_eq!(ok(s.outbox_len().await), 1);
    }

    /// The bug the Octavia API suite found: the delivered ACTIVE of a load balancer
    /// stayed queued when an operating status arrived during its delivery, and was
    /// sent again later, after Octavia had put the load balancer in PENDING_UPDATE
    /// for the next change.
    #[tokio::test]
    async fn ack_does_not_send_a_delivered_provisioning_status_again() {
        let (s, _d) = test_store().await;
        ok(
            s.enqueue_statuses(&[rec("loadbalancers", "lb", Some("ACTIVE"), None)])
                .await,
        );
        let taken = ok(s.pending_statuses(10).await);
        // While delivering, a status poll reports the load balancer's health.
        ok(
            s.enqueue_statuses(&[rec("loadbalancers", "lb", None, Some("ERROR"))])
                .await,
        );
        ok(s.ack_statuses(&taken).await);
        let left = ok(s.pending_statuses(10).await);
        assert_eq!(left.len(), 1);
        assert_eq!(
            left[0].record,
            rec("loadbalancers", "lb", None, Some("ERROR"))
        );
        // Once that is delivered too, nothing is left.
        ok(s.ack_statuses(&left).await);
        assert_eq!(ok(s.outbox_len().await), 0);
    }

    /// A field set again during delivery (the next change finished) is kept, even
    /// with the same value.
    #[tokio::test]
    async fn ack_keeps_a_field_set_again_during_delivery() {
        let (s, _d) = test_store().await;
        ok(
            s.enqueue_statuses(&[rec("loadbalancers", "lb", Some("ACTIVE"), Some("ONLINE"))])
                .await,
        );
        let taken = ok(s.pending_statuses(10).await);
        ok(
            s.enqueue_statuses(&[rec("loadbalancers", "lb", Some("ACTIVE"), None)])
                .await,
        );
        ok(s.ack_statuses(&taken).await);
        let left = ok(s.pending_statuses(10).await);
        assert_eq!(left.len(), 1);
        assert_eq!(
            left[0].record,
            rec("loadbalancers", "lb", Some("ACTIVE"), None)
        );
    }
}
