//! Node catch-up: a LoxiLB node that was unreachable while a change was applied to
//! the others is brought up to date as soon as it answers again.
//!
//! The applier records the (node, load balancer) pairs that missed a change in
//! `node_backlog`; this task re-syncs each pair on that node only. The sync takes the
//! load balancer's lock, so a catch-up never interleaves with an event's sync, and it
//! is idempotent, so catching up a node that already recovered costs no calls.
//!
//! With a [`DeadLetterPolicy`] this is also the retry worker's end of the line: a pair
//! whose failure is permanent (LoxiLB refused the call, a 4xx: retrying cannot help)
//! or that is older than the maximum age is dead-lettered instead of retried: logged,
//! counted, kept visible in the admin API, and its load balancer goes to ERROR in
//! Octavia so an operator sees that it is not what was asked for.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tracing::{info, warn};

use super::stats::RecoveryStats;
use crate::apply::Applier;
use crate::shutdown::Shutdown;
use crate::status::DeliveryHandle;
use crate::store::{BacklogEntry, StatusRecord, Store};

/// When retrying stops.
#[derive(Clone)]
pub struct DeadLetterPolicy {
    /// Entries older than this are dead-lettered (`retry_max_age`).
    pub max_age: Duration,
    /// Where the ERROR status goes.
    pub delivery: DeliveryHandle,
    pub stats: Arc<RecoveryStats>,
}

/// Re-syncs nodes that missed changes.
pub struct NodeCatchUp {
    store: Store,
    applier: Arc<Applier>,
    interval: Duration,
    backoff_max: Duration,
    dead_letters: Option<DeadLetterPolicy>,
}

impl NodeCatchUp {
    pub fn new(store: Store, applier: Arc<Applier>, interval: Duration) -> Self {
        NodeCatchUp {
            store,
            applier,
            interval,
            backoff_max: Duration::from_secs(300),
            dead_letters: None,
        }
    }

    /// Dead-letter permanent failures and entries older than the policy's maximum age.
    pub fn with_dead_letters(mut self, policy: DeadLetterPolicy) -> Self {
        self.dead_letters = Some(policy);
        self
    }

    pub async fn run(self, shutdown: Shutdown) {
        loop {
            tokio::select! {
                _ = shutdown.triggered() => return,
                _ = tokio::time::sleep(self.interval) => {}
            }
            if let Err(e) = self.pass(&shutdown).await {
                warn!(error = %e, "node catch-up pass failed");
            }
        }
    }

    /// One pass over the due backlog; returns how many pairs were caught up.
    pub async fn pass(&self, shutdown: &Shutdown) -> Result<usize, crate::store::StoreError> {
        let mut done = 0;
        for entry in self.store.due_backlog(100).await? {
            if shutdown.is_triggered() {
                break;
            }
            if self.catch_up(&entry).await? {
                done += 1;
            }
        }
        Ok(done)
    }

    async fn catch_up(&self, e: &BacklogEntry) -> Result<bool, crate::store::StoreError> {
        let Some(node) = self.applier.node_by_url(&e.node) else {
            info!(node = %e.node, loadbalancer_id = %e.loadbalancer_id, "node no longer configured; catch-up dropped");
            self.store
                .clear_backlog(&e.node, &e.loadbalancer_id)
                .await?;
            return Ok(false);
        };
        let result = self
            .applier
            .sync_lb(&e.loadbalancer_id, &[node], true)
            .await;
        // (reason, permanent)
        let failure = match result {
            Ok(outcome) => outcome
                .nodes
                .into_iter()
                .find_map(|(_, r)| r.err())
                .map(|err| (err.to_string(), !err.error.is_transient())),
            Err(err) => Some((err.to_string(), !err.is_transient())),
        };
        let Some((reason, permanent)) = failure else {
            self.store
                .clear_backlog(&e.node, &e.loadbalancer_id)
                .await?;
            info!(node = %e.node, loadbalancer_id = %e.loadbalancer_id, attempts = e.attempts + 1, "node caught up");
            return Ok(true);
        };
        if let Some(policy) = &self.dead_letters {
            let age_ms = crate::store::now_ms().saturating_sub(e.since);
            let too_old = u128::try_from(age_ms).unwrap_or(0) > policy.max_age.as_millis();
            if permanent || too_old {
                self.dead_letter(policy, e, &reason, permanent).await?;
                return Ok(false);
            }
        }
        crate::metrics::global().retries.inc();
        let delay = backoff(self.interval, self.backoff_max, e.attempts);
        let next =
            crate::store::now_ms() + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
        self.store
            .defer_backlog(&e.node, &e.loadbalancer_id, &reason, next)
            .await?;
        Ok(false)
    }

