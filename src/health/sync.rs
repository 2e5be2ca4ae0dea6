//! [`HealthSync`]: the background poll cycle, and [`HealthHandle`], its cheap handle.
//!
//! Each cycle (every `interval`, or ~`debounce` after a [`HealthHandle::poke`]):
//! 1. rebuild the desired index if the drivers said it changed, or once per TTL;
//! 2. ask every node for its probes and rules concurrently, each under its own
//!    timeout: a slow or dead node costs at most that timeout and the others'
//!    answers are used;
//!    The applied-rule records are read just before, every cycle (names only), so
//!    [`RuleMemory`] can tell which rules are on LoxiLB between rule listings;
//! 3. derive every status ([`compute`]) and enqueue ONLY the changes (or, once per
//!    TTL, everything, to heal drift in Octavia's database) in the durable outbox,
//!    which the delivery task sends in messages of `batch_size`;
//! 4. refresh the cache and send listener statistics.
//!
//! A poke polls everything: LoxiLB has no per-endpoint status call, and the two
//! listings cost the same for one endpoint or all.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::cache::HealthStatusCache;
use super::compute::compute;
use super::index::DesiredIndex;
use super::observe::{listener_bytes, observe, NodeReport};
use super::presence::{by_node, Names, Recorded, RuleMemory};
use super::snapshot::{diff, Snapshot};
use super::stats::StatsTracker;
use crate::loxilb::LoxilbClient;
use crate::octavia::DriverAgentClient;
use crate::shutdown::Shutdown;
use crate::status::DeliveryHandle;
use crate::store::{StatusRecord, Store, StoreError};

/// Tuning of the poll cycle (from `[health_monitoring]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthOptions {
    /// `status_update_interval`.
    pub interval: Duration,
    /// `status_cache_ttl`: cache validity, index rebuild and full-refresh period.
    pub cache_ttl: Duration,
    /// `stale_cycles_before_error`.
    pub stale_cycles_before_error: u32,
    /// Bound on one node's answer per cycle.
    pub node_timeout: Duration,
    /// Delay between a poke and its poll; pokes within it share one poll.
    pub debounce: Duration,
    /// How often the rule listing (listener statistics) is read. Statuses come from
    /// `GET /config/endpoint/all`, which LoxiLB answers from memory without a lock;
    /// `GET /config/loadbalancer/all` reads datapath counters of every rule, so it is read
    /// only as often as statistics are reported.
    pub stats_interval: Duration,
}

impl Default for HealthOptions {
    fn default() -> Self {
        HealthOptions {
            interval: Duration::from_secs(60),
            cache_ttl: Duration::from_secs(300),
            stale_cycles_before_error: 3,
            node_timeout: Duration::from_secs(10),
            debounce: Duration::from_secs(1),
            stats_interval: Duration::from_secs(10),
        }
    }
}

/// Counters since start, for tests and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HealthStats {
    pub cycles: u64,
    /// Cycles in which no node answered.
    pub failed_cycles: u64,
    /// Status records enqueued (changes and full refreshes).
    pub records_sent: u64,
    pub full_refreshes: u64,
}

#[derive(Debug)]
struct Shared {
    cache: RwLock<HealthStatusCache>,
    /// The whole index must be rebuilt.
    dirty: AtomicBool,
    /// Load balancers whose desired state changed since the index was built.
    dirty_lbs: std::sync::Mutex<BTreeSet<String>>,
    poke: Notify,
    cycles: AtomicU64,
    failed_cycles: AtomicU64,
    records_sent: AtomicU64,
    full_refreshes: AtomicU64,
}

/// Handle for the drivers (change notices, pokes) and the status API (cache).
#[derive(Debug, Clone)]
pub struct HealthHandle {
    shared: Arc<Shared>,
}

impl HealthHandle {
    /// The desired state of these load balancers changed: read them again before
    /// the next cycle (only them).
    pub fn desired_changed_for(&self, lbs: &[&str]) {
        let mut dirty = self
            .shared
            .dirty_lbs
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        dirty.extend(lbs.iter().map(|s| s.to_string()));
    }

