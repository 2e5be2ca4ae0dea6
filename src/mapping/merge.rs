//! Several wants for one LoxiLB probe → one probe.
//!
//! LoxiLB has one probe per `<ip>_<proto>_<port>`, shared by every rule with that endpoint,
//! so two pools (possibly of different load balancers) that share a member address and port
//! but have different health monitors write the same object. Exactly one option set can
//! win, and it must be the same whichever order the wants were read in, or two nodes (or
//! two reconciliation passes) would flap the probe between option sets.
//!
//! Rule: the want with the smallest `probeDuration` wins all options (the most frequent
//! probing detects failures soonest, so the strictest monitor is served); ties go to the
//! smallest health monitor id, then pool id, member id, and finally the options themselves,
//! which makes the order total. Monitors whose options differ from the winner's are
//! returned as losers so the caller can warn about the conflict.

use std::cmp::Ordering;

use crate::loxilb::types::EndPoint;

use super::probe::ProbeWant;

fn endpoint_order(a: &EndPoint, b: &EndPoint) -> Ordering {
    (
        &a.host_name,
        &a.name,
        &a.probe_type,
        a.probe_port,
        &a.probe_req,
        &a.probe_resp,
        a.inactive_retries,
    )
        .cmp(&(
            &b.host_name,
            &b.name,
            &b.probe_type,
            b.probe_port,
            &b.probe_req,
            &b.probe_resp,
            b.inactive_retries,
        ))
}

fn want_order(a: &ProbeWant, b: &ProbeWant) -> Ordering {
    (
        a.endpoint.probe_duration,
        &a.healthmonitor_id,
        &a.pool_id,
        &a.member_id,
    )
        .cmp(&(
            b.endpoint.probe_duration,
            &b.healthmonitor_id,
            &b.pool_id,
            &b.member_id,
        ))
        .then_with(|| endpoint_order(&a.endpoint, &b.endpoint))
}

/// The probe to POST for one key and the ids (sorted, unique) of the monitors whose
/// options lost; `None` when there is no want. All wants should share one key; the result
/// is independent of their order.
pub fn merge_probe(wants: &[&ProbeWant]) -> Option<(EndPoint, Vec<String>)> {
    let winner = wants.iter().copied().min_by(|a, b| want_order(a, b))?;
    let mut losers: Vec<String> = wants
        .iter()
        .filter(|w| w.endpoint != winner.endpoint)
        .map(|w| w.healthmonitor_id.clone())
        .collect();
    losers.sort();
    losers.dedup();
    Some((winner.endpoint.clone(), losers))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::ProbeKey;
    use proptest::prelude::*;

    fn want(hm: &str, duration: u32, req: &str) -> ProbeWant {
        let key = ProbeKey {
            host: "10.0.0.5".into(),
            proto: "tcp".into(),
            port: 80,
        };
        ProbeWant {
            endpoint: EndPoint {
                host_name: key.host.clone(),
                name: key.name(),
                probe_type: "http".into(),
                probe_port: 80,
                probe_req: req.into(),
                probe_resp: "200".into(),
                probe_duration: duration,
                inactive_retries: 3,
            },
            key,
            healthmonitor_id: hm.into(),
            member_id: format!("m-{hm}"),
            pool_id: format!("p-{hm}"),
        }
    }

    #[test]
    fn empty_is_none_and_single_want_wins_alone() {
        assert_eq!(merge_probe(&[]), None);
        let w = want("hm1", 10, "/");
        assert_eq!(merge_probe(&[&w]), Some((w.endpoint.clone(), vec![])));
    }

    #[test]
    fn shortest_interval_wins_and_differing_monitors_are_losers() {
        let slow = want("hm-a", 30, "/slow");
        let fast = want("hm-z", 5, "/fast");
        let same_as_fast = ProbeWant {
            healthmonitor_id: "hm-m".into(),
            ..fast.clone()
        };
        let (ep, losers) = merge_probe(&[&slow, &fast, &same_as_fast]).unwrap();
        assert_eq!(ep.probe_req, "/fast");
        assert_eq!(losers, vec!["hm-a".to_owned()]);
    }

    #[test]
    fn equal_intervals_tie_break_on_monitor_id() {
        let b = want("hm-b", 10, "/b");
        let a = want("hm-a", 10, "/a");
        let (ep, losers) = merge_probe(&[&b, &a]).unwrap();
        assert_eq!(ep.probe_req, "/a");
        assert_eq!(losers, vec!["hm-b".to_owned()]);
    }

    fn specs_and_permutation() -> impl Strategy<Value = (Vec<(u8, u32, u8)>, Vec<usize>)> {
        prop::collection::vec((0u8..4, 1u32..4, 0u8..3), 1..7).prop_flat_map(|specs| {
            let order: Vec<usize> = (0..specs.len()).collect();
            (Just(specs), Just(order).prop_shuffle())
        })
    }

    proptest! {
        #[test]
        fn result_is_independent_of_input_order((specs, order) in specs_and_permutation()) {
            let wants: Vec<ProbeWant> = specs
                .iter()
                .map(|(hm, d, r)| want(&format!("hm{hm}"), *d, &format!("/{r}")))
                .collect();
            let refs: Vec<&ProbeWant> = wants.iter().collect();
            let permuted: Vec<&ProbeWant> = order.iter().map(|i| &wants[*i]).collect();
            let expected = merge_probe(&refs);
            prop_assert_eq!(&merge_probe(&permuted), &expected);
            let (ep, losers) = expected.unwrap();
            let min = wants.iter().map(|w| w.endpoint.probe_duration).min().unwrap();
            prop_assert_eq!(ep.probe_duration, min);
            for w in wants.iter().filter(|w| w.endpoint != ep) {
                prop_assert!(losers.contains(&w.healthmonitor_id));
            }
            for l in &losers {
                prop_assert!(wants.iter().any(|w| &w.healthmonitor_id == l && w.endpoint != ep));
            }
        }
    }
}
