//! Safety of a run: refuse to start where it could touch what is not its own, remember
//! everything it creates (before the call, so an interruption mid-call leaks nothing),
//! and remove it afterwards, also by name for `--cleanup RUN_ID`.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use reqwest::Method;
use serde_json::Value;

use super::api::{Api, Reply};
use super::{neighbour_port, ConformanceError, PortRange};

/// Extra endpoints a case may put on a backend's neighbouring ports (33-endpoint case).
pub const NEIGHBOURS: u16 = 32;

/// A rule the run may have created, by the address LoxiLB deletes it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRef {
    pub ip: String,
    pub port: u16,
    pub protocol: String,
}

impl RuleRef {
    pub fn path(&self) -> String {
        format!(
            "/config/loadbalancer/externalipaddress/{}/port/{}/protocol/{}",
            self.ip, self.port, self.protocol
        )
    }
}

/// A probe the run may have created: by name, or by `<host>_<type>_<port>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeRef {
    pub host: String,
    pub name: Option<String>,
    pub probe_type: String,
    pub port: u16,
}

impl ProbeRef {
    /// The probe a POST /config/endpoint body creates.
    pub fn of_body(body: &Value) -> Option<ProbeRef> {
        let host = body.get("hostName")?.as_str()?.to_string();
        let name = body
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .map(str::to_string);
        Some(ProbeRef {
            host,
            name,
            probe_type: body["probeType"].as_str().unwrap_or_default().to_string(),
            port: body["probePort"]
                .as_u64()
                .and_then(|p| u16::try_from(p).ok())
                .unwrap_or(0),
        })
    }

    pub fn path(&self) -> String {
        match &self.name {
            Some(n) => format!("/config/endpoint/epipaddress/{}?name={n}", self.host),
            None => format!(
                "/config/endpoint/epipaddress/{}?probe_type={}&probe_port={}",
                self.host, self.probe_type, self.port
            ),
        }
    }
}

/// What a run created and has not removed yet.
#[derive(Debug, Default)]
pub struct Guard {
    pub rules: Vec<RuleRef>,
    pub probes: Vec<ProbeRef>,
    /// Every `<ip>_tcp_<port>` probe key the run's rules and keyed probes may have made.
    /// The safety check proved none existed before the run, so any still listed at the
    /// end is the run's (e.g. a LoxiLB that keeps a probe after its last rule).
    pub touched: BTreeSet<(String, u16)>,
}

impl Guard {
    /// Remember the probe keys the endpoints of a posted rule make.
    pub fn touch_rule(&mut self, body: &Value) {
        for e in body["endpoints"].as_array().into_iter().flatten() {
            let ip = e["endpointIP"].as_str().unwrap_or_default();
            let port = e["targetPort"].as_u64().and_then(|p| u16::try_from(p).ok());
            if let (false, Some(port)) = (ip.is_empty(), port) {
                self.touched.insert((ip.to_string(), port));
            }
        }
    }
}

impl Guard {
    /// Delete everything remembered: rules first (their probes go with them), then probes.
    /// An absent object counts as removed; what could not be asked is returned.
    pub async fn release(&mut self, api: &Api) -> Vec<String> {
        let mut failed = Vec::new();
        let rules = std::mem::take(&mut self.rules);
        let probes = std::mem::take(&mut self.probes);
        let paths = rules
            .iter()
            .map(RuleRef::path)
            .chain(probes.iter().map(ProbeRef::path));
        let mut seen: Vec<String> = Vec::new();
        for path in paths {
            if seen.contains(&path) {
                continue;
            }
            if let Err(e) = api.call(Method::DELETE, &path, None).await {
                failed.push(format!("DELETE {path}: {e}"));
            }
            seen.push(path);
        }
        failed
    }
}

/// Whether a listed name belongs to the run `name` (`octavia-conformance-<id>`).
pub fn owned(listed: &str, name: &str) -> bool {
    listed == name
        || listed
            .strip_prefix(name)
            .is_some_and(|r| r.starts_with('-'))
}

/// The delete path of a listed rule (with portmax when it spans a range).
fn listed_rule_path(entry: &Value) -> Option<String> {
    let a = entry.get("serviceArguments")?;
    let ip = a.get("externalIP")?.as_str()?;
    let port = a.get("port")?.as_u64()?;
    let proto = a.get("protocol")?.as_str()?;
    let port_max = a.get("portMax").and_then(Value::as_u64).unwrap_or(0);
    Some(if port_max != 0 && port_max != port {
        format!("/config/loadbalancer/externalipaddress/{ip}/port/{port}/portmax/{port_max}/protocol/{proto}")
    } else {
        format!("/config/loadbalancer/externalipaddress/{ip}/port/{port}/protocol/{proto}")
    })
}

