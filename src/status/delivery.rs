//! The outbox delivery task: drains queued statuses to the driver agent.
//!
//! Drivers only enqueue statuses (durably, next to the journal); this task is
//! the single sender, so agent outages never block event processing and a crash
//! loses nothing. Each round reads the oldest `batch_max` rows in `seq` order,
//! sends them as ONE status.sock message (Octavia asks providers to batch), and
//! acks exactly the `(object, seq)` pairs it read, so a status replaced while in
//! flight stays queued and is sent next round (latest wins, nothing lost).
//!
//! Failures:
//! * agent down/stalled/500 → keep everything, back off exponentially with
//!   jitter; warn once per outage, not per attempt.
//! * the agent names one record in its 500 → the rest of the batch is sent
//!   without it right away, so one record cannot block the queue. If the rest
//!   goes through, the agent is healthy and the record takes a strike; after
//!   [`EVIDENT_STRIKES`] it is dropped with an error log. A named record sent
//!   alone proves nothing (Octavia's agent also names a record when its
//!   database is down), so it needs [`BLIND_STRIKES`] rejections in a row.
//! * a row we cannot even encode (unknown collection or status) is dropped at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::octavia::{
    DriverAgentClient, ObjectKind, OctaviaError, OperatingStatus, ProvisioningStatus, StatusEntry,
    StatusUpdate,
};
use crate::shutdown::Shutdown;
use crate::store::{PendingStatus, Store};

/// Rejections, with the rest of the batch delivered meanwhile, before a record is dropped.
pub const EVIDENT_STRIKES: u32 = 3;
/// Rejections of a record sent on its own before it is dropped.
pub const BLIND_STRIKES: u32 = 20;
/// Bound on the last delivery attempt at shutdown.
pub const FINAL_ATTEMPT: Duration = Duration::from_secs(2);

/// Tuning of the delivery loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryOptions {
    /// Most statuses per status.sock message (bounds message size); 0 counts as 1.
    pub batch_max: usize,
    /// How often the outbox is checked without a notification.
    pub poll_interval: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        Self {
            batch_max: 200,
            poll_interval: Duration::from_secs(5),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    delivered: AtomicU64,
    dropped: AtomicU64,
    failed_attempts: AtomicU64,
}

/// Totals since start, for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Statuses the agent accepted.
    pub delivered: u64,
    /// Statuses given up on (rejected repeatedly or not encodable).
    pub dropped: u64,
    /// status.sock requests that failed.
    pub failed_attempts: u64,
}

/// Wakes the delivery task after statuses were enqueued; cheap to clone.
#[derive(Clone, Debug)]
pub struct DeliveryHandle {
    notify: Arc<Notify>,
    counters: Arc<Counters>,
}

impl DeliveryHandle {
    /// Deliver soon. A wake-up sent while a round runs is kept, not lost.
    pub fn notify(&self) {
        self.notify.notify_one();
    }

    pub fn stats(&self) -> DeliveryStats {
        let c = &self.counters;
        DeliveryStats {
            delivered: c.delivered.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            failed_attempts: c.failed_attempts.load(Ordering::Relaxed),
        }
    }
}

/// What one round achieved, deciding how long to wait before the next.
#[derive(Debug, PartialEq, Eq)]
enum Round {
    /// A full batch went out (or was dropped); more may be waiting.
    More,
    /// The outbox is empty or everything read was handled.
    Drained,
    /// Nothing or only part went out; retry after backoff.
    Failed,
}

/// A record the agent keeps naming in its failures.
struct Suspect {
    key: (String, String),
    evident: u32,
    blind: u32,
}

/// The background task; see the module docs.
pub struct StatusDelivery {
    store: Store,
    client: DriverAgentClient,
    opts: DeliveryOptions,
    notify: Arc<Notify>,
    counters: Arc<Counters>,
    suspect: Option<Suspect>,
    /// Start of the current outage and failed attempts in it.
    outage: Option<(Instant, u64)>,
}

impl StatusDelivery {
    pub fn new(
        store: Store,
        client: DriverAgentClient,
        opts: DeliveryOptions,
    ) -> (Self, DeliveryHandle) {
        let notify = Arc::new(Notify::new());
        let counters = Arc::new(Counters::default());
        let handle = DeliveryHandle {
            notify: notify.clone(),
            counters: counters.clone(),
        };
        let task = Self {
            store,
            client,
            opts,
            notify,
            counters,
            suspect: None,
            outage: None,
        };
        (task, handle)
    }

