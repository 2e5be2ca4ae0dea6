//! `GET /v1/desired/loadbalancers` and `GET /v1/desired/loadbalancers/{id}`: the
//! desired state exactly as stored, read-only.
//!
//! Why: `loxilb-coordinator-sync --dry-run` (the Python package's sync tool)
//! compares Octavia's database with what the daemon was told, object by object;
//! the status routes show statuses, not the stored bodies. Nothing here touches
//! LoxiLB or the journal's state. `in_flight` says that accepted events of the
//! load balancer are not applied yet, so a difference may be about to go away.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::{ApiError, ApiState};
use crate::store::Table;

/// Every stored load balancer's id, ordered.
pub(super) async fn list(State(state): State<ApiState>) -> Result<Json<Value>, ApiError> {
    let ids: Vec<Value> = state
        .store
        .all_objects(Table::Loadbalancers)
        .await?
        .into_iter()
        .filter_map(|b| b.get("loadbalancer_id").cloned())
        .collect();
    Ok(Json(json!({ "loadbalancers": ids })))
}

/// One load balancer and every object below it, each list ordered by id; 404 when
/// it is not in the desired state.
pub(super) async fn one(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let Some(b) = state.store.lb_bodies(&id).await? else {
        return Err(ApiError::NotFound(format!(
            "load balancer {id} is not in the desired state"
        )));
    };
    let (in_flight, _) = state.store.lbs_in_flight().await?;
    Ok(Json(json!({
        "loadbalancer": b.loadbalancer,
        "listeners": b.listeners,
        "pools": b.pools,
        "members": b.members,
        "health_monitors": b.monitors,
        "in_flight": in_flight.contains(&id),
    })))
}
