//! End-to-end tests of the operator surface: Prometheus metrics and secrets in logs.

mod common;

use std::time::Duration;

use common::world::*;
use common::{write_config, Daemon, TestResult};

fn free_port() -> TestResult<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr().map(|a| a.port()).unwrap_or(0))
}

/// Minimal check of the text exposition format: comments, then `name{labels} value`
/// sample lines with a numeric value, ending with `# EOF`.
fn assert_valid_exposition(text: &str) {
    assert!(text.trim_end().ends_with("# EOF"), "no EOF marker");
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix('#') {
            let kind = rest.split_whitespace().next().unwrap_or("");
            assert!(
                ["HELP", "TYPE", "UNIT", "EOF"].contains(&kind),
                "bad comment line: {line}"
            );
            continue;
        }
        let (name_labels, value) = line.rsplit_once(' ').unwrap_or(("", ""));
        let name = name_labels.split('{').next().unwrap_or("");
        assert!(
            name.starts_with("loxilb_coordinator_")
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad metric name in: {line}"
        );
        if name_labels.contains('{') {
            assert!(name_labels.ends_with('}'), "bad labels in: {line}");
        }
        assert!(
            value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
            "bad value in: {line}"
        );
    }
}

fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_counters_move_with_events() -> TestResult {
    let port = free_port()?;
    let w = World::start("").await?;
    // Rewrite the config with a metrics address and restart on it.
    let cfg = w.daemon.config_path.clone();
    let text = std::fs::read_to_string(&cfg).unwrap_or_default()
        + &format!("\n[metrics]\naddress = \"127.0.0.1:{port}\"\n");
    std::fs::write(&cfg, text)?;
    let mut w = w;
    w.daemon.kill9();
    w.daemon = Daemon::start(&cfg).await?;

    let url = format!("http://127.0.0.1:{port}/metrics");
    let get = || async {
        let resp = reqwest::get(&url).await?;
        TestResult::Ok(resp.text().await.unwrap_or_default())
    };
    let before = get().await?;
    assert_valid_exposition(&before);

    let backend = Backend::start().await?;
    w.apply_ok(&[
        lb("lb", "127.0.0.100"),
        listener("lb", "lb-l", 90, "lb-p"),
        pool("lb", "lb-l", "lb-p"),
        member("lb-p", "m1", backend.port()),
        http_monitor("lb-p", "hm", 1),
    ])
    .await?;
    let after = get().await?;
    assert_valid_exposition(&after);
    let events = |t: &str| sample(t, "loxilb_coordinator_events_total{");
    assert_eq!(events(&after) - events(&before), 5.0, "{after}");
    assert!(
        sample(&after, "loxilb_coordinator_rules_applied_total") >= 1.0,
        "{after}"
    );
    assert!(
        sample(&after, "loxilb_coordinator_loxilb_requests_total{") >= 1.0,
        "{after}"
    );
    assert!(
        after.contains("loxilb_coordinator_queue_depth 0"),
        "{after}"
    );
    // The release the node reported on GET /version (detected at start).
    let info = format!(
        "loxilb_coordinator_loxilb_node_info{{node=\"{}\",version=\"{}\"}} 1",
        w.sims[0].url(),
        loxilb_sim::LoxilbVersion::default()
    );
    assert!(after.contains(&info), "{info} missing in {after}");
    w.wait_for("status delivery counted", Duration::from_secs(10), || {
        !w.status_messages().is_empty()
    })
    .await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_ever_reaches_the_log() -> TestResult {
    const PASSWORD: &str = "pw-Zq81-never-log-me";
    const TOKEN: &str = "tok-Hh27-never-log-me";
    let sim = loxilb_sim::spawn(loxilb_sim::SimOptions {
        auth: Some(("admin".into(), PASSWORD.into())),
        ..Default::default()
    })
    .await?;
    let dir = tempfile::tempdir()?;
    let agent_dir = dir.path().join("agent");
    let _agent = driver_agent_sim::spawn(&agent_dir).await?;
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, TOKEN)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600))?;
    }
    let port = free_port()?;
    let cfg = write_config(dir.path(), &[sim.url()], &agent_dir, "")?;
    let text = std::fs::read_to_string(&cfg)
        .unwrap_or_default()
        .replace(
            "request_timeout = 2\n",
            &format!("request_timeout = 2\nusername = \"admin\"\npassword = \"{PASSWORD}\"\n"),
        )
        .replace(
            "[ingress]\n",
            &format!(
                "[ingress]\ntcp_address = \"127.0.0.1:{port}\"\ntcp_token_file = \"{}\"\ninsecure = true\n",
                token_file.display()
            ),
        )
        .replace(
            "level = \"info,loxilb_coordinator=debug\"",
            "level = \"trace\"",
        );
    std::fs::write(&cfg, text)?;
    let d = Daemon::start(&cfg).await?;

    // Work that logs in to LoxiLB and uses the TCP token (right and wrong).
    let backend = Backend::start().await?;
    let events = [
        lb("lb", "127.0.0.101"),
        listener("lb", "lb-l", 91, "lb-p"),
        pool("lb", "lb-l", "lb-p"),
        member("lb-p", "m1", backend.port()),
    ];
    let http = reqwest::Client::new();
    for e in &events {
        let r = http
            .post(format!("http://127.0.0.1:{port}/v1/events"))
            .bearer_auth(TOKEN)
            .json(e)
            .send()
            .await?;
        assert_eq!(r.status(), 202);
    }
    let bad = http
        .get(format!("http://127.0.0.1:{port}/v1/events"))
        .bearer_auth(format!("{TOKEN}x"))
        .send()
        .await?;
    assert_eq!(bad.status(), 401);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while sim.control().rules().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "{}", d.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_loxilb-coordinator"))
        .arg("--config")
        .arg(&cfg)
        .arg("check-config")
        .output()?;
    let printed = String::from_utf8_lossy(&check.stdout).to_string()
        + &String::from_utf8_lossy(&check.stderr);
    let log = d.log();
    assert!(log.contains("LoxiLB"), "the log is empty?\n{log}");
    for secret in [PASSWORD, TOKEN] {
        assert!(!log.contains(secret), "secret in the daemon log");
        assert!(!printed.contains(secret), "secret printed by check-config");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_notify_watchdog_and_sighup_reload() -> TestResult {
    let dir = tempfile::tempdir()?;
    let notify_path = dir.path().join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path)?;
    notify.set_read_timeout(Some(Duration::from_secs(10)))?;
    let sim = loxilb_sim::spawn(loxilb_sim::SimOptions::default()).await?;
    let agent_dir = dir.path().join("agent");
    let cfg = write_config(dir.path(), &[sim.url()], &agent_dir, "")?;
    let mut d = Daemon::start_with_env(
        &cfg,
        &[
            ("NOTIFY_SOCKET", notify_path.display().to_string()),
            ("WATCHDOG_USEC", "200000".to_string()),
        ],
    )
    .await?;
    let messages = tokio::task::spawn_blocking(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 512];
        while got.len() < 4 {
            match notify.recv(&mut buf) {
                Ok(n) => got.push(String::from_utf8_lossy(&buf[..n]).to_string()),
                Err(_) => break,
            }
        }
        got
    })
    .await
    .unwrap_or_default();
    assert!(
        messages.iter().any(|m| m.contains("READY=1")),
        "{messages:?}"
    );
    let ready = messages.iter().position(|m| m.contains("READY=1"));
    let watchdog = messages.iter().position(|m| m.contains("WATCHDOG=1"));
    assert!(watchdog.is_some() && ready < watchdog, "{messages:?}");

    // SIGHUP: a new logging level is applied at once; a loxilb change needs a restart.
    let text = std::fs::read_to_string(&cfg)
        .unwrap_or_default()
        .replace(
            "level = \"info,loxilb_coordinator=debug\"",
            "level = \"warn\"",
        )
        .replace("request_timeout = 2\n", "request_timeout = 3\n");
    std::fs::write(&cfg, text)?;
    d.signal("HUP");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !d.log().contains("restart the daemon to apply it") {
        assert!(tokio::time::Instant::now() < deadline, "{}", d.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = d.log();
    assert!(log.contains("logging.level applied"), "{log}");
    assert!(
        log.contains("section=\"loxilb\"") || log.contains("section=loxilb"),
        "{log}"
    );
    // An invalid file on SIGHUP changes nothing and the daemon stays up.
    std::fs::write(&cfg, "[health_monitoring]\nbatch_size = 0\n")?;
    d.signal("HUP");
    // Polled, not slept: the daemon says when it has read (and refused) the file.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !d.log().contains("configuration invalid, nothing changed") {
        assert!(tokio::time::Instant::now() < deadline, "{}", d.log());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        d.api()
            .call("GET", "/healthz", None)
            .await
            .map(|(c, _)| c)
            .ok(),
        Some(200)
    );
    assert_eq!(d.terminate(), Some(0));
    Ok(())
}

