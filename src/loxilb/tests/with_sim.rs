//! Client against the LoxiLB simulator: typed round trips and LoxiLB's conflict semantics,
//! plus the simulator's fault knobs (injected statuses, maintenance, resets, latency, auth).
//! Probing is off so no test sends traffic beyond the loopback simulator itself.

use std::time::{Duration, Instant};

use loxilb_sim::{Fault, SimHandle, SimOptions};

use super::stub::opts;
use crate::loxilb::{
    probe_key, ClientOptions, Deleted, EndPoint, EndPointHostState, ErrorKind, HostState,
    LbEndpoint, LoadbalanceEntry, LoxilbClient, Mode, NodeId, Oper, RuleApplied, Sel,
    ServiceArguments,
};

const N0: NodeId = NodeId(0);

async fn sim_with(options: SimOptions) -> SimHandle {
    loxilb_sim::spawn(SimOptions {
        probing: false,
        ..options
    })
    .await
    .unwrap()
}

async fn sim() -> SimHandle {
    sim_with(SimOptions::default()).await
}

fn client_for(sim: &SimHandle, retries: u32) -> LoxilbClient {
    LoxilbClient::new(ClientOptions {
        retries,
        ..opts(vec![sim.url()])
    })
    .unwrap()
}

fn rule() -> LoadbalanceEntry {
    LoadbalanceEntry {
        service_arguments: ServiceArguments {
            external_ip: "10.10.10.1".into(),
            port: 80,
            protocol: "tcp".into(),
            sel: Sel::LeastConnections,
            mode: Mode::FullNat,
            monitor: true,
            inactive_timeout: 30,
            name: "lb1-pool1".into(),
            oper: Oper::Create,
            ..ServiceArguments::default()
        },
        endpoints: vec![
            LbEndpoint {
                endpoint_ip: "127.0.0.2".into(),
                target_port: 8080,
                weight: 1,
                ..LbEndpoint::default()
            },
            LbEndpoint {
                endpoint_ip: "127.0.0.3".into(),
                target_port: 8080,
                weight: 2,
                ..LbEndpoint::default()
            },
        ],
        ..LoadbalanceEntry::default()
    }
}

fn probe(ip: &str) -> EndPoint {
    EndPoint {
        host_name: ip.into(),
        name: probe_key(ip, "tcp", 8080),
        probe_type: "tcp".into(),
        probe_port: 8080,
        probe_duration: 7,
        inactive_retries: 3,
        ..EndPoint::default()
    }
}

/// The simulator's log of calls to `path` (relative to /netlox/v1) with `method`.
fn statuses(sim: &SimHandle, method: &str, path: &str) -> Vec<u16> {
    sim.control()
        .requests()
        .into_iter()
        .filter(|r| r.method == method && r.path == path)
        .map(|r| r.status)
        .collect()
}

