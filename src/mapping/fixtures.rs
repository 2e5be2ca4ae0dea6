//! Test fixtures: a small load balancer as stored bodies, patched per test.

use serde_json::{json, Value};

use super::{desired_for_lb, DesiredLb, LbTree, MappingOptions};

/// Stored bodies of one load balancer.
#[derive(Clone, Debug)]
pub struct Bodies {
    pub lb: Value,
    pub listeners: Vec<Value>,
    pub pools: Vec<Value>,
    pub members: Vec<Value>,
    pub monitors: Vec<Value>,
}

/// Shallow-merges `patch` into `target` (a `null` in the patch removes the key).
pub fn patch(target: &mut Value, patch: Value) {
    if let (Some(t), Value::Object(p)) = (target.as_object_mut(), patch) {
        for (k, v) in p {
            if v.is_null() {
                t.remove(&k);
            } else {
                t.insert(k, v);
            }
        }
    }
}

impl Bodies {
    /// LB 10.0.0.1, TCP listener l1 on 80 → pool p1 (ROUND_ROBIN) with members m1
    /// (10.1.0.1:8080) and m2 (10.1.0.2:8080); no monitor.
    pub fn basic() -> Bodies {
        Bodies {
            lb: json!({"loadbalancer_id": "lb1", "vip_address": "10.0.0.1", "admin_state_up": true}),
            listeners: vec![json!({"listener_id": "l1", "loadbalancer_id": "lb1",
                "protocol": "TCP", "protocol_port": 80, "default_pool_id": "p1",
                "admin_state_up": true})],
            pools: vec![
                json!({"pool_id": "p1", "loadbalancer_id": "lb1", "listener_id": "l1",
                "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN", "admin_state_up": true}),
            ],
            members: vec![
                json!({"member_id": "m1", "pool_id": "p1", "address": "10.1.0.1",
                    "protocol_port": 8080, "weight": 1, "admin_state_up": true}),
                json!({"member_id": "m2", "pool_id": "p1", "address": "10.1.0.2",
                    "protocol_port": 8080, "weight": 1, "admin_state_up": true}),
            ],
            monitors: vec![],
        }
    }

    /// [`Bodies::basic`] plus an HTTP monitor hm1 on p1 (delay 10, timeout 5, down after 3).
    pub fn monitored() -> Bodies {
        let mut b = Bodies::basic();
        b.monitors.push(
            json!({"healthmonitor_id": "hm1", "pool_id": "p1", "type": "HTTP",
            "delay": 10, "timeout": 5, "max_retries": 2, "max_retries_down": 3,
            "url_path": "/health", "expected_codes": "200,202", "admin_state_up": true}),
        );
        b
    }

    pub fn tree(&self) -> LbTree {
        match LbTree::from_bodies(
            &self.lb,
            &self.listeners,
            &self.pools,
            &self.members,
            &self.monitors,
        ) {
            Ok(t) => t,
            Err(e) => panic!("fixture does not read: {e}"),
        }
    }

    pub fn desired(&self) -> DesiredLb {
        desired_for_lb(&self.tree(), &MappingOptions::default())
    }

    pub fn desired_with(&self, opts: &MappingOptions) -> DesiredLb {
        desired_for_lb(&self.tree(), opts)
    }
}

/// Rule operations as short text (`apply NAME`, `detach NAME xN`, `delete NAME@PORT`).
pub fn op_names(ops: &[super::RuleOp]) -> Vec<String> {
    ops.iter()
        .map(|op| match op {
            super::RuleOp::Apply(e) => format!("apply {}", e.service_arguments.name),
            super::RuleOp::Detach { detach, .. } => format!(
                "detach {} x{}",
                detach.service_arguments.name,
                detach.endpoints.len()
            ),
            super::RuleOp::Delete { name, port, .. } => format!("delete {name}@{port}"),
        })
        .collect()
}
