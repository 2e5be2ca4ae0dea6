//! Prometheus metrics.
//!
//! One process-wide registry: every module records into [`global()`] without a
//! handle being threaded through each constructor, and the `/metrics` endpoint
//! (see [`server`]) encodes it. Names follow Prometheus conventions: a
//! `loxilb_coordinator_` prefix, base units (seconds), `_total` for counters.
//! Gauges that mirror database state (queue depth, outbox backlog, journal lag)
//! are refreshed when scraped, so they cost nothing between scrapes.

pub mod server;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodOutcome {
    pub method: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Call {
    pub node: String,
    pub method: String,
    /// "2xx", "4xx", "5xx" or "error" (no answer).
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Node {
    pub node: String,
}

/// A LoxiLB node and the release it reported on `GET /version`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeVersion {
    pub node: String,
    pub version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    pub outcome: String,
}

/// An instance of the coordinator (`[cluster] instance_id`). Not `instance`:
/// Prometheus sets that label on every scraped series itself.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Instance {
    pub instance_id: String,
}

/// This instance's role and the leader it knows of.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterRole {
    pub instance_id: String,
    /// single, leader or follower.
    pub role: String,
    /// The leader's instance id; empty when unknown.
    pub leader: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// Every metric the daemon exports.
pub struct Metrics {
    pub events: Family<MethodOutcome, Counter>,
    pub event_apply_seconds: Histogram,
    pub queue_depth: Gauge,
    pub journal_lag_seconds: Gauge<f64, AtomicU64>,
    pub journal_pruned_events: Counter,
    pub database_bytes: Gauge,
    pub loxilb_requests: Family<Call, Counter>,
    pub loxilb_request_seconds: Family<Node, Histogram, fn() -> Histogram>,
    pub loxilb_node_up: Family<Node, Gauge>,
    pub loxilb_node_info: Family<NodeVersion, Gauge>,
    pub rules_applied: Counter,
    pub rule_recreate_gap_seconds: Histogram,
    pub rules_deleted: Counter,
    pub probes_created: Counter,
    pub probes_deleted: Counter,
    pub coordination: Family<Outcome, Counter>,
    pub health_checks: Family<Outcome, Counter>,
    pub status_sync_delay_seconds: Histogram,
    pub status_updates_sent: Counter,
    pub outbox_backlog: Gauge,
    pub node_backlog: Gauge,
    pub retries: Counter,
    pub dead_letters: Counter,
    pub reconcile_repairs: Counter,
    pub orphans_removed: Counter,
    pub guarded_deletions_blocked: Counter,
    pub guarded_deletion_candidates: Gauge,
    pub cache_hits: Counter,
    pub cache_misses: Counter,
    pub leadership_changes: Family<Instance, Counter>,
    pub is_leader: Family<Instance, Gauge>,
    pub lease_epoch: Family<Instance, Gauge>,
    pub cluster_role: Family<ClusterRole, Gauge>,
    /// The `cluster_role` series last set per instance, to remove it on a change.
    last_role: Mutex<HashMap<String, ClusterRole>>,
    registry: Registry,
}

impl Metrics {
    fn new() -> Metrics {
        let mut m = Metrics {
            events: Family::default(),
            event_apply_seconds: latency_histogram(),
            queue_depth: Gauge::default(),
            journal_lag_seconds: Gauge::default(),
            journal_pruned_events: Counter::default(),
            database_bytes: Gauge::default(),
            loxilb_requests: Family::default(),
            loxilb_request_seconds: Family::new_with_constructor(latency_histogram),
            loxilb_node_up: Family::default(),
            loxilb_node_info: Family::default(),
            rules_applied: Counter::default(),
            rule_recreate_gap_seconds: latency_histogram(),
            rules_deleted: Counter::default(),
            probes_created: Counter::default(),
            probes_deleted: Counter::default(),
            coordination: Family::default(),
            health_checks: Family::default(),
            status_sync_delay_seconds: latency_histogram(),
            status_updates_sent: Counter::default(),
            outbox_backlog: Gauge::default(),
            node_backlog: Gauge::default(),
            retries: Counter::default(),
            dead_letters: Counter::default(),
            reconcile_repairs: Counter::default(),
            orphans_removed: Counter::default(),
            guarded_deletions_blocked: Counter::default(),
            guarded_deletion_candidates: Gauge::default(),
            cache_hits: Counter::default(),
            cache_misses: Counter::default(),
            leadership_changes: Family::default(),
            is_leader: Family::default(),
            lease_epoch: Family::default(),
            cluster_role: Family::default(),
            last_role: Mutex::default(),
            registry: Registry::with_prefix("loxilb_coordinator"),
        };
        m.register();
        m
    }

    /// Every metric, by area, in the order they are exposed.
    fn register(&mut self) {
        self.register_journal();
        self.register_loxilb();
        self.register_status();
        self.register_recovery();
        self.register_cluster();
    }