fn list<'a>(r: &'a Reply, key: &str) -> &'a [Value] {
    r.body
        .get(key)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// What a sweep removed and what stayed.
#[derive(Debug, Default)]
pub struct Sweep {
    pub rules: usize,
    pub probes: usize,
    /// Objects of the run still listed after the sweep.
    pub left: Vec<String>,
}

/// Remove every rule and named probe of run `name` that LoxiLB lists, then list again.
pub async fn sweep(api: &Api, name: &str) -> Result<Sweep, ConformanceError> {
    let mut out = Sweep::default();
    let rules = api
        .call(Method::GET, "/config/loadbalancer/all", None)
        .await?;
    for r in list(&rules, "lbAttr") {
        let listed = r["serviceArguments"]["name"].as_str().unwrap_or_default();
        if let (true, Some(path)) = (owned(listed, name), listed_rule_path(r)) {
            api.call(Method::DELETE, &path, None).await?;
            out.rules += 1;
        }
    }
    let probes = api.call(Method::GET, "/config/endpoint/all", None).await?;
    for p in list(&probes, "Attr") {
        let listed = p["name"].as_str().unwrap_or_default();
        let host = p["hostName"].as_str().unwrap_or_default();
        if owned(listed, name) {
            let path = format!("/config/endpoint/epipaddress/{host}?name={listed}");
            api.call(Method::DELETE, &path, None).await?;
            out.probes += 1;
        }
    }
    if api.dry() {
        return Ok(out);
    }
    let rules = api
        .call(Method::GET, "/config/loadbalancer/all", None)
        .await?;
    let probes = api.call(Method::GET, "/config/endpoint/all", None).await?;
    for r in list(&rules, "lbAttr") {
        let listed = r["serviceArguments"]["name"].as_str().unwrap_or_default();
        if owned(listed, name) {
            out.left.push(format!("rule {}", r["serviceArguments"]));
        }
    }
    for p in list(&probes, "Attr") {
        let listed = p["name"].as_str().unwrap_or_default();
        if owned(listed, name) {
            out.left.push(format!("probe {listed}"));
        }
    }
    Ok(out)
}

/// Delete the probe keys the run touched that LoxiLB still lists; what stays is returned.
pub async fn sweep_touched(
    api: &Api,
    touched: &BTreeSet<(String, u16)>,
) -> Result<Vec<String>, ConformanceError> {
    let listed = |r: &Reply| -> Vec<(String, u16)> {
        touched
            .iter()
            .filter(|(ip, port)| {
                let key = format!("{ip}_tcp_{port}");
                list(r, "Attr")
                    .iter()
                    .any(|p| p["name"].as_str() == Some(key.as_str()))
            })
            .cloned()
            .collect()
    };
    if touched.is_empty() || api.dry() {
        return Ok(Vec::new());
    }
    let probes = api.call(Method::GET, "/config/endpoint/all", None).await?;
    let found = listed(&probes);
    if found.is_empty() {
        return Ok(Vec::new());
    }
    for (ip, port) in &found {
        let path = format!("/config/endpoint/epipaddress/{ip}?probe_type=tcp&probe_port={port}");
        api.call(Method::DELETE, &path, None).await?;
    }
    let probes = api.call(Method::GET, "/config/endpoint/all", None).await?;
    Ok(listed(&probes)
        .into_iter()
        .map(|(ip, port)| format!("probe {ip}_tcp_{port}"))
        .collect())
}

