//! End to end: what a refusal by one LoxiLB node leaves on every node. The real
//! daemon, two simulator nodes (one refusing rule posts) and the test driver agent.

mod common;

use std::time::Duration;

use common::world::*;
use common::TestResult;
use loxilb_coordinator::mapping::rule_name;
use serde_json::{json, Value};

/// Two nodes holding load balancer `lb` with members on two backends.
async fn two_nodes(backends: &[Backend; 2]) -> TestResult<World> {
    let a = loxilb_sim::spawn(loxilb_sim::SimOptions::default()).await?;
    let b = loxilb_sim::spawn(loxilb_sim::SimOptions::default()).await?;
    let nodes = vec![a.url(), b.url()];
    let w = World::start_with(vec![a, b], &nodes, "", true).await?;
    let ports: Vec<u16> = backends.iter().map(Backend::port).collect();
    w.apply_ok(&scenario("lb", "127.0.0.70", 88, &ports))
        .await?;
    Ok(w)
}

/// Node b refuses every rule post from now on (as LoxiLB answers a body it rejects).
fn refuse_rule_posts(w: &World) {
    w.sims[1].control().add_fault(loxilb_sim::Fault {
        status: 400,
        rate: 1.0,
        method: Some("POST".into()),
        path_prefix: Some("/config/loadbalancer".into()),
        remaining: None,
    });
}

fn views(w: &World) -> (Value, Value) {
    (
        config_view(&w.sims[0].control()),
        config_view(&w.sims[1].control()),
    )
}

/// Node a takes the new member, node b refuses it: both end as they were before the
/// event (node a's change is taken back from our records), and the member is ERROR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_refused_by_one_node_leaves_every_node_as_before() -> TestResult {
    let backends = [Backend::start().await?, Backend::start().await?];
    let w = two_nodes(&backends).await?;
    let before = views(&w);
    let third = Backend::start().await?;
    refuse_rule_posts(&w);
    let recs = w.apply(&[member("lb-p", "lb-m9", third.port())]).await?;
    assert_eq!(recs[0]["state"], "failed", "{}", recs[0]);
    assert_eq!(views(&w), before, "a node kept part of the refused change");
    let endpoints = rule_endpoints(&w.sims[0].control().rules(), &rule_name("lb-l"));
    assert_eq!(endpoints.len(), 2, "{endpoints:?}");
    w.wait_for("the member in ERROR", Duration::from_secs(10), || {
        provisioning(&w.status_messages())
            .iter()
            .any(|(_, id, s)| id == "lb-m9" && s == "ERROR")
    })
    .await;
    Ok(())
}

/// A failover re-applies everything after forgetting our records of it. Refused by
/// one node, it must not "return" the nodes to those forgotten (empty) records: that
/// would delete the rule and probes from every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_failover_leaves_the_rules_in_place() -> TestResult {
    let backends = [Backend::start().await?, Backend::start().await?];
    let w = two_nodes(&backends).await?;
    let before = views(&w);
    refuse_rule_posts(&w);
    let failover = json!({"method": "loadbalancer_failover",
                          "args": {"loadbalancer_id": "lb"}});
    let recs = w.apply(&[failover]).await?;
    assert_eq!(recs[0]["state"], "failed", "{}", recs[0]);
    for (i, sim) in w.sims.iter().enumerate() {
        let endpoints = rule_endpoints(&sim.control().rules(), &rule_name("lb-l"));
        assert_eq!(endpoints.len(), 2, "node {i}: {endpoints:?}");
    }
    assert_eq!(
        views(&w),
        before,
        "the failover changed what the nodes hold"
    );
    Ok(())
}
