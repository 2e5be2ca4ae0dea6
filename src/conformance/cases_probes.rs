//! Cases about endpoint probes posted through the API: keys, listing, re-posts, and
//! how rules share them.

use reqwest::Method;
use serde_json::json;

use super::checks::{field, handler_error, listed_probe, success, that, Verdict};
use super::ctx::{Ctx, Res};
use super::guard::ProbeRef;

/// An API probe keyed `<ip>_tcp_<port>` keeps its options when a rule starts using it,
/// cannot be deleted while referred (409), and goes with the last rule.
pub async fn api_probe_kept(c: &mut Ctx) -> Res<Verdict> {
    let ep = c.ep()?;
    let key = format!("{}_tcp_{}", ep.ip, ep.port);
    let probe = json!({"hostName": ep.ip.to_string(), "probeType": "tcp", "probePort": ep.port,
        "probeDuration": 77, "inactiveReTries": 3});
    let r = c.post_probe(&probe).await?;
    let mut checks = vec![success("post probe", &r)];
    let body = c.rule(
        &[ep],
        json!({"probetype": "tcp", "probeport": ep.port, "probeTimeout": 30, "probeRetries": 5}),
    );
    let r = c.post_rule(&body).await?;
    checks.push(success("create rule", &r));
    let probes = c.list_probes().await?;
    let p = listed_probe(&probes, &key);
    checks.push(that(
        format!("listed as {key}"),
        if p.is_some() { "listed" } else { "not listed" },
        p.is_some(),
    ));
    let get = |k: &str| p.and_then(|p| p.get(k));
    checks.push(field(
        "probeDuration kept",
        get("probeDuration"),
        Some(&json!(77)),
    ));
    checks.push(field(
        "inactiveReTries kept",
        get("inactiveReTries"),
        Some(&json!(3)),
    ));
    let path = ProbeRef::of_body(&probe)
        .map(|p| p.path())
        .unwrap_or_default();
    let r = c.api.call(Method::DELETE, &path, None).await?;
    checks.push(handler_error(&c.expect, &r, "LB Rule-referred", 409));
    delete_rule_expecting_probe_gone(c, &key, "probe gone with the last rule", &mut checks).await?;
    Ok(Verdict::from_checks(checks))
}

/// Delete the run's rule and check that LoxiLB removed probe `key` with it (a probe
/// goes with the last rule that refers to it).
pub(super) async fn delete_rule_expecting_probe_gone(
    c: &mut Ctx,
    key: &str,
    label: &str,
    checks: &mut Vec<super::checks::Check>,
) -> Res<()> {
    let r = c.delete_rule().await?;
    checks.push(success("delete rule", &r));
    let probes = c.list_probes().await?;
    let left = listed_probe(&probes, key).is_some();
    checks.push(that(
        label,
        if left {
            "probe still listed"
        } else {
            "probe gone"
        },
        !left,
    ));
    Ok(())
}

/// Re-posting a named probe with another host replaces the options, keeps the host.
pub async fn repost_keeps_host(c: &mut Ctx) -> Res<Verdict> {
    let expected = "hostName kept, options replaced";
    let (Some(b0), Some(b1)) = (c.backends.first().copied(), c.backends.get(1).copied()) else {
        return Ok(Verdict::skip(
            expected,
            "needs two --backend with different addresses",
        ));
    };
    if b0.ip() == b1.ip() {
        return Ok(Verdict::skip(
            expected,
            "needs two --backend with different addresses",
        ));
    }
    let name = format!("{}-host", c.name);
    let first = json!({"hostName": b0.ip().to_string(), "name": name, "probeType": "tcp",
        "probePort": b0.port(), "probeDuration": 30, "inactiveReTries": 2});
    let r = c.post_probe(&first).await?;
    let mut checks = vec![success("post", &r)];
    let again = json!({"hostName": b1.ip().to_string(), "name": name, "probeType": "tcp",
        "probePort": b1.port(), "probeDuration": 40, "inactiveReTries": 2});
    let r = c.post_probe(&again).await?;
    checks.push(success("re-post with other host", &r));
    let probes = c.list_probes().await?;
    let p = listed_probe(&probes, &name);
    let get = |k: &str| p.and_then(|p| p.get(k));
    checks.push(field(
        "hostName",
        get("hostName"),
        Some(&json!(b0.ip().to_string())),
    ));
    checks.push(field(
        "probeDuration",
        get("probeDuration"),
        Some(&json!(40)),
    ));
    Ok(Verdict::from_checks(checks))
}

/// A probe of type none lists its type and no options; empty fields are omitted.
pub async fn listing(c: &mut Ctx) -> Res<Verdict> {
    let b = c.backend()?;
    let name = format!("{}-none", c.name);
    let body = json!({"hostName": b.ip().to_string(), "name": name, "probeType": "none"});
    let r = c.post_probe(&body).await?;
    let mut checks = vec![success("post type none", &r)];
    let probes = c.list_probes().await?;
    let p = listed_probe(&probes, &name);
    let get = |k: &str| p.and_then(|p| p.get(k));
    checks.push(field(
        "hostName",
        get("hostName"),
        Some(&json!(b.ip().to_string())),
    ));
    checks.push(field("probeType", get("probeType"), Some(&json!("none"))));
    for k in [
        "probeDuration",
        "inactiveReTries",
        "probeReq",
        "probeResp",
        "probePort",
    ] {
        checks.push(field(k, get(k), None));
    }
    Ok(Verdict::from_checks(checks))
}
