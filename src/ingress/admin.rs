//! Admin API for operators and the CLI: checks that read LoxiLB but change nothing.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::apply::Applier;

const VALIDATE: &str = "/v1/health-monitors/validate";

/// Every path [`router`] serves. They are leader-only: a cluster instance forwards
/// exactly these to its running term (`app::term`), so a route is listed here only.
pub const PATHS: [&str; 1] = [VALIDATE];

/// `GET /v1/health-monitors/validate`: every probe our monitors need, on every node.
pub fn router(applier: Arc<Applier>) -> Router {
    Router::new()
        .route(VALIDATE, get(validate))
        .with_state(applier)
}

async fn validate(State(applier): State<Arc<Applier>>) -> (StatusCode, Json<Value>) {
    match applier.validate_probes().await {
        Ok(v) => (
            StatusCode::OK,
            Json(json!({
                "ok": v.differences.is_empty(),
                "differences": v.differences,
                "down": v.down,
            })),
        ),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"error": "unavailable", "message": e.to_string()})),
        ),
    }
}
