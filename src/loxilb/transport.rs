//! One HTTP exchange with a LoxiLB node: rate limiting, authentication, retries, logging.
//!
//! Every attempt (including logins) first takes a cell from the shared governor limiter, so
//! `rate_limit_per_sec` bounds the daemon's total LoxiLB traffic however many nodes and
//! tasks there are. Transient failures are retried with exponential backoff and full
//! jitter (a uniformly random sleep between zero and the exponential delay), which spreads
//! out the retries of many concurrent callers after a node comes back.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::{Method, StatusCode, Url};
use tokio::sync::Mutex;
use tracing::debug;

use super::error::{ErrorKind, LoxilbError};
use super::types::{ErrorBody, LoginRequest, LoginResponse};

/// How much of a non-JSON error body is kept in an error's detail.
const BODY_EXCERPT: usize = 200;

/// Login credentials; `Debug` is redacted so they cannot leak through a log line.
pub(crate) struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.username)
    }
}

/// A configured LoxiLB node.
#[derive(Debug)]
pub(crate) struct Node {
    /// The URL as configured (used in logs and errors).
    pub url: String,
    /// `url` with the API base path `/netlox/v1`.
    pub base: Url,
    /// Cached login token; `None` until the first call (or after a 401).
    token: Mutex<Option<String>>,
}

impl Node {
    pub fn new(url: &str) -> Result<Self, LoxilbError> {
        let trimmed = url.trim().trim_end_matches('/');
        let mut base = Url::parse(trimmed)
            .map_err(|e| LoxilbError::config(url, format!("invalid node URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.host().is_none() {
            return Err(LoxilbError::config(
                url,
                "node URL must be http(s)://host[:port]",
            ));
        }
        if !base.path().ends_with("/netlox/v1") {
            let path = format!("{}/netlox/v1", base.path().trim_end_matches('/'));
            base.set_path(&path);
        }
        Ok(Self {
            url: trimmed.to_string(),
            base,
            token: Mutex::new(None),
        })
    }
}

/// A request to send: API path segments below `/netlox/v1`, query pairs and JSON body.
pub(crate) struct Request<'a> {
    pub method: Method,
    pub segments: &'a [&'a str],
    pub query: &'a [(&'a str, String)],
    pub body: Option<Vec<u8>>,
}

/// A successful (2xx) answer.
pub(crate) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// A raw answer of any status.
struct RawReply {
    status: StatusCode,
    body: Vec<u8>,
}

/// Shared machinery behind [`super::LoxilbClient`].
pub(crate) struct Transport {
    pub http: reqwest::Client,
    pub nodes: Vec<Node>,
    pub limiter: DefaultDirectRateLimiter,
    pub retries: u32,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub credentials: Option<Credentials>,
    /// Changes (anything but GET) go out only while this allows (see `fence`).
    pub fence: crate::fence::Fence,
}

impl Transport {
    pub fn limiter(per_sec: std::num::NonZeroU32) -> DefaultDirectRateLimiter {
        RateLimiter::direct(Quota::per_second(per_sec))
    }

