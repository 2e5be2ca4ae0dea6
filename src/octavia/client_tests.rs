//! The client against the real protocol peer: `driver-agent-sim` on
//! temporary sockets, one agent per test.

use std::time::{Duration, Instant};

use driver_agent_sim::{AgentHandle, Mode, Socket};
use serde_json::json;

use super::client::{ClientOptions, DriverAgentClient};
use super::error::{OctaviaError, Phase};
use super::framing::FramingError;
use super::types::*;

const SHORT: Duration = Duration::from_millis(300);

fn options() -> ClientOptions {
    ClientOptions {
        connect_timeout: SHORT,
        io_timeout: SHORT,
        reply_timeout: SHORT,
        ..ClientOptions::default()
    }
}

fn client_for(agent: &AgentHandle, options: ClientOptions) -> DriverAgentClient {
    DriverAgentClient::with_options(
        agent.status_path(),
        agent.stats_path(),
        agent.get_path(),
        options,
    )
}

fn sample_status() -> StatusUpdate {
    let mut u = StatusUpdate::default();
    u.push(
        ObjectKind::Loadbalancers,
        StatusEntry::new(
            "lb1",
            Some(ProvisioningStatus::Active),
            Some(OperatingStatus::Online),
        ),
    );
    u.push(
        ObjectKind::Members,
        StatusEntry::new("m1", None, Some(OperatingStatus::Error)),
    );
    u
}

fn sample_stats() -> StatsUpdate {
    StatsUpdate {
        listeners: vec![ListenerStats {
            id: "l1".into(),
            active_connections: 3,
            bytes_in: 1 << 40,
            bytes_out: 5,
            request_errors: 1,
            total_connections: 99,
        }],
    }
}

#[tokio::test]
async fn status_is_delivered_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let agent = driver_agent_sim::spawn(dir.path()).await.unwrap();
    let client = client_for(&agent, options());
    let update = sample_status();
    client.update_status(&update).await.unwrap();
    let c = agent.control();
    assert_eq!(
        c.status_messages(),
        vec![serde_json::to_value(&update).unwrap()]
    );
    assert_eq!(
        c.latest_status("loadbalancers", "lb1"),
        (Some("ACTIVE".into()), Some("ONLINE".into()))
    );
    assert_eq!(
        c.latest_status("members", "m1"),
        (None, Some("ERROR".into()))
    );
    agent.stop().await;
}

#[tokio::test]
async fn empty_batches_are_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    let agent = driver_agent_sim::spawn(dir.path()).await.unwrap();
    let client = client_for(&agent, options());
    let c = agent.control();
    agent.stop().await;
    // Even with the agent down these succeed: there is nothing to report.
    client
        .update_status(&StatusUpdate::default())
        .await
        .unwrap();
    client
        .update_statistics(&StatsUpdate::default())
        .await
        .unwrap();
    assert!(c.status_messages().is_empty() && c.stats_messages().is_empty());
}

#[tokio::test]
async fn stats_are_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let agent = driver_agent_sim::spawn(dir.path()).await.unwrap();
    let client = client_for(&agent, options());
    client.update_statistics(&sample_stats()).await.unwrap();
    assert_eq!(
        agent.control().stats_messages(),
        vec![serde_json::to_value(sample_stats()).unwrap()]
    );
    agent.stop().await;
}

#[tokio::test]
async fn get_returns_fixture_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let agent = driver_agent_sim::spawn(dir.path()).await.unwrap();
    let client = client_for(&agent, options());
    let c = agent.control();
    let pool = json!({"pool_id": "p1", "lb_algorithm": "ROUND_ROBIN", "members": []});
    c.set_fixture("pools", "p1", pool.clone());
    assert_eq!(
        client.get(ObjectKind::Pools, "p1").await.unwrap(),
        Some(pool)
    );
    assert_eq!(client.get(ObjectKind::Pools, "p2").await.unwrap(), None);
    // Right object kind matters: the same id under members is unknown.
    assert_eq!(client.get(ObjectKind::Members, "p1").await.unwrap(), None);
    assert_eq!(
        c.get_requests(),
        vec![
            json!({"object": "pools", "id": "p1"}),
            json!({"object": "pools", "id": "p2"}),
            json!({"object": "members", "id": "p1"}),
        ]
    );
    agent.stop().await;
}

