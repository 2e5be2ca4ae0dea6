//! `[logging]` and `[metrics]`.

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

use super::de;
use super::error::{quoted, Problems};

/// Log line format: `text` for people, `json` for log shippers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err("expected one of text, json".to_owned()),
        }
    }
}

impl<'a> Deserialize<'a> for LogFormat {
    fn deserialize<D: serde::Deserializer<'a>>(d: D) -> Result<Self, D::Error> {
        de::parse(d)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoggingConfig {
    pub format: LogFormat,
    /// `tracing` EnvFilter directives, e.g. "info,loxilb_coordinator::dispatch=debug".
    /// `RUST_LOG` is deliberately not consulted: one place decides the log level.
    #[serde(deserialize_with = "de::string")]
    pub level: String,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

impl LoggingConfig {
    /// The filter for the subscriber. Always succeeds on a validated configuration.
    pub fn env_filter(&self) -> Result<EnvFilter, tracing_subscriber::filter::ParseError> {
        EnvFilter::try_new(&self.level)
    }

    pub(crate) fn validate(&self, p: &mut Problems) {
        if self.level.trim().is_empty() {
            p.push(
                "logging.level",
                quoted(&self.level),
                "must not be empty; e.g. \"info\"",
            );
        } else if let Err(e) = self.env_filter() {
            p.push(
                "logging.level",
                quoted(&self.level),
                format!("not valid tracing filter directives ({e}); e.g. \"info,loxilb_coordinator::dispatch=debug\""),
            );
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct MetricsConfig {
    /// Prometheus endpoint address (e.g. "127.0.0.1:9100"); unset disables metrics.
    #[serde(deserialize_with = "de::opt_parse")]
    pub address: Option<SocketAddr>,
}
