//! The state machine driven through `apply` alone: no server, no tokio, no sockets. Each
//! case is a sequence of calls with the status, body and effects each one must produce.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::apply::{apply, Op, Request};
use super::effect::Effect;
use super::endpoints::EndpointOp;
use super::rules::RuleOp;
use super::sim::{Setup, Sim};
use super::system::SystemOp;
use crate::error::ApiError;
use crate::model::{EndPointIn, LoginIn};
use loxilb_version::LoxilbVersion;

fn sim(auth: Option<(&str, &str)>) -> Sim {
    let setup = Setup {
        version: LoxilbVersion::default(),
        auth: auth.map(|(u, p)| (u.to_string(), p.to_string())),
        token_ttl: Duration::from_secs(60),
        flip: None,
        pid: 4242,
    };
    Sim::new(setup, Instant::now())
}

fn probe(host: &str, probe_type: &str, port: i64) -> Op {
    let input = EndPointIn {
        host_name: host.into(),
        probe_type: probe_type.into(),
        probe_port: port,
        ..Default::default()
    };
    Op::Endpoints(Ok(EndpointOp::Add {
        input,
        host_ca: Ok(Vec::new()),
    }))
}

fn rule(body: Value) -> Op {
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    Op::Rules(crate::swagger::loadbalance_entry(&bytes).map(|e| RuleOp::Add(Box::new(e))))
}

fn delete_probe(host: &str, probe_type: &str, port: u16) -> Op {
    Op::Endpoints(Ok(EndpointOp::Delete {
        host: host.into(),
        name: String::new(),
        probe_type: probe_type.into(),
        probe_port: port,
    }))
}

/// Apply `op` at `now` with `token`; the status, the JSON body and the effects.
fn call(sim: &mut Sim, op: Op, token: Option<&str>, now: Instant) -> (u16, Value, Vec<Effect>) {
    let req = Request {
        now,
        token: token.map(str::to_string),
        op,
    };
    let (resp, effects) = apply(sim, req);
    let body = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    (resp.status, body, effects)
}

fn cancel(key: &str) -> Effect {
    Effect::CancelCheck { key: key.into() }
}

