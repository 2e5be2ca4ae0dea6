//! LoxiLB endpoint probes ("end-point hosts"): API create/update/delete, host state,
//! rule reference counting and the GET listing.
//!
//! Modelled on LoxiLB's rules.go: the key is `name` or `<hostName>_<probeType>_<probePort>`;
//! POSTing an existing key replaces the options and restarts probing; a probe created or
//! referenced by LB rules counts one reference per rule, API DELETE answers 409 while any rule
//! refers to it, and the last rule's release deletes it whoever created it.
//!
//! State model: a new (or updated) endpoint reports `ok` until a probe fails; the first probe
//! after a create/update marks it `nok` after one failure (LoxiLB's "init prober" rule), later
//! probes need `inactiveReTries` consecutive failures; one success makes it `ok` again and
//! resets the failure count. `red` (via /config/endpointhoststate) overrides both until the
//! host is set green/yellow again.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::error::ApiError;
use crate::godur::go_duration;
use crate::model::{EndPointGetEntry, EndPointHostStateIn, EndPointIn};
use crate::probe::ProberGuard;
use crate::state::State;

/// Probe types LoxiLB accepts.
pub(crate) const PROBE_TYPES: [&str; 7] = ["tcp", "udp", "sctp", "ping", "http", "https", "none"];
/// LoxiLB's MaxDflLbaInactiveTries.
const MAX_RETRIES: i64 = 100;
/// LoxiLB's MaxHostProbeTime (seconds).
const MAX_PROBE_DURATION: i64 = 86_400;

/// The options of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProbeOpts {
    pub probe_type: String,
    pub port: u16,
    pub req: String,
    pub resp: String,
    /// Probe interval in seconds.
    pub duration: u32,
    pub retries: u32,
}

/// Round-trip statistics of successful probes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Delays {
    min: Duration,
    max: Duration,
    total: Duration,
    count: u32,
}

impl Delays {
    fn add(&mut self, d: Duration) {
        if self.count == 0 || d < self.min {
            self.min = d;
        }
        self.max = self.max.max(d);
        self.total = self.total.saturating_add(d);
        self.count = self.count.saturating_add(1);
    }
    fn avg(&self) -> Duration {
        if self.count == 0 {
            Duration::ZERO
        } else {
            self.total / self.count
        }
    }
}

/// One endpoint probe as LoxiLB keeps it.
pub(crate) struct Endpoint {
    pub key: String,
    pub host: String,
    pub opts: ProbeOpts,
    /// LoxiLB's probeActivated: false for probeType none (listed as "none", never probed).
    pub activated: bool,
    pub inactive: bool,
    pub fails: u32,
    /// Next probe result uses threshold 1 (first probe after create/update).
    pub init: bool,
    pub red: bool,
    /// Number of LB rules referring to this probe.
    pub rule_count: u32,
    pub delays: Delays,
    /// Generation of the current prober; results from older generations are ignored.
    pub gen: u64,
    /// Dropping the guard stops the prober task.
    pub prober: Option<ProberGuard>,
}

impl Endpoint {
    pub fn new(key: String, host: String, opts: ProbeOpts) -> Self {
        let activated = opts.probe_type != "none";
        Endpoint {
            key,
            host,
            opts,
            activated,
            inactive: false,
            fails: 0,
            init: true,
            red: false,
            rule_count: 0,
            delays: Delays::default(),
            gen: 0,
            prober: None,
        }
    }

    /// LoxiLB's currState.
    pub fn curr_state(&self) -> &'static str {
        if self.red {
            "red"
        } else if self.inactive {
            "nok"
        } else {
            "ok"
        }
    }

    /// Whether LB rules consider this endpoint usable.
    pub fn is_up(&self) -> bool {
        !self.red && !self.inactive
    }

    /// Apply one probe result.
    pub fn record_probe(&mut self, ok: bool, elapsed: Duration) {
        let threshold = if self.init {
            1
        } else {
            self.opts.retries.max(1)
        };
        self.init = false;
        if ok {
            self.inactive = false;
            self.fails = 0;
            self.delays.add(elapsed);
        } else {
            self.fails = self.fails.saturating_add(1);
            if self.fails >= threshold {
                self.inactive = true;
            }
        }
    }

    /// The GET /config/endpoint/all entry (LoxiLB hides options of non-activated probes).
    pub fn entry(&self) -> EndPointGetEntry<'_> {
        let (ptype, duration, retries) = if self.activated {
            (
                self.opts.probe_type.as_str(),
                self.opts.duration,
                self.opts.retries,
            )
        } else {
            ("none", 0, 0)
        };
        EndPointGetEntry {
            host_name: &self.host,
            name: &self.key,
            inactive_re_tries: retries,
            probe_type: ptype,
            probe_req: &self.opts.req,
            probe_resp: &self.opts.resp,
            probe_duration: duration,
            probe_port: self.opts.port,
            min_delay: go_duration(self.delays.min),
            avg_delay: go_duration(self.delays.avg()),
            max_delay: go_duration(self.delays.max),
            curr_state: self.curr_state(),
        }
    }
}