#[tokio::test]
async fn rules_round_trip_with_loxilb_semantics() {
    let sim = sim().await;
    let c = client_for(&sim, 0);
    assert_eq!(
        c.apply_rule(N0, &rule()).await.unwrap(),
        RuleApplied::Applied
    );
    assert_eq!(
        c.apply_rule(N0, &rule()).await.unwrap(),
        RuleApplied::AlreadyExists
    );

    let rules = c.list_rules(N0).await.unwrap();
    assert_eq!(rules.len(), 1);
    let got = &rules[0];
    let sa = &got.service_arguments;
    assert_eq!(
        (sa.external_ip.as_str(), sa.port, sa.protocol.as_str()),
        ("10.10.10.1", 80, "tcp")
    );
    assert_eq!(
        (sa.sel, sa.mode, sa.monitor),
        (Sel::LeastConnections, Mode::FullNat, true)
    );
    assert_eq!(sa.name, "lb1-pool1");
    let mut eps: Vec<_> = got
        .endpoints
        .iter()
        .map(|e| (e.endpoint_ip.as_str(), e.target_port, e.weight))
        .collect();
    eps.sort();
    assert_eq!(eps, vec![("127.0.0.2", 8080, 1), ("127.0.0.3", 8080, 2)]);
    assert!(got.endpoints.iter().all(|e| e.state.is_some()));
    assert_eq!(sim.control().rules().len(), 1);

    // The monitored rule created and refers to a probe per endpoint.
    let names: Vec<_> = c
        .list_endpoints(N0)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(
        names.contains(&"127.0.0.2_tcp_8080".to_string()),
        "{names:?}"
    );
    let e = c
        .delete_endpoint(N0, "127.0.0.2", "127.0.0.2_tcp_8080", "tcp", 8080)
        .await
        .unwrap_err();
    assert_eq!((e.kind, e.status), (ErrorKind::Conflict, Some(409)));
    assert!(e.result_contains("Rule-referred"), "{e}");

    assert_eq!(
        c.delete_rule(N0, "10.10.10.1", 80, "tcp").await.unwrap(),
        Deleted::Removed
    );
    assert_eq!(
        c.delete_rule(N0, "10.10.10.1", 80, "tcp").await.unwrap(),
        Deleted::NotFound
    );
    assert!(c.list_rules(N0).await.unwrap().is_empty());

    assert_eq!(
        c.apply_rule(N0, &rule()).await.unwrap(),
        RuleApplied::Applied
    );
    assert_eq!(
        c.delete_rule_by_name(N0, "lb1-pool1").await.unwrap(),
        Deleted::Removed
    );
    // LoxiLB answers a delete by name 200 Success whether or not a rule has that name
    // (handler/loadbalancer.go), so the second delete cannot tell it was absent.
    assert_eq!(
        c.delete_rule_by_name(N0, "lb1-pool1").await.unwrap(),
        Deleted::Removed
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn endpoints_round_trip_and_host_state() {
    let sim = sim().await;
    let c = client_for(&sim, 0);
    c.create_endpoint(N0, &probe("127.0.0.5")).await.unwrap();
    let listed = c.list_endpoints(N0).await.unwrap();
    let ep = listed
        .iter()
        .find(|e| e.name == "127.0.0.5_tcp_8080")
        .unwrap_or_else(|| panic!("{listed:?}"));
    assert_eq!(ep.host_name, "127.0.0.5");
    assert_eq!((ep.probe_type.as_str(), ep.probe_port), ("tcp", 8080));
    assert_eq!((ep.probe_duration, ep.inactive_retries), (7, 3));

    // Same key again is an update in place.
    let mut changed = probe("127.0.0.5");
    changed.inactive_retries = 5;
    c.create_endpoint(N0, &changed).await.unwrap();
    let listed = c.list_endpoints(N0).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].inactive_retries, 5);

    let red = EndPointHostState {
        host_name: "127.0.0.5".into(),
        ep_port: 8080,
        ep_proto: "tcp".into(),
        state: HostState::Red,
    };
    c.set_endpoint_host_state(N0, &red).await.unwrap();
    assert_eq!(c.list_endpoints(N0).await.unwrap()[0].curr_state, "red");

    let bad = EndPoint {
        host_name: "not-an-ip".into(),
        ..probe("127.0.0.5")
    };
    let e = c.create_endpoint(N0, &bad).await.unwrap_err();
    assert_eq!((e.kind, e.status), (ErrorKind::Permanent, Some(400)));

    let del = |c: LoxilbClient| async move {
        c.delete_endpoint(N0, "127.0.0.5", "127.0.0.5_tcp_8080", "tcp", 8080)
            .await
    };
    assert_eq!(del(c.clone()).await.unwrap(), Deleted::Removed);
    assert_eq!(del(c.clone()).await.unwrap(), Deleted::NotFound);
    let info = c.ping(N0).await.unwrap();
    assert!(!info.version.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn injected_503s_are_retried_until_success() {
    let sim = sim().await;
    sim.control().add_fault(Fault {
        status: 503,
        rate: 1.0,
        method: Some("POST".into()),
        path_prefix: Some("/config/endpoint".into()),
        remaining: Some(2),
    });
    let c = client_for(&sim, 3);
    c.create_endpoint(N0, &probe("127.0.0.6")).await.unwrap();
    let seen = statuses(&sim, "POST", "/config/endpoint");
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(&seen[..2], &[503, 503]);
    assert!((200..300).contains(&seen[2]), "{seen:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn persistent_500_exhausts_retries_with_a_descriptive_error() {
    let sim = sim().await;
    sim.control().add_fault(Fault {
        status: 500,
        rate: 1.0,
        method: None,
        path_prefix: None,
        remaining: None,
    });
    let c = client_for(&sim, 2);
    let e = c.list_rules(N0).await.unwrap_err();
    assert!(e.is_transient());
    assert_eq!(
        statuses(&sim, "GET", "/config/loadbalancer/all"),
        vec![500; 3]
    );
    assert_eq!(e.node, sim.url());
    assert_eq!((e.method.as_str(), e.status), ("GET", Some(500)));
    assert_eq!(e.path, "/netlox/v1/config/loadbalancer/all");
    assert!(e.result.is_some(), "{e}");
    sim.control().clear_faults();
    c.list_rules(N0).await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_request_from_the_simulator_is_not_retried() {
    let sim = sim().await;
    sim.control().add_fault(Fault {
        status: 400,
        rate: 1.0,
        method: Some("POST".into()),
        path_prefix: Some("/config/loadbalancer".into()),
        remaining: None,
    });
    let c = client_for(&sim, 3);
    let e = c.apply_rule(N0, &rule()).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Permanent);
    assert_eq!(statuses(&sim, "POST", "/config/loadbalancer"), vec![400]);
    sim.shutdown().await;
}

#[tokio::test]
async fn maintenance_mode_is_transient() {
    let sim = sim().await;
    sim.control().set_maintenance(true);
    let c = client_for(&sim, 1);
    let e = c.list_endpoints(N0).await.unwrap_err();
    assert!(e.is_transient());
    assert_eq!(e.status, Some(503));
    assert_eq!(
        statuses(&sim, "GET", "/config/endpoint/all"),
        vec![503, 503]
    );
    sim.control().set_maintenance(false);
    c.list_endpoints(N0).await.unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn connection_resets_are_transient_and_retried() {
    let sim = sim().await;
    sim.control().set_reset_rate(1.0);
    let c = client_for(&sim, 2);
    let e = c.apply_rule(N0, &rule()).await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert_eq!(e.status, None);
    assert_eq!(
        statuses(&sim, "POST", "/config/loadbalancer"),
        vec![0, 0, 0]
    );
    sim.control().set_reset_rate(0.0);
    assert_eq!(
        c.apply_rule(N0, &rule()).await.unwrap(),
        RuleApplied::Applied
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn slow_node_times_out_within_the_timeout() {
    let sim = sim().await;
    sim.control().set_latency(Duration::from_secs(3));
    let c = LoxilbClient::new(ClientOptions {
        retries: 0,
        timeout: Duration::from_millis(300),
        ..opts(vec![sim.url()])
    })
    .unwrap();
    let started = Instant::now();
    let e = c.list_rules(N0).await.unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert!(e.detail.starts_with("timeout"), "{}", e.detail);
    assert!(
        started.elapsed() < Duration::from_millis(2000),
        "{:?}",
        started.elapsed()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn expired_token_triggers_one_relogin() {
    let ttl = Duration::from_millis(300);
    let sim = sim_with(SimOptions {
        auth: Some(("admin".into(), "pw".into())),
        token_ttl: ttl,
        ..SimOptions::default()
    })
    .await;
    let c = LoxilbClient::new(ClientOptions {
        retries: 0,
        credentials: Some(("admin".into(), "pw".into())),
        ..opts(vec![sim.url()])
    })
    .unwrap();
    c.list_rules(N0).await.unwrap();
    // Let the token expire (the condition is the passage of time itself).
    tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    c.list_rules(N0).await.unwrap();
    let log: Vec<_> = sim
        .control()
        .requests()
        .into_iter()
        .map(|r| (r.method, r.path, r.status))
        .collect();
    let rules = |s: u16| ("GET".to_string(), "/config/loadbalancer/all".to_string(), s);
    let login = ("POST".to_string(), "/auth/login".to_string(), 200);
    assert_eq!(
        log,
        // An expired token is answered 500 "Token not found" (BearerAuthAuth), which
        // must lead to one new login like a 401 would.
        vec![login.clone(), rules(200), rules(500), login, rules(200)]
    );

    let wrong = LoxilbClient::new(ClientOptions {
        credentials: Some(("admin".into(), "nope".into())),
        ..opts(vec![sim.url()])
    })
    .unwrap();
    // A wrong password is answered 200 without a token (AuthPostLogin).
    let e = wrong.list_rules(N0).await.unwrap_err();
    assert_eq!((e.kind, e.status), (ErrorKind::Permanent, Some(200)));
    assert!(e.detail.contains("no token"), "{e}");
    assert!(e.path.ends_with("/auth/login"), "{e}");
    sim.shutdown().await;
}

#[tokio::test]
async fn for_each_node_with_one_node_down() {
    let up = sim().await;
    let down = sim().await;
    let c = LoxilbClient::new(ClientOptions {
        retries: 1,
        ..opts(vec![up.url(), down.url()])
    })
    .unwrap();
    down.shutdown().await;
    let rule = &rule();
    let results = c
        .for_each_node(|c, n| async move { c.apply_rule(n, rule).await })
        .await;
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].1.as_ref().ok(), Some(&RuleApplied::Applied));
    let e = results[1].1.as_ref().unwrap_err();
    assert!(e.is_transient(), "{e}");
    assert_eq!(e.node, c.node_url(NodeId(1)));
    assert_eq!(up.control().rules().len(), 1);
    up.shutdown().await;
}

/// A cluster member without the lease sends no change to LoxiLB (reads still go
/// out: readiness and health polling are harmless); once it holds the lease it does,
/// and past the lease's local deadline it stops again, without retrying.
#[tokio::test]
async fn changes_go_out_only_while_the_fence_allows() {
    let sim = sim().await;
    let fence = crate::fence::Fence::cluster();
    let c = LoxilbClient::new(ClientOptions {
        retries: 3,
        fence: fence.clone(),
        instance: Some("ctl-1".into()),
        ..opts(vec![sim.url()])
    })
    .unwrap();
    let err = c.apply_rule(N0, &rule()).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().contains("leader lease"), "{err}");
    assert!(c.list_rules(N0).await.unwrap().is_empty(), "GETs go out");
    assert!(
        statuses(&sim, "POST", "/config/loadbalancer").is_empty(),
        "no POST reached LoxiLB"
    );
    let now = tokio::time::Instant::now();
    fence.open_until(1, now + std::time::Duration::from_secs(5));
    assert_eq!(
        c.apply_rule(N0, &rule()).await.unwrap(),
        RuleApplied::Applied
    );
    let posts: Vec<_> = sim
        .control()
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .collect();
    assert!(
        posts.iter().all(|r| r
            .user_agent
            .as_deref()
            .is_some_and(|ua| ua.ends_with("(instance ctl-1)"))),
        "the instance is named in each request: {posts:?}"
    );
    fence.open_until(1, now);
    assert!(c.delete_rule(N0, "10.10.10.1", 80, "tcp").await.is_err());
    assert_eq!(sim.control().rules().len(), 1, "the rule stays");
}
