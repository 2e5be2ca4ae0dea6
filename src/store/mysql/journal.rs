//! The event journal on MySQL (see the SQLite `journal` for the meaning of each
//! operation). Acceptance is one transaction, retried whole on a lost conflict;
//! per-ordering-key order comes from the key's row in `journal_keys` (see `mod`).

use sqlx::mysql::{MySqlRow, MySqlTransaction};
use sqlx::QueryBuilder;

use super::super::{
    now_ms, AcceptExtras, Accepted, EventRecord, EventState, KeyHint, OwnerRef, TooManyMembers,
};
use super::rows::{int, opt_text, text};
use super::{member_count, outbox, retrying, MysqlStore, StoreError};
use crate::store::sqlite::journal::{AcceptRequest, EVENT_COLUMNS};
use crate::store::StatusRecord;

fn record_from_row(row: &MySqlRow) -> Result<EventRecord, StoreError> {
    let state = text(row, 6)?;
    Ok(EventRecord {
        id: int(row, 0)?,
        method: text(row, 1)?,
        args: text(row, 2)?,
        ordering_key: text(row, 3)?,
        object_kind: text(row, 4)?,
        object_id: text(row, 5)?,
        state: EventState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown event state {state:?}")))?,
        reason: opt_text(row, 7)?,
        attempts: int(row, 8)?,
        accepted_at: int(row, 9)?,
        updated_at: int(row, 10)?,
    })
}

/// The load balancer a listener or pool was accepted under, read in `tx`.
async fn owner_in(
    tx: &mut MySqlTransaction<'_>,
    kind: &str,
    id: &str,
) -> Result<Option<String>, StoreError> {
    let row = sqlx::query(
        "SELECT loadbalancer_id FROM object_owners WHERE object_kind = ? AND object_id = ?",
    )
    .bind(kind)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|r| text(&r, 0)).transpose()
}

/// The event's ordering key, as the SQLite journal derives it.
async fn ordering_key(tx: &mut MySqlTransaction<'_>, hint: &KeyHint) -> Result<String, StoreError> {
    Ok(match hint {
        KeyHint::Loadbalancer(lb) => format!("lb:{lb}"),
        KeyHint::Listener(l) => match owner_in(tx, "listener", l).await? {
            Some(lb) => format!("lb:{lb}"),
            None => format!("listener:{l}"),
        },
        KeyHint::Other(key) => key.clone(),
        KeyHint::Pool(p) => match owner_in(tx, "pool", p).await? {
            Some(lb) => format!("lb:{lb}"),
            None => format!("pool:{p}"),
        },
    })
}