    /// Runs until `shutdown` triggers, then makes one last bounded attempt.
    /// An in-flight request is abandoned at shutdown: its rows are not acked,
    /// so they stay in the outbox for the next start.
    pub async fn run(mut self, shutdown: Shutdown) {
        let mut failures: u32 = 0;
        loop {
            let round = tokio::select! {
                r = self.round() => r,
                _ = shutdown.triggered() => break,
            };
            let wait = match round {
                Round::More => {
                    failures = 0;
                    continue;
                }
                Round::Drained => {
                    failures = 0;
                    None
                }
                Round::Failed => {
                    failures = failures.saturating_add(1);
                    Some(backoff(&self.opts, failures))
                }
            };
            match wait {
                // Healthy: a notification or the poll interval starts the next round.
                None => tokio::select! {
                    _ = self.notify.notified() => {}
                    _ = tokio::time::sleep(self.opts.poll_interval) => {}
                    _ = shutdown.triggered() => break,
                },
                // Failing: new statuses would fail the same way; just wait.
                Some(delay) => tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.triggered() => break,
                },
            }
        }
        let last = async { while self.round().await == Round::More {} };
        if tokio::time::timeout(FINAL_ATTEMPT, last).await.is_err() {
            let left = self.store.outbox_len().await.unwrap_or(-1);
            info!(
                left,
                "status delivery stopped; undelivered statuses stay queued"
            );
        }
    }

    fn batch_max(&self) -> usize {
        self.opts.batch_max.max(1)
    }

    async fn round(&mut self) -> Round {
        let limit = i64::try_from(self.batch_max()).unwrap_or(i64::MAX);
        let pending = match self.store.pending_statuses(limit).await {
            Ok(p) => p,
            Err(e) => {
                warn!(error = %e, "cannot read the status outbox");
                return Round::Failed;
            }
        };
        if pending.is_empty() {
            return Round::Drained;
        }
        let full = pending.len() >= self.batch_max();
        let (valid, invalid): (Vec<_>, Vec<_>) =
            pending.into_iter().partition(|p| entry(p).is_some());
        if !invalid.is_empty() {
            for p in &invalid {
                error!(record = ?p.record, "dropping a status the driver agent cannot take");
            }
            if !self.ack(&invalid).await {
                return Round::Failed;
            }
            self.count(&self.counters.dropped, invalid.len());
        }
        let next = if full { Round::More } else { Round::Drained };
        if build_update(&valid).is_empty() {
            // Nothing the agent needs to hear (e.g. rows without any status).
            return if self.ack(&valid).await {
                next
            } else {
                Round::Failed
            };
        }
        match self.send(&valid).await {
            Ok(()) => {
                self.delivered(&valid).await;
                next
            }
            Err(e) => self.isolate(e, valid, next).await,
        }
    }

    async fn send(&self, rows: &[PendingStatus]) -> Result<(), OctaviaError> {
        let result = self.client.update_status(&build_update(rows)).await;
        if result.is_err() {
            self.counters
                .failed_attempts
                .fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// After a failed send: if the agent named a record, deliver the others
    /// without it and give it a strike; otherwise it is an outage.
    async fn isolate(&mut self, err: OctaviaError, rows: Vec<PendingStatus>, next: Round) -> Round {
        let named = err.rejected_record().and_then(|(c, id)| {
            rows.iter()
                .position(|p| p.record.collection == c && p.record.id == id)
        });
        let Some(index) = named else {
            self.outage_started(&err);
            return Round::Failed;
        };
        let mut rest = rows;
        let bad = rest.remove(index);
        let evident = if rest.is_empty() {
            false
        } else {
            // Rows without any status are acked without contacting the agent,
            // which proves nothing about its health.
            let informative = !build_update(&rest).is_empty();
            match self.send(&rest).await {
                Ok(()) => {
                    self.delivered(&rest).await;
                    informative
                }
                Err(e) => {
                    self.outage_started(&e);
                    return Round::Failed;
                }
            }
        };
        if self.strike(&bad, evident, &err) {
            if self.ack(std::slice::from_ref(&bad)).await {
                self.count(&self.counters.dropped, 1);
            }
            return next;
        }
        if !evident {
            self.outage_started(&err);
        }
        Round::Failed
    }

    /// Records a rejection of `bad`; true when it should now be dropped.
    fn strike(&mut self, bad: &PendingStatus, evident: bool, err: &OctaviaError) -> bool {
        let key = (bad.record.collection.clone(), bad.record.id.clone());
        let s = match &mut self.suspect {
            Some(s) if s.key == key => s,
            slot => slot.insert(Suspect {
                key,
                evident: 0,
                blind: 0,
            }),
        };
        if evident {
            s.evident += 1;
        } else {
            s.blind += 1;
        }
        let drop = s.evident >= EVIDENT_STRIKES || s.blind >= BLIND_STRIKES;
        if drop {
            error!(record = ?bad.record, error = %err,
                "driver agent keeps rejecting this status; dropping it");
            self.suspect = None;
        } else if evident {
            warn!(record = ?bad.record, error = %err, strikes = s.evident,
                "driver agent rejected a status; delivered the rest of the batch");
        }
        drop
    }

    async fn delivered(&mut self, rows: &[PendingStatus]) {
        let m = crate::metrics::global();
        m.status_updates_sent.inc();
        let now = crate::store::now_ms();
        for r in rows {
            let waited = u64::try_from(now - r.queued_at).unwrap_or(0);
            m.status_sync_delay_seconds
                .observe(std::time::Duration::from_millis(waited).as_secs_f64());
        }
        if let Some((since, attempts)) = self.outage.take() {
            info!(
                attempts,
                outage = ?since.elapsed(),
                "driver agent accepts statuses again"
            );
        }
        let delivered = |p: &PendingStatus| {
            self.suspect
                .as_ref()
                .is_some_and(|s| s.key.0 == p.record.collection && s.key.1 == p.record.id)
        };
        if rows.iter().any(delivered) {
            self.suspect = None;
        }
        if self.ack(rows).await {
            self.count(&self.counters.delivered, rows.len());
        }
    }

    fn outage_started(&mut self, err: &OctaviaError) {
        match &mut self.outage {
            Some((_, attempts)) => {
                *attempts += 1;
                debug!(error = %err, "status delivery still failing");
            }
            None => {
                warn!(error = %err,
                    "cannot deliver statuses to the driver agent; keeping them queued and retrying");
                self.outage = Some((Instant::now(), 1));
            }
        }
    }

    /// Removes delivered rows; a failure only means they are sent again later,
    /// which is harmless because statuses are absolute values.
    async fn ack(&self, rows: &[PendingStatus]) -> bool {
        match self.store.ack_statuses(rows).await {
            Ok(()) => true,
            Err(e) => {
                warn!(error = %e, "cannot remove delivered statuses from the outbox");
                false
            }
        }
    }

    fn count(&self, counter: &AtomicU64, n: usize) {
        counter.fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }
}

/// Exponential backoff with equal jitter (half fixed, half random), so many
/// coordinators restarted together do not hammer a recovering agent in step.
fn backoff(opts: &DeliveryOptions, failures: u32) -> Duration {
    let shift = failures.saturating_sub(1).min(20);
    let base = opts
        .backoff_min
        .saturating_mul(1u32 << shift)
        .min(opts.backoff_max)
        .max(Duration::from_millis(1));
    let half = base / 2;
    half + rand::rng().random_range(Duration::ZERO..=half)
}

/// The agent's form of one outbox row; None when the row names an unknown
/// collection or status (nothing Octavia could store).
fn entry(p: &PendingStatus) -> Option<(ObjectKind, StatusEntry)> {
    let r = &p.record;
    let kind = ObjectKind::ALL
        .into_iter()
        .find(|k| k.as_str() == r.collection)?;
    let prov = match &r.provisioning_status {
        None => None,
        Some(s) => Some(parse::<ProvisioningStatus>(s)?),
    };
    let oper = match &r.operating_status {
        None => None,
        Some(s) => Some(parse::<OperatingStatus>(s)?),
    };
    Some((kind, StatusEntry::new(r.id.clone(), prov, oper)))
}

fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

/// One status.sock message, entries per collection in outbox (`seq`) order.
/// Rows without any status are left out: they change nothing.
fn build_update(rows: &[PendingStatus]) -> StatusUpdate {
    let mut update = StatusUpdate::default();
    for (kind, e) in rows.iter().filter_map(entry) {
        if e.provisioning_status.is_some() || e.operating_status.is_some() {
            update.push(kind, e);
        }
    }
    update
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StatusRecord;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let opts = DeliveryOptions {
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            ..DeliveryOptions::default()
        };
        for (failures, base) in [(1, 100), (2, 200), (4, 800), (5, 1000), (u32::MAX, 1000)] {
            let base = Duration::from_millis(base);
            for _ in 0..20 {
                let d = backoff(&opts, failures);
                assert!(d >= base / 2 && d <= base, "{failures}: {d:?}");
            }
        }
    }

    #[test]
    fn rows_become_one_update_in_seq_order() {
        let row = |c: &str, id: &str, p: Option<&str>, o: Option<&str>, seq| PendingStatus {
            record: StatusRecord {
                collection: c.into(),
                id: id.into(),
                provisioning_status: p.map(Into::into),
                operating_status: o.map(Into::into),
            },
            seq,
            queued_at: 0,
        };
        let rows = [
            row("members", "m2", Some("ACTIVE"), None, 1),
            row("pools", "p", None, Some("ONLINE"), 2),
            row("members", "m1", Some("DELETED"), Some("OFFLINE"), 3),
            row("members", "m3", None, None, 4),
        ];
        let u = build_update(&rows);
        assert_eq!(
            serde_json::to_value(&u).ok(),
            Some(serde_json::json!({
                "pools": [{"id": "p", "operating_status": "ONLINE"}],
                "members": [
                    {"id": "m2", "provisioning_status": "ACTIVE"},
                    {"id": "m1", "provisioning_status": "DELETED", "operating_status": "OFFLINE"}
                ]
            }))
        );
        assert!(entry(&row("members", "m", Some("active"), None, 5)).is_none());
        assert!(entry(&row("amphorae", "a", Some("ACTIVE"), None, 6)).is_none());
    }
}