    async fn dead_letter(
        &self,
        policy: &DeadLetterPolicy,
        e: &BacklogEntry,
        reason: &str,
        permanent: bool,
    ) -> Result<(), crate::store::StoreError> {
        let why = if permanent {
            "permanent error"
        } else {
            "retry_max_age exceeded"
        };
        warn!(node = %e.node, loadbalancer_id = %e.loadbalancer_id, attempts = e.attempts + 1,
              %reason, "{why}: change dead-lettered; the load balancer is reported ERROR");
        self.store
            .dead_letter_backlog(&e.node, &e.loadbalancer_id, &format!("{why}: {reason}"))
            .await?;
        crate::metrics::global().dead_letters.inc();
        self.store
            .enqueue_statuses(&[StatusRecord {
                collection: "loadbalancers".into(),
                id: e.loadbalancer_id.clone(),
                provisioning_status: Some("ERROR".into()),
                operating_status: None,
            }])
            .await?;
        policy.delivery.notify();
        RecoveryStats::bump(&policy.stats.dead_letters, 1);
        Ok(())
    }
}

/// Exponential backoff with full jitter: up to `base * 2^attempts`, capped.
fn backoff(base: Duration, max: Duration, attempts: i64) -> Duration {
    let exp = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    let ceiling = base.saturating_mul(2u32.saturating_pow(exp)).min(max);
    let ms = u64::try_from(ceiling.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loxilb::{ClientOptions, LoxilbClient};
    use crate::mapping::MappingOptions;
    use crate::octavia::DriverAgentClient;
    use crate::status::{DeliveryOptions, StatusDelivery};

    /// A catch-up over one unreachable node, with dead letters after `max_age`.
    async fn setup(
        max_age: Duration,
    ) -> (NodeCatchUp, Store, Arc<RecoveryStats>, tempfile::TempDir) {
        let (store, dir) = crate::store::test_store().await;
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", closed.local_addr().unwrap());
        drop(closed);
        let client = LoxilbClient::new(ClientOptions {
            nodes: vec![url],
            retries: 0,
            timeout: Duration::from_millis(500),
            ..ClientOptions::default()
        })
        .unwrap();
        let applier = Arc::new(Applier::new(
            store.clone(),
            client,
            MappingOptions::default(),
        ));
        let sock = dir.path().join("none.sock");
        let agent =
            DriverAgentClient::new(sock.clone(), sock.clone(), sock, Duration::from_millis(100));
        let (_delivery, handle) =
            StatusDelivery::new(store.clone(), agent, DeliveryOptions::default());
        let stats = Arc::new(RecoveryStats::default());
        let c = NodeCatchUp::new(store.clone(), applier, Duration::from_millis(10))
            .with_dead_letters(DeadLetterPolicy {
                max_age,
                delivery: handle,
                stats: stats.clone(),
            });
        (c, store, stats, dir)
    }

    #[tokio::test]
    async fn a_transient_failure_is_retried_until_the_max_age_then_dead_lettered() {
        let (c, store, stats, _d) = setup(Duration::from_secs(3600)).await;
        let node = c
            .applier
            .client()
            .node_url(crate::loxilb::NodeId(0))
            .to_string();
        // A deleted load balancer still syncs (to nothing): the probe removal needs
        // the node, which is down.
        store
            .put_applied_probe(&node, "10.0.0.1_tcp_80", "10.0.0.1", "tcp", 80, "{}")
            .await
            .unwrap();
        store.mark_backlog(&node, "lb1", "down").await.unwrap();
        let shutdown = Shutdown::new();
        assert_eq!(c.pass(&shutdown).await.unwrap(), 0);
        assert!(
            store.dead_letters().await.unwrap().is_empty(),
            "young: retried"
        );
        assert_eq!(stats.snapshot().dead_letters, 0);

        store.sqlite().age_backlog_for_tests().await.unwrap();
        assert_eq!(c.pass(&shutdown).await.unwrap(), 0);
        let dead = store.dead_letters().await.unwrap();
        assert_eq!(dead.len(), 1);
        assert!(
            dead[0].reason.contains("retry_max_age"),
            "{}",
            dead[0].reason
        );
        assert_eq!(stats.snapshot().dead_letters, 1);
        let pending = store.pending_statuses(10).await.unwrap();
        assert!(pending.iter().any(|p| p.record.id == "lb1"
            && p.record.collection == "loadbalancers"
            && p.record.provisioning_status.as_deref() == Some("ERROR")));
        // Dead letters are not retried.
        assert!(store.due_backlog(10).await.unwrap().is_empty());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_secs(1);
        let max = Duration::from_secs(60);
        assert!(backoff(base, max, 0) <= base);
        assert!(backoff(base, max, 3) >= Duration::from_secs(4));
        for a in [10, 100, i64::MAX] {
            assert!(backoff(base, max, a) <= max);
        }
    }
}
