//! Drives a run: credentials, version, safety checks, the cases in order with their
//! clean-up, Ctrl-C, and the report; or `--cleanup RUN_ID` alone.

use std::collections::HashSet;
use std::process::ExitCode;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use tokio::signal::unix::{signal, Signal, SignalKind};

use super::api::{Api, Auth, Body, Tls};
use super::catalog::{CaseId, CaseInfo, CASES};
use super::checks::{Expect, Verdict};
use super::ctx::{Ctx, Res};
use super::guard::{self, Guard};
use super::report::{Report, Row, Summary};
use super::{
    cases_api, cases_probes, cases_rules, cases_update, exit_code, Args, ConformanceError,
    PortRange, NAME_PREFIX,
};

/// Run `conformance` as the command line asked; Err is printed by `main` (exit 1).
pub async fn run(args: Args) -> Result<ExitCode, String> {
    match run_inner(args).await {
        Ok(code) => Ok(code),
        Err(e) => Err(e.to_string()),
    }
}

async fn run_inner(args: Args) -> Result<ExitCode, ConformanceError> {
    let (credentials, tls) = settings(&args)?;
    let mut api = Api::new(&args.node, args.dry_run, &tls)?;
    if let Some(id) = &args.cleanup {
        check_run_id(id)?;
        if let Some((u, p)) = &credentials {
            api.login(u, p).await?;
        }
        return cleanup_only(&api, id).await;
    }
    let (vip, range, run_id) = targets(&args)?;
    let name = format!("{NAME_PREFIX}{run_id}");
    // Registered now, not when first awaited, so a Ctrl-C during the first calls is
    // caught too and leads to clean-up instead of the default exit.
    let mut signals = Signals::new()?;

    if let Some((u, p)) = &credentials {
        api.login(u, p).await?;
    }
    let version_reply = api
        .send(Method::GET, "/version", Body::None, Auth::Without)
        .await?;
    let reported = version_reply.body.get("version").and_then(Value::as_str);
    let expect = Expect::from_reported(reported);
    guard::precheck(&api, vip, range, &args.backends).await?;

    let mut report = Report {
        run_id: run_id.clone(),
        node: args.node.clone(),
        loxilb_version: reported.map(str::to_string),
        build_info: version_reply
            .body
            .get("buildInfo")
            .and_then(Value::as_str)
            .map(str::to_string),
        expected_release: expect.release.to_string(),
        note: expect.note.clone(),
        cases: Vec::new(),
        summary: Summary::default(),
        left_behind: Vec::new(),
    };
    let mut ctx = Ctx {
        api,
        expect,
        name: name.clone(),
        vip,
        port: 0,
        backends: args.backends.clone(),
        guard: Guard::default(),
        credentials: credentials.clone(),
        version_reply: (!args.dry_run).then_some(version_reply),
    };
    let pause = Duration::from_millis(args.pause_between_cases);
    let stop = run_cases(&mut ctx, &mut report, &mut signals, range, pause).await;
    tidy(&mut ctx, &mut report).await;
    match guard::sweep(&ctx.api, &name).await {
        Ok(s) => report.left_behind.extend(s.left),
        Err(e) => report.left_behind.push(format!("final sweep failed: {e}")),
    }
    if let Some(stop) = stop {
        return Err(stopped(stop, &run_id, &report));
    }
    finish(report, &args)
}

/// The run's VIP, port range and id: the first two the operator must name.
fn targets(args: &Args) -> Result<(std::net::IpAddr, PortRange, String), ConformanceError> {
    let vip = args.vip.ok_or_else(|| {
        ConformanceError::Usage(
            "conformance needs an explicit --vip ADDR: the address its test rules use (no rule may exist on it within --port-range)".into(),
        )
    })?;
    let range = args.port_range.ok_or_else(|| {
        ConformanceError::Usage(
            "conformance needs an explicit --port-range A-B: the ports of --vip its test rules may use (one per case)".into(),
        )
    })?;
    let run_id = match &args.run_id {
        Some(id) => {
            check_run_id(id)?;
            id.clone()
        }
        None => format!("{:08x}", rand::random::<u32>()),
    };
    Ok((vip, range, run_id))
}

/// SIGINT and SIGTERM, registered for the whole run.
struct Signals {
    int: Signal,
    term: Signal,
}

impl Signals {
    fn new() -> Result<Signals, ConformanceError> {
        Ok(Signals {
            int: signal(SignalKind::interrupt()).map_err(signal_error)?,
            term: signal(SignalKind::terminate()).map_err(signal_error)?,
        })
    }

