//! Leadership terms in a cluster: start the leader's tasks when this instance wins
//! the lease, stop them when it may no longer act, and route the leader-only API
//! (status, reconcile, orphans, dead letters) to them while they run.
//!
//! Why a term is torn down whole: everything the leader's tasks hold in memory
//! (queues, the health index, caches) was built under one epoch. A new term starts
//! from the shared database, as a fresh start would, and no state of a term that
//! another instance may have followed leaks into the next.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::watch;
use tower::ServiceExt;
use tracing::{info, warn};

use crate::cluster::Role;
use crate::config::Config;
use crate::dispatch::{JournalTail, LocalLeader};
use crate::loxilb::LoxilbClient;
use crate::shutdown::Shutdown;
use crate::store::Store;

use super::leader;

/// Pause before starting a term again after a failed start (the database was
/// unreachable, say).
const RETRY: Duration = Duration::from_secs(2);

/// The running term's API, or who leads instead.
#[derive(Clone, Default)]
pub struct LeaderRoutes(Arc<RwLock<Slot>>);

#[derive(Default)]
struct Slot {
    router: Option<Router>,
    leader: Option<String>,
    /// While following: the status routes answered from the status board.
    status: Option<Router>,
}

impl LeaderRoutes {
    /// Routes whose status paths a follower answers with `status` (the status board,
    /// see `health::board`) instead of 503.
    pub fn with_follower_status(status: Option<Router>) -> LeaderRoutes {
        let routes = LeaderRoutes::default();
        routes.0.write().unwrap_or_else(|p| p.into_inner()).status = status;
        routes
    }

    fn set(&self, router: Option<Router>, leader: Option<String>) {
        let mut s = self.0.write().unwrap_or_else(|p| p.into_inner());
        s.router = router;
        s.leader = leader;
    }

    /// The leader-only paths (every path of the leader's API, see
    /// [`leader::api_paths`]), answered by the running term or with 503 naming the
    /// leader (the CLI and Octavia's operators then know where to ask).
    pub fn router(&self) -> Router {
        leader::api_paths()
            .fold(Router::new(), |r, p| r.route(p, any(forward)))
            .with_state(self.clone())
    }
}

async fn forward(State(routes): State<LeaderRoutes>, req: Request<Body>) -> Response {
    let (router, leader) = {
        let s = routes.0.read().unwrap_or_else(|p| p.into_inner());
        let status = s
            .status
            .as_ref()
            .filter(|_| req.uri().path().starts_with("/v1/status/"));
        (
            s.router.clone().or_else(|| status.cloned()),
            s.leader.clone(),
        )
    };
    match router {
        Some(r) => match r.oneshot(without_extensions(req)).await {
            Ok(resp) => resp,
            Err(never) => match never {},
        },
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "error": "this instance is not the leader; ask the leader",
                "leader": leader,
            })),
        )
            .into_response(),
    }
}

/// `req` without its extensions. The outer router's path parameters live there, and
/// the term's router adds its own: axum then finds two parameters for one `{id}` and
/// answers 500 (every `/v1/status/.../{id}` did, on a cluster's leader). Nothing the
/// term's routes read comes from an extension.
fn without_extensions(req: Request<Body>) -> Request<Body> {
    let (mut parts, body) = req.into_parts();
    parts.extensions = axum::http::Extensions::new();
    Request::from_parts(parts, body)
}

/// Background task: follows the election and runs the leader's tasks per term.
pub struct Terms {
    pub config: Arc<Config>,
    pub store: Store,
    pub client: LoxilbClient,
    /// The driver agent's client, fenced like `client`.
    pub agent: crate::octavia::DriverAgentClient,
    pub roles: watch::Receiver<Role>,
    pub local: LocalLeader,
    pub routes: LeaderRoutes,
    /// How often the leader reads the shared journal for new events.
    pub poll: Duration,
}

