//! Features LoxiLB cannot serve, refused up front as Octavia
//! `UnsupportedOptionError` (HTTP 501 to the user) instead of being accepted
//! and later failing with the object in ERROR.
//!
//! LoxiLB load-balances at layer 4 (tcp/udp/sctp rules) and probes with
//! tcp/udp/sctp/ping/http/https, HTTP(S) probes being a HEAD/GET of a URL
//! path with no custom headers that pass only on status 200. Everything that needs TLS termination, L7
//! inspection, header manipulation or per-request behaviour is refused.

use super::enums::{
    HttpMethod, ListenerProtocol, MonitorType, PoolProtocol, SessionPersistenceType,
};
use super::error::EventError;
use super::expected_codes::{CodeSpec, ExpectedCodes};
use super::healthmonitor::HealthMonitor;
use super::listener::Listener;
use super::loadbalancer::LoadBalancer;
use super::member::Member;
use super::pool::Pool;
use serde_json::Value;

/// Names the provider in user-facing messages.
const PROVIDER: &str = "The loxilb provider";

/// The L7 method families; every one of them is refused.
pub fn l7_method(method: &str) -> EventError {
    EventError::unsupported(
        format!("{PROVIDER} does not support L7 policies or rules: it load-balances at layer 4 only."),
        format!("{method}: LoxiLB rules match on (VIP, port, protocol) only; there is no L7 policy engine."),
    )
}

/// `loadbalancer_failover_with_flavor` would change the flavor, which we
/// cannot honour; plain `loadbalancer_failover` is supported.
pub fn failover_with_flavor(method: &str) -> EventError {
    EventError::unsupported(
        format!("{PROVIDER} does not support failover with a flavor change."),
        format!("{method}: use loadbalancer_failover; flavors cannot be changed by failover."),
    )
}

/// Whether an optional value counts as "set": not null/empty string/list/map.
fn is_set(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(_) => true,
    }
}

fn opt_str_set(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|s| !s.is_empty())
}

fn refuse(field: &str, user: String, why: &str) -> Result<(), EventError> {
    Err(EventError::unsupported(user, format!("{field}: {why}")))
}

/// TERMINATED_HTTPS needs TLS termination; PROMETHEUS needs an HTTP
/// exporter on the VIP. LoxiLB rules forward packets only.
pub fn listener_protocol(path: &str, l: &Listener) -> Result<(), EventError> {
    match l.protocol {
        Some(p @ (ListenerProtocol::TerminatedHttps | ListenerProtocol::Prometheus)) => refuse(
            &format!("{path}.protocol"),
            format!("{PROVIDER} does not support {p} listeners; use TCP, UDP, SCTP, HTTP or HTTPS (passed through at layer 4)."),
            "LoxiLB rules are L4 (tcp/udp/sctp); no TLS termination or metrics endpoint",
        ),
        _ => Ok(()),
    }
}

/// Any TLS certificate, SNI or client-CA/CRL setting, client authentication
/// other than NONE, or HSTS: all need TLS termination.
pub fn listener_tls(path: &str, l: &Listener) -> Result<(), EventError> {
    let containers = [
        (
            "default_tls_container_ref",
            opt_str_set(&l.default_tls_container_ref),
        ),
        (
            "default_tls_container_data",
            is_set(l.default_tls_container_data.as_ref()),
        ),
        (
            "sni_container_refs",
            l.sni_container_refs.as_ref().is_some_and(|v| !v.is_empty()),
        ),
        (
            "sni_container_data",
            l.sni_container_data.as_ref().is_some_and(|v| !v.is_empty()),
        ),
        (
            "client_ca_tls_container_ref",
            opt_str_set(&l.client_ca_tls_container_ref),
        ),
        (
            "client_ca_tls_container_data",
            is_set(l.client_ca_tls_container_data.as_ref()),
        ),
        (
            "client_crl_container_ref",
            opt_str_set(&l.client_crl_container_ref),
        ),
        (
            "client_crl_container_data",
            is_set(l.client_crl_container_data.as_ref()),
        ),
        (
            "client_authentication",
            l.client_authentication
                .as_deref()
                .is_some_and(|a| !a.eq_ignore_ascii_case("NONE")),
        ),
        ("hsts_max_age", l.hsts_max_age.is_some()),
        (
            "hsts_include_subdomains",
            l.hsts_include_subdomains == Some(true),
        ),
        ("hsts_preload", l.hsts_preload == Some(true)),
    ];
    match containers.iter().find(|(_, set)| *set) {
        Some((field, _)) => refuse(
            &format!("{path}.{field}"),
            format!("{PROVIDER} does not terminate TLS: certificates, SNI, client authentication and HSTS are not supported."),
            "LoxiLB has no TLS termination; HTTPS listeners are passed through at L4",
        ),
        None => Ok(()),
    }
}

