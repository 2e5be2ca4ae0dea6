//! HTTP front end: accept loop, per-request pipeline and connection cutting.
//!
//! hyper is driven directly so that a request chosen for a "reset" can end with the
//! connection closed and no response bytes at all (the service returns an error, which makes
//! hyper drop the connection). Pipeline for /netlox/v1 requests, in order: read body →
//! latency → reset → interruption (cut, maybe restart) → injected fault → maintenance (503) → auth (401) → handler → record.
//! /sim/v1 control requests skip all of that and are not recorded.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::api::{self, Route};
use crate::control::RecordedRequest;
use crate::error::ApiError;
use crate::state::{lock, roll, Shared};

/// LoxiLB's API base path.
pub const BASE_PATH: &str = "/netlox/v1";
/// Largest accepted request body (100k scripted endpoints fit comfortably).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// Returned by the service to make hyper close the connection without answering.
#[derive(Debug, thiserror::Error)]
#[error("connection cut by simulator")]
pub(crate) struct Cut;

pub(crate) type Resp = Response<Full<Bytes>>;

/// Build a JSON response.
pub(crate) fn json_response(status: u16, body: Vec<u8>) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error_response(shared: &Shared, e: &ApiError) -> (u16, Vec<u8>) {
    e.response(shared.version)
}

/// Serve until `stop` fires; then close the listener and every open connection.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut conns: JoinSet<()> = JoinSet::new();
    let mut stop_gone = false;
    loop {
        tokio::select! {
            res = &mut stop, if !stop_gone => match res {
                Ok(()) => break,
                // The handle was dropped without shutdown: keep serving.
                Err(_) => stop_gone = true,
            },
            acc = listener.accept() => match acc {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let shared = shared.clone();
                    conns.spawn(async move {
                        let svc = service_fn(move |req| handle(shared.clone(), req));
                        if let Err(e) = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), svc)
                            .await
                        {
                            tracing::debug!(error = %e, "connection ended");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    conns.shutdown().await;
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Resp, Cut> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let user_agent = req
        .headers()
        .get(hyper::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let auth = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            let (s, b) = error_response(
                &shared,
                &ApiError::Openapi(400, "request body unreadable or too large".into()),
            );
            return Ok(json_response(s, b));
        }
    };
    if let Some(rest) = path.strip_prefix("/sim/v1") {
        return Ok(crate::control_http::handle(&shared, &method, rest, &body));
    }
    let Some(rel) = path.strip_prefix(BASE_PATH) else {
        let (s, b) = error_response(
            &shared,
            &ApiError::Openapi(404, format!("path {path} was not found")),
        );
        return Ok(json_response(s, b));
    };
    let rel = if rel.is_empty() { "/" } else { rel };
    let route = Route::parse(&method, rel);
    let kind = format!("{method} {}", route.template());

    let latency = shared.knobs.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut record = RecordedRequest {
        method: method.clone(),
        path: rel.to_string(),
        query: query.clone(),
        body: recorded_body(&body),
        status: 0,
        user_agent,
    };
    if roll(shared.knobs.reset_rate()) {
        lock(&shared.log).record(record, &kind);
        return Err(Cut);
    }
    let interrupted = crate::interrupt::fire(&mut lock(&shared.knobs.interruptions), &method, rel);
    if let Some(restart) = interrupted {
        if restart {
            crate::control::Control {
                shared: shared.clone(),
            }
            .restart_empty();
        }
        lock(&shared.log).record(record, &kind);
        return Err(Cut);
    }
    let result = if let Some(status) = shared.knobs.fire_fault(&method, rel) {
        Err(ApiError::Status(status, "simulated fault".into()))
    } else if shared.knobs.maintenance() {
        Err(ApiError::Maintenance("maintenance mode".into()))
    } else {
        let authorized = if route.needs_auth() {
            api::authorize(&shared, auth.as_deref())
        } else {
            Ok(())
        };
        authorized
            .and_then(|()| api::handle(&shared, &route, query.as_deref(), auth.as_deref(), &body))
    };
    let (status, bytes) = match result {
        Ok(a) => a,
        Err(e) => error_response(&shared, &e),
    };
    record.status = status;
    tracing::debug!(%method, path = rel, status, "api call");
    lock(&shared.log).record(record, &kind);
    Ok(json_response(status, bytes))
}

fn recorded_body(body: &[u8]) -> Option<serde_json::Value> {
    if body.is_empty() {
        return None;
    }
    Some(
        serde_json::from_slice(body).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(body).into_owned())
        }),
    )
}
