//! `GET /v1/status/{loadbalancers,pools,members}/{id}`: the cached status of one
//! object, its age and the LoxiLB facts behind it, without calling LoxiLB; and
//! `GET /v1/status/loadbalancers`: every load balancer's status at a glance.
//!
//! A load balancer answers with its whole status tree ([`super::tree`]), read from
//! the stored desired state, so the operator sees which member makes it DEGRADED.
//! 404 for an object the poller never derived a status for and the store does not
//! hold. An entry older than status_cache_ttl is still shown (with `"fresh":
//! false`): during a LoxiLB outage the last known status and its age are exactly
//! what an operator needs.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::snapshot::Kind;
use super::sync::HealthHandle;
use crate::mapping::LbTree;
use crate::store::Store;

/// What the status routes read: the health cache and the desired state.
#[derive(Clone, Debug)]
struct StatusState {
    health: HealthHandle,
    store: Store,
}

/// The status routes; merged into the ingress router (same auth as the rest).
pub fn router(health: HealthHandle, store: Store) -> Router {
    Router::new()
        .route("/v1/status/loadbalancers", get(loadbalancers))
        .route("/v1/status/loadbalancers/{id}", get(loadbalancer))
        .route("/v1/status/pools/{id}", get(pool))
        .route("/v1/status/members/{id}", get(member))
        .with_state(StatusState { health, store })
}

/// Every cached load balancer, ordered by id.
async fn loadbalancers(s: State<StatusState>) -> Json<Value> {
    let mut rows: Vec<Value> = s.health.with_cache(|cache| {
        cache
            .entries(Kind::Loadbalancer)
            .map(|(id, c)| {
                json!({
                    "id": &**id,
                    "operating_status": c.entry.status,
                    "age_seconds": c.at.elapsed().as_secs_f64(),
                    "fresh": cache.is_fresh(c),
                })
            })
            .collect()
    });
    rows.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Json(json!({ "loadbalancers": rows }))
}

async fn loadbalancer(s: State<StatusState>, id: Path<String>) -> (StatusCode, Json<Value>) {
    let bodies = match s.store.lb_bodies(&id).await {
        Ok(b) => b,
        Err(e) => return internal(&e),
    };
    let tree = bodies.and_then(|b| {
        LbTree::from_bodies(
            &b.loadbalancer,
            &b.listeners,
            &b.pools,
            &b.members,
            &b.monitors,
        )
        .ok()
    });
    let Some(tree) = tree else {
        // Not stored (or unreadable): the cached entry alone, if any.
        return answer(&s.health, Kind::Loadbalancer, &id);
    };
    let in_flight = match s.store.lbs_in_flight().await {
        Ok((lbs, _)) => lbs.contains(id.as_str()),
        Err(e) => return internal(&e),
    };
    let body = s
        .health
        .with_cache(|cache| super::tree::build(&tree, cache, in_flight));
    (StatusCode::OK, Json(body))
}

fn internal(e: &dyn std::fmt::Display) -> (StatusCode, Json<Value>) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": format!("cannot read desired state: {e}")})),
    )
}

async fn pool(s: State<StatusState>, id: Path<String>) -> (StatusCode, Json<Value>) {
    answer(&s.health, Kind::Pool, &id)
}

async fn member(s: State<StatusState>, id: Path<String>) -> (StatusCode, Json<Value>) {
    answer(&s.health, Kind::Member, &id)
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
