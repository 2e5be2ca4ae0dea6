//! Routing and binding of the LoxiLB API under /netlox/v1: HTTP in, a state-machine
//! [`Op`] out.
//!
//! [`Route::parse`] classifies a request once; the route's template doubles as the counter
//! key. [`to_op`] then binds path, query and body as go-swagger would, so the machine
//! never sees HTTP.

use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::machine::{EndpointOp, Op, RuleOp, SystemOp};

/// The API operations the simulator knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Login,
    Logout,
    Version,
    StatusProcess,
    EpAdd,
    EpList,
    EpDelete {
        ip: String,
    },
    EpHostState,
    LbAdd,
    LbList,
    LbDeleteAll,
    LbDeleteName {
        name: String,
    },
    LbDelete {
        ip: String,
        port: String,
        port_max: Option<String>,
        proto: String,
        host: String,
    },
    /// Known path, other method.
    WrongMethod(&'static str),
    Unknown,
}

/// Decode %XX escapes (invalid escapes are kept literally).
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Value of `name` in a query string (`+` is a space), if present.
pub(crate) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (percent_decode(k) == name).then(|| percent_decode(&v.replace('+', " ")))
    })
}

impl Route {
    pub fn parse(method: &str, rel: &str) -> Route {
        let segs: Vec<String> = rel
            .trim_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        let s: Vec<&str> = segs.iter().map(String::as_str).collect();
        let m = method;
        let expect = |want: &str, route: Route, tmpl: &'static str| {
            if m == want {
                route
            } else {
                Route::WrongMethod(tmpl)
            }
        };
        match s.as_slice() {
            ["auth", "login"] => expect("POST", Route::Login, "/auth/login"),
            ["auth", "logout"] => expect("POST", Route::Logout, "/auth/logout"),
            ["version"] => expect("GET", Route::Version, "/version"),
            ["status", "process"] => expect("GET", Route::StatusProcess, "/status/process"),
            ["config", "endpoint"] => expect("POST", Route::EpAdd, "/config/endpoint"),
            ["config", "endpoint", "all"] => expect("GET", Route::EpList, "/config/endpoint/all"),
            ["config", "endpoint", "epipaddress", ip] => expect(
                "DELETE",
                Route::EpDelete { ip: ip.to_string() },
                "/config/endpoint/epipaddress/{ip_address}",
            ),
            ["config", "endpointhoststate"] => {
                expect("POST", Route::EpHostState, "/config/endpointhoststate")
            }
            ["config", "loadbalancer"] => expect("POST", Route::LbAdd, "/config/loadbalancer"),
            ["config", "loadbalancer", "all"] => match m {
                "GET" => Route::LbList,
                "DELETE" => Route::LbDeleteAll,
                _ => Route::WrongMethod("/config/loadbalancer/all"),
            },
            ["config", "loadbalancer", "name", name] => expect(
                "DELETE",
                Route::LbDeleteName {
                    name: name.to_string(),
                },
                "/config/loadbalancer/name/{lb_name}",
            ),
            ["config", "loadbalancer", rest @ ..] => Self::parse_lb_delete(m, rest),
            _ => Route::Unknown,
        }
    }

    fn parse_lb_delete(m: &str, rest: &[&str]) -> Route {
        let (host, rest) = match rest {
            ["hosturl", h, tail @ ..] => (h.to_string(), tail),
            _ => (String::new(), rest),
        };
        let (ip, port, port_max, proto) = match rest {
            ["externalipaddress", ip, "port", port, "protocol", proto] => (ip, port, None, proto),
            ["externalipaddress", ip, "port", port, "portmax", pm, "protocol", proto] => {
                (ip, port, Some(pm.to_string()), proto)
            }
            _ => return Route::Unknown,
        };
        let route = Route::LbDelete {
            ip: ip.to_string(),
            port: port.to_string(),
            port_max,
            proto: proto.to_string(),
            host,
        };
        if m == "DELETE" {
            route
        } else {
            Route::WrongMethod("/config/loadbalancer/externalipaddress/...")
        }
    }

    /// Route template used in counters (without the method).
    pub fn template(&self) -> &'static str {
        match self {
            Route::Login => "/auth/login",
            Route::Logout => "/auth/logout",
            Route::Version => "/version",
            Route::StatusProcess => "/status/process",
            Route::EpAdd => "/config/endpoint",
            Route::EpList => "/config/endpoint/all",
            Route::EpDelete { .. } => "/config/endpoint/epipaddress/{ip_address}",
            Route::EpHostState => "/config/endpointhoststate",
            Route::LbAdd => "/config/loadbalancer",
            Route::LbList | Route::LbDeleteAll => "/config/loadbalancer/all",
            Route::LbDeleteName { .. } => "/config/loadbalancer/name/{lb_name}",
            Route::LbDelete { host, port_max, .. } => match (host.is_empty(), port_max.is_some()) {
                (true, false) => "/config/loadbalancer/externalipaddress/{ip_address}/port/{port}/protocol/{proto}",
                (true, true) => "/config/loadbalancer/externalipaddress/{ip_address}/port/{port}/portmax/{portmax}/protocol/{proto}",
                (false, false) => "/config/loadbalancer/hosturl/{hosturl}/externalipaddress/{ip_address}/port/{port}/protocol/{proto}",
                (false, true) => "/config/loadbalancer/hosturl/{hosturl}/externalipaddress/{ip_address}/port/{port}/portmax/{portmax}/protocol/{proto}",
            },
            Route::WrongMethod(t) => t,
            Route::Unknown => "other",
        }
    }

    /// Whether the route needs a token when auth is on (swagger: login and version are
    /// open; go-openapi routes, so unknown paths and methods fail before auth). The machine
    /// decides from the bound operation; tests check the two agree.
    #[cfg(test)]
    pub fn needs_auth(&self) -> bool {
        !matches!(
            self,
            Route::Login | Route::Version | Route::WrongMethod(_) | Route::Unknown
        )
    }
}

