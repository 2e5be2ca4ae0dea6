//! The hygiene rules on a real Unix listener: cap with longest-idle eviction,
//! idle, header-read and body timeouts, and a prompt shutdown.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::routing::{get, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use super::*;
use crate::test_support::TestResult;

struct Served {
    path: PathBuf,
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<io::Result<()>>,
    _dir: tempfile::TempDir,
}

fn app() -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/echo", post(|b: Bytes| async move { b.len().to_string() }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "slow"
            }),
        )
}

fn start(limits: ConnLimits) -> TestResult<Served> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("s.sock");
    let l = UnixListener::bind(&path)?;
    let shutdown = Shutdown::new();
    let task = tokio::spawn(serve(
        Listener::Unix(l),
        app(),
        limits,
        None,
        shutdown.clone(),
    ));
    Ok(Served {
        path,
        shutdown,
        task,
        _dir: dir,
    })
}

async fn connect(s: &Served) -> TestResult<UnixStream> {
    Ok(UnixStream::connect(&s.path).await?)
}

/// Sends one request on a new connection; the response text.
async fn request(s: &Served, raw: &str) -> TestResult<String> {
    let mut c = connect(s).await?;
    c.write_all(raw.as_bytes()).await?;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("no answer to {raw:?}"))
        .unwrap_or(0);
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Seconds until the server closes `c` (reads EOF or an error), at most `limit`.
async fn closed_within(c: &mut UnixStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout_at((start + limit).into(), c.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            // A 408/400 answer before the close is fine.
            Ok(Ok(_)) => {}
        }
    }
}

const HEALTHZ: &str = "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";

#[tokio::test]
async fn a_full_listener_closes_the_longest_idle_connection_and_keeps_answering() -> TestResult {
    let s = start(ConnLimits {
        max_connections: 8,
        ..ConnLimits::default()
    })?;
    let mut held = Vec::new();
    for _ in 0..64 {
        let mut c = connect(&s).await?;
        c.write_all(b"POST /echo HTTP/1.1\r\nhost: x\r\n").await?;
        held.push(c);
    }
    let answer = request(&s, HEALTHZ).await?;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The first connections were closed to make room; the last ones are held.
    let first = closed_within(&mut held[0], Duration::from_secs(2)).await;
    assert!(first.is_some(), "the oldest idle connection is still open");
    let last = held.len() - 1;
    let newest = closed_within(&mut held[last], Duration::from_millis(200)).await;
    assert!(newest.is_none(), "the newest connection was closed");
    s.shutdown.trigger();
    let done = tokio::time::timeout(Duration::from_secs(5), s.task).await;
    assert!(
        matches!(done, Ok(Ok(Ok(())))),
        "serve did not stop promptly"
    );
    Ok(())
}

#[tokio::test]
async fn idle_and_half_sent_connections_time_out() -> TestResult {
    // Headers that stop coming are closed by the header timeout alone.
    let long_idle = start(ConnLimits {
        idle_timeout: Duration::from_secs(60),
        header_read_timeout: Duration::from_millis(300),
        ..ConnLimits::default()
    })?;
    let mut half = connect(&long_idle).await?;
    half.write_all(b"GET /healthz HTTP/1.1\r\n").await?;
    let t = closed_within(&mut half, Duration::from_secs(3)).await;
    assert!(
        t.is_some(),
        "half-sent headers were held past the header timeout"
    );
    // A connection that sends nothing is closed by the idle timeout.
    let s = start(ConnLimits {
        idle_timeout: Duration::from_millis(300),
        header_read_timeout: Duration::from_secs(60),
        ..ConnLimits::default()
    })?;
    let mut silent = connect(&s).await?;
    let t = closed_within(&mut silent, Duration::from_secs(3)).await;
    assert!(
        t.is_some(),
        "a silent connection was held past the idle timeout"
    );
    // A keep-alive connection is idle after its answer and closes too.
    let mut kept = connect(&s).await?;
    kept.write_all(HEALTHZ.as_bytes()).await?;
    let t = closed_within(&mut kept, Duration::from_secs(3)).await;
    assert!(t.is_some(), "an idle keep-alive connection stayed open");
    Ok(())
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_answered_with_an_error() -> TestResult {
    let s = start(ConnLimits {
        body_timeout: Duration::from_millis(300),
        ..ConnLimits::default()
    })?;
    let started = Instant::now();
    let answer = request(
        &s,
        "POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nonly ten b",
    )
    .await?;
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let whole = request(
        &s,
        "POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\nabc",
    )
    .await?;
    assert!(
        whole.starts_with("HTTP/1.1 200") && whole.ends_with('3'),
        "{whole}"
    );
    Ok(())
}

#[tokio::test]
async fn shutdown_lets_a_request_in_progress_finish() -> TestResult {
    let s = start(ConnLimits::default())?;
    let mut busy = connect(&s).await?;
    busy.write_all(b"GET /slow HTTP/1.1\r\nhost: x\r\n\r\n")
        .await?;
    let _idle = connect(&s).await?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    s.shutdown.trigger();
    let mut buf = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), busy.read(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("no answer after shutdown"))
        .unwrap_or(0);
    let answer = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("slow"),
        "{answer}"
    );
    let done = tokio::time::timeout(Duration::from_secs(5), s.task).await;
    assert!(matches!(done, Ok(Ok(Ok(())))), "serve did not stop");
    Ok(())
}