#[tokio::test]
async fn agent_failure_carries_fault_and_is_not_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let agent = driver_agent_sim::spawn(dir.path()).await.unwrap();
    let client = client_for(&agent, options());
    let c = agent.control();
    c.set_mode(Socket::All, Mode::Fail("database unavailable".into()));
    let err = client.update_status(&sample_status()).await.unwrap_err();
    assert_eq!(err.fault_string(), Some("database unavailable"));
    assert_eq!(err.rejected_record(), Some(("loadbalancers", "lb1")));
    assert!(err.is_transient());
    let err = client.update_statistics(&sample_stats()).await.unwrap_err();
    assert_eq!(err.fault_string(), Some("database unavailable"));
    assert_eq!(err.rejected_record(), Some(("listeners", "l1")));
    let err = client
        .get(ObjectKind::Loadbalancers, "lb1")
        .await
        .unwrap_err();
    assert_eq!(err.fault_string(), Some("database unavailable"));
    assert!(c.status_messages().is_empty() && c.stats_messages().is_empty());
    // Recovery: the same request goes through once the agent is healthy.
    c.set_mode(Socket::All, Mode::Normal);
    client.update_status(&sample_status()).await.unwrap();
    assert_eq!(c.status_messages().len(), 1);
    agent.stop().await;
}

#[tokio::test]
async fn stalled_agent_times_out_within_reply_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let agent = driver_agent_sim::spawn(dir.path()).await.unwrap();
    let client = client_for(&agent, options());
    agent.control().set_mode(Socket::Status, Mode::Stall);
    let started = tokio::time::Instant::now();
    let err = client.update_status(&sample_status()).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, OctaviaError::Timeout { phase: Phase::Reply, after, .. } if after == SHORT),
        "{err}"
    );
    assert!(err.is_transient());
    assert!(took >= SHORT && took < SHORT * 5, "took {took:?}");
    // The agent did receive it (a hung agent may still have applied it).
    assert_eq!(agent.control().status_messages().len(), 1);
    agent.stop().await;
}

#[tokio::test]
async fn agent_down_is_a_transient_connect_error() {
    let dir = tempfile::tempdir().unwrap();
    let agent = driver_agent_sim::spawn(dir.path()).await.unwrap();
    let client = client_for(&agent, options());
    agent.stop().await;
    for err in [
        client.update_status(&sample_status()).await.unwrap_err(),
        client.update_statistics(&sample_stats()).await.unwrap_err(),
        client.get(ObjectKind::Members, "m1").await.unwrap_err(),
    ] {
        assert!(
            matches!(&err, OctaviaError::Connect { source, .. }
                if source.kind() == std::io::ErrorKind::NotFound),
            "{err}"
        );
        assert!(err.is_transient());
    }
    // Agent comes back at the same paths: the same client just works.
    let again = driver_agent_sim::spawn(dir.path()).await.unwrap();
    client.update_status(&sample_status()).await.unwrap();
    assert_eq!(again.control().status_messages().len(), 1);
    again.stop().await;
}

