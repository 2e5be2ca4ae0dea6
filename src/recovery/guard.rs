//! Pure decisions behind every destructive recovery action: whose object is it, and
//! may this pass delete that much.
//!
//! A LoxiLB node can be shared with another coordinator, another Octavia driver or an
//! operator's tools, and a mistake here deletes someone's live service. So an object is
//! ours only on positive evidence: our records, or a rule whose name is exactly the one
//! we would give a listener and whose listener Octavia says does not exist, said by a
//! driver agent that answers for other objects normally (an empty or wrong get socket
//! answers "not found" for everything). Even then, a pass that would delete a large
//! share of what we know deletes nothing and waits for an operator.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::loxilb::LoadbalanceEntry;
use crate::mapping::ProbeKey;

/// What Octavia's get socket said about one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OctaviaAnswer {
    Exists,
    NotFound,
    /// No usable answer (timeout, error reply, agent down).
    Unknown,
}

/// Whether an unrecorded rule named with our exact pattern is ours to delete: only when
/// Octavia says its listener does not exist and the agent is trustworthy (it answered
/// some other object of ours as existing in the same pass).
pub fn unrecorded_rule_is_ours(answer: OctaviaAnswer, agent_answers_normally: bool) -> bool {
    answer == OctaviaAnswer::NotFound && agent_answers_normally
}

/// The blast-radius limit of one pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlastRadius {
    /// More than this fraction of the known load balancers is too much.
    pub max_fraction: f64,
    /// More than this many deletions is too much.
    pub max_count: u64,
}

impl Default for BlastRadius {
    fn default() -> Self {
        BlastRadius {
            max_fraction: 0.10,
            max_count: 5,
        }
    }
}

/// What a pass does with its deletion candidates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Within the limit (or confirmed by an operator): delete them.
    Delete,
    /// Over the limit: delete none, hold them for `--confirm`.
    Hold,
}

impl BlastRadius {
    /// Decide for `candidates` deletions against `known` load balancers, when `recent`
    /// unconfirmed deletions were made within the rate window ([`DeletionLog`]): the
    /// limit holds for the window, not only for one pass, so passes run back to back
    /// cannot add up to a wipe. Nothing to delete is always allowed; an operator's
    /// confirmation overrides the limit.
    pub fn decide(
        &self,
        candidates: usize,
        recent: usize,
        known: usize,
        confirmed: bool,
    ) -> Decision {
        if candidates == 0 || confirmed {
            return Decision::Delete;
        }
        let total = candidates.saturating_add(recent);
        let too_many = total as u64 > self.max_count;
        // With nothing known, any deletion is the whole fleet.
        let too_large = total as f64 > self.max_fraction * known as f64;
        if too_many || too_large {
            Decision::Hold
        } else {
            Decision::Delete
        }
    }
}

/// How long guarded deletions count against the blast-radius limit (the rate limit).
pub const RATE_WINDOW: Duration = Duration::from_secs(3600);

/// When unconfirmed guarded deletions were made, for the rate limit. The caller passes
/// the time, so the bookkeeping stays testable without a clock.
#[derive(Debug, Default)]
pub struct DeletionLog {
    done: VecDeque<Instant>,
}

impl DeletionLog {
    /// Deletions made within [`RATE_WINDOW`] before `now`; older ones are forgotten.
    pub fn recent(&mut self, now: Instant) -> usize {
        while self
            .done
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= RATE_WINDOW)
        {
            self.done.pop_front();
        }
        self.done.len()
    }

    /// Record `n` deletions made at `now`.
    pub fn record(&mut self, now: Instant, n: usize) {
        self.done.extend(std::iter::repeat_n(now, n));
    }
}

/// Whether LoxiLB rule `r` uses the probe under `key` (its protocol and one endpoint's
/// address and port; any endpoint at the host for a port-less ping probe). Matches
/// generously: a false match only keeps a probe from being rewritten.
pub fn rule_refers_to_probe(r: &LoadbalanceEntry, key: &ProbeKey) -> bool {
    let proto_matches = key.proto == "ping" || r.service_arguments.protocol == key.proto;
    proto_matches
        && r.endpoints
            .iter()
            .any(|e| e.endpoint_ip == key.host && (key.port == 0 || e.target_port == key.port))
}

