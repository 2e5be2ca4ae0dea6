//! [`DesiredIndex`]: the desired state reduced to what status derivation needs.
//!
//! Built with five table scans (no per-object query) and then reused every cycle:
//! it is rebuilt only when the drivers report a desired-state change or once per
//! cache TTL. Each member carries its probe key name precomputed — the same
//! `<ip>_<rule proto>_<port>` the applier gives LoxiLB ([`ProbeKey`]) — so a cycle
//! is one hash lookup per member.

use std::collections::HashMap;
use std::sync::Arc;

use tracing::warn;

use super::rules::MemberFacts;
use crate::mapping::{listener_expects_rule, rule_name, LbTree, ProbeKey};
use crate::store::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberEntry {
    pub id: Arc<str>,
    /// LoxiLB probe name; `None` without address or port.
    pub probe: Option<Arc<str>>,
    pub facts: MemberFacts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolEntry {
    pub id: Arc<str>,
    /// Pool and load balancer admin up.
    pub admin_up: bool,
    /// Some listener forwards to it.
    pub served: bool,
    pub members: Vec<MemberEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerEntry {
    pub id: Arc<str>,
    /// Listener and load balancer admin up.
    pub admin_up: bool,
    /// The LoxiLB rule name serving it.
    pub rule: String,
    /// A rule is meant to exist ([`listener_expects_rule`]): admin up with a default
    /// pool that has a serving member. Only then is a missing rule an error.
    pub expects_rule: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LbEntry {
    pub id: Arc<str>,
    pub admin_up: bool,
    pub listeners: Vec<ListenerEntry>,
    pub pools: Vec<PoolEntry>,
}

/// Every load balancer we manage, ready for a poll cycle.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredIndex {
    pub lbs: Vec<LbEntry>,
}

impl DesiredIndex {
    pub fn member_count(&self) -> usize {
        self.lbs
            .iter()
            .flat_map(|l| &l.pools)
            .map(|p| p.members.len())
            .sum()
    }

    /// The index of parsed trees (pure).
    pub fn from_trees(trees: &[LbTree]) -> DesiredIndex {
        DesiredIndex {
            lbs: trees.iter().map(lb_entry).collect(),
        }
    }

    /// Read the desired tables and build the index. A load balancer whose stored
    /// objects no longer parse is skipped with a warning (it cannot be reported on
    /// correctly, and one bad row must not stop status for all the others).
    pub async fn load(store: &Store) -> Result<DesiredIndex, StoreError> {
        let mut lbs = Vec::new();
        store
            .for_each_lb_tree(|id, b| {
                match LbTree::from_bodies(
                    &b.loadbalancer,
                    &b.listeners,
                    &b.pools,
                    &b.members,
                    &b.monitors,
                ) {
                    Ok(t) => lbs.push(lb_entry(&t)),
                    Err(e) => {
                        warn!(loadbalancer_id = %id, error = %e, "no health status for this load balancer")
                    }
                }
            })
            .await?;
        Ok(DesiredIndex { lbs })
    }
}

fn lb_entry(tree: &LbTree) -> LbEntry {
    let lb_up = tree.lb_up();
    let served: Vec<&str> = tree
        .listeners
        .iter()
        .filter_map(|l| tree.default_pool_of(l).map(|p| p.pool_id.as_str()))
        .collect();
    // Members grouped once (O(members)), not scanned per pool.
    let mut members_by_pool: HashMap<&str, Vec<&crate::model::Member>> = HashMap::new();
    for m in &tree.members {
        if let Some(p) = m.pool_id.as_deref() {
            members_by_pool.entry(p).or_default().push(m);
        }
    }
    let pools = tree
        .pools
        .iter()
        .map(|pool| {
            let admin_up = lb_up && pool.admin_state_up.unwrap_or(true);
            let monitored = tree
                .monitor_of(pool)
                .is_some_and(|h| h.admin_state_up.unwrap_or(true));
            let proto = crate::mapping::pool_rule_proto(tree, pool);
            let members = members_by_pool
                .get(pool.pool_id.as_str())
                .into_iter()
                .flatten()
                .map(|m| MemberEntry {
                    id: Arc::from(m.member_id.as_str()),
                    probe: match (m.address, m.protocol_port, proto) {
                        (Some(a), Some(port), Some(proto)) => Some(Arc::from(
                            ProbeKey {
                                host: a.to_string(),
                                proto: proto.to_string(),
                                port,
                            }
                            .name(),
                        )),
                        _ => None,
                    },
                    facts: MemberFacts {
                        admin_up: admin_up && m.admin_state_up.unwrap_or(true),
                        monitored,
                        drained: m.weight == Some(0),
                    },
                })
                .collect();
            PoolEntry {
                id: Arc::from(pool.pool_id.as_str()),
                admin_up,
                served: served.contains(&pool.pool_id.as_str()),
                members,
            }
        })
        .collect();
    LbEntry {
        id: Arc::from(tree.lb.loadbalancer_id.as_str()),
        admin_up: lb_up,
        listeners: tree
            .listeners
            .iter()
            .map(|l| ListenerEntry {
                id: Arc::from(l.listener_id.as_str()),
                admin_up: lb_up && l.admin_state_up.unwrap_or(true),
                rule: rule_name(&l.listener_id),
                expects_rule: listener_expects_rule(tree, l),
            })
            .collect(),
        pools,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn index_carries_probe_keys_and_admin_state() {
        let tree = LbTree::from_bodies(
            &json!({"loadbalancer_id": "lb", "vip_address": "10.1.1.1"}),
            &[json!({"listener_id": "l", "protocol": "TCP", "protocol_port": 80, "default_pool_id": "p"})],
            &[
                json!({"pool_id": "p", "protocol": "TCP", "admin_state_up": true}),
                json!({"pool_id": "idle", "protocol": "UDP"}),
            ],
            &[
                json!({"member_id": "m1", "pool_id": "p", "address": "10.0.0.1", "protocol_port": 8080}),
                json!({"member_id": "m2", "pool_id": "p", "address": "10.0.0.2", "protocol_port": 8080, "weight": 0, "admin_state_up": false}),
                json!({"member_id": "m3", "pool_id": "idle", "address": "10.0.0.3", "protocol_port": 53}),
            ],
            &[json!({"healthmonitor_id": "h", "pool_id": "p", "type": "TCP"})],
        )
        .unwrap();
        let idx = DesiredIndex::from_trees(&[tree]);
        let lb = &idx.lbs[0];
        assert_eq!(lb.listeners[0].rule, "octavia-l");
        assert!(lb.listeners[0].expects_rule);
        let p = &lb.pools[0];
        assert!(p.served);
        assert_eq!(p.members[0].probe.as_deref(), Some("10.0.0.1_tcp_8080"));
        assert!(p.members[0].facts.monitored && p.members[0].facts.admin_up);
        assert!(p.members[1].facts.drained && !p.members[1].facts.admin_up);
        let idle = &lb.pools[1];
        assert!(!idle.served);
        assert_eq!(idle.members[0].probe.as_deref(), Some("10.0.0.3_udp_53"));
        assert!(!idle.members[0].facts.monitored);
        assert_eq!(idx.member_count(), 3);
    }
}
