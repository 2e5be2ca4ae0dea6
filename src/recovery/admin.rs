//! Admin API of the recovery module, merged into the ingress router (so the same
//! bearer-token check guards it on TCP):
//!
//! - `POST /v1/reconcile?dry_run=true|false&confirm=true|false` (defaults false):
//!   compare and repair; the report lists every difference found and what was
//!   repaired or removed. `confirm` deletes candidates held by the blast-radius limit.
//! - `GET /v1/orphans`: orphan candidates, each with whether it is confirmed (seen
//!   by the previous acting scan); nothing is changed.
//! - `POST /v1/orphans/delete?confirm=true|false`: one acting scan; confirmed orphans
//!   are removed within the blast-radius limit, or all of them with `confirm` (which
//!   also removes the load balancers held by the start-up check).
//! - `GET /v1/dead-letters`: changes that are no longer retried.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::reconciler::{ReconcilerHandle, RecoveryError};

#[derive(Debug, Deserialize)]
struct ReconcileQuery {
    #[serde(default)]
    dry_run: bool,
    /// Delete held candidates despite the blast-radius limit.
    #[serde(default)]
    confirm: bool,
}

#[derive(Debug, Deserialize)]
struct ConfirmQuery {
    #[serde(default)]
    confirm: bool,
}

const RECONCILE: &str = "/v1/reconcile";
const ORPHANS: &str = "/v1/orphans";
const DELETE_ORPHANS: &str = "/v1/orphans/delete";
const DEAD_LETTERS: &str = "/v1/dead-letters";

/// Every path [`router`] serves. They are leader-only: a cluster instance forwards
/// exactly these to its running term (`app::term`), so a route is listed here only.
pub const PATHS: [&str; 4] = [RECONCILE, ORPHANS, DELETE_ORPHANS, DEAD_LETTERS];

/// The recovery routes.
pub fn router(handle: ReconcilerHandle) -> Router {
    Router::new()
        .route(RECONCILE, post(reconcile))
        .route(ORPHANS, get(orphans))
        .route(DELETE_ORPHANS, post(delete_orphans))
        .route(DEAD_LETTERS, get(dead_letters))
        .with_state(handle)
}

fn answer<T: serde::Serialize>(r: Result<T, RecoveryError>) -> Response {
    match r {
        Ok(v) => (StatusCode::OK, Json(json!(v))).into_response(),
        Err(e @ RecoveryError::Stopped) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn reconcile(State(h): State<ReconcilerHandle>, Query(q): Query<ReconcileQuery>) -> Response {
    answer(h.reconcile(q.dry_run, q.confirm).await)
}

async fn orphans(State(h): State<ReconcilerHandle>) -> Response {
    answer(h.orphans().await)
}

async fn delete_orphans(
    State(h): State<ReconcilerHandle>,
    Query(q): Query<ConfirmQuery>,
) -> Response {
    answer(h.delete_orphans(q.confirm).await)
}

async fn dead_letters(State(h): State<ReconcilerHandle>) -> Response {
    answer(h.dead_letters().await.map(|d| json!({"dead_letters": d})))
}