/// Whether a probe LoxiLB keeps (409 "LB Rule-referred") may get the options a rule
/// would use on its own: only when every rule referring to it is one we recorded. A
/// probe another daemon's or tool's rule uses keeps the options they gave it.
pub fn may_restore_probe_defaults(
    key: &ProbeKey,
    rules: &[LoadbalanceEntry],
    ours: &BTreeSet<String>,
) -> bool {
    let mut referring = rules
        .iter()
        .filter(|r| rule_refers_to_probe(r, key))
        .peekable();
    referring.peek().is_some() && referring.all(|r| ours.contains(&r.service_arguments.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(name: &str, proto: &str, host: &str, port: u16) -> LoadbalanceEntry {
        serde_json::from_value(json!({
            "serviceArguments": {"externalIP": "127.0.0.99", "port": 80, "protocol": proto,
                "name": name, "sel": 0, "mode": 0},
            "endpoints": [{"endpointIP": host, "targetPort": port, "weight": 1}]
        }))
        .unwrap()
    }

    fn key(host: &str, proto: &str, port: u16) -> ProbeKey {
        ProbeKey {
            host: host.into(),
            proto: proto.into(),
            port,
        }
    }

    #[test]
    fn only_a_trusted_not_found_makes_an_unrecorded_rule_ours() {
        assert!(unrecorded_rule_is_ours(OctaviaAnswer::NotFound, true));
        assert!(!unrecorded_rule_is_ours(OctaviaAnswer::NotFound, false));
        assert!(!unrecorded_rule_is_ours(OctaviaAnswer::Exists, true));
        assert!(!unrecorded_rule_is_ours(OctaviaAnswer::Unknown, true));
    }

    #[test]
    fn blast_radius_holds_above_the_fraction_or_the_count() {
        let b = BlastRadius::default();
        assert_eq!(b.decide(0, 0, 0, false), Decision::Delete);
        assert_eq!(
            b.decide(1, 0, 10, false),
            Decision::Delete,
            "10 % is allowed"
        );
        assert_eq!(b.decide(2, 0, 10, false), Decision::Hold, "20 %");
        assert_eq!(b.decide(1, 0, 1, false), Decision::Hold, "the only one");
        assert_eq!(b.decide(1, 0, 0, false), Decision::Hold, "nothing known");
        assert_eq!(b.decide(5, 0, 100, false), Decision::Delete);
        assert_eq!(b.decide(6, 0, 1000, false), Decision::Hold, "more than 5");
        assert_eq!(b.decide(6, 0, 1000, true), Decision::Delete, "confirmed");
        let open = BlastRadius {
            max_fraction: 1.0,
            max_count: 100,
        };
        assert_eq!(open.decide(1, 0, 1, false), Decision::Delete);
    }

    #[test]
    fn deletions_within_the_window_count_against_the_limit() {
        let b = BlastRadius::default();
        assert_eq!(b.decide(3, 0, 100, false), Decision::Delete);
        assert_eq!(
            b.decide(3, 3, 100, false),
            Decision::Hold,
            "6 within the hour"
        );
        assert_eq!(b.decide(1, 9, 100, false), Decision::Hold, "10 % used up");
        assert_eq!(b.decide(3, 3, 100, true), Decision::Delete, "confirmed");
        let t0 = Instant::now();
        let mut log = DeletionLog::default();
        log.record(t0, 3);
        assert_eq!(log.recent(t0 + Duration::from_secs(10)), 3);
        log.record(t0 + Duration::from_secs(60), 1);
        assert_eq!(log.recent(t0 + RATE_WINDOW), 1, "the first three expired");
        assert_eq!(log.recent(t0 + RATE_WINDOW + Duration::from_secs(60)), 0);
    }

    #[test]
    fn defaults_are_restored_only_when_every_referring_rule_is_ours() {
        let k = key("10.0.0.5", "tcp", 8080);
        let ours_rule = rule("octavia-a", "tcp", "10.0.0.5", 8080);
        let theirs = rule("octavia-b", "tcp", "10.0.0.5", 8080);
        let unrelated = rule("x", "tcp", "10.0.0.6", 8080);
        let ours = BTreeSet::from(["octavia-a".to_string()]);
        assert!(may_restore_probe_defaults(
            &k,
            &[ours_rule.clone(), unrelated.clone()],
            &ours
        ));
        assert!(!may_restore_probe_defaults(
            &k,
            &[ours_rule, theirs.clone()],
            &ours
        ));
        assert!(!may_restore_probe_defaults(&k, &[theirs], &ours));
        assert!(
            !may_restore_probe_defaults(&k, &[unrelated], &ours),
            "no referrer known"
        );
    }

    #[test]
    fn a_rule_refers_by_protocol_host_and_port() {
        let r = rule("r", "tcp", "10.0.0.5", 8080);
        assert!(rule_refers_to_probe(&r, &key("10.0.0.5", "tcp", 8080)));
        assert!(!rule_refers_to_probe(&r, &key("10.0.0.5", "udp", 8080)));
        assert!(!rule_refers_to_probe(&r, &key("10.0.0.5", "tcp", 8081)));
        assert!(rule_refers_to_probe(&r, &key("10.0.0.5", "ping", 0)));
    }
}
