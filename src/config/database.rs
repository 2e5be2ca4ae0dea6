//! `[database]`: where the coordinator keeps its ID mappings and pending work.

use serde::{Deserialize, Serialize};

use super::de;
use super::error::{quoted, Problems};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// sqlx URL. Only `sqlite:` is supported for now; PostgreSQL is planned.
    #[serde(deserialize_with = "de::string")]
    pub url: String,
    /// Connection pool size. 1..=64.
    #[serde(deserialize_with = "de::uint")]
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        DatabaseConfig {
            url: "sqlite:///var/lib/loxilb-coordinator/coordinator.db".to_owned(),
            max_connections: 4,
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
    }
}
