//! End-to-end tests of the simulator over real Unix sockets, using a raw
//! client so the expected bytes on the wire are spelled out.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::{spawn, Mode, Socket, GARBAGE_REPLY};

const WAIT: Duration = Duration::from_secs(5);

fn frame(v: &Value) -> Vec<u8> {
    let body = serde_json::to_vec(v).unwrap();
    let mut out = format!("{}\n", body.len()).into_bytes();
    out.extend(body);
    out
}

/// Sends raw bytes, half-closes (so truncation is visible at once) and
/// returns everything the agent sends before closing. A reset counts as
/// "closed": the kernel reports one when the agent drops unread input.
async fn exchange(path: &Path, bytes: &[u8]) -> Vec<u8> {
    let mut s = UnixStream::connect(path).await.unwrap();
    s.write_all(bytes).await.unwrap();
    s.shutdown().await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("agent must answer and close");
    match read {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("unexpected read error: {e}"),
    }
    out
}

async fn request(path: &Path, v: &Value) -> Value {
    let out = exchange(path, &frame(v)).await;
    let nl = out.iter().position(|b| *b == b'\n').expect("length line");
    let len: usize = std::str::from_utf8(&out[..nl]).unwrap().parse().unwrap();
    assert_eq!(out.len() - nl - 1, len, "reply length matches prefix");
    serde_json::from_slice(&out[nl + 1..]).unwrap()
}

#[tokio::test]
async fn records_status_and_stats_and_answers_200() {
    let dir = tempfile::tempdir().unwrap();
    let agent = spawn(dir.path()).await.unwrap();
    let c = agent.control();
    let status = json!({"pools": [{"id": "p1", "provisioning_status": "ACTIVE"}]});
    assert_eq!(
        request(&agent.status_path(), &status).await,
        json!({"status_code": 200})
    );
    let stats = json!({"listeners": [{"id": "l1", "active_connections": 1, "bytes_in": 2,
        "bytes_out": 3, "request_errors": 0, "total_connections": 4}]});
    assert_eq!(
        request(&agent.stats_path(), &stats).await,
        json!({"status_code": 200})
    );
    assert_eq!(c.status_messages(), vec![status]);
    assert_eq!(c.stats_messages(), vec![stats]);
    assert_eq!(
        c.latest_status("pools", "p1"),
        (Some("ACTIVE".into()), None)
    );
    agent.stop().await;
}

#[tokio::test]
async fn get_answers_from_fixtures() {
    let dir = tempfile::tempdir().unwrap();
    let agent = spawn(dir.path()).await.unwrap();
    let c = agent.control();
    c.set_fixture("members", "m1", json!({"member_id": "m1", "weight": 1}));
    let req = json!({"object": "members", "id": "m1"});
    assert_eq!(
        request(&agent.get_path(), &req).await,
        json!({"member_id": "m1", "weight": 1})
    );
    c.remove_fixture("members", "m1");
    assert_eq!(request(&agent.get_path(), &req).await, json!({}));
    assert_eq!(c.get_requests(), vec![req.clone(), req]);
    // An invalid get request is dropped without a reply, like the real agent.
    assert!(exchange(
        &agent.get_path(),
        &frame(&json!({"object": "x", "id": "1"}))
    )
    .await
    .is_empty());
    assert_eq!(c.get_requests().len(), 2);
    agent.stop().await;
}

#[tokio::test]
async fn malformed_frames_are_dropped_unrecorded() {
    let dir = tempfile::tempdir().unwrap();
    let agent = spawn(dir.path()).await.unwrap();
    let path = agent.status_path();
    for bad in [
        &b"x2\n{}"[..],
        b"2 \n{}",
        b"5\n{}",
        b"2\n{}{}",
        b"3\nabc",
        b"123456789012345678901\n",
    ] {
        assert!(exchange(&path, bad).await.is_empty(), "{bad:?}");
    }
    // The agent is still healthy afterwards.
    assert_eq!(
        request(&path, &json!({})).await,
        json!({"status_code": 200})
    );
    assert_eq!(agent.control().status_messages(), vec![json!({})]);
    agent.stop().await;
}