impl Terms {
    pub async fn run(mut self, shutdown: Shutdown) {
        let mut term: Option<(Shutdown, u64)> = None;
        loop {
            let role = self.roles.borrow_and_update().clone();
            let leading = role.is_leader();
            term = self.follow(role, term, &shutdown).await;
            // A leader whose term failed to start tries again while it leads.
            let retry = leading && term.is_none();
            tokio::select! {
                _ = shutdown.triggered() => break,
                changed = self.roles.changed() => if changed.is_err() { break },
                _ = tokio::time::sleep(RETRY), if retry => {}
            }
        }
        if let Some((child, _)) = term {
            self.end(child, None).await;
        }
    }

    /// Start, keep or end the term for `role`.
    async fn follow(
        &self,
        role: Role,
        term: Option<(Shutdown, u64)>,
        shutdown: &Shutdown,
    ) -> Option<(Shutdown, u64)> {
        let epoch = role.epoch();
        match (role, term) {
            (Role::Follower { leader, .. }, Some((child, _))) => {
                self.end(child, leader).await;
                None
            }
            (Role::Follower { leader, .. }, None) => {
                self.routes.set(None, leader);
                None
            }
            (_, Some((child, e))) if e == epoch => Some((child, e)),
            (_, old) => {
                if let Some((child, _)) = old {
                    self.end(child, None).await;
                }
                self.begin(epoch, shutdown).await
            }
        }
    }

    async fn begin(&self, epoch: u64, shutdown: &Shutdown) -> Option<(Shutdown, u64)> {
        let child = shutdown.child();
        let agent = self.agent.clone();
        match leader::start(&self.config, &self.store, &self.client, agent, &child).await {
            Ok(l) => {
                info!(
                    epoch,
                    "leading: replaying the journal and taking over LoxiLB"
                );
                let tail = JournalTail::new(self.store.clone(), l.dispatcher.clone(), self.poll);
                child.spawn(tail.run(child.clone()));
                self.local.set(Some(l.dispatcher.clone()));
                if let Some(db) = self.store.mysql() {
                    let publisher = crate::health::board::BoardPublisher {
                        health: l.health.clone(),
                        store: db.clone(),
                    };
                    child.spawn(publisher.run(child.clone()));
                }
                self.routes.set(Some(l.api(&self.store)), None);
                Some((child, epoch))
            }
            Err(e) => {
                // Retried after `RETRY` while the election keeps the lease.
                warn!(error = %e, epoch, "cannot start leading");
                child.trigger();
                child.wait_complete().await;
                None
            }
        }
    }

