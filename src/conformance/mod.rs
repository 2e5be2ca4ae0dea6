//! `loxilb-coordinator conformance`: replays the LoxiLB behaviours the daemon relies on
//! (docs/loxilb-compat.md) against a real LoxiLB and reports where it differs.
//!
//! The simulator is built from LoxiLB's source and LoxiLB keeps changing, so every
//! operator's LoxiLB is a chance to catch a behaviour we assumed wrong. The same cases run
//! in CI against the simulator in each release mode, so simulator and LoxiLB answer
//! identical questions.
//!
//! Safety: the run touches only the VIP and port range it is given (and refuses if rules
//! already exist there), names its rules `octavia-conformance-<run id>`, creates probes only
//! on the given backends, and deletes everything it created, also on Ctrl-C.
//!
//! Layout: [`catalog`] lists the cases and the compat row each checks; [`checks`] turns
//! observations into verdicts (pure); `cases_*` make the calls of each case; [`api`] is the
//! raw HTTP side; [`guard`] tracks and removes what a run creates; [`runner`] drives a run;
//! [`report`] prints it.

pub mod api;
mod cases_api;
mod cases_probes;
mod cases_rules;
mod cases_update;
pub mod catalog;
pub mod checks;
mod ctx;
pub mod guard;
pub mod report;
mod runner;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use crate::config::Secret;

pub use runner::run;

/// Prefix of every rule and named probe a run creates; the run id follows.
pub const NAME_PREFIX: &str = "octavia-conformance-";

/// Command line of `conformance`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// LoxiLB API base URL, e.g. http://10.0.0.5:11111 (with or without /netlox/v1).
    #[arg(long, value_name = "URL")]
    pub node: String,
    /// VIP for the test rules; required: no rule may exist on it within --port-range.
    #[arg(long, value_name = "ADDR")]
    pub vip: Option<IpAddr>,
    /// Ports of the VIP the test rules may use, e.g. 40000-40039 (18 cases use one each;
    /// with fewer, the rest are skipped).
    #[arg(long, value_name = "A-B")]
    pub port_range: Option<PortRange>,
    /// A backend the cases that need endpoints may use (repeatable; a second backend with
    /// another address enables the probe host case). Without one, those cases are skipped.
    #[arg(long = "backend", value_name = "ADDR:PORT")]
    pub backends: Vec<SocketAddr>,
    /// LoxiLB user (default: [loxilb] username of --config, if given).
    #[arg(long)]
    pub username: Option<String>,
    /// LoxiLB password (default: [loxilb] password of --config, if given).
    #[arg(long, env = "LOXILB_CONFORMANCE_PASSWORD", hide_env_values = true)]
    pub password: Option<Secret>,
    /// CA certificate (PEM) for an https --node (default: [loxilb] ca_file of --config).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Print the report as JSON (attach it to a bug report).
    #[arg(long)]
    pub json: bool,
    /// Print every call the run would make, and make none.
    #[arg(long)]
    pub dry_run: bool,
    /// Remove the rules and probes left by the run with this id, then exit.
    #[arg(long, value_name = "RUN_ID")]
    pub cleanup: Option<String>,
    /// Wait this long between cases (tests use it to interrupt a run mid-way).
    #[arg(long, hide = true, value_name = "MS", default_value_t = 0)]
    pub pause_between_cases: u64,
    /// Use this run id instead of a random one (tests).
    #[arg(long, hide = true)]
    pub run_id: Option<String>,
    /// Configuration file to take LoxiLB credentials from (set by the global --config).
    #[arg(skip)]
    pub config: Option<PathBuf>,
}

/// `port + i`, or `port - i` near the top of the port space.
pub fn neighbour_port(port: u16, i: u16) -> u16 {
    port.checked_add(i)
        .unwrap_or_else(|| port.saturating_sub(i))
}

/// An inclusive port range `A-B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

impl PortRange {
    /// Whether `[lo, hi]` shares a port with this range.
    pub fn overlaps(&self, lo: u16, hi: u16) -> bool {
        lo <= self.last && hi >= self.first
    }

    /// How many ports the range holds.
    pub fn len(&self) -> usize {
        usize::from(self.last - self.first) + 1
    }

    /// Never true (a range holds at least one port); for clippy's len_without_is_empty.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl FromStr for PortRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("want A-B with 1 <= A <= B <= 65535, got {s:?}");
        let (a, b) = s.trim().split_once('-').ok_or_else(bad)?;
        let first: u16 = a.trim().parse().map_err(|_| bad())?;
        let last: u16 = b.trim().parse().map_err(|_| bad())?;
        if first == 0 || first > last {
            return Err(bad());
        }
        Ok(PortRange { first, last })
    }
}

/// Why a run could not be made or finished (exit code 1).
#[derive(Debug, thiserror::Error)]
pub enum ConformanceError {
    /// Missing or contradictory arguments.
    #[error("{0}")]
    Usage(String),
    /// LoxiLB could not be reached or did not answer.
    #[error("cannot reach LoxiLB at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The run would touch something that is not its own.
    #[error("refusing to run: {0}")]
    Refused(String),
    /// LoxiLB refused our credentials or wants some.
    #[error("login: {0}")]
    Login(String),
    /// The configuration file named by --config (or a TLS file) is not usable.
    #[error("configuration: {0}")]
    Config(String),
    /// Ctrl-C or SIGTERM ended the run (after its clean-up).
    #[error("{0}")]
    Interrupted(String),
    /// The run could not go on (LoxiLB unreachable mid-run), after its clean-up.
    #[error("{0}")]
    Stopped(String),
}

/// Map a finished run to the process exit code: 0 all passed (skips allowed), 2 some
/// case differs.
pub fn exit_code(report: &report::Report) -> ExitCode {
    if report.differences() > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges_parse_and_overlap() {
        let r: PortRange = "40000-40009"
            .parse()
            .unwrap_or(PortRange { first: 1, last: 1 });
        assert_eq!(
            r,
            PortRange {
                first: 40000,
                last: 40009
            }
        );
        assert_eq!(r.len(), 10);
        assert!(r.overlaps(39990, 40000));
        assert!(r.overlaps(40009, 40009));
        assert!(!r.overlaps(40010, 40100));
        assert!("0-10".parse::<PortRange>().is_err());
        assert!("10-9".parse::<PortRange>().is_err());
        assert!("10".parse::<PortRange>().is_err());
        assert!("a-b".parse::<PortRange>().is_err());
    }

    #[test]
    fn neighbours_stay_in_the_port_space() {
        assert_eq!(neighbour_port(8080, 3), 8083);
        assert_eq!(neighbour_port(65535, 2), 65533);
    }
}
