//! 20,000 half-sent requests on the ingress socket: the daemon keeps at most
//! `max_connections` of them (closing the longest idle), keeps answering
//! `/healthz` and new events, and stays small. A test binary of its own: the
//! flood holds nearly all of this process's file descriptors, which tests
//! running beside it would miss.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use common::{closed_port_url, write_config, Context, Daemon, TestResult};

const CONNECTIONS: usize = 20_000;

/// Raises this process's open-file limit to its hard limit (the daemon, spawned
/// afterwards, inherits it); returns the new soft limit.
fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 1024;
        }
        lim.rlim_cur = lim.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
    }
    lim.rlim_cur
}

/// Drops the connections the daemon has closed (our side of them is dead).
fn reap(held: &mut Vec<UnixStream>) {
    let mut byte = [0u8; 1];
    held.retain_mut(|s| match s.read(&mut byte) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => true,
        Ok(n) => n > 0,
        Err(_) => false,
    });
}

/// Opens `n` connections that each send half a request and stop. Sockets the
/// daemon closed are let go only when this process nears its file limit
/// (`budget`); returns the ones still held.
fn flood(socket: &Path, n: usize, budget: usize) -> TestResult<Vec<UnixStream>> {
    let mut held = Vec::new();
    for i in 0..n {
        if held.len() + 1 >= budget {
            reap(&mut held);
        }
        let mut s = UnixStream::connect(socket)
            .map_err(|e| format!("connection {i}: {e} ({} held)", held.len()))?;
        s.write_all(b"POST /v1/events HTTP/1.1\r\nhost: x\r\ncontent-type: appl")
            .context(format!("connection {i}"))?;
        s.set_nonblocking(true).context(format!("connection {i}"))?;
        held.push(s);
    }
    Ok(held)
}

/// `GET /healthz` as a client would: a connection refused for a full accept
/// queue (EAGAIN on a non-blocking connect) is tried again, for at most 2 s in
/// all. The status and the time until answered.
async fn healthz(d: &Daemon) -> (u16, Duration) {
    let asked = Instant::now();
    loop {
        match d.api().call("GET", "/healthz", None).await {
            Ok((code, _)) => return (code, asked.elapsed()),
            Err(e) if asked.elapsed() < Duration::from_secs(2) => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("healthz: {e}\n{}", d.log()),
        }
    }
}

/// `VmRSS` and `VmHWM` (peak) of `pid`, in kB.
fn rss_kb(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The floods share this process's descriptors: one at a time.
static ONE_FLOOD: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_thousand_idle_connections_leave_healthz_answering_and_rss_small() -> TestResult {
    let _one = ONE_FLOOD.lock().await;
    let limit = raise_nofile();
    let dir = tempfile::tempdir()?;
    let cfg = write_config(dir.path(), &[closed_port_url()?], dir.path(), "")?;
    let d = Daemon::start(&cfg).await?;
    let pid = d.child.id();
    let socket = d.socket.clone();
    let (before, _) = rss_kb(pid);
    // Keep 200 descriptors for the test's own files, the runtime and the client.
    let budget = usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .saturating_sub(200);
    let started = Instant::now();
    let held = tokio::task::spawn_blocking(move || flood(&socket, CONNECTIONS, budget)).await??;
    let flood_time = started.elapsed();

    let (code, healthz_time) = healthz(&d).await;
    assert_eq!(code, 200);
    assert!(
        healthz_time < Duration::from_secs(2),
        "healthz took {healthz_time:?}"
    );
    let event = json!({"method": "loadbalancer_create", "args": {"loadbalancer": {
        "loadbalancer_id": "7d0c2a3e-5b1f-4c6a-9e0d-1f2a3b4c5d6e", "vip_address": "127.0.0.10"}}});
    let (code, reply) = d.post(&event).await?;
    assert_eq!(code, 202, "{reply}");

    let (rss, peak) = rss_kb(pid);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    println!(
        "{CONNECTIONS} half-sent connections in {flood_time:?} (test fd limit {limit}, {} still open on our side); \
         healthz {healthz_time:?}; daemon VmRSS {before} kB before, {rss} kB after, VmHWM {peak} kB; {fds} daemon fds",
        held.len()
    );
    // The default cap (512) plus the daemon's own files.
    assert!(fds < 512 + 64, "the daemon holds {fds} descriptors");
    assert!(rss > 0, "no /proc status for the daemon");
    assert!(peak < 100 * 1024, "daemon peak RSS {peak} kB, over 100 MB");
    let warnings = d.log().matches("listener full").count();
    assert_eq!(warnings, 1, "a full listener is reported once a minute");
    drop(held);
    Ok(())
}

/// The measured failure: with 1024 descriptors, a flood used to leave
/// `/healthz` and every POST unanswered. The cap keeps the daemon below it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_does_not_exhaust_a_1024_descriptor_daemon() -> TestResult {
    let _one = ONE_FLOOD.lock().await;
    let limit = raise_nofile();
    let dir = tempfile::tempdir()?;
    let cfg = write_config(dir.path(), &[closed_port_url()?], dir.path(), "")?;
    let d = Daemon::start(&cfg).await?;
    let pid = d.child.id();
    let low = libc::rlimit {
        rlim_cur: 1024,
        rlim_max: limit,
    };
    // SAFETY: prlimit reads `low` and writes nothing (null old-limit pointer).
    let rc = unsafe {
        libc::prlimit(
            libc::pid_t::try_from(pid).unwrap_or(0),
            libc::RLIMIT_NOFILE,
            &low,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "cannot lower the daemon's descriptor limit");
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap_or_default();
    let open_files = limits.lines().find(|l| l.starts_with("Max open files"));
    assert!(
        open_files.is_some_and(|l| l.split_whitespace().nth(3) == Some("1024")),
        "{open_files:?}"
    );
    let socket = d.socket.clone();
    let budget = usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .saturating_sub(200);
    let held = tokio::task::spawn_blocking(move || flood(&socket, 5_000, budget)).await??;
    let (code, _) = healthz(&d).await;
    assert_eq!(code, 200);
    let event = json!({"method": "loadbalancer_create", "args": {"loadbalancer": {
        "loadbalancer_id": "7d0c2a3e-5b1f-4c6a-9e0d-1f2a3b4c5d6f", "vip_address": "127.0.0.11"}}});
    let (code, reply) = d.post(&event).await?;
    assert_eq!(code, 202, "{reply}");
    assert!(
        !d.log().contains("cannot accept"),
        "the daemon ran out of descriptors:\n{}",
        d.log()
    );
    drop(held);
    Ok(())
}
