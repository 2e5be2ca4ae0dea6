//! The operator CLI against a running daemon: output and exit codes.

mod common;

use common::world::*;
use common::TestResult;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_commands_print_tables_json_and_meaningful_exit_codes() -> TestResult {
    let backend = Backend::start().await?;
    let w = World::start("").await?;
    w.apply_ok(&[
        lb("lb", "127.0.0.120"),
        listener("lb", "lb-l", 92, "lb-p"),
        pool("lb", "lb-l", "lb-p"),
        member("lb-p", "m1", backend.port()),
        http_monitor("lb-p", "hm", 1),
    ])
    .await?;

    let o = cli(&w, &["events", "--limit", "10"])?;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("health_monitor_create"), "{}", text(&o));
    assert!(
        text(&o).contains("ID") && text(&o).contains("STATE") && text(&o).contains("METHOD"),
        "{}",
        text(&o)
    );
    let o = cli(&w, &["events", "--json"])?;
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    assert_eq!(
        v["events"].as_array().map(Vec::len),
        Some(5),
        "{}",
        text(&o)
    );

    let o = cli(&w, &["health"])?;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let version = format!(
        "LoxiLB {}: version {}",
        w.sims[0].url(),
        loxilb_sim::LoxilbVersion::default()
    );
    assert!(text(&o).contains(&version), "{}", text(&o));
    // The role: one SQLite instance leads alone, named after the host by default.
    let role = format!(
        "role: single (one instance, SQLite), instance {}",
        loxilb_coordinator::config::host_name()
    );
    assert!(text(&o).contains(&role), "{}", text(&o));

    // Everything in place: validation passes.
    let o = cli(&w, &["validate-health-monitors"])?;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // Someone changes our probe behind our back: validation fails with exit 2 and
    // names the probe and the field.
    let probe = format!("127.0.0.1_tcp_{}", backend.port());
    let sim_url = w.sims[0].url();
    let changed = reqwest::Client::new()
        .post(format!("{sim_url}/netlox/v1/config/endpoint"))
        .json(
            &json!({"hostName": "127.0.0.1", "name": probe, "probeType": "tcp",
                      "probePort": backend.port(), "probeDuration": 77, "inactiveReTries": 9}),
        )
        .send()
        .await?;
    assert!(changed.status().is_success());
    let o = cli(&w, &["validate-health-monitors"])?;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains(&probe) && text(&o).contains("probeDuration"),
        "{}",
        text(&o)
    );
    let o = cli(&w, &["validate-health-monitors", "--json"])?;
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    assert_eq!(v["ok"], false, "{}", text(&o));

    // A dry run lists it and changes nothing; a real reconcile repairs it.
    let o = cli(&w, &["reconcile", "--dry-run"])?;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(!text(&o).contains("[]"), "{}", text(&o));
    let o = cli(&w, &["reconcile", "--dry-run", "--json"])?;
    assert!(
        serde_json::from_slice::<Value>(&o.stdout).is_ok_and(|v| v.is_object()),
        "{}",
        text(&o)
    );
    let o = cli(&w, &["validate-health-monitors"])?;
    assert_eq!(o.status.code(), Some(2), "dry run repaired: {}", text(&o));
    let o = cli(&w, &["reconcile"])?;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = cli(&w, &["validate-health-monitors"])?;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    let o = cli(&w, &["orphans"])?;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("ORPHANS") && !text(&o).contains("[]"),
        "{}",
        text(&o)
    );
    let o = cli(&w, &["orphans", "--json"])?;
    assert!(
        serde_json::from_slice::<Value>(&o.stdout).is_ok(),
        "{}",
        text(&o)
    );

    // Statuses from the cache: known objects exit 0 (a stored load balancer even
    // before its first poll, with no operating status yet), unknown ones exit 3.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let o = cli(&w, &["health-status", "--loadbalancer", "lb", "--json"])?;
        assert_eq!(o.status.code(), Some(0), "{}", text(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
        let member = &v["listeners"][0]["pools"][0]["members"][0];
        if v["operating_status"] == "ONLINE" && member["operating_status"] == "ONLINE" {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{v}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // Without a selector: every load balancer, its status, age and freshness.
    let o = cli(&w, &["health-status"])?;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("OPERATING") && out.contains("FRESH") && out.contains("ONLINE"),
        "{out}"
    );
    let o = cli(&w, &["health-status", "--json"])?;
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    assert_eq!(v["loadbalancers"][0]["id"], "lb", "{v}");
    assert_eq!(v["loadbalancers"][0]["operating_status"], "ONLINE", "{v}");
    assert!(v["loadbalancers"][0]["age_seconds"].is_number(), "{v}");

    // One load balancer: the tree down to the member's probe, as a table and as JSON.
    let o = cli(&w, &["health-status", "--loadbalancer", "lb"])?;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let out = text(&o);
    let want_probe = format!("probe {probe}: ok 1 nok 0 red 0");
    let want_address = format!("127.0.0.1:{}", backend.port());
    for want in [
        "PROVISIONING",
        "  listener",
        "    pool",
        "      health monitor",
        "      member",
        "ACTIVE",
        want_probe.as_str(),
        want_address.as_str(),
    ] {
        assert!(out.contains(want), "{want:?} missing:\n{out}");
    }
    assert!(!out.contains('['), "{out}");
    let o = cli(&w, &["health-status", "--loadbalancer", "lb", "--json"])?;
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    let pool = &v["listeners"][0]["pools"][0];
    assert_eq!(v["provisioning_status"], "ACTIVE", "{v}");
    assert_eq!(pool["id"], "lb-p", "{v}");
    assert_eq!(pool["health_monitor"]["id"], "hm", "{v}");
    assert_eq!(pool["members"][0]["id"], "m1", "{v}");
    assert_eq!(pool["members"][0]["operating_status"], "ONLINE", "{v}");
    assert_eq!(pool["members"][0]["loxilb"]["probe"], probe.as_str(), "{v}");
    let o = cli(&w, &["health-status", "--loadbalancer", "no-such-lb"])?;
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("no status known"), "{}", text(&o));

    let o = cli(&w, &["health-status", "--member", "m1"])?;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains("member") && text(&o).contains(&want_probe),
        "{}",
        text(&o)
    );
    let o = cli(&w, &["health-status", "--pool", "lb-p", "--json"])?;
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    assert_eq!(v["operating_status"], "ONLINE", "{v}");
    let o = cli(&w, &["health-status", "--pool", "no-such-pool"])?;
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));

    // Retrying an event that does not exist is an error with a message.
    let o = cli(&w, &["retry", "999999"])?;
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o).contains("error"), "{}", text(&o));
    let o = cli(&w, &["clear-event", "999999"])?;
    assert_ne!(o.status.code(), Some(0));
    assert!(text(&o).contains("404"), "{}", text(&o));
    Ok(())
}

