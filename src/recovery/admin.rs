//! Admin API of the recovery module, merged into the ingress router (so the same
//! bearer-token check guards it on TCP):
//!
//! - `POST /v1/reconcile?dry_run=true|false` (default false): compare and repair;
//!   the report lists every difference found and what was repaired or removed.
//! - `GET /v1/orphans`: orphan candidates, each with whether it is confirmed (seen
//!   by the previous acting scan); nothing is changed.
//! - `POST /v1/orphans/delete`: one acting scan; confirmed orphans are removed.
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
}

/// The recovery routes.
pub fn router(handle: ReconcilerHandle) -> Router {
    Router::new()
        .route("/v1/reconcile", post(reconcile))
        .route("/v1/orphans", get(orphans))
        .route("/v1/orphans/delete", post(delete_orphans))
        .route("/v1/dead-letters", get(dead_letters))
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
    answer(h.reconcile(q.dry_run).await)
}

async fn orphans(State(h): State<ReconcilerHandle>) -> Response {
    answer(h.orphans().await)
}

async fn delete_orphans(State(h): State<ReconcilerHandle>) -> Response {
    answer(h.delete_orphans().await)
}

async fn dead_letters(State(h): State<ReconcilerHandle>) -> Response {
    answer(h.dead_letters().await.map(|d| json!({"dead_letters": d})))
}
