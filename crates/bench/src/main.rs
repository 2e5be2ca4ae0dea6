//! `cargo run --release -p bench -- all`: the benchmarks of issue 7 against the LoxiLB
//! simulator on loopback, each repeated and reported as median and spread.
//!
//! The daemon runs as a child process of this binary (`bench daemon CONFIG`), so its
//! resident memory (B4) is its own and its CPU is not shared with the load generator
//! inside one runtime. Everything listens on loopback or Unix sockets in a temp dir.

mod b2;
mod b3;
mod harness;
mod scenarios;
mod soak;
mod stats;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "loxilb-coordinator benchmarks")]
struct Args {
    #[command(subcommand)]
    what: What,
    /// Repetitions per figure.
    #[arg(long, default_value_t = 3, global = true)]
    runs: usize,
    /// Object counts for the growth rows (events for B1/B5, members for B4).
    #[arg(long, value_delimiter = ',', default_values_t = [1000usize, 10000], global = true)]
    sizes: Vec<usize>,
    /// B5: steady event rates (events/s) to measure at; one row per rate and size.
    #[arg(long, value_delimiter = ',', default_values_t = [1000u64], global = true)]
    rates: Vec<u64>,
    /// Run the daemon on a MariaDB (a `mariadbd` process of this run, Debian's
    /// mariadb-server) in cluster mode instead of its embedded SQLite.
    #[arg(long, global = true)]
    mariadb: bool,
    /// With `--mariadb`: how many daemons share the database; events go round-robin
    /// to their ingress sockets.
    #[arg(long, default_value_t = 1, global = true)]
    instances: usize,
    /// With `--mariadb`: an option for the `mariadbd` of the run, after the test
    /// harness's own (repeatable), e.g. `--mariadb-option=--innodb-log-file-size=96M`.
    #[arg(long = "mariadb-option", global = true, allow_hyphen_values = true)]
    mariadb_options: Vec<String>,
}

#[derive(Subcommand)]
enum What {
    /// Every benchmark.
    All,
    /// B1: burst of member and health monitor events, calls per event.
    B1,
    /// B2: one status poll cycle with 10 changes.
    B2,
    /// B3: reconcile + orphan scan of one node with 1 % drift.
    B3,
    /// B4: resident memory holding members and monitors.
    B4,
    /// B5: accepted-to-applied latency at a steady rate (1k events/s by default).
    B5,
    /// Soak: 50 LBs x 20 members with HTTP monitors, 20 events/s, 5 % of backends
    /// flipping every 10 s; RSS/fds/database slopes, CPU %, log volume, drift reports.
    Soak {
        /// How long to run.
        #[arg(long, default_value_t = 20.0)]
        minutes: f64,
        /// Journal retention for the run (`[database] retention_days`), in minutes.
        #[arg(long, default_value_t = 5.0)]
        retention_minutes: f64,
        /// Steady event rate, events/s (0: only status polling and flips).
        #[arg(long, default_value_t = 20)]
        rate: u64,
        /// Keep the daemon's log in this file.
        #[arg(long)]
        log: Option<std::path::PathBuf>,
    },
    /// Internal: run the daemon with this config (the benchmarks' child process).
    Daemon { config: std::path::PathBuf },
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    harness::use_mariadb(args.mariadb);
    harness::use_instances(args.instances);
    mariadb_harness::set_server_options(args.mariadb_options.clone());
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match args.what {
            What::Daemon { config } => harness::run_daemon(config).await,
            What::All => {
                scenarios::b1(args.runs, &args.sizes).await?;
                b2::b2(args.runs, &args.sizes).await?;
                b3::b3(args.runs, &args.sizes).await?;
                scenarios::b4(args.runs, &args.sizes).await?;
                scenarios::b5(args.runs, &args.sizes, &args.rates).await
            }
            What::B1 => scenarios::b1(args.runs, &args.sizes).await,
            What::B2 => b2::b2(args.runs, &args.sizes).await,
            What::B3 => b3::b3(args.runs, &args.sizes).await,
            What::B4 => scenarios::b4(args.runs, &args.sizes).await,
            What::B5 => scenarios::b5(args.runs, &args.sizes, &args.rates).await,
            What::Soak {
                minutes,
                retention_minutes,
                rate,
                log,
            } => {
                soak::soak(soak::SoakOptions {
                    minutes,
                    retention_minutes,
                    rate,
                    log,
                })
                .await
            }
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