/// Bind a JSON body as go-swagger does: a body that does not parse is a 400 parse error.
fn parse_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::Openapi(
            400,
            format!("parsing body body from \"\" failed, because {e}"),
        )
    })
}

/// A path or query integer as go-swagger binds it (int64; otherwise a 422 type error).
fn int_param(name: &str, in_: &str, raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().map_err(|_| {
        ApiError::Openapi(
            600,
            format!("{name} in {in_} must be of type int64: \"{raw}\""),
        )
    })
}

/// Bind a routed request into the state machine's operation. Binding errors are kept in
/// the operation: go-openapi checks the token first. A login gets a fresh random token,
/// the one input the machine cannot draw itself.
pub(crate) fn to_op(route: Route, query: Option<&str>, body: &[u8], auth: Option<&str>) -> Op {
    match route {
        Route::Login => Op::System(SystemOp::Login {
            user: parse_body(body),
            token: format!("{:032x}", rand::random::<u128>()),
        }),
        Route::Logout => Op::System(SystemOp::Logout {
            token: auth.map(str::to_string),
        }),
        Route::Version => Op::System(SystemOp::Version),
        Route::StatusProcess => Op::System(SystemOp::ProcessStatus),
        Route::EpAdd => Op::Endpoints(parse_body(body).map(|input| EndpointOp::Add {
            input,
            host_ca: Ok(Vec::new()),
        })),
        Route::EpList => Op::Endpoints(Ok(EndpointOp::List)),
        Route::EpDelete { ip } => Op::Endpoints(ep_delete(ip, query)),
        Route::EpHostState => Op::Endpoints(parse_body(body).map(EndpointOp::HostState)),
        Route::LbAdd => {
            Op::Rules(crate::swagger::loadbalance_entry(body).map(|e| RuleOp::Add(Box::new(e))))
        }
        Route::LbList => Op::Rules(Ok(RuleOp::List)),
        Route::LbDeleteAll => Op::Rules(Ok(RuleOp::DeleteAll)),
        Route::LbDeleteName { name } => Op::Rules(Ok(RuleOp::DeleteName(name))),
        Route::LbDelete {
            ip,
            port,
            port_max,
            proto,
            host,
        } => Op::Rules(lb_delete(
            ip,
            &port,
            port_max.as_deref(),
            proto,
            host,
            query,
        )),
        Route::WrongMethod(t) => Op::Refused(ApiError::Openapi(
            405,
            format!("method is not allowed on {t}"),
        )),
        Route::Unknown => Op::Refused(ApiError::Openapi(404, "path was not found".into())),
    }
}

