//! One cycle's statuses: desired index + what LoxiLB said → [`Snapshot`] (pure).
//!
//! `seen = None` means no node answered: members whose status comes from LoxiLB
//! keep their previous status (an unreachable LoxiLB says nothing about the
//! backends, so there is no mass flip), members never reported stay unknown, and
//! once `stale_too_long` the load balancers go ERROR (see `rules::lb_status`).
//!
//! `rules` is the set of rule names present on some node ([`super::presence`]);
//! `None` when it is not known, and then no listener is called rule-less.

use super::index::DesiredIndex;
use super::observe::Seen;
use super::presence::Names;
use super::rules::{
    lb_status, listener_status, member_status, pool_status, MemberCounts, Observation,
};
use super::snapshot::{Detail, Entry, Kind, Snapshot};

/// Derive every status. `failed_polls` is the number of cycles in a row without
/// any node answering (0 after a good poll); `stale_limit` the configured limit.
pub fn compute(
    index: &DesiredIndex,
    seen: Option<&Seen>,
    rules: Option<&Names>,
    previous: &Snapshot,
    failed_polls: u32,
    stale_limit: u32,
) -> Snapshot {
    let mut out = Snapshot::with_capacity(index.member_count());
    let stale_too_long = failed_polls >= stale_limit.max(1);
    for lb in &index.lbs {
        let mut pool_statuses = Vec::with_capacity(lb.pools.len());
        for pool in &lb.pools {
            let mut counts = MemberCounts::default();
            for m in &pool.members {
                let from_loxilb = m.facts.admin_up && m.facts.monitored;
                let prev = previous.status(Kind::Member, &m.id);
                let (status, detail) = if !from_loxilb {
                    (
                        member_status(m.facts, Observation::default(), prev),
                        Detail::Config,
                    )
                } else {
                    let nodes = match (seen, &m.probe) {
                        (Some(s), Some(p)) => s.get(&**p).copied().unwrap_or_default(),
                        _ => Observation::default(),
                    };
                    let stale = seen.is_none();
                    let status = match prev {
                        Some(p) if stale => p,
                        // Never reported and LoxiLB unreachable: unknown, not OFFLINE.
                        None if stale => continue,
                        _ => member_status(m.facts, nodes, prev),
                    };
                    let probe = m.probe.clone();
                    (
                        status,
                        Detail::Probe {
                            probe,
                            nodes,
                            stale,
                        },
                    )
                };
                counts.add(status);
                out.insert(Kind::Member, m.id.clone(), Entry { status, detail });
            }
            let status = pool_status(pool.admin_up, pool.served, counts);
            pool_statuses.push(status);
            let detail = Detail::Members { members: counts };
            out.insert(Kind::Pool, pool.id.clone(), Entry { status, detail });
        }
        let mut parts = pool_statuses;
        for l in &lb.listeners {
            let missing = l.expects_rule && rules.is_some_and(|r| !r.contains(&l.rule));
            let status = listener_status(l.admin_up, missing);
            parts.push(status);
            out.insert(
                Kind::Listener,
                l.id.clone(),
                Entry {
                    status,
                    detail: Detail::Config,
                },
            );
        }
        let status = lb_status(lb.admin_up, stale_too_long, parts);
        let detail = Detail::Pools { failed_polls };
        out.insert(Kind::Loadbalancer, lb.id.clone(), Entry { status, detail });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::snapshot::diff;
    use crate::mapping::LbTree;
    use crate::octavia::OperatingStatus::{self, *};
    use serde_json::json;

    /// lb → listener l → pool p (monitored) with members m0..m{n-1} on 10.0.0.i:80.
    fn index(n: usize) -> DesiredIndex {
        let members: Vec<_> = (0..n)
            .map(|i| json!({"member_id": format!("m{i}"), "pool_id": "p",
                            "address": format!("10.{}.{}.{}", i / 62_500, (i / 250) % 250, i % 250), "protocol_port": 80}))
            .collect();
        let tree = LbTree::from_bodies(
            &json!({"loadbalancer_id": "lb", "vip_address": "10.1.1.1"}),
            &[json!({"listener_id": "l", "protocol": "TCP", "protocol_port": 80, "default_pool_id": "p"})],
            &[json!({"pool_id": "p", "protocol": "TCP"})],
            &members,
            &[json!({"healthmonitor_id": "h", "pool_id": "p", "type": "TCP"})],
        )
        .unwrap();
        DesiredIndex::from_trees(&[tree])
    }

    fn seen(states: &[(&str, Observation)]) -> Seen {
        states.iter().map(|(k, o)| (k.to_string(), *o)).collect()
    }

    const OK: Observation = Observation {
        ok: 1,
        nok: 0,
        red: 0,
    };
    const NOK: Observation = Observation {
        ok: 0,
        nok: 1,
        red: 0,
    };

    fn st(s: &Snapshot, k: Kind, id: &str) -> Option<OperatingStatus> {
        s.status(k, id)
    }

    #[test]
    fn one_failing_member_degrades_pool_and_lb() {
        let idx = index(2);
        let s = seen(&[("10.0.0.0_tcp_80", OK), ("10.0.0.1_tcp_80", NOK)]);
        let snap = compute(&idx, Some(&s), None, &Snapshot::default(), 0, 3);
        assert_eq!(st(&snap, Kind::Member, "m1"), Some(Error));
        assert_eq!(st(&snap, Kind::Pool, "p"), Some(Degraded));
        assert_eq!(st(&snap, Kind::Listener, "l"), Some(Online));
        assert_eq!(st(&snap, Kind::Loadbalancer, "lb"), Some(Degraded));
        let all_down = seen(&[("10.0.0.0_tcp_80", NOK), ("10.0.0.1_tcp_80", NOK)]);
        let snap = compute(&idx, Some(&all_down), None, &snap, 0, 3);
        assert_eq!(st(&snap, Kind::Pool, "p"), Some(Error));
        assert_eq!(st(&snap, Kind::Loadbalancer, "lb"), Some(Error));
    }

    #[test]
    fn a_missing_expected_rule_errors_the_listener_and_the_lb() {
        let idx = index(1);
        let s = seen(&[("10.0.0.0_tcp_80", OK)]);
        let present: Names = ["octavia-l".to_string()].into();
        let snap = compute(&idx, Some(&s), Some(&present), &Snapshot::default(), 0, 3);
        assert_eq!(st(&snap, Kind::Listener, "l"), Some(Online));
        assert_eq!(st(&snap, Kind::Loadbalancer, "lb"), Some(Online));
        let gone = compute(&idx, Some(&s), Some(&Names::new()), &snap, 0, 3);
        assert_eq!(st(&gone, Kind::Listener, "l"), Some(Error));
        assert_eq!(st(&gone, Kind::Loadbalancer, "lb"), Some(Error));
        // Members and pool keep their own status: the backends are fine.
        assert_eq!(st(&gone, Kind::Pool, "p"), Some(Online));
        // Unknown rule state: no judgment.
        let unknown = compute(&idx, Some(&s), None, &snap, 0, 3);
        assert_eq!(st(&unknown, Kind::Listener, "l"), Some(Online));
        // No rule expected (every member drained): no rule is fine.
        let drained = LbTree::from_bodies(
            &json!({"loadbalancer_id": "lb", "vip_address": "10.1.1.1"}),
            &[json!({"listener_id": "l", "protocol": "TCP", "protocol_port": 80, "default_pool_id": "p"})],
            &[json!({"pool_id": "p", "protocol": "TCP"})],
            &[json!({"member_id": "m0", "pool_id": "p", "address": "10.0.0.0", "protocol_port": 80, "weight": 0})],
            &[],
        )
        .unwrap();
        let idx = DesiredIndex::from_trees(&[drained]);
        let snap = compute(
            &idx,
            Some(&s),
            Some(&Names::new()),
            &Snapshot::default(),
            0,
            3,
        );
        assert_eq!(st(&snap, Kind::Listener, "l"), Some(Online));
        assert_eq!(st(&snap, Kind::Loadbalancer, "lb"), Some(Online));
    }

    #[test]
    fn failed_polls_keep_members_then_error_the_lb_then_recover() {
        let idx = index(2);
        let s = seen(&[("10.0.0.0_tcp_80", OK), ("10.0.0.1_tcp_80", OK)]);
        let good = compute(&idx, Some(&s), None, &Snapshot::default(), 0, 3);
        let down1 = compute(&idx, None, None, &good, 1, 3);
        let down2 = compute(&idx, None, None, &down1, 2, 3);
        assert!(diff(&good, &down1).is_empty() && diff(&down1, &down2).is_empty());
        let down3 = compute(&idx, None, None, &down2, 3, 3);
        let changed = diff(&down2, &down3);
        assert_eq!(changed.len(), 1);
        assert_eq!(
            (changed[0].collection.as_str(), changed[0].id.as_str()),
            ("loadbalancers", "lb")
        );
        assert_eq!(changed[0].operating_status.as_deref(), Some("ERROR"));
        let back = compute(&idx, Some(&s), None, &down3, 0, 3);
        assert_eq!(st(&back, Kind::Loadbalancer, "lb"), Some(Online));
        // A member never seen before stays unknown during an outage.
        let fresh = compute(&idx, None, None, &Snapshot::default(), 1, 3);
        assert_eq!(st(&fresh, Kind::Member, "m0"), None);
        assert_eq!(st(&fresh, Kind::Pool, "p"), Some(Online));
    }

    #[test]
    fn hundred_thousand_members_ten_changes() {
        let idx = index(100_000);
        let all_ok: Seen = idx.lbs[0].pools[0]
            .members
            .iter()
            .filter_map(|m| m.probe.as_ref().map(|p| (p.to_string(), OK)))
            .collect();
        let before = compute(&idx, Some(&all_ok), None, &Snapshot::default(), 0, 3);
        let mut changed = all_ok.clone();
        for m in idx.lbs[0].pools[0].members.iter().step_by(10_000) {
            if let Some(p) = &m.probe {
                changed.insert(p.to_string(), NOK);
            }
        }
        let after = compute(&idx, Some(&changed), None, &before, 0, 3);
        let records = diff(&before, &after);
        // 10 members ERROR, pool and LB DEGRADED.
        assert_eq!(records.len(), 12);
        assert_eq!(
            records.iter().filter(|r| r.collection == "members").count(),
            10
        );
    }
}
