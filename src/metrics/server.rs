//! The `/metrics` endpoint on its own TCP address (`[metrics] address`), apart from
//! the ingress API so that a scraper never needs the ingress socket or its token.

use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::dispatch::Intake;
use crate::serve::ConnLimits;
use crate::shutdown::Shutdown;
use crate::store::Store;

/// What the scrape-time gauges are read from.
#[derive(Clone)]
pub struct Sources {
    pub store: Store,
    pub intake: Intake,
}

/// The metrics router; tests drive it with `oneshot`.
pub fn router(sources: Sources) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(sources)
}

async fn scrape(State(s): State<Sources>) -> impl IntoResponse {
    let m = super::global();
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

/// Serve `/metrics` on `listener` until shutdown.
pub async fn serve(
    listener: TcpListener,
    sources: Sources,
    limits: ConnLimits,
    shutdown: Shutdown,
) {
    let app = router(sources);
    if let Err(e) = crate::serve::serve(
        crate::serve::Listener::Tcp(listener),
        app,
        limits,
        None,
        shutdown,
    )
    .await
    {
        tracing::warn!(error = %e, "metrics endpoint stopped");
    }
}
