//! Wire types of the LoxiLB REST API (`/netlox/v1`).
//!
//! Field names follow LoxiLB's JSON exactly (via serde renames) so the structs can be posted
//! and read back unchanged. Responses are parsed leniently: unknown fields are ignored,
//! missing fields take their zero value (LoxiLB's Go models omit zero values) and `null`
//! lists read as empty, because a newer or older LoxiLB must not make a whole listing
//! unreadable. Integer enums keep unknown codes in an `Unknown` variant for the same reason.

use serde::{Deserialize, Deserializer, Serialize};

/// Reads a JSON `null` (Go's nil slice) as an empty list.
fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Defines an enum that LoxiLB encodes as a JSON integer. Unknown codes are preserved so
/// that a value written by a newer LoxiLB round-trips instead of failing the whole parse.
macro_rules! int_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "i64", into = "i64")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A code this client does not know (kept verbatim).
            Unknown(i64),
        }

        impl From<i64> for $name {
            fn from(code: i64) -> Self {
                match code {
                    $($code => Self::$variant,)+
                    other => Self::Unknown(other),
                }
            }
        }

        impl From<$name> for i64 {
            fn from(value: $name) -> i64 {
                match value {
                    $($name::$variant => $code,)+
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}

int_enum! {
    /// Load-balancing algorithm (`serviceArguments.sel`).
    #[derive(Default)]
    Sel {
        #[default]
        RoundRobin = 0,
        Hash = 1,
        Priority = 2,
        Persist = 3,
        LeastConnections = 4,
        N2 = 5,
        N3 = 6,
    }
}

int_enum! {
    /// NAT mode of a rule (`serviceArguments.mode`).
    #[derive(Default)]
    Mode {
        #[default]
        Dnat = 0,
        OneArm = 1,
        FullNat = 2,
        Dsr = 3,
        FullProxy = 4,
        HostOneArm = 5,
    }
}

int_enum! {
    /// What a POST of an existing rule does with its endpoint list (`serviceArguments.oper`).
    #[derive(Default)]
    Oper {
        /// The posted list replaces the rule's list.
        #[default]
        Create = 0,
        /// The posted endpoints are added.
        Attach = 1,
        /// The posted endpoints are removed.
        Detach = 2,
    }
}

/// The key LoxiLB uses for a probe it creates for a rule's endpoint, and the name the
/// coordinator must give its own probes so that rules consult them.
pub fn probe_key(ip: &str, probe_type: &str, port: u16) -> String {
    format!("{ip}_{probe_type}_{port}")
}

/// Body of `POST /config/endpoint`: a health probe towards one host.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EndPoint {
    #[serde(rename = "hostName")]
    pub host_name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "probeType", skip_serializing_if = "String::is_empty")]
    pub probe_type: String,
    #[serde(rename = "probePort")]
    pub probe_port: u16,
    #[serde(rename = "probeReq", skip_serializing_if = "String::is_empty")]
    pub probe_req: String,
    #[serde(rename = "probeResp", skip_serializing_if = "String::is_empty")]
    pub probe_resp: String,
    /// Probe interval in seconds.
    #[serde(rename = "probeDuration")]
    pub probe_duration: u32,
    /// Consecutive failures before the probe reports "nok".
    #[serde(rename = "inactiveReTries")]
    pub inactive_retries: u32,
}

/// What LoxiLB reports for a probe's health (`currState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeState {
    /// "ok": the probe passes.
    Ok,
    /// "nok": the probe failed `inactiveReTries` times in a row.
    Nok,
    /// "red": the host was forced red through `/config/endpointhoststate`.
    Red,
    /// Anything else, verbatim (empty when LoxiLB has not probed yet).
    Other(String),
}

