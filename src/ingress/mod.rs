//! The ingress API: HTTP/JSON on a Unix socket (and optionally TCP with TLS and a
//! bearer token; see [`tls`]).
//!
//! `POST /v1/events` validates an Octavia provider call synchronously, journals it
//! in one transaction and hands it to the dispatcher; nothing is stored for a
//! rejected event. The router is built by [`router`] so tests can drive it with
//! `oneshot` and the daemon can serve it on any listener.

pub mod admin;
mod auth;
mod desired;
mod dsr;
mod error;
mod events;
pub mod listen;
mod members;
pub mod tls;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::json;

use crate::cluster::ClusterStatus;
use crate::config::NatMode;
use crate::dispatch::Intake;
use crate::health::HealthHandle;
use crate::store::Store;

pub use auth::BearerToken;
pub use error::{event_error_body, ApiError};

/// Answers whether at least one LoxiLB node is reachable (for `/readyz`).
#[async_trait::async_trait]
pub trait Readiness: Send + Sync + 'static {
    async fn loxilb_reachable(&self) -> bool;

    /// Each LoxiLB node's URL and the release it last reported on `GET /version`.
    fn node_versions(&self) -> Vec<(String, Option<String>)> {
        Vec::new()
    }
}

/// The node list of `/healthz` and `/readyz`.
fn nodes_json(r: &dyn Readiness) -> serde_json::Value {
    r.node_versions()
        .into_iter()
        .map(|(url, version)| json!({"url": url, "version": version}))
        .collect()
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct ApiState {
    pub store: Store,
    /// Where accepted events go (this process's dispatcher, or the shared journal).
    pub intake: Intake,
    pub readiness: Arc<dyn Readiness>,
    /// `async_processing = false`: a POST waits for the event's outcome.
    pub wait_for_outcome: bool,
    /// How long such a POST waits before answering 202 anyway.
    pub sync_timeout: Duration,
    /// Serves `GET /v1/status/...` from the health cache when set.
    pub health: Option<HealthHandle>,
    /// `[loxilb] nat_mode`: the mode of load balancers whose flavor names none,
    /// which decides whether the DSR limits apply.
    pub nat_mode: NatMode,
    /// `[ingress] require_uuid_ids`: object ids must be UUIDs.
    pub uuid_ids: bool,
}

/// The ingress router. `max_body_bytes` bounds every request body (413 beyond).
pub fn router(state: ApiState, max_body_bytes: usize) -> Router {
    let status = state
        .health
        .clone()
        .map(|h| crate::health::router(h, state.store.clone()))
        .unwrap_or_default();
    Router::new()
        .route(
            "/v1/events",
            post(events::post_event).get(events::list_events),
        )
        .route(
            "/v1/events/{id}",
            get(events::get_event).delete(events::clear_event),
        )
        .route("/v1/events/{id}/retry", post(events::retry_event))
        .route("/v1/desired/loadbalancers", get(desired::list))
        .route("/v1/desired/loadbalancers/{id}", get(desired::one))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
        .merge(status)
        .layer(DefaultBodyLimit::max(max_body_bytes))
}

/// The ingress router with extra routes (the recovery admin API) merged in, behind
/// the bearer-token check when `token` is given: the check covers every route.
pub fn router_with(
    state: ApiState,
    max_body_bytes: usize,
    extra: Router,
    token: Option<BearerToken>,
) -> Router {
    let app = router(state, max_body_bytes).merge(extra);
    match token {
        Some(t) => app.layer(axum::middleware::from_fn_with_state(t, auth::require_token)),
        None => app,
    }
}

/// The same router (status routes included) behind a bearer-token check, for the
/// TCP listener.
pub fn router_with_token(state: ApiState, max_body_bytes: usize, token: BearerToken) -> Router {
    router(state, max_body_bytes).layer(axum::middleware::from_fn_with_state(
        token,
        auth::require_token,
    ))
}

/// `app` (any router built here) with this instance's cluster status, shown by
/// `/healthz` and `/readyz`; without it they show a single instance.
pub fn with_cluster(app: Router, cluster: ClusterStatus) -> Router {
    app.layer(Extension(cluster))
}

/// The `cluster` object: the status handed in with [`with_cluster`], else single.
fn cluster_json(cluster: Option<Extension<ClusterStatus>>) -> serde_json::Value {
    cluster.map(|Extension(c)| c).unwrap_or_default().to_json()
}

async fn healthz(
    State(state): State<ApiState>,
    cluster: Option<Extension<ClusterStatus>>,
) -> Json<serde_json::Value> {
    Json(json!({
        "status": "ok",
        "loxilb_nodes": nodes_json(state.readiness.as_ref()),
        "cluster": cluster_json(cluster),
    }))
}

/// Ready means able to take events: the database answers and a LoxiLB node is
/// reachable. A follower is ready too (it journals events for the leader), so the
/// role is shown but does not change the answer.
async fn readyz(
    State(state): State<ApiState>,
    cluster: Option<Extension<ClusterStatus>>,
) -> (StatusCode, Json<serde_json::Value>) {
    let database = state.store.ping().await.is_ok();
    let loxilb = state.readiness.loxilb_reachable().await;
    let code = if database && loxilb {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let nodes = nodes_json(state.readiness.as_ref());
    (
        code,
        Json(json!({
            "database": database,
            "loxilb": loxilb,
            "loxilb_nodes": nodes,
            "cluster": cluster_json(cluster),
        })),
    )
}

#[cfg(test)]
mod tests;
