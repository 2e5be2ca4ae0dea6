//! B3: reconcile and orphan scan of one node holding `size` probes of ours with 1 %
//! drift. Measures the fetch of the node's lists and the comparison (the pure
//! `recovery::diff::compare`) separately; the repair calls equal the drift found,
//! one call per drifted probe, by construction of the repair (one POST each).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use loxilb_coordinator::loxilb::{ClientOptions, EndPoint, LoxilbClient};
use loxilb_coordinator::recovery::{compare, NodeView};

use crate::stats::summary;

pub async fn b3(runs: usize, sizes: &[usize]) -> Result<(), String> {
    println!("\nB3 reconcile + orphan scan of one node, 1 % drift");
    println!("| probes | fetch ms | compare ms | drift found | repair calls |");
    println!("|---|---|---|---|---|");
    for &size in sizes {
        let (mut fetch, mut cmp, mut found) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let sim = loxilb_sim::spawn(loxilb_sim::SimOptions {
                probing: false,
                ..Default::default()
            })
            .await
            .map_err(|e| e.to_string())?;
            let eps: Vec<loxilb_sim::ScriptedEndpoint> = (0..size)
                .map(|i| loxilb_sim::ScriptedEndpoint {
                    host: format!("10.{}.{}.{}", i / 65536 % 256, i / 256 % 256, i % 256),
                    probe_type: "tcp".into(),
                    port: 8080,
                    state: "ok".into(),
                    name: None,
                })
                .collect();
            sim.control().script_endpoints(eps);
            let client = LoxilbClient::new(ClientOptions {
                nodes: vec![sim.url()],
                timeout: Duration::from_secs(60),
                retries: 0,
                rate_limit_per_sec: 100_000,
                ca_file: None,
                client_cert: None,
                client_key: None,
                credentials: None,
                backoff_min: Duration::from_millis(10),
                backoff_max: Duration::from_millis(100),
                fence: Default::default(),
                instance: None,
            })
            .map_err(|e| e.to_string())?;
            let node = client.node_ids().next().ok_or("no node")?;
            let t = Instant::now();
            let observed = client
                .list_endpoints(node)
                .await
                .map_err(|e| e.to_string())?;
            let rules = client.list_rules(node).await.map_err(|e| e.to_string())?;
            fetch.push(t.elapsed().as_secs_f64() * 1e3);
            // Our records: what the node holds, with every 100th probe drifted.
            let applied: Vec<(String, String)> = observed
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let ep = EndPoint {
                        host_name: o.host_name.clone(),
                        name: o.name.clone(),
                        probe_type: o.probe_type.clone(),
                        probe_port: o.probe_port,
                        probe_req: o.probe_req.clone(),
                        probe_resp: o.probe_resp.clone(),
                        probe_duration: o.probe_duration + u32::from(i % 100 == 0),
                        inactive_retries: o.inactive_retries,
                    };
                    (
                        o.name.clone(),
                        serde_json::to_string(&ep).unwrap_or_default(),
                    )
                })
                .collect();
            let referenced: BTreeSet<String> = applied.iter().map(|(k, _)| k.clone()).collect();
            let listeners = BTreeSet::new();
            let t = Instant::now();
            let findings = compare(&NodeView {
                applied_rules: &[],
                applied_probes: &applied,
                observed_rules: &rules,
                observed_probes: &observed,
                desired_listeners: &listeners,
                referenced_probes: &referenced,
            });
            cmp.push(t.elapsed().as_secs_f64() * 1e3);
            found.push(findings.drift.len() as f64);
            sim.shutdown().await;
        }
        println!(
            "| {size} | {} | {} | {} | {} |",
            summary(&fetch, 1),
            summary(&cmp, 1),
            summary(&found, 0),
            summary(&found, 0)
        );
    }
    Ok(())
}
