//! `health-status --loadbalancer ID` for people: the daemon's status tree
//! (load balancer → listeners → pools → health monitor and members) as one table,
//! the object column indented by depth, like `openstack loadbalancer status show`
//! but with the LoxiLB facts behind each status in the last column.

use serde_json::{json, Value};

use super::table;

const COLUMNS: [&str; 7] = [
    "object",
    "id",
    "name",
    "operating",
    "provisioning",
    "age",
    "loxilb",
];

/// `health-status` without a selector: one row per load balancer, the status first.
pub fn render_list(body: &Value) -> String {
    let rows: Vec<Value> = list(body, "loadbalancers")
        .map(|lb| {
            json!({
                "id": lb.get("id"),
                "operating": lb.get("operating_status"),
                "age": age(lb),
                "fresh": lb.get("fresh"),
            })
        })
        .collect();
    table::render(&rows, Some(&["id", "operating", "age", "fresh"]))
}

/// `health-status --pool ID` or `--member ID`: the same columns, one row.
pub fn render_one(body: &Value) -> String {
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or("object");
    table::render(&[row(0, kind, body)], Some(&COLUMNS))
}

/// The tree as table rows, parents before children.
pub fn rows(tree: &Value) -> Vec<Value> {
    let mut out = vec![row(0, "loadbalancer", tree)];
    for l in list(tree, "listeners") {
        out.push(row(1, "listener", l));
        for p in list(l, "pools") {
            pool_rows(2, p, &mut out);
        }
    }
    for p in list(tree, "pools") {
        pool_rows(1, p, &mut out);
    }
    out
}

/// The tree as the text `health-status --loadbalancer` prints.
pub fn render(tree: &Value) -> String {
    table::render(&rows(tree), Some(&COLUMNS))
}

fn pool_rows(depth: usize, pool: &Value, out: &mut Vec<Value>) {
    out.push(row(depth, "pool", pool));
    if let Some(hm) = pool.get("health_monitor").filter(|h| !h.is_null()) {
        out.push(row(depth + 1, "health monitor", hm));
    }
    for m in list(pool, "members") {
        out.push(row(depth + 1, "member", m));
    }
}

fn list<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> + 'a {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn row(depth: usize, what: &str, o: &Value) -> Value {
    let name = match (o.get("address"), o.get("protocol_port")) {
        (Some(Value::String(a)), Some(Value::Number(p))) => format!("{a}:{p}"),
        _ => table::cell(o.get("name").unwrap_or(&Value::Null)),
    };
    json!({
        "object": format!("{}{what}", "  ".repeat(depth)),
        "id": o.get("id"),
        "name": name,
        "operating": o.get("operating_status"),
        "provisioning": o.get("provisioning_status"),
        "age": age(o),
        "loxilb": loxilb(o.get("loxilb")),
    })
}

/// Seconds since a poll confirmed the status, marked when past status_cache_ttl.
fn age(o: &Value) -> String {
    let Some(a) = o.get("age_seconds").and_then(Value::as_f64) else {
        return "-".into();
    };
    let stale = if o.get("fresh") == Some(&json!(false)) {
        " (stale)"
    } else {
        ""
    };
    format!("{a:.1}s{stale}")
}

/// The facts behind a status in a few words: a member's probe and how many nodes
/// report each state (LoxiLB's currState ok / nok / red), a pool's member counts, a
/// load balancer's failed polls.
fn loxilb(detail: Option<&Value>) -> String {
    let Some(d) = detail.filter(|d| d.is_object()) else {
        return "-".into();
    };
    match d["source"].as_str() {
        Some("probe") => {
            let n = &d["nodes"];
            let stale = if d["stale"] == json!(true) {
                ", no node reached"
            } else {
                ""
            };
            format!(
                "probe {}: ok {} nok {} red {}{stale}",
                table::cell(&d["probe"]),
                n["ok"],
                n["nok"],
                n["red"]
            )
        }
        Some("members") => format!("members {}", table::cell(&d["members"])),
        Some("pools") => format!("failed polls {}", d["failed_polls"]),
        Some("config") => "from configuration".into(),
        _ => table::cell(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_flattens_parents_first_with_the_probe_facts() {
        let tree = json!({
            "id": "lb", "name": "web", "operating_status": "DEGRADED",
            "provisioning_status": "ACTIVE", "age_seconds": 1.24, "fresh": true,
            "loxilb": {"source": "pools", "failed_polls": 0},
            "listeners": [{"id": "l", "name": null, "operating_status": "ONLINE",
                "provisioning_status": "ACTIVE", "pools": [{"id": "p",
                "operating_status": "DEGRADED", "provisioning_status": "ACTIVE",
                "health_monitor": {"id": "hm", "type": "HTTP", "provisioning_status": "ACTIVE"},
                "members": [{"id": "m", "address": "10.0.0.1", "protocol_port": 80,
                    "operating_status": "ERROR", "provisioning_status": "ACTIVE",
                    "loxilb": {"source": "probe", "probe": "10.0.0.1_tcp_80",
                        "nodes": {"ok": 0, "nok": 2, "red": 0}, "stale": false}}]}]}],
            "pools": []
        });
        let r = rows(&tree);
        let objects: Vec<&str> = r.iter().filter_map(|x| x["object"].as_str()).collect();
        assert_eq!(
            objects,
            [
                "loadbalancer",
                "  listener",
                "    pool",
                "      health monitor",
                "      member"
            ]
        );
        assert_eq!(r[4]["name"], "10.0.0.1:80");
        assert_eq!(r[4]["loxilb"], "probe 10.0.0.1_tcp_80: ok 0 nok 2 red 0");
        assert_eq!(r[0]["age"], "1.2s");
        let list = render_list(&json!({"loadbalancers": [
            {"id": "lb", "operating_status": "ONLINE", "age_seconds": 30.04, "fresh": false}]}));
        assert!(
            list.contains("30.0s (stale)") && list.contains("ONLINE"),
            "{list}"
        );
        let one = render_one(
            &json!({"id": "m", "kind": "member", "operating_status": "ERROR",
            "age_seconds": 0.5, "fresh": true, "loxilb": {"source": "probe", "probe": null,
            "nodes": {"ok": 0, "nok": 0, "red": 0}, "stale": true}}),
        );
        assert!(
            one.contains("member") && one.contains("no node reached"),
            "{one}"
        );
        let text = render(&tree);
        assert!(
            text.contains("OPERATING") && text.contains("DEGRADED"),
            "{text}"
        );
    }
}
