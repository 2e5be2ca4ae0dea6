//! The simulator's own serde types for LoxiLB's JSON (independent of the daemon's types, so
//! the simulator is a second opinion on the wire format).
//!
//! LoxiLB is written in Go: absent fields and JSON `null` both mean the zero value, and unknown
//! fields are ignored. Every input field therefore goes through [`nullable`]. Numbers are read
//! as `i64` and range-checked by the handlers so out-of-range input is a 400, never a panic.

use serde::{Deserialize, Deserializer, Serialize};

/// Deserialize `null` (or absence, with `#[serde(default)]`) as the type's default, like Go.
pub fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// POST /config/endpoint body (swagger `EndPoint`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EndPointIn {
    #[serde(rename = "hostName", default, deserialize_with = "nullable")]
    pub host_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(rename = "inactiveReTries", default, deserialize_with = "nullable")]
    pub inactive_re_tries: i64,
    #[serde(rename = "probeType", default, deserialize_with = "nullable")]
    pub probe_type: String,
    #[serde(rename = "probeReq", default, deserialize_with = "nullable")]
    pub probe_req: String,
    #[serde(rename = "probeResp", default, deserialize_with = "nullable")]
    pub probe_resp: String,
    #[serde(rename = "probeDuration", default, deserialize_with = "nullable")]
    pub probe_duration: i64,
    #[serde(rename = "probePort", default, deserialize_with = "nullable")]
    pub probe_port: i64,
}

/// One entry of GET /config/endpoint/all (swagger `EndPointGetEntry`), borrowed from the store.
/// go-swagger generates every field with `omitempty`, so zero numbers and empty strings are
/// left out: non-ping probes have no delay fields, non-activated ones no interval or retries.
#[derive(Debug, Serialize)]
pub struct EndPointGetEntry<'a> {
    #[serde(rename = "hostName", skip_serializing_if = "str::is_empty")]
    pub host_name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub name: &'a str,
    #[serde(rename = "inactiveReTries", skip_serializing_if = "is_zero")]
    pub inactive_re_tries: u32,
    #[serde(rename = "probeType", skip_serializing_if = "str::is_empty")]
    pub probe_type: &'a str,
    #[serde(rename = "probeReq", skip_serializing_if = "str::is_empty")]
    pub probe_req: &'a str,
    #[serde(rename = "probeResp", skip_serializing_if = "str::is_empty")]
    pub probe_resp: &'a str,
    #[serde(rename = "probeDuration", skip_serializing_if = "is_zero")]
    pub probe_duration: u32,
    #[serde(rename = "probePort", skip_serializing_if = "is_zero")]
    pub probe_port: u16,
    #[serde(rename = "minDelay", skip_serializing_if = "Option::is_none")]
    pub min_delay: Option<String>,
    #[serde(rename = "avgDelay", skip_serializing_if = "Option::is_none")]
    pub avg_delay: Option<String>,
    #[serde(rename = "maxDelay", skip_serializing_if = "Option::is_none")]
    pub max_delay: Option<String>,
    #[serde(rename = "currState")]
    pub curr_state: &'static str,
}

/// `omitempty` for numbers.
fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// POST /config/endpointhoststate body (swagger `EndPointHostState`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EndPointHostStateIn {
    #[serde(rename = "hostName", default, deserialize_with = "nullable")]
    pub host_name: String,
    #[serde(rename = "epPort", default, deserialize_with = "nullable")]
    pub ep_port: i64,
    #[serde(rename = "epProto", default, deserialize_with = "nullable")]
    pub ep_proto: String,
    #[serde(default, deserialize_with = "nullable")]
    pub state: String,
}

/// `serviceArguments` of a `LoadbalanceEntry`, used for input and (normalised) output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceArgs {
    #[serde(rename = "externalIP", default, deserialize_with = "nullable")]
    pub external_ip: String,
    #[serde(rename = "privateIP", default, deserialize_with = "nullable")]
    pub private_ip: String,
    #[serde(default, deserialize_with = "nullable")]
    pub port: i64,
    #[serde(rename = "portMax", default, deserialize_with = "nullable")]
    pub port_max: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub protocol: String,
    #[serde(default, deserialize_with = "nullable")]
    pub sel: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub bgp: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub monitor: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub probetype: String,
    #[serde(default, deserialize_with = "nullable")]
    pub probeport: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub probereq: String,
    #[serde(default, deserialize_with = "nullable")]
    pub proberesp: String,
    #[serde(default, deserialize_with = "nullable")]
    pub managed: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub mode: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub security: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub block: i64,
    #[serde(rename = "inactiveTimeOut", default, deserialize_with = "nullable")]
    pub inactive_time_out: i64,
    #[serde(rename = "probeTimeout", default, deserialize_with = "nullable")]
    pub probe_timeout: i64,
    #[serde(rename = "probeRetries", default, deserialize_with = "nullable")]
    pub probe_retries: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub snat: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub oper: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub host: String,
    #[serde(default, deserialize_with = "nullable")]
    pub proxyprotocolv2: bool,
    #[serde(default, deserialize_with = "nullable")]
    pub egress: bool,
}

