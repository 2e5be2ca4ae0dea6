//! What the LoxiLB nodes reported in one cycle, folded into one [`Seen`] map.
//!
//! Per node, a probe entry (`GET /config/endpoint/all`, keyed by its name) is the
//! primary source; a rule endpoint (`GET /config/loadbalancer/all`, state
//! "active"/"inactive") fills in keys that node has no probe entry for. The node
//! views then add up into per-key [`Observation`] counts, which
//! [`super::rules`] combines (see "When nodes disagree" there).
//!
//! Listener traffic comes from the same rule listing: every endpoint's counter is
//! "<packets>:<bytes>", summed per rule (= per listener, via the rule name).

use std::collections::HashMap;

use super::index::{rule_key_of, ListenerEntry, RuleKey};
use super::rules::{probe_state, rule_endpoint_state, HealthState, Observation};
use crate::loxilb::types::{probe_key, EndPointGetEntry, LoadbalanceEntry};
use crate::mapping::listener_of_rule_name;

/// Probe key name → what the answering nodes said.
pub type Seen = HashMap<String, Observation>;

/// One node's answer to a poll; `rules` is `None` when that call failed or was not
/// made this cycle (it is read only as often as statistics need it).
#[derive(Debug, Default)]
pub struct NodeReport {
    pub endpoints: Vec<EndPointGetEntry>,
    pub rules: Option<Vec<LoadbalanceEntry>>,
}

/// Fold the answering nodes' reports into one map (O(endpoints)).
pub fn observe(reports: &[&NodeReport]) -> Seen {
    let mut seen: Seen = HashMap::new();
    for r in reports {
        let mut node: HashMap<&str, HealthState> = HashMap::with_capacity(r.endpoints.len());
        for e in &r.endpoints {
            if let Some(s) = probe_state(&e.curr_state) {
                node.insert(&e.name, s);
            }
        }
        let mut from_rules: Vec<(String, HealthState)> = Vec::new();
        for rule in r.rules.iter().flatten() {
            let proto = &rule.service_arguments.protocol;
            for ep in &rule.endpoints {
                let Some(s) = ep.state.as_deref().and_then(rule_endpoint_state) else {
                    continue;
                };
                let key = probe_key(&ep.endpoint_ip, proto, ep.target_port);
                if !node.contains_key(key.as_str()) {
                    from_rules.push((key, s));
                }
            }
        }
        for (k, s) in node {
            seen.entry(k.to_string()).or_default().add(s);
        }
        // One rule endpoint per key per node (two rules can share an endpoint).
        from_rules.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        from_rules.dedup_by(|a, b| a.0 == b.0);
        for (k, s) in from_rules {
            seen.entry(k).or_default().add(s);
        }
    }
    seen
}

/// Bytes per listener id from one node's rules (rules we did not create ignored).
/// A counter that does not parse counts as 0 rather than failing the cycle. A rule at
/// the key of one of our listeners' rules counts for that listener whatever its name
/// (a rule taken over from another driver keeps that driver's name).
pub fn listener_bytes(
    rules: &[LoadbalanceEntry],
    by_key: &HashMap<RuleKey<'_>, &ListenerEntry>,
) -> HashMap<String, u64> {
    let mut out: HashMap<String, u64> = HashMap::new();
    for rule in rules {
        let listener = match by_key.get(&rule_key_of(rule)) {
            Some(l) => &*l.id,
            None => match listener_of_rule_name(&rule.service_arguments.name) {
                Some(id) => id,
                None => continue,
            },
        };
        let bytes: u64 = rule
            .endpoints
            .iter()
            .filter_map(|e| e.counter.as_deref())
            .map(counter_bytes)
            .fold(0, u64::saturating_add);
        let slot = out.entry(listener.to_string()).or_default();
        *slot = slot.saturating_add(bytes);
    }
    out
}

/// The bytes half of "<packets>:<bytes>".
pub fn counter_bytes(counter: &str) -> u64 {
    counter
        .split_once(':')
        .and_then(|(_, b)| b.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loxilb::types::{LbEndpoint, ServiceArguments};

    fn ep(name: &str, state: &str) -> EndPointGetEntry {
        EndPointGetEntry {
            name: name.into(),
            curr_state: state.into(),
            ..Default::default()
        }
    }

    fn rule(name: &str, eps: &[(&str, u16, &str, &str)]) -> LoadbalanceEntry {
        LoadbalanceEntry {
            service_arguments: ServiceArguments {
                name: name.into(),
                protocol: "tcp".into(),
                ..Default::default()
            },
            endpoints: eps
                .iter()
                .map(|(ip, port, state, counter)| LbEndpoint {
                    endpoint_ip: ip.to_string(),
                    target_port: *port,
                    weight: 1,
                    state: Some(state.to_string()),
                    counter: Some(counter.to_string()),
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn probes_win_rule_endpoints_fill_gaps_and_nodes_add_up() {
        let a = NodeReport {
            endpoints: vec![ep("10.0.0.1_tcp_80", "nok"), ep("10.0.0.9_tcp_80", "")],
            rules: Some(vec![rule(
                "octavia-l",
                &[
                    ("10.0.0.1", 80, "active", "1:2"),
                    ("10.0.0.2", 80, "inactive", "3:4"),
                ],
            )]),
        };
        let b = NodeReport {
            endpoints: vec![ep("10.0.0.1_tcp_80", "ok")],
            rules: None,
        };
        let seen = observe(&[&a, &b]);
        assert_eq!(
            seen["10.0.0.1_tcp_80"],
            Observation {
                ok: 1,
                nok: 1,
                red: 0
            }
        );
        assert_eq!(
            seen["10.0.0.2_tcp_80"],
            Observation {
                ok: 0,
                nok: 1,
                red: 0
            }
        );
        assert!(
            !seen.contains_key("10.0.0.9_tcp_80"),
            "empty currState is not a report"
        );
    }

    #[test]
    fn a_rule_at_our_key_counts_for_our_listener_whatever_its_name() {
        let l = ListenerEntry {
            id: std::sync::Arc::from("l9"),
            admin_up: true,
            rule: "octavia-l9".into(),
            expects_rule: true,
            rule_key: Some((String::new(), 0, "tcp")),
        };
        let by_key: HashMap<RuleKey<'_>, &ListenerEntry> = [(("", 0, "tcp"), &l)].into();
        let rules = vec![rule(
            "octavia-listener-l9",
            &[("10.0.0.1", 80, "active", "3:300")],
        )];
        let b = listener_bytes(&rules, &by_key);
        assert_eq!(b.get("l9"), Some(&300));
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn listener_bytes_sum_endpoint_counters_of_our_rules() {
        let rules = vec![
            rule(
                "octavia-l1",
                &[
                    ("10.0.0.1", 80, "active", "10:1000"),
                    ("10.0.0.2", 80, "active", "5:500"),
                ],
            ),
            rule("foreign", &[("10.0.0.3", 80, "active", "1:99")]),
            rule("octavia-l2", &[("10.0.0.3", 80, "active", "garbage")]),
        ];
        let b = listener_bytes(&rules, &HashMap::new());
        assert_eq!(b.get("l1"), Some(&1500));
        assert_eq!(b.get("l2"), Some(&0));
        assert_eq!(b.len(), 2);
        assert_eq!(counter_bytes("1:18446744073709551615"), u64::MAX);
        assert_eq!(counter_bytes("1:99999999999999999999999"), 0);
    }
}
