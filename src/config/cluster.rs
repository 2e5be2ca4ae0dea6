//! `[cluster]`: how this instance takes part in cluster mode.
//!
//! Cluster mode is chosen by the database, not by a switch: a `mysql://` URL means any
//! number of instances share one database and elect one leader through a lease row;
//! SQLite is always a single instance, which leads with epoch 0 and holds no lease. So
//! these keys only take effect with a MySQL/MariaDB database, and are harmless (and
//! still validated) with SQLite, which lets one file serve both set-ups during a move.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::de;
use super::error::{quoted, Problems};

/// The longest instance id: the lease row's `holder` column is `VARCHAR(255)`.
pub const MAX_INSTANCE_ID_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClusterConfig {
    /// This instance's name in the lease row, `/readyz` and the metrics. Default: the
    /// host name, which is unique per controller in every usual deployment.
    #[serde(deserialize_with = "de::string")]
    pub instance_id: String,
    /// Lease time-to-live in whole seconds. 2..=300. The leader renews every third of
    /// it and stops acting a quarter of it before the lease can expire; a failover
    /// takes between one and two leases.
    #[serde(deserialize_with = "de::uint")]
    pub lease_seconds: u64,
    /// How often (milliseconds) the leader looks for events that followers journaled.
    /// 5..=10000.
    #[serde(deserialize_with = "de::uint")]
    pub poll_ms: u64,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            instance_id: host_name(),
            lease_seconds: 10,
            poll_ms: 20,
        }
    }
}

impl ClusterConfig {
    pub(crate) fn validate(&self, p: &mut Problems) {
        let id = &self.instance_id;
        if id.trim().is_empty() {
            p.push(
                "cluster.instance_id",
                quoted(id),
                "must not be empty (default: the host name)",
            );
        } else if id.len() > MAX_INSTANCE_ID_LEN {
            p.push(
                "cluster.instance_id",
                quoted(id),
                format!("must be at most {MAX_INSTANCE_ID_LEN} bytes"),
            );
        } else if id.chars().any(char::is_control) || id.trim() != id {
            p.push(
                "cluster.instance_id",
                quoted(id),
                "must not contain control characters or leading/trailing spaces",
            );
        }
        p.range("cluster.lease_seconds", self.lease_seconds, 2, 300);
        p.range("cluster.poll_ms", self.poll_ms, 5, 10_000);
    }

    /// The lease's time-to-live.
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_seconds)
    }

    /// The leader's poll interval for followers' journal entries.
    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms)
    }
}

/// The host name (`gethostname(2)`); "localhost" if it cannot be read, which
/// validation accepts, so an instance id should then be configured explicitly.
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the pointer and length describe `buf`, which outlives the call;
    // gethostname writes at most `len` bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".to_owned();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(name) if !name.trim().is_empty() => name.to_owned(),
        _ => "localhost".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_instance_id_is_the_host_name() {
        let id = ClusterConfig::default().instance_id;
        assert!(!id.is_empty());
        let from_proc = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_owned())
            .unwrap_or_default();
        if !from_proc.is_empty() {
            assert_eq!(id, from_proc);
        }
        assert_eq!(ClusterConfig::default().lease(), Duration::from_secs(10));
        assert_eq!(ClusterConfig::default().poll(), Duration::from_millis(20));
    }
}
