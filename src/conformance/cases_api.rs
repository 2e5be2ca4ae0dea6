//! Cases that need no backend: answer shapes, error shapes, login, and refusals that
//! create nothing.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};

use super::api::{Auth, Body};
use super::checks::{describe, handler_error, status, success, that, Check, Verdict};
use super::ctx::{Ctx, Res};

/// `/version`: exactly `version` and `buildInfo`, both text.
pub async fn version_shape(c: &mut Ctx) -> Res<Verdict> {
    let r = match &c.version_reply {
        Some(r) => r.clone(),
        None => c.api.call(Method::GET, "/version", None).await?,
    };
    let keys: BTreeSet<&str> = r
        .body
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let texts = ["version", "buildInfo"]
        .iter()
        .all(|k| r.body.get(*k).is_some_and(Value::is_string));
    Ok(Verdict::from_checks(vec![that(
        "200 {version, buildInfo} (text, nothing else)",
        format!("{} keys {:?}", r.status, keys),
        r.status == 200 && keys == BTreeSet::from(["buildInfo", "version"]) && texts,
    )]))
}

/// `/status/process`: `{"processAttr": [...]}` with every process of the host.
pub async fn process_status_shape(c: &mut Ctx) -> Res<Verdict> {
    let r = c.api.call(Method::GET, "/status/process", None).await?;
    let procs = r.body.get("processAttr").and_then(Value::as_array);
    let only_key = r.body.as_object().is_some_and(|o| o.len() == 1);
    let well_formed = procs.is_some_and(|p| {
        !p.is_empty()
            && p.iter()
                .all(|e| e["pid"].is_string() && e["command"].is_string())
    });
    let observed = format!(
        "{} processAttr with {} entries",
        r.status,
        procs.map_or(0, Vec::len)
    );
    Ok(Verdict::from_checks(vec![that(
        "200 {processAttr: [{pid, command, ...}, ...]}",
        observed,
        r.status == 200 && only_key && well_formed,
    )]))
}

/// Login: with credentials, a wrong password is 200 without a token, an unknown user
/// "User not found", no header 401, a "Bearer" token unknown (500), /version open; without,
/// /auth/login is 501 and calls need no token.
pub async fn login(c: &mut Ctx) -> Res<Verdict> {
    let mut checks: Vec<Check> = Vec::new();
    let Some((user, password)) = c.credentials.clone() else {
        let body = json!({"username": c.name, "password": "octavia-conformance"});
        let r = c.api.post_login(&body).await?;
        checks.push(status("login without user service", &r, 501));
        let r = c
            .api
            .send(
                Method::GET,
                "/config/loadbalancer/all",
                Body::None,
                Auth::Without,
            )
            .await?;
        checks.push(status("listing without token", &r, 200));
        return Ok(Verdict::from_checks(checks));
    };
    // A dry run prints bodies: the password never appears in one.
    let shown = if c.api.dry() {
        crate::config::REDACTED.to_string()
    } else {
        password
    };
    let wrong = json!({"username": user, "password": format!("{shown}-not")});
    let r = c.api.post_login(&wrong).await?;
    checks.push(that(
        "wrong password: 200 without token",
        format!("wrong password: {}", describe(&r)),
        r.status == 200 && r.body.get("token").is_none(),
    ));
    let unknown = json!({"username": c.name, "password": "octavia-conformance"});
    let r = c.api.post_login(&unknown).await?;
    checks.push(handler_error(&c.expect, &r, "User not found", 404));
    let r = c
        .api
        .send(
            Method::GET,
            "/config/loadbalancer/all",
            Body::None,
            Auth::Without,
        )
        .await?;
    checks.push(status("listing without header", &r, 401));
    let bearer = format!("Bearer {}", c.api.token().unwrap_or_default());
    let r = c
        .api
        .send(
            Method::GET,
            "/config/loadbalancer/all",
            Body::None,
            Auth::Header(&bearer),
        )
        .await?;
    checks.push(that(
        "\"Bearer <token>\": 500 Token not found",
        format!("\"Bearer <token>\": {}", describe(&r)),
        r.status == 500 && r.body.to_string().contains("Token not found"),
    ));
    let r = c
        .api
        .send(Method::GET, "/version", Body::None, Auth::Without)
        .await?;
    checks.push(status("/version without token", &r, 200));
    Ok(Verdict::from_checks(checks))
}

/// Deleting an absent rule by address: "no-rule error", shaped by the release.
pub async fn error_shape(c: &mut Ctx) -> Res<Verdict> {
    let r = c.delete_rule().await?;
    Ok(Verdict::from_checks(vec![handler_error(
        &c.expect,
        &r,
        "no-rule error",
        404,
    )]))
}

