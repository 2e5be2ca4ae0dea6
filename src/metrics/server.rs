//! The `/metrics` endpoint on its own TCP address (`[metrics] address`), apart from
//! the ingress API so that a scraper never needs the ingress socket or its token.
//! `app::run` serves [`router_for`] like every other listener.

use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Extension;
use axum::Router;

use crate::cluster::ClusterStatus;
use crate::dispatch::Intake;
use crate::serve::ConnLimits;
use crate::store::Store;

/// What the scrape-time gauges are read from.
#[derive(Clone)]
pub struct Sources {
    pub store: Store,
    pub intake: Intake,
}

/// The metrics router; tests drive it with `oneshot`. The role gauges show a single
/// instance; see [`router_for`] for cluster mode.
pub fn router(sources: Sources) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(sources)
}

/// The metrics router with this instance's cluster status behind the role gauges
/// (`is_leader`, `lease_epoch`, `cluster_role`).
pub fn router_for(sources: Sources, cluster: ClusterStatus) -> Router {
    router(sources).layer(Extension(cluster))
}

async fn scrape(
    State(s): State<Sources>,
    cluster: Option<Extension<ClusterStatus>>,
) -> impl IntoResponse {
    let m = super::global();
    let cluster = cluster.map(|Extension(c)| c).unwrap_or_default();
    m.cluster_status(&cluster);
    m.queue_depth
        .set(i64::try_from(s.intake.queue_depth()).unwrap_or(i64::MAX));
    if let Ok(n) = s.store.outbox_len().await {
        m.outbox_backlog.set(n);
    }
    if let Ok(n) = s.store.backlog_len().await {
        m.node_backlog.set(n);
    }
    if let Ok(oldest) = s.store.oldest_unfinished_at().await {
        let lag_ms = oldest.map_or(0, |t| (crate::store::now_ms() - t).max(0));
        m.journal_lag_seconds
            .set(Duration::from_millis(lag_ms.unsigned_abs()).as_secs_f64());
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.encode(),
    )
}

/// Connections the metrics listener holds at once: a scraper or two, never
/// hundreds.
pub const MAX_CONNECTIONS: usize = 64;

/// The ingress timeouts with the metrics listener's own cap.
pub fn limits(ingress: ConnLimits) -> ConnLimits {
    ConnLimits {
        max_connections: MAX_CONNECTIONS,
        ..ingress
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::TestResult;
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use tokio::sync::watch;
    use tower::ServiceExt;

    use super::*;
    use crate::cluster::Role;
    use crate::dispatch::DispatchOptions;
    use crate::drivers::{DesiredStateDrivers, DriverSet};
    use crate::shutdown::Shutdown;

    async fn scrape_text(app: &Router) -> TestResult<String> {
        let req = Request::get("/metrics").body(Body::empty())?;
        let resp = app.clone().oneshot(req).await?;
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The role gauges follow the status at every scrape, one `cluster_role` series
    /// per instance; the default is a single instance that leads.
    #[tokio::test]
    async fn metrics_show_the_role_epoch_and_leader() -> TestResult {
        let (store, _d) = crate::store::test_store().await;
        let drivers = DriverSet::from_one(Arc::new(DesiredStateDrivers::new(store.clone())));
        let dispatcher = crate::dispatch::Dispatcher::new(
            store.clone(),
            Arc::new(drivers),
            DispatchOptions::default(),
            Shutdown::new(),
        );
        let sources = Sources {
            store,
            intake: Intake::Local(dispatcher),
        };
        let (tx, rx) = watch::channel(Role::Follower {
            leader: Some("m-ctl-1".into()),
            epoch: 4,
        });
        let status = ClusterStatus::for_tests("m-ctl-2", rx);
        let app = router_for(sources.clone(), status);
        let text = scrape_text(&app).await?;
        for needle in [
            "loxilb_coordinator_is_leader{instance_id=\"m-ctl-2\"} 0",
            "loxilb_coordinator_lease_epoch{instance_id=\"m-ctl-2\"} 4",
            "loxilb_coordinator_cluster_role{instance_id=\"m-ctl-2\",role=\"follower\",leader=\"m-ctl-1\"} 1",
            "loxilb_coordinator_leadership_changes_total{instance_id=\"m-ctl-2\"}",
        ] {
            assert!(text.contains(needle), "missing {needle}:\n{text}");
        }
        let _ = tx.send(Role::Leader { epoch: 5 });
        super::super::global().leadership_changed("m-ctl-2");
        let text = scrape_text(&app).await?;
        for needle in [
            "loxilb_coordinator_is_leader{instance_id=\"m-ctl-2\"} 1",
            "loxilb_coordinator_lease_epoch{instance_id=\"m-ctl-2\"} 5",
            "loxilb_coordinator_cluster_role{instance_id=\"m-ctl-2\",role=\"leader\",leader=\"m-ctl-2\"} 1",
            "loxilb_coordinator_leadership_changes_total{instance_id=\"m-ctl-2\"} 1",
        ] {
            assert!(text.contains(needle), "missing {needle}:\n{text}");
        }
        assert!(
            !text.contains("role=\"follower\",leader=\"m-ctl-1\""),
            "stale series:\n{text}"
        );
        let single = scrape_text(&router(sources)).await?;
        let host = crate::config::host_name();
        let needle = format!("role=\"single\",leader=\"{host}\"}} 1");
        assert!(single.contains(&needle), "missing {needle}:\n{single}");
        Ok(())
    }
}
