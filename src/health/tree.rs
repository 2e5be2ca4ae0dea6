//! The status tree of one load balancer, shaped like `openstack loadbalancer status
//! show`: load balancer → listeners → pools → health monitor and members, each
//! with its operating status from the health cache and its provisioning status,
//! and for each member the LoxiLB probe and how many nodes report it in each state.
//!
//! Built from the stored desired tree (names, addresses, structure) and the cache
//! (statuses), so answering never calls LoxiLB. The load balancer's own fields stay
//! at the top level (`operating_status`, `loxilb`, `age_seconds`, `fresh`), as in
//! the flat answer for pools and members.

use serde_json::{json, Map, Value};

use super::cache::HealthStatusCache;
use super::snapshot::Kind;
use crate::mapping::LbTree;
use crate::model::Pool;

/// Provisioning status as far as the daemon knows it: an object it holds is
/// `ACTIVE` once every event of its load balancer was applied, and
/// `PENDING_UPDATE` while one is queued or applying (the same moments Octavia's
/// provisioning status moves through for our driver).
pub fn provisioning(in_flight: bool) -> &'static str {
    if in_flight {
        "PENDING_UPDATE"
    } else {
        "ACTIVE"
    }
}

/// Operating status, age and freshness of one cached object; `null` status when
/// the poller has not derived one yet (a new object before its first cycle).
pub fn cached_fields(cache: &HealthStatusCache, kind: Kind, id: &str) -> Map<String, Value> {
    let mut out = Map::new();
    match cache.peek(kind, id) {
        Some(c) => {
            out.insert("operating_status".into(), json!(c.entry.status));
            out.insert("age_seconds".into(), json!(c.at.elapsed().as_secs_f64()));
            out.insert("fresh".into(), json!(cache.is_fresh(c)));
            out.insert("loxilb".into(), json!(c.entry.detail));
        }
        None => {
            out.insert("operating_status".into(), Value::Null);
            out.insert("fresh".into(), json!(false));
        }
    }
    out
}

/// The whole tree (see the module docs).
pub fn build(tree: &LbTree, cache: &HealthStatusCache, in_flight: bool) -> Value {
    let prov = provisioning(in_flight);
    let lb = &tree.lb;
    let mut out = Map::new();
    out.insert("id".into(), json!(lb.loadbalancer_id));
    out.insert("kind".into(), json!(Kind::Loadbalancer));
    out.insert("name".into(), json!(lb.name));
    out.insert("vip_address".into(), json!(lb.vip_address));
    out.insert("provisioning_status".into(), json!(prov));
    out.extend(cached_fields(
        cache,
        Kind::Loadbalancer,
        &lb.loadbalancer_id,
    ));
    let listeners: Vec<Value> = tree
        .listeners
        .iter()
        .map(|l| {
            let pools: Vec<Value> = tree
                .pools
                .iter()
                .filter(|p| {
                    l.default_pool_id.as_deref() == Some(p.pool_id.as_str())
                        || p.listener_id.as_deref() == Some(l.listener_id.as_str())
                })
                .map(|p| pool(tree, p, cache, prov))
                .collect();
            let mut o = Map::new();
            o.insert("id".into(), json!(l.listener_id));
            o.insert("name".into(), json!(l.name));
            o.insert("protocol".into(), json!(l.protocol));
            o.insert("protocol_port".into(), json!(l.protocol_port));
            o.insert("provisioning_status".into(), json!(prov));
            o.extend(cached_fields(cache, Kind::Listener, &l.listener_id));
            o.insert("pools".into(), Value::Array(pools));
            Value::Object(o)
        })
        .collect();
    out.insert("listeners".into(), Value::Array(listeners));
    // Pools no listener forwards to still have members worth seeing.
    let unattached: Vec<Value> = tree
        .pools
        .iter()
        .filter(|p| {
            !tree.listeners.iter().any(|l| {
                l.default_pool_id.as_deref() == Some(p.pool_id.as_str())
                    || p.listener_id.as_deref() == Some(l.listener_id.as_str())
            })
        })
        .map(|p| pool(tree, p, cache, prov))
        .collect();
    out.insert("pools".into(), Value::Array(unattached));
    Value::Object(out)
}

