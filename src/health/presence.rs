//! Which rules are on LoxiLB right now, so a listener whose rule is gone is not
//! reported ONLINE (pure; the sync feeds it).
//!
//! Two sources, neither enough alone:
//! - each node's rule listing (`GET /config/loadbalancer/all`) is the truth, but it is
//!   read only every `stats_interval` (it is LoxiLB's expensive read), so it lags;
//! - the applier's applied-rule records change the moment a rule is created, deleted
//!   or put back, but they cannot see a rule lost behind our back (an operator's
//!   delete, a LoxiLB restart without saved config).
//!
//! So per node the listing counts, except for names whose record changed since the
//! listing was read (created, deleted, or rewritten: records carry their write time
//! in milliseconds): that change is newer than the listing and wins. A rule created
//! after the last listing is present at once (no false ERROR for a new listener), a
//! rule deleted for a re-create and not put back is missing at once, and a rule lost
//! behind our back is missing from the next listing on.
//!
//! A name is present when it is present on any node: traffic reaches a listener
//! through whichever node is active, as for members ("When nodes disagree" in
//! [`super::rules`]).

use std::collections::{HashMap, HashSet};

/// Rule names.
pub type Names = HashSet<String>;

/// A node's applied-rule records: rule name → when the record was written (ms).
pub type Recorded = HashMap<String, i64>;

/// A node's last rule listing and the applied records of that node as read just
/// before it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeRules {
    pub listed: Names,
    pub recorded_then: Recorded,
}

/// The rules of one node now: `None` when nothing is known about it (never listed and
/// no records read).
pub fn present_on_node(view: Option<&NodeRules>, recorded_now: Option<&Recorded>) -> Option<Names> {
    match (view, recorded_now) {
        (None, None) => None,
        (None, Some(now)) => Some(now.keys().cloned().collect()),
        (Some(v), None) => Some(v.listed.clone()),
        (Some(v), Some(now)) => Some(
            v.listed
                .iter()
                .chain(now.keys())
                .chain(v.recorded_then.keys())
                .filter(|n| {
                    let (is, was) = (now.get(*n), v.recorded_then.get(*n));
                    if is != was {
                        is.is_some()
                    } else {
                        v.listed.contains(*n)
                    }
                })
                .cloned()
                .collect(),
        ),
    }
}

/// What the health sync remembers about every node's rules across cycles.
#[derive(Debug, Clone, Default)]
pub struct RuleMemory {
    nodes: HashMap<String, NodeRules>,
}

impl RuleMemory {
    /// `node` listed `listed`; `recorded_then` is what the applier had recorded for it
    /// when the listing was requested.
    pub fn listed(&mut self, node: &str, listed: Names, recorded_then: Recorded) {
        self.nodes.insert(
            node.to_string(),
            NodeRules {
                listed,
                recorded_then,
            },
        );
    }

    /// Names present on at least one of `nodes`, or `None` when some node is unknown
    /// (its rules could be anything, so no rule can be called missing).
    /// `recorded_now` is node → applied rule names, `None` when the records could not
    /// be read this cycle.
    pub fn present<'a>(
        &self,
        nodes: impl IntoIterator<Item = &'a str>,
        recorded_now: Option<&HashMap<String, Recorded>>,
    ) -> Option<Names> {
        let empty = Recorded::new();
        let mut out = Names::new();
        for node in nodes {
            let now = recorded_now.map(|r| r.get(node).unwrap_or(&empty));
            out.extend(present_on_node(self.nodes.get(node), now)?);
        }
        Some(out)
    }
}

/// Node → its records, from (node, name, written at) rows.
pub fn by_node(rows: Vec<(String, String, i64)>) -> HashMap<String, Recorded> {
    let mut out: HashMap<String, Recorded> = HashMap::new();
    for (node, name, at) in rows {
        out.entry(node).or_default().insert(name, at);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Names {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn rec(list: &[(&str, i64)]) -> Recorded {
        list.iter().map(|(n, t)| (n.to_string(), *t)).collect()
    }

    fn view(listed: &[&str], then: &[(&str, i64)]) -> NodeRules {
        NodeRules {
            listed: names(listed),
            recorded_then: rec(then),
        }
    }

    #[test]
    fn a_record_change_since_the_listing_wins_else_the_listing_counts() {
        // "new": created after the listing. "gone": deleted by us after it.
        // "recreated": deleted and created again, the listing having caught the gap
        // (rewritten record: the record wins). "kept": unchanged, listed.
        let v = view(
            &["kept", "gone"],
            &[("kept", 1), ("gone", 1), ("recreated", 1)],
        );
        let now = rec(&[("kept", 1), ("recreated", 5), ("new", 5)]);
        let p = present_on_node(Some(&v), Some(&now)).unwrap();
        assert_eq!(p, names(&["kept", "recreated", "new"]));

        // Lost behind our back: record unchanged, no longer listed.
        let v = view(&["kept"], &[("kept", 1), ("lost", 1)]);
        let now = rec(&[("kept", 1), ("lost", 1)]);
        assert_eq!(
            present_on_node(Some(&v), Some(&now)).unwrap(),
            names(&["kept"])
        );

        // A re-create whose successor failed and could not be put back: the record is
        // gone, the (older) listing still shows the rule; the record wins.
        let v = view(&["r"], &[("r", 1)]);
        assert_eq!(
            present_on_node(Some(&v), Some(&rec(&[]))).unwrap(),
            names(&[])
        );
    }

    #[test]
    fn one_source_alone_is_used_as_is_and_nothing_known_is_unknown() {
        let v = view(&["a"], &[("b", 1)]);
        assert_eq!(present_on_node(Some(&v), None).unwrap(), names(&["a"]));
        assert_eq!(
            present_on_node(None, Some(&rec(&[("b", 1)]))).unwrap(),
            names(&["b"])
        );
        assert_eq!(present_on_node(None, None), None);
    }

    #[test]
    fn present_on_any_node_counts_and_an_unknown_node_leaves_it_open() {
        let both = rec(&[("a", 1), ("b", 1)]);
        let mut m = RuleMemory::default();
        m.listed("n1", names(&["a"]), both.clone());
        m.listed("n2", names(&["b"]), both.clone());
        let rows = vec![
            ("n1".to_string(), "a".to_string(), 1),
            ("n1".to_string(), "b".to_string(), 1),
            ("n2".to_string(), "a".to_string(), 1),
            ("n2".to_string(), "b".to_string(), 1),
        ];
        let now = by_node(rows);
        assert_eq!(
            m.present(["n1", "n2"], Some(&now)),
            Some(names(&["a", "b"]))
        );
        assert_eq!(m.present(["n1"], Some(&now)), Some(names(&["a"])));
        // n3 never listed, but its records say "c".
        let mut now3 = now.clone();
        now3.insert("n3".into(), rec(&[("c", 1)]));
        assert_eq!(
            m.present(["n1", "n3"], Some(&now3)),
            Some(names(&["a", "c"]))
        );
        // n3 never listed and no records readable: unknown.
        assert_eq!(m.present(["n1", "n3"], None), None);
        // Records readable but none for n3: it holds nothing.
        assert_eq!(m.present(["n1", "n3"], Some(&now)), Some(names(&["a"])));
    }
}
