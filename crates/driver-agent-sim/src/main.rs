//! `driver-agent-sim --dir DIR [--fixtures FILE.json]`
//!
//! Serves the three driver agent sockets in DIR and prints every accepted
//! message as one JSON line on stdout (`{"socket": "status", "message": …}`),
//! so an operator or a demo can watch exactly what the coordinator reports.
//! Logs go to stderr. Runs until Ctrl-C, then removes the socket files.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use tokio::sync::broadcast::error::RecvError;

/// Stand-in for octavia-driver-agent's status/stats/get sockets.
#[derive(Parser, Debug)]
#[command(name = "driver-agent-sim", version)]
struct Args {
    /// Directory for status.sock, stats.sock and get.sock (created if missing).
    #[arg(long)]
    dir: PathBuf,
    /// JSON file `{"<collection>": {"<id>": {provider dict}}}` answered on get.sock.
    #[arg(long)]
    fixtures: Option<PathBuf>,
}

fn load_fixtures(
    control: &driver_agent_sim::AgentControl,
    path: &PathBuf,
) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    control
        .load_fixtures(&doc)
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let agent = match driver_agent_sim::spawn(&args.dir).await {
        Ok(agent) => agent,
        Err(e) => {
            eprintln!(
                "driver-agent-sim: cannot listen in {}: {e}",
                args.dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let control = agent.control();
    if let Some(path) = &args.fixtures {
        match load_fixtures(&control, path) {
            Ok(n) => tracing::info!("loaded {n} fixtures"),
            Err(e) => {
                eprintln!("driver-agent-sim: bad fixtures {e}");
                agent.stop().await;
                return ExitCode::FAILURE;
            }
        }
    }
    tracing::info!("listening in {}", args.dir.display());
    let mut feed = control.subscribe();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            next = feed.recv() => match next {
                Ok(rx) => {
                    let line = serde_json::json!({"socket": rx.socket.as_str(), "message": rx.message});
                    let mut out = std::io::stdout().lock();
                    // A closed stdout (e.g. `| head`) is no reason to stop serving.
                    let _ = writeln!(out, "{line}").and_then(|_| out.flush());
                }
                Err(RecvError::Lagged(n)) => tracing::warn!("output fell behind, {n} messages not printed"),
                Err(RecvError::Closed) => break,
            },
        }
    }
    agent.stop().await;
    ExitCode::SUCCESS
}
