//! Serving HTTP on the daemon's listeners with connection hygiene.
//!
//! `axum::serve` holds every connection for as long as the peer likes, with no
//! header-read, idle or body timeout and no cap (issue 16 measured 19,000
//! half-sent requests held, 535 MB, `/healthz` unanswered). [`serve`] runs each
//! connection with hyper's HTTP/1 server directly so that:
//! - headers (and the TLS handshake) must arrive within `header_read_timeout`;
//! - a connection with no request in progress closes after `idle_timeout`;
//! - each wait for request-body data is bounded by `body_timeout`;
//! - at most `max_connections` are held, the longest-idle closed first for a
//!   new one ([`tracker`]), so `/healthz` and new events keep being answered.
//!
//! On shutdown the listener stops accepting, idle connections close at once
//! and requests in progress get `header_read_timeout + body_timeout` more to be
//! answered (their events are journaled either way).

mod connection;
pub mod limits;
pub mod listener;
pub mod tracker;

use std::io;
use std::time::{Duration, Instant};

use axum::Router;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::shutdown::Shutdown;

pub use limits::ConnLimits;
pub use listener::Listener;
use tracker::Tracker;

/// How long accepting pauses after an error that is not one connection's (out
/// of file descriptors): retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// How often a full listener is reported.
const FULL_WARNING_EVERY: Duration = Duration::from_secs(60);

/// Serves `app` on `listener` until `shutdown`; with `tls`, every connection
/// starts with a TLS handshake. Returns once every connection is closed.
pub async fn serve(
    listener: Listener,
    app: Router,
    limits: ConnLimits,
    tls: Option<TlsAcceptor>,
    shutdown: Shutdown,
) -> io::Result<()> {
    let app = app.layer(RequestBodyTimeoutLayer::new(limits.body_timeout));
    let tracker = Tracker::new(limits.max_connections);
    let connections = TaskTracker::new();
    let mut last_full_warning: Option<Instant> = None;
    loop {
        let closed_for_room = tokio::select! {
            _ = shutdown.triggered() => break,
            closed = tracker.make_room() => closed,
        };
        // A flood closes thousands: say so once a minute, not per connection.
        if closed_for_room && last_full_warning.is_none_or(|t| t.elapsed() >= FULL_WARNING_EVERY) {
            tracing::warn!(
                max_connections = limits.max_connections,
                "listener full: closing the connections idle the longest to take new ones"
            );
            last_full_warning = Some(Instant::now());
        }
        let accepted = tokio::select! {
            _ = shutdown.triggered() => break,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) if listener::is_per_connection(&e) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept a connection; retrying");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let conn = connection::Conn {
            handle: tracker.register(),
            limits,
            tls: tls.clone(),
            app: app.clone(),
            shutdown: shutdown.clone(),
            peer,
        };
        connections.spawn(conn.run(stream));
    }
    tracker.close_idle();
    connections.close();
    let grace = limits.header_read_timeout + limits.body_timeout;
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = tracker.len(),
            "connections still open after the shutdown grace; closing them"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
