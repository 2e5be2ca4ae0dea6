//! Bearer-token check for the optional TCP ingress.
//!
//! The Unix socket relies on file permissions; TCP has none, so every request must
//! carry `Authorization: Bearer <token>`. The comparison is constant-time so the
//! response time does not leak how much of a guess was right.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::error::ApiError;

/// The expected token (kept out of Debug output).
#[derive(Clone)]
pub struct BearerToken(Arc<str>);

impl BearerToken {
    pub fn new(token: &str) -> BearerToken {
        BearerToken(Arc::from(token))
    }

    fn matches(&self, presented: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), presented.as_bytes());
        // ct_eq on slices of different length is false without early exit on content.
        a.len() == b.len() && bool::from(a.ct_eq(b))
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(***)")
    }
}

/// axum middleware: 401 unless the request carries the right bearer token.
pub async fn require_token(State(token): State<BearerToken>, req: Request, next: Next) -> Response {
    let presented = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(p) if token.matches(p) => next.run(req).await,
        _ => ApiError::Unauthorized.into_response(),
    }
}