#[tokio::test]
async fn stale_socket_file_is_a_transient_connect_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("status.sock");
    // A crashed agent leaves its socket file behind with nobody listening.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let client = DriverAgentClient::with_options(path.clone(), path.clone(), path, options());
    let err = client.update_status(&sample_status()).await.unwrap_err();
    assert!(
        matches!(&err, OctaviaError::Connect { source, .. }
            if source.kind() == std::io::ErrorKind::ConnectionRefused),
        "{err}"
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn garbage_reply_is_a_permanent_framing_error() {
    let dir = tempfile::tempdir().unwrap();
    let agent = driver_agent_sim::spawn(dir.path()).await.unwrap();
    let client = client_for(&agent, options());
    agent.control().set_mode(Socket::All, Mode::Garbage);
    for err in [
        client.update_status(&sample_status()).await.unwrap_err(),
        client.get(ObjectKind::Pools, "p1").await.unwrap_err(),
    ] {
        assert!(
            matches!(
                &err,
                OctaviaError::Framing {
                    source: FramingError::NonDigit(b'O'),
                    ..
                }
            ),
            "{err}"
        );
        assert!(!err.is_transient());
    }
    agent.stop().await;
}

#[tokio::test]
async fn oversized_reply_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let agent = driver_agent_sim::spawn(dir.path()).await.unwrap();
    let client = client_for(
        &agent,
        ClientOptions {
            max_reply_bytes: 64,
            ..options()
        },
    );
    agent.control().set_fixture(
        "loadbalancers",
        "lb1",
        json!({"description": "x".repeat(100)}),
    );
    let err = client
        .get(ObjectKind::Loadbalancers, "lb1")
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            OctaviaError::Framing {
                source: FramingError::TooLarge { max: 64 },
                ..
            }
        ),
        "{err}"
    );
    agent.stop().await;
}

#[tokio::test]
async fn concurrent_requests_are_independent() {
    let dir = tempfile::tempdir().unwrap();
    let agent = driver_agent_sim::spawn(dir.path()).await.unwrap();
    let client = client_for(&agent, options());
    let c = agent.control();
    // A stalled status socket must not hold up stats reporting.
    c.set_mode(Socket::Status, Mode::Stall);
    let stalled = {
        let client = client.clone();
        tokio::spawn(async move { client.update_status(&sample_status()).await })
    };
    assert!(
        c.wait_until(|c| c.status_messages().len() == 1, Duration::from_secs(5))
            .await
    );
    let started = Instant::now();
    client.update_statistics(&sample_stats()).await.unwrap();
    assert!(
        started.elapsed() < SHORT,
        "stats waited for the stalled status request"
    );
    assert_eq!(c.stats_messages().len(), 1);
    assert!(matches!(
        stalled.await.unwrap(),
        Err(OctaviaError::Timeout {
            phase: Phase::Reply,
            ..
        })
    ));
    agent.stop().await;
}

/// `[octavia] reply_timeout` is how long the daemon waits for the agent's answer
/// (it used to be validated and then ignored, the wait fixed at 30 s). On paused
/// time: the stalled agent leaves the runtime idle, so the clock jumps to the
/// reply timeout, and `took` is the timer's own length, not a real 2 s wait.
#[tokio::test(start_paused = true)]
async fn configured_reply_timeout_bounds_the_wait_for_a_stalled_agent() {
    let dir = tempfile::tempdir().unwrap();
    let agent = driver_agent_sim::spawn(dir.path()).await.unwrap();
    let config = crate::config::OctaviaConfig {
        status_socket: agent.status_path(),
        stats_socket: agent.stats_path(),
        get_socket: agent.get_path(),
        request_timeout: 1,
        reply_timeout: 2,
    };
    let client = config.client();
    assert_eq!(client.options().connect_timeout, Duration::from_secs(1));
    agent.control().set_mode(Socket::Status, Mode::Stall);
    let started = tokio::time::Instant::now();
    let err = client.update_status(&sample_status()).await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(err, OctaviaError::Timeout { phase: Phase::Reply, after, .. }
            if after == Duration::from_secs(2)),
        "{err}"
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(5),
        "took {took:?}"
    );
    agent.stop().await;
}

/// A cluster member without the lease reports nothing to the driver agent; the
/// error is transient, so the statuses wait in the outbox for the next leader.
#[tokio::test]
async fn statuses_go_out_only_while_the_fence_allows() {
    let dir = tempfile::tempdir().unwrap();
    let agent = driver_agent_sim::spawn(dir.path()).await.unwrap();
    let fence = crate::fence::Fence::cluster();
    let client = client_for(&agent, options()).with_fence(fence.clone());
    let err = client.update_status(&sample_status()).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(agent.control().status_messages().is_empty());
    fence.open_until(2, tokio::time::Instant::now() + Duration::from_secs(5));
    client.update_status(&sample_status()).await.unwrap();
    assert_eq!(agent.control().status_messages().len(), 1);
    agent.stop().await;
}