    /// Sends `req` to `node`, retrying transient failures; non-2xx answers become errors.
    pub async fn execute(&self, node: &Node, req: &Request<'_>) -> Result<Reply, LoxilbError> {
        let url = build_url(&node.base, req.segments, req.query);
        let path = path_of(&url);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.backoff_min)
            .with_max_delay(self.backoff_max)
            .with_max_times(self.retries as usize)
            .build()
            .map(full_jitter as fn(Duration) -> Duration);
        let attempts = AtomicU32::new(0);
        let fenced = || req.method != Method::GET && !self.fence.may_act();
        if fenced() {
            return Err(not_leader(node, req, &path));
        }
        (|| {
            attempts.fetch_add(1, Ordering::Relaxed);
            self.attempt(node, req, &url, &path)
        })
        .retry(backoff)
        // A leader that lost its lease between attempts stops retrying at once.
        .when(|e| e.is_transient() && !fenced())
        .notify(|e: &LoxilbError, delay| {
            debug!(node = %node.url, method = %req.method, path = %path,
                status = ?e.status, error = %e.detail, delay_ms = delay.as_millis() as u64,
                "LoxiLB call failed transiently, retrying");
        })
        .await
        .map_err(|mut e| {
            let n = attempts.load(Ordering::Relaxed);
            if n > 1 {
                e.detail = format!("{} (after {n} attempts)", e.detail);
            }
            e
        })
    }

    /// One attempt, including a single re-login when a cached token was rejected.
    async fn attempt(
        &self,
        node: &Node,
        req: &Request<'_>,
        url: &Url,
        path: &str,
    ) -> Result<Reply, LoxilbError> {
        let token = self.token(node).await?;
        let mut raw = self
            .send_once(node, req, url, path, token.as_deref())
            .await?;
        if self.credentials.is_some() && token_rejected(&raw) {
            self.forget_token(node, token.as_deref()).await;
            let token = self.token(node).await?;
            raw = self
                .send_once(node, req, url, path, token.as_deref())
                .await?;
        }
        into_result(node, &req.method, path, raw)
    }

    /// The node's token, logging in first when there is none. Holding the node's lock
    /// while logging in keeps concurrent callers from logging in several times.
    async fn token(&self, node: &Node) -> Result<Option<String>, LoxilbError> {
        let Some(creds) = &self.credentials else {
            return Ok(None);
        };
        let mut slot = node.token.lock().await;
        if let Some(t) = slot.as_ref() {
            return Ok(Some(t.clone()));
        }
        let token = self.login(node, creds).await?;
        *slot = Some(token.clone());
        Ok(Some(token))
    }

    /// Drops the cached token unless another caller has already replaced it.
    async fn forget_token(&self, node: &Node, used: Option<&str>) {
        let mut slot = node.token.lock().await;
        if slot.as_deref() == used {
            *slot = None;
        }
    }

    async fn login(&self, node: &Node, creds: &Credentials) -> Result<String, LoxilbError> {
        let url = build_url(&node.base, &["auth", "login"], &[]);
        let path = path_of(&url);
        let body = serde_json::to_vec(&LoginRequest {
            username: &creds.username,
            password: &creds.password,
        })
        .map_err(|e| LoxilbError::config(&node.url, format!("login body: {e}")))?;
        let req = Request {
            method: Method::POST,
            segments: &[],
            query: &[],
            body: Some(body),
        };
        let raw = self.send_once(node, &req, &url, &path, None).await?;
        let reply = into_result(node, &req.method, &path, raw)?;
        let parsed: LoginResponse = serde_json::from_slice(&reply.body).map_err(|e| {
            error_for(node, &req.method, &path, ErrorKind::Permanent, None, None)
                .with_detail(format!("unreadable login answer: {e}"))
        })?;
        if parsed.token.is_empty() {
            // LoxiLB answers a wrong password 200 without a token (handler/auth.go).
            return Err(error_for(
                node,
                &req.method,
                &path,
                ErrorKind::Permanent,
                Some(reply.status),
                None,
            )
            .with_detail("login answer carries no token: wrong username or password?"));
        }
        Ok(parsed.token)
    }

    /// Sends one HTTP request through the rate limiter and reads the whole answer.
    async fn send_once(
        &self,
        node: &Node,
        req: &Request<'_>,
        url: &Url,
        path: &str,
        token: Option<&str>,
    ) -> Result<RawReply, LoxilbError> {
        self.limiter.until_ready().await;
        if req.method != Method::GET && !self.fence.may_act() {
            return Err(not_leader(node, req, path));
        }
        let started = Instant::now();
        let mut builder = self.http.request(req.method.clone(), url.clone());
        if let Some(t) = token {
            // LoxiLB's BearerAuth scheme is an apiKey in the Authorization header: the
            // token itself, without a "Bearer" prefix.
            builder = builder.header(reqwest::header::AUTHORIZATION, t);
        }
        if let Some(body) = &req.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let result = async {
            let resp = builder.send().await?;
            let status = resp.status();
            let body = resp.bytes().await?;
            Ok::<_, reqwest::Error>(RawReply {
                status,
                body: body.to_vec(),
            })
        }
        .await;
        let took = started.elapsed();
        let latency_ms = took.as_millis() as u64;
        let status = result.as_ref().ok().map(|r| r.status.as_u16());
        crate::metrics::global().loxilb_call(&node.url, req.method.as_str(), status, took);
        match result {
            Ok(raw) => {
                debug!(node = %node.url, method = %req.method, path = %path,
                    status = raw.status.as_u16(), latency_ms, "LoxiLB call");
                Ok(raw)
            }
            Err(e) => {
                debug!(node = %node.url, method = %req.method, path = %path,
                    latency_ms, error = %error_chain(&e), "LoxiLB call failed");
                let kind = if e.is_builder() {
                    ErrorKind::Permanent
                } else {
                    ErrorKind::Transient
                };
                Err(error_for(node, &req.method, path, kind, None, None)
                    .with_detail(transport_detail(&e)))
            }
        }
    }
}

/// Full jitter: a uniformly random delay in `[0, delay]`.
fn full_jitter(delay: Duration) -> Duration {
    rand::random_range(Duration::ZERO..=delay)
}