/// Header insertion needs an HTTP proxy. A header explicitly switched off
/// (`"false"`) is harmless and accepted.
pub fn listener_insert_headers(path: &str, l: &Listener) -> Result<(), EventError> {
    let enabled = l.insert_headers.as_ref().and_then(|h| {
        h.iter().find(|(_, v)| {
            !matches!(v, Value::Null | Value::Bool(false))
                && !v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("false"))
        })
    });
    match enabled {
        Some((name, _)) => refuse(
            &format!("{path}.insert_headers.{name}"),
            format!(
                "{PROVIDER} cannot insert HTTP headers ({name}): it load-balances at layer 4 only."
            ),
            "LoxiLB does not parse or rewrite HTTP",
        ),
        None => Ok(()),
    }
}

/// L7 policies attached to a listener in a graph create.
pub fn listener_l7policies(path: &str, l: &Listener) -> Result<(), EventError> {
    if l.l7policies.as_ref().is_some_and(|p| !p.is_empty()) {
        return Err(l7_method(&format!("{path}.l7policies")));
    }
    Ok(())
}

/// PROXY/PROXYV2 need the balancer to write a PROXY protocol header.
pub fn pool_protocol(path: &str, p: &Pool) -> Result<(), EventError> {
    match p.protocol {
        Some(proto @ (PoolProtocol::Proxy | PoolProtocol::Proxyv2)) => refuse(
            &format!("{path}.protocol"),
            format!(
                "{PROVIDER} does not support {proto} pools; use TCP, UDP, SCTP, HTTP or HTTPS."
            ),
            "LoxiLB cannot prepend PROXY protocol headers",
        ),
        _ => Ok(()),
    }
}

/// Re-encrypting to members (tls_enabled, client certificates, CA/CRL).
/// `tls_versions`/`tls_ciphers`/`alpn_protocols` are ignored unless
/// tls_enabled: Octavia fills defaults for them on every pool.
pub fn pool_tls(path: &str, p: &Pool) -> Result<(), EventError> {
    let fields = [
        ("tls_enabled", p.tls_enabled == Some(true)),
        ("tls_container_ref", opt_str_set(&p.tls_container_ref)),
        ("tls_container_data", is_set(p.tls_container_data.as_ref())),
        ("ca_tls_container_ref", opt_str_set(&p.ca_tls_container_ref)),
        (
            "ca_tls_container_data",
            is_set(p.ca_tls_container_data.as_ref()),
        ),
        ("crl_container_ref", opt_str_set(&p.crl_container_ref)),
        ("crl_container_data", is_set(p.crl_container_data.as_ref())),
    ];
    match fields.iter().find(|(_, set)| *set) {
        Some((field, _)) => refuse(
            &format!("{path}.{field}"),
            format!("{PROVIDER} does not support TLS towards pool members."),
            "LoxiLB forwards at L4 and cannot originate TLS to members",
        ),
        None => Ok(()),
    }
}

