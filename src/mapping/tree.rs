//! [`LbTree`]: one load balancer's objects as typed values, read from the stored bodies.
//!
//! The bodies are the octavia-lib `to_dict` JSON kept in the desired-state tables. They were
//! validated at ingress, but the store is read back much later (and possibly by a newer
//! build), so reading is still fallible and reports which object was unreadable rather than
//! dropping it silently: a dropped member would silently shrink a live rule.

use serde_json::Value;

use crate::model::{EventError, HealthMonitor, Listener, LoadBalancer, Member, Pool};

/// A stored body that no longer reads as its Octavia object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("stored {object} is unreadable: {source}")]
    Unreadable {
        /// `loadbalancer`, `listeners[2]`, `members[0]`...
        object: String,
        #[source]
        source: EventError,
    },
}

/// One load balancer's desired objects (top-level rows only; see the module docs on why
/// nested copies are ignored).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LbTree {
    pub lb: LoadBalancer,
    pub listeners: Vec<Listener>,
    pub pools: Vec<Pool>,
    pub members: Vec<Member>,
    pub monitors: Vec<HealthMonitor>,
}

fn read_all<T>(
    bodies: &[Value],
    what: &str,
    read: fn(&Value, &str, bool) -> Result<T, EventError>,
) -> Result<Vec<T>, MappingError> {
    bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            let object = format!("{what}[{i}]");
            read(body, &object, false).map_err(|source| MappingError::Unreadable { object, source })
        })
        .collect()
}

impl LbTree {
    /// Reads every body; the first unreadable one is the error.
    pub fn from_bodies(
        lb: &Value,
        listeners: &[Value],
        pools: &[Value],
        members: &[Value],
        monitors: &[Value],
    ) -> Result<LbTree, MappingError> {
        Ok(LbTree {
            lb: LoadBalancer::read(lb, "loadbalancer", false).map_err(|source| {
                MappingError::Unreadable {
                    object: "loadbalancer".into(),
                    source,
                }
            })?,
            listeners: read_all(listeners, "listeners", Listener::read)?,
            pools: read_all(pools, "pools", Pool::read)?,
            members: read_all(members, "members", Member::read)?,
            monitors: read_all(monitors, "monitors", HealthMonitor::read)?,
        })
    }

    /// The pool a listener forwards to: its `default_pool_id`, else the pool naming the
    /// listener (smallest id if several, for determinism). `None` when that pool is not
    /// in the tree.
    pub fn default_pool_of(&self, listener: &Listener) -> Option<&Pool> {
        match &listener.default_pool_id {
            Some(id) => self.pools.iter().find(|p| &p.pool_id == id),
            None => self
                .pools
                .iter()
                .filter(|p| p.listener_id.as_deref() == Some(listener.listener_id.as_str()))
                .min_by(|a, b| a.pool_id.cmp(&b.pool_id)),
        }
    }

    /// The members of a pool, by member id.
    pub fn members_of<'a>(&'a self, pool: &'a Pool) -> impl Iterator<Item = &'a Member> + 'a {
        self.members
            .iter()
            .filter(move |m| m.pool_id.as_deref() == Some(pool.pool_id.as_str()))
    }

    /// A pool's health monitor (Octavia allows one; smallest id if the store has several).
    pub fn monitor_of(&self, pool: &Pool) -> Option<&HealthMonitor> {
        self.monitors
            .iter()
            .filter(|h| h.pool_id.as_deref() == Some(pool.pool_id.as_str()))
            .min_by(|a, b| a.healthmonitor_id.cmp(&b.healthmonitor_id))
    }

    /// Whether the load balancer itself is admin up (Octavia's default is up).
    pub fn lb_up(&self) -> bool {
        self.lb.admin_state_up.unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn reads_bodies_and_names_the_unreadable_one() {
        let lb = json!({"loadbalancer_id": "lb1", "vip_address": "10.0.0.1"});
        let ok = LbTree::from_bodies(
            &lb,
            &[json!({"listener_id": "l1", "protocol": "TCP", "protocol_port": 80})],
            &[json!({"pool_id": "p1", "listener_id": "l1"})],
            &[json!({"member_id": "m1", "pool_id": "p1", "address": "10.1.0.1"})],
            &[],
        );
        let tree = ok.unwrap();
        assert_eq!(tree.listeners[0].protocol_port, Some(80));
        assert_eq!(
            tree.default_pool_of(&tree.listeners[0])
                .map(|p| p.pool_id.as_str()),
            Some("p1")
        );
        assert_eq!(tree.members_of(&tree.pools[0]).count(), 1);

        let bad = LbTree::from_bodies(
            &lb,
            &[],
            &[],
            &[
                json!({"member_id": "m1"}),
                json!({"member_id": "m2", "address": "not-an-ip"}),
            ],
            &[],
        );
        match bad {
            Err(MappingError::Unreadable { object, .. }) => assert_eq!(object, "members[1]"),
            other => panic!("expected an error, got {other:?}"),
        }
        assert!(LbTree::from_bodies(&json!([]), &[], &[], &[], &[]).is_err());
    }

    #[test]
    fn default_pool_id_wins_over_pool_listener_id() {
        let tree = LbTree::from_bodies(
            &json!({"loadbalancer_id": "lb1"}),
            &[
                json!({"listener_id": "l1", "default_pool_id": "p2"}),
                json!({"listener_id": "l2", "default_pool_id": "gone"}),
            ],
            &[
                json!({"pool_id": "p1", "listener_id": "l1"}),
                json!({"pool_id": "p2"}),
            ],
            &[],
            &[],
        )
        .unwrap();
        let pool = |i: usize| {
            tree.default_pool_of(&tree.listeners[i])
                .map(|p| p.pool_id.clone())
        };
        assert_eq!(pool(0).as_deref(), Some("p2"));
        assert_eq!(pool(1), None);
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<f64>().prop_map(|f| json!(f)),
            prop_oneof![
                Just("10.0.0.1".to_owned()),
                Just("TCP".to_owned()),
                Just("200-204".to_owned()),
                ".{0,12}",
            ]
            .prop_map(Value::String),
        ];
        let keys = prop_oneof![
            Just("loadbalancer_id"),
            Just("listener_id"),
            Just("pool_id"),
            Just("member_id"),
            Just("healthmonitor_id"),
            Just("address"),
            Just("protocol"),
            Just("protocol_port"),
            Just("weight"),
            Just("delay"),
            Just("expected_codes"),
            Just("allowed_cidrs"),
            Just("flavor"),
            Just("admin_state_up"),
        ];
        leaf.prop_recursive(3, 24, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(keys.clone(), inner, 0..6).prop_map(|m| {
                    Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_json_never_panics(
            lb in arb_json(),
            listeners in prop::collection::vec(arb_json(), 0..3),
            pools in prop::collection::vec(arb_json(), 0..3),
            members in prop::collection::vec(arb_json(), 0..3),
            monitors in prop::collection::vec(arb_json(), 0..3),
        ) {
            if let Ok(tree) = LbTree::from_bodies(&lb, &listeners, &pools, &members, &monitors) {
                let _ = crate::mapping::desired_for_lb(&tree, &crate::mapping::MappingOptions::default());
            }
        }
    }
}
