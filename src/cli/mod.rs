//! Command line: run the daemon, check the config, and inspect a running daemon
//! through its Unix socket API. (The demo is `examples/demo.rs`, not a command of
//! the daemon's binary.)

pub mod admin;
pub mod api_client;
pub mod health;
pub mod status_tree;
pub mod table;

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
    #[command(
        after_help = "Example:\n  loxilb-coordinator --config /etc/loxilb-coordinator/coordinator.toml run"
    )]
    Run,
    /// Validate the configuration and print the effective values, secrets redacted.
    #[command(
        after_help = "Example:\n  loxilb-coordinator --config /etc/loxilb-coordinator/coordinator.toml check-config"
    )]
    CheckConfig,
    /// Bring a shared MySQL/MariaDB database to this release's schema (cluster
    /// mode refuses to start on an older one). Run once, before the new release
    /// starts anywhere; a SQLite database is migrated by the daemon itself.
    #[command(
        after_help = "Example:\n  loxilb-coordinator --config /etc/loxilb-coordinator/coordinator.toml migrate"
    )]
    Migrate,
    /// List journaled events of the running daemon.
    #[command(after_help = "Example:\n  loxilb-coordinator events --state failed --limit 20")]
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
    #[command(after_help = "Example:\n  loxilb-coordinator retry 42")]
    Retry { event_id: i64 },
    /// Remove a failed event from the journal: it will not be applied. Failed events
    /// are never pruned by retention; this (or `retry`) is how they go.
    #[command(after_help = "Example:\n  loxilb-coordinator clear-event 42")]
    ClearEvent { event_id: i64 },
    /// Health statuses from the daemon's cache, with their age and the LoxiLB state
    /// behind each: every load balancer, one load balancer's tree (listeners, pools,
    /// health monitors, members), or one pool or member.
    #[command(
        after_help = "Example:\n  loxilb-coordinator health-status\n  loxilb-coordinator health-status --loadbalancer <LB_ID> --json"
    )]
    HealthStatus {
        #[arg(long, conflicts_with_all = ["pool", "member"])]
        loadbalancer: Option<String>,
        #[arg(long, conflicts_with = "member")]
        pool: Option<String>,
        #[arg(long)]
        member: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Check that every health monitor's probes exist on every LoxiLB node with the
    /// right options; exit 2 and list the differences otherwise.
    #[command(after_help = "Example:\n  loxilb-coordinator validate-health-monitors --json")]
    ValidateHealthMonitors {
        #[arg(long)]
        json: bool,
    },
    /// Compare desired state with every LoxiLB node and repair (or only list, with
    /// --dry-run) what differs.
    #[command(after_help = "Example:\n  loxilb-coordinator reconcile --dry-run")]
    Reconcile {
        #[arg(long)]
        dry_run: bool,
        /// Also delete what the blast-radius limit held (orphans, and load balancers
        /// Octavia reported not found at start-up).
        #[arg(long, conflicts_with = "dry_run")]
        confirm: bool,
        #[arg(long)]
        json: bool,
    },
    /// List orphaned LoxiLB objects of ours and load balancers held by the start-up
    /// check (exit 2 when there are some); --delete removes orphans within the
    /// blast-radius limit, --confirm removes everything listed.
    #[command(after_help = "Example:\n  loxilb-coordinator orphans --delete")]
    Orphans {
        #[arg(long)]
        delete: bool,
        /// Delete the candidates even beyond the blast-radius limit (implies --delete).
        #[arg(long)]
        confirm: bool,
        #[arg(long)]
        json: bool,
    },
    /// Replay the LoxiLB behaviours the daemon relies on (docs/loxilb-compat.md) against
    /// a real LoxiLB: one case per observable row, PASS/DIFF/SKIP each; exit 2 on any
    /// difference. Uses only --vip within --port-range and the given backends, and removes
    /// everything it creates (also on Ctrl-C). Run it once per LoxiLB upgrade.
    #[command(
        after_help = "Example:\n  loxilb-coordinator conformance --node http://10.0.0.5:11111 --vip 10.0.9.9 --port-range 40000-40039 --backend 10.0.1.10:8080 --backend 10.0.1.11:8080 --json > conformance.json"
    )]
    Conformance(Box<crate::conformance::Args>),
    /// Exit 0 when the running daemon answers /healthz (or /readyz with --ready);
    /// for container health checks and scripts. Prints the LoxiLB nodes' releases and
    /// the instance's role (single, leader or follower), lease epoch and leader.
    #[command(after_help = "Example:\n  loxilb-coordinator health --ready")]
    Health {
        /// Also require the database and at least one LoxiLB node (`/readyz`).
        #[arg(long)]
        ready: bool,
    },
}