/// Cookie persistence needs HTTP parsing; SOURCE_IP maps to LoxiLB's
/// source-hash/persist selection.
pub fn session_persistence(path: &str, p: &Pool) -> Result<(), EventError> {
    match p.session_persistence.as_ref().map(|s| s.r#type) {
        Some(t @ (SessionPersistenceType::HttpCookie | SessionPersistenceType::AppCookie)) => {
            refuse(
                &format!("{path}.session_persistence.type"),
                format!("{PROVIDER} does not support {t} session persistence; use SOURCE_IP."),
                "cookie persistence needs an HTTP proxy; LoxiLB is L4",
            )
        }
        _ => Ok(()),
    }
}

/// TLS-HELLO has no LoxiLB probe type.
pub fn monitor_type(path: &str, hm: &HealthMonitor) -> Result<(), EventError> {
    match hm.r#type {
        Some(MonitorType::TlsHello) => refuse(
            &format!("{path}.type"),
            format!("{PROVIDER} does not support TLS-HELLO health monitors; use HTTPS, TCP, PING, HTTP, UDP-CONNECT or SCTP."),
            "LoxiLB probe types are tcp, udp, sctp, ping, http, https",
        ),
        _ => Ok(()),
    }
}

/// LoxiLB's http probe sends HEAD and its https probe GET, with no method
/// option; both only look at the status code, so a monitor asking for GET or
/// HEAD gets what it means. Any other method would not be the request sent.
pub fn monitor_http_method(path: &str, hm: &HealthMonitor) -> Result<(), EventError> {
    match hm.http_method {
        Some(m) if !matches!(m, HttpMethod::Get | HttpMethod::Head) => refuse(
            &format!("{path}.http_method"),
            format!(
                "{PROVIDER} health checks use GET or HEAD only; http_method {m} is not supported."
            ),
            "LoxiLB's http probe sends HEAD and its https probe GET; there is no method option",
        ),
        _ => Ok(()),
    }
}

/// LoxiLB passes an http/https probe only on status 200 (its `probeResp` is
/// not compared), so any other expected_codes would mark members up or down
/// differently from what the user asked for. Only HTTP/HTTPS monitors carry
/// codes; an update names no type, so its codes are checked whatever it is.
pub fn monitor_expected_codes(path: &str, hm: &HealthMonitor) -> Result<(), EventError> {
    let http = hm
        .r#type
        .is_none_or(|t| matches!(t, MonitorType::Http | MonitorType::Https));
    match &hm.expected_codes {
        Some(codes) if http && !only_200(codes) => refuse(
            &format!("{path}.expected_codes"),
            format!("{PROVIDER} health checks pass only on HTTP status 200 (LoxiLB's probe accepts no other code); expected_codes {codes} is not supported, use 200."),
            "LoxiLB http/https probes succeed only on a 200 answer; probeResp is ignored",
        ),
        _ => Ok(()),
    }
}

/// Whether a code list means exactly {200}.
fn only_200(codes: &ExpectedCodes) -> bool {
    codes.items().iter().all(|c| match c {
        CodeSpec::Single(code) => *code == 200,
        CodeSpec::Range(lo, hi) => *lo == 200 && *hi == 200,
    })
}

/// LoxiLB's HTTP probe cannot set a Host header.
pub fn monitor_domain_name(path: &str, hm: &HealthMonitor) -> Result<(), EventError> {
    if opt_str_set(&hm.domain_name) {
        return refuse(
            &format!("{path}.domain_name"),
            format!("{PROVIDER} health checks cannot send a custom Host header (domain_name)."),
            "LoxiLB's http probe sends only the URL path (probeReq)",
        );
    }
    Ok(())
}

/// Backup members (used only when all others are down) have no LoxiLB
/// equivalent: they would silently receive traffic as regular members.
pub fn member_backup(path: &str, m: &Member) -> Result<(), EventError> {
    if m.backup == Some(true) {
        return refuse(
            &format!("{path}.backup"),
            format!("{PROVIDER} does not support backup members."),
            "LoxiLB endpoints have no backup/standby role",
        );
    }
    Ok(())
}

