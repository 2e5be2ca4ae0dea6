//! Cases about re-posting an existing rule (AddLbRule's existing-rule branch): what is a
//! change, what an update keeps, how endpoints merge, and which refusal comes first.

use serde_json::{json, Value};

use super::api::Reply;
use super::checks::{field, handler_error, listed_rule, success, that, Check, Verdict};
use super::ctx::{Ctx, Ep, Res};

const EXISTS: &str = "lbrule-exists error";

/// Re-posts differing only in fields AddLbRule does not compare are 409; nothing stored.
pub async fn conflicts(c: &mut Ctx) -> Res<Verdict> {
    let ep = c.ep()?;
    let r = c.post_rule(&c.rule(&[ep], json!({}))).await?;
    let mut checks = vec![success("create", &r)];
    for args in [
        json!({}),
        json!({"inactiveTimeOut": 600}),
        json!({"monitor": true}),
    ] {
        let r = c.post_rule(&c.rule(&[ep], args)).await?;
        checks.push(handler_error(&c.expect, &r, EXISTS, 409));
    }
    let list = c.list_rules().await?;
    let sa = listed_rule(&list, &c.vip_text(), c.port).map(|r| &r["serviceArguments"]);
    checks.push(field(
        "inactiveTimeOut kept",
        sa.and_then(|a| a.get("inactiveTimeOut")),
        Some(&json!(240)),
    ));
    checks.push(field(
        "monitor kept",
        sa.and_then(|a| a.get("monitor")),
        None,
    ));
    Ok(Verdict::from_checks(checks))
}

/// A real change (sel) is stored; the name chosen at creation stays.
pub async fn keeps(c: &mut Ctx) -> Res<Verdict> {
    let ep = c.ep()?;
    let r = c.post_rule(&c.rule(&[ep], json!({}))).await?;
    let mut checks = vec![success("create", &r)];
    let renamed = format!("{}-renamed", c.name);
    let r = c
        .post_rule(&c.rule(&[ep], json!({"sel": 1, "name": renamed})))
        .await?;
    checks.push(success("update sel and name", &r));
    let list = c.list_rules().await?;
    let sa = listed_rule(&list, &c.vip_text(), c.port).map(|r| &r["serviceArguments"]);
    checks.push(field(
        "sel stored",
        sa.and_then(|a| a.get("sel")),
        Some(&json!(1)),
    ));
    checks.push(field(
        "name kept",
        sa.and_then(|a| a.get("name")),
        Some(&json!(c.name)),
    ));
    Ok(Verdict::from_checks(checks))
}

fn with_sources(mut body: Value, prefix: &str) -> Value {
    body["allowedSources"] = json!([{ "prefix": prefix }]);
    body
}

/// One allowed source: re-posting the same prefix is an update, another prefix a 409.
pub async fn allowed_sources(c: &mut Ctx) -> Res<Verdict> {
    let expected = "same prefix: update; other prefix: 409";
    let ep = c.ep()?;
    let (first, other) = ("198.51.100.0/24", "203.0.113.0/24");
    let r = c
        .post_rule(&with_sources(c.rule(&[ep], json!({})), first))
        .await?;
    if r.result() == Some("rule-allowed-src error") && !c.api.dry() {
        return Ok(Verdict::skip(
            expected,
            "LoxiLB numbered the rule above 28 (other rules on the node): allowed sources refused",
        ));
    }
    let mut checks = vec![success("create with one source", &r)];
    let r = c
        .post_rule(&with_sources(c.rule(&[ep], json!({})), first))
        .await?;
    checks.push(success("re-post same prefix", &r));
    let r = c
        .post_rule(&with_sources(c.rule(&[ep], json!({})), other))
        .await?;
    checks.push(handler_error(&c.expect, &r, EXISTS, 409));
    let list = c.list_rules().await?;
    let rule = listed_rule(&list, &c.vip_text(), c.port);
    checks.push(field(
        "allowedSources",
        rule.and_then(|r| r.get("allowedSources")),
        Some(&json!([{ "prefix": first }])),
    ));
    Ok(Verdict::from_checks(checks))
}

/// The "ip:port" of each listed endpoint of the case's rule (None: no rule).
fn listed_eps(c: &Ctx, list: &Reply) -> Option<Vec<String>> {
    let rule = listed_rule(list, &c.vip_text(), c.port)?;
    let mut eps: Vec<String> = rule["endpoints"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    format!(
                        "{}:{}",
                        e["endpointIP"].as_str().unwrap_or("?"),
                        e["targetPort"]
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    eps.sort();
    Some(eps)
}

fn eps_check(what: &str, observed: Option<Vec<String>>, want: &[Ep]) -> Check {
    let mut want: Vec<String> = want
        .iter()
        .map(|e| format!("{}:{}", e.ip, e.port))
        .collect();
    want.sort();
    let shown = observed
        .as_ref()
        .map_or_else(|| "no rule".to_string(), |e| e.join(","));
    that(
        format!("{what}: {}", want.join(",")),
        format!("{what}: {shown}"),
        observed.as_deref() == Some(want.as_slice()),
    )
}

/// oper 0 without an endpoint hides it, a re-post brings it back, detaching every
/// endpoint (oper 2) deletes the rule.
pub async fn oper0(c: &mut Ctx) -> Res<Verdict> {
    let (e1, e2) = (c.ep()?, c.neighbour(1)?);
    let r = c.post_rule(&c.rule(&[e1, e2], json!({}))).await?;
    let mut checks = vec![success("create with 2", &r)];
    let r = c.post_rule(&c.rule(&[e1], json!({"oper": 0}))).await?;
    checks.push(success("re-post 1 (oper 0)", &r));
    let list = c.list_rules().await?;
    checks.push(eps_check(
        "listed after oper 0",
        listed_eps(c, &list),
        &[e1],
    ));
    let r = c.post_rule(&c.rule(&[e1, e2], json!({"oper": 0}))).await?;
    checks.push(success("re-post 2", &r));
    let list = c.list_rules().await?;
    checks.push(eps_check(
        "listed after re-post",
        listed_eps(c, &list),
        &[e1, e2],
    ));
    let r = c.post_rule(&c.rule(&[e1, e2], json!({"oper": 2}))).await?;
    checks.push(success("detach all (oper 2)", &r));
    let list = c.list_rules().await?;
    let gone = listed_eps(c, &list).is_none();
    checks.push(that(
        "rule deleted",
        if gone { "rule deleted" } else { "rule listed" },
        gone,
    ));
    Ok(Verdict::from_checks(checks))
}

/// A security change alone is "lbrule-exists error"; with a real change it is the
/// security refusal.
pub async fn refusal_order(c: &mut Ctx) -> Res<Verdict> {
    let ep = c.ep()?;
    let r = c.post_rule(&c.rule(&[ep], json!({}))).await?;
    let mut checks = vec![success("create", &r)];
    let r = c.post_rule(&c.rule(&[ep], json!({"security": 1}))).await?;
    checks.push(handler_error(&c.expect, &r, EXISTS, 409));
    let r = c
        .post_rule(&c.rule(&[ep], json!({"security": 1, "sel": 1})))
        .await?;
    checks.push(handler_error(
        &c.expect,
        &r,
        "lbrule-exist error: cant modify rule security mode",
        409,
    ));
    Ok(Verdict::from_checks(checks))
}
