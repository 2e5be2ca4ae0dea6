//! Cases about creating rules: AddLbRule's checks, what a rule lists, and the probe
//! entries a rule makes. Each uses the case's own port and the first backend.

use serde_json::{json, Value};

use super::checks::{
    describe, field, handler_error, listed_probe, listed_rule, success, that, Verdict,
};
use super::ctx::{Ctx, Ep, Res};

/// A rule with probetype http: "malformed-service-ptype error".
pub async fn http_probetype(c: &mut Ctx) -> Res<Verdict> {
    let ep = c.ep()?;
    let body = c.rule(&[ep], json!({"probetype": "http", "probeport": ep.port}));
    let r = c.post_rule(&body).await?;
    Ok(Verdict::from_checks(vec![handler_error(
        &c.expect,
        &r,
        "malformed-service-ptype error",
        400,
    )]))
}

/// probeport is required for tcp and refused for ping: "malformed-service-pport error".
pub async fn probeport(c: &mut Ctx) -> Res<Verdict> {
    let ep = c.ep()?;
    let tcp = c.rule(&[ep], json!({"probetype": "tcp"}));
    let r = c.post_rule(&tcp).await?;
    let mut checks = vec![handler_error(
        &c.expect,
        &r,
        "malformed-service-pport error",
        400,
    )];
    let ping = c.rule(&[ep], json!({"probetype": "ping", "probeport": ep.port}));
    let r = c.post_rule(&ping).await?;
    checks.push(handler_error(
        &c.expect,
        &r,
        "malformed-service-pport error",
        400,
    ));
    Ok(Verdict::from_checks(checks))
}

/// A probetype other than none turns monitor on.
pub async fn probetype_forces_monitor(c: &mut Ctx) -> Res<Verdict> {
    let ep = c.ep()?;
    let body = c.rule(
        &[ep],
        json!({"probetype": "tcp", "probeport": ep.port, "monitor": false}),
    );
    let r = c.post_rule(&body).await?;
    let mut checks = vec![success("create", &r)];
    let list = c.list_rules().await?;
    let rule = listed_rule(&list, &c.vip_text(), c.port);
    checks.push(field(
        "listed monitor",
        rule.map(|r| &r["serviceArguments"]["monitor"]),
        Some(&json!(true)),
    ));
    Ok(Verdict::from_checks(checks))
}

/// 33 endpoints: "endpoints-range error".
pub async fn endpoints_33(c: &mut Ctx) -> Res<Verdict> {
    let mut eps = vec![c.ep()?];
    for i in 1..=32 {
        eps.push(c.neighbour(i)?);
    }
    let body = c.rule(&eps, json!({}));
    let r = c.post_rule(&body).await?;
    Ok(Verdict::from_checks(vec![handler_error(
        &c.expect,
        &r,
        "endpoints-range error",
        400,
    )]))
}

/// inactiveTimeOut > 86400, portMax < port and sel n3 on tcp are refused.
pub async fn arguments(c: &mut Ctx) -> Res<Verdict> {
    let ep = c.ep()?;
    let mut checks = Vec::new();
    let body = c.rule(&[ep], json!({"inactiveTimeOut": 86_401}));
    let r = c.post_rule(&body).await?;
    checks.push(handler_error(&c.expect, &r, "service-args error", 400));
    if c.port > 1 {
        let body = c.rule(&[ep], json!({"portMax": c.port - 1}));
        let r = c.post_rule(&body).await?;
        checks.push(handler_error(
            &c.expect,
            &r,
            "serv-port-args range error",
            400,
        ));
    }
    let body = c.rule(&[ep], json!({"sel": 6}));
    let r = c.post_rule(&body).await?;
    checks.push(handler_error(&c.expect, &r, "non-udp-n3-args error", 400));
    Ok(Verdict::from_checks(checks))
}

/// DSR with round robin: HTTP 200 with an `Error:` result in every release, no rule.
pub async fn dsr_needs_hash(c: &mut Ctx) -> Res<Verdict> {
    // DSR wants the endpoint port equal to the rule port; a wrongly accepted rule then
    // really exists and shows in the listing.
    let ep = Ep {
        port: c.port,
        ..c.ep()?
    };
    let body = c.rule(&[ep], json!({"mode": 3, "sel": 0}));
    let r = c.post_rule(&body).await?;
    let text = "Error: Only Hash Selection criteria allowed for DSR mode";
    let mut checks = vec![that(
        format!("200 result={text:?} (every release)"),
        describe(&r),
        r.status == 200 && r.result() == Some(text),
    )];
    let list = c.list_rules().await?;
    let listed = listed_rule(&list, &c.vip_text(), c.port).is_some();
    checks.push(that(
        "no rule",
        if listed { "rule listed" } else { "no rule" },
        !listed,
    ));
    Ok(Verdict::from_checks(checks))
}