/// One element of `endpoints` in a `LoadbalanceEntry`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LbEndpointWire {
    #[serde(rename = "endpointIP", default, deserialize_with = "nullable")]
    pub endpoint_ip: String,
    #[serde(rename = "targetPort", default, deserialize_with = "nullable")]
    pub target_port: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub weight: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub state: String,
    #[serde(default, deserialize_with = "nullable")]
    pub counter: String,
}

/// One element of `secondaryIPs`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondaryIp {
    #[serde(rename = "secondaryIP", default, deserialize_with = "nullable")]
    pub secondary_ip: String,
}

/// One element of `allowedSources`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowedSource {
    #[serde(default, deserialize_with = "nullable")]
    pub prefix: String,
}

/// POST /config/loadbalancer body and GET /config/loadbalancer/all entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LoadbalanceEntry {
    #[serde(rename = "serviceArguments", default, deserialize_with = "nullable")]
    pub service_arguments: ServiceArgs,
    #[serde(default, deserialize_with = "nullable")]
    pub endpoints: Vec<LbEndpointWire>,
    #[serde(rename = "secondaryIPs", default, deserialize_with = "nullable")]
    pub secondary_ips: Vec<SecondaryIp>,
    #[serde(rename = "allowedSources", default, deserialize_with = "nullable")]
    pub allowed_sources: Vec<AllowedSource>,
}

fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}
fn is_false(v: &bool) -> bool {
    !*v
}

/// `serviceArguments` of a GET /config/loadbalancer/all entry: exactly the fields
/// ConfigGetLoadbalancer copies (no privateIP, probereq, proberesp, probeTimeout,
/// probeRetries, oper), with the swagger model's `omitempty` (zero values are left out;
/// externalIP and port always present).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServiceArgsOut {
    #[serde(rename = "externalIP")]
    pub external_ip: String,
    pub port: i64,
    #[serde(rename = "portMax", skip_serializing_if = "is_zero_i64")]
    pub port_max: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub block: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub sel: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub mode: i64,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub security: i64,
    #[serde(rename = "inactiveTimeOut", skip_serializing_if = "is_zero_i64")]
    pub inactive_time_out: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub bgp: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub monitor: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub managed: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub probetype: String,
    #[serde(skip_serializing_if = "is_zero_i64")]
    pub probeport: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "is_false")]
    pub snat: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(skip_serializing_if = "is_false")]
    pub proxyprotocolv2: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub egress: bool,
}

/// One endpoint of a listed rule (`state` and `counter` are omitempty, the rest always sent).
#[derive(Debug, Clone, Default, Serialize)]
pub struct LbEndpointOut {
    #[serde(rename = "endpointIP")]
    pub endpoint_ip: String,
    #[serde(rename = "targetPort")]
    pub target_port: i64,
    pub weight: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub state: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub counter: String,
}

/// One GET /config/loadbalancer/all entry; empty lists are JSON `null` as Go sends nil slices.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadbalanceEntryOut {
    #[serde(rename = "serviceArguments")]
    pub service_arguments: ServiceArgsOut,
    pub endpoints: Option<Vec<LbEndpointOut>>,
    #[serde(rename = "secondaryIPs")]
    pub secondary_ips: Option<Vec<SecondaryIp>>,
    #[serde(rename = "allowedSources")]
    pub allowed_sources: Option<Vec<AllowedSource>>,
}

/// POST /auth/login body (swagger `User`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LoginIn {
    #[serde(default, deserialize_with = "nullable")]
    pub username: String,
    #[serde(default, deserialize_with = "nullable")]
    pub password: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_and_missing_fields_are_zero_values() {
        let ep: EndPointIn =
            serde_json::from_str(r#"{"hostName":"10.0.0.1","name":null,"probePort":null}"#)
                .unwrap_or_default();
        assert_eq!(ep.host_name, "10.0.0.1");
        assert_eq!(ep.name, "");
        assert_eq!(ep.probe_port, 0);
        let lb: LoadbalanceEntry = serde_json::from_str(
            r#"{"serviceArguments":{"externalIP":"1.1.1.1","port":80},"endpoints":null,"extra":1}"#,
        )
        .unwrap_or_default();
        assert_eq!(lb.service_arguments.external_ip, "1.1.1.1");
        assert!(lb.endpoints.is_empty());
    }

    #[test]
    fn wrong_types_are_errors_not_panics() {
        assert!(serde_json::from_str::<EndPointIn>(r#"{"hostName":5}"#).is_err());
        assert!(serde_json::from_str::<EndPointIn>(r#"{"probePort":1e400}"#).is_err());
        assert!(
            serde_json::from_str::<EndPointIn>(r#"{"probePort":99999999999999999999999}"#).is_err()
        );
    }
}