    /// Objects of `lb_id` changed: poll again soon (debounced) instead of waiting
    /// for the interval. `lb_id` only goes to the debug log (see module docs).
    pub fn poke(&self, lb_id: &str) {
        debug!(loadbalancer_id = %lb_id, "health poll requested");
        self.shared.poke.notify_one();
    }

    /// Run `f` on the cache (read lock; never held across an await).
    pub fn with_cache<T>(&self, f: impl FnOnce(&HealthStatusCache) -> T) -> T {
        let guard = self.shared.cache.read().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }

    pub fn stats(&self) -> HealthStats {
        let s = &self.shared;
        HealthStats {
            cycles: s.cycles.load(Ordering::Relaxed),
            failed_cycles: s.failed_cycles.load(Ordering::Relaxed),
            records_sent: s.records_sent.load(Ordering::Relaxed),
            full_refreshes: s.full_refreshes.load(Ordering::Relaxed),
        }
    }
}

/// Queue `records` 500 at a time (never all of a 100k-member refresh at once).
/// Returns how many were queued.
async fn enqueue_in_chunks(
    store: &Store,
    mut records: impl Iterator<Item = StatusRecord>,
) -> Result<usize, StoreError> {
    let mut n = 0;
    loop {
        let chunk: Vec<StatusRecord> = records.by_ref().take(500).collect();
        if chunk.is_empty() {
            return Ok(n);
        }
        store.enqueue_statuses(&chunk).await?;
        n += chunk.len();
    }
}

/// The background task; see the module docs.
pub struct HealthSync {
    store: Store,
    client: LoxilbClient,
    agent: DriverAgentClient,
    delivery: DeliveryHandle,
    opts: HealthOptions,
    shared: Arc<Shared>,
    index: Option<(Arc<DesiredIndex>, Instant)>,
    /// What Octavia was told (the base of the next diff).
    sent: Snapshot,
    last_full: Option<Instant>,
    failed_polls: u32,
    stats: StatsTracker,
    stats_failing: bool,
    /// When the rule listing was last read.
    last_rules: Option<Instant>,
    /// Every node's last rule listing (see [`super::presence`]).
    rule_memory: RuleMemory,
}

impl HealthSync {
    pub fn new(
        store: Store,
        client: LoxilbClient,
        agent: DriverAgentClient,
        delivery: DeliveryHandle,
        opts: HealthOptions,
    ) -> (HealthSync, HealthHandle) {
        let shared = Arc::new(Shared {
            cache: RwLock::new(HealthStatusCache::new(opts.cache_ttl)),
            dirty: AtomicBool::new(true),
            dirty_lbs: Default::default(),
            poke: Notify::new(),
            cycles: AtomicU64::new(0),
            failed_cycles: AtomicU64::new(0),
            records_sent: AtomicU64::new(0),
            full_refreshes: AtomicU64::new(0),
        });
        let handle = HealthHandle {
            shared: shared.clone(),
        };
        let sync = HealthSync {
            store,
            client,
            agent,
            delivery,
            opts,
            shared,
            index: None,
            sent: Snapshot::default(),
            last_full: None,
            failed_polls: 0,
            stats: StatsTracker::default(),
            stats_failing: false,
            last_rules: None,
            rule_memory: RuleMemory::default(),
        };
        (sync, handle)
    }

