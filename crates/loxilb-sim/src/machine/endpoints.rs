//! LoxiLB endpoint probes ("end-point hosts") through the API: create/update (rules.go
//! `AddEPHost`), delete (`DeleteEPHost`), host state (`SetEPHostState`), rule reference
//! counting and the GET listing (`GetEpHosts`).
//!
//! The key is `name` or `<hostName>_<probeType>_<probePort>`. POSTing an existing key is an
//! update: the options are replaced, but the host name, the rule references, the state and
//! the failure count stay, and the next check uses threshold 1 again (`initProberOn`). A
//! probe referenced by LB rules counts one reference per rule; API DELETE answers 409 while
//! any rule refers to it, and the last rule's release deletes it whoever created it.
//! The state machine of one probe is in [`super::ep_host`], when checks are due in
//! [`super::schedule`]; running them is the runtime's job, asked for with [`Effect`]s.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::{Serialize, Serializer};

use super::answer::{success, Answer};
use super::effect::Effect;
use super::ep_host::{make_key, Endpoint, ProbeOpts, PROBE_TYPES};
use super::sim::Sim;
use crate::error::ApiError;
use crate::flip::Flip;
use crate::model::{EndPointHostStateIn, EndPointIn};

/// The endpoint-probe calls of the LoxiLB API, already bound from HTTP.
#[derive(Debug, Clone)]
pub(crate) enum EndpointOp {
    /// POST /config/endpoint. `host_ca` is what the runtime found for an https probe's
    /// per-host CA (`<certdir>/<host>/rootCA.crt`, each PEM; Err when a file exists but
    /// cannot be read), so that the machine decides without touching the file system.
    Add {
        input: EndPointIn,
        host_ca: Result<Vec<Vec<u8>>, ()>,
    },
    /// GET /config/endpoint/all.
    List,
    /// DELETE /config/endpoint/epipaddress/{ip} with its query parameters.
    Delete {
        host: String,
        name: String,
        probe_type: String,
        probe_port: u16,
    },
    /// POST /config/endpointhoststate.
    HostState(EndPointHostStateIn),
}

/// Answer one endpoint-probe call.
pub(crate) fn handle(sim: &mut Sim, op: EndpointOp) -> Result<Answer, ApiError> {
    match op {
        EndpointOp::Add { input, host_ca } => sim.ep_post(input, host_ca).map(|()| success()),
        EndpointOp::List => Ok((200, sim.ep_list_json())),
        EndpointOp::Delete {
            host,
            name,
            probe_type,
            probe_port,
        } => sim
            .ep_delete(&host, &name, &probe_type, probe_port)
            .map(|()| success()),
        EndpointOp::HostState(input) => sim.ep_host_state(input).map(|()| success()),
    }
}

/// LoxiLB's MaxDflLbaInactiveTries.
const MAX_RETRIES: i64 = 100;
/// LoxiLB's MaxHostProbeTime (seconds).
const MAX_PROBE_DURATION: u32 = 86_400;

/// Validate an API endpoint like validateEPHostOpts (same order and texts), after the
/// handler's integer conversions: probePort is cut to 16 bits and probeDuration to 32
/// (Go's `uint16(...)`, `uint32(...)`), so -1 seconds is out of range and port 65616 is 80.
/// A negative inactiveReTries passes, and behaves like 0 (never inactive after the first
/// check), which is how it is stored.
///
/// Not modelled here: go-swagger rejects a non-empty unknown probeType and a missing
/// hostName with 422 before the handler runs; the simulator answers those 400.
fn validate(input: &EndPointIn) -> Result<ProbeOpts, ApiError> {
    if input.host_name.parse::<IpAddr>().is_err() {
        return Err(ApiError::BadArgs("host-parse error".into()));
    }
    let retries = input.inactive_re_tries;
    // Go's uint32(int64) conversion keeps the low 32 bits.
    let duration = input.probe_duration as u32;
    if retries > MAX_RETRIES || duration > MAX_PROBE_DURATION {
        return Err(ApiError::BadArgs("host-args error".into()));
    }
    if !PROBE_TYPES.contains(&input.probe_type.as_str()) {
        return Err(ApiError::BadArgs("host-args unknown probe type".into()));
    }
    // Go's uint16(int64) conversion keeps the low 16 bits.
    let port = input.probe_port as u16;
    if matches!(input.probe_type.as_str(), "tcp" | "udp" | "sctp") && port == 0 {
        return Err(ApiError::BadArgs("host-args unknown probe port".into()));
    }
    Ok(ProbeOpts {
        probe_type: input.probe_type.clone(),
        port,
        req: input.probe_req.clone(),
        resp: input.probe_resp.clone(),
        duration,
        retries: u32::try_from(retries).unwrap_or(0),
    })
}

impl Sim {
    /// Hand `ep` to the checkers under a fresh generation (an in-flight check is dropped);
    /// a new endpoint gets its checker round robin, as LoxiLB's lepHID.
    fn restart_prober(&mut self, ep: &mut Endpoint) {
        ep.gen = self.gen();
        self.emit(Effect::CancelCheck {
            key: ep.key.clone(),
        });
        if ep.helper.is_none() {
            ep.helper = Some(self.assign_checker());
        }
        ep.probed = true;
        self.emit(Effect::StartCheckers);
    }

