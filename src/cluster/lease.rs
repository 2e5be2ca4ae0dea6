//! The leader lease as a pure decision: what to do next, and until when we may lead.
//!
//! Two clocks are involved and they are never compared with each other:
//! - the database's: the lease row's expiry is written and checked with `NOW(6)` on the
//!   database node that runs the statement, so only the database decides who wins an
//!   acquire (a follower acquires only a row that has expired by the database's clock);
//! - ours, monotonic: a leader counts its lease from the local instant *before* it sent
//!   the acquire or renew that succeeded (the database started the lease later than
//!   that, never earlier), and stops acting `margin` before `lease` has passed. The
//!   margin absorbs what the database cannot: Galera nodes evaluate `NOW()` with their
//!   own clocks, so another node may see our row expire a little early, and a deposed
//!   leader needs a moment to stop its in-flight calls.
//!
//! No I/O here: the election task (the `election` module) feeds observations in and
//! carries the decisions out, and the tables below test every rule.

use std::time::Duration;

use tokio::time::Instant;

/// Timing derived from the lease's time-to-live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTiming {
    /// Time-to-live written into the row on every acquire and renew.
    pub lease: Duration,
    /// A leader renews this long after its last successful renewal (lease / 3, so two
    /// renewals can fail before it has to step down).
    pub renew_every: Duration,
    /// A leader stops acting this long before its lease could expire (lease / 4).
    pub margin: Duration,
    /// Shortest pause between two attempts after a failure, so an unreachable
    /// database is not hammered (lease / 10).
    pub retry_after: Duration,
    /// A follower tries to acquire this long after the row's expiry as it estimated
    /// it (lease / 200): the estimate is exact only on one clock, and a first attempt
    /// that comes too early costs a whole `retry_after`.
    pub expiry_slack: Duration,
}

impl LeaseTiming {
    /// The timing for a lease of `lease` (at least 2 s in a validated configuration).
    pub fn new(lease: Duration) -> Self {
        LeaseTiming {
            lease,
            renew_every: lease / 3,
            margin: lease / 4,
            retry_after: lease / 10,
            expiry_slack: lease / 200,
        }
    }

    /// How long after a successful acquire or renewal a leader may still act.
    pub fn lead_for(&self) -> Duration {
        self.lease.saturating_sub(self.margin)
    }
}

/// The lease row as the database last showed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// Who holds (or last held) the lease; `None` before anyone ever did.
    pub holder: Option<String>,
    /// The fencing token: raised by one on every acquire.
    pub epoch: u64,
    /// Time left until expiry by the database's clock when it was read; zero once
    /// expired.
    pub remaining: Duration,
    /// Our local instant when the read returned (so `at + remaining` is never before
    /// the expiry by the database's clock, give or take clock skew).
    pub at: Instant,
}

impl Observed {
    /// Earliest local instant at which the row may have expired for the database.
    fn expires_locally(&self) -> Instant {
        self.at + self.remaining
    }

    /// The holder, while the row is unexpired at local instant `now`.
    pub fn live_holder(&self, now: Instant) -> Option<&str> {
        (now < self.expires_locally())
            .then_some(self.holder.as_deref())
            .flatten()
    }
}

/// What this instance currently is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Local {
    Follower,
    /// Leading with `epoch`; `since` is the local instant just before the acquire or
    /// renewal that last succeeded was sent.
    Leader {
        epoch: u64,
        since: Instant,
    },
}

/// What the election task should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send the conditional acquire (it also reads the row back, so it doubles as a
    /// follower's look at who leads).
    Acquire,
    /// Renew our lease of `epoch`.
    Renew { epoch: u64 },
    /// Stop acting as leader at once.
    StepDown,
    /// Nothing until the decision's `wake_at`.
    Wait,
}

/// The next action, when to decide again, and how long we may lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    /// When to call [`decide`] again if nothing else happens first.
    pub wake_at: Instant,
    /// Until this local instant we may act as leader; `None` when we may not.
    pub lead_until: Option<Instant>,
}

/// Everything [`decide`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    pub timing: &'a LeaseTiming,
    /// Our instance id.
    pub me: &'a str,
    pub local: Local,
    /// The last row read; `None` when it was never read or the last attempt failed.
    pub seen: Option<&'a Observed>,
    /// When our last attempt (acquire or renew, successful or not) was sent.
    pub last_attempt: Option<Instant>,
    pub now: Instant,
}

/// The lease rules; see the module documentation.
pub fn decide(i: &Input<'_>) -> Decision {
    match i.local {
        Local::Leader { epoch, since } => decide_leader(i, epoch, since),
        Local::Follower => decide_follower(i),
    }
}

/// A leader renews every `renew_every`, retries a failed renewal after `retry_after`,
/// and steps down at `since + lead_for` whatever happens, or at once when the row
/// shows that someone else holds the lease now.
fn decide_leader(i: &Input<'_>, epoch: u64, since: Instant) -> Decision {
    let t = i.timing;
    let deadline = since + t.lead_for();
    let taken = i
        .seen
        .is_some_and(|s| s.at >= since && (s.epoch != epoch || s.holder.as_deref() != Some(i.me)));
    if taken || i.now >= deadline {
        return Decision {
            action: Action::StepDown,
            wake_at: i.now,
            lead_until: None,
        };
    }
    let mut due = since + t.renew_every;
    if let Some(last) = i.last_attempt.filter(|l| *l > since) {
        due = due.max(last + t.retry_after);
    }
    let action = if i.now >= due {
        Action::Renew { epoch }
    } else {
        Action::Wait
    };
    Decision {
        action,
        wake_at: if action == Action::Wait {
            due.min(deadline)
        } else {
            i.now
        },
        lead_until: Some(deadline),
    }
}

/// A follower tries the conditional acquire when the row it saw may have expired by
/// the database's clock, and otherwise every `renew_every` to keep its view of the
/// leader fresh; never sooner than `retry_after` after its last attempt.
fn decide_follower(i: &Input<'_>) -> Decision {
    let t = i.timing;
    let expiry = |seen: &Observed| seen.expires_locally() + t.expiry_slack;
    let mut due = match (i.seen, i.last_attempt) {
        (Some(seen), Some(last)) => expiry(seen).min(last + t.renew_every),
        (Some(seen), None) => expiry(seen),
        (None, Some(last)) => last + t.retry_after,
        (None, None) => i.now,
    };
    if let Some(last) = i.last_attempt {
        due = due.max(last + t.retry_after);
    }
    let (action, wake_at) = if i.now >= due {
        (Action::Acquire, i.now)
    } else {
        (Action::Wait, due)
    };
    Decision {
        action,
        wake_at,
        lead_until: None,
    }
}

#[cfg(test)]
mod tests;
