//! What each CLI subcommand does. Errors come back as messages for `main` to print
//! with a non-zero exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Value;

use crate::app::{self, IngressListener};
use crate::cli::api_client::ApiClient;
use crate::cli::Command;
use crate::config::Config;
use crate::ingress::listen::bind_unix;
use crate::shutdown::Shutdown;

/// Run one subcommand.
pub async fn execute(command: Command, config_path: Option<PathBuf>) -> Result<ExitCode, String> {
    match command {
        Command::Demo { keep_running } => crate::demo::run(keep_running)
            .await
            .map(|_| ExitCode::SUCCESS),
        Command::CheckConfig => {
            let config = load(config_path)?;
            print!("{}", config.redacted_toml());
            eprintln!("configuration is valid");
            Ok(ExitCode::SUCCESS)
        }
        Command::Run => {
            let config = load(config_path)?;
            crate::telemetry::init(&config.logging);
            let listener = bind_unix(&config.ingress.socket_path, config.ingress.socket_mode)
                .await
                .map_err(|e| e.to_string())?;
            let shutdown = Shutdown::new();
            spawn_signal_handler(shutdown.clone());
            app::run(IngressListener::Unix(listener), config, shutdown)
                .await
                .map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Events { state, limit, json } => {
            let config = load(config_path)?;
            let mut path = format!("/v1/events?limit={limit}");
            if let Some(s) = state {
                path.push_str(&format!("&state={s}"));
            }
            let (code, body) = ApiClient::new(&config.ingress.socket_path)
                .call("GET", &path, None)
                .await
                .map_err(|e| e.to_string())?;
            if code != 200 {
                return Err(format!("daemon answered {code}: {body}"));
            }
            if json {
                println!("{body}");
            } else {
                print_events(&body);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Retry { event_id } => {
            let config = load(config_path)?;
            let (code, body) = ApiClient::new(&config.ingress.socket_path)
                .call("POST", &format!("/v1/events/{event_id}/retry"), None)
                .await
                .map_err(|e| e.to_string())?;
            if code != 202 {
                return Err(format!("daemon answered {code}: {body}"));
            }
            println!("event {event_id} queued again");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn load(path: Option<PathBuf>) -> Result<Config, String> {
    Config::load(path.as_deref()).map_err(|e| e.to_string())
}

/// SIGTERM (systemd, docker stop) and SIGINT (Ctrl-C) both start a graceful stop.
fn spawn_signal_handler(shutdown: Shutdown) {
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::warn!("cannot install signal handlers; stop with SIGKILL only");
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
            _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
        }
        shutdown.trigger();
    });
}

fn print_events(body: &Value) {
    println!(
        "{:>8}  {:<10}  {:<24}  {:<38}  REASON",
        "ID", "STATE", "METHOD", "OBJECT"
    );
    let empty = Vec::new();
    for e in body
        .get("events")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
    {
        let s = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        println!(
            "{:>8}  {:<10}  {:<24}  {:<38}  {}",
            e.get("id").and_then(Value::as_i64).unwrap_or(0),
            s("state"),
            s("method"),
            s("object_id"),
            s("reason")
        );
    }
}
