//! `[octavia]`: the octavia-driver-agent Unix sockets we report to.
//!
//! Defaults are the driver agent's own defaults; the timeouts mirror octavia-lib's client
//! (5 s socket timeout, 30 s waiting for a reply).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::de;
use super::error::{quoted, Problems};
use crate::octavia::{ClientOptions, DriverAgentClient};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OctaviaConfig {
    #[serde(deserialize_with = "de::parse")]
    pub status_socket: PathBuf,
    #[serde(deserialize_with = "de::parse")]
    pub stats_socket: PathBuf,
    #[serde(deserialize_with = "de::parse")]
    pub get_socket: PathBuf,
    /// Seconds for connecting and sending one request. 1..=300.
    #[serde(deserialize_with = "de::uint")]
    pub request_timeout: u64,
    /// Seconds to wait for the agent's reply. request_timeout..=3600.
    #[serde(deserialize_with = "de::uint")]
    pub reply_timeout: u64,
}

impl Default for OctaviaConfig {
    fn default() -> Self {
        OctaviaConfig {
            status_socket: PathBuf::from("/var/run/octavia/status.sock"),
            stats_socket: PathBuf::from("/var/run/octavia/stats.sock"),
            get_socket: PathBuf::from("/var/run/octavia/get.sock"),
            request_timeout: 5,
            reply_timeout: 30,
        }
    }
}

/// Records a problem when a required path is empty.
pub(crate) fn non_empty_path(p: &mut Problems, key: &str, path: &Path) {
    if path.as_os_str().is_empty() {
        p.push(key, quoted(""), "must be a non-empty path");
    }
}

impl OctaviaConfig {
    /// The driver agent client's limits: `request_timeout` bounds connecting and
    /// sending, `reply_timeout` the wait for the agent's answer (a busy agent
    /// writing a large status batch to Octavia's database answers late, and a
    /// hung one must not hold the status outbox longer than the operator chose).
    pub fn client_options(&self) -> ClientOptions {
        ClientOptions {
            connect_timeout: Duration::from_secs(self.request_timeout),
            io_timeout: Duration::from_secs(self.request_timeout),
            reply_timeout: Duration::from_secs(self.reply_timeout),
            ..ClientOptions::default()
        }
    }

    /// A client for the configured sockets with [`Self::client_options`].
    pub fn client(&self) -> DriverAgentClient {
        DriverAgentClient::with_options(
            self.status_socket.clone(),
            self.stats_socket.clone(),
            self.get_socket.clone(),
            self.client_options(),
        )
    }

    pub(crate) fn validate(&self, p: &mut Problems) {
        non_empty_path(p, "octavia.status_socket", &self.status_socket);
        non_empty_path(p, "octavia.stats_socket", &self.stats_socket);
        non_empty_path(p, "octavia.get_socket", &self.get_socket);
        p.range("octavia.request_timeout", self.request_timeout, 1, 300);
        if self.reply_timeout < self.request_timeout.max(1) || self.reply_timeout > 3600 {
            p.push(
                "octavia.reply_timeout",
                self.reply_timeout,
                format!(
                    "must be between octavia.request_timeout ({}) and 3600",
                    self.request_timeout.max(1)
                ),
            );
        }
    }
}