    /// Returns once either arrives.
    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
        }
    }
}

/// Why the cases stopped before the last one.
enum Stop {
    Interrupted,
    Failed(ConformanceError),
}

/// Every case in catalogue order, each from a clean node; `Some` if they stopped early.
async fn run_cases(
    ctx: &mut Ctx,
    report: &mut Report,
    signals: &mut Signals,
    range: PortRange,
    pause: Duration,
) -> Option<Stop> {
    let mut ports = range.first..=range.last;
    let needed = CASES.iter().filter(|c| c.port).count();
    for info in CASES {
        if let Some(reason) = skip_reason(info, ctx) {
            report
                .cases
                .push(Row::new(info, Verdict::skip(info.row, reason)));
            continue;
        }
        if info.port {
            match ports.next() {
                Some(p) => ctx.port = p,
                None => {
                    let reason = format!("--port-range too small ({needed} ports needed)");
                    report
                        .cases
                        .push(Row::new(info, Verdict::skip(info.row, reason)));
                    continue;
                }
            }
        }
        let outcome = tokio::select! {
            r = run_case(ctx, info.id) => Some(r),
            _ = signals.recv() => None,
        };
        // Each case starts from a clean node: what the previous one made is gone.
        tidy(ctx, report).await;
        match outcome {
            None => return Some(Stop::Interrupted),
            Some(Err(e)) => return Some(Stop::Failed(e)),
            Some(Ok(v)) => report.cases.push(Row::new(info, v)),
        }
        if !pause.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = signals.recv() => return Some(Stop::Interrupted),
            }
        }
    }
    None
}

/// The error of a run that stopped early, saying what it left behind.
fn stopped(stop: Stop, run_id: &str, report: &Report) -> ConformanceError {
    let left = if report.left_behind.is_empty() {
        "everything it created was removed".to_string()
    } else {
        format!(
            "left behind: {} (remove with --cleanup {run_id})",
            report.left_behind.join(", ")
        )
    };
    match stop {
        Stop::Failed(e) => ConformanceError::Stopped(format!("run {run_id} stopped: {e}; {left}")),
        Stop::Interrupted => {
            ConformanceError::Interrupted(format!("run {run_id} interrupted; {left}"))
        }
    }
}

/// Print the report of a finished run and choose the exit code.
fn finish(mut report: Report, args: &Args) -> Result<ExitCode, ConformanceError> {
    report.tally();
    if args.dry_run {
        println!(
            "dry run {}: the calls above would be made; nothing was sent (expectations of v{})",
            report.run_id, report.expected_release
        );
        return Ok(ExitCode::SUCCESS);
    }
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.render());
    }
    if !report.left_behind.is_empty() {
        return Ok(ExitCode::from(1));
    }
    Ok(exit_code(&report))
}

/// Remove what the guard remembers, then any touched probe key still listed (a LoxiLB
/// that keeps probes after their last rule); what cannot be removed goes to the report.
async fn tidy(ctx: &mut Ctx, report: &mut Report) {
    let problems = ctx.guard.release(&ctx.api).await;
    report.left_behind.extend(problems);
    match guard::sweep_touched(&ctx.api, &ctx.guard.touched).await {
        Ok(left) => report.left_behind.extend(left),
        Err(e) => report.left_behind.push(format!("probe sweep failed: {e}")),
    }
}

/// Why a case cannot run with what the operator gave, if so.
fn skip_reason(info: &CaseInfo, ctx: &Ctx) -> Option<String> {
    let addrs: HashSet<_> = ctx.backends.iter().map(|b| b.ip()).collect();
    match info.backends {
        0 => None,
        1 if ctx.backends.is_empty() => Some("needs --backend ADDR:PORT".into()),
        2 if addrs.len() < 2 => {
            Some("needs two --backend ADDR:PORT with different addresses".into())
        }
        _ => None,
    }
}