/// An endpoint weight of 300 is stored as 44 (8-bit cast).
pub async fn weight_cast(c: &mut Ctx) -> Res<Verdict> {
    let ep = Ep {
        weight: 300,
        ..c.ep()?
    };
    let body = c.rule(&[ep], json!({}));
    let r = c.post_rule(&body).await?;
    let mut checks = vec![success("create with weight 300", &r)];
    let list = c.list_rules().await?;
    let rule = listed_rule(&list, &c.vip_text(), c.port);
    checks.push(field(
        "listed weight",
        rule.map(|r| &r["endpoints"][0]["weight"]),
        Some(&json!(44)),
    ));
    Ok(Verdict::from_checks(checks))
}

/// What GET /config/loadbalancer/all lists for a plain rule.
pub async fn listing(c: &mut Ctx) -> Res<Verdict> {
    let ep = c.ep()?;
    let body = c.rule(&[ep], json!({"inactiveTimeOut": 0, "privateIP": ""}));
    let r = c.post_rule(&body).await?;
    let mut checks = vec![success("create", &r)];
    let list = c.list_rules().await?;
    let Some(rule) = listed_rule(&list, &c.vip_text(), c.port) else {
        checks.push(that("rule listed", "rule not listed", false));
        return Ok(Verdict::from_checks(checks));
    };
    let sa = &rule["serviceArguments"];
    let unlisted = [
        "privateIP",
        "probereq",
        "proberesp",
        "probeTimeout",
        "probeRetries",
        "oper",
        "portMax",
        "sel",
        "mode",
        "monitor",
    ];
    let present: Vec<&str> = unlisted
        .iter()
        .copied()
        .filter(|k| sa.get(*k).is_some())
        .collect();
    checks.push(that(
        "unlisted/zero fields omitted (privateIP, probe*, oper, portMax, sel 0, mode 0, monitor false)",
        format!("present: {present:?}"),
        present.is_empty(),
    ));
    checks.push(field(
        "inactiveTimeOut (0 posted)",
        sa.get("inactiveTimeOut"),
        Some(&json!(240)),
    ));
    let ep0 = &rule["endpoints"][0];
    let state_ok = matches!(ep0["state"].as_str(), Some("active" | "inactive"));
    let counter_ok = ep0["counter"].as_str().is_some_and(|t| {
        t.split_once(':').is_some_and(|(a, b)| {
            !a.is_empty()
                && !b.is_empty()
                && a.bytes().all(|x| x.is_ascii_digit())
                && b.bytes().all(|x| x.is_ascii_digit())
        })
    });
    checks.push(that(
        "endpoint state active|inactive, counter \"packets:bytes\"",
        format!("state {} counter {}", ep0["state"], ep0["counter"]),
        state_ok && counter_ok,
    ));
    let nulls = ["secondaryIPs", "allowedSources"]
        .iter()
        .all(|k| rule.get(*k) == Some(&Value::Null));
    checks.push(that(
        "empty secondaryIPs/allowedSources listed as null",
        format!(
            "secondaryIPs {} allowedSources {}",
            show(rule.get("secondaryIPs")),
            show(rule.get("allowedSources"))
        ),
        nulls,
    ));
    Ok(Verdict::from_checks(checks))
}

fn show(v: Option<&Value>) -> String {
    v.map_or_else(|| "omitted".into(), Value::to_string)
}

/// A monitored rule creates `<ip>_tcp_<port>` with the rule's options (defaults 60 s and
/// 2 retries), and deleting the rule deletes it.
pub async fn probe_entries(c: &mut Ctx) -> Res<Verdict> {
    let ep = c.ep()?;
    let key = format!("{}_tcp_{}", ep.ip, ep.port);
    let body = c.rule(&[ep], json!({"probetype": "tcp", "probeport": ep.port}));
    let r = c.post_rule(&body).await?;
    let mut checks = vec![success("create", &r)];
    let probes = c.list_probes().await?;
    let p = listed_probe(&probes, &key);
    checks.push(that(
        format!("probe {key} listed"),
        if p.is_some() { "listed" } else { "not listed" },
        p.is_some(),
    ));
    let get = |k: &str| p.and_then(|p| p.get(k));
    checks.push(field("probeType", get("probeType"), Some(&json!("tcp"))));
    checks.push(field("probePort", get("probePort"), Some(&json!(ep.port))));
    checks.push(field(
        "probeDuration",
        get("probeDuration"),
        Some(&json!(60)),
    ));
    checks.push(field(
        "inactiveReTries",
        get("inactiveReTries"),
        Some(&json!(2)),
    ));
    super::cases_probes::delete_rule_expecting_probe_gone(
        c,
        &key,
        "probe gone with the rule",
        &mut checks,
    )
    .await?;
    Ok(Verdict::from_checks(checks))
}
