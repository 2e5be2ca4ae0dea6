//! Private files: the database and its -wal/-shm are 0600 (0640 with
//! `file_group`) even under umask 000, the socket has its configured mode,
//! `check-config` refuses a token file `run` would refuse, and a start that
//! fails after binding leaves no socket behind.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use loxilb_coordinator::cli::api_client::ApiClient;
use serde_json::json;

use crate::common::{closed_port_url, write_config, Context, TestResult};

fn mode(p: &Path) -> TestResult<u32> {
    std::fs::metadata(p)
        .map(|m| m.permissions().mode() & 0o777)
        .context(p.display())
}

fn add_to_section(cfg: &Path, section: &str, lines: &str) -> TestResult {
    let text = std::fs::read_to_string(cfg).unwrap_or_default();
    let text = if text.contains(&format!("[{section}]\n")) {
        text.replace(
            &format!("[{section}]\n"),
            &format!("[{section}]\n{lines}\n"),
        )
    } else {
        format!("{text}\n[{section}]\n{lines}\n")
    };
    std::fs::write(cfg, text)?;
    Ok(())
}

/// The daemon binary under umask 000 (the loosest there is).
fn under_umask_000(cfg: &Path, sub: &str) -> Command {
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg("umask 000; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_loxilb-coordinator"))
        .arg("--config")
        .arg(cfg)
        .arg(sub)
        .stdin(Stdio::null());
    c
}

async fn wait_healthy(socket: &Path) {
    for _ in 0..400 {
        if let Ok((200, _)) = ApiClient::new(socket).call("GET", "/healthz", None).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("daemon did not answer on {}", socket.display());
}

/// Starts the daemon under umask 000, writes one event, stops it; returns the
/// modes of the database, -wal, -shm and socket while it ran, and the gid of the
/// database file.
async fn modes_of_a_run(dir: &Path, cfg: &Path) -> TestResult<([u32; 4], u32)> {
    let mut child = under_umask_000(cfg, "run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let socket = dir.join("ingress.sock");
    wait_healthy(&socket).await;
    let event = json!({"method": "loadbalancer_create", "args": {"loadbalancer": {
        "loadbalancer_id": "6d0c2a3e-5b1f-4c6a-9e0d-1f2a3b4c5d6e", "vip_address": "127.0.0.10"}}});
    let (code, _) = ApiClient::new(&socket)
        .call("POST", "/v1/events", Some(&event))
        .await?;
    assert_eq!(code, 202);
    let db = dir.join("coordinator.db");
    let modes = [
        mode(&db)?,
        mode(&dir.join("coordinator.db-wal"))?,
        mode(&dir.join("coordinator.db-shm"))?,
        mode(&socket)?,
    ];
    let gid = std::fs::metadata(&db).map(|m| m.gid()).unwrap_or(u32::MAX);
    let _ = child.kill();
    let _ = child.wait();
    Ok((modes, gid))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_files_are_private_whatever_the_umask() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cfg = write_config(dir.path(), &[closed_port_url()?], dir.path(), "")?;
    let (modes, _) = modes_of_a_run(dir.path(), &cfg).await?;
    assert_eq!(modes, [0o600, 0o600, 0o600, 0o660], "db, wal, shm, socket");

    // With a group (ours, so the daemon may chown to it): 0640, that group.
    let group_dir = tempfile::tempdir()?;
    let cfg = write_config(
        group_dir.path(),
        &[closed_port_url()?],
        group_dir.path(),
        "",
    )?;
    // SAFETY: getegid has no preconditions.
    let gid = unsafe { libc::getegid() };
    add_to_section(&cfg, "database", &format!("file_group = \"{gid}\""))?;
    let (modes, file_gid) = modes_of_a_run(group_dir.path(), &cfg).await?;
    assert_eq!(modes, [0o640, 0o640, 0o640, 0o660], "db, wal, shm, socket");
    assert_eq!(file_gid, gid);
    Ok(())
}

fn output(mut c: Command) -> TestResult<Output> {
    Ok(c.output()?)
}

#[test]
fn check_config_refuses_the_token_file_run_refuses() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cfg = write_config(dir.path(), &[closed_port_url()?], dir.path(), "")?;
    let token = dir.path().join("token");
    std::fs::write(&token, "t0ken\n")?;
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o640))?;
    add_to_section(
        &cfg,
        "ingress",
        &format!(
            "tcp_address = \"127.0.0.1:1\"\ntcp_token_file = \"{}\"\ninsecure = true",
            token.display()
        ),
    )?;
    for sub in ["check-config", "run"] {
        let out = output(under_umask_000(&cfg, sub))?;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{sub} took a group-readable token file"
        );
        assert!(
            err.contains("0640") && err.contains("token"),
            "{sub}: {err}"
        );
    }
    assert!(
        !dir.path().join("ingress.sock").exists(),
        "run left its socket"
    );
    Ok(())
}

