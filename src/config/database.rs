//! `[database]`: where the coordinator keeps its ID mappings and pending work.

use serde::{Deserialize, Serialize};

use super::de;
use super::error::{quoted, Problems};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// sqlx URL. Only `sqlite:` is supported for now; PostgreSQL is planned.
    #[serde(deserialize_with = "de::string")]
    pub url: String,
    /// Connection pool size. 1..=64.
    #[serde(deserialize_with = "de::uint")]
    pub max_connections: u32,
    /// Finished (`done`) events are kept this many days, then pruned. Decimals are
    /// allowed (0.01 is about a quarter of an hour). Failed events are kept until an
    /// operator retries or clears them. 0 < days <= 3650.
    #[serde(deserialize_with = "de::number")]
    pub retention_days: f64,
    /// At most this many finished events are kept (the oldest go first), whatever
    /// their age. 1..=1,000,000,000.
    #[serde(deserialize_with = "de::uint")]
    pub retention_max_events: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite:///var/lib/loxilb-coordinator/coordinator.db".to_owned(),
            max_connections: 4,
            retention_days: 7.0,
            retention_max_events: 1_000_000,
        }
    }
}

impl DatabaseConfig {
    pub(crate) fn validate(&self, p: &mut Problems) {
        match self.url.strip_prefix("sqlite:") {
            Some(rest) if !rest.trim().is_empty() => {}
            Some(_) => p.push("database.url", quoted(&self.url), "must name a database file, e.g. sqlite:///var/lib/loxilb-coordinator/coordinator.db"),
            None => p.push(
                "database.url",
                quoted(&self.url),
                "only sqlite: URLs are supported for now (postgres support is planned)",
            ),
        }
        p.range(
            "database.max_connections",
            self.max_connections.into(),
            1,
            64,
        );
        if !(self.retention_days > 0.0 && self.retention_days <= 3650.0) {
            p.push(
                "database.retention_days",
                self.retention_days,
                "must be more than 0 and at most 3650 (decimals allowed, e.g. 0.5)",
            );
        }
        p.range(
            "database.retention_max_events",
            self.retention_max_events,
            1,
            1_000_000_000,
        );
    }

    /// How long finished events are kept.
    pub fn retention(&self) -> std::time::Duration {
        // validate() bounds the value; the clamp only keeps a bad value from panicking.
        std::time::Duration::from_secs_f64(self.retention_days.clamp(0.0, 3650.0) * 86_400.0)
    }
}
