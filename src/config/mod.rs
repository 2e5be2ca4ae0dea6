//! Typed configuration of the coordinator daemon.
//!
//! Sources, lowest priority first:
//! 1. built-in defaults ([`Config::default`], which match the design seed's values);
//! 2. one file, its format chosen by extension: `.toml`, or INI for `.ini`/`.conf`/`.cfg`
//!    (the seed's `[health_monitoring]` INI section is accepted as is);
//! 3. environment variables `LOXILB_COORDINATOR__<SECTION>__<KEY>`, e.g.
//!    `LOXILB_COORDINATOR__HEALTH_MONITORING__DEFAULT_DELAY=5`; lists are comma-separated
//!    (`LOXILB_COORDINATOR__LOXILB__NODES=http://a:11111,http://b:11111`); an empty value
//!    unsets an optional key.
//!
//! Everything is checked at start-up, because a bad value found hours later (a probe
//! timeout above its interval, a typo that silently kept a default) is far more expensive
//! than a refusal to start:
//! - unknown keys inside a known section are rejected in every source;
//! - unknown sections are rejected in TOML and the environment but ignored in INI files,
//!   which are often shared with other services;
//! - wrong types and invalid values produce messages naming `section.key`, the value and
//!   what is allowed.
//!
//! Lists may be written as TOML arrays or as one comma-separated string; numbers and
//! booleans as native values or as strings spelling them (INI and environment carry only
//! strings). Nothing else is coerced: `30.5` is not a delay and `660` is not a file mode.

mod cluster;
mod database;
mod de;
mod error;
mod health;
mod ingress;
mod loader;
mod loxilb;
mod observability;
mod octavia;
mod secret;
mod toml_out;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_cluster;

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use cluster::{host_name, ClusterConfig, MAX_INSTANCE_ID_LEN};
pub use database::{redacted_url, Backend, DatabaseConfig, PASSWORD_ENV};
pub use error::{ConfigError, Problem};
pub use health::HealthMonitoring;
pub use ingress::IngressConfig;
pub use loader::ENV_PREFIX;
pub use loxilb::{LoxilbConfig, NatMode};
pub use observability::{LogFormat, LoggingConfig, MetricsConfig};
pub use octavia::OctaviaConfig;
pub use secret::{Secret, REDACTED};

use error::{quoted, Problems};

/// The whole daemon configuration. Every section is optional in files.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub health_monitoring: HealthMonitoring,
    pub loxilb: LoxilbConfig,
    pub octavia: OctaviaConfig,
    pub ingress: IngressConfig,
    pub database: DatabaseConfig,
    pub cluster: ClusterConfig,
    pub logging: LoggingConfig,
    pub metrics: MetricsConfig,
}

impl Config {
    /// Loads `path` (if any) and the process environment, then validates.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        loader::load_path(path, loader::process_env()?)
    }

    /// Like [`Config::load`], with the environment given explicitly (variables without our
    /// prefix are ignored), so tests need not touch the process environment.
    pub fn load_with_env(
        path: Option<&Path>,
        env: HashMap<String, String>,
    ) -> Result<Config, ConfigError> {
        loader::load_path(path, env)
    }

    /// Parses and validates a TOML document (no environment).
    pub fn from_toml_str(s: &str) -> Result<Config, ConfigError> {
        loader::load(
            Some(loader::FileText {
                text: s,
                format: loader::Format::Toml,
                origin: "TOML text".to_owned(),
            }),
            HashMap::new(),
        )
    }

    /// Checks every value and cross-field rule; reports all problems at once as
    /// [`ConfigError::Invalid`]. Pure: touches no files (see [`Config::tcp_token`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut p = Problems::default();
        self.health_monitoring.validate(&mut p);
        self.loxilb.validate(&mut p);
        self.octavia.validate(&mut p);
        self.ingress.validate(&mut p);
        self.database.validate(&mut p);
        self.cluster.validate(&mut p);
        self.logging.validate(&mut p);
        if let (Some(m), Some(t)) = (self.metrics.address, self.ingress.tcp_address) {
            if m == t {
                p.push(
                    "metrics.address",
                    quoted(&m.to_string()),
                    "must differ from ingress.tcp_address",
                );
            }
        }
        p.into_result()
    }

    /// The effective configuration as TOML, with secrets shown as `***`. The TCP token is
    /// never part of the configuration (only its file path is), so it cannot appear here.
    pub fn redacted_toml(&self) -> String {
        toml_out::render(self)
    }

    /// The TCP listener's bearer token from `ingress.tcp_token_file`; `Ok(None)` when no
    /// file is configured. The file content is trimmed. Refused: a missing or unreadable
    /// file, anything but a regular file, an empty file, more than 4096 bytes, and (on
    /// Unix) any permission bit for group or others — the token grants full control of
    /// the load balancers, so it gets the same treatment as an SSH private key (0600 or
    /// 0400). Call it at start-up so a bad token file also fails fast.
    pub fn tcp_token(&self) -> Result<Option<Secret>, ConfigError> {
        self.ingress
            .tcp_token_file
            .as_deref()
            .map(ingress::read_token_file)
            .transpose()
    }

    /// The MySQL password, from `database.password_file` or the environment variable
    /// [`PASSWORD_ENV`]; `Ok(None)` for SQLite or a passwordless account. Call it at
    /// start-up, like [`Config::tcp_token`], so a bad password file fails fast. The
    /// value is a [`Secret`]: it prints as `***` everywhere.
    pub fn database_password(&self) -> Result<Option<Secret>, ConfigError> {
        self.database.password(std::env::var(PASSWORD_ENV).ok())
    }
}
