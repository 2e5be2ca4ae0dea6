//! Errors of the configuration module.
//!
//! Every error names the offending key as `section.key` (and, where one exists, the value
//! and what would have been accepted) because the operator reading it usually has only the
//! message and the file: "invalid configuration" without a key name is useless at 3 a.m.

use std::fmt;
use std::path::PathBuf;

/// One rejected value found by [`crate::config::Config::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// `section.key`, e.g. `health_monitoring.default_delay`.
    pub key: String,
    /// The rejected value as written in a TOML file (strings quoted).
    pub value: String,
    /// What is allowed instead.
    pub allowed: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}: {}", self.key, self.value, self.allowed)
    }
}

/// Why the configuration could not be loaded or is not acceptable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file name does not tell which format the file is in.
    #[error(
        "configuration file {}: unsupported file extension (use .toml, or .ini/.conf/.cfg for INI)",
        path.display()
    )]
    UnsupportedFormat { path: PathBuf },
    /// The file is not valid TOML / INI.
    #[error("cannot parse {origin}: {message}")]
    Parse { origin: String, message: String },
    /// A top-level section we do not know (only reported for TOML and the environment).
    #[error("unknown section [{section}] in {origin} (known sections: {known})")]
    UnknownSection {
        section: String,
        origin: String,
        known: String,
    },
    /// A key we do not know inside a known section: almost always a typo.
    #[error("unknown key {key} in {origin} (known keys of this section: {known})")]
    UnknownKey {
        key: String,
        origin: String,
        known: String,
    },
    /// A value of the wrong type or shape (a string where a number belongs, etc.).
    #[error("{key}: {message} (in {origin})")]
    WrongType {
        key: String,
        origin: String,
        message: String,
    },
    /// An environment variable with our prefix that does not map to a key.
    #[error("environment variable {name}: {reason}")]
    Environment { name: String, reason: String },
    /// Values of the right type but outside what is allowed; all problems found at once.
    #[error("invalid configuration: {}", join(.0))]
    Invalid(Vec<Problem>),
    /// `ingress.tcp_token_file` is unusable.
    #[error("ingress.tcp_token_file = {}: {reason}", path.display())]
    TokenFile { path: PathBuf, reason: String },
    /// The MySQL password cannot be had: `source_name` is the key (with its value) or
    /// the environment variable it was to come from. Never holds the password.
    #[error("{source_name}: {reason}")]
    DatabasePassword { source_name: String, reason: String },
    /// Anything else reported by the `config` crate (not expected in practice).
    #[error("configuration: {0}")]
    Other(String),
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Collects [`Problem`]s so that `validate` reports all of them in one go.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<Problem>);

impl Problems {
    pub(crate) fn push(&mut self, key: &str, value: impl fmt::Display, allowed: impl Into<String>) {
        self.0.push(Problem {
            key: key.to_owned(),
            value: value.to_string(),
            allowed: allowed.into(),
        });
    }

    /// Records a problem unless `lo <= value <= hi`.
    pub(crate) fn range(&mut self, key: &str, value: u64, lo: u64, hi: u64) {
        if value < lo || value > hi {
            self.push(key, value, format!("must be between {lo} and {hi}"));
        }
    }

    pub(crate) fn into_result(self) -> Result<(), ConfigError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(self.0))
        }
    }
}

/// Formats a string value the way it would be written in TOML, for messages.
pub(crate) fn quoted(s: &str) -> String {
    format!("{s:?}")
}