#[test]
fn a_start_that_fails_after_binding_removes_its_socket() -> TestResult {
    let dir = tempfile::tempdir()?;
    let cfg = write_config(dir.path(), &[closed_port_url()?], dir.path(), "")?;
    // The metrics address is taken: the daemon fails after binding its socket.
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = taken.local_addr()?;
    add_to_section(&cfg, "metrics", &format!("address = \"{addr}\""))?;
    let out = output(under_umask_000(&cfg, "run"))?;
    assert!(
        !out.status.success(),
        "the daemon started on a taken address"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use") || err.contains("Address"), "{err}");
    assert!(
        !dir.path().join("ingress.sock").exists(),
        "the socket was left behind"
    );
    Ok(())
}

/// Two daemons on one SQLite file would replay each other's events and fight over
/// LoxiLB: the second refuses to start, naming the file and the first process, and
/// leaves the first one's socket and database alone. After the first dies (even
/// by SIGKILL, leaving its lock file behind) a new daemon starts on that file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_daemon_on_the_same_database_refuses_to_start() -> TestResult {
    let first_dir = tempfile::tempdir()?;
    let first_cfg = write_config(
        first_dir.path(),
        &[closed_port_url()?],
        first_dir.path(),
        "",
    )?;
    let mut first = under_umask_000(&first_cfg, "run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let first_socket = first_dir.path().join("ingress.sock");
    wait_healthy(&first_socket).await;

    // Its own socket, the first one's database.
    let second_dir = tempfile::tempdir()?;
    let second_cfg = write_config(
        second_dir.path(),
        &[closed_port_url()?],
        second_dir.path(),
        "",
    )?;
    let db = first_dir.path().join("coordinator.db");
    let text = std::fs::read_to_string(&second_cfg)
        .unwrap_or_default()
        .replace(
            &format!(
                "sqlite://{}",
                second_dir.path().join("coordinator.db").display()
            ),
            &format!("sqlite://{}", db.display()),
        );
    std::fs::write(&second_cfg, text)?;
    let out = exits_within(under_umask_000(&second_cfg, "run"), Duration::from_secs(10))?
        .unwrap_or_else(|| panic!("a second daemon started on {}", db.display()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a second daemon started on {}",
        db.display()
    );
    assert!(err.contains(&db.display().to_string()), "{err}");
    assert!(err.contains(&format!("pid {}", first.id())), "{err}");
    assert!(
        !second_dir.path().join("ingress.sock").exists(),
        "the refused daemon left its socket"
    );
    let (code, _) = ApiClient::new(&first_socket)
        .call("GET", "/healthz", None)
        .await?;
    assert_eq!(code, 200, "the first daemon was disturbed");

    let _ = first.kill();
    let _ = first.wait();
    assert!(first_dir.path().join("coordinator.db.lock").exists());
    let mut next = under_umask_000(&second_cfg, "run")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    wait_healthy(&second_dir.path().join("ingress.sock")).await;
    let _ = next.kill();
    let _ = next.wait();
    Ok(())
}

/// The output of `c` if it exits within `limit`; None (after killing it) if not.
fn exits_within(mut c: Command, limit: Duration) -> TestResult<Option<Output>> {
    let mut child = c.stdout(Stdio::null()).stderr(Stdio::piped()).spawn()?;
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return Ok(child.wait_with_output().ok());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok(None)
}