/// go-swagger answers before the handler: 400 for a body that is not JSON, 422 (code
/// 601) for a missing required field; neither has a `result`.
pub async fn swagger_binding(c: &mut Ctx) -> Res<Verdict> {
    let no_result = |r: &super::api::Reply| r.body.get("result").is_none();
    // Nothing can be created from these, but the port is remembered all the same.
    let body = c.rule(&[], json!({}));
    let without_eps = json!({"serviceArguments": body["serviceArguments"].clone()});
    c.guard.rules.push(super::guard::RuleRef {
        ip: c.vip_text(),
        port: c.port,
        protocol: "tcp".into(),
    });
    let r = c
        .api
        .send(
            Method::POST,
            "/config/loadbalancer",
            Body::Text("octavia-conformance: not json"),
            Auth::Token,
        )
        .await?;
    let mut checks = vec![that(
        "not JSON: 400 {code 400, message}, no result",
        format!("not JSON: {}", describe(&r)),
        r.status == 400 && r.body["code"] == 400 && r.body["message"].is_string() && no_result(&r),
    )];
    let r = c.post_rule(&without_eps).await?;
    checks.push(that(
        "no endpoints field: 422 {code 601, message}, no result",
        format!("no endpoints field: {}", describe(&r)),
        r.status == 422 && r.body["code"] == 601 && no_result(&r),
    ));
    Ok(Verdict::from_checks(checks))
}

/// A rule with an empty endpoint list: "endpoints-range error".
pub async fn rule_without_endpoints(c: &mut Ctx) -> Res<Verdict> {
    let body = c.rule(&[], json!({}));
    let r = c.post_rule(&body).await?;
    Ok(Verdict::from_checks(vec![handler_error(
        &c.expect,
        &r,
        "endpoints-range error",
        400,
    )]))
}

/// DELETE by a name no rule has: 200 Success.
pub async fn delete_by_absent_name(c: &mut Ctx) -> Res<Verdict> {
    let path = format!("/config/loadbalancer/name/{}-absent", c.name);
    let r = c.api.call(Method::DELETE, &path, None).await?;
    Ok(Verdict::from_checks(vec![success(
        "delete by absent name",
        &r,
    )]))
}

/// Deleting a probe that does not exist: "host-notfound error".
pub async fn probe_delete_absent(c: &mut Ctx) -> Res<Verdict> {
    let path = format!(
        "/config/endpoint/epipaddress/{}?name={}-absent",
        c.vip_text(),
        c.name
    );
    let r = c.api.call(Method::DELETE, &path, None).await?;
    Ok(Verdict::from_checks(vec![handler_error(
        &c.expect,
        &r,
        "host-notfound error",
        404,
    )]))
}

/// Probe validation: a host that is not an address is "host-parse error"; with a
/// backend also the range checks ("host-args error", "host-args unknown probe port").
pub async fn probe_host_parse(c: &mut Ctx) -> Res<Verdict> {
    let bad_host = json!({"hostName": "octavia-conformance", "name": format!("{}-host", c.name),
        "probeType": "tcp", "probePort": 80, "probeDuration": 10, "inactiveReTries": 1});
    let r = c.post_probe(&bad_host).await?;
    let mut checks = vec![handler_error(&c.expect, &r, "host-parse error", 400)];
    if let Ok(b) = c.backend() {
        let host = b.ip().to_string();
        let long = json!({"hostName": host, "name": format!("{}-args", c.name),
            "probeType": "tcp", "probePort": b.port(), "probeDuration": 86_401, "inactiveReTries": 1});
        let r = c.post_probe(&long).await?;
        checks.push(handler_error(&c.expect, &r, "host-args error", 400));
        let no_port = json!({"hostName": host, "name": format!("{}-port", c.name),
            "probeType": "tcp", "probePort": 0, "probeDuration": 10, "inactiveReTries": 1});
        let r = c.post_probe(&no_port).await?;
        checks.push(handler_error(
            &c.expect,
            &r,
            "host-args unknown probe port",
            400,
        ));
    }
    Ok(Verdict::from_checks(checks))
}

/// POST /config/endpointhoststate with an unknown state: "unknown ep-host-state".
pub async fn ep_host_state_unknown(c: &mut Ctx) -> Res<Verdict> {
    let expected = "unknown ep-host-state refused";
    if !c.expect.has_ep_host_state() {
        return Ok(Verdict::skip(expected, "route exists from v0.9.8.2"));
    }
    let body = json!({"hostName": c.vip_text(), "state": "octavia-conformance"});
    let r = c
        .api
        .call(Method::POST, "/config/endpointhoststate", Some(&body))
        .await?;
    Ok(Verdict::from_checks(vec![handler_error(
        &c.expect,
        &r,
        "unknown ep-host-state",
        400,
    )]))
}
