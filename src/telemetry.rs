//! Logging set-up: text or JSON lines, levels from the config file, overridable by
//! `RUST_LOG` (an operator debugging a live system should not need to edit files).
//! The level filter sits behind a reload handle so SIGHUP can change it in place.

use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, reload, EnvFilter, Registry};

use crate::config::{LogFormat, LoggingConfig};

static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

fn env_override() -> Option<EnvFilter> {
    std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
}

/// Install the global subscriber. Safe to call more than once (later calls are
/// ignored), which keeps tests and the demo simple.
pub fn init(cfg: &LoggingConfig) {
    let filter = env_override()
        .or_else(|| EnvFilter::try_new(&cfg.level).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    let installed = match cfg.format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    // Colours only on a terminal: journald and log files get plain text.
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    if installed.is_ok() {
        let _ = FILTER.set(handle);
    }
}

/// Apply a new level filter (SIGHUP). `RUST_LOG`, when set, keeps precedence.
pub fn reload_level(level: &str) -> Result<(), String> {
    if env_override().is_some() {
        return Err("RUST_LOG is set and takes precedence".into());
    }
    let filter = EnvFilter::try_new(level).map_err(|e| format!("logging.level: {e}"))?;
    let handle = FILTER.get().ok_or("logging is not initialised")?;
    handle.reload(filter).map_err(|e| e.to_string())
}