fn build_url(base: &Url, segments: &[&str], query: &[(&str, String)]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    if !query.is_empty() {
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
    }
    url
}

/// Path and query of `url`, as reported in logs and errors.
fn path_of(url: &Url) -> String {
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

fn into_result(
    node: &Node,
    method: &Method,
    path: &str,
    raw: RawReply,
) -> Result<Reply, LoxilbError> {
    let code = raw.status.as_u16();
    if raw.status.is_success() {
        return match refusal_in_success(&raw.body) {
            None => Ok(Reply {
                status: code,
                body: raw.body,
            }),
            Some(text) => Err(error_for(
                node,
                method,
                path,
                ErrorKind::from_result_text(&text),
                Some(code),
                Some(text),
            )
            .with_detail(format!("HTTP {code} carrying an error result"))),
        };
    }
    let (result, detail) = match serde_json::from_slice::<ErrorBody>(&raw.body) {
        Ok(b) => {
            let result = if b.result.is_empty() {
                b.message.clone()
            } else {
                b.result
            };
            (Some(result).filter(|r| !r.is_empty()), b.message)
        }
        Err(_) => (None, excerpt(&raw.body)),
    };
    let detail = if detail.is_empty() {
        format!("HTTP {code}")
    } else {
        detail
    };
    Err(error_for(
        node,
        method,
        path,
        ErrorKind::from_status(code),
        Some(code),
        result,
    )
    .with_detail(detail))
}

/// Whether LoxiLB refused the token: 401 when none was sent, but an unknown or expired
/// token is answered 500 "Token not found" by its BearerAuth check (handler/auth.go),
/// which must lead to a new login rather than to retries with the same token.
fn token_rejected(raw: &RawReply) -> bool {
    if raw.status == StatusCode::UNAUTHORIZED {
        return true;
    }
    raw.status == StatusCode::INTERNAL_SERVER_ERROR
        && serde_json::from_slice::<ErrorBody>(&raw.body).is_ok_and(|b| {
            let text = format!("{} {}", b.message, b.result).to_ascii_lowercase();
            text.contains("token not found") || text.contains("token is expired")
        })
}

/// The error text of a 2xx answer whose `result` is not "Success". LoxiLB up to
/// v0.9.8.4 answers every refusal so (HTTP 200, `{"result": "<error>"}`), and every
/// version answers the DSR selection refusal so; a caller that trusted the status alone
/// would record a refused change as applied. Listings and other bodies without a string
/// `result` are successes.
fn refusal_in_success(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct ResultOnly {
        result: serde_json::Value,
    }
    let parsed: ResultOnly = serde_json::from_slice(body).ok()?;
    let text = parsed.result.as_str()?.trim();
    if text.eq_ignore_ascii_case("success") {
        None
    } else {
        Some(text.to_string())
    }
}

pub(crate) fn error_for(
    node: &Node,
    method: &Method,
    path: &str,
    kind: ErrorKind,
    status: Option<u16>,
    result: Option<String>,
) -> LoxilbError {
    LoxilbError {
        node: node.url.clone(),
        method: method.to_string(),
        path: path.to_string(),
        status,
        result,
        kind,
        detail: String::new(),
    }
}

/// This instance may not change LoxiLB now (it is not, or no longer, the leader):
/// transient, so the event stays in the journal for whoever leads next.
fn not_leader(node: &Node, req: &Request<'_>, path: &str) -> LoxilbError {
    error_for(node, &req.method, path, ErrorKind::Transient, None, None)
        .with_detail("not sent: this instance does not hold the leader lease")
}

impl LoxilbError {
    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut out: String = text.chars().take(BODY_EXCERPT).collect();
    if text.chars().count() > BODY_EXCERPT {
        out.push('…');
    }
    out
}

/// Names the failure class first (timeout, connect, ...) then the cause chain, which is
/// where hyper reports "connection reset" or "connection closed before message completed".
fn transport_detail(e: &reqwest::Error) -> String {
    let class = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect error"
    } else if e.is_body() || e.is_decode() {
        "incomplete response"
    } else {
        "request error"
    };
    format!("{class}: {}", error_chain(e))
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_urls_get_the_api_base_path_once() {
        for given in [
            "http://127.0.0.1:11111",
            "http://127.0.0.1:11111/",
            "http://127.0.0.1:11111/netlox/v1",
            " http://127.0.0.1:11111/netlox/v1/ ",
        ] {
            let n = Node::new(given).unwrap();
            assert_eq!(
                n.base.as_str(),
                "http://127.0.0.1:11111/netlox/v1",
                "{given}"
            );
        }
        assert!(Node::new("ftp://x").is_err());
        assert!(Node::new("not a url").is_err());
    }

    #[test]
    fn urls_encode_segments_and_query() {
        let n = Node::new("http://[::1]:8091").unwrap();
        let u = build_url(
            &n.base,
            &["config", "loadbalancer", "name", "a/b c"],
            &[("probe_port", "80".into())],
        );
        assert_eq!(
            path_of(&u),
            "/netlox/v1/config/loadbalancer/name/a%2Fb%20c?probe_port=80"
        );
    }

    #[test]
    fn full_jitter_stays_within_the_delay() {
        let d = Duration::from_millis(50);
        for _ in 0..200 {
            assert!(full_jitter(d) <= d);
        }
        assert_eq!(full_jitter(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn error_bodies_are_parsed_or_excerpted() {
        let n = Node::new("http://127.0.0.1:1").unwrap();
        let raw = RawReply {
            status: StatusCode::CONFLICT,
            body: br#"{"code":409,"message":"Resource Conflict","result":"lbrule-exists error"}"#
                .to_vec(),
        };
        let e = into_result(&n, &Method::POST, "/p", raw).err().unwrap();
        assert_eq!(e.kind, ErrorKind::Conflict);
        assert_eq!(e.result.as_deref(), Some("lbrule-exists error"));
        let raw = RawReply {
            status: StatusCode::BAD_GATEWAY,
            body: vec![b'x'; 1000],
        };
        let e = into_result(&n, &Method::GET, "/p", raw).err().unwrap();
        assert!(e.is_transient());
        assert_eq!(e.result, None);
        assert!(e.detail.chars().count() <= BODY_EXCERPT + 1);
    }

    /// LoxiLB up to v0.9.8.4 answers refusals as HTTP 200 with the error in `result`
    /// (handler/common.go), and every version answers the DSR selection refusal so
    /// (handler/loadbalancer.go ConfigPostLoadbalancer).
    #[test]
    fn a_success_status_with_an_error_result_is_the_error_it_names() {
        let n = Node::new("http://127.0.0.1:1").unwrap();
        let ok = |body: &[u8]| RawReply {
            status: StatusCode::OK,
            body: body.to_vec(),
        };
        for body in [
            &br#"{"result":"Success"}"#[..],
            br#"{"lbAttr":[]}"#,
            br#"{"Attr":[],"result":null}"#,
            b"",
        ] {
            assert!(into_result(&n, &Method::POST, "/p", ok(body)).is_ok());
        }
        let cases = [
            ("lbrule-exists error", ErrorKind::Conflict),
            ("LB Rule-referred", ErrorKind::Conflict),
            ("host-notfound error", ErrorKind::NotFound),
            ("no-rule error", ErrorKind::NotFound),
            ("malformed-service-ptype error", ErrorKind::Permanent),
            ("endpoints-range error", ErrorKind::Permanent),
            ("rule-allowed-src error", ErrorKind::Permanent),
            ("rule-hwm error", ErrorKind::Permanent),
            (
                "Error: Only Hash Selection criteria allowed for DSR mode",
                ErrorKind::Permanent,
            ),
            ("netrpc call timeout", ErrorKind::Transient),
        ];
        for (text, kind) in cases {
            let body = serde_json::json!({ "result": text }).to_string();
            let e = into_result(&n, &Method::POST, "/p", ok(body.as_bytes()))
                .err()
                .unwrap_or_else(|| panic!("{text} accepted"));
            assert_eq!(e.kind, kind, "{text}");
            assert_eq!(e.status, Some(200));
            assert_eq!(e.result.as_deref(), Some(text));
        }
    }

    /// handler/auth.go BearerAuthAuth answers an unknown or expired token with 500
    /// "Token not found" (401 only when no token is sent).
    #[test]
    fn an_unknown_token_is_a_rejection_like_401() {
        let raw = |status: StatusCode, body: &[u8]| RawReply {
            status,
            body: body.to_vec(),
        };
        assert!(token_rejected(&raw(StatusCode::UNAUTHORIZED, b"")));
        assert!(token_rejected(&raw(
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"code":500,"message":"Token not found"}"#
        )));
        assert!(!token_rejected(&raw(
            StatusCode::INTERNAL_SERVER_ERROR,
            br#"{"code":500,"message":"boom","result":"boom"}"#
        )));
        assert!(!token_rejected(&raw(
            StatusCode::OK,
            br#"{"result":"Success"}"#
        )));
    }

    #[test]
    fn credentials_debug_hides_the_password() {
        let c = Credentials {
            username: "admin".into(),
            password: "s3cret".into(),
        };
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
