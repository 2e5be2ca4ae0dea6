//! One served connection: optional TLS handshake, then HTTP/1 until the peer
//! leaves, the connection idles out, the tracker closes it or the daemon stops.

use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::limits::ConnLimits;
use super::listener::Stream;
use super::tracker::ConnHandle;
use crate::shutdown::Shutdown;

/// What a connection needs besides its stream.
pub(super) struct Conn {
    pub handle: ConnHandle,
    pub limits: ConnLimits,
    pub tls: Option<TlsAcceptor>,
    pub app: Router,
    pub shutdown: Shutdown,
    pub peer: String,
}

impl Conn {
    pub async fn run(self, stream: Stream) {
        let handle = self.handle.clone();
        match self.tls.clone() {
            None => self.http(stream).await,
            Some(acceptor) => {
                let handshake = acceptor.accept(stream);
                tokio::select! {
                    r = tokio::time::timeout(self.limits.header_read_timeout, handshake) => match r {
                        Ok(Ok(tls)) => self.http(tls).await,
                        Ok(Err(e)) => {
                            tracing::debug!(peer = %self.peer, error = %e, "TLS handshake refused");
                        }
                        Err(_) => tracing::debug!(peer = %self.peer, "TLS handshake timed out"),
                    },
                    _ = handle.closed() => {}
                    _ = self.shutdown.triggered() => {}
                }
            }
        }
        handle.release();
    }

    async fn http<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let handle = self.handle.clone();
        let app = self.app;
        let svc_handle = handle.clone();
        let service = service_fn(move |req: hyper::Request<Incoming>| {
            let busy = svc_handle.busy();
            let app = app.clone();
            async move {
                let answer = app.oneshot(req).await;
                drop(busy);
                answer
            }
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout)
            .keep_alive(true)
            .serve_connection(TokioIo::new(io), service);
        tokio::pin!(conn);
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(peer = %self.peer, error = %e, "connection ended");
                }
                return;
            }
            // Closed for room or at shutdown while idle: nothing is in progress.
            _ = handle.closed() => return,
            _ = idled_out(&handle, self.limits.idle_timeout) => {
                tracing::debug!(peer = %self.peer, "idle connection closed");
                return;
            }
            _ = self.shutdown.triggered() => {}
        }
        // Shutdown: let a request in progress finish (the listener's grace bounds it).
        conn.as_mut().graceful_shutdown();
        tokio::select! {
            _ = conn.as_mut() => {}
            _ = handle.closed() => {}
        }
    }
}

/// Resolves once the connection has been idle for `limit`.
async fn idled_out(handle: &ConnHandle, limit: Duration) {
    loop {
        let wait = match handle.idle_for() {
            Some(idle) if idle >= limit => return,
            Some(idle) => limit - idle,
            // Busy: look again later; the request ends the idle-free period.
            None => limit,
        };
        tokio::time::sleep(wait).await;
    }
}