#[test]
fn commands_against_a_missing_daemon_fail_with_a_message() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[ingress]\nsocket_path = \"{}/none.sock\"\n",
            dir.path().display()
        ),
    )?;
    for args in [
        &["health"][..],
        &["events"],
        &["validate-health-monitors"],
        &["orphans"],
    ] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_loxilb-coordinator"))
            .arg("--config")
            .arg(&cfg)
            .args(args)
            .output()?;
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("error:"),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    Ok(())
}

#[test]
fn every_command_help_ends_with_an_example() -> TestResult {
    for command in [
        "run",
        "check-config",
        "events",
        "retry",
        "clear-event",
        "health-status",
        "validate-health-monitors",
        "reconcile",
        "orphans",
        "health",
        "conformance",
    ] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_loxilb-coordinator"))
            .args([command, "--help"])
            .output()?;
        let help = String::from_utf8_lossy(&o.stdout);
        assert!(
            help.contains("Example:\n  loxilb-coordinator ") && help.contains(command),
            "{command}: {help}"
        );
    }
    Ok(())
}

/// The demo is an example (`cargo run --example demo`), not a command of the daemon's
/// binary: the binary carries neither the LoxiLB simulator nor the test driver agent.
#[test]
fn the_daemon_binary_has_no_demo_command() -> TestResult {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_loxilb-coordinator"))
        .arg("demo")
        .output()?;
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unrecognized subcommand 'demo'"), "{err}");
    Ok(())
}
