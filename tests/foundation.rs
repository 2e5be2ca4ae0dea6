//! End-to-end tests of the foundation: a real daemon process, its Unix socket and
//! optional TCP listener, its SQLite journal across `kill -9`, graceful SIGTERM and
//! start-up validation.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{closed_port_url, write_config, Context, Daemon, TestResult};
use serde_json::{json, Value};

fn lb_create(lb: &str, vip: &str) -> Value {
    json!({"method": "loadbalancer_create", "args": {"loadbalancer": {
        "loadbalancer_id": lb, "vip_address": vip, "admin_state_up": true}}})
}

fn listener_create(lb: &str, id: &str, port: u16) -> Value {
    json!({"method": "listener_create", "args": {"listener": {
        "listener_id": id, "loadbalancer_id": lb, "protocol": "TCP",
        "protocol_port": port, "admin_state_up": true}}})
}

fn listener_rename(lb: &str, id: &str, name: &str) -> Value {
    json!({"method": "listener_update", "args": {
        "old_listener": {"listener_id": id, "loadbalancer_id": lb},
        "new_listener": {"listener_id": id, "loadbalancer_id": lb, "name": name}}})
}

async fn all_events(d: &Daemon) -> TestResult<Vec<Value>> {
    let (code, body) = d
        .api()
        .call("GET", "/v1/events?limit=1000", None)
        .await
        .context("list events")?;
    assert_eq!(code, 200, "{body}");
    Ok(body["events"].as_array().cloned().unwrap_or_default())
}

/// Events accepted while LoxiLB is unreachable are in the journal before the 202; a
/// SIGKILL loses none of them and the restarted daemon applies every one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_events_survive_kill9_and_are_applied_after_restart() -> TestResult {
    let dir = tempfile::tempdir()?;
    let agent = driver_agent_sim::spawn(&dir.path().join("agent"))
        .await
        .context("agent")?;
    let agent_dir = dir.path().join("agent");
    let down = closed_port_url()?;
    let cfg = write_config(dir.path(), &[down], &agent_dir, "")?;
    let mut d = Daemon::start(&cfg).await?;

    let mut ids = Vec::new();
    for lb in 0..4u8 {
        let lb_id = format!("lb-{lb}");
        let (code, r) = d.post(&lb_create(&lb_id, &format!("10.0.0.{lb}"))).await?;
        assert_eq!(code, 202, "{r}");
        ids.push(r["id"].as_i64().unwrap_or(0));
        let mut events = Vec::new();
        for l in 0..4u16 {
            events.push(listener_create(&lb_id, &format!("l-{lb}-{l}"), 8000 + l));
        }
        let (listener, pool) = (format!("l-{lb}-0"), format!("p-{lb}"));
        events.push(json!({"method": "pool_create", "args": {"pool": {
            "pool_id": pool, "loadbalancer_id": lb_id, "listener_id": listener,
            "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}}}));
        events.push(json!({"method": "member_create", "args": {"member": {
            "member_id": format!("m-{lb}"), "pool_id": pool, "address": "127.0.0.1",
            "protocol_port": 9000}}}));
        for ev in &events {
            let (code, r) = d.post(ev).await?;
            assert_eq!(code, 202, "{r}");
            ids.push(r["id"].as_i64().unwrap_or(0));
        }
    }
    d.kill9();

    let sim = loxilb_sim::spawn(loxilb_sim::SimOptions::default())
        .await
        .context("sim")?;
    let cfg = write_config(dir.path(), &[sim.url()], &agent_dir, "")?;
    let d = Daemon::start(&cfg).await?;
    for id in &ids {
        let rec = d.wait_final(*id, Duration::from_secs(60)).await?;
        assert_eq!(rec["state"], "done", "{rec}");
    }
    let events = all_events(&d).await?;
    assert_eq!(events.len(), ids.len(), "journal lost or duplicated events");
    // Applied on LoxiLB: one rule per load balancer (its first listener has the pool).
    let rules = sim.control().rules();
    assert_eq!(rules.len(), 4, "{rules:?}");
    for r in &rules {
        assert_eq!(r["endpoints"].as_array().map(Vec::len), Some(1), "{r}");
    }
    drop(agent);
    Ok(())
}

/// Events of one load balancer finish in the order they were accepted; two load
/// balancers are worked on side by side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_one_load_balancer_apply_in_order() -> TestResult {
    let dir = tempfile::tempdir()?;
    let agent_dir = dir.path().join("agent");
    let _agent = driver_agent_sim::spawn(&agent_dir).await.context("agent")?;
    let sim = loxilb_sim::spawn(loxilb_sim::SimOptions::default())
        .await
        .context("sim")?;
    let cfg = write_config(dir.path(), &[sim.url()], &agent_dir, "")?;
    let d = Daemon::start(&cfg).await?;

    for lb in ["lb-a", "lb-b"] {
        d.post(&lb_create(lb, "10.0.1.1")).await?;
        d.post(&listener_create(lb, &format!("{lb}-l"), 80)).await?;
    }
    // Post the renames concurrently from two tasks, one per load balancer.
    let mut tasks = Vec::new();
    for lb in ["lb-a", "lb-b"] {
        let api = d.api();
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..25 {
                let ev = listener_rename(lb, &format!("{lb}-l"), &format!("n{i}"));
                let (_, r) = api.call("POST", "/v1/events", Some(&ev)).await?;
                ids.push(r["id"].as_i64().unwrap_or(0));
            }
            TestResult::Ok(ids)
        }));
    }
    let mut per_lb = Vec::new();
    for t in tasks {
        per_lb.push(t.await??);
    }
    for ids in &per_lb {
        let mut last_update = 0;
        for id in ids {
            let rec = d.wait_final(*id, Duration::from_secs(30)).await?;
            assert_eq!(rec["state"], "done", "{rec}");
            let updated = rec["updated_at_ms"].as_i64().unwrap_or(0);
            assert!(
                updated >= last_update,
                "event {id} finished before its predecessor"
            );
            last_update = updated;
        }
    }
    let events = all_events(&d).await?;
    let keys: std::collections::BTreeSet<_> = events
        .iter()
        .filter_map(|e| e["ordering_key"].as_str().map(str::to_owned))
        .collect();
    assert!(
        keys.contains("lb:lb-a") && keys.contains("lb:lb-b"),
        "{keys:?}"
    );
    Ok(())
}

