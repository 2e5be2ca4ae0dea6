//! The event journal: every accepted Octavia event, its ordering key and its outcome.
//!
//! An event is written in one transaction together with the ownership facts it
//! teaches us (which load balancer a new listener or pool belongs to), so ordering
//! keys of later member and health-monitor events resolve to their load balancer.

use crate::store::api::{self, *};

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::desired::parse;
use sqlx::Row;

use super::member_count;
use super::outbox::outbox_inserts;
use super::stmt::Stmt;
use super::SqliteStore;
use crate::store::{now_ms, StoreError};

/// Ids per `IN` list (SQLite allows 32,766 bound parameters; small lists keep the
/// statement cache useful).
const ID_CHUNK: usize = 500;

pub(crate) const EVENT_COLUMNS: &str =
    "id, method, args, ordering_key, object_kind, object_id, state, \
                             reason, attempts, accepted_at, updated_at";

fn record_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<EventRecord, StoreError> {
    let state: String = row.try_get("state")?;
    Ok(EventRecord {
        id: row.try_get("id")?,
        method: row.try_get("method")?,
        args: row.try_get("args")?,
        ordering_key: row.try_get("ordering_key")?,
        object_kind: row.try_get("object_kind")?,
        object_id: row.try_get("object_id")?,
        state: EventState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown event state {state:?}")))?,
        reason: row.try_get("reason")?,
        attempts: row.try_get("attempts")?,
        accepted_at: row.try_get("accepted_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn owner_of(
    conn: &rusqlite::Connection,
    kind: &str,
    id: &str,
) -> Result<Option<String>, StoreError> {
    use rusqlite::OptionalExtension;
    Ok(conn
        .prepare_cached(
            "SELECT loadbalancer_id FROM object_owners WHERE object_kind = ? AND object_id = ?",
        )?
        .query_row([kind, id], |r| r.get(0))
        .optional()?)
}

impl api::Journal for SqliteStore {
    /// Journal an event in one transaction. `owner` records which load balancer a
    /// new listener (`"listener"`) or pool (`"pool"`) belongs to.
    async fn accept_event(
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
    /// limit in the same transaction (see `member_count`) and its load balancer's
    /// flavor noted. A refused event leaves nothing behind.
    async fn accept_event_checked(
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
        self.group_commit.accept(req).await
    }

    /// One event by id.
    async fn event(&self, id: i64) -> Result<Option<EventRecord>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// Events not yet done or failed, oldest first: what a restart must replay.
    async fn unfinished_events(&self) -> Result<Vec<EventRecord>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE state IN ('queued', 'applying') ORDER BY id"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn unfinished_event_ids(&self, after: i64) -> Result<Vec<i64>, StoreError> {
        let ids: Vec<(i64,)> = sqlx::query_as(
            "SELECT id FROM events WHERE state IN ('queued', 'applying') AND id > ? ORDER BY id",
        )
        .bind(after)
        .fetch_all(&self.pool)
        .await?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    async fn events_by_ids(&self, ids: &[i64]) -> Result<Vec<EventRecord>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ID_CHUNK) {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE id IN ("
            ));
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
    async fn oldest_unfinished_at(&self) -> Result<Option<i64>, StoreError> {
        let (t,): (Option<i64>,) = sqlx::query_as(
            "SELECT MIN(accepted_at) FROM events WHERE state IN ('queued', 'applying')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(t)
    }

    /// Newest events first, optionally only those in `state`.
    async fn list_events(
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
    async fn count_events(&self, state: EventState) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM events WHERE state = ?")
            .bind(state.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Record why the last attempt failed while the event waits for another try.
    async fn note_retry(&self, id: i64, reason: &str) -> Result<(), StoreError> {
        let stmt = Stmt::new(
            "UPDATE events SET state = 'applying', attempts = attempts + 1, reason = ?, \
             updated_at = ? WHERE id = ?",
        )
        .arg(reason)
        .arg(now_ms())
        .arg(id);
        self.writes.write(vec![stmt]).await
    }

    /// Put a final state on an event (done, or failed with a reason).
    async fn finish_event(
        &self,
        id: i64,
        state: EventState,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        self.finish_events(&[(id, state, reason)], &[]).await
    }

    /// `finish_event` for several events (a dispatcher batch), with the statuses
    /// their outcomes produced, in one write: the outcome and its statuses are
    /// stored together or not at all, and the event's attempt is counted.
    async fn finish_events(
        &self,
        events: &[(i64, EventState, Option<&str>)],
        statuses: &[StatusRecord],
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut stmts = outbox_inserts(statuses, now);
        for (id, state, reason) in events {
            stmts.push(
                Stmt::new(
                    "UPDATE events SET state = ?, reason = ?, updated_at = ?, \
                     attempts = attempts + 1 WHERE id = ?",
                )
                .arg(state.as_str())
                .arg(*reason)
                .arg(now)
                .arg(*id),
            );
            // A done event's member changes are in the desired state now. A failed
            // one's stay (not counted while it is failed) in case it is retried.
            if *state == EventState::Done {
                stmts.push(Stmt::new("DELETE FROM member_changes WHERE event_id = ?").arg(*id));
            }
        }
        self.writes.write(stmts).await
    }

    /// Put a failed event back in the queue (operator `retry`). Returns false when
    /// the event does not exist or is not failed.
    async fn requeue_failed(&self, id: i64) -> Result<bool, StoreError> {
        let _w = self.write_lock.lock().await;
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
    async fn event_count(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM events")
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    /// Load balancers with unfinished events, and the highest event id so far.
    async fn lbs_in_flight(&self) -> Result<(BTreeSet<String>, i64), StoreError> {
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
    async fn lb_has_events_after(&self, lb: &str, after_id: i64) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM events WHERE ordering_key = ? AND id > ?")
            .bind(format!("lb:{lb}"))
            .bind(after_id)
            .fetch_one(&self.pool)
            .await?;
        let n: i64 = row.try_get("n")?;
        Ok(n > 0)
    }

    /// The load balancer a listener (`"listener"`) or pool (`"pool"`) was accepted under.
    async fn owner_of(&self, kind: &str, id: &str) -> Result<Option<String>, StoreError> {
        let sql =
            "SELECT loadbalancer_id FROM object_owners WHERE object_kind = ? AND object_id = ?";
        self.readers
            .with(|c| {
                super::direct::query(c, sql, true, &[&kind, &id], |r| Ok(r.get::<_, String>(0)?))
            })
            .map(|mut v| v.pop())
    }

    /// A load balancer's flavor metadata: as accepted with its create, else from the
    /// desired state; `None` when the load balancer is unknown or has no flavor.
    async fn lb_flavor(&self, lb_id: &str) -> Result<Option<Map<String, Value>>, StoreError> {
        let noted = self
            .read_strings(
                "SELECT flavor FROM lb_flavors WHERE loadbalancer_id = ?",
                lb_id,
            )
            .await?;
        let body = match noted.into_iter().next() {
            Some(flavor) => parse(&flavor)?,
            None => match self.get_object(Table::Loadbalancers, lb_id).await? {
                Some(lb) => lb.get("flavor").cloned().unwrap_or(Value::Null),
                None => Value::Null,
            },
        };
        Ok(match body {
            Value::Object(map) => Some(map),
            _ => None,
        })
    }
}

/// One event to journal (owned, so it can wait in the group-commit queue).
#[derive(Clone, Debug)]
pub(crate) struct AcceptRequest {
    pub method: String,
    pub args_json: String,
    pub object: (String, String),
    pub hint: KeyHint,
    pub owner: Option<(String, String, OwnerRef)>,
    pub extras: AcceptExtras,
}

/// Journal one event inside an open transaction on the journal's connection
/// (see `group_commit`).
pub(crate) fn accept_in(
    conn: &rusqlite::Connection,
    r: &AcceptRequest,
) -> Result<Result<Accepted, TooManyMembers>, StoreError> {
    let member_rows = match member_count::check(conn, &r.extras.members)? {
        Ok(rows) => rows,
        Err(refused) => return Ok(Err(refused)),
    };
    if let Some((kind, id, owner_ref)) = &r.owner {
        let lb = match owner_ref {
            OwnerRef::Loadbalancer(lb) => Some(lb.clone()),
            OwnerRef::Listener(l) => owner_of(conn, "listener", l)?,
        };
        if let Some(lb) = lb {
            conn.prepare_cached(
                "INSERT INTO object_owners (object_kind, object_id, loadbalancer_id) \
                 VALUES (?, ?, ?) ON CONFLICT (object_kind, object_id) \
                 DO UPDATE SET loadbalancer_id = excluded.loadbalancer_id",
            )?
            .execute([kind.as_str(), id.as_str(), lb.as_str()])?;
        }
    }
    let ordering_key = match &r.hint {
        KeyHint::Loadbalancer(lb) => format!("lb:{lb}"),
        KeyHint::Listener(l) => match owner_of(conn, "listener", l)? {
            Some(lb) => format!("lb:{lb}"),
            None => format!("listener:{l}"),
        },
        KeyHint::Other(key) => key.clone(),
        KeyHint::Pool(p) => match owner_of(conn, "pool", p)? {
            Some(lb) => format!("lb:{lb}"),
            None => format!("pool:{p}"),
        },
    };
    let now = now_ms();
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO events (method, args, ordering_key, object_kind, object_id, state, \
             attempts, accepted_at, updated_at) VALUES (?, ?, ?, ?, ?, 'queued', 0, ?, ?) \
             RETURNING id",
        )?
        .query_row(
            rusqlite::params![
                r.method,
                r.args_json,
                ordering_key,
                r.object.0,
                r.object.1,
                now,
                now
            ],
            |row| row.get(0),
        )?;
    member_count::record(conn, id, &member_rows)?;
    match &r.extras.flavor {
        Some((lb, Some(flavor))) => {
            conn.prepare_cached(
                "INSERT INTO lb_flavors (loadbalancer_id, flavor) VALUES (?, ?) \
                 ON CONFLICT (loadbalancer_id) DO UPDATE SET flavor = excluded.flavor",
            )?
            .execute([lb.as_str(), flavor.as_str()])?;
        }
        Some((lb, None)) => {
            conn.prepare_cached("DELETE FROM lb_flavors WHERE loadbalancer_id = ?")?
                .execute([lb.as_str()])?;
        }
        None => {}
    }
    Ok(Ok(Accepted { id, ordering_key }))
}