#[tokio::test]
async fn schema_violation_gets_500_naming_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let agent = spawn(dir.path()).await.unwrap();
    let record = json!({"id": "m1", "operating_status": "HEALTHY"});
    let reply = request(&agent.status_path(), &json!({"members": [record.clone()]})).await;
    assert_eq!(reply["status_code"], 500);
    assert_eq!(reply["status_object"], "members");
    assert_eq!(reply["status_object_id"], "m1");
    assert_eq!(reply["status_record"], record);
    assert!(agent.control().status_messages().is_empty());
    // stats.sock failures use octavia-lib's stats_* key names.
    let reply = request(&agent.stats_path(), &json!({"listeners": [{"id": "l9"}]})).await;
    assert_eq!(reply["status_code"], 500);
    assert_eq!(reply["stats_object"], "listeners");
    assert_eq!(reply["stats_object_id"], "l9");
    assert!(agent.control().stats_messages().is_empty());
    agent.stop().await;
}

#[tokio::test]
async fn fail_mode_replies_500_and_records_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let agent = spawn(dir.path()).await.unwrap();
    let c = agent.control();
    c.set_mode(Socket::Status, Mode::Fail("database is down".into()));
    let msg = json!({"listeners": [{"id": "l1", "operating_status": "ONLINE"}]});
    let reply = request(&agent.status_path(), &msg).await;
    assert_eq!(reply["status_code"], 500);
    assert_eq!(reply["fault_string"], "database is down");
    assert_eq!(reply["status_object_id"], "l1");
    assert!(c.status_messages().is_empty());
    c.set_mode(Socket::Status, Mode::Normal);
    assert_eq!(
        request(&agent.status_path(), &msg).await["status_code"],
        200
    );
    assert_eq!(c.status_messages(), vec![msg]);
    agent.stop().await;
}

#[tokio::test]
async fn garbage_mode_sends_unparseable_frame() {
    let dir = tempfile::tempdir().unwrap();
    let agent = spawn(dir.path()).await.unwrap();
    agent.control().set_mode(Socket::All, Mode::Garbage);
    let out = exchange(&agent.status_path(), &frame(&json!({}))).await;
    assert_eq!(out, GARBAGE_REPLY);
    assert_eq!(agent.control().status_messages().len(), 1);
    agent.stop().await;
}

#[tokio::test]
async fn stall_mode_holds_connection_until_stop() {
    let dir = tempfile::tempdir().unwrap();
    let agent = spawn(dir.path()).await.unwrap();
    let c = agent.control();
    c.set_mode(Socket::Stats, Mode::Stall);
    let mut s = UnixStream::connect(agent.stats_path()).await.unwrap();
    s.write_all(&frame(&json!({"listeners": []})))
        .await
        .unwrap();
    assert!(c.wait_until(|c| c.stats_messages().len() == 1, WAIT).await);
    let mut buf = [0u8; 16];
    // Recorded yet unanswered: a read must still be pending.
    assert!(
        tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf))
            .await
            .is_err()
    );
    agent.stop().await;
    let n = tokio::time::timeout(WAIT, s.read(&mut buf)).await.unwrap();
    assert_eq!(
        n.unwrap_or(0),
        0,
        "stop closes held connections without a reply"
    );
}

#[tokio::test]
async fn stop_removes_sockets_and_restart_works() {
    let dir = tempfile::tempdir().unwrap();
    let agent = spawn(dir.path()).await.unwrap();
    let path = agent.status_path();
    agent.stop().await;
    assert!(!path.exists());
    assert!(UnixStream::connect(&path).await.is_err());
    let again = spawn(dir.path()).await.unwrap();
    assert_eq!(request(&path, &json!({})).await["status_code"], 200);
    // A stale socket file (agent crashed, handle leaked) is replaced.
    std::mem::forget(again);
    let third = spawn(dir.path()).await.unwrap();
    assert_eq!(request(&path, &json!({})).await["status_code"], 200);
    third.stop().await;
}

#[tokio::test]
async fn refuses_to_replace_a_regular_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stats.sock"), b"not a socket").unwrap();
    let err = spawn(dir.path()).await.err().expect("must refuse");
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    // The sockets bound before the failure were cleaned up.
    assert!(!dir.path().join("status.sock").exists());
}