fn pool(tree: &LbTree, p: &Pool, cache: &HealthStatusCache, prov: &str) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(p.pool_id));
    o.insert("name".into(), json!(p.name));
    o.insert("provisioning_status".into(), json!(prov));
    o.extend(cached_fields(cache, Kind::Pool, &p.pool_id));
    let monitor = tree.monitor_of(p).map(|m| {
        json!({
            "id": m.healthmonitor_id,
            "name": m.name,
            "type": m.r#type,
            "delay": m.delay,
            "provisioning_status": prov,
        })
    });
    o.insert("health_monitor".into(), monitor.unwrap_or(Value::Null));
    let members: Vec<Value> = tree
        .members_of(p)
        .map(|m| {
            let mut mo = Map::new();
            mo.insert("id".into(), json!(m.member_id));
            mo.insert("name".into(), json!(m.name));
            mo.insert("address".into(), json!(m.address));
            mo.insert("protocol_port".into(), json!(m.protocol_port));
            mo.insert("provisioning_status".into(), json!(prov));
            mo.extend(cached_fields(cache, Kind::Member, &m.member_id));
            Value::Object(mo)
        })
        .collect();
    o.insert("members".into(), Value::Array(members));
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use crate::test_support::TestResult;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::health::snapshot::{Detail, Entry};
    use crate::octavia::OperatingStatus;

    fn tree() -> TestResult<LbTree> {
        let lb = json!({"loadbalancer_id": "lb", "name": "web", "admin_state_up": true});
        let listeners = [json!({"listener_id": "l", "loadbalancer_id": "lb",
            "protocol": "HTTP", "protocol_port": 80, "default_pool_id": "p",
            "admin_state_up": true})];
        let pools = [
            json!({"pool_id": "p", "loadbalancer_id": "lb", "listener_id": "l",
                "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", "admin_state_up": true}),
            json!({"pool_id": "spare", "loadbalancer_id": "lb", "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN", "admin_state_up": true}),
        ];
        let members = [
            json!({"member_id": "m", "pool_id": "p", "address": "10.0.0.1",
            "protocol_port": 8080, "admin_state_up": true}),
        ];
        let monitors = [
            json!({"healthmonitor_id": "hm", "pool_id": "p", "type": "HTTP",
            "delay": 5, "timeout": 3, "max_retries": 3, "admin_state_up": true}),
        ];
        Ok(LbTree::from_bodies(
            &lb, &listeners, &pools, &members, &monitors,
        )?)
    }

    #[test]
    fn the_tree_nests_pools_under_their_listener_and_keeps_spare_pools() -> TestResult {
        let mut cache = HealthStatusCache::new(Duration::from_secs(60));
        let online = Entry {
            status: OperatingStatus::Online,
            detail: Detail::Config,
        };
        cache.update(Kind::Member, "m".into(), online.clone(), Instant::now());
        cache.update(Kind::Loadbalancer, "lb".into(), online, Instant::now());
        let v = build(&tree()?, &cache, false);
        assert_eq!(v["operating_status"], "ONLINE", "{v}");
        assert_eq!(v["fresh"], true, "{v}");
        let pool = &v["listeners"][0]["pools"][0];
        assert_eq!(pool["id"], "p", "{v}");
        assert_eq!(pool["health_monitor"]["id"], "hm", "{v}");
        assert_eq!(pool["members"][0]["operating_status"], "ONLINE", "{v}");
        assert_eq!(pool["members"][0]["provisioning_status"], "ACTIVE", "{v}");
        // Not polled yet: no status rather than a guess.
        assert!(pool["operating_status"].is_null(), "{v}");
        assert_eq!(v["pools"][0]["id"], "spare", "{v}");
        let pending = build(&tree()?, &cache, true);
        assert_eq!(pending["provisioning_status"], "PENDING_UPDATE");
        Ok(())
    }
}