async fn run_case(c: &mut Ctx, id: CaseId) -> Res<Verdict> {
    match id {
        CaseId::VersionShape => cases_api::version_shape(c).await,
        CaseId::ProcessStatusShape => cases_api::process_status_shape(c).await,
        CaseId::Login => cases_api::login(c).await,
        CaseId::ErrorShape => cases_api::error_shape(c).await,
        CaseId::SwaggerBinding => cases_api::swagger_binding(c).await,
        CaseId::RuleWithoutEndpoints => cases_api::rule_without_endpoints(c).await,
        CaseId::DeleteByAbsentName => cases_api::delete_by_absent_name(c).await,
        CaseId::ProbeDeleteAbsent => cases_api::probe_delete_absent(c).await,
        CaseId::ProbeHostParse => cases_api::probe_host_parse(c).await,
        CaseId::EpHostStateUnknown => cases_api::ep_host_state_unknown(c).await,
        CaseId::RuleHttpProbetype => cases_rules::http_probetype(c).await,
        CaseId::RuleProbeport => cases_rules::probeport(c).await,
        CaseId::RuleProbetypeForcesMonitor => cases_rules::probetype_forces_monitor(c).await,
        CaseId::Rule33Endpoints => cases_rules::endpoints_33(c).await,
        CaseId::RuleArguments => cases_rules::arguments(c).await,
        CaseId::DsrNeedsHash => cases_rules::dsr_needs_hash(c).await,
        CaseId::WeightCast => cases_rules::weight_cast(c).await,
        CaseId::UpdateConflicts => cases_update::conflicts(c).await,
        CaseId::UpdateKeeps => cases_update::keeps(c).await,
        CaseId::AllowedSourcesQuirk => cases_update::allowed_sources(c).await,
        CaseId::Oper0Hides => cases_update::oper0(c).await,
        CaseId::UpdateRefusalOrder => cases_update::refusal_order(c).await,
        CaseId::RuleProbeEntries => cases_rules::probe_entries(c).await,
        CaseId::ApiProbeKeepsOptions => cases_probes::api_probe_kept(c).await,
        CaseId::RuleListing => cases_rules::listing(c).await,
        CaseId::ProbeRepostKeepsHost => cases_probes::repost_keeps_host(c).await,
        CaseId::ProbeListing => cases_probes::listing(c).await,
    }
}

/// `--cleanup RUN_ID`: remove what LoxiLB still lists of that run.
async fn cleanup_only(api: &Api, id: &str) -> Result<ExitCode, ConformanceError> {
    let name = format!("{NAME_PREFIX}{id}");
    let s = guard::sweep(api, &name).await?;
    if api.dry() {
        println!("dry run: the calls above would remove what run {id} left; nothing was sent");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "run {id}: removed {} rules and {} probes named {name}*",
        s.rules, s.probes
    );
    if !s.left.is_empty() {
        return Err(ConformanceError::Refused(format!(
            "still listed after clean-up: {}",
            s.left.join(", ")
        )));
    }
    Ok(ExitCode::SUCCESS)
}

/// Run ids become object names: keep them to letters and digits.
fn check_run_id(id: &str) -> Result<(), ConformanceError> {
    if id.is_empty() || id.len() > 32 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ConformanceError::Usage(format!(
            "run id {id:?}: want 1 to 32 letters or digits"
        )));
    }
    Ok(())
}

/// How to reach and log in to LoxiLB: flags first, then --config's [loxilb] section (the
/// same credentials and TLS files the daemon uses).
fn settings(args: &Args) -> Result<(Option<(String, String)>, Tls), ConformanceError> {
    let config = match &args.config {
        Some(path) => Some(
            crate::config::Config::load(Some(path))
                .map_err(|e| ConformanceError::Config(e.to_string()))?,
        ),
        None => None,
    };
    let (mut user, mut password) = (
        args.username.clone(),
        args.password.as_ref().map(|p| p.expose().to_string()),
    );
    let mut tls = Tls {
        ca_file: args.ca_file.clone(),
        ..Tls::default()
    };
    if let Some(c) = &config {
        if user.is_none() && password.is_none() {
            user = c.loxilb.username.clone();
            password = c.loxilb.password.as_ref().map(|p| p.expose().to_string());
        }
        if tls.ca_file.is_none() {
            tls.ca_file = c.loxilb.ca_file.clone();
        }
        tls.client_cert = c.loxilb.client_cert.clone();
        tls.client_key = c.loxilb.client_key.clone();
    }
    let credentials = match (user, password) {
        (Some(u), Some(p)) => Some((u, p)),
        (None, None) => None,
        _ => {
            return Err(ConformanceError::Usage(
                "--username and --password go together".into(),
            ))
        }
    };
    Ok((credentials, tls))
}

fn signal_error(e: std::io::Error) -> ConformanceError {
    ConformanceError::Usage(format!("cannot install the Ctrl-C handler: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_plain() {
        assert!(check_run_id("ab12cd34").is_ok());
        assert!(check_run_id("").is_err());
        assert!(check_run_id("a-b").is_err());
        assert!(check_run_id("a/../b").is_err());
    }
}
