//! The benchmark scenarios. Each prints one table row per size with the median and
//! spread over `runs` repetitions.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::World;
use crate::stats::{quantile, summary};

const SIM_LATENCY: Duration = Duration::from_millis(5);
/// Concurrent ingress clients posting events.
const POSTERS: usize = 16;

fn lb_setup(lb: usize) -> Vec<Value> {
    let (id, l, p) = (format!("lb{lb}"), format!("lb{lb}-l"), format!("lb{lb}-p"));
    let vip = format!("10.{}.{}.{}", 100 + lb / 65536, (lb / 256) % 256, lb % 256);
    vec![
        json!({"method": "loadbalancer_create", "args": {"loadbalancer": {
            "loadbalancer_id": id, "vip_address": vip}}}),
        json!({"method": "listener_create", "args": {"listener": {
            "listener_id": l, "loadbalancer_id": id, "protocol": "TCP",
            "protocol_port": 80, "default_pool_id": p}}}),
        json!({"method": "pool_create", "args": {"pool": {
            "pool_id": p, "loadbalancer_id": id, "listener_id": l, "protocol": "TCP",
            "lb_algorithm": "ROUND_ROBIN"}}}),
    ]
}

fn member(lb: usize, m: usize) -> Value {
    json!({"method": "member_create", "args": {"member": {
        "member_id": format!("lb{lb}-m{m}"), "pool_id": format!("lb{lb}-p"),
        "address": format!("10.{}.{}.{}", lb / 256 % 256, lb % 256, m % 250 + 1),
        "protocol_port": 8000 + (m / 250) as u64}}})
}

fn monitor(lb: usize) -> Value {
    monitor_of(lb, "HTTP")
}

/// A monitor of `kind` (HTTP or TCP) on load balancer `lb`'s pool.
fn monitor_of(lb: usize, kind: &str) -> Value {
    let mut hm = json!({
        "healthmonitor_id": format!("lb{lb}-hm"), "pool_id": format!("lb{lb}-p"),
        "type": kind, "delay": 10, "timeout": 5, "max_retries": 3});
    if kind == "HTTP" {
        hm["http_method"] = json!("GET");
        hm["url_path"] = json!("/health");
        hm["expected_codes"] = json!("200");
    }
    json!({"method": "health_monitor_create", "args": {"healthmonitor": hm}})
}

/// Members per B1 pool: a LoxiLB rule holds at most 32 endpoints.
const B1_MEMBERS: usize = 32;

/// B1: `size` member and monitor events in a burst over `size / 33` load balancers (one
/// monitor and 32 members each: a LoxiLB rule holds at most 32 endpoints), simulator
/// latency 5 ms; one row with TCP monitors (the rule creates the probes) and one with
/// HTTP monitors (one probe POST per member is the floor: LoxiLB refuses http on a rule).
pub async fn b1(runs: usize, sizes: &[usize]) -> Result<(), String> {
    println!("\nB1 burst of member + health monitor events, simulator latency {SIM_LATENCY:?}");
    println!("| events | monitors | batch_size | load balancers | accepted/s | applied events/s | LoxiLB calls per event | calls per member event | simulator ceiling events/s |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for &size in sizes {
        for kind in ["TCP", "HTTP"] {
            b1_row(runs, size, kind, None).await?;
        }
        // With batch_size 10 a pool's 33 events take at least 4 rule updates on top of
        // the 32 probe posts (1.125 calls per member event); a batch that holds a whole
        // pool's burst shows the floor of one rule update per pool.
        b1_row(runs, size, "HTTP", Some(40)).await?;
    }
    Ok(())
}

