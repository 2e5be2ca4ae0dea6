//! `loxilb-coordinator health`: the lines printed about the daemon's cluster role.

use serde_json::Value;

/// One line about the `cluster` object of `/healthz` or `/readyz`: the role, the
/// epoch, the leader's id and this instance's. `None` for a daemon that predates
/// cluster mode (no such object).
pub fn cluster_line(body: &Value) -> Option<String> {
    let c = body.get("cluster")?;
    let text = |k: &str| c.get(k).and_then(Value::as_str);
    let role = text("role")?;
    let instance = text("instance_id").unwrap_or("?");
    let epoch = c.get("epoch").and_then(Value::as_u64).unwrap_or(0);
    Some(match role {
        "single" => format!("role: single (one instance, SQLite), instance {instance}"),
        "leader" => format!("role: leader, epoch {epoch}, instance {instance}"),
        _ => {
            let leader = text("leader").unwrap_or("unknown (no live lease)");
            format!("role: {role}, epoch {epoch}, leader {leader}, instance {instance}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_role_prints_epoch_and_leader() {
        let line = |c: Value| cluster_line(&json!({"status": "ok", "cluster": c}));
        assert_eq!(
            line(json!({"role": "single", "epoch": 0, "leader": "h", "instance_id": "h"})),
            Some("role: single (one instance, SQLite), instance h".to_owned())
        );
        assert_eq!(
            line(json!({"role": "leader", "epoch": 9, "leader": "a", "instance_id": "a"})),
            Some("role: leader, epoch 9, instance a".to_owned())
        );
        assert_eq!(
            line(json!({"role": "follower", "epoch": 9, "leader": "a", "instance_id": "b"})),
            Some("role: follower, epoch 9, leader a, instance b".to_owned())
        );
        assert_eq!(
            line(json!({"role": "follower", "epoch": 3, "leader": null, "instance_id": "b"})),
            Some("role: follower, epoch 3, leader unknown (no live lease), instance b".to_owned())
        );
        assert_eq!(cluster_line(&json!({"status": "ok"})), None);
    }
}
