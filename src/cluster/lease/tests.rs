//! Table tests of the lease rules. Times are offsets in milliseconds from one base
//! instant; the lease is 12 s, so renew_every = 4000 ms, margin = 3000 ms (lead for
//! 9000 ms), retry_after = 1200 ms and expiry_slack = 60 ms.

use std::time::Duration;

use tokio::time::Instant;

use super::*;

const ME: &str = "ctl-1";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One row of the table. `seen` is (holder, epoch, remaining ms, read at ms).
struct Case {
    name: &'static str,
    leader: Option<(u64, u64)>,
    seen: Option<(Option<&'static str>, u64, u64, u64)>,
    last_attempt: Option<u64>,
    now: u64,
    action: Action,
    wake_at: u64,
    lead_until: Option<u64>,
}

const CASES: &[Case] = &[
    Case {
        name: "a fresh follower tries at once",
        leader: None,
        seen: None,
        last_attempt: None,
        now: 0,
        action: Action::Acquire,
        wake_at: 0,
        lead_until: None,
    },
    Case {
        name: "a follower whose attempt failed (no row) waits retry_after",
        leader: None,
        seen: None,
        last_attempt: Some(0),
        now: 500,
        action: Action::Wait,
        wake_at: 1200,
        lead_until: None,
    },
    Case {
        name: "a follower waits for the row to expire by the database's clock",
        leader: None,
        seen: Some((Some("ctl-2"), 4, 2000, 100)),
        last_attempt: Some(100),
        now: 150,
        action: Action::Wait,
        wake_at: 2160,
        lead_until: None,
    },
    Case {
        name: "... not at the estimated expiry itself, which may be a hair early",
        leader: None,
        seen: Some((Some("ctl-2"), 4, 2000, 100)),
        last_attempt: Some(100),
        now: 2100,
        action: Action::Wait,
        wake_at: 2160,
        lead_until: None,
    },
    Case {
        name: "... and tries once it may have",
        leader: None,
        seen: Some((Some("ctl-2"), 4, 2000, 100)),
        last_attempt: Some(100),
        now: 2160,
        action: Action::Acquire,
        wake_at: 2160,
        lead_until: None,
    },
    Case {
        name: "a follower looks again every renew_every while the lease is long",
        leader: None,
        seen: Some((Some("ctl-2"), 4, 9000, 0)),
        last_attempt: Some(0),
        now: 10,
        action: Action::Wait,
        wake_at: 4000,
        lead_until: None,
    },
    Case {
        name: "a follower retries an expired row no sooner than retry_after",
        leader: None,
        seen: Some((Some("ctl-2"), 4, 0, 0)),
        last_attempt: Some(0),
        now: 300,
        action: Action::Wait,
        wake_at: 1200,
        lead_until: None,
    },
    Case {
        name: "our own unexpired row (a renewal that timed out but committed) is waited out",
        leader: None,
        seen: Some((Some(ME), 7, 6000, 0)),
        last_attempt: Some(0),
        now: 1000,
        action: Action::Wait,
        wake_at: 4000,
        lead_until: None,
    },
    Case {
        name: "a leader waits until renew_every",
        leader: Some((7, 0)),
        seen: Some((Some(ME), 7, 10_000, 0)),
        last_attempt: Some(0),
        now: 1000,
        action: Action::Wait,
        wake_at: 4000,
        lead_until: Some(9000),
    },
    Case {
        name: "a leader renews at renew_every",
        leader: Some((7, 0)),
        seen: Some((Some(ME), 7, 10_000, 0)),
        last_attempt: Some(0),
        now: 4000,
        action: Action::Renew { epoch: 7 },
        wake_at: 4000,
        lead_until: Some(9000),
    },
    Case {
        name: "a failed renewal is retried after retry_after, still leading",
        leader: Some((7, 0)),
        seen: None,
        last_attempt: Some(4000),
        now: 4200,
        action: Action::Wait,
        wake_at: 5200,
        lead_until: Some(9000),
    },
    Case {
        name: "a retry is never scheduled past the deadline",
        leader: Some((7, 0)),
        seen: None,
        last_attempt: Some(8500),
        now: 8600,
        action: Action::Wait,
        wake_at: 9000,
        lead_until: Some(9000),
    },
    Case {
        name: "a leader steps down at lease - margin without a renewal",
        leader: Some((7, 0)),
        seen: None,
        last_attempt: Some(8000),
        now: 9000,
        action: Action::StepDown,
        wake_at: 9000,
        lead_until: None,
    },
    Case {
        name: "a leader steps down at once when the row shows a newer epoch",
        leader: Some((7, 0)),
        seen: Some((Some("ctl-2"), 8, 10_000, 100)),
        last_attempt: Some(100),
        now: 100,
        action: Action::StepDown,
        wake_at: 100,
        lead_until: None,
    },
    Case {
        name: "... or another holder",
        leader: Some((7, 0)),
        seen: Some((Some("ctl-2"), 7, 10_000, 100)),
        last_attempt: Some(100),
        now: 100,
        action: Action::StepDown,
        wake_at: 100,
        lead_until: None,
    },
    Case {
        name: "a row read before our acquire does not depose us",
        leader: Some((7, 500)),
        seen: Some((Some("ctl-2"), 6, 0, 100)),
        last_attempt: Some(500),
        now: 600,
        action: Action::Wait,
        wake_at: 4500,
        lead_until: Some(9500),
    },
];

#[test]
fn the_table() {
    let base = Instant::now();
    let at = |n: u64| base + ms(n);
    let timing = LeaseTiming::new(Duration::from_secs(12));
    for c in CASES {
        let observed = c.seen.map(|(holder, epoch, remaining, read)| Observed {
            holder: holder.map(str::to_owned),
            epoch,
            remaining: ms(remaining),
            at: at(read),
        });
        let local = match c.leader {
            Some((epoch, since)) => Local::Leader {
                epoch,
                since: at(since),
            },
            None => Local::Follower,
        };
        let d = decide(&Input {
            timing: &timing,
            me: ME,
            local,
            seen: observed.as_ref(),
            last_attempt: c.last_attempt.map(at),
            now: at(c.now),
        });
        assert_eq!(d.action, c.action, "{}", c.name);
        assert_eq!(d.wake_at, at(c.wake_at), "{}: wake_at", c.name);
        assert_eq!(d.lead_until, c.lead_until.map(at), "{}: lead_until", c.name);
    }
}

/// Whatever the lease, a leader renews at least twice before it must step down, and
/// steps down at least a second (or a quarter lease) before the lease could expire.
#[test]
fn timing_leaves_two_renewals_and_a_margin_for_every_allowed_lease() {
    for secs in [2, 3, 10, 60, 300] {
        let t = LeaseTiming::new(Duration::from_secs(secs));
        assert!(t.renew_every * 2 < t.lead_for(), "{secs}: {t:?}");
        assert!(t.lead_for() < t.lease, "{secs}");
        assert!(t.margin >= Duration::from_millis(500), "{secs}");
        assert!(
            t.expiry_slack > Duration::ZERO && t.expiry_slack < t.retry_after,
            "{secs}"
        );
        assert!(
            t.retry_after > Duration::ZERO && t.retry_after < t.renew_every,
            "{secs}"
        );
    }
}

#[test]
fn live_holder_is_none_once_expired() {
    let base = Instant::now();
    let o = Observed {
        holder: Some("ctl-2".into()),
        epoch: 3,
        remaining: ms(1000),
        at: base,
    };
    assert_eq!(o.live_holder(base + ms(999)), Some("ctl-2"));
    assert_eq!(o.live_holder(base + ms(1000)), None);
}