    /// The journal: events, their latency and retention.
    fn register_journal(&mut self) {
        let r = &mut self.registry;
        r.register(
            "events",
            "Octavia events finished, by method and outcome (done, failed)",
            self.events.clone(),
        );
        r.register(
            "event_apply_seconds",
            "Time from accepting an event to its final state",
            self.event_apply_seconds.clone(),
        );
        r.register(
            "queue_depth",
            "Events queued or being applied",
            self.queue_depth.clone(),
        );
        r.register(
            "journal_lag_seconds",
            "Age of the oldest unfinished journal entry",
            self.journal_lag_seconds.clone(),
        );
        r.register(
            "journal_pruned_events",
            "Finished journal events pruned by retention ([database] retention_days, retention_max_events)",
            self.journal_pruned_events.clone(),
        );
        r.register(
            "database_bytes",
            "Size of the database file in use (pages in use times page size), after the last pruning pass",
            self.database_bytes.clone(),
        );
    }

    /// LoxiLB: requests, nodes, and the rules and probes changed.
    fn register_loxilb(&mut self) {
        let r = &mut self.registry;
        r.register(
            "loxilb_requests",
            "LoxiLB API requests by node, method and status class",
            self.loxilb_requests.clone(),
        );
        r.register(
            "loxilb_request_seconds",
            "LoxiLB API request latency by node",
            self.loxilb_request_seconds.clone(),
        );
        r.register(
            "rule_recreate_gap_seconds",
            "Time a listener had no LoxiLB rule while its rule was re-created (delete, then create or restore)",
            self.rule_recreate_gap_seconds.clone(),
        );
        r.register(
            "loxilb_node_info",
            "1 for the LoxiLB release each node reported on GET /version",
            self.loxilb_node_info.clone(),
        );
        r.register(
            "loxilb_node_up",
            "1 when the node answered its last request, else 0",
            self.loxilb_node_up.clone(),
        );
        r.register(
            "rules_applied",
            "LoxiLB rules created or updated",
            self.rules_applied.clone(),
        );
        r.register(
            "rules_deleted",
            "LoxiLB rules deleted",
            self.rules_deleted.clone(),
        );
        r.register(
            "probes_created",
            "LoxiLB endpoint probes created or updated",
            self.probes_created.clone(),
        );
        r.register(
            "probes_deleted",
            "LoxiLB endpoint probes deleted",
            self.probes_deleted.clone(),
        );
    }

    /// Coordination, health polling, status delivery and retries.
    fn register_status(&mut self) {
        let r = &mut self.registry;
        r.register(
            "coordination",
            "Load balancer syncs by outcome (success, partial, refused, unreachable)",
            self.coordination.clone(),
        );
        r.register(
            "health_checks",
            "Probe results seen while polling, by outcome (success, failure)",
            self.health_checks.clone(),
        );
        r.register(
            "status_sync_delay_seconds",
            "Time a status waited in the outbox before the driver agent took it",
            self.status_sync_delay_seconds.clone(),
        );
        r.register(
            "status_updates_sent",
            "Status messages delivered to the driver agent",
            self.status_updates_sent.clone(),
        );
        r.register(
            "outbox_backlog",
            "Statuses waiting for the driver agent",
            self.outbox_backlog.clone(),
        );
        r.register(
            "node_backlog",
            "Load balancers a LoxiLB node still has to catch up with",
            self.node_backlog.clone(),
        );
        r.register(
            "retries",
            "Retried coordination attempts (events and node catch-up)",
            self.retries.clone(),
        );
        r.register(
            "dead_letters",
            "Coordination work given up after its retry budget",
            self.dead_letters.clone(),
        );
    }

    /// Reconciliation, guarded deletions and the health status cache.
    fn register_recovery(&mut self) {
        let r = &mut self.registry;
        r.register(
            "reconcile_repairs",
            "Drift repaired by reconciliation",
            self.reconcile_repairs.clone(),
        );
        r.register(
            "orphans_removed",
            "Orphaned LoxiLB objects of ours removed",
            self.orphans_removed.clone(),
        );
        r.register(
            "guarded_deletions_blocked",
            "Orphan-removal or start-up passes that deleted nothing because they would have exceeded the blast-radius limit or could not trust Octavia's not found",
            self.guarded_deletions_blocked.clone(),
        );
        r.register(
            "guarded_deletion_candidates",
            "Deletion candidates held for an operator's --confirm",
            self.guarded_deletion_candidates.clone(),
        );
        r.register(
            "status_cache_hits",
            "Health status cache lookups answered from the cache",
            self.cache_hits.clone(),
        );
        r.register(
            "status_cache_misses",
            "Health status cache lookups not in the cache",
            self.cache_misses.clone(),
        );
    }

    /// Cluster roles and the lease.
    fn register_cluster(&mut self) {
        let r = &mut self.registry;
        r.register(
            "leadership_changes",
            "Times this instance became leader or stopped being leader (cluster mode)",
            self.leadership_changes.clone(),
        );
        r.register(
            "is_leader",
            "1 while this instance may call LoxiLB and the driver agent (leader, or a single SQLite instance), else 0",
            self.is_leader.clone(),
        );
        r.register(
            "lease_epoch",
            "The leader lease's epoch (fencing token) this instance last saw; 0 for a single instance",
            self.lease_epoch.clone(),
        );
        r.register(
            "cluster_role",
            "1 for this instance's role (single, leader, follower) and the leader it knows of",
            self.cluster_role.clone(),
        );
    }