/// At INFO the steady state writes at most one line per event (issue 20: it was 3.4):
/// the seed's operation line (monitor created/updated/deleted, probes cleaned up for
/// a deleted member) or "event applied to LoxiLB", never "event accepted" as well.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_logs_at_most_one_line_per_event() -> TestResult {
    let sim = loxilb_sim::spawn(loxilb_sim::SimOptions::default()).await?;
    let dir = tempfile::tempdir()?;
    let agent_dir = dir.path().join("agent");
    let _agent = driver_agent_sim::spawn(&agent_dir).await?;
    let cfg = write_config(dir.path(), &[sim.url()], &agent_dir, "")?;
    let daemon = Daemon::start_with_env(&cfg, &[("RUST_LOG", "info".to_string())]).await?;
    let backends = [Backend::start().await?, Backend::start().await?];
    let ports: Vec<u16> = backends.iter().map(Backend::port).collect();
    let mut events = scenario("lb-log", "10.9.9.9", 80, &ports);
    for w in 1..=6 {
        events.push(serde_json::json!({"method": "member_update", "args": {
            "old_member": {"member_id": "lb-log-m0", "pool_id": "lb-log-p"},
            "new_member": {"member_id": "lb-log-m0", "pool_id": "lb-log-p", "weight": w}}}));
    }
    events.push(monitor_update(
        "lb-log-p",
        "lb-log-hm",
        serde_json::json!({"delay": 3}),
    ));
    events.push(member_delete("lb-log-p", "lb-log-m1", ports[1]));
    events.push(member("lb-log-p", "lb-log-m2", ports[1]));
    let mut ids = Vec::new();
    for e in &events {
        let (code, r) = daemon.post(e).await?;
        assert_eq!(code, 202, "{e} -> {r}");
        ids.push(r["id"].as_i64().unwrap_or(0));
    }
    for id in &ids {
        let rec = daemon.wait_final(*id, Duration::from_secs(30)).await?;
        assert_eq!(rec["state"], "done", "{rec}");
    }
    let log = daemon.log();
    let info: Vec<&str> = log.lines().filter(|l| l.contains(" INFO ")).collect();
    assert!(
        !info.iter().any(|l| l.contains("event accepted")),
        "acceptance is DEBUG:\n{log}"
    );
    for id in &ids {
        let tag = format!("event_id={id}");
        let n = info
            .iter()
            .filter(|l| l.split_whitespace().any(|w| w == tag))
            .count();
        assert!(n <= 1, "event {id} has {n} INFO lines:\n{log}");
    }
    let per_event = info
        .iter()
        .filter(|l| l.contains("event_id=") || l.contains("batch applied"))
        .count();
    assert!(
        per_event <= events.len(),
        "{per_event} event lines for {} events:\n{log}",
        events.len()
    );
    // The seed's operation lines are there.
    for line in [
        "created health monitor",
        "updated health monitor",
        "cleaned up health probes",
    ] {
        assert!(log.contains(line), "no {line:?} line:\n{log}");
    }
    Ok(())
}