async fn b1_row(
    runs: usize,
    size: usize,
    kind: &str,
    batch_size: Option<usize>,
) -> Result<(), String> {
    let lbs = (size / (B1_MEMBERS + 1)).max(1);
    let (mut rates, mut cpe, mut cpm, mut ceil, mut accept) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let w = World::start_with(SIM_LATENCY, batch_size).await?;
        let setup: Vec<Value> = (0..lbs).flat_map(lb_setup).collect();
        w.post_all(setup, POSTERS).await?;
        w.wait_idle(Duration::from_secs(600)).await?;
        w.sim.control().reset_counters();
        let mut burst = Vec::with_capacity(size);
        for lb in 0..lbs {
            burst.push(monitor_of(lb, kind));
            for m in 0..B1_MEMBERS {
                burst.push(member(lb, m));
            }
        }
        let n = burst.len();
        let members = lbs * B1_MEMBERS;
        let t0 = Instant::now();
        w.post_all(burst, POSTERS).await?;
        let posted = t0.elapsed().as_secs_f64();
        w.wait_idle(Duration::from_secs(1800)).await?;
        let secs = t0.elapsed().as_secs_f64();
        w.ensure_none_failed().await?;
        accept.push(n as f64 / posted);
        let mutations = w.mutations() as f64;
        let calls = mutations / n as f64;
        rates.push(n as f64 / secs);
        cpe.push(calls);
        cpm.push(mutations / members as f64);
        // The simulator answers each call after SIM_LATENCY and serves calls
        // concurrently; the daemon keeps at most max_concurrent_checks (50) load
        // balancers in flight, one call each: 50 / 5 ms calls per second.
        let sim_calls_per_s = 50.0 / SIM_LATENCY.as_secs_f64();
        ceil.push(sim_calls_per_s / calls.max(1e-9));
    }
    let batch = batch_size.unwrap_or(10);
    println!(
        "| {size} | {kind} | {batch} | {lbs} | {} | {} | {} | {} | {} |",
        summary(&accept, 0),
        summary(&rates, 0),
        summary(&cpe, 3),
        summary(&cpm, 3),
        summary(&ceil, 0)
    );
    Ok(())
}

/// One LoxiLB node holds at most 2048 rules (rules.go `RtMaximumLbs`; beyond it
/// AddLbRule answers "rule-hwm error"): B4's load balancers past this many get their
/// pool without a listener, so they hold members and monitored probes but no rule.
const B4_RULES: usize = 2000;

/// A load balancer whose pool is bound to it but to no listener (Octavia allows it):
/// its members are probed when monitored, and no LoxiLB rule exists for it.
fn lb_setup_without_listener(lb: usize) -> Vec<Value> {
    let (id, p) = (format!("lb{lb}"), format!("lb{lb}-p"));
    let vip = format!("10.{}.{}.{}", 100 + lb / 65536, (lb / 256) % 256, lb % 256);
    vec![
        json!({"method": "loadbalancer_create", "args": {"loadbalancer": {
            "loadbalancer_id": id, "vip_address": vip}}}),
        json!({"method": "pool_create", "args": {"pool": {
            "pool_id": p, "loadbalancer_id": id, "protocol": "TCP",
            "lb_algorithm": "ROUND_ROBIN"}}}),
    ]
}

/// B4: resident memory of the daemon holding `size` members (10 per pool) and one
/// monitor per pool; at most `B4_RULES` pools serve a listener (a rule each).
pub async fn b4(runs: usize, sizes: &[usize]) -> Result<(), String> {
    println!("\nB4 resident memory of the daemon (members, monitors = members / 10)");
    println!("| members | monitors | RSS MiB empty | RSS MiB after the burst | RSS MiB holding them (restarted) |");
    println!("|---|---|---|---|---|");
    for &size in sizes {
        let pools = (size / 10).max(1);
        let (mut idle, mut loaded, mut holding) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let mut w = World::start(Duration::ZERO).await?;
            idle.push(w.daemon_rss_mib());
            let mut events = Vec::with_capacity(pools * 14);
            for lb in 0..pools {
                if lb < B4_RULES {
                    events.extend(lb_setup(lb));
                } else {
                    events.extend(lb_setup_without_listener(lb));
                }
                events.push(monitor(lb));
                for m in 0..10 {
                    events.push(member(lb, m));
                }
            }
            w.post_all(events, POSTERS).await?;
            w.wait_idle(Duration::from_secs(3600)).await?;
            w.ensure_none_failed().await?;
            loaded.push(w.daemon_rss_mib());
            // Octavia still has them: the restarted daemon's start-up check asks the
            // driver agent, which answers from fixtures.
            let agent = w._agent.control();
            for lb in 0..pools {
                agent.set_fixture(
                    "loadbalancers",
                    &format!("lb{lb}"),
                    json!({"loadbalancer_id": format!("lb{lb}")}),
                );
            }
            w.restart_daemon().await?;
            // Start-up work (reconcile pass, Octavia check, status index, first
            // poll and full status refresh) runs in the first seconds; read once it
            // has settled: the largest of the last three one-second samples of ten.
            let mut samples = Vec::new();
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                samples.push(w.daemon_rss_mib());
            }
            let settled = samples[7..].iter().copied().fold(f64::NAN, f64::max);
            holding.push(settled);
        }
        println!(
            "| {size} | {pools} | {} | {} | {} |",
            summary(&idle, 1),
            summary(&loaded, 1),
            summary(&holding, 1)
        );
    }
    Ok(())
}