    /// Text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Record one LoxiLB call.
    pub fn loxilb_call(&self, node: &str, method: &str, status: Option<u16>, took: Duration) {
        let class = match status {
            Some(s) => format!("{}xx", s / 100),
            None => "error".to_string(),
        };
        self.loxilb_requests
            .get_or_create(&Call {
                node: node.to_string(),
                method: method.to_string(),
                status: class,
            })
            .inc();
        let n = Node {
            node: node.to_string(),
        };
        self.loxilb_request_seconds
            .get_or_create(&n)
            .observe(took.as_secs_f64());
        self.loxilb_node_up
            .get_or_create(&n)
            .set(i64::from(status.is_some_and(|s| s < 500)));
    }

    /// Record the release a node reported, replacing the one it reported before.
    pub fn loxilb_version(&self, node: &str, before: Option<&str>, now: &str) {
        if let Some(old) = before {
            self.loxilb_node_info.remove(&NodeVersion {
                node: node.to_string(),
                version: old.to_string(),
            });
        }
        self.loxilb_node_info
            .get_or_create(&NodeVersion {
                node: node.to_string(),
                version: now.to_string(),
            })
            .set(1);
    }

    /// Record a finished event.
    pub fn event_finished(&self, method: &str, outcome: &str, took: Duration) {
        self.events
            .get_or_create(&MethodOutcome {
                method: method.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
        self.event_apply_seconds.observe(took.as_secs_f64());
    }

    /// Count one leadership change of `instance_id` (see [`crate::cluster::Election`]).
    pub fn leadership_changed(&self, instance_id: &str) {
        self.leadership_changes
            .get_or_create(&Instance {
                instance_id: instance_id.to_owned(),
            })
            .inc();
    }

    /// Mirror `status` into the role gauges (at scrape time, like the other gauges
    /// that mirror state). The previous role's series of this instance is removed so
    /// that exactly one `cluster_role` series per instance reads 1.
    pub fn cluster_status(&self, status: &crate::cluster::ClusterStatus) {
        let role = status.role();
        let id = Instance {
            instance_id: status.instance_id().to_owned(),
        };
        self.is_leader
            .get_or_create(&id)
            .set(i64::from(role.is_leader()));
        self.lease_epoch
            .get_or_create(&id)
            .set(i64::try_from(role.epoch()).unwrap_or(i64::MAX));
        // Touch the counter so it is exported (at 0) before the first change.
        let _ = self.leadership_changes.get_or_create(&id);
        let now = ClusterRole {
            instance_id: id.instance_id,
            role: role.name().to_owned(),
            leader: status.leader_id().unwrap_or_default(),
        };
        let mut last = self.last_role.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(old) = last.insert(now.instance_id.clone(), now.clone()) {
            if old != now {
                self.cluster_role.remove(&old);
            }
        }
        self.cluster_role.get_or_create(&now).set(1);
    }

    pub fn coordination(&self, outcome: &str) {
        self.coordination
            .get_or_create(&Outcome {
                outcome: outcome.to_string(),
            })
            .inc();
    }
}

/// The process-wide metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_conventional_names_and_moves() {
        let m = Metrics::new();
        m.loxilb_call("http://n1", "POST", Some(200), Duration::from_millis(3));
        m.loxilb_call("http://n1", "POST", None, Duration::from_millis(3));
        m.event_finished("member_create", "done", Duration::from_millis(5));
        m.probes_created.inc();
        let text = m.encode();
        for needle in [
            "loxilb_coordinator_events_total{method=\"member_create\",outcome=\"done\"} 1",
            "loxilb_coordinator_loxilb_requests_total{node=\"http://n1\",method=\"POST\",status=\"2xx\"} 1",
            "loxilb_coordinator_loxilb_requests_total{node=\"http://n1\",method=\"POST\",status=\"error\"} 1",
            "loxilb_coordinator_loxilb_node_up{node=\"http://n1\"} 0",
            "loxilb_coordinator_probes_created_total 1",
            "# TYPE loxilb_coordinator_loxilb_request_seconds histogram",
            "# EOF",
        ] {
            assert!(text.contains(needle), "missing {needle}:\n{text}");
        }
    }

    /// Every metric the sample Grafana dashboard queries is exported.
    #[test]
    fn dashboard_queries_only_exported_metrics() {
        let m = Metrics::new();
        m.loxilb_call("n", "GET", Some(200), Duration::from_millis(1));
        m.event_finished("x", "done", Duration::from_millis(1));
        m.coordination("success");
        m.health_checks
            .get_or_create(&Outcome {
                outcome: "success".into(),
            })
            .inc();
        let text = m.encode();
        let dash = include_str!("../../packaging/grafana/loxilb-coordinator-dashboard.json");
        let mut checked = 0;
        for (i, _) in dash.match_indices("loxilb_coordinator_") {
            let name: String = dash[i..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            assert!(
                text.contains(&name),
                "dashboard uses {name}, not exported:\n{text}"
            );
            checked += 1;
        }
        assert!(checked > 10);
    }
}
