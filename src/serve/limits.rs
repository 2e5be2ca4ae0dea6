//! The timeouts and cap every listener is served with.

use std::time::Duration;

/// Connection hygiene of one listener (`[ingress]` keys; the metrics listener
/// uses the same timeouts with its own small cap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// A request's headers (and, on TLS, the handshake) must arrive within this.
    pub header_read_timeout: Duration,
    /// A connection with no request in progress is closed after this.
    pub idle_timeout: Duration,
    /// The longest wait for the next part of a request body.
    pub body_timeout: Duration,
    /// Connections held at once; beyond it the longest-idle one is closed.
    pub max_connections: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(10),
            max_connections: 512,
        }
    }
}
