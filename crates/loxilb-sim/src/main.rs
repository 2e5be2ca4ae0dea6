//! Standalone LoxiLB simulator: serves the LoxiLB API under /netlox/v1 and the control API
//! under /sim/v1 until Ctrl-C.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use loxilb_sim::SimOptions;

/// Command line of `loxilb-sim`.
#[derive(Debug, Parser)]
#[command(name = "loxilb-sim", about = "LoxiLB REST API simulator")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:11111")]
    listen: SocketAddr,
    /// Delay before every API answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Enable token auth with this user (needs --password).
    #[arg(long, requires = "password")]
    username: Option<String>,
    /// Password for --username.
    #[arg(long, requires = "username")]
    password: Option<String>,
    /// Do not run health probes (endpoints stay as created).
    #[arg(long)]
    no_probing: bool,
    /// LoxiLB release to behave as, e.g. v0.9.8.4 (errors as HTTP 200) or v0.9.8.8.
    #[arg(long, default_value_t = loxilb_sim::LoxilbVersion::default())]
    loxilb_version: loxilb_sim::LoxilbVersion,
    /// CA certificate (PEM) trusted by HTTPS probes, like LoxiLB's /opt/loxilb/cert/rootCA.crt;
    /// repeatable.
    #[arg(long = "ca-cert", value_name = "FILE")]
    ca_cert: Vec<std::path::PathBuf>,
    /// Get one behaviour wrong on purpose; only for testing `loxilb-coordinator
    /// conformance` (see loxilb_sim::Flip for the names).
    #[arg(long, hide = true, value_name = "NAME")]
    flip_behaviour: Option<loxilb_sim::Flip>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let opts = SimOptions {
        latency: Duration::from_millis(args.latency_ms),
        auth: args.username.zip(args.password),
        probing: !args.no_probing,
        version: args.loxilb_version,
        ca_certs: args
            .ca_cert
            .into_iter()
            .map(loxilb_sim::CaCert::File)
            .collect(),
        flip: args.flip_behaviour,
        ..SimOptions::default()
    };
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    let sim = loxilb_sim::spawn_on(listener, opts).await?;
    tracing::info!(url = %sim.url(), "serving /netlox/v1 and /sim/v1; Ctrl-C to stop");
    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    sim.shutdown().await;
    Ok(())
}
