//! The election task: drives the lease rules ([`super::lease`]) against a
//! [`LeaseStore`] and publishes this instance's [`Role`].
//!
//! Every database call is bounded: a leader's renewal by its local deadline (a hung
//! database must not keep a leader acting past `lease - margin`), an acquire by one
//! lease. On shutdown a leader publishes `Follower` first (so its leader-only tasks
//! stop), waits the lease margin, and releases the lease, so another instance takes
//! over after a quarter lease instead of a whole one.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::lease::{decide, Action, Input, LeaseTiming, Local, Observed};
use super::status::{ClusterStatus, Role};
use crate::fence::Fence;
use crate::shutdown::Shutdown;

/// The lease row as read back after an acquire or renewal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    pub holder: Option<String>,
    pub epoch: u64,
    /// Time to expiry by the database's clock; zero once expired.
    pub remaining: Duration,
}

/// What an acquire or renewal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// True only when our statement changed the row and committed.
    pub won: bool,
    /// The row read back afterwards (`None` if there is none yet).
    pub row: Option<LeaseRow>,
}

/// A lease store that could not answer; always transient for the election: it keeps
/// trying, and a leader keeps acting only until its local deadline.
#[derive(Debug, Clone, thiserror::Error)]
#[error("lease store: {0}")]
pub struct LeaseStoreError(pub String);

/// The lease operations the election needs. Implemented for MySQL in
/// `cluster::mysql::MysqlLeases` and by an in-memory fake in the tests.
#[async_trait::async_trait]
pub trait LeaseStore: Send + Sync + 'static {
    /// Take the lease if it has expired by the database's clock; raises the epoch.
    async fn try_acquire(&self, me: &str, ttl: Duration) -> Result<Attempt, LeaseStoreError>;
    /// Extend our lease of `epoch`; fails (won = false) if the row moved on.
    async fn renew(&self, me: &str, epoch: u64, ttl: Duration) -> Result<Attempt, LeaseStoreError>;
    /// Let our lease of `epoch` expire now (shutdown).
    async fn release(&self, me: &str, epoch: u64) -> Result<(), LeaseStoreError>;
}

/// How long a leader waits for its release at shutdown.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(2);

/// The election task. Create with [`Election::new`], spawn [`Election::run`].
pub struct Election<S> {
    store: S,
    me: String,
    timing: LeaseTiming,
    role: watch::Sender<Role>,
    changes: Arc<AtomicU64>,
    /// Opened to the local deadline on each acquire and renewal, closed on leaving:
    /// the LoxiLB and driver-agent clients check it before every call.
    fence: Fence,
}

/// The loop's memory between two decisions.
struct State {
    local: Local,
    seen: Option<Observed>,
    last_attempt: Option<Instant>,
    /// Failed attempts in a row, so a database that is down for long is reported
    /// at the first failure and then every [`WARN_EVERY`] attempts, not every second.
    failures: u64,
}

/// See [`State::failures`].
const WARN_EVERY: u64 = 60;

impl State {
    fn failed(&mut self, what: &str, error: &dyn std::fmt::Display) {
        if self.failures.is_multiple_of(WARN_EVERY) {
            warn!(error = %error, failures_in_a_row = self.failures + 1, "{what}");
        } else {
            debug!(error = %error, failures_in_a_row = self.failures + 1, "{what}");
        }
        self.failures += 1;
    }
}

impl<S: LeaseStore> Election<S> {
    /// An election for instance `me` with a lease of `lease`, and the status it
    /// feeds. The status starts as a follower that knows no leader.
    pub fn new(store: S, me: impl Into<String>, lease: Duration) -> (Self, ClusterStatus) {
        let me = me.into();
        let (tx, rx) = watch::channel(Role::Follower {
            leader: None,
            epoch: 0,
        });
        let changes = Arc::new(AtomicU64::new(0));
        let status = ClusterStatus::from_parts(&me, rx, changes.clone());
        let election = Election {
            store,
            me,
            timing: LeaseTiming::new(lease),
            role: tx,
            changes,
            fence: Fence::always(),
        };
        (election, status)
    }

    /// Keep `fence` open exactly while this instance may lead.
    pub fn with_fence(mut self, fence: Fence) -> Self {
        self.fence = fence;
        self
    }

    /// Runs until `shutdown`; see the module documentation.
    pub async fn run(self, shutdown: Shutdown) {
        let mut st = State {
            local: Local::Follower,
            seen: None,
            last_attempt: None,
            failures: 0,
        };
        while !shutdown.is_triggered() {
            let now = Instant::now();
            let d = decide(&Input {
                timing: &self.timing,
                me: &self.me,
                local: st.local,
                seen: st.seen.as_ref(),
                last_attempt: st.last_attempt,
                now,
            });
            match d.action {
                Action::Wait => {
                    tokio::select! {
                        _ = shutdown.triggered() => {}
                        _ = tokio::time::sleep_until(d.wake_at) => {}
                    }
                }
                Action::StepDown => {
                    warn!(instance_id = %self.me, "leader lease not renewed in time; stepping down");
                    self.fence.close();
                    st.local = Local::Follower;
                    self.publish_follower(&st, now);
                }
                Action::Acquire => self.acquire(&mut st, &shutdown).await,
                Action::Renew { epoch } => {
                    let until = d.lead_until.unwrap_or(now);
                    self.renew(&mut st, epoch, until, &shutdown).await;
                }
            }
        }
        self.leave(&st).await;
    }

