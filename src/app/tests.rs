//! `App::build` without sockets: the routers it returns answer through `oneshot`.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use super::*;
use crate::test_support::TestResult;

async fn status_of(router: Router, path: &str) -> TestResult<StatusCode> {
    let req = Request::builder().uri(path).body(Body::empty())?;
    Ok(match router.oneshot(req).await {
        Ok(resp) => resp.status(),
        Err(never) => match never {},
    })
}

/// A single instance built from its configuration answers its ingress, its
/// leader-only routes and `/metrics`; the token guards only the router it is given
/// to; shutdown stops every task and closes the store.
#[tokio::test]
async fn a_built_app_answers_without_sockets() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut config = Config::default();
    config.database.url = format!("sqlite://{}", dir.path().join("c.db").display());
    // Port 9 (discard) on loopback: nothing answers, as with a LoxiLB that is down.
    config.loxilb.nodes = vec!["http://127.0.0.1:9".into()];
    config.octavia.status_socket = dir.path().join("status.sock");
    let shutdown = Shutdown::new();
    let app = App::build(&config, &shutdown).await?;

    assert_eq!(
        status_of(app.ingress(None), "/healthz").await?,
        StatusCode::OK
    );
    assert_eq!(
        status_of(app.ingress(None), "/v1/dead-letters").await?,
        StatusCode::OK,
        "a single instance leads: its leader-only routes answer"
    );
    let guarded = app.ingress(Some(BearerToken::new("t")));
    assert_eq!(
        status_of(guarded, "/v1/dead-letters").await?,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(status_of(app.metrics(), "/metrics").await?, StatusCode::OK);
    assert!(!app.loxilb_reachable().await);

    shutdown.trigger();
    app.stop(&shutdown).await;
    Ok(())
}
