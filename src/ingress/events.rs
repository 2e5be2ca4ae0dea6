//! Handlers of `/v1/events`: accept, inspect, list and retry journaled events.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{dsr, members, ApiError, ApiState};
use crate::dispatch::Job;
use crate::model::strict::{self, StrictJsonError};
use crate::model::{limits, ordering, parse_envelope, EventError};
use crate::store::{EventRecord, EventState, KeyHint};

fn record_json(r: &EventRecord) -> Value {
    json!({
        "id": r.id,
        "method": r.method,
        "object_kind": r.object_kind,
        "object_id": r.object_id,
        "ordering_key": r.ordering_key,
        "state": r.state,
        "reason": r.reason,
        "attempts": r.attempts,
        "accepted_at_ms": r.accepted_at,
        "updated_at_ms": r.updated_at,
    })
}

/// A repeated key, named as every other field is: relative to `args` inside it,
/// by its own name outside.
fn duplicate_key(path: String) -> EventError {
    let field = match path.strip_prefix("args.") {
        Some(inner) => inner.to_owned(),
        None => path,
    };
    EventError::invalid(field, "appears more than once in its object")
}

/// The ordering hint with a pool's owner put in when the DSR check already read it
/// (the same `object_owners` row the journal would read inside its transaction:
/// one statement fewer there, under the key's lock, on MySQL).
fn known_key(hint: &KeyHint, pool_owner: dsr::PoolOwner) -> KeyHint {
    match (hint, pool_owner) {
        (KeyHint::Pool(p), Some((pool, lb))) if *p == pool => KeyHint::Loadbalancer(lb),
        (hint, _) => hint.clone(),
    }
}

/// `POST /v1/events`: validate, journal, queue; 202 with the event id.
pub(super) async fn post_event(
    State(state): State<ApiState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let envelope = strict::parse(&body).map_err(|e| match e {
        StrictJsonError::DuplicateKey { path } => ApiError::Event(duplicate_key(path)),
        StrictJsonError::Syntax(m) => ApiError::BadJson(m),
    })?;
    let event = parse_envelope(&envelope)?;
    let args = envelope
        .get("args")
        .cloned()
        .ok_or_else(|| EventError::Invalid {
            field: "args".into(),
            reason: "missing".into(),
        })?;
    strict::check_args(&args, state.uuid_ids)?;
    let args_json = args.to_string();
    let pool_owner = dsr::check(&state.store, state.nat_mode, &event).await?;
    let order = ordering(&event);
    let key = known_key(&order.key, pool_owner);
    let (kind, id) = event.object();
    let owner_ref = order
        .owner
        .as_ref()
        .map(|f| (f.kind, f.id.as_str(), &f.owner));
    let accepted = state
        .store
        .accept_event_checked(
            event.method(),
            &args_json,
            (kind.as_str(), id),
            &key,
            owner_ref,
            members::extras(&event),
        )
        .await?
        .map_err(|r| limits::too_many_members(&r.field, &r.pool_id, r.serving))?;
    // DEBUG: the INFO line of an event is written once it is applied (or fails).
    tracing::debug!(event_id = accepted.id, method = event.method(), object_id = id,
        key = %accepted.ordering_key, "event accepted");
    let job = Job {
        id: accepted.id,
        ordering_key: accepted.ordering_key,
        method: event.method().to_string(),
        args: Arc::from(args_json.as_str()),
    };
    if !state.wait_for_outcome {
        state.intake.submit(job);
        return Ok((
            StatusCode::ACCEPTED,
            Json(json!({"id": accepted.id, "state": EventState::Queued})),
        ));
    }
    let outcome = state
        .intake
        .submit_and_wait(&state.store, job, state.sync_timeout)
        .await?;
    match outcome {
        Some(outcome) => Ok((
            StatusCode::OK,
            Json(json!({"id": accepted.id, "state": outcome.state, "reason": outcome.reason})),
        )),
        // Timed out (or the daemon is stopping): the event stays journaled.
        None => {
            let state_now = state.store.event(accepted.id).await?.map(|r| r.state);
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({"id": accepted.id, "state": state_now.unwrap_or(EventState::Queued)})),
            ))
        }
    }
}

/// `GET /v1/events/{id}`: the event's state and, when failed, the reason.
pub(super) async fn get_event(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let record = state
        .store
        .event(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no event with id {id}")))?;
    Ok(Json(record_json(&record)))
}

#[derive(Deserialize)]
pub(super) struct ListQuery {
    state: Option<String>,
    limit: Option<i64>,
}

/// `GET /v1/events?state=failed&limit=100`: newest first.
pub(super) async fn list_events(
    State(state): State<ApiState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let filter = match q.state.as_deref() {
        None => None,
        Some(s) => Some(EventState::parse(s).ok_or_else(|| {
            ApiError::Event(EventError::Invalid {
                field: "state".into(),
                reason: format!("{s:?} is not one of queued, applying, done, failed"),
            })
        })?),
    };
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    let records = state.store.list_events(filter, limit).await?;
    Ok(Json(
        json!({"events": records.iter().map(record_json).collect::<Vec<_>>()}),
    ))
}

/// `POST /v1/events/{id}/retry`: put a failed event back in its queue.
pub(super) async fn retry_event(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let record = failed_event(&state, id, "retried", state.store.requeue_failed(id)).await?;
    state.intake.submit(Job::from(&record));
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"id": id, "state": EventState::Queued})),
    ))
}

/// `DELETE /v1/events/{id}`: an operator gives up on a failed event. It leaves the
/// journal and will not be applied; only failed events can be cleared (retention
/// never prunes them, so a failed event stays visible until retried or cleared).
pub(super) async fn clear_event(
    State(state): State<ApiState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let record = failed_event(&state, id, "cleared", state.store.clear_failed(id)).await?;
    tracing::info!(event_id = id, method = %record.method, "failed event cleared by an operator");
    Ok((StatusCode::OK, Json(json!({"id": id, "cleared": true}))))
}

/// The record of event `id` once `act` (an operation that only touches a failed
/// event, returning whether it did) succeeded: 404 when there is no such event, 409
/// naming its state when it is not failed.
async fn failed_event(
    state: &ApiState,
    id: i64,
    verb: &str,
    act: impl std::future::Future<Output = Result<bool, crate::store::StoreError>>,
) -> Result<crate::store::EventRecord, ApiError> {
    let record = state
        .store
        .event(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no event with id {id}")))?;
    if !act.await? {
        return Err(ApiError::Conflict(format!(
            "event {id} is {}, only failed events can be {verb}",
            record.state.as_str()
        )));
    }
    Ok(record)
}