/// DELETE /config/endpoint/epipaddress/{ip}: the probe is named by `name`, or by
/// `probe_type` and `probe_port`.
fn ep_delete(host: String, query: Option<&str>) -> Result<EndpointOp, ApiError> {
    let probe_port = match query_param(query, "probe_port") {
        Some(p) if !p.is_empty() => int_param("probe_port", "query", &p)? as u16,
        _ => 0,
    };
    Ok(EndpointOp::Delete {
        host,
        name: query_param(query, "name").unwrap_or_default(),
        probe_type: query_param(query, "probe_type").unwrap_or_default(),
        probe_port,
    })
}

/// DELETE by externalipaddress/port[/portmax]/protocol: the handlers cast the int64
/// parameters to LoxiLB's narrower types.
fn lb_delete(
    ip: String,
    port: &str,
    port_max: Option<&str>,
    proto: String,
    host: String,
    query: Option<&str>,
) -> Result<RuleOp, ApiError> {
    let port = int_param("port", "path", port)? as u16;
    let port_max = match port_max {
        Some(p) => int_param("portmax", "path", p)? as u16,
        None => 0,
    };
    let block = match query_param(query, "block") {
        Some(b) if !b.is_empty() => int_param("block", "query", &b)? as u32,
        _ => 0,
    };
    Ok(RuleOp::Delete {
        ip,
        port,
        port_max,
        proto,
        block,
        host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_templates() {
        assert_eq!(Route::parse("POST", "/config/endpoint"), Route::EpAdd);
        assert_eq!(
            Route::parse("DELETE", "/config/endpoint/epipaddress/fd00%3A%3A1"),
            Route::EpDelete {
                ip: "fd00::1".into()
            }
        );
        assert_eq!(
            Route::parse("GET", "/config/endpoint"),
            Route::WrongMethod("/config/endpoint")
        );
        let r = Route::parse("DELETE", "/config/loadbalancer/hosturl/a.b/externalipaddress/1.1.1.1/port/80/portmax/90/protocol/tcp");
        assert!(
            matches!(&r, Route::LbDelete { host, port_max: Some(pm), .. } if host == "a.b" && pm == "90")
        );
        assert!(r.template().starts_with("/config/loadbalancer/hosturl/"));
        assert_eq!(Route::parse("GET", "/nope"), Route::Unknown);
        assert!(!Route::Version.needs_auth());
        assert!(Route::EpList.needs_auth());
    }

    /// The routing table and the machine agree on which calls need a token.
    #[test]
    fn bound_ops_need_auth_like_their_routes() {
        let calls = [
            ("POST", "/auth/login"),
            ("POST", "/auth/logout"),
            ("GET", "/version"),
            ("GET", "/status/process"),
            ("POST", "/config/endpoint"),
            ("GET", "/config/endpoint/all"),
            ("DELETE", "/config/endpoint/epipaddress/1.2.3.4"),
            ("POST", "/config/endpointhoststate"),
            ("POST", "/config/loadbalancer"),
            ("GET", "/config/loadbalancer/all"),
            ("DELETE", "/config/loadbalancer/all"),
            ("DELETE", "/config/loadbalancer/name/x"),
            (
                "DELETE",
                "/config/loadbalancer/externalipaddress/1.1.1.1/port/80/protocol/tcp",
            ),
            ("PUT", "/config/endpoint"),
            ("GET", "/nope"),
        ];
        for (m, p) in calls {
            let route = Route::parse(m, p);
            let want = route.needs_auth();
            assert_eq!(to_op(route, None, b"", None).needs_auth(), want, "{m} {p}");
        }
    }

    #[test]
    fn query_and_percent_decoding() {
        let q = Some("name=a%20b&probe_type=tcp&probe_port=80&x");
        assert_eq!(query_param(q, "name").as_deref(), Some("a b"));
        assert_eq!(query_param(q, "probe_port").as_deref(), Some("80"));
        assert_eq!(query_param(q, "x").as_deref(), Some(""));
        assert_eq!(query_param(q, "y"), None);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
