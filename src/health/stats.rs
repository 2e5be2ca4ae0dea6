//! Listener statistics for stats.sock, from the rule endpoints' counters.
//!
//! What LoxiLB provides: per rule endpoint a cumulative "<packets>:<bytes>" counter
//! of traffic forwarded to that backend, i.e. bytes received from clients. Sent:
//! - `bytes_in`  = sum of those bytes over the listener's rule on every node (in an
//!   HA pair only the active node forwards, so the sum is the listener's traffic);
//!   a node that did not answer this cycle contributes its last known value, so
//!   a missed poll never makes the cumulative figure drop.
//! - `bytes_out` = 0: LoxiLB counts only the client → backend direction per rule.
//! - `active_connections`, `total_connections` = 0: the rule listing has no
//!   connection counts (only the conntrack table, far too costly to scan per cycle).
//! - `request_errors` = 0: LoxiLB works at L4 and sees no requests.
//!
//! Octavia replaces a listener's statistics with each report, so cumulative
//! values are what it expects.

use std::collections::HashMap;

use super::index::DesiredIndex;
use crate::octavia::{ListenerStats, StatsUpdate};

/// Per-node listener byte totals, kept between cycles.
#[derive(Debug, Default)]
pub struct StatsTracker {
    nodes: Vec<Option<HashMap<String, u64>>>,
}

impl StatsTracker {
    /// Record node `i`'s totals from this cycle.
    pub fn record(&mut self, node: usize, bytes: HashMap<String, u64>) {
        if self.nodes.len() <= node {
            self.nodes.resize_with(node + 1, || None);
        }
        self.nodes[node] = Some(bytes);
    }

    /// The update for every listener of the index; `None` before any node answered.
    pub fn update(&self, index: &DesiredIndex) -> Option<StatsUpdate> {
        if self.nodes.iter().all(Option::is_none) {
            return None;
        }
        let listeners = index
            .lbs
            .iter()
            .flat_map(|lb| &lb.listeners)
            .map(|l| ListenerStats {
                id: l.id.to_string(),
                active_connections: 0,
                bytes_in: self
                    .nodes
                    .iter()
                    .flatten()
                    .filter_map(|n| n.get(&*l.id))
                    .fold(0, |a, b| a.saturating_add(*b)),
                bytes_out: 0,
                request_errors: 0,
                total_connections: 0,
            })
            .collect::<Vec<_>>();
        (!listeners.is_empty()).then_some(StatsUpdate { listeners })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::LbTree;
    use serde_json::json;

    #[test]
    fn sums_nodes_and_keeps_the_last_value_of_a_silent_node() {
        let tree = LbTree::from_bodies(
            &json!({"loadbalancer_id": "lb"}),
            &[json!({"listener_id": "l1"}), json!({"listener_id": "l2"})],
            &[],
            &[],
            &[],
        )
        .unwrap();
        let idx = DesiredIndex::from_trees(&[tree]);
        let mut t = StatsTracker::default();
        assert_eq!(t.update(&idx), None);
        t.record(1, HashMap::from([("l1".to_string(), 100)]));
        t.record(
            0,
            HashMap::from([("l1".to_string(), 5), ("other".to_string(), 9)]),
        );
        let u = t.update(&idx).unwrap();
        assert_eq!(u.listeners.len(), 2);
        assert_eq!(
            (u.listeners[0].id.as_str(), u.listeners[0].bytes_in),
            ("l1", 105)
        );
        assert_eq!(
            (u.listeners[1].id.as_str(), u.listeners[1].bytes_in),
            ("l2", 0)
        );
        assert_eq!(
            u.listeners[0].bytes_out + u.listeners[0].total_connections,
            0
        );
    }
}
