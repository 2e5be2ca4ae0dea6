//! Tiny loopback servers for driving the client into specific failures.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::loxilb::{ClientOptions, LoxilbClient};
use crate::test_support::lock;

/// A request the stub received.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: String,
    pub uri: String,
    pub auth: Option<String>,
    pub body: String,
}

#[derive(Default)]
struct StubState {
    script: Mutex<VecDeque<(u16, String)>>,
    default: Mutex<(u16, String)>,
    hits: Mutex<Vec<Hit>>,
    /// When set, `/auth/login` issues tokens "tok-1", "tok-2", ... and other paths
    /// answer 401 unless they carry the latest token.
    auth: Mutex<Option<usize>>,
}

/// An HTTP server answering from a script, then with a default answer.
pub struct Stub {
    pub url: String,
    state: Arc<StubState>,
}

impl Stub {
    pub async fn start() -> Stub {
        let state = Arc::new(StubState::default());
        *lock(&state.default) = (200, r#"{"code":200,"message":"Success"}"#.into());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Stub {
            url: format!("http://{addr}"),
            state,
        }
    }

    /// Queues answers, consumed one per request (logins excluded when auth is on).
    pub fn script(&self, answers: &[(u16, &str)]) {
        let mut s = lock(&self.state.script);
        s.extend(answers.iter().map(|(c, b)| (*c, b.to_string())));
    }

    pub fn set_default(&self, status: u16, body: &str) {
        *lock(&self.state.default) = (status, body.to_string());
    }

    pub fn enable_auth(&self) {
        *lock(&self.state.auth) = Some(0);
    }

    /// Makes the current token invalid, as when it expires.
    pub fn expire_tokens(&self) {
        let mut a = lock(&self.state.auth);
        if let Some(n) = a.as_mut() {
            *n += 1000;
        }
    }

    pub fn hits(&self) -> Vec<Hit> {
        lock(&self.state.hits).clone()
    }
}

async fn handle(
    State(state): State<Arc<StubState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    lock(&state.hits).push(Hit {
        method: method.to_string(),
        uri: uri.to_string(),
        auth: auth.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    {
        let mut a = lock(&state.auth);
        if let Some(issued) = a.as_mut() {
            if uri.path() == "/netlox/v1/auth/login" {
                *issued = *issued % 1000 + 1;
                return json(200, &format!(r#"{{"token":"tok-{issued}"}}"#));
            }
            if auth != Some(format!("tok-{issued}")) {
                return json(401, r#"{"code":401,"result":"token expired"}"#);
            }
        }
    }
    let next = lock(&state.script).pop_front();
    let (status, body) = next.unwrap_or_else(|| lock(&state.default).clone());
    json(status, &body)
}

fn json(status: u16, body: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// How a raw TCP stub treats each connection.
#[derive(Clone, Copy)]
pub enum Misbehaviour {
    /// Reads the request, then closes without answering.
    Reset,
    /// Reads the request and never answers.
    Hang,
}

/// A TCP server that accepts connections and misbehaves; returns its URL and a counter
/// of accepted connections.
pub async fn raw_stub(kind: Misbehaviour) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                if let Misbehaviour::Hang = kind {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                drop(sock);
            });
        }
    });
    (format!("http://{addr}"), count)
}

/// A loopback address nobody listens on.
pub async fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// Options for tests: fast backoff, generous rate limit.
pub fn opts(nodes: Vec<String>) -> ClientOptions {
    ClientOptions {
        nodes,
        timeout: Duration::from_secs(2),
        retries: 3,
        rate_limit_per_sec: 1000,
        backoff_min: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
        ..ClientOptions::default()
    }
}

pub fn client(nodes: Vec<String>) -> LoxilbClient {
    LoxilbClient::new(opts(nodes)).unwrap()
}
