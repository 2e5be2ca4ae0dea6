//! A refused sync returns every node to what it held before (the last state LoxiLB
//! accepted), never to an earlier desired state that may never have applied.

use std::sync::atomic::{AtomicBool, Ordering as AtomicOrdering};

use super::*;

/// Refuses when any node refused; undoing deletes member `undo_member`.
struct RefuseAndUndo {
    store: Store,
    undo_member: String,
    undone: AtomicBool,
}

#[async_trait::async_trait]
impl OnRefusal for RefuseAndUndo {
    fn refused(&self, outcome: &SyncOutcome) -> bool {
        outcome.permanent_error().is_some()
    }
    async fn undo_desired(&self) -> Result<(), SyncError> {
        self.store
            .delete_object(Table::Members, &self.undo_member)
            .await?;
        self.undone.store(true, AtomicOrdering::SeqCst);
        Ok(())
    }
}

/// Rule names with their endpoint ports, and probe names, as a node shows them.
fn view(sim: &loxilb_sim::SimHandle) -> (Vec<(String, Vec<u64>)>, Vec<String>) {
    let mut rules: Vec<(String, Vec<u64>)> = sim
        .control()
        .rules()
        .iter()
        .map(|r| {
            let mut ports: Vec<u64> = r["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|e| e["targetPort"].as_u64())
                .collect();
            ports.sort_unstable();
            let name = r["serviceArguments"]["name"]
                .as_str()
                .unwrap_or("")
                .to_string();
            (name, ports)
        })
        .collect();
    rules.sort();
    let mut probes: Vec<String> = sim
        .control()
        .endpoints()
        .iter()
        .filter_map(|e| e["name"].as_str().map(str::to_string))
        .collect();
    probes.sort();
    (rules, probes)
}

async fn member(store: &Store, lb: &str, port: u16) {
    let pool = format!("{lb}-p");
    let m = format!("{lb}-m{port}");
    put(
        store,
        Table::Members,
        &m,
        Some(&pool),
        json!({"member_id": m, "pool_id": pool, "address": "127.0.0.1", "protocol_port": port}),
    )
    .await;
}

#[tokio::test]
async fn a_refusal_on_one_node_returns_every_node_to_its_records() {
    let (store, _dir) = test_store().await;
    let opts = || loxilb_sim::SimOptions {
        probing: false,
        ..Default::default()
    };
    let sim_a = loxilb_sim::spawn(opts()).await.expect("sim a");
    let sim_b = loxilb_sim::spawn(opts()).await.expect("sim b");
    let a = applier_for(&store, vec![sim_a.url(), sim_b.url()]);
    let nodes = a.all_nodes();

    // Accepted everywhere: two members behind an HTTP monitor.
    lb_with_members(&store, "lb", "10.1.0.9", &[7001, 7002]).await;
    monitor(&store, "lb", 5).await;
    let first = a.sync_lb("lb", &nodes, true).await.expect("sync");
    assert!(first.all_ok(), "{first:?}");
    let (before_a, before_b) = (view(&sim_a), view(&sim_b));
    assert_eq!(before_a.0[0].1, vec![7001, 7002], "{before_a:?}");

    // An earlier desired state that never reached LoxiLB (member 7003), then the
    // change that node B refuses (member 7004).
    member(&store, "lb", 7003).await;
    member(&store, "lb", 7004).await;
    sim_b.control().add_fault(loxilb_sim::Fault {
        status: 400,
        rate: 1.0,
        method: Some("POST".into()),
        path_prefix: Some("/config/loadbalancer".into()),
        remaining: None,
    });
    let hook = RefuseAndUndo {
        store: store.clone(),
        undo_member: "lb-m7004".into(),
        undone: AtomicBool::new(false),
    };
    let r = a
        .reconcile_lb("lb", &nodes, true, &hook)
        .await
        .expect("reconcile");
    assert!(
        r.outcome.nodes[0].1.is_ok(),
        "node A took it: {:?}",
        r.outcome
    );
    assert!(r.outcome.permanent_error().is_some(), "{:?}", r.outcome);
    let restored = r.restored.expect("restored");
    assert!(restored.all_ok(), "{restored:?}");
    assert!(hook.undone.load(AtomicOrdering::SeqCst), "undo ran");

    // Both nodes hold exactly what they held before, not member 7003.
    assert_eq!(view(&sim_a), before_a, "node A");
    assert_eq!(view(&sim_b), before_b, "node B");
    // And our records say so: a sync without the fault only adds 7003 now.
    sim_b.control().clear_faults();
    let again = a.sync_lb("lb", &nodes, true).await.expect("sync");
    assert!(again.all_ok(), "{again:?}");
    assert_eq!(view(&sim_a).0[0].1, vec![7001, 7002, 7003]);
    assert_eq!(view(&sim_b), view(&sim_a));
}
