//! `validate-health-monitors`: does every node hold every probe our health monitors
//! need, with the options we would set? A read-only check for operators; the
//! reconciler is what repairs.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Applier, SyncError};
use crate::loxilb::{EndPoint, EndPointGetEntry};
use crate::recovery::diff::probe_difference;

/// One probe that is missing or differs on one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProbeDifference {
    pub node: String,
    pub probe: String,
    /// The health monitors that need this probe.
    pub monitors: Vec<String>,
    /// "missing", "unreachable node", or the fields that differ, wanted -> found
    /// (`probeDuration 5 -> 60`).
    pub problem: String,
}

/// Compare the wanted probes with one node's list (pure).
pub fn compare_node(
    node: &str,
    wanted: &BTreeMap<String, (EndPoint, Vec<String>)>,
    actual: &[EndPointGetEntry],
) -> Vec<ProbeDifference> {
    let by_name: BTreeMap<&str, &EndPointGetEntry> =
        actual.iter().map(|e| (e.name.as_str(), e)).collect();
    let mut out = Vec::new();
    for (name, (want, monitors)) in wanted {
        let problem = match by_name.get(name.as_str()) {
            None => "missing".to_string(),
            Some(have) => match probe_difference(want, have) {
                None => continue,
                Some(d) => d,
            },
        };
        out.push(ProbeDifference {
            node: node.to_string(),
            probe: name.clone(),
            monitors: monitors.clone(),
            problem,
        });
    }
    out
}

impl Applier {
    /// Every difference between the probes our monitors need and what each node has.
    pub async fn validate_probes(&self) -> Result<Vec<ProbeDifference>, SyncError> {
        let keys: BTreeSet<String> = self.store.referenced_probe_keys().await?;
        let refs = self.store.probe_refs_for(&keys).await?;
        let mut monitors: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for r in &refs {
            monitors
                .entry(r.probe_key.clone())
                .or_default()
                .insert(r.healthmonitor_id.clone());
        }
        let merged = super::merge_refs(refs);
        let wanted: BTreeMap<String, (EndPoint, Vec<String>)> = merged
            .into_iter()
            .map(|(k, ep)| {
                let m = monitors
                    .get(&k)
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default();
                (k, (ep, m))
            })
            .collect();
        let lists = self
            .client
            .for_each_node(|c, n| async move { c.list_endpoints(n).await })
            .await;
        let mut out = Vec::new();
        for (n, list) in lists {
            let url = self.client.node_url(n).to_string();
            match list {
                Ok(actual) => out.extend(compare_node(&url, &wanted, &actual)),
                Err(e) => out.push(ProbeDifference {
                    node: url,
                    probe: "*".into(),
                    monitors: Vec::new(),
                    problem: format!("unreachable node: {e}"),
                }),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(name: &str, duration: u32) -> EndPoint {
        EndPoint {
            host_name: "10.0.0.1".into(),
            name: name.into(),
            probe_type: "http".into(),
            probe_port: 80,
            probe_req: "/h".into(),
            probe_resp: "200".into(),
            probe_duration: duration,
            inactive_retries: 3,
        }
    }

    fn got(e: &EndPoint) -> EndPointGetEntry {
        EndPointGetEntry {
            host_name: e.host_name.clone(),
            name: e.name.clone(),
            probe_type: e.probe_type.clone(),
            probe_port: e.probe_port,
            probe_req: e.probe_req.clone(),
            probe_resp: e.probe_resp.clone(),
            probe_duration: e.probe_duration,
            inactive_retries: e.inactive_retries,
            curr_state: "ok".into(),
            ..Default::default()
        }
    }

    #[test]
    fn reports_missing_and_drifted_probes_only() {
        let wanted: BTreeMap<String, (EndPoint, Vec<String>)> = [
            ("a".to_string(), (ep("a", 5), vec!["hm1".to_string()])),
            ("b".to_string(), (ep("b", 5), vec!["hm1".to_string()])),
            ("c".to_string(), (ep("c", 5), vec!["hm2".to_string()])),
        ]
        .into();
        let actual = vec![got(&ep("a", 5)), got(&ep("b", 60)), got(&ep("x", 1))];
        let d = compare_node("n1", &wanted, &actual);
        assert_eq!(d.len(), 2, "{d:?}");
        assert_eq!(d[0].probe, "b");
        assert_eq!(d[0].problem, "probeDuration \"5\" -> \"60\"");
        assert_eq!(d[1].probe, "c");
        assert_eq!(d[1].problem, "missing");
        assert_eq!(d[1].monitors, vec!["hm2".to_string()]);
    }
}
