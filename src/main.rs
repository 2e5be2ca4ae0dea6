//! The `loxilb-coordinator` binary: parses the command line and runs a subcommand.

use std::process::ExitCode;

use clap::Parser;
use loxilb_coordinator::cli::{Cli, Command};

fn main() -> ExitCode {
    // Usage errors exit 1 like every other error: 2 means "the check found problems"
    // (conformance differences, orphans), which a typo must never look like.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let command = cli.command.unwrap_or(Command::Run);
    match runtime.block_on(loxilb_coordinator::commands::execute(command, cli.config)) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}