/// One entry of `GET /config/endpoint/all`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EndPointGetEntry {
    #[serde(rename = "hostName")]
    pub host_name: String,
    pub name: String,
    #[serde(rename = "probeType")]
    pub probe_type: String,
    #[serde(rename = "probePort")]
    pub probe_port: u16,
    #[serde(rename = "probeReq")]
    pub probe_req: String,
    #[serde(rename = "probeResp")]
    pub probe_resp: String,
    #[serde(rename = "probeDuration")]
    pub probe_duration: u32,
    #[serde(rename = "inactiveReTries")]
    pub inactive_retries: u32,
    #[serde(rename = "minDelay")]
    pub min_delay: String,
    #[serde(rename = "avgDelay")]
    pub avg_delay: String,
    #[serde(rename = "maxDelay")]
    pub max_delay: String,
    #[serde(rename = "currState")]
    pub curr_state: String,
}

impl EndPointGetEntry {
    /// `currState` mapped to the values LoxiLB is known to report.
    pub fn probe_state(&self) -> ProbeState {
        match self.curr_state.as_str() {
            "ok" => ProbeState::Ok,
            "nok" => ProbeState::Nok,
            "red" => ProbeState::Red,
            other => ProbeState::Other(other.to_string()),
        }
    }
}

/// Forced host state for `POST /config/endpointhoststate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HostState {
    Green,
    Yellow,
    Red,
}

/// Body of `POST /config/endpointhoststate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndPointHostState {
    #[serde(rename = "hostName")]
    pub host_name: String,
    /// 0 when not applicable.
    #[serde(rename = "epPort", default)]
    pub ep_port: u16,
    /// Empty when not applicable.
    #[serde(rename = "epProto", default)]
    pub ep_proto: String,
    pub state: HostState,
}

/// The service half of a rule. Fields LoxiLB documents but the coordinator rarely sets
/// are `Option` and omitted when unset.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ServiceArguments {
    #[serde(rename = "externalIP")]
    pub external_ip: String,
    pub port: u16,
    #[serde(rename = "portMax")]
    pub port_max: u16,
    pub protocol: String,
    pub sel: Sel,
    pub mode: Mode,
    pub monitor: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub probetype: String,
    pub probeport: u16,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub probereq: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub proberesp: String,
    #[serde(rename = "probeTimeout")]
    pub probe_timeout: u32,
    #[serde(rename = "probeRetries")]
    pub probe_retries: i32,
    #[serde(rename = "inactiveTimeOut")]
    pub inactive_timeout: i32,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub oper: Oper,
    #[serde(rename = "privateIP", skip_serializing_if = "Option::is_none")]
    pub private_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bgp: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snat: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxyprotocolv2: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub egress: Option<bool>,
}

/// One backend of a rule. `state` ("active"/"inactive") and `counter`
/// ("<packets>:<bytes>") are only reported by LoxiLB, never posted.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LbEndpoint {
    #[serde(rename = "endpointIP")]
    pub endpoint_ip: String,
    #[serde(rename = "targetPort")]
    pub target_port: u16,
    pub weight: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counter: Option<String>,
}

/// A secondary address of a (multi-homed, e.g. SCTP) rule.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SecondaryIp {
    #[serde(rename = "secondaryIP")]
    pub secondary_ip: String,
}

/// A source prefix allowed to reach a rule.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AllowedSource {
    pub prefix: String,
}

/// A load-balancer rule: body of `POST /config/loadbalancer` and entry of its listing.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadbalanceEntry {
    #[serde(rename = "serviceArguments")]
    pub service_arguments: ServiceArguments,
    #[serde(deserialize_with = "null_as_empty")]
    pub endpoints: Vec<LbEndpoint>,
    #[serde(
        rename = "secondaryIPs",
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub secondary_ips: Vec<SecondaryIp>,
    #[serde(
        rename = "allowedSources",
        deserialize_with = "null_as_empty",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub allowed_sources: Vec<AllowedSource>,
}

/// `GET /config/loadbalancer/all`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RuleList {
    #[serde(rename = "lbAttr", deserialize_with = "null_as_empty")]
    pub lb_attr: Vec<LoadbalanceEntry>,
}

/// `GET /config/endpoint/all`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct EndPointList {
    #[serde(rename = "Attr", deserialize_with = "null_as_empty")]
    pub attr: Vec<EndPointGetEntry>,
}