    async fn end(&self, child: Shutdown, leader: Option<String>) {
        info!("no longer leading: stopping the leader's tasks");
        self.local.set(None);
        self.routes.set(None, leader);
        child.trigger();
        child.wait_complete().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_store;
    use crate::test_support::TestResult;

    async fn get(routes: &LeaderRoutes, path: &str) -> TestResult<(StatusCode, serde_json::Value)> {
        let req = Request::builder().uri(path).body(Body::empty())?;
        let resp = routes
            .router()
            .oneshot(req)
            .await
            .unwrap_or_else(|e| match e {});
        let status = resp.status();
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Ok((status, serde_json::from_slice(&bytes).unwrap_or_default()))
    }

    async fn wait_for(routes: &LeaderRoutes, want: StatusCode) -> TestResult<serde_json::Value> {
        for _ in 0..500 {
            let (status, body) = get(routes, "/v1/dead-letters").await?;
            if status == want {
                return Ok(body);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("/v1/dead-letters never answered {want}");
    }

    /// A forwarded path keeps exactly its own parameters (it had two, the outer
    /// router's and the term's, and axum answered 500).
    #[tokio::test]
    async fn forwarded_paths_keep_their_parameters() -> TestResult {
        let echo = |axum::extract::Path(id): axum::extract::Path<String>| async move {
            Json(json!({ "id": id }))
        };
        let leading = Router::new().route("/v1/status/pools/{id}", axum::routing::get(echo));
        let routes = LeaderRoutes::default();
        routes.set(Some(leading), None);
        let (status, body) = get(&routes, "/v1/status/pools/p1").await?;
        assert_eq!((status, body), (StatusCode::OK, json!({"id": "p1"})));
        // A follower's status board routes are reached the same way.
        let board = Router::new().route("/v1/status/members/{id}", axum::routing::get(echo));
        let routes = LeaderRoutes::with_follower_status(Some(board));
        let (status, body) = get(&routes, "/v1/status/members/m1").await?;
        assert_eq!((status, body), (StatusCode::OK, json!({"id": "m1"})));
        let (status, _) = get(&routes, "/v1/dead-letters").await?;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "not a status path");
        Ok(())
    }

    /// The paths `router` serves, read from its `Debug` output: axum lists them
    /// there and nowhere public.
    fn served_paths(router: &Router) -> std::collections::BTreeSet<String> {
        format!("{router:?}")
            .split('"')
            .filter(|s| s.starts_with("/v1/"))
            .map(str::to_string)
            .collect()
    }

    /// Every route of the leader's API is forwarded: a route added to a leader
    /// router without its path in that router's `PATHS` fails here.
    #[tokio::test]
    async fn every_leader_route_is_forwarded() -> TestResult {
        let (store, dir) = test_store().await;
        let mut config = Config::default();
        config.loxilb.nodes = vec!["http://127.0.0.1:9".into()];
        config.octavia.status_socket = dir.path().join("status.sock");
        let client = crate::app::loxilb_client(&config, crate::fence::Fence::always(), None)?;
        let shutdown = Shutdown::new();
        let leader =
            leader::start(&config, &store, &client, config.octavia.client(), &shutdown).await?;
        let served = served_paths(&leader.api(&store));
        let forwarded: std::collections::BTreeSet<String> =
            leader::api_paths().map(str::to_string).collect();
        assert_eq!(served, forwarded);
        // No term runs: each forwarded path answers 503 naming the leader, not 404.
        let routes = LeaderRoutes::default();
        for path in &served {
            let (status, body) = get(&routes, &path.replace("{id}", "x")).await?;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}");
            assert!(body.get("leader").is_some(), "{path}: {body}");
        }
        shutdown.trigger();
        shutdown.wait_complete().await;
        Ok(())
    }

    /// Winning the lease starts a term (the leader-only API answers, a dispatcher
    /// is local); losing it stops the term and the API names the new leader.
    #[tokio::test]
    async fn terms_follow_the_election() -> TestResult {
        let (store, dir) = test_store().await;
        let mut config = Config::default();
        config.loxilb.nodes = vec!["http://127.0.0.1:9".into()];
        config.octavia.status_socket = dir.path().join("status.sock");
        let client = crate::app::loxilb_client(&config, crate::fence::Fence::always(), None)?;
        let agent = config.octavia.client();
        let (tx, roles) = watch::channel(Role::Follower {
            leader: None,
            epoch: 0,
        });
        let (local, routes) = (LocalLeader::default(), LeaderRoutes::default());
        let shutdown = Shutdown::new();
        let terms = Terms {
            config: Arc::new(config),
            store,
            client,
            agent,
            roles,
            local: local.clone(),
            routes: routes.clone(),
            poll: Duration::from_millis(20),
        };
        shutdown.spawn(terms.run(shutdown.clone()));
        wait_for(&routes, StatusCode::SERVICE_UNAVAILABLE).await?;
        assert!(local.get().is_none());

        let _ = tx.send(Role::Leader { epoch: 1 });
        wait_for(&routes, StatusCode::OK).await?;
        assert!(local.get().is_some(), "the term's dispatcher is local");

        let _ = tx.send(Role::Follower {
            leader: Some("controller-2".into()),
            epoch: 1,
        });
        let body = wait_for(&routes, StatusCode::SERVICE_UNAVAILABLE).await?;
        assert_eq!(body["leader"], "controller-2");
        assert!(local.get().is_none());
        shutdown.trigger();
        shutdown.wait_complete().await;
        Ok(())
    }
}
