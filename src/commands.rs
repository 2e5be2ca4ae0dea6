//! What each CLI subcommand does. Errors come back as messages for `main` to print
//! with a non-zero exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Value;

use crate::app::{self, IngressListener};
use crate::cli::admin;
use crate::cli::api_client::ApiClient;
use crate::cli::Command;
use crate::config::Config;
use crate::ingress::listen::{bind_unix, remove_socket};
use crate::shutdown::Shutdown;

/// What `run` checks before it binds anything, and `check-config` checks the
/// same way: files named by the configuration that must be private and
/// readable (the TCP token file: mode and owner), and the TLS files, loaded.
fn preflight(config: &Config) -> Result<(), String> {
    config.tcp_token().map_err(|e| e.to_string())?;
    if let Some(files) = config.ingress.tls_files() {
        crate::ingress::tls::acceptor(&files).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Run one subcommand.
pub async fn execute(command: Command, config_path: Option<PathBuf>) -> Result<ExitCode, String> {
    match command {
        Command::Conformance(args) => {
            let args = crate::conformance::Args {
                config: config_path,
                ..*args
            };
            crate::conformance::run(args).await
        }
        Command::CheckConfig => {
            let config = load(config_path)?;
            preflight(&config)?;
            print!("{}", config.redacted_toml());
            eprintln!("configuration is valid");
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => migrate(&load(config_path)?).await,
        Command::Run => run_daemon(config_path).await,
        Command::Events { state, limit, json } => {
            events(&load(config_path)?, state, limit, json).await
        }
        Command::HealthStatus {
            loadbalancer,
            pool,
            member,
            json,
        } => {
            let config = load(config_path)?;
            health_status(&config, loadbalancer, pool, member, json).await
        }
        Command::ValidateHealthMonitors { json } => {
            let config = load(config_path)?;
            let (code, body) = admin::call(
                &config.ingress.socket_path,
                "GET",
                "/v1/health-monitors/validate",
            )
            .await?;
            let problems = body.get("ok").and_then(Value::as_bool) == Some(false);
            admin::finish(code, &body, json, problems)
        }
        Command::Reconcile {
            dry_run,
            confirm,
            json,
        } => {
            let config = load(config_path)?;
            let path = format!("/v1/reconcile?dry_run={dry_run}&confirm={confirm}");
            let (code, body) = admin::call(&config.ingress.socket_path, "POST", &path).await?;
            admin::finish(code, &body, json, false)
        }
        Command::Orphans {
            delete,
            confirm,
            json,
        } => orphans(&load(config_path)?, delete, confirm, json).await,
        Command::Health { ready } => health(&load(config_path)?, ready).await,
        Command::Retry { event_id } => {
            let path = format!("/v1/events/{event_id}/retry");
            journal_call(&load(config_path)?, "POST", &path, 202).await?;
            println!("event {event_id} queued again");
            Ok(ExitCode::SUCCESS)
        }
        Command::ClearEvent { event_id } => {
            let path = format!("/v1/events/{event_id}");
            journal_call(&load(config_path)?, "DELETE", &path, 200).await?;
            println!("event {event_id} cleared from the journal");
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `migrate`: bring a mysql:// database to this release's schema.
async fn migrate(config: &Config) -> Result<ExitCode, String> {
    if !config.database.is_cluster() {
        return Err(format!(
            "database.url {}: migrate is for mysql:// databases; the daemon migrates \
             its SQLite file itself at start",
            crate::config::redacted_url(&config.database.url)
        ));
    }
    let password = config.database_password().map_err(|e| e.to_string())?;
    crate::store::mysql::MysqlStore::migrate(
        &config.database.url,
        password.as_ref().map(|p| p.expose()),
    )
    .await
    .map_err(|e| e.to_string())?;
    eprintln!(
        "database {} is at this release's schema",
        crate::config::redacted_url(&config.database.url)
    );
    Ok(ExitCode::SUCCESS)
}

/// `run`: the daemon itself, on the configured socket, until SIGTERM or SIGINT.
async fn run_daemon(config_path: Option<PathBuf>) -> Result<ExitCode, String> {
    let config = load(config_path.clone())?;
    crate::telemetry::init(&config.logging);
    preflight(&config)?;
    let socket = config.ingress.socket_path.clone();
    let listener = bind_unix(&socket, config.ingress.socket_mode)
        .await
        .map_err(|e| e.to_string())?;
    let shutdown = Shutdown::new();
    spawn_signal_handler(shutdown.clone());
    spawn_reload_handler(config_path, config.clone());
    if let Err(e) = app::run(IngressListener::Unix(listener), config, shutdown).await {
        // Nobody serves it any more: a socket left behind would only make
        // the next start probe it.
        remove_socket(&socket);
        return Err(e.to_string());
    }
    Ok(ExitCode::SUCCESS)
}

/// `events`: the journal's latest events, as a table or JSON.
async fn events(
    config: &Config,
    state: Option<String>,
    limit: u32,
    json: bool,
) -> Result<ExitCode, String> {
    let mut path = format!("/v1/events?limit={limit}");
    if let Some(s) = state {
        path.push_str(&format!("&state={s}"));
    }
    let body = journal_call(config, "GET", &path, 200).await?;
    if json {
        println!("{body}");
    } else {
        print_events(&body);
    }
    Ok(ExitCode::SUCCESS)
}

/// A call to the journal's routes that must answer `want`; its body otherwise.
async fn journal_call(
    config: &Config,
    method: &str,
    path: &str,
    want: u16,
) -> Result<Value, String> {
    let (code, body) = ApiClient::new(&config.ingress.socket_path)
        .call(method, path, None)
        .await
        .map_err(|e| e.to_string())?;
    if code != want {
        return Err(format!("daemon answered {code}: {body}"));
    }
    Ok(body)
}

/// `health-status`: one object's status, a load balancer's tree, or the list.
async fn health_status(
    config: &Config,
    loadbalancer: Option<String>,
    pool: Option<String>,
    member: Option<String>,
    json: bool,
) -> Result<ExitCode, String> {
    let tree = loadbalancer.is_some();
    let all = loadbalancer.is_none() && pool.is_none() && member.is_none();
    let path = match (loadbalancer, pool, member) {
        (Some(id), _, _) => format!("/v1/status/loadbalancers/{id}"),
        (_, Some(id), _) => format!("/v1/status/pools/{id}"),
        (_, _, Some(id)) => format!("/v1/status/members/{id}"),
        _ => "/v1/status/loadbalancers".to_string(),
    };
    let (code, body) = admin::call(&config.ingress.socket_path, "GET", &path).await?;
    if (200..300).contains(&code) && !json {
        let text = if tree {
            crate::cli::status_tree::render(&body)
        } else if all {
            crate::cli::status_tree::render_list(&body)
        } else {
            crate::cli::status_tree::render_one(&body)
        };
        println!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    admin::finish(code, &body, json, false)
}

/// `orphans`: list (or delete) what LoxiLB holds that no record explains; exit 2
/// while any is left, or a deletion was held by the blast-radius limit.
async fn orphans(
    config: &Config,
    delete: bool,
    confirm: bool,
    json: bool,
) -> Result<ExitCode, String> {
    let delete = delete || confirm;
    let (method, path) = match (delete, confirm) {
        (_, true) => ("POST", "/v1/orphans/delete?confirm=true"),
        (true, false) => ("POST", "/v1/orphans/delete"),
        (false, false) => ("GET", "/v1/orphans"),
    };
    let (code, body) = admin::call(&config.ingress.socket_path, method, path).await?;
    // The answer lists orphans per node (`nodes[].orphans`); a flat
    // `orphans` list counts too.
    let non_empty = |v: &Value| {
        v.get("orphans")
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    };
    let held = body
        .get("held_loadbalancers")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let found = non_empty(&body)
        || held
        || body
            .get("nodes")
            .and_then(Value::as_array)
            .is_some_and(|nodes| nodes.iter().any(non_empty));
    // Deletions the blast-radius limit held are a problem even after --delete.
    let blocked = body
        .get("nodes")
        .and_then(Value::as_array)
        .is_some_and(|nodes| nodes.iter().any(|n| n["held"] == true));
    admin::finish(code, &body, json, (found && !delete) || blocked)
}

/// `health`: `/healthz` (or `/readyz`), the cluster role and each LoxiLB node's version.
async fn health(config: &Config, ready: bool) -> Result<ExitCode, String> {
    let path = if ready { "/readyz" } else { "/healthz" };
    let (code, body) = ApiClient::new(&config.ingress.socket_path)
        .call("GET", path, None)
        .await
        .map_err(|e| format!("daemon not reachable: {e}"))?;
    if code != 200 {
        return Err(format!("{path}: {code} {body}"));
    }
    println!("{path}: ok");
    if let Some(line) = crate::cli::health::cluster_line(&body) {
        println!("{line}");
    }
    for node in body
        .get("loxilb_nodes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let url = node.get("url").and_then(Value::as_str).unwrap_or("?");
        let version = node
            .get("version")
            .and_then(Value::as_str)
            .unwrap_or("not reached yet");
        println!("LoxiLB {url}: version {version}");
    }
    Ok(ExitCode::SUCCESS)
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

/// SIGHUP: re-read the configuration. The logging level changes in place; any other
/// changed section is logged as needing a restart (those values are wired into
/// running tasks, sockets and pools at start). An invalid file changes nothing.
fn spawn_reload_handler(path: Option<PathBuf>, running: Config) {
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::warn!("cannot install the SIGHUP handler; reload needs a restart");
            return;
        };
        let mut current = running;
        while hup.recv().await.is_some() {
            let new = match load(path.clone()) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "SIGHUP: configuration invalid, nothing changed");
                    continue;
                }
            };
            if new.logging.level != current.logging.level {
                // Logged before the switch: the new level may hide this line.
                tracing::info!(level = %new.logging.level, "SIGHUP: logging.level applied");
                if let Err(e) = crate::telemetry::reload_level(&new.logging.level) {
                    tracing::warn!(error = %e, "SIGHUP: logging.level not applied");
                }
            }
            for section in restart_sections(&current, &new) {
                tracing::warn!(
                    section,
                    "SIGHUP: section changed; restart the daemon to apply it"
                );
            }
            current.logging.level = new.logging.level.clone();
            let applied = current.logging.clone();
            current = Config {
                logging: applied,
                ..new
            };
        }
    });
}

/// Sections that differ and can only take effect after a restart.
fn restart_sections(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut out = Vec::new();
    if old.health_monitoring != new.health_monitoring {
        out.push("health_monitoring");
    }
    if old.loxilb != new.loxilb {
        out.push("loxilb");
    }
    if old.octavia != new.octavia {
        out.push("octavia");
    }
    if old.ingress != new.ingress {
        out.push("ingress");
    }
    if old.database != new.database {
        out.push("database");
    }
    if old.cluster != new.cluster {
        out.push("cluster");
    }
    if old.logging.format != new.logging.format {
        out.push("logging.format");
    }
    if old.metrics != new.metrics {
        out.push("metrics");
    }
    out
}

/// The events table: the columns an operator scans, through the shared renderer.
fn print_events(body: &Value) {
    let rows = body
        .get("events")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    println!(
        "{}",
        crate::cli::table::render(
            rows,
            Some(&["id", "state", "method", "object_id", "reason"])
        )
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reload names every changed section that needs a restart, `[cluster]` too
    /// (the election runs with the instance id and lease it started with).
    #[test]
    fn a_changed_cluster_section_needs_a_restart() {
        let old = Config::default();
        let mut new = old.clone();
        assert!(restart_sections(&old, &new).is_empty());
        new.cluster.lease_seconds = 30;
        assert_eq!(restart_sections(&old, &new), vec!["cluster"]);
    }
}
