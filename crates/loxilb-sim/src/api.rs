//! Routing and handling of the LoxiLB API under /netlox/v1.
//!
//! [`Route::parse`] classifies a request once; the route's template doubles as the counter
//! key. Handlers answer `Ok((status, json))` or an [`ApiError`]; successful writes answer
//! 200 `{"result":"Success"}` like LoxiLB's ResultResponse.

use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::json;

use crate::error::ApiError;
use crate::model::{EndPointHostStateIn, EndPointIn, LoginIn};
use crate::state::{lock, Shared};

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
    /// open; go-openapi routes, so unknown paths and methods fail before auth).
    pub fn needs_auth(&self) -> bool {
        !matches!(
            self,
            Route::Login | Route::Version | Route::WrongMethod(_) | Route::Unknown
        )
    }
}

/// A successful answer: status and JSON body bytes.
pub(crate) type Answer = (u16, Vec<u8>);

fn ok_json(v: &serde_json::Value) -> Answer {
    (200, serde_json::to_vec(v).unwrap_or_default())
}

fn success() -> Answer {
    ok_json(&json!({"result": "Success"}))
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

/// go-openapi's API key check of the Authorization header, with LoxiLB's user service
/// behind it: the header value is the token itself (no "Bearer " prefix). A missing header
/// is 401; a token the user service does not know (or no longer knows: expired) comes back
/// as a plain error, which go-openapi answers 500 with the error text.
pub(crate) fn authorize(shared: &Shared, header: Option<&str>) -> Result<(), ApiError> {
    if shared.auth.is_none() {
        return Ok(());
    }
    let Some(token) = header.filter(|h| !h.is_empty()) else {
        return Err(ApiError::Openapi(401, "invalid credentials".into()));
    };
    let mut tokens = lock(&shared.tokens);
    match tokens.get(token) {
        Some(exp) if *exp > Instant::now() => Ok(()),
        Some(_) => {
            tokens.remove(token);
            Err(ApiError::Openapi(500, "Token not found".into()))
        }
        None => Err(ApiError::Openapi(500, "Token not found".into())),
    }
}

/// Handle one authorised API call.
pub(crate) fn handle(
    shared: &Shared,
    route: &Route,
    query: Option<&str>,
    auth_header: Option<&str>,
    body: &[u8],
) -> Result<Answer, ApiError> {
    match route {
        Route::Login => login(shared, body),
        Route::Logout => {
            if shared.auth.is_none() {
                return Err(not_implemented("auth.PostAuthLogout"));
            }
            if let Some(token) = auth_header {
                lock(&shared.tokens).remove(token);
            }
            Ok((200, Vec::new()))
        }
        // handler/version.go: exactly these two fields.
        Route::Version => Ok(ok_json(&json!({
            "version": shared.version.to_string(),
            "buildInfo": format!("loxilb-sim {}", env!("CARGO_PKG_VERSION")),
        }))),
        Route::StatusProcess => Ok(process_status(shared)),
        Route::EpAdd => {
            let input: EndPointIn = parse_body(body)?;
            lock(&shared.state).ep_post(input)?;
            Ok(success())
        }
        Route::EpList => Ok((200, lock(&shared.state).ep_list_json())),
        Route::EpDelete { ip } => {
            let name = query_param(query, "name").unwrap_or_default();
            let ptype = query_param(query, "probe_type").unwrap_or_default();
            let port = match query_param(query, "probe_port") {
                Some(p) if !p.is_empty() => int_param("probe_port", "query", &p)? as u16,
                _ => 0,
            };
            lock(&shared.state).ep_delete(ip, &name, &ptype, port)?;
            Ok(success())
        }
        Route::EpHostState => {
            let input: EndPointHostStateIn = parse_body(body)?;
            lock(&shared.state).ep_host_state(input)?;
            Ok(success())
        }
        Route::LbAdd => {
            let input = crate::swagger::loadbalance_entry(body)?;
            let result = lock(&shared.state).lb_post(input)?;
            Ok(ok_json(&json!({ "result": result })))
        }
        Route::LbList => {
            let entries = lock(&shared.state).lb_entries();
            let body = serde_json::to_vec(&json!({ "lbAttr": entries })).unwrap_or_default();
            Ok((200, body))
        }
        Route::LbDeleteAll => {
            lock(&shared.state).lb_delete_all();
            Ok(success())
        }
        // ConfigDeleteLoadbalancerByName answers Success whether or not a rule matched.
        Route::LbDeleteName { name } => {
            lock(&shared.state).lb_delete_name(name);
            Ok(success())
        }
        Route::LbDelete {
            ip,
            port,
            port_max,
            proto,
            host,
        } => {
            // The handlers cast the int64 parameters to LoxiLB's narrower types.
            let port = int_param("port", "path", port)? as u16;
            let port_max = match port_max {
                Some(p) => int_param("portmax", "path", p)? as u16,
                None => 0,
            };
            let block = match query_param(query, "block") {
                Some(b) if !b.is_empty() => int_param("block", "query", &b)? as u32,
                _ => 0,
            };
            let host = if host == "any" { "" } else { host.as_str() };
            lock(&shared.state).lb_delete(ip, port, port_max, proto, block, host)?;
            Ok(success())
        }
        Route::WrongMethod(t) => Err(ApiError::Openapi(
            405,
            format!("method is not allowed on {t}"),
        )),
        Route::Unknown => Err(ApiError::Openapi(404, "path was not found".into())),
    }
}

fn not_implemented(op: &str) -> ApiError {
    ApiError::NotImplemented(format!("operation {op} has not yet been implemented"))
}

/// POST /auth/login: registered only with LoxiLB's user service (otherwise go-swagger's
/// default handler answers 501). A known user with a wrong password gets 200 without a
/// token; an unknown user is the handler error "User not found".
fn login(shared: &Shared, body: &[u8]) -> Result<Answer, ApiError> {
    let Some((u, p)) = &shared.auth else {
        return Err(not_implemented("auth.PostAuthLogin"));
    };
    let user: LoginIn = parse_body(body)?;
    if user.username != *u {
        return Err(ApiError::Loxilb("User not found".into()));
    }
    if user.password != *p {
        return Ok(ok_json(&json!({})));
    }
    let token = format!("{:032x}", rand::random::<u128>());
    let expiry = Instant::now() + shared.token_ttl.min(Duration::from_secs(10 * 365 * 86_400));
    lock(&shared.tokens).insert(token.clone(), expiry);
    Ok(ok_json(&json!({ "token": token })))
}

/// GET /status/process: LoxiLB parses `top -bn 1`, so it lists every process of its host
/// (here: an init process and the simulator as "loxilb"), and nothing else.
fn process_status(shared: &Shared) -> Answer {
    let up = lock(&shared.state).boot.instant.elapsed();
    let entry = |pid: String, time: String, command: &str| {
        json!({
            "pid": pid, "user": "root", "priority": "20", "nice": "0",
            "virtMemory": "0", "residentSize": "0", "sharedMemory": "0", "status": "S",
            "CPUUsage": "0.0", "MemoryUsage": "0.0", "time": time, "command": command,
        })
    };
    ok_json(&json!({
        "processAttr": [
            entry("1".into(), top_time(up), "bash"),
            entry(std::process::id().to_string(), top_time(up), "loxilb"),
        ]
    }))
}

/// `top`'s TIME+ format (M:SS.hh).
fn top_time(d: Duration) -> String {
    let cs = d.as_millis() / 10;
    format!("{}:{:02}.{:02}", cs / 6000, (cs / 100) % 60, cs % 100)
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

    #[test]
    fn query_and_percent_decoding() {
        let q = Some("name=a%20b&probe_type=tcp&probe_port=80&x");
        assert_eq!(query_param(q, "name").as_deref(), Some("a b"));
        assert_eq!(query_param(q, "probe_port").as_deref(), Some("80"));
        assert_eq!(query_param(q, "x").as_deref(), Some(""));
        assert_eq!(query_param(q, "y"), None);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(top_time(Duration::from_millis(61_250)), "1:01.25");
    }
}