/// B5: accepted-to-applied latency at a steady `rate` (member weight updates spread
/// over 100 load balancers), `size` events per run.
pub async fn b5(runs: usize, sizes: &[usize], rates: &[u64]) -> Result<(), String> {
    println!(
        "\nB5 accepted-to-applied latency at a steady rate, simulator latency {SIM_LATENCY:?}"
    );
    println!(
        "| events/s | events | p50 ms | p99 ms | achieved events/s | daemon CPU µs per event |"
    );
    println!("|---|---|---|---|---|---|");
    for &rate in rates {
        for &size in sizes {
            b5_row(runs, size, rate.max(1)).await?;
        }
    }
    Ok(())
}

async fn b5_row(runs: usize, size: usize, rate: u64) -> Result<(), String> {
    let lbs = 100;
    {
        let (mut p50, mut p99, mut achieved, mut cpu) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let w = World::start(SIM_LATENCY).await?;
            let mut setup: Vec<Value> = (0..lbs).flat_map(lb_setup).collect();
            for lb in 0..lbs {
                // Two members: a weight change of one changes both members' share of
                // LoxiLB's priority selection, so every event is a real rule update
                // (with one member, or equal weights, LoxiLB ignores weights).
                setup.push(member(lb, 0));
                setup.push(member(lb, 1));
            }
            w.post_all(setup, POSTERS).await?;
            w.wait_idle(Duration::from_secs(600)).await?;
            let first_id = w
                .store
                .list_events(None, 1)
                .await
                .map_err(|e| e.to_string())?
                .first()
                .map_or(0, |r| r.id);
            let t0 = Instant::now();
            let cpu0 = w.daemon_cpu_secs();
            let mut pacer = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
            let mut inflight = Vec::new();
            for i in 0..size {
                pacer.tick().await;
                let lb = i % lbs;
                let ev = json!({"method": "member_update", "args": {
                    "old_member": {"member_id": format!("lb{lb}-m0"), "pool_id": format!("lb{lb}-p")},
                    "new_member": {"member_id": format!("lb{lb}-m0"), "weight": (i % 200) + 1}}});
                let api = w.api_for(i);
                inflight.push(tokio::spawn(async move {
                    api.call("POST", "/v1/events", Some(&ev))
                        .await
                        .map(|(c, _)| c)
                }));
            }
            for t in inflight {
                match t.await {
                    Ok(Ok(202)) => {}
                    other => return Err(format!("POST failed: {other:?}")),
                }
            }
            w.wait_idle(Duration::from_secs(600)).await?;
            achieved.push(size as f64 / t0.elapsed().as_secs_f64());
            cpu.push((w.daemon_cpu_secs() - cpu0) * 1e6 / size as f64);
            let recs = w
                .store
                .list_events(None, (size + 1000) as i64)
                .await
                .map_err(|e| e.to_string())?;
            let lat: Vec<f64> = recs
                .iter()
                .filter(|r| r.id > first_id)
                .map(|r| (r.updated_at - r.accepted_at) as f64)
                .collect();
            p50.push(quantile(&lat, 0.5));
            p99.push(quantile(&lat, 0.99));
        }
        println!(
            "| {rate} | {size} | {} | {} | {} | {} |",
            summary(&p50, 1),
            summary(&p99, 1),
            summary(&achieved, 0),
            summary(&cpu, 0)
        );
    }
    Ok(())
}