/// One step of a case: the call, then what it must answer and ask for.
struct Step {
    op: Op,
    status: u16,
    /// A JSON pointer into the body and the value expected there.
    body: Option<(&'static str, Value)>,
    effects: Vec<Effect>,
}

fn step(op: Op, status: u16, body: Option<(&'static str, Value)>, effects: Vec<Effect>) -> Step {
    Step {
        op,
        status,
        body,
        effects,
    }
}

fn run(name: &str, steps: Vec<Step>) {
    let mut s = sim(None);
    let now = Instant::now();
    for (i, st) in steps.into_iter().enumerate() {
        let (status, body, effects) = call(&mut s, st.op, None, now);
        assert_eq!(status, st.status, "{name} step {i}: {body}");
        if let Some((ptr, want)) = st.body {
            assert_eq!(body.pointer(ptr), Some(&want), "{name} step {i}: {body}");
        }
        assert_eq!(effects, st.effects, "{name} step {i}");
    }
}

fn success() -> Option<(&'static str, Value)> {
    Some(("/result", json!("Success")))
}

type Case = (&'static str, Vec<Step>);

fn run_all(cases: Vec<Case>) {
    for (name, steps) in cases {
        run(name, steps);
    }
}

fn list_eps() -> Op {
    Op::Endpoints(Ok(EndpointOp::List))
}

const KEY: &str = "10.0.1.1_tcp_8080";

#[test]
fn table_of_probe_calls() {
    let key = KEY;
    run_all(vec![
        (
            "probe create then list: the checkers start, the listing shows it",
            vec![
                step(
                    probe("10.0.1.1", "tcp", 8080),
                    200,
                    success(),
                    vec![cancel(key), Effect::StartCheckers],
                ),
                step(list_eps(), 200, Some(("/Attr/0/name", json!(key))), vec![]),
                step(
                    list_eps(),
                    200,
                    Some(("/Attr/0/currState", json!("ok"))),
                    vec![],
                ),
            ],
        ),
        (
            "probe delete cancels its check; a second delete is host-notfound",
            vec![
                step(
                    probe("10.0.1.1", "tcp", 8080),
                    200,
                    success(),
                    vec![cancel(key), Effect::StartCheckers],
                ),
                step(
                    delete_probe("10.0.1.1", "tcp", 8080),
                    200,
                    success(),
                    vec![cancel(key)],
                ),
                step(delete_probe("10.0.1.1", "tcp", 8080), 404, None, vec![]),
                step(list_eps(), 200, Some(("/Attr", json!([]))), vec![]),
            ],
        ),
        (
            "invalid probe: validateEPHostOpts text, no effect",
            vec![step(probe("nope", "tcp", 80), 400, None, vec![])],
        ),
    ]);
}

#[test]
fn table_of_rule_and_other_calls() {
    let vip_rule = json!({
        "serviceArguments": {"externalIP": "10.0.0.100", "port": 80, "protocol": "tcp"},
        "endpoints": [{"endpointIP": "10.0.1.1", "targetPort": 8080, "weight": 1}],
    });
    let list_rules = || Op::Rules(Ok(RuleOp::List));
    let key = KEY;
    run_all(vec![
        (
            "rule create acquires its endpoint's probe; the probe is rule-referred",
            vec![
                step(
                    rule(vip_rule.clone()),
                    200,
                    success(),
                    vec![cancel(key), Effect::StartCheckers],
                ),
                step(
                    list_rules(),
                    200,
                    Some(("/lbAttr/0/serviceArguments/externalIP", json!("10.0.0.100"))),
                    vec![],
                ),
                step(list_eps(), 200, Some(("/Attr/0/name", json!(key))), vec![]),
                step(delete_probe("10.0.1.1", "tcp", 8080), 409, None, vec![]),
                step(
                    rule(vip_rule.clone()),
                    409,
                    Some(("/result", json!("lbrule-exists error"))),
                    vec![],
                ),
            ],
        ),
        (
            "rule delete releases the probe and cancels its check",
            vec![
                step(
                    rule(vip_rule.clone()),
                    200,
                    success(),
                    vec![cancel(key), Effect::StartCheckers],
                ),
                step(
                    Op::Rules(Ok(RuleOp::DeleteAll)),
                    200,
                    success(),
                    vec![cancel(key)],
                ),
                step(list_rules(), 200, Some(("/lbAttr", json!([]))), vec![]),
                step(list_eps(), 200, Some(("/Attr", json!([]))), vec![]),
            ],
        ),
        (
            "routing refusals and binding errors answer without touching the state",
            vec![
                step(
                    Op::Refused(ApiError::Openapi(404, "path was not found".into())),
                    404,
                    None,
                    vec![],
                ),
                step(
                    Op::Rules(Err(ApiError::Openapi(400, "bad body".into()))),
                    400,
                    None,
                    vec![],
                ),
                step(
                    Op::System(SystemOp::Version),
                    200,
                    Some(("/version", json!(LoxilbVersion::default().to_string()))),
                    vec![],
                ),
            ],
        ),
    ]);
}

/// An https probe trusts the per-host CA the runtime read; an unreadable one fails the
/// call with LoxiLB's text and nothing is created.
#[test]
fn https_probe_trusts_host_ca_or_fails() {
    let mut s = sim(None);
    let now = Instant::now();
    let https = |host_ca| {
        let input = EndPointIn {
            host_name: "10.0.2.1".into(),
            probe_type: "https".into(),
            probe_port: 443,
            ..Default::default()
        };
        Op::Endpoints(Ok(EndpointOp::Add { input, host_ca }))
    };
    let (status, body, effects) = call(&mut s, https(Err(())), None, now);
    assert_eq!(status, 500, "{body}");
    assert!(effects.is_empty());
    assert!(s.endpoints.is_empty());
    let (status, _, effects) = call(&mut s, https(Ok(vec![b"PEM".to_vec()])), None, now);
    assert_eq!(status, 200);
    assert_eq!(
        effects[0],
        Effect::TrustCa {
            pem: b"PEM".to_vec()
        }
    );
}

/// Tokens: a login issues the runtime's token, which then opens the other calls until
/// it expires; time is an input, so expiry needs no sleeping.
#[test]
fn token_issued_then_required_then_expired() {
    let mut s = sim(Some(("admin", "pw")));
    let t0 = Instant::now();
    let login = Op::System(SystemOp::Login {
        user: Ok(LoginIn {
            username: "admin".into(),
            password: "pw".into(),
        }),
        token: "tok".into(),
    });
    let (status, body, _) = call(&mut s, login, None, t0);
    assert_eq!((status, body.pointer("/token")), (200, Some(&json!("tok"))));
    let list = || Op::Endpoints(Ok(EndpointOp::List));
    assert_eq!(call(&mut s, list(), None, t0).0, 401);
    assert_eq!(call(&mut s, list(), Some("tok"), t0).0, 200);
    let later = t0 + Duration::from_secs(61);
    assert_eq!(call(&mut s, list(), Some("tok"), later).0, 500);
    assert_eq!(
        call(&mut s, Op::System(SystemOp::Version), None, later).0,
        200
    );
}

/// A restart empties LoxiLB and cancels every check in flight.
#[test]
fn restart_empty_cancels_every_check() {
    let mut s = sim(None);
    let now = Instant::now();
    call(&mut s, probe("10.0.1.1", "tcp", 80), None, now);
    call(&mut s, probe("10.0.1.2", "tcp", 80), None, now);
    s.restart_empty(now);
    assert_eq!(
        s.take_effects(),
        vec![cancel("10.0.1.1_tcp_80"), cancel("10.0.1.2_tcp_80")]
    );
    assert!(s.endpoints.is_empty() && s.rules.map.is_empty());
}
