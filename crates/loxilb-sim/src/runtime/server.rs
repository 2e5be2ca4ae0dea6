//! HTTP front end: accept loop, per-request pipeline and connection cutting. The thin
//! runtime around the state machine: it reads HTTP, binds it into a machine request
//! ([`super::routes`]), calls `apply` under the lock, carries out the effects and answers.
//!
//! hyper is driven directly so that a request chosen for a "reset" can end with the
//! connection closed and no response bytes at all (the service returns an error, which makes
//! hyper drop the connection). Pipeline for /netlox/v1 requests, in order: read body →
//! latency → reset → interruption (cut, maybe restart) → injected fault → maintenance (503) → auth (401) → handler → record.
//! /sim/v1 control requests skip all of that and are not recorded.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, USER_AGENT};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::effects::{carry_out, with_sim};
use super::http::{json_response, Cut, Resp};
use super::knobs::{roll, RecordedRequest};
use super::lock::lock;
use super::routes::{to_op, Route};
use super::shared::Shared;
use crate::error::ApiError;
use crate::machine::{apply, EndpointOp, Op, Request as MachineRequest, Response};

/// LoxiLB's API base path.
pub const BASE_PATH: &str = "/netlox/v1";
/// Largest accepted request body (100k scripted endpoints fit comfortably).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// An error answered by the runtime itself (before the state machine runs).
fn error_response(shared: &Shared, e: &ApiError) -> Resp {
    let (status, body) = e.response(shared.version);
    json_response(status, body)
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

/// The parts of a request the pipeline reads.
struct Call {
    method: String,
    path: String,
    query: Option<String>,
    user_agent: Option<String>,
    auth: Option<String>,
    body: Bytes,
}

/// Read a request; Err is the answer to a body that cannot be read.
async fn read_call(shared: &Shared, req: Request<Incoming>) -> Result<Call, Resp> {
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (user_agent, auth) = (header(USER_AGENT), header(AUTHORIZATION));
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(c) => Ok(Call {
            method,
            path,
            query,
            user_agent,
            auth,
            body: c.to_bytes(),
        }),
        Err(_) => Err(error_response(
            shared,
            &ApiError::Openapi(400, "request body unreadable or too large".into()),
        )),
    }
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Resp, Cut> {
    let call = match read_call(&shared, req).await {
        Ok(call) => call,
        Err(resp) => return Ok(resp),
    };
    if let Some(rest) = call.path.strip_prefix("/sim/v1") {
        return Ok(super::control_http::handle(
            &shared,
            &call.method,
            rest,
            &call.body,
        ));
    }
    let Some(rel) = call.path.strip_prefix(BASE_PATH) else {
        let e = ApiError::Openapi(404, format!("path {} was not found", call.path));
        return Ok(error_response(&shared, &e));
    };
    let rel = if rel.is_empty() { "/" } else { rel }.to_string();
    api_call(&shared, call, &rel).await
}

/// A /netlox/v1 call through the knobs, the state machine and the log.
async fn api_call(shared: &Arc<Shared>, call: Call, rel: &str) -> Result<Resp, Cut> {
    let route = Route::parse(&call.method, rel);
    let kind = format!("{} {}", call.method, route.template());
    let latency = shared.knobs.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut record = RecordedRequest {
        method: call.method.clone(),
        path: rel.to_string(),
        query: call.query.clone(),
        body: recorded_body(&call.body),
        status: 0,
        user_agent: call.user_agent.clone(),
    };
    if cut(shared, &call.method, rel) {
        lock(&shared.log).record(record, &kind);
        return Err(Cut);
    }
    let response = knobs_or_apply(shared, route, &call, rel);
    record.status = response.status;
    tracing::debug!(method = %call.method, path = rel, status = response.status, "api call");
    lock(&shared.log).record(record, &kind);
    Ok(json_response(response.status, response.body))
}

/// Whether the connection is cut (a random reset, or an interruption, which may restart
/// LoxiLB first).
fn cut(shared: &Arc<Shared>, method: &str, rel: &str) -> bool {
    if roll(shared.knobs.reset_rate()) {
        return true;
    }
    let interrupted = super::interrupt::fire(&mut lock(&shared.knobs.interruptions), method, rel);
    if interrupted == Some(true) {
        with_sim(shared, |sim| sim.restart_empty(std::time::Instant::now()));
    }
    interrupted.is_some()
}

/// For an https probe, read its per-host CA files now, so that the machine decides
/// without touching the file system.
fn attach_host_ca(shared: &Shared, op: Op) -> Op {
    match op {
        Op::Endpoints(Ok(EndpointOp::Add { input, .. })) if input.probe_type == "https" => {
            let host_ca = lock(&shared.probing)
                .read_host_ca(&input.host_name)
                .map_err(|e| tracing::warn!(error = %e, "per-host CA not loaded"));
            Op::Endpoints(Ok(EndpointOp::Add { input, host_ca }))
        }
        op => op,
    }
}

/// An injected fault or maintenance answers first; otherwise LoxiLB does.
fn knobs_or_apply(shared: &Arc<Shared>, route: Route, call: &Call, rel: &str) -> Response {
    let knob_error = if let Some(status) = shared.knobs.fire_fault(&call.method, rel) {
        Some(ApiError::Status(status, "simulated fault".into()))
    } else if shared.knobs.maintenance() {
        Some(ApiError::Maintenance("maintenance mode".into()))
    } else {
        None
    };
    if let Some(e) = knob_error {
        let (status, body) = e.response(shared.version);
        return Response { status, body };
    }
    let op = to_op(
        route,
        call.query.as_deref(),
        &call.body,
        call.auth.as_deref(),
    );
    let op = attach_host_ca(shared, op);
    let req = MachineRequest {
        now: std::time::Instant::now(),
        token: call.auth.clone(),
        op,
    };
    let mut sim = lock(&shared.sim);
    let (response, effects) = apply(&mut sim, req);
    carry_out(shared, effects);
    response
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