/// Extra VIPs, VIP security groups and VIP QoS policies are applied by the
/// balancer to the VIP port; LoxiLB serves one external IP per rule and
/// does not apply Neutron security groups or QoS, so accepting them would
/// silently drop a filter or a rate limit the user asked for.
pub fn loadbalancer_vip(path: &str, lb: &LoadBalancer) -> Result<(), EventError> {
    if lb.additional_vips.as_ref().is_some_and(|v| !v.is_empty()) {
        return refuse(
            &format!("{path}.additional_vips"),
            format!("{PROVIDER} does not support additional VIPs."),
            "one LoxiLB rule set per VIP address; additional_vips not implemented",
        );
    }
    if lb.vip_sg_ids.as_ref().is_some_and(|v| !v.is_empty()) {
        return refuse(
            &format!("{path}.vip_sg_ids"),
            format!("{PROVIDER} does not support VIP security groups; use listener allowed_cidrs."),
            "LoxiLB does not apply Neutron security groups; allowed_cidrs map to allowedSources",
        );
    }
    if opt_str_set(&lb.vip_qos_policy_id) {
        return refuse(
            &format!("{path}.vip_qos_policy_id"),
            format!("{PROVIDER} does not support VIP QoS policies."),
            "LoxiLB does not apply Neutron QoS policies to the VIP",
        );
    }
    Ok(())
}

#[cfg(test)]
mod monitor_tests {
    use super::*;

    fn monitor(
        kind: MonitorType,
        method: Option<HttpMethod>,
        codes: Option<&str>,
    ) -> HealthMonitor {
        HealthMonitor {
            healthmonitor_id: "hm".into(),
            r#type: Some(kind),
            http_method: method,
            expected_codes: codes.and_then(|c| c.parse().ok()),
            ..HealthMonitor::default()
        }
    }

    fn field_of(r: Result<(), EventError>) -> Option<String> {
        r.err().and_then(|e| e.field().map(str::to_owned))
    }

    #[test]
    fn only_status_200_is_accepted_for_http_monitors() {
        for ok in ["200", "200-200", "200,200"] {
            let hm = monitor(MonitorType::Http, None, Some(ok));
            assert_eq!(monitor_expected_codes("hm", &hm), Ok(()), "{ok}");
        }
        assert_eq!(
            monitor_expected_codes("hm", &monitor(MonitorType::Https, None, None)),
            Ok(())
        );
        for bad in ["200-204", "200,202", "201", "204", "199-200"] {
            for kind in [MonitorType::Http, MonitorType::Https] {
                let r = monitor_expected_codes("hm", &monitor(kind, None, Some(bad)));
                assert_eq!(
                    field_of(r.clone()),
                    Some("hm.expected_codes".into()),
                    "{bad}"
                );
                let user = match r {
                    Err(EventError::Unsupported {
                        user_fault_string, ..
                    }) => user_fault_string,
                    other => panic!("{other:?}"),
                };
                assert!(user.contains("200") && user.contains(bad), "{user}");
            }
        }
        // An update names no type: its codes are checked all the same.
        let update = HealthMonitor {
            expected_codes: "202".parse().ok(),
            ..HealthMonitor::default()
        };
        assert!(monitor_expected_codes("new", &update).is_err());
    }

    #[test]
    fn get_and_head_are_accepted_other_methods_refused() {
        for m in [HttpMethod::Get, HttpMethod::Head] {
            let hm = monitor(MonitorType::Http, Some(m), None);
            assert_eq!(monitor_http_method("hm", &hm), Ok(()), "{m}");
        }
        for m in HttpMethod::ALL
            .iter()
            .filter(|m| !matches!(m, HttpMethod::Get | HttpMethod::Head))
        {
            let hm = monitor(MonitorType::Http, Some(*m), None);
            assert_eq!(
                field_of(monitor_http_method("hm", &hm)),
                Some("hm.http_method".into()),
                "{m}"
            );
        }
    }
}
