//! B2: one status poll cycle over `size` endpoints (scripted simulator state, no real
//! probing) with 10 changes: the HTTP fetch, then our CPU time (fold the node view,
//! compute every status, diff against the last cycle), and how many records the
//! cycle would send.

use std::time::{Duration, Instant};

use loxilb_coordinator::health::{
    compute::compute, diff, index::DesiredIndex, observe::*, Snapshot,
};
use loxilb_coordinator::loxilb::{ClientOptions, LoxilbClient, NodeId};
use loxilb_coordinator::mapping::LbTree;
use serde_json::{json, Value};

use crate::stats::summary;

fn addr(i: usize) -> String {
    format!("10.{}.{}.{}", i / 62_500, (i / 250) % 250, i % 250 + 1)
}

pub async fn b2(runs: usize, sizes: &[usize]) -> Result<(), String> {
    println!("\nB2 one status poll cycle, 10 changes");
    println!(
        "| endpoints | fetch ms | our CPU ms (observe + compute + diff) | member records sent |"
    );
    println!("|---|---|---|---|");
    for &size in sizes {
        let (mut fetch, mut cpu, mut sent) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let sim = loxilb_sim::spawn(loxilb_sim::SimOptions {
                probing: false,
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?;
            let scripted = (0..size)
                .map(|i| loxilb_sim::ScriptedEndpoint {
                    host: addr(i),
                    probe_type: "tcp".into(),
                    port: 80,
                    state: "ok".into(),
                    name: None,
                })
                .collect();
            sim.control().script_endpoints(scripted);
            let members: Vec<Value> = (0..size)
                .map(|i| {
                    json!({"member_id": format!("m{i}"), "pool_id": "p",
                                "address": addr(i), "protocol_port": 80})
                })
                .collect();
            let tree = LbTree::from_bodies(
                &json!({"loadbalancer_id": "lb"}),
                &[
                    json!({"listener_id": "l", "protocol": "TCP", "protocol_port": 80,
                         "default_pool_id": "p"}),
                ],
                &[json!({"pool_id": "p", "protocol": "TCP"})],
                &members,
                &[json!({"healthmonitor_id": "h", "pool_id": "p", "type": "TCP"})],
            )
            .map_err(|e| e.to_string())?;
            let index = DesiredIndex::from_trees(&[tree]);
            let client = LoxilbClient::new(ClientOptions {
                nodes: vec![sim.url()],
                timeout: Duration::from_secs(60),
                ..ClientOptions::default()
            })
            .map_err(|e| e.to_string())?;
            let endpoints = client
                .list_endpoints(NodeId(0))
                .await
                .map_err(|e| e.to_string())?;
            let first = compute(
                &index,
                Some(&observe(&[&NodeReport {
                    endpoints,
                    rules: None,
                }])),
                None,
                &Snapshot::default(),
                0,
                3,
            );
            for i in (0..size).step_by((size / 10).max(1)).take(10) {
                sim.control()
                    .set_endpoint_state(&format!("{}_tcp_80", addr(i)), "nok");
            }
            let t = Instant::now();
            let endpoints = client
                .list_endpoints(NodeId(0))
                .await
                .map_err(|e| e.to_string())?;
            fetch.push(t.elapsed().as_secs_f64() * 1e3);
            let t = Instant::now();
            let seen = observe(&[&NodeReport {
                endpoints,
                rules: None,
            }]);
            let second = compute(&index, Some(&seen), None, &first, 0, 3);
            let changes = diff(&first, &second);
            cpu.push(t.elapsed().as_secs_f64() * 1e3);
            sent.push(changes.iter().filter(|r| r.collection == "members").count() as f64);
            sim.shutdown().await;
        }
        println!(
            "| {size} | {} | {} | {} |",
            summary(&fetch, 1),
            summary(&cpu, 1),
            summary(&sent, 0)
        );
    }
    Ok(())
}