/// The Unix socket gets the configured mode; the TCP listener demands the bearer
/// token; SIGTERM ends the daemon with exit code 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_socket_mode_tcp_token_and_graceful_sigterm() -> TestResult {
    let dir = tempfile::tempdir()?;
    let agent_dir = dir.path().join("agent");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret-token\n")?;
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600))?;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0")?;
        l.local_addr().map(|a| a.port()).unwrap_or(0)
    };
    let cfg = write_config(dir.path(), &[closed_port_url()?], &agent_dir, "")?;
    let text = std::fs::read_to_string(&cfg).unwrap_or_default().replace(
        "[ingress]\n",
        &format!(
            "[ingress]\nsocket_mode = \"0600\"\ntcp_address = \"127.0.0.1:{port}\"\ntcp_token_file = \"{}\"\ninsecure = true\n",
            token_file.display()
        ),
    );
    std::fs::write(&cfg, text)?;
    let mut d = Daemon::start(&cfg).await?;

    let mode = std::fs::metadata(&d.socket)
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    assert_eq!(mode, 0o600, "socket mode {mode:o}");

    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/v1/events");
    let no_token = http.get(&url).send().await?;
    assert_eq!(no_token.status(), 401);
    let wrong = http.get(&url).bearer_auth("s3cret-tokeX").send().await?;
    assert_eq!(wrong.status(), 401);
    let right = http.get(&url).bearer_auth("s3cret-token").send().await?;
    assert_eq!(right.status(), 200);

    let code = tokio::task::spawn_blocking(move || d.terminate()).await?;
    assert_eq!(code, Some(0));
    Ok(())
}

/// A clean stop (SIGTERM) removes the ingress socket file, so the next start
/// finds nothing to replace (no "stale socket" warning).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_shutdown_removes_the_ingress_socket() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cfg = write_config(
        dir.path(),
        &[closed_port_url()?],
        &dir.path().join("agent"),
        "",
    )?;
    for run in 0..2 {
        let mut d = Daemon::start(&cfg).await?;
        assert!(d.socket.exists());
        let log = d.log();
        assert!(!log.contains("stale ingress socket"), "run {run}: {log}");
        let socket = d.socket.clone();
        let code = tokio::task::spawn_blocking(move || d.terminate()).await?;
        assert_eq!(code, Some(0));
        assert!(
            !socket.exists(),
            "run {run}: socket left after a clean stop"
        );
    }
    Ok(())
}

/// A MySQL password written into the URL stops start-up with a message that names
/// the key and where the password belongs, and never shows the password.
#[test]
fn a_password_in_a_mysql_url_is_refused_without_being_shown() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("mysql.toml");
    std::fs::write(
        &cfg,
        "[database]\nurl = \"mysql://lc:Sup3r-s3cret@127.0.0.1:3306/lc\"\n",
    )?;
    for sub in ["check-config", "run"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_loxilb-coordinator"))
            .arg("--config")
            .arg(&cfg)
            .arg(sub)
            .output()?;
        assert!(
            !out.status.success(),
            "{sub} accepted a password in the URL"
        );
        let all = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert!(all.contains("database.url"), "{sub}: {all}");
        assert!(all.contains("database.password_file"), "{sub}: {all}");
        assert!(
            !all.contains("Sup3r-s3cret"),
            "{sub} showed the password: {all}"
        );
    }
    Ok(())
}

/// An invalid value stops start-up with a message naming the key.
#[test]
fn invalid_config_exits_non_zero_naming_the_key() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[health_monitoring]\nbatch_size = 0\n")?;
    for sub in ["check-config", "run"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_loxilb-coordinator"))
            .arg("--config")
            .arg(&cfg)
            .arg(sub)
            .output()?;
        assert!(!out.status.success(), "{sub} accepted a bad config");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("batch_size"), "{sub}: {err}");
    }
    Ok(())
}
