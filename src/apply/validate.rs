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

/// A wanted probe that is in place but failing on a node, and what LoxiLB requires of
/// the backend for it to pass (LoxiLB checks differently from Octavia's amphora).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DownProbe {
    pub node: String,
    pub probe: String,
    pub host: String,
    pub probe_type: String,
    /// `nok` (failing) or `red` (forced down).
    pub state: String,
    pub why: String,
}

/// What a probe of `probe_type` needs from the backend on LoxiLB (rules.go epCheckNow,
/// utils.HTTPSProber, loxilib's probers).
pub fn probe_requirement(probe_type: &str, state: &str) -> String {
    if state == "red" {
        return "the host was set red through /config/endpointhoststate".into();
    }
    match probe_type {
        "https" => "LoxiLB's HTTPS probe is a GET of url_path that passes only on status 200 \
             with a backend certificate LoxiLB can verify (system roots plus \
             /opt/loxilb/cert/rootCA.crt or /opt/loxilb/cert/<host>/rootCA.crt): a \
             self-signed or privately signed backend is down until its CA is installed there \
             (Octavia's amphora does not verify)"
            .into(),
        "http" => "LoxiLB's HTTP probe is a HEAD of url_path (redirects followed) that passes \
             only on status 200 within 2 s"
            .into(),
        "ping" => "the host does not answer ICMP echo".into(),
        t => format!("the backend does not accept a {t} connection on the probe port"),
    }
}

/// Wanted probes present on one node but not passing (pure).
pub fn down_on_node(
    node: &str,
    wanted: &BTreeMap<String, (EndPoint, Vec<String>)>,
    actual: &[EndPointGetEntry],
) -> Vec<DownProbe> {
    actual
        .iter()
        .filter(|e| wanted.contains_key(&e.name) && matches!(e.curr_state.as_str(), "nok" | "red"))
        .map(|e| DownProbe {
            node: node.to_string(),
            probe: e.name.clone(),
            host: e.host_name.clone(),
            probe_type: e.probe_type.clone(),
            state: e.curr_state.clone(),
            why: probe_requirement(&e.probe_type, &e.curr_state),
        })
        .collect()
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
    pub async fn validate_probes(&self) -> Result<Validation, SyncError> {
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
        let mut down = Vec::new();
        for (n, list) in lists {
            let url = self.client.node_url(n).to_string();
            match list {
                Ok(actual) => {
                    out.extend(compare_node(&url, &wanted, &actual));
                    down.extend(down_on_node(&url, &wanted, &actual));
                }
                Err(e) => out.push(ProbeDifference {
                    node: url,
                    probe: "*".into(),
                    monitors: Vec::new(),
                    problem: format!("unreachable node: {e}"),
                }),
            }
        }
        Ok(Validation {
            differences: out,
            down,
        })
    }
}

/// The answer of `validate-health-monitors`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Validation {
    /// Probes missing or configured differently: the daemon's problem (exit code 2).
    pub differences: Vec<ProbeDifference>,
    /// Probes in place but failing, with what LoxiLB needs from the backend.
    pub down: Vec<DownProbe>,
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

    /// A failing HTTPS probe is explained by what LoxiLB's HTTPSProber needs (a
    /// certificate it can verify), which Octavia's amphora does not ask for.
    #[test]
    fn failing_probes_say_what_loxilb_needs() {
        let mut https = ep("s", 5);
        https.probe_type = "https".into();
        let wanted: BTreeMap<String, (EndPoint, Vec<String>)> = [
            ("a".to_string(), (ep("a", 5), vec!["hm1".to_string()])),
            ("s".to_string(), (https.clone(), vec!["hm2".to_string()])),
        ]
        .into();
        let mut down = got(&https);
        down.curr_state = "nok".into();
        let mut foreign = got(&ep("x", 5));
        foreign.curr_state = "nok".into();
        let d = down_on_node("n1", &wanted, &[got(&ep("a", 5)), down, foreign]);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!((d[0].probe.as_str(), d[0].state.as_str()), ("s", "nok"));
        assert!(d[0].why.contains("certificate"), "{}", d[0].why);
        assert!(probe_requirement("http", "nok").contains("HEAD"));
        assert!(probe_requirement("https", "red").contains("red"));
    }
}
