//! The control surface over HTTP under /sim/v1 (for the standalone binary and out-of-process
//! tests). JSON in, JSON out; mirrors [`Control`].

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::control::Control;
use super::http::{json_response, Resp};
use super::shared::Shared;
use crate::machine::ScriptedEndpoint;

#[derive(Deserialize)]
struct Latency {
    ms: u64,
}
#[derive(Deserialize)]
struct Rate {
    rate: f64,
}
#[derive(Deserialize)]
struct OnOff {
    on: bool,
}
#[derive(Deserialize)]
struct EpState {
    key: String,
    state: String,
}
#[derive(Deserialize)]
struct CounterIn {
    external_ip: String,
    port: u16,
    protocol: String,
    endpoint_ip: String,
    packets: u64,
    bytes: u64,
}

fn reply(status: u16, v: serde_json::Value) -> Resp {
    json_response(status, serde_json::to_vec(&v).unwrap_or_default())
}

/// A control answer before it becomes a response.
type Answer = (u16, serde_json::Value);

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Answer> {
    serde_json::from_slice(body).map_err(|e| (400, json!({"error": e.to_string()})))
}

fn found(ok: bool) -> Answer {
    (if ok { 200 } else { 404 }, json!({"ok": ok}))
}

/// Handle `/sim/v1<rest>`.
pub(crate) fn handle(
    shared: &std::sync::Arc<Shared>,
    method: &str,
    rest: &str,
    body: &[u8],
) -> Resp {
    let ctl = Control {
        shared: shared.clone(),
    };
    let path = rest.trim_end_matches('/');
    let res = match knob_call(&ctl, method, path, body) {
        Ok(None) => state_call(&ctl, method, path, body),
        other => other,
    };
    let (status, v) = match res {
        Ok(Some(answer)) | Err(answer) => answer,
        Ok(None) => (
            404,
            json!({"error": format!("unknown control call {method} /sim/v1{rest}")}),
        ),
    };
    reply(status, v)
}

fn ok() -> Answer {
    (200, json!({"ok": true}))
}

/// The transport knobs and the request log; Ok(None) when `path` is not one of them.
fn knob_call(
    ctl: &Control,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Option<Answer>, Answer> {
    Ok(Some(match (method, path) {
        ("PUT", "/latency") => {
            let l: Latency = parse(body)?;
            ctl.set_latency(Duration::from_millis(l.ms));
            ok()
        }
        ("POST", "/faults") => {
            ctl.add_fault(parse(body)?);
            ok()
        }
        ("DELETE", "/faults") => {
            ctl.clear_faults();
            ok()
        }
        ("PUT", "/reset-rate") => {
            let r: Rate = parse(body)?;
            ctl.set_reset_rate(r.rate);
            ok()
        }
        ("PUT", "/maintenance") => {
            let m: OnOff = parse(body)?;
            ctl.set_maintenance(m.on);
            ok()
        }
        ("GET", "/requests") => (200, json!(ctl.requests())),
        ("DELETE", "/requests") => {
            ctl.clear_requests();
            ok()
        }
        ("GET", "/counters") => (200, json!(ctl.counters())),
        ("DELETE", "/counters") => {
            ctl.reset_counters();
            ok()
        }
        _ => return Ok(None),
    }))
}

/// The calls on LoxiLB's configuration (restart, views, scripting); Ok(None) when `path`
/// is not one of them.
fn state_call(
    ctl: &Control,
    method: &str,
    path: &str,
    body: &[u8],
) -> Result<Option<Answer>, Answer> {
    Ok(Some(match (method, path) {
        ("POST", "/restart") => {
            ctl.restart_empty();
            ok()
        }
        ("GET", "/endpoints") => (200, json!(ctl.endpoints())),
        ("GET", "/rules") => (200, json!(ctl.rules())),
        ("GET", "/rule-info") => (200, json!(ctl.rule_info())),
        ("GET", "/firewall") => (200, json!(ctl.firewall())),
        ("POST", "/script/endpoints") => {
            let eps: Vec<ScriptedEndpoint> = parse(body)?;
            let n = ctl.script_endpoints(eps);
            (200, json!({"ok": true, "inserted": n}))
        }
        ("PUT", "/script/endpoint-state") => {
            let s: EpState = parse(body)?;
            found(ctl.set_endpoint_state(&s.key, &s.state))
        }
        ("PUT", "/script/counter") => {
            let c: CounterIn = parse(body)?;
            found(ctl.set_counter(
                &c.external_ip,
                c.port,
                &c.protocol,
                &c.endpoint_ip,
                c.packets,
                c.bytes,
            ))
        }
        _ => return Ok(None),
    }))
}
