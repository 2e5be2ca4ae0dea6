//! Orphan scan memory: an orphan is removed only when two consecutive scans saw it.
//!
//! One scan can be fooled by a change in flight (a listener created between reading
//! desired state and listing the node; a probe reference replaced during a sync).
//! Such a false candidate does not survive to the next scan, while a real orphan does,
//! so requiring two sightings costs one interval of delay and removes the race.

use std::collections::{BTreeMap, BTreeSet};

use super::diff::Orphan;

/// Candidates seen at the last scan that was allowed to act, per node.
#[derive(Debug, Default)]
pub struct OrphanMemory {
    seen: BTreeMap<String, BTreeSet<Orphan>>,
}

impl OrphanMemory {
    /// Each candidate with whether the previous scan saw it too, without recording
    /// this scan (dry runs and listings).
    pub fn peek(&self, node: &str, current: &[Orphan]) -> Vec<(Orphan, bool)> {
        let prev = self.seen.get(node);
        current
            .iter()
            .map(|o| (o.clone(), prev.is_some_and(|p| p.contains(o))))
            .collect()
    }

    /// Like [`peek`](Self::peek), then remember `current` as this node's last scan.
    /// Candidates not seen now are dropped: the count restarts if they come back.
    pub fn observe(&mut self, node: &str, current: &[Orphan]) -> Vec<(Orphan, bool)> {
        let out = self.peek(node, current);
        self.seen
            .insert(node.to_string(), current.iter().cloned().collect());
        out
    }

    /// Forget a candidate that was removed.
    pub fn forget(&mut self, node: &str, o: &Orphan) {
        if let Some(set) = self.seen.get_mut(node) {
            set.remove(o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recovery::diff::ObjectKind;

    fn o(name: &str) -> Orphan {
        Orphan {
            kind: ObjectKind::Rule,
            name: name.into(),
            host: String::new(),
            probe_type: String::new(),
            port: 0,
        }
    }

    fn confirmed(v: &[(Orphan, bool)]) -> Vec<&str> {
        v.iter()
            .filter(|(_, c)| *c)
            .map(|(o, _)| o.name.as_str())
            .collect()
    }

    #[test]
    fn a_candidate_is_confirmed_on_its_second_consecutive_sighting() {
        let mut m = OrphanMemory::default();
        assert!(confirmed(&m.observe("n", &[o("a"), o("b")])).is_empty());
        assert_eq!(confirmed(&m.observe("n", &[o("a")])), vec!["a"]);
        // b vanished for one scan: its count starts again.
        assert!(confirmed(&m.observe("n", &[o("b")])).is_empty());
        assert_eq!(confirmed(&m.observe("n", &[o("b")])), vec!["b"]);
    }

    #[test]
    fn peeking_never_confirms_and_nodes_are_separate() {
        let mut m = OrphanMemory::default();
        assert!(confirmed(&m.peek("n", &[o("a")])).is_empty());
        assert!(confirmed(&m.peek("n", &[o("a")])).is_empty());
        m.observe("n", &[o("a")]);
        assert!(confirmed(&m.observe("other", &[o("a")])).is_empty());
        assert_eq!(confirmed(&m.peek("n", &[o("a")])), vec!["a"]);
        m.forget("n", &o("a"));
        assert!(confirmed(&m.peek("n", &[o("a")])).is_empty());
    }
}
