//! API errors and their JSON bodies.
//!
//! Every rejection names what is wrong so the Octavia shim (and a human with curl)
//! can act on it: `{"error": "<code>", "message": "...", "field": "..."}`, and for
//! options LoxiLB cannot serve, the two fault strings Octavia's
//! UnsupportedOptionError carries.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::model::EventError;
use crate::store::StoreError;

/// Everything the ingress API can answer with besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Event(#[from] EventError),
    #[error("request body is not valid JSON: {0}")]
    BadJson(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("missing or wrong bearer token")]
    Unauthorized,
    #[error("journal unavailable: {0}")]
    Store(#[from] StoreError),
}

impl ApiError {
    fn status_and_body(&self) -> (StatusCode, serde_json::Value) {
        match self {
            ApiError::Event(e) => (StatusCode::BAD_REQUEST, event_error_body(e)),
            ApiError::BadJson(m) => (
                StatusCode::BAD_REQUEST,
                json!({"error": "bad_request", "message": format!("request body is not valid JSON: {m}")}),
            ),
            ApiError::NotFound(m) => (
                StatusCode::NOT_FOUND,
                json!({"error": "not_found", "message": m}),
            ),
            ApiError::Conflict(m) => (
                StatusCode::CONFLICT,
                json!({"error": "conflict", "message": m}),
            ),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                json!({"error": "unauthorized", "message": self.to_string()}),
            ),
            ApiError::Store(e) => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "unavailable", "message": e.to_string()}),
            ),
        }
    }
}

/// The JSON body of a rejected event.
pub fn event_error_body(e: &EventError) -> serde_json::Value {
    match e {
        EventError::Invalid { field, reason } => json!({
            "error": "invalid", "field": field, "message": format!("{field}: {reason}"),
        }),
        EventError::Unsupported {
            user_fault_string,
            operator_fault_string,
        } => json!({
            "error": "unsupported",
            "field": e.field(),
            "message": user_fault_string,
            "user_fault_string": user_fault_string,
            "operator_fault_string": operator_fault_string,
        }),
        EventError::UnknownMethod { method } => json!({
            "error": "unknown_method", "field": "method", "message": e.to_string(), "method": method,
        }),
        EventError::NotAnEvent { method } => json!({
            "error": "not_an_event", "field": "method", "message": e.to_string(), "method": method,
        }),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = self.status_and_body();
        if status.is_server_error() {
            tracing::warn!(error = %self, "ingress request failed");
        }
        (status, Json(body)).into_response()
    }
}