    /// One conditional acquire.
    async fn acquire(&self, st: &mut State, shutdown: &Shutdown) {
        let sent = Instant::now();
        st.last_attempt = Some(sent);
        let call = tokio::time::timeout(
            self.timing.lease,
            self.store.try_acquire(&self.me, self.timing.lease),
        );
        let result = tokio::select! {
            _ = shutdown.triggered() => return,
            r = call => r,
        };
        match result {
            Ok(Ok(a)) => {
                st.failures = 0;
                st.seen = a.row.as_ref().map(|r| observed(r, Instant::now()));
                let mine = a
                    .row
                    .as_ref()
                    .filter(|r| a.won && r.holder.as_deref() == Some(self.me.as_str()));
                if let Some(row) = mine {
                    self.open_fence(row.epoch, sent);
                    st.local = Local::Leader {
                        epoch: row.epoch,
                        since: sent,
                    };
                    info!(instance_id = %self.me, epoch = row.epoch, "acquired the leader lease");
                    self.publish(Role::Leader { epoch: row.epoch });
                    return;
                }
            }
            Ok(Err(e)) => {
                st.failed("lease acquire failed; trying again", &e);
                st.seen = None;
            }
            Err(_) => {
                st.failed("lease acquire failed; trying again", &"timed out");
                st.seen = None;
            }
        }
        self.publish_follower(st, Instant::now());
    }

    /// One renewal, bounded by the local deadline `until`.
    async fn renew(&self, st: &mut State, epoch: u64, until: Instant, shutdown: &Shutdown) {
        let sent = Instant::now();
        st.last_attempt = Some(sent);
        let call =
            tokio::time::timeout_at(until, self.store.renew(&self.me, epoch, self.timing.lease));
        let result = tokio::select! {
            _ = shutdown.triggered() => return,
            r = call => r,
        };
        match result {
            Ok(Ok(a)) if a.won => {
                self.open_fence(epoch, sent);
                st.local = Local::Leader { epoch, since: sent };
                st.seen = a.row.as_ref().map(|r| observed(r, Instant::now()));
                st.failures = 0;
            }
            Ok(Ok(a)) => {
                warn!(instance_id = %self.me, epoch, "leader lease lost to another instance; stepping down");
                self.fence.close();
                st.seen = a.row.as_ref().map(|r| observed(r, Instant::now()));
                st.local = Local::Follower;
                self.publish_follower(st, Instant::now());
            }
            Ok(Err(e)) => st.failed("lease renewal failed; leading until the local deadline", &e),
            Err(_) => st.failed("lease renewal failed", &"timed out at the local deadline"),
        }
    }

    /// At shutdown: stop leading, then hand the lease back. Between the two it waits
    /// `margin`, the same grace a leader that loses the database gives its tasks: a
    /// task that was about to call LoxiLB when `Follower` was published has that long
    /// to notice before another instance may start leading.
    async fn leave(&self, st: &State) {
        let Local::Leader { epoch, .. } = st.local else {
            return;
        };
        self.fence.close();
        self.publish(Role::Follower {
            leader: None,
            epoch,
        });
        tokio::time::sleep(self.timing.margin).await;
        match tokio::time::timeout(RELEASE_TIMEOUT, self.store.release(&self.me, epoch)).await {
            Ok(Ok(())) => info!(instance_id = %self.me, epoch, "released the leader lease"),
            Ok(Err(e)) => warn!(error = %e, "lease release failed; it expires by itself"),
            Err(_) => warn!("lease release timed out; it expires by itself"),
        }
    }

    /// We hold the lease of `epoch` as renewed by a statement sent at `sent`: act
    /// until the local deadline counted from then (never late, see `observed`).
    fn open_fence(&self, epoch: u64, sent: Instant) {
        let epoch = i64::try_from(epoch).unwrap_or(i64::MAX);
        self.fence.open_until(epoch, sent + self.timing.lead_for());
    }

    /// Publishes `Follower` with the leader the last read showed, if still unexpired.
    fn publish_follower(&self, st: &State, now: Instant) {
        let leader = st
            .seen
            .as_ref()
            .and_then(|s| s.live_holder(now))
            .filter(|h| *h != self.me)
            .map(str::to_owned);
        let epoch = st.seen.as_ref().map_or(0, |s| s.epoch);
        self.publish(Role::Follower { leader, epoch });
    }

    /// Publishes `role` if it differs; counts entering and leaving leadership.
    fn publish(&self, role: Role) {
        let mut flipped = false;
        self.role.send_if_modified(|current| {
            if *current == role {
                return false;
            }
            flipped = current.is_leader() != role.is_leader();
            *current = role;
            true
        });
        if flipped {
            self.changes.fetch_add(1, Ordering::Relaxed);
            crate::metrics::global().leadership_changed(&self.me);
        }
    }
}

/// The read-back row as the lease rules see it, stamped with the instant the call
/// returned: the expiry estimate is then late by the reply's latency, never early,
/// so a follower's attempt at the estimated expiry does not fail for being a few
/// milliseconds too soon. (A leader's own deadline counts from before its statement
/// was sent; that one must never be late.)
fn observed(row: &LeaseRow, returned: Instant) -> Observed {
    Observed {
        holder: row.holder.clone(),
        epoch: row.epoch,
        remaining: row.remaining,
        at: returned,
    }
}

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
