//! Node catch-up: a LoxiLB node that was unreachable while a change was applied to
//! the others is brought up to date as soon as it answers again.
//!
//! The applier records the (node, load balancer) pairs that missed a change in
//! `node_backlog`; this task re-syncs each pair on that node only. The sync takes the
//! load balancer's lock, so a catch-up never interleaves with an event's sync, and it
//! is idempotent, so catching up a node that already recovered costs no calls.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tracing::{info, warn};

use crate::apply::Applier;
use crate::shutdown::Shutdown;
use crate::store::{BacklogEntry, Store};

/// Re-syncs nodes that missed changes.
pub struct NodeCatchUp {
    store: Store,
    applier: Arc<Applier>,
    interval: Duration,
    backoff_max: Duration,
}

impl NodeCatchUp {
    pub fn new(store: Store, applier: Arc<Applier>, interval: Duration) -> Self {
        NodeCatchUp {
            store,
            applier,
            interval,
            backoff_max: Duration::from_secs(300),
        }
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
        let failure = match result {
            Ok(outcome) => outcome
                .nodes
                .into_iter()
                .find_map(|(_, r)| r.err())
                .map(|err| err.to_string()),
            Err(err) => Some(err.to_string()),
        };
        match failure {
            None => {
                self.store
                    .clear_backlog(&e.node, &e.loadbalancer_id)
                    .await?;
                info!(node = %e.node, loadbalancer_id = %e.loadbalancer_id, attempts = e.attempts + 1, "node caught up");
                Ok(true)
            }
            Some(reason) => {
                crate::metrics::global().retries.inc();
                let delay = backoff(self.interval, self.backoff_max, e.attempts);
                let next = crate::store::now_ms()
                    + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
                self.store
                    .defer_backlog(&e.node, &e.loadbalancer_id, &reason, next)
                    .await?;
                Ok(false)
            }
        }
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