    /// Poll until `shutdown`; an in-flight cycle is abandoned at shutdown (its
    /// statuses are recomputed on the next start).
    pub async fn run(mut self, shutdown: Shutdown) {
        let interval = self.opts.interval.max(Duration::from_millis(100));
        let mut next = Instant::now();
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(next) => {}
                _ = self.shared.poke.notified() => {
                    tokio::select! {
                        _ = tokio::time::sleep(self.opts.debounce) => {}
                        _ = shutdown.triggered() => break,
                    }
                }
                _ = shutdown.triggered() => break,
            }
            tokio::select! {
                _ = self.cycle() => {}
                _ = shutdown.triggered() => break,
            }
            next = Instant::now() + interval;
        }
    }

    /// One poll cycle (public for tests that drive cycles by hand): the steps of the
    /// module docs, in order.
    pub async fn cycle(&mut self) {
        self.shared.cycles.fetch_add(1, Ordering::Relaxed);
        let Some(index) = self.refresh_index().await else {
            return;
        };
        let with_rules = self.rules_due();
        // Read before the listings, so a record change during them counts as newer.
        let recorded = self.recorded_rules().await;
        let reports = self.poll_nodes(with_rules).await;
        let present = self.rule_presence(&index, &reports, recorded.as_ref());
        let answered: Vec<&NodeReport> = reports.iter().flatten().collect();
        record_health_checks(&answered);
        let seen = (!answered.is_empty()).then(|| observe(&answered));
        self.count_poll(seen.is_some());
        let snap = compute(
            &index,
            seen.as_ref(),
            present.as_ref(),
            &self.sent,
            self.failed_polls,
            self.opts.stale_cycles_before_error,
        );
        self.publish(snap).await;
        let by_key = index.listeners_by_rule_key();
        for (i, r) in reports.iter().enumerate() {
            if let Some(rules) = r.as_ref().and_then(|r| r.rules.as_ref()) {
                self.stats.record(i, listener_bytes(rules, &by_key));
            }
        }
        self.send_stats(&index).await;
    }

    /// Whether this cycle also lists the rules (see `stats_interval`); marks it done.
    fn rules_due(&mut self) -> bool {
        let due = self
            .last_rules
            .is_none_or(|t| t.elapsed() >= self.opts.stats_interval);
        if due {
            self.last_rules = Some(Instant::now());
        }
        due
    }

    /// Node → applied rule records, `None` when they cannot be read (rule presence
    /// then comes from the listings alone).
    async fn recorded_rules(&self) -> Option<HashMap<String, Recorded>> {
        match self.store.applied_rule_names().await {
            Ok(rows) => Some(by_node(rows)),
            Err(e) => {
                warn!(error = %e, "cannot read applied rules; rule presence from the listings alone");
                None
            }
        }
    }

    /// Remember every rule listing of this cycle and tell which rules are on LoxiLB
    /// (see [`RuleMemory`]); `None` when that cannot be known.
    fn rule_presence(
        &mut self,
        index: &DesiredIndex,
        reports: &[Option<NodeReport>],
        recorded: Option<&HashMap<String, Recorded>>,
    ) -> Option<Names> {
        let nodes: Vec<String> = self
            .client
            .node_ids()
            .map(|n| self.client.node_url(n).to_string())
            .collect();
        for (url, r) in nodes.iter().zip(reports) {
            if let Some(rules) = r.as_ref().and_then(|r| r.rules.as_ref()) {
                let listed = index.listed_rule_names(rules);
                let then = match recorded {
                    Some(rec) => rec.get(url).cloned().unwrap_or_default(),
                    // Unknown: take the listing as what was recorded (at time 0, so
                    // any record read later counts as a newer change).
                    None => listed.iter().map(|n| (n.clone(), 0)).collect(),
                };
                self.rule_memory.listed(url, listed, then);
            }
        }
        self.rule_memory
            .present(nodes.iter().map(String::as_str), recorded)
    }

    /// Count a poll in which some node answered (`answered`) or none did; member
    /// statuses turn stale after `stale_cycles_before_error` failed ones in a row.
    fn count_poll(&mut self, answered: bool) {
        if answered {
            if self.failed_polls > 0 {
                info!(failed_polls = self.failed_polls, "LoxiLB answers again");
            }
            self.failed_polls = 0;
        } else {
            self.failed_polls = self.failed_polls.saturating_add(1);
            self.shared.failed_cycles.fetch_add(1, Ordering::Relaxed);
            warn!(
                failed_polls = self.failed_polls,
                limit = self.opts.stale_cycles_before_error,
                "no LoxiLB node answered the status poll; member statuses kept"
            );
        }
    }

    /// Queue the changes since what Octavia was told (everything, once per TTL) and,
    /// once queued, make `snap` the cache and the base of the next diff. When queueing
    /// fails both stay as they were, so the next cycle queues the same changes again.
    async fn publish(&mut self, snap: Snapshot) {
        let now = Instant::now();
        let full = self
            .last_full
            .is_none_or(|t| now.duration_since(t) >= self.opts.cache_ttl);
        let queued = if full {
            enqueue_in_chunks(&self.store, snap.all_records()).await
        } else {
            enqueue_in_chunks(&self.store, diff(&self.sent, &snap).into_iter()).await
        };
        match queued {
            Ok(n) => {
                if n > 0 {
                    self.delivery.notify();
                    debug!(records = n, full, "operating statuses queued");
                }
                self.shared
                    .records_sent
                    .fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) => {
                warn!(error = %e, "cannot queue operating statuses; retrying next cycle");
                return;
            }
        }
        if full {
            self.last_full = Some(now);
            self.shared.full_refreshes.fetch_add(1, Ordering::Relaxed);
        }
        {
            let mut cache = self.shared.cache.write().unwrap_or_else(|p| p.into_inner());
            cache.refresh(&snap, now.into_std());
        }
        self.sent = snap;
    }

    /// The index to use this cycle: rebuilt when dirty or older than the TTL.
    async fn refresh_index(&mut self) -> Option<Arc<DesiredIndex>> {
        let dirty = self.shared.dirty.swap(false, Ordering::AcqRel);
        let expired = self
            .index
            .as_ref()
            .is_none_or(|(_, t)| t.elapsed() >= self.opts.cache_ttl);
        let changed = std::mem::take(
            &mut *self
                .shared
                .dirty_lbs
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        if dirty || expired {
            match DesiredIndex::load(&self.store).await {
                Ok(i) => self.index = Some((Arc::new(i), Instant::now())),
                Err(e) => {
                    warn!(error = %e, "cannot read desired state for status; using the previous index");
                    self.shared.dirty.store(true, Ordering::Release);
                }
            }
        } else if let (false, Some((current, built))) = (changed.is_empty(), &self.index) {
            match current.reload(&self.store, &changed).await {
                // The TTL still counts from the last full build.
                Ok(i) => self.index = Some((Arc::new(i), *built)),
                Err(e) => {
                    warn!(error = %e, "cannot read desired state for status; using the previous index");
                    self.shared.dirty.store(true, Ordering::Release);
                }
            }
        }
        self.index.as_ref().map(|(i, _)| i.clone())
    }

    /// Every node's report, `None` for nodes that failed or timed out.
    async fn poll_nodes(&self, with_rules: bool) -> Vec<Option<NodeReport>> {
        let timeout = self.opts.node_timeout;
        let calls = self.client.node_ids().map(|n| {
            let c = self.client.clone();
            async move {
                let rules = async {
                    if with_rules {
                        c.list_rules(n).await.map(Some)
                    } else {
                        Ok(None)
                    }
                };
                let fetch = async { tokio::join!(c.list_endpoints(n), rules) };
                match tokio::time::timeout(timeout, fetch).await {
                    Ok((Ok(endpoints), rules)) => {
                        let rules = rules.unwrap_or_else(|e| {
                            debug!(node = %c.node_url(n), error = %e, "rule listing failed");
                            None
                        });
                        Some(NodeReport { endpoints, rules })
                    }
                    Ok((Err(e), _)) => {
                        debug!(node = %c.node_url(n), error = %e, "status poll failed");
                        None
                    }
                    Err(_) => {
                        debug!(node = %c.node_url(n), ?timeout, "status poll timed out");
                        None
                    }
                }
            }
        });
        futures::future::join_all(calls).await
    }

    async fn send_stats(&mut self, index: &DesiredIndex) {
        let Some(update) = self.stats.update(index) else {
            return;
        };
        match self.agent.update_statistics(&update).await {
            Ok(()) => {
                if self.stats_failing {
                    info!("listener statistics delivered again");
                }
                self.stats_failing = false;
            }
            Err(e) => {
                if !self.stats_failing {
                    warn!(error = %e, "cannot send listener statistics; will keep trying each cycle");
                }
                self.stats_failing = true;
            }
        }
    }
}

/// The seed's health check success/failure rates: every probe result seen this cycle.
fn record_health_checks(reports: &[&NodeReport]) {
    let (mut ok, mut failed) = (0u64, 0u64);
    for r in reports {
        for e in &r.endpoints {
            match e.curr_state.as_str() {
                "ok" => ok += 1,
                "nok" => failed += 1,
                _ => {}
            }
        }
    }
    let m = crate::metrics::global();
    for (outcome, n) in [("success", ok), ("failure", failed)] {
        m.health_checks
            .get_or_create(&crate::metrics::Outcome {
                outcome: outcome.to_string(),
            })
            .inc_by(n);
    }
}