/// Refuse to start when the VIP already has rules within the range, or a backend already
/// has a probe a run could create: LoxiLB deletes a probe with the last rule referring to
/// it, whoever created it, so our rules could take the daemon's probes with them.
pub async fn precheck(
    api: &Api,
    vip: IpAddr,
    range: PortRange,
    backends: &[SocketAddr],
) -> Result<(), ConformanceError> {
    let rules = api
        .call(Method::GET, "/config/loadbalancer/all", None)
        .await?;
    if api.dry() {
        api.call(Method::GET, "/config/endpoint/all", None).await?;
        return Ok(());
    }
    expect_listing(&rules, "lbAttr")?;
    for r in list(&rules, "lbAttr") {
        let a = &r["serviceArguments"];
        let port = a["port"].as_u64().unwrap_or(0);
        let port_max = a["portMax"].as_u64().filter(|m| *m != 0).unwrap_or(port);
        let lo = u16::try_from(port).unwrap_or(u16::MAX);
        let hi = u16::try_from(port_max).unwrap_or(u16::MAX);
        // Compared as addresses, so "fd00::1" and "fd00:0::1" are the same VIP.
        let listed: Option<IpAddr> = a["externalIP"].as_str().and_then(|s| s.parse().ok());
        if listed == Some(vip) && range.overlaps(lo, hi) {
            return Err(ConformanceError::Refused(format!(
                "{vip} already has a rule on ports {lo}-{hi} (name {}), within --port-range {}-{}; choose a free VIP or range",
                a["name"], range.first, range.last
            )));
        }
    }
    let probes = api.call(Method::GET, "/config/endpoint/all", None).await?;
    expect_listing(&probes, "Attr")?;
    for b in backends {
        for i in 0..=NEIGHBOURS {
            let key = format!("{}_tcp_{}", b.ip(), neighbour_port(b.port(), i));
            if list(&probes, "Attr")
                .iter()
                .any(|p| p["name"].as_str() == Some(key.as_str()))
            {
                return Err(ConformanceError::Refused(format!(
                    "backend {b}: probe {key} already exists; LoxiLB deletes a probe with the last rule referring to it, so this run could delete it. Use a backend nothing else probes"
                )));
            }
        }
    }
    Ok(())
}

/// A listing must answer 200; a 401 means LoxiLB wants credentials.
fn expect_listing(r: &Reply, key: &str) -> Result<(), ConformanceError> {
    if r.status == 200 && r.body.get(key).is_some() {
        return Ok(());
    }
    let wants_token =
        r.status == 401 || (r.status == 500 && r.body.to_string().contains("Token not found"));
    if wants_token {
        return Err(ConformanceError::Login(format!(
            "LoxiLB wants a token ({} {}): pass --username and --password, or --config with [loxilb] username/password",
            r.status, r.body
        )));
    }
    Err(ConformanceError::Refused(format!(
        "cannot list what exists on the node (answer {} {}); nothing was created",
        r.status, r.body
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_runs_own_names_are_owned() {
        let n = "octavia-conformance-ab12";
        assert!(owned(n, n));
        assert!(owned("octavia-conformance-ab12-none", n));
        assert!(!owned("octavia-conformance-ab123", n));
        assert!(!owned("lb-1", n));
    }

    #[test]
    fn delete_paths_follow_loxilb_routes() {
        let single =
            json!({"serviceArguments": {"externalIP": "10.0.0.1", "port": 80, "protocol": "tcp"}});
        assert_eq!(
            listed_rule_path(&single).as_deref(),
            Some("/config/loadbalancer/externalipaddress/10.0.0.1/port/80/protocol/tcp")
        );
        let range = json!({"serviceArguments": {"externalIP": "10.0.0.1", "port": 80, "portMax": 90, "protocol": "udp"}});
        assert!(listed_rule_path(&range).is_some_and(|p| p.contains("/portmax/90/")));
        let named = ProbeRef::of_body(
            &json!({"hostName": "10.0.0.2", "name": "n", "probeType": "tcp", "probePort": 80}),
        );
        assert_eq!(
            named.map(|p| p.path()).as_deref(),
            Some("/config/endpoint/epipaddress/10.0.0.2?name=n")
        );
        let keyed = ProbeRef::of_body(
            &json!({"hostName": "10.0.0.2", "probeType": "tcp", "probePort": 80}),
        );
        assert_eq!(
            keyed.map(|p| p.path()).as_deref(),
            Some("/config/endpoint/epipaddress/10.0.0.2?probe_type=tcp&probe_port=80")
        );
    }

    #[test]
    fn posted_endpoints_are_remembered_as_probe_keys() {
        let mut g = Guard::default();
        g.touch_rule(&json!({"endpoints": [
            {"endpointIP": "10.0.0.2", "targetPort": 80, "weight": 1},
            {"endpointIP": "10.0.0.2", "targetPort": 81, "weight": 1},
            {"endpointIP": "10.0.0.2", "targetPort": 80, "weight": 2}]}));
        g.touch_rule(&json!({"endpoints": null}));
        let keys: Vec<_> = g.touched.iter().cloned().collect();
        assert_eq!(
            keys,
            [("10.0.0.2".to_string(), 80), ("10.0.0.2".to_string(), 81)]
        );
    }

    #[test]
    fn a_token_refusal_asks_for_credentials() {
        let r = Reply::new(401, json!({"code": 401, "message": "invalid credentials"}));
        assert!(matches!(
            expect_listing(&r, "lbAttr"),
            Err(ConformanceError::Login(_))
        ));
        let r = Reply::new(200, json!({"lbAttr": []}));
        assert!(expect_listing(&r, "lbAttr").is_ok());
    }
}