/// `GET /version`. Stock LoxiLB reports only `version` and `buildInfo`; the simulator (and
/// builds that expose it) add boot identity fields, read leniently as raw JSON so that an
/// unexpected type there never makes the liveness check fail.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct VersionGetEntry {
    pub version: String,
    #[serde(rename = "buildInfo")]
    pub build_info: String,
    #[serde(rename = "bootId")]
    pub boot_id: Option<serde_json::Value>,
    #[serde(rename = "startTime")]
    pub start_time: Option<serde_json::Value>,
    #[serde(rename = "uptimeSeconds")]
    pub uptime_seconds: Option<serde_json::Value>,
}

/// `POST /auth/login` body. Deliberately not `Debug` so the password cannot be logged.
#[derive(Serialize)]
pub(crate) struct LoginRequest<'a> {
    pub username: &'a str,
    pub password: &'a str,
}

/// `POST /auth/login` answer. Not `Debug`: the token is a secret.
#[derive(Deserialize)]
pub(crate) struct LoginResponse {
    #[serde(default)]
    pub token: String,
}

/// LoxiLB's error body; only the fields the client reports.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ErrorBody {
    pub message: String,
    pub result: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn enums_serialise_as_integers_and_keep_unknown_codes() {
        assert_eq!(
            serde_json::to_value(Sel::LeastConnections).unwrap(),
            json!(4)
        );
        assert_eq!(serde_json::to_value(Mode::HostOneArm).unwrap(), json!(5));
        assert_eq!(serde_json::to_value(Oper::Detach).unwrap(), json!(2));
        assert_eq!(serde_json::from_value::<Sel>(json!(6)).unwrap(), Sel::N3);
        assert_eq!(
            serde_json::from_value::<Mode>(json!(2)).unwrap(),
            Mode::FullNat
        );
        assert_eq!(
            serde_json::from_value::<Mode>(json!(9)).unwrap(),
            Mode::Unknown(9)
        );
        assert_eq!(serde_json::to_value(Mode::Unknown(9)).unwrap(), json!(9));
        assert!(serde_json::from_value::<Sel>(json!("rr")).is_err());
    }

    #[test]
    fn rule_serialises_with_loxilb_field_names() {
        let rule = LoadbalanceEntry {
            service_arguments: ServiceArguments {
                external_ip: "10.0.0.1".into(),
                port: 80,
                protocol: "tcp".into(),
                sel: Sel::Hash,
                mode: Mode::FullNat,
                monitor: true,
                probe_timeout: 5,
                probe_retries: 3,
                inactive_timeout: 30,
                name: "pool-1".into(),
                oper: Oper::Attach,
                ..Default::default()
            },
            endpoints: vec![LbEndpoint {
                endpoint_ip: "192.168.1.2".into(),
                target_port: 8080,
                weight: 1,
                ..Default::default()
            }],
            ..Default::default()
        };
        let v = serde_json::to_value(&rule).unwrap();
        let sa = &v["serviceArguments"];
        assert_eq!(sa["externalIP"], "10.0.0.1");
        assert_eq!(sa["port"], 80);
        assert_eq!(sa["portMax"], 0);
        assert_eq!(sa["sel"], 1);
        assert_eq!(sa["mode"], 2);
        assert_eq!(sa["monitor"], true);
        assert_eq!(sa["probeTimeout"], 5);
        assert_eq!(sa["probeRetries"], 3);
        assert_eq!(sa["inactiveTimeOut"], 30);
        assert_eq!(sa["oper"], 1);
        assert_eq!(sa["name"], "pool-1");
        // Unset optional arguments are omitted rather than sent as null/empty.
        for absent in [
            "privateIP",
            "bgp",
            "security",
            "block",
            "probetype",
            "egress",
        ] {
            assert!(sa.get(absent).is_none(), "{absent} should be omitted");
        }
        let ep = &v["endpoints"][0];
        assert_eq!(ep["endpointIP"], "192.168.1.2");
        assert_eq!(ep["targetPort"], 8080);
        assert_eq!(ep["weight"], 1);
        assert!(ep.get("state").is_none() && ep.get("counter").is_none());
        assert!(v.get("secondaryIPs").is_none() && v.get("allowedSources").is_none());
        let back: LoadbalanceEntry = serde_json::from_value(v).unwrap();
        assert_eq!(back, rule);
    }

    #[test]
    fn rule_listing_tolerates_unknown_fields_nulls_and_missing_values() {
        let body = json!({"lbAttr": [{
            "serviceArguments": {"externalIP": "10.0.0.1", "port": 443, "protocol": "tcp",
                "sel": 0, "mode": 1, "futureKnob": {"x": 1}},
            "endpoints": [{"endpointIP": "1.2.3.4", "targetPort": 443, "weight": 2,
                "state": "active", "counter": "10:2000", "extra": true}],
            "secondaryIPs": null,
            "newTopLevel": 1
        }, {"serviceArguments": {"externalIP": "10.0.0.2", "port": 53}, "endpoints": null}]});
        let list: RuleList = serde_json::from_value(body).unwrap();
        assert_eq!(list.lb_attr.len(), 2);
        let r = &list.lb_attr[0];
        assert_eq!(r.service_arguments.mode, Mode::OneArm);
        assert_eq!(r.endpoints[0].state.as_deref(), Some("active"));
        assert_eq!(r.endpoints[0].counter.as_deref(), Some("10:2000"));
        assert!(r.secondary_ips.is_empty());
        assert!(list.lb_attr[1].endpoints.is_empty());
        let empty: RuleList = serde_json::from_value(json!({"lbAttr": null})).unwrap();
        assert!(empty.lb_attr.is_empty());
    }

    #[test]
    fn malformed_values_are_errors_not_panics() {
        let huge = json!({"lbAttr": [{"serviceArguments": {"externalIP": "x", "port": 1e30}}]});
        assert!(serde_json::from_value::<RuleList>(huge).is_err());
        let neg = json!({"Attr": [{"probePort": -1}]});
        assert!(serde_json::from_value::<EndPointList>(neg).is_err());
        let wrong = json!({"Attr": "nope"});
        assert!(serde_json::from_value::<EndPointList>(wrong).is_err());
    }

    #[test]
    fn endpoint_entries_map_curr_state() {
        let body = json!({"Attr": [
            {"hostName": "1.1.1.1", "name": "1.1.1.1_tcp_80", "probeType": "tcp", "probePort": 80,
             "probeDuration": 10, "inactiveReTries": 2, "minDelay": "1ms", "avgDelay": "2ms",
             "maxDelay": "3ms", "currState": "nok"},
            {"hostName": "1.1.1.2", "currState": "red"},
            {"hostName": "1.1.1.3", "currState": "ok"},
            {"hostName": "1.1.1.4"}
        ]});
        let list: EndPointList = serde_json::from_value(body).unwrap();
        let states: Vec<_> = list.attr.iter().map(|e| e.probe_state()).collect();
        assert_eq!(
            states,
            vec![
                ProbeState::Nok,
                ProbeState::Red,
                ProbeState::Ok,
                ProbeState::Other(String::new())
            ]
        );
        assert_eq!(list.attr[0].avg_delay, "2ms");
        assert_eq!(list.attr[0].inactive_retries, 2);
    }

    #[test]
    fn endpoint_and_host_state_bodies() {
        let ep = EndPoint {
            host_name: "10.1.1.1".into(),
            name: probe_key("10.1.1.1", "http", 8080),
            probe_type: "http".into(),
            probe_port: 8080,
            probe_req: "/health".into(),
            probe_resp: "200".into(),
            probe_duration: 10,
            inactive_retries: 3,
        };
        let v = serde_json::to_value(&ep).unwrap();
        assert_eq!(
            v,
            json!({"hostName": "10.1.1.1", "name": "10.1.1.1_http_8080", "probeType": "http",
                "probePort": 8080, "probeReq": "/health", "probeResp": "200",
                "probeDuration": 10, "inactiveReTries": 3})
        );
        let hs = EndPointHostState {
            host_name: "10.1.1.1".into(),
            ep_port: 80,
            ep_proto: "tcp".into(),
            state: HostState::Red,
        };
        assert_eq!(
            serde_json::to_value(&hs).unwrap(),
            json!({"hostName": "10.1.1.1", "epPort": 80, "epProto": "tcp", "state": "red"})
        );
    }
}
