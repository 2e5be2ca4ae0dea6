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
//!
//! The cache is the leader's own, or on a follower in cluster mode the one the
//! leader published ([`super::board`]): the answers have the same shape and ages.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::board;
use super::cache::HealthStatusCache;
use super::snapshot::Kind;
use super::sync::HealthHandle;
use crate::mapping::LbTree;
use crate::store::mysql::{BoardSelect, MysqlStore};
use crate::store::Store;

/// Where the statuses come from.
#[derive(Clone, Debug)]
enum Source {
    /// This instance polls LoxiLB (the leader, or a single instance).
    Live(HealthHandle),
    /// A follower: what the leader published, read per request.
    Board { db: MysqlStore, ttl: Duration },
}

/// What the status routes read: the statuses and the desired state.
#[derive(Clone, Debug)]
struct StatusState {
    source: Source,
    store: Store,
}

type Answer = (StatusCode, Json<Value>);

impl StatusState {
    /// Run `f` on the statuses `select` names (a follower reads only those).
    async fn with<T>(
        &self,
        select: BoardSelect<'_>,
        f: impl FnOnce(&HealthStatusCache) -> T,
    ) -> Result<T, Answer> {
        match &self.source {
            Source::Live(h) => Ok(h.with_cache(f)),
            Source::Board { db, ttl } => match board::load(db, select, *ttl).await {
                Ok(Some((_, cache))) => Ok(f(&cache)),
                // No leader has published yet: nothing is known.
                Ok(None) => Ok(f(&HealthStatusCache::new(*ttl))),
                Err(e) => Err((
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({"error": format!("cannot read the status board: {e}")})),
                )),
            },
        }
    }
}

/// The status routes; merged into the ingress router (same auth as the rest).
pub fn router(health: HealthHandle, store: Store) -> Router {
    routes(StatusState {
        source: Source::Live(health),
        store,
    })
}

/// The status routes of a follower in cluster mode, answered from the status board
/// the leader publishes; None when `store` is not a shared (MySQL) database.
pub fn follower_router(store: Store, ttl: Duration) -> Option<Router> {
    let db = store.mysql()?.clone();
    Some(routes(StatusState {
        source: Source::Board { db, ttl },
        store,
    }))
}

const LOADBALANCERS: &str = "/v1/status/loadbalancers";
const LOADBALANCER: &str = "/v1/status/loadbalancers/{id}";
const POOL: &str = "/v1/status/pools/{id}";
const MEMBER: &str = "/v1/status/members/{id}";

/// Every path [`router`] (and [`follower_router`]) serves. The leader answers them
/// from its own cache; a cluster instance forwards exactly these to its running term
/// (`app::term`), so a route is listed here only.
pub const PATHS: [&str; 4] = [LOADBALANCERS, LOADBALANCER, POOL, MEMBER];

fn routes(state: StatusState) -> Router {
    Router::new()
        .route(LOADBALANCERS, get(loadbalancers))
        .route(LOADBALANCER, get(loadbalancer))
        .route(POOL, get(pool))
        .route(MEMBER, get(member))
        .with_state(state)
}

/// Every cached load balancer, ordered by id.
async fn loadbalancers(s: State<StatusState>) -> Result<Json<Value>, Answer> {
    let mut rows: Vec<Value> = s
        .with(BoardSelect::Kind("loadbalancer"), |cache| {
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
        })
        .await?;
    rows.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    Ok(Json(json!({ "loadbalancers": rows })))
}

async fn loadbalancer(s: State<StatusState>, id: Path<String>) -> Answer {
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
        return answer(&s, Kind::Loadbalancer, &id).await;
    };
    let in_flight = match s.store.lbs_in_flight().await {
        Ok((lbs, _)) => lbs.contains(id.as_str()),
        Err(e) => return internal(&e),
    };
    let ids = tree_ids(&tree);
    match s
        .with(BoardSelect::Ids(&ids), |cache| {
            super::tree::build(&tree, cache, in_flight)
        })
        .await
    {
        Ok(body) => (StatusCode::OK, Json(body)),
        Err(e) => e,
    }
}

/// The ids whose statuses a load balancer's tree shows.
fn tree_ids(tree: &LbTree) -> Vec<String> {
    let mut ids = vec![tree.lb.loadbalancer_id.clone()];
    ids.extend(tree.listeners.iter().map(|l| l.listener_id.clone()));
    ids.extend(tree.pools.iter().map(|p| p.pool_id.clone()));
    ids.extend(tree.members.iter().map(|m| m.member_id.clone()));
    ids
}

fn internal(e: &dyn std::fmt::Display) -> Answer {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(json!({"error": format!("cannot read desired state: {e}")})),
    )
}

async fn pool(s: State<StatusState>, id: Path<String>) -> Answer {
    answer(&s, Kind::Pool, &id).await
}

async fn member(s: State<StatusState>, id: Path<String>) -> Answer {
    answer(&s, Kind::Member, &id).await
}

async fn answer(s: &StatusState, kind: Kind, id: &str) -> Answer {
    let ids = [id.to_string()];
    let got = s
        .with(BoardSelect::Ids(&ids), |cache| {
            let fresh = cache.get(kind, id);
            let Some(c) = fresh.as_ref().or_else(|| cache.peek(kind, id)) else {
                return (
                    StatusCode::NOT_FOUND,
                    Json(
                        json!({"error": format!("no status known for {} {id}", kind.collection())}),
                    ),
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
        .await;
    got.unwrap_or_else(|e| e)
}