/// `<host>_<type>_<port>`, the key LoxiLB derives when no name is given.
pub(crate) fn make_key(host: &str, probe_type: &str, port: u16) -> String {
    format!("{host}_{probe_type}_{port}")
}

/// Validate an API endpoint the way LoxiLB's validateEPHostOpts does (same order and texts).
fn validate(input: &EndPointIn) -> Result<ProbeOpts, ApiError> {
    if input.host_name.parse::<IpAddr>().is_err() {
        return Err(ApiError::BadArgs("host-parse error".into()));
    }
    let retries = input.inactive_re_tries;
    let duration = input.probe_duration;
    if !(0..=MAX_RETRIES).contains(&retries) || !(0..=MAX_PROBE_DURATION).contains(&duration) {
        return Err(ApiError::BadArgs("host-args error".into()));
    }
    if !PROBE_TYPES.contains(&input.probe_type.as_str()) {
        return Err(ApiError::BadArgs("host-args unknown probe type".into()));
    }
    let port = u16::try_from(input.probe_port)
        .map_err(|_| ApiError::BadArgs("host-args unknown probe port".into()))?;
    if matches!(input.probe_type.as_str(), "tcp" | "udp" | "sctp") && port == 0 {
        return Err(ApiError::BadArgs("host-args unknown probe port".into()));
    }
    Ok(ProbeOpts {
        probe_type: input.probe_type.clone(),
        port,
        req: input.probe_req.clone(),
        resp: input.probe_resp.clone(),
        duration: u32::try_from(duration).unwrap_or(0),
        retries: u32::try_from(retries).unwrap_or(0),
    })
}

impl State {
    /// (Re)start probing of `ep` under a fresh generation.
    fn restart_prober(&mut self, ep: &mut Endpoint) {
        ep.gen = self.gen();
        ep.prober = None;
        if ep.activated {
            ep.prober = self
                .probe
                .start(ep.key.clone(), ep.gen, ep.host.clone(), ep.opts.clone());
        }
    }

    /// POST /config/endpoint: create, or replace the options of an existing key.
    pub fn ep_post(&mut self, input: EndPointIn) -> Result<(), ApiError> {
        let opts = validate(&input)?;
        let key = if input.name.is_empty() {
            make_key(&input.host_name, &opts.probe_type, opts.port)
        } else {
            input.name.clone()
        };
        let mut ep = match self.endpoints.remove(&key) {
            Some(mut ep) => {
                ep.host = input.host_name.clone();
                ep.opts = opts;
                ep.activated = ep.opts.probe_type != "none";
                ep.init = true;
                ep.fails = 0;
                if !ep.activated {
                    ep.inactive = false;
                }
                ep
            }
            None => Endpoint::new(key.clone(), input.host_name.clone(), opts),
        };
        self.restart_prober(&mut ep);
        self.endpoints.insert(key, ep);
        Ok(())
    }

    /// DELETE /config/endpoint/epipaddress/{ip}.
    pub fn ep_delete(
        &mut self,
        host: &str,
        name: &str,
        probe_type: &str,
        probe_port: u16,
    ) -> Result<(), ApiError> {
        let key = if name.is_empty() {
            make_key(host, probe_type, probe_port)
        } else {
            name.to_string()
        };
        match self.endpoints.get(&key) {
            None => Err(ApiError::NotFound("host-notfound error".into())),
            Some(ep) if ep.rule_count > 0 => Err(ApiError::Conflict("LB Rule-referred".into())),
            Some(_) => {
                self.endpoints.remove(&key);
                Ok(())
            }
        }
    }

    /// POST /config/endpointhoststate: red forces currState "red" on every matching probe of
    /// the host; green and yellow lift it. `epPort` 0 and empty `epProto` match any.
    pub fn ep_host_state(&mut self, input: EndPointHostStateIn) -> Result<(), ApiError> {
        if input.host_name.parse::<IpAddr>().is_err() {
            return Err(ApiError::BadArgs("host-parse error".into()));
        }
        let red = match input.state.as_str() {
            "red" => true,
            "green" | "yellow" => false,
            _ => return Err(ApiError::BadArgs("host-args error".into())),
        };
        let port = u16::try_from(input.ep_port)
            .map_err(|_| ApiError::BadArgs("host-args error".into()))?;
        let mut found = false;
        for ep in self.endpoints.values_mut() {
            if ep.host != input.host_name {
                continue;
            }
            if port != 0 && ep.opts.port != port {
                continue;
            }
            if !input.ep_proto.is_empty()
                && ep.opts.probe_type != input.ep_proto
                && !ep.key.contains(&format!("_{}_", input.ep_proto))
            {
                continue;
            }
            ep.red = red;
            found = true;
        }
        if found {
            Ok(())
        } else {
            Err(ApiError::NotFound("host-notfound error".into()))
        }
    }

