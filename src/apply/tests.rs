//! The applier against the LoxiLB simulator and a temporary SQLite store.

use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::loxilb::ClientOptions;
use crate::store::{test_store, Table};
use crate::test_support::TestResult;

/// An applier over `nodes` with fast, retry-free calls.
fn applier_for(store: &Store, nodes: Vec<String>) -> Applier {
    let client = LoxilbClient::new(ClientOptions {
        nodes,
        timeout: Duration::from_secs(1),
        retries: 0,
        rate_limit_per_sec: 10_000,
        backoff_min: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
        ..ClientOptions::default()
    })
    .expect("client");
    Applier::new(store.clone(), client, MappingOptions::default())
}

async fn setup() -> (Applier, Store, loxilb_sim::SimHandle, tempfile::TempDir) {
    let (store, dir) = test_store().await;
    let sim = loxilb_sim::spawn(loxilb_sim::SimOptions {
        probing: false,
        ..Default::default()
    })
    .await
    .expect("sim");
    let applier = applier_for(&store, vec![sim.url()]);
    (applier, store, sim, dir)
}

async fn put(store: &Store, table: Table, id: &str, parent: Option<&str>, body: Value) {
    store
        .put_object(table, id, parent, &body)
        .await
        .expect("put");
}

/// LB `lb` with a TCP listener on `port` and pool `<lb>-p` holding members on ports.
async fn lb_with_members(store: &Store, lb: &str, vip: &str, ports: &[u16]) {
    let pool = format!("{lb}-p");
    let listener = format!("{lb}-l");
    put(
        store,
        Table::Loadbalancers,
        lb,
        None,
        json!({"loadbalancer_id": lb, "vip_address": vip}),
    )
    .await;
    put(
        store,
        Table::Listeners,
        &listener,
        Some(lb),
        json!({"listener_id": listener,
        "loadbalancer_id": lb, "protocol": "TCP", "protocol_port": 80, "default_pool_id": pool}),
    )
    .await;
    put(
        store,
        Table::Pools,
        &pool,
        Some(lb),
        json!({"pool_id": pool, "loadbalancer_id": lb,
        "listener_id": listener, "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}),
    )
    .await;
    for p in ports {
        let m = format!("{lb}-m{p}");
        put(
            store,
            Table::Members,
            &m,
            Some(&pool),
            json!({"member_id": m, "pool_id": pool,
            "address": "127.0.0.1", "protocol_port": p}),
        )
        .await;
    }
}

async fn monitor(store: &Store, lb: &str, delay: u32) {
    let pool = format!("{lb}-p");
    let hm = format!("{lb}-hm");
    put(
        store,
        Table::HealthMonitors,
        &hm,
        Some(&pool),
        json!({"healthmonitor_id": hm,
        "pool_id": pool, "type": "HTTP", "delay": delay, "timeout": 1, "max_retries": 3,
        "max_retries_down": 3, "http_method": "GET", "url_path": "/hc", "expected_codes": "200"}),
    )
    .await;
}

fn probe_duration(sim: &loxilb_sim::SimHandle, name: &str) -> Option<Value> {
    sim.control()
        .endpoints()
        .into_iter()
        .find(|e| e["name"] == name)
        .map(|e| e["probeDuration"].clone())
}

#[tokio::test]
async fn a_second_sync_makes_no_call() -> TestResult {
    let (a, store, sim, _d) = setup().await;
    lb_with_members(&store, "lb", "10.1.0.1", &[7001, 7002]).await;
    monitor(&store, "lb", 5).await;
    let nodes = a.all_nodes();
    let first = a.sync_lb("lb", &nodes, true).await.expect("sync");
    assert!(first.all_ok(), "{first:?}");
    // An HTTP monitor cannot ride on the rule (LoxiLB refuses http there): both
    // probes are posted, before the rule that refers to them.
    assert_eq!(first.calls(), 3, "{first:?}");
    assert_eq!(sim.control().rules().len(), 1);
    assert_eq!(probe_duration(&sim, "127.0.0.1_tcp_7001"), Some(json!(5)));
    let paths: Vec<String> = sim
        .control()
        .requests()
        .iter()
        .map(|r| r.path.clone())
        .collect();
    assert!(
        paths[0].ends_with("/config/endpoint") && paths[2].ends_with("/config/loadbalancer"),
        "{paths:?}"
    );
    let ep = sim
        .control()
        .endpoints()
        .into_iter()
        .find(|e| e["name"] == "127.0.0.1_tcp_7001")
        .unwrap_or_default();
    assert_eq!(
        (ep["probeType"].clone(), ep["probeReq"].clone()),
        (json!("http"), json!("hc"))
    );

    sim.control().clear_requests();
    let second = a.sync_lb("lb", &nodes, true).await.expect("sync");
    assert_eq!(second.calls(), 0, "{second:?}");
    assert!(sim.control().requests().is_empty());
    Ok(())
}

#[tokio::test]
async fn shared_probe_takes_the_fastest_monitor_and_falls_back_when_it_goes() -> TestResult {
    let (a, store, sim, _d) = setup().await;
    lb_with_members(&store, "a", "10.1.0.2", &[7100]).await;
    lb_with_members(&store, "b", "10.1.0.3", &[7100]).await;
    monitor(&store, "a", 2).await;
    monitor(&store, "b", 9).await;
    let nodes = a.all_nodes();
    a.sync_lb("a", &nodes, true).await.expect("sync a");
    a.sync_lb("b", &nodes, true).await.expect("sync b");
    assert_eq!(probe_duration(&sim, "127.0.0.1_tcp_7100"), Some(json!(2)));

    store
        .delete_object(Table::HealthMonitors, "a-hm")
        .await
        .expect("delete");
    let o = a.sync_lb("a", &nodes, true).await.expect("sync a");
    assert!(o.all_ok(), "{o:?}");
    assert_eq!(probe_duration(&sim, "127.0.0.1_tcp_7100"), Some(json!(9)));
    Ok(())
}

#[tokio::test]
async fn last_reference_gone_while_a_rule_refers_restores_rule_defaults() -> TestResult {
    let (a, store, sim, _d) = setup().await;
    lb_with_members(&store, "lb", "10.1.0.4", &[7200]).await;
    monitor(&store, "lb", 7).await;
    let nodes = a.all_nodes();
    a.sync_lb("lb", &nodes, true).await.expect("sync");
    assert_eq!(probe_duration(&sim, "127.0.0.1_tcp_7200"), Some(json!(7)));

    // The monitor goes but the fullnat rule keeps its endpoint: LoxiLB answers 409 on
    // the probe delete, and the probe gets the rule's default options back.
    store
        .delete_object(Table::HealthMonitors, "lb-hm")
        .await
        .expect("delete");
    let o = a.sync_lb("lb", &nodes, true).await.expect("sync");
    assert!(o.all_ok(), "{o:?}");
    let ep = sim
        .control()
        .endpoints()
        .into_iter()
        .find(|e| e["name"] == "127.0.0.1_tcp_7200")
        .expect("the rule's own probe stays");
    assert_eq!(ep["probeDuration"], json!(60), "{ep}");
    assert_eq!(ep["probeType"], "tcp", "{ep}");
    assert!(
        sim.control()
            .requests()
            .iter()
            .any(|r| r.method == "DELETE" && r.status == 409),
        "expected LoxiLB to refuse the delete with 409"
    );
    let url = a.client().node_url(nodes[0]).to_string();
    assert!(store
        .all_applied_probes(&url)
        .await
        .expect("probes")
        .is_empty());
    Ok(())
}

#[tokio::test]
async fn unreachable_node_is_reported_and_the_other_node_is_applied() -> TestResult {
    let (store, _dir) = test_store().await;
    let sim = loxilb_sim::spawn(loxilb_sim::SimOptions {
        probing: false,
        ..Default::default()
    })
    .await
    .expect("sim");
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let a = applier_for(&store, vec![sim.url(), format!("http://{closed}")]);
    lb_with_members(&store, "lb", "10.1.0.5", &[7300]).await;
    let o = a.sync_lb("lb", &a.all_nodes(), true).await.expect("sync");
    assert!(o.any_ok() && !o.all_ok(), "{o:?}");
    assert!(o.permanent_error().is_none());
    assert_eq!(sim.control().rules().len(), 1);
    Ok(())
}

/// Probes without references are looked for on the first sync after start and
/// after a sync that did not finish everywhere, not on every sync (the scan reads
/// every probe record).
#[tokio::test]
async fn leftover_probes_are_looked_for_only_after_something_went_wrong() -> TestResult {
    let (store, _dir) = test_store().await;
    let left = Leftovers::new();
    let found = left.find(&store).await?;
    assert!(found.is_empty(), "nothing left over in an empty store");
    store
        .put_applied_probe("http://n1", "10.0.0.1_tcp_80", "10.0.0.1", "tcp", 80, "{}")
        .await?;
    let found = left.find(&store).await?;
    assert!(found.is_empty(), "a clean scan is trusted until a failure");
    left.may_exist();
    let found = left.find(&store).await?;
    assert_eq!(found.into_iter().collect::<Vec<_>>(), ["10.0.0.1_tcp_80"]);
    // Still there: every sync keeps looking until a scan finds none.
    assert_eq!(left.find(&store).await.map(|k| k.len()).ok(), Some(1));
    Ok(())
}

/// A crash between a probe POST and its applied record leaves the probe on the node,
/// the load balancer's references (written before any call) naming it, and no
/// record; an HTTP probe is posted before its rule, so no rule holds it either. Once
/// nothing wants it, the next sync deletes it from the reference alone: no intent is
/// written before the POSTs.
#[tokio::test]
async fn a_probe_posted_but_never_recorded_is_deleted_once_unwanted() -> TestResult {
    let (a, store, sim, _d) = setup().await;
    lb_with_members(&store, "lb", "10.1.0.6", &[7400, 7401]).await;
    monitor(&store, "lb", 5).await;
    let nodes = a.all_nodes();
    let o = a.sync_lb("lb", &nodes, true).await.expect("sync");
    assert!(o.all_ok(), "{o:?}");
    let url = a.client().node_url(nodes[0]).to_string();
    let key = "127.0.0.1_tcp_7400";
    let keys: BTreeSet<String> = [key.to_string()].into();
    assert!(
        store
            .probe_intents(&url, &keys)
            .await
            .expect("intents")
            .is_empty(),
        "the POSTs wrote no intent"
    );
    let with_member = store.sync_inputs("lb").await.expect("inputs").refs;
    let ep = with_member
        .iter()
        .find(|r| r.probe_key == key)
        .and_then(|r| serde_json::from_str::<StoredWant>(&r.options).ok())
        .map(|w| w.endpoint)
        .expect("the member's reference");
    store
        .delete_object(Table::Members, "lb-m7400")
        .await
        .expect("delete");
    assert!(a.sync_lb("lb", &nodes, true).await.expect("sync").all_ok());
    let on_node = |name: &str| sim.control().endpoints().iter().any(|e| e["name"] == name);
    assert!(!on_node(key));

    // The crash: a sync that still wanted the member wrote its references and posted
    // the probe, then the process died. A new applier (a restart) syncs again.
    store
        .replace_probe_refs("lb", &with_member)
        .await
        .expect("refs");
    a.client()
        .create_endpoint(nodes[0], &ep)
        .await
        .expect("post");
    assert!(on_node(key));
    let restarted = applier_for(&store, vec![sim.url()]);
    let o = restarted.sync_lb("lb", &nodes, true).await.expect("sync");
    assert!(o.all_ok(), "{o:?}");
    assert!(!on_node(key), "{:?}", sim.control().endpoints());
    assert!(on_node("127.0.0.1_tcp_7401"), "the wanted probe stays");
    let again = restarted.sync_lb("lb", &nodes, true).await.expect("sync");
    assert_eq!(again.calls(), 0, "{again:?}");
    Ok(())
}

/// The applier reads its records from the store once per term: a record changed
/// behind its back is not seen until it is told (failover and the reconciler's
/// repairs go through the applier, which does).
#[tokio::test]
async fn applied_records_are_read_once_until_changed_elsewhere() -> TestResult {
    let (a, store, _sim, _d) = setup().await;
    lb_with_members(&store, "lb", "10.1.0.7", &[7500]).await;
    monitor(&store, "lb", 5).await;
    let nodes = a.all_nodes();
    let o = a.sync_lb("lb", &nodes, true).await.expect("sync");
    assert!(o.all_ok() && o.calls() > 0, "{o:?}");

    store.forget_applied_lb("lb").await.expect("forget");
    let o = a.sync_lb("lb", &nodes, true).await.expect("sync");
    assert_eq!(o.calls(), 0, "the cached records still say applied: {o:?}");
    a.records_changed_elsewhere();
    let o = a.sync_lb("lb", &nodes, true).await.expect("sync");
    assert!(
        o.all_ok() && o.calls() > 0,
        "read again, applied again: {o:?}"
    );

    // Failover through the applier forgets the records in the store and here.
    a.forget_applied_lb("lb").await.expect("forget");
    let o = a.sync_lb("lb", &nodes, true).await.expect("sync");
    assert!(o.all_ok() && o.calls() > 0, "{o:?}");
    let again = a.sync_lb("lb", &nodes, true).await.expect("sync");
    assert_eq!(again.calls(), 0, "{again:?}");
    Ok(())
}

#[path = "restore_tests.rs"]
mod restore;