/// Record which load balancer a new listener or pool belongs to.
async fn record_owner(
    tx: &mut MySqlTransaction<'_>,
    owner: &Option<(String, String, OwnerRef)>,
) -> Result<(), StoreError> {
    let Some((kind, id, owner_ref)) = owner else {
        return Ok(());
    };
    let lb = match owner_ref {
        OwnerRef::Loadbalancer(lb) => Some(lb.clone()),
        OwnerRef::Listener(l) => owner_in(tx, "listener", l).await?,
    };
    if let Some(lb) = lb {
        sqlx::query(
            "INSERT INTO object_owners (object_kind, object_id, loadbalancer_id) \
             VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE loadbalancer_id = VALUES(loadbalancer_id)",
        )
        .bind(kind)
        .bind(id)
        .bind(lb)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// Note (or forget) a load balancer's flavor.
async fn record_flavor(
    tx: &mut MySqlTransaction<'_>,
    flavor: &Option<(String, Option<String>)>,
) -> Result<(), StoreError> {
    match flavor {
        Some((lb, Some(flavor))) => {
            sqlx::query(
                "INSERT INTO lb_flavors (loadbalancer_id, flavor) VALUES (?, ?) \
                 ON DUPLICATE KEY UPDATE flavor = VALUES(flavor)",
            )
            .bind(lb)
            .bind(flavor)
            .execute(&mut **tx)
            .await?;
        }
        Some((lb, None)) => {
            sqlx::query("DELETE FROM lb_flavors WHERE loadbalancer_id = ?")
                .bind(lb)
                .execute(&mut **tx)
                .await?;
        }
        None => {}
    }
    Ok(())
}

/// Journal one event in one transaction (one attempt; see [`retrying`]).
async fn accept_once(
    store: &MysqlStore,
    r: &AcceptRequest,
) -> Result<Result<Accepted, TooManyMembers>, StoreError> {
    let mut tx = store.pool.begin().await?;
    record_owner(&mut tx, &r.owner).await?;
    let ordering_key = ordering_key(&mut tx, &r.hint).await?;
    // The key's row lock, before the id is allocated: acceptances of one key queue
    // here, so their ids follow their commit order.
    sqlx::query(
        "INSERT INTO journal_keys (ordering_key, last_id) VALUES (?, 0) \
         ON DUPLICATE KEY UPDATE last_id = last_id",
    )
    .bind(&ordering_key)
    .execute(&mut *tx)
    .await?;
    let member_rows = match member_count::check(&mut tx, &r.extras.members).await? {
        Ok(rows) => rows,
        Err(refused) => return Ok(Err(refused)),
    };
    let now = now_ms();
    let res = sqlx::query(
        "INSERT INTO events (method, args, ordering_key, object_kind, object_id, state, \
         attempts, accepted_at, updated_at) VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?)",
    )
    .bind(&r.method)
    .bind(&r.args_json)
    .bind(&ordering_key)
    .bind(&r.object.0)
    .bind(&r.object.1)
    .bind(now)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let id = i64::try_from(res.last_insert_id())
        .map_err(|_| StoreError::Corrupt("event id out of range".into()))?;
    // A real change of the row, so Galera certifies it against other nodes too.
    sqlx::query("UPDATE journal_keys SET last_id = ? WHERE ordering_key = ?")
        .bind(id)
        .bind(&ordering_key)
        .execute(&mut *tx)
        .await?;
    member_count::record(&mut tx, id, &member_rows).await?;
    record_flavor(&mut tx, &r.extras.flavor).await?;
    tx.commit().await?;
    Ok(Ok(Accepted { id, ordering_key }))
}

impl MysqlStore {
    /// Journal an event in one transaction. `owner` records which load balancer a
    /// new listener (`"listener"`) or pool (`"pool"`) belongs to.
    pub async fn accept_event(
        &self,
        method: &str,
        args_json: &str,
        object: (&str, &str),
        hint: &KeyHint,
        owner: Option<(&str, &str, &OwnerRef)>,
    ) -> Result<Accepted, StoreError> {
        let checked = self
            .accept_event_checked(
                method,
                args_json,
                object,
                hint,
                owner,
                AcceptExtras::default(),
            )
            .await?;
        checked.map_err(|refused| {
            StoreError::Shared(format!("unexpected member refusal: {refused:?}"))
        })
    }

    /// `accept_event` with the event's member changes counted against LoxiLB's
    /// limit in the same transaction and its load balancer's flavor noted. A refused
    /// event leaves nothing behind.
    pub async fn accept_event_checked(
        &self,
        method: &str,
        args_json: &str,
        object: (&str, &str),
        hint: &KeyHint,
        owner: Option<(&str, &str, &OwnerRef)>,
        extras: AcceptExtras,
    ) -> Result<Result<Accepted, TooManyMembers>, StoreError> {
        let req = AcceptRequest {
            method: method.to_string(),
            args_json: args_json.to_string(),
            object: (object.0.to_string(), object.1.to_string()),
            hint: hint.clone(),
            owner: owner.map(|(k, i, o)| (k.to_string(), i.to_string(), o.clone())),
            extras,
        };
        retrying(|| accept_once(self, &req)).await
    }

    /// One event by id.
    pub async fn event(&self, id: i64) -> Result<Option<EventRecord>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// Events not yet done or failed, oldest first: what a restart must replay.
    pub async fn unfinished_events(&self) -> Result<Vec<EventRecord>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE state IN ('queued', 'applying') ORDER BY id"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(record_from_row).collect()
    }

    /// See [`crate::store::api::Journal::unfinished_event_ids`]: served by the
    /// `events_by_state (state, id)` index alone.
    pub async fn unfinished_event_ids(&self, after: i64) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM events WHERE state IN ('queued', 'applying') AND id > ? ORDER BY id",
        )
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| int(r, 0)).collect()
    }

    pub async fn events_by_ids(&self, ids: &[i64]) -> Result<Vec<EventRecord>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let mut q =
                QueryBuilder::new(format!("SELECT {EVENT_COLUMNS} FROM events WHERE id IN ("));
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            q.push(") ORDER BY id");
            let rows = q.build().fetch_all(&self.pool).await?;
            for row in &rows {
                out.push(record_from_row(row)?);
            }
        }
        Ok(out)
    }

    /// When the oldest unfinished event was accepted (ms since the epoch), if any.
    pub async fn oldest_unfinished_at(&self) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(accepted_at) FROM events WHERE state IN ('queued', 'applying')",
        )
        .fetch_one(&self.pool)
        .await?;
        super::rows::opt_int(&row, 0)
    }

    /// Newest events first, optionally only those in `state`.
    pub async fn list_events(
        &self,
        state: Option<EventState>,
        limit: i64,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let rows = match state {
            Some(s) => {
                let sql = format!(
                    "SELECT {EVENT_COLUMNS} FROM events WHERE state = ? ORDER BY id DESC LIMIT ?"
                );
                sqlx::query(&sql)
                    .bind(s.as_str())
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?
            }
            None => {
                let sql = format!("SELECT {EVENT_COLUMNS} FROM events ORDER BY id DESC LIMIT ?");
                sqlx::query(&sql).bind(limit).fetch_all(&self.pool).await?
            }
        };
        rows.iter().map(record_from_row).collect()
    }

    /// Number of events per state (for metrics and readiness).
    pub async fn count_events(&self, state: EventState) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM events WHERE state = ?")
            .bind(state.as_str())
            .fetch_one(&self.pool)
            .await?;
        int(&row, 0)
    }

    /// Mark an event as attempted and not final (tests set up journals with events
    /// in every state).
    #[cfg(test)]
    pub async fn mark_applying(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE events SET state = 'applying', attempts = attempts + 1, updated_at = ? \
             WHERE id = ? AND state IN ('queued', 'applying')",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Record why the last attempt failed while the event waits for another try.
    pub async fn note_retry(&self, id: i64, reason: &str) -> Result<(), StoreError> {
        let guard = self.guard()?;
        let sql = format!(
            "UPDATE events SET state = 'applying', attempts = attempts + 1, reason = ?, \
             updated_at = ? WHERE id = ? AND {}",
            super::Guard::condition(&guard)
        );
        let q = sqlx::query(&sql).bind(reason).bind(now_ms()).bind(id);
        self.guarded(&guard, q).await
    }

    /// Put a final state on an event (done, or failed with a reason).
    pub async fn finish_event(
        &self,
        id: i64,
        state: EventState,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        self.finish_events(&[(id, state, reason)], &[]).await
    }

    /// `finish_event` for several events with the statuses their outcomes produced,
    /// in one transaction: the outcome and its statuses are stored together or not
    /// at all, and the event's attempt is counted.
    pub async fn finish_events(
        &self,
        events: &[(i64, EventState, Option<&str>)],
        statuses: &[StatusRecord],
    ) -> Result<(), StoreError> {
        retrying(|| finish_once(self, events, statuses)).await
    }

    /// Put a failed event back in the queue (operator `retry`). Returns false when
    /// the event does not exist or is not failed.
    pub async fn requeue_failed(&self, id: i64) -> Result<bool, StoreError> {
        let res = sqlx::query(
            "UPDATE events SET state = 'queued', reason = NULL, updated_at = ? \
             WHERE id = ? AND state = 'failed'",
        )
        .bind(now_ms())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(res.rows_affected() == 1)
    }

    /// Total number of journaled events (tests assert a rejected event adds none).
    pub async fn event_count(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) FROM events")
            .fetch_one(&self.pool)
            .await?;
        int(&row, 0)
    }
}

