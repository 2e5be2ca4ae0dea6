//! The raw HTTP side of a conformance run: LoxiLB's answers are kept as they are (status
//! and JSON body), not mapped to errors like the daemon's client does, because the shape
//! of an answer is itself one of the things being checked.
//!
//! In a dry run nothing is sent: each call is printed and answered with status 0.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use super::ConformanceError;

/// One answer of LoxiLB, as observed.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status; 0 in a dry run.
    pub status: u16,
    /// The body parsed as JSON; a body that is not JSON is kept as a string, none is null.
    pub body: Value,
}

impl Reply {
    /// A reply for unit tests and dry runs.
    pub fn new(status: u16, body: Value) -> Reply {
        Reply { status, body }
    }

    /// The body's `result` text, if it has one.
    pub fn result(&self) -> Option<&str> {
        self.body.get("result").and_then(Value::as_str)
    }
}

/// How a call authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth<'a> {
    /// The run's token, if it logged in.
    Token,
    /// No Authorization header at all.
    Without,
    /// This exact Authorization header value.
    Header(&'a str),
}

/// A request body.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    None,
    Json(&'a Value),
    /// Sent as is with a JSON content type (for the body-binding case).
    Text(&'a str),
}

/// TLS files for an https node, as the daemon's `[loxilb]` section names them.
#[derive(Debug, Clone, Default)]
pub struct Tls {
    pub ca_file: Option<PathBuf>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
}

impl Tls {
    fn apply(
        &self,
        mut builder: reqwest::ClientBuilder,
    ) -> Result<reqwest::ClientBuilder, ConformanceError> {
        let read = |p: &PathBuf| {
            std::fs::read(p).map_err(|e| ConformanceError::Config(format!("{}: {e}", p.display())))
        };
        if let Some(ca) = &self.ca_file {
            let cert = reqwest::Certificate::from_pem(&read(ca)?)
                .map_err(|e| ConformanceError::Config(format!("CA file {}: {e}", ca.display())))?;
            builder = builder.add_root_certificate(cert);
        }
        match (&self.client_cert, &self.client_key) {
            (Some(cert), Some(key)) => {
                let mut pem = read(cert)?;
                pem.push(b'\n');
                pem.extend(read(key)?);
                let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
                    ConformanceError::Config(format!("client certificate/key: {e}"))
                })?;
                Ok(builder.identity(identity))
            }
            (None, None) => Ok(builder),
            _ => Err(ConformanceError::Config(
                "client_cert and client_key must be given together".into(),
            )),
        }
    }
}

/// LoxiLB's API at one node.
pub struct Api {
    client: reqwest::Client,
    /// `<node>/netlox/v1`.
    base: String,
    token: Option<String>,
    dry: bool,
}

/// Every call gives up after this long: a LoxiLB that hangs is reported, not waited for.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

impl Api {
    /// `node` with or without the `/netlox/v1` suffix.
    pub fn new(node: &str, dry: bool, tls: &Tls) -> Result<Api, ConformanceError> {
        let trimmed = node.trim().trim_end_matches('/');
        let root = trimmed.strip_suffix("/netlox/v1").unwrap_or(trimmed);
        if !(root.starts_with("http://") || root.starts_with("https://")) {
            return Err(ConformanceError::Usage(format!(
                "--node wants a URL like http://10.0.0.5:11111, got {node:?}"
            )));
        }
        let builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(CALL_TIMEOUT);
        let client = tls
            .apply(builder)?
            .build()
            .map_err(|e| ConformanceError::Connect {
                url: root.to_string(),
                source: e,
            })?;
        Ok(Api {
            client,
            base: format!("{root}/netlox/v1"),
            token: None,
            dry,
        })
    }

    /// Whether calls are only printed.
    pub fn dry(&self) -> bool {
        self.dry
    }

    /// The token got by [`Api::login`], if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// A call with the run's token and a JSON body (or none).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, ConformanceError> {
        let body = body.map_or(Body::None, Body::Json);
        self.send(method, path, body, Auth::Token).await
    }

    /// A call with full control of body and Authorization header.
    /// `POST /auth/login` with `body` and no token (the login itself and the cases
    /// that probe LoxiLB's answers to wrong credentials).
    pub async fn post_login(&self, body: &Value) -> Result<Reply, ConformanceError> {
        self.send(Method::POST, "/auth/login", Body::Json(body), Auth::Without)
            .await
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Body<'_>,
        auth: Auth<'_>,
    ) -> Result<Reply, ConformanceError> {
        let url = format!("{}{path}", self.base);
        if self.dry {
            let shown = match body {
                Body::None => String::new(),
                Body::Json(v) => format!(" {v}"),
                Body::Text(t) => format!(" {t}"),
            };
            println!("{method} {url}{shown}");
            return Ok(Reply::new(0, Value::Null));
        }
        let mut req = self.client.request(method, &url);
        let header = match auth {
            Auth::Token => self.token.as_deref(),
            Auth::Without => None,
            Auth::Header(h) => Some(h),
        };
        if let Some(h) = header {
            req = req.header(reqwest::header::AUTHORIZATION, h);
        }
        req = match body {
            Body::None => req,
            Body::Json(v) => req.json(v),
            Body::Text(t) => req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(t.to_string()),
        };
        let connect = |e| ConformanceError::Connect {
            url: url.clone(),
            source: e,
        };
        let resp = req.send().await.map_err(connect)?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(connect)?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(Reply { status, body })
    }

    /// POST /auth/login and keep the token (sent raw in Authorization, as LoxiLB wants).
    pub async fn login(&mut self, user: &str, password: &str) -> Result<(), ConformanceError> {
        if self.dry {
            // The password is never printed.
            let shown = serde_json::json!({"username": user, "password": crate::config::REDACTED});
            println!("POST {}/auth/login {shown}", self.base);
            self.token = Some("<token>".into());
            return Ok(());
        }
        let body = serde_json::json!({"username": user, "password": password});
        let r = self.post_login(&body).await?;
        match r.body.get("token").and_then(Value::as_str) {
            Some(t) if r.status == 200 && !t.is_empty() => {
                self.token = Some(t.to_string());
                Ok(())
            }
            _ => Err(ConformanceError::Login(format!(
                "LoxiLB answered {} {} (wrong password, or no user service)",
                r.status, r.body
            ))),
        }
    }
}
