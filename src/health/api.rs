//! `GET /v1/status/{loadbalancers,pools,members}/{id}`: the cached status of one
//! object, its age and the LoxiLB facts behind it, without calling LoxiLB.
//!
//! 404 for an object the poller never derived a status for. An entry older than
//! status_cache_ttl is still shown (with `"fresh": false`): during a LoxiLB outage
//! the last known status and its age are exactly what an operator needs.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::snapshot::Kind;
use super::sync::HealthHandle;

/// The status routes; merged into the ingress router (same auth as the rest).
pub fn router(handle: HealthHandle) -> Router {
    Router::new()
        .route("/v1/status/loadbalancers/{id}", get(loadbalancer))
        .route("/v1/status/pools/{id}", get(pool))
        .route("/v1/status/members/{id}", get(member))
        .with_state(handle)
}

async fn loadbalancer(h: State<HealthHandle>, id: Path<String>) -> (StatusCode, Json<Value>) {
    answer(&h, Kind::Loadbalancer, &id)
}

async fn pool(h: State<HealthHandle>, id: Path<String>) -> (StatusCode, Json<Value>) {
    answer(&h, Kind::Pool, &id)
}

async fn member(h: State<HealthHandle>, id: Path<String>) -> (StatusCode, Json<Value>) {
    answer(&h, Kind::Member, &id)
}

fn answer(h: &HealthHandle, kind: Kind, id: &str) -> (StatusCode, Json<Value>) {
    h.with_cache(|cache| {
        let fresh = cache.get(kind, id);
        let Some(c) = fresh.as_ref().or_else(|| cache.peek(kind, id)) else {
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"error": format!("no status known for {} {id}", kind.collection())})),
            );
        };
        (
            StatusCode::OK,
            Json(json!({
                "id": id,
                "kind": kind,
                "operating_status": c.entry.status,
                "age_seconds": c.at.elapsed().as_secs_f64(),
                "fresh": fresh.is_some(),
                "loxilb": c.entry.detail,
            })),
        )
    })
}
