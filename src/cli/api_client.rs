//! A small HTTP/1.1 client for the daemon's API over its Unix socket.
//!
//! Used by the CLI subcommands, the demo and the end-to-end tests. reqwest cannot
//! speak over a Unix socket, so this uses hyper's connection API directly: one
//! connection per request, which is all a CLI needs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::UnixStream;

/// Why a call to the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiClientError {
    #[error("cannot connect to the daemon at {path}: {source} (is it running?)")]
    Connect {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("request to the daemon failed: {0}")]
    Http(String),
    #[error("request to the daemon timed out after {0:?}")]
    Timeout(Duration),
    #[error("the daemon answered with invalid JSON: {0}")]
    BadReply(String),
}

/// Talks to one daemon socket.
#[derive(Clone, Debug)]
pub struct ApiClient {
    socket: PathBuf,
    timeout: Duration,
}

impl ApiClient {
    pub fn new(socket: impl AsRef<Path>) -> ApiClient {
        ApiClient {
            socket: socket.as_ref().to_path_buf(),
            timeout: Duration::from_secs(30),
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> ApiClient {
        self.timeout = timeout;
        self
    }

    /// Send `method path` with an optional JSON body; returns the status code and the
    /// parsed JSON reply (`Value::Null` for an empty body).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), ApiClientError> {
        let raw = body.map(|b| b.to_string()).unwrap_or_default();
        self.call_raw(method, path, raw.into_bytes()).await
    }

    /// Like [`ApiClient::call`] with a raw body (tests send malformed ones).
    pub async fn call_raw(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Value), ApiClientError> {
        tokio::time::timeout(self.timeout, self.exchange(method, path, body))
            .await
            .map_err(|_| ApiClientError::Timeout(self.timeout))?
    }

    async fn exchange(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Value), ApiClientError> {
        let stream =
            UnixStream::connect(&self.socket)
                .await
                .map_err(|source| ApiClientError::Connect {
                    path: self.socket.display().to_string(),
                    source,
                })?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ApiClientError::Http(e.to_string()))?;
        tokio::spawn(async move {
            // Ends when the response is read; errors surface through send_request.
            let _ = conn.await;
        });
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ApiClientError::Http(e.to_string()))?;
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| ApiClientError::Http(e.to_string()))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| ApiClientError::Http(e.to_string()))?
            .to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| ApiClientError::BadReply(e.to_string()))?
        };
        Ok((status, value))
    }
}