    /// AddEPHost(apiCall false): a rule starts referring to probe `key`. An existing entry
    /// only counts one more reference (options, host and activation untouched); a new one
    /// gets `opts` and probes only when the rule activates probing (`activated`).
    pub fn ep_acquire(&mut self, key: &str, host: &str, opts: &ProbeOpts, activated: bool) {
        if let Some(ep) = self.endpoints.get_mut(key) {
            ep.rule_count = ep.rule_count.saturating_add(1);
            return;
        }
        let mut ep = Endpoint::new(key.to_string(), host.to_string(), opts.clone());
        ep.activated = activated;
        ep.rule_count = 1;
        self.restart_prober(&mut ep);
        self.endpoints.insert(key.to_string(), ep);
    }

    /// DeleteEPHost(apiCall false): a rule stops referring to probe `key`; the last
    /// reference deletes it. True when the entry was deleted (LoxiLB's success).
    pub fn ep_release(&mut self, key: &str) -> bool {
        let gone = match self.endpoints.get_mut(key) {
            Some(ep) => {
                ep.rule_count = ep.rule_count.saturating_sub(1);
                ep.rule_count == 0
            }
            None => false,
        };
        if gone {
            self.endpoints.remove(key);
        }
        gone
    }

    /// Insert an endpoint that is never probed (scale tests); replaces an existing key but
    /// keeps its rule references.
    pub fn ep_script(&mut self, mut ep: Endpoint) {
        if let Some(old) = self.endpoints.get(&ep.key) {
            ep.rule_count = old.rule_count;
        }
        ep.gen = self.gen();
        self.endpoints.insert(ep.key.clone(), ep);
    }

    /// Force a currState: ok, nok or red. False if the key or state is unknown.
    pub fn ep_force_state(&mut self, key: &str, state: &str) -> bool {
        let Some(ep) = self.endpoints.get_mut(key) else {
            return false;
        };
        match state {
            "ok" => {
                ep.inactive = false;
                ep.red = false;
                ep.fails = 0;
            }
            "nok" => {
                ep.inactive = true;
                ep.red = false;
            }
            "red" => ep.red = true,
            _ => return false,
        }
        true
    }

    /// GET /config/endpoint/all body, serialised straight from the map (O(n)).
    pub fn ep_list_json(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Out<'a> {
            #[serde(rename = "Attr")]
            attr: All<'a>,
        }
        serde_json::to_vec(&Out {
            attr: All(&self.endpoints),
        })
        .unwrap_or_else(|_| b"{\"Attr\":[]}".to_vec())
    }
}

/// Serialises all endpoints as a JSON array without an intermediate Vec.
struct All<'a>(&'a BTreeMap<String, Endpoint>);

impl Serialize for All<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.values().map(Endpoint::entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(retries: u32) -> ProbeOpts {
        ProbeOpts {
            probe_type: "tcp".into(),
            port: 80,
            req: String::new(),
            resp: String::new(),
            duration: 1,
            retries,
        }
    }

    #[test]
    fn first_probe_failure_marks_nok_then_consecutive_failures_count() {
        let mut ep = Endpoint::new("k".into(), "10.0.0.1".into(), opts(3));
        assert_eq!(ep.curr_state(), "ok");
        ep.record_probe(false, Duration::ZERO);
        assert_eq!(ep.curr_state(), "nok", "init prober uses threshold 1");
        ep.record_probe(true, Duration::from_millis(1));
        assert_eq!(ep.curr_state(), "ok");
        ep.record_probe(false, Duration::ZERO);
        ep.record_probe(false, Duration::ZERO);
        assert_eq!(ep.curr_state(), "ok");
        ep.record_probe(true, Duration::ZERO);
        ep.record_probe(false, Duration::ZERO);
        ep.record_probe(false, Duration::ZERO);
        assert_eq!(ep.curr_state(), "ok", "success resets the failure count");
        ep.record_probe(false, Duration::ZERO);
        assert_eq!(ep.curr_state(), "nok");
        ep.red = true;
        assert_eq!(ep.curr_state(), "red");
        assert!(!ep.is_up());
    }

    #[test]
    fn validation_texts_follow_loxilb() {
        let base = EndPointIn {
            host_name: "10.0.0.1".into(),
            probe_type: "tcp".into(),
            probe_port: 80,
            ..Default::default()
        };
        assert!(validate(&base).is_ok());
        let bad = |f: &dyn Fn(&mut EndPointIn)| {
            let mut e = base.clone();
            f(&mut e);
            validate(&e)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(bad(&|e| e.host_name = "nope".into()), "host-parse error");
        assert_eq!(bad(&|e| e.inactive_re_tries = 101), "host-args error");
        assert_eq!(bad(&|e| e.probe_duration = 86_401), "host-args error");
        assert_eq!(
            bad(&|e| e.probe_type = "icmp".into()),
            "host-args unknown probe type"
        );
        assert_eq!(bad(&|e| e.probe_port = 0), "host-args unknown probe port");
        assert_eq!(
            bad(&|e| e.probe_port = 70_000),
            "host-args unknown probe port"
        );
    }
}