    /// POST /config/endpoint (AddEPHost with apiCall): create, or update an existing key.
    /// An API probe is activated unless its type is "none". An https probe first appends
    /// the per-host CA to the pool (a file that exists but cannot be read fails the call).
    pub fn ep_post(
        &mut self,
        input: EndPointIn,
        host_ca: Result<Vec<Vec<u8>>, ()>,
    ) -> Result<(), ApiError> {
        let opts = validate(&input)?;
        if opts.probe_type == "https" {
            let pems =
                host_ca.map_err(|()| ApiError::Status(500, "rootca cert load failed".into()))?;
            for pem in pems {
                self.emit(Effect::TrustCa { pem });
            }
        }
        let key = if input.name.is_empty() {
            make_key(&input.host_name, &opts.probe_type, opts.port)
        } else {
            input.name.clone()
        };
        let activated = opts.probe_type != "none";
        let mut ep = match self.endpoints.remove(&key) {
            Some(mut ep) => {
                // Host name, rule count, state, failure count, checker and last check stay.
                ep.curr_duration = opts.duration;
                ep.opts = opts;
                if self.flip() == Some(Flip::ProbeRepostMovesHost) {
                    ep.host = input.host_name.clone();
                }
                ep.init = true;
                ep
            }
            None => Endpoint::new(key.clone(), input.host_name.clone(), opts),
        };
        ep.activated = activated;
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
                self.remove_endpoint(&key);
                Ok(())
            }
        }
    }

    /// POST /config/endpointhoststate (SetEPHostState, v0.9.8.2 and later). With epProto
    /// and epPort the probe `<hostName>_<epProto>_<epPort>` must exist; with neither, every
    /// probe of the host is set, and no match is not an error. Red forces currState "red"
    /// and makes rules treat the endpoint as down; green and yellow lift it. The host name
    /// is not parsed.
    pub fn ep_host_state(&mut self, input: EndPointHostStateIn) -> Result<(), ApiError> {
        let red = match input.state.as_str() {
            "red" => true,
            "green" | "yellow" => false,
            _ => return Err(ApiError::BadArgs("unknown ep-host-state".into())),
        };
        // The handler's uint16(...) conversion.
        let port = input.ep_port as u16;
        if (port != 0) == input.ep_proto.is_empty() {
            // LoxiLB maps this text to no status class: 500.
            return Err(ApiError::Status(500, "ep-host-state args error".into()));
        }
        if !input.ep_proto.is_empty() {
            let key = make_key(&input.host_name, &input.ep_proto, port);
            let Some(ep) = self.endpoints.get_mut(&key) else {
                return Err(ApiError::NotFound("ephost-notfound error".into()));
            };
            ep.red = red;
            return Ok(());
        }
        for ep in self.endpoints.values_mut() {
            if ep.host == input.host_name {
                ep.red = red;
            }
        }
        Ok(())
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
        if gone && self.flip() != Some(Flip::ProbeOutlivesLastRule) {
            self.remove_endpoint(key);
        }
        gone
    }

    /// Insert an endpoint that is never probed (scale tests); replaces an existing key but
    /// keeps its rule references.
    pub fn ep_script(&mut self, mut ep: Endpoint) {
        if let Some(old) = self.remove_endpoint(&ep.key) {
            ep.rule_count = old.rule_count;
        }
        ep.gen = self.gen();
        ep.probed = false;
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

    /// Mirrors rules.go validateEPHostOpts (order and texts) after the handler's conversions.
    #[test]
    fn validateephostopts_texts_order_and_go_conversions() {
        let base = EndPointIn {
            host_name: "10.0.0.1".into(),
            probe_type: "tcp".into(),
            probe_port: 80,
            ..Default::default()
        };
        assert!(validate(&base).is_ok());
        let run = |f: &dyn Fn(&mut EndPointIn)| {
            let mut e = base.clone();
            f(&mut e);
            validate(&e)
        };
        let bad =
            |f: &dyn Fn(&mut EndPointIn)| run(f).err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(bad(&|e| e.host_name = "nope".into()), "host-parse error");
        assert_eq!(
            bad(&|e| {
                e.host_name = "nope".into();
                e.inactive_re_tries = 101;
            }),
            "host-parse error",
            "host first"
        );
        assert_eq!(bad(&|e| e.inactive_re_tries = 101), "host-args error");
        assert_eq!(bad(&|e| e.probe_duration = 86_401), "host-args error");
        assert_eq!(bad(&|e| e.probe_duration = -1), "host-args error");
        assert_eq!(
            bad(&|e| {
                e.probe_type = "icmp".into();
                e.probe_duration = 86_401;
            }),
            "host-args error",
            "ranges before type"
        );
        assert_eq!(
            bad(&|e| e.probe_type = String::new()),
            "host-args unknown probe type"
        );
        assert_eq!(bad(&|e| e.probe_port = 0), "host-args unknown probe port");
        assert_eq!(
            bad(&|e| e.probe_port = 65_536),
            "host-args unknown probe port"
        );
        let port = run(&|e| e.probe_port = 65_536 + 80).map(|o| o.port);
        assert_eq!(port.ok(), Some(80), "uint16 conversion");
        let retries = run(&|e| e.inactive_re_tries = -1).map(|o| o.retries);
        assert_eq!(retries.ok(), Some(0), "negative retries accepted");
        assert!(run(&|e| {
            e.probe_type = "http".into();
            e.probe_port = 0;
        })
        .is_ok());
    }
}
