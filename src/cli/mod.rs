//! Command line: run the daemon, check the config, run the demo, and inspect a
//! running daemon through its Unix socket API.

pub mod api_client;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// loxilb-coordinator: the daemon between OpenStack Octavia and LoxiLB.
#[derive(Debug, Parser)]
#[command(name = "loxilb-coordinator", version, about)]
pub struct Cli {
    /// Configuration file (TOML, or INI with a [health_monitoring] section).
    #[arg(long, short, global = true, env = "LOXILB_COORDINATOR_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (the default).
    Run,
    /// Validate the configuration and print the effective values, secrets redacted.
    CheckConfig,
    /// Start the daemon with the LoxiLB simulator, a test driver agent and real
    /// loopback backends, replay a small Octavia scenario and print what happens.
    Demo {
        /// Keep everything running after the scenario until Ctrl-C.
        #[arg(long)]
        keep_running: bool,
    },
    /// List journaled events of the running daemon.
    Events {
        /// Only events in this state: queued, applying, done, failed.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Put a failed event back in its queue.
    Retry { event_id: i64 },
    /// Exit 0 when the running daemon answers /healthz (or /readyz with --ready);
    /// for container health checks and scripts.
    Health {
        /// Also require the database and at least one LoxiLB node (`/readyz`).
        #[arg(long)]
        ready: bool,
    },
}
