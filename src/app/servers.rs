//! The daemon's listeners, served the same way: each through [`crate::serve`],
//! each a task of one set, so that one stopping on its own stops the daemon and
//! shutdown waits for all of them.

use std::io;

use axum::Router;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tracing::warn;

use crate::serve::{self, ConnLimits};
use crate::shutdown::Shutdown;

/// The listeners being served.
pub struct Servers {
    set: JoinSet<io::Result<()>>,
    shutdown: Shutdown,
}

impl Servers {
    pub fn new(shutdown: &Shutdown) -> Servers {
        Servers {
            set: JoinSet::new(),
            shutdown: shutdown.clone(),
        }
    }

    /// Serve `router` on `listener` until shutdown (with `tls`, every connection
    /// starts with a handshake).
    pub fn serve(
        &mut self,
        listener: serve::Listener,
        router: Router,
        limits: ConnLimits,
        tls: Option<TlsAcceptor>,
    ) {
        let shutdown = self.shutdown.clone();
        self.set
            .spawn(serve::serve(listener, router, limits, tls, shutdown));
    }

    /// Wait for shutdown, or for a server that stops on its own, which triggers it:
    /// a daemon that no longer answers on one of its listeners is better restarted.
    pub async fn until_shutdown(&mut self) -> io::Result<()> {
        let mut result = Ok(());
        tokio::select! {
            _ = self.shutdown.triggered() => {}
            Some(done) = self.set.join_next() => {
                if let Ok(Err(e)) = done {
                    warn!(error = %e, "a listener's server stopped");
                    result = Err(e);
                }
                self.shutdown.trigger();
            }
        }
        result
    }

    /// Wait until every server has closed its connections.
    pub async fn closed(mut self) {
        while self.set.join_next().await.is_some() {}
    }
}