/// An event's final state and reason.
type Outcome<'a> = (EventState, Option<&'a str>);

/// One attempt of `finish_events`. Events with the same outcome (usually the whole
/// batch: done, no reason) are updated by one statement, not one per event.
async fn finish_once(
    store: &MysqlStore,
    events: &[(i64, EventState, Option<&str>)],
    statuses: &[StatusRecord],
) -> Result<(), StoreError> {
    let now = now_ms();
    let mut tx = store.begin_leader().await?;
    outbox::enqueue_in(&mut tx, statuses, now).await?;
    let mut groups: Vec<(Outcome<'_>, Vec<i64>)> = Vec::new();
    for (id, state, reason) in events {
        match groups.iter_mut().find(|(k, _)| *k == (*state, *reason)) {
            Some((_, ids)) => ids.push(*id),
            None => groups.push(((*state, *reason), vec![*id])),
        }
    }
    for ((state, reason), ids) in &groups {
        for part in ids.chunks(500) {
            let mut q = QueryBuilder::new("UPDATE events SET state = ");
            q.push_bind(state.as_str())
                .push(", reason = ")
                .push_bind(*reason)
                .push(", updated_at = ")
                .push_bind(now)
                .push(", attempts = attempts + 1 WHERE id IN (");
            push_ids(&mut q, part);
            q.build().execute(&mut *tx).await?;
            // A done event's member changes are in the desired state now; a failed
            // one's stay (not counted while it is failed) in case it is retried.
            if *state == EventState::Done {
                let mut q = QueryBuilder::new("DELETE FROM member_changes WHERE event_id IN (");
                push_ids(&mut q, part);
                q.build().execute(&mut *tx).await?;
            }
        }
    }
    store.commit_leader(tx).await?;
    Ok(())
}

/// `ids` as a bound list, closing the parenthesis.
fn push_ids(q: &mut QueryBuilder<'_, sqlx::MySql>, ids: &[i64]) {
    let mut list = q.separated(", ");
    for id in ids {
        list.push_bind(*id);
    }
    q.push(")");
}
