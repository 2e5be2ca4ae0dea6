//! Read-only views of an `Event`: its method name, primary object and its
//! ingress-shaped envelope (for journalling). Its ordering is `ordering`'s.

use super::event::Event;
use super::kind::ObjectKind;
use serde_json::{Map, Value};

impl Event {
    /// The event back in ingress shape, `{"method": ..., "args": {...}}`,
    /// with args named as octavia-lib's parameters; `parse_envelope` of the
    /// result gives back an equal event (fields an update cleared are
    /// written as `null`).
    pub fn to_envelope(&self) -> Result<Value, serde_json::Error> {
        let mut args = match serde_json::to_value(self)? {
            Value::Object(map) => map,
            other => return Ok(other),
        };
        args.remove("method");
        if let (Some(old), Some(new)) = (args.remove("old"), args.remove("new")) {
            let kind = self.object().0.as_str();
            args.insert(format!("old_{kind}"), old);
            args.insert(format!("new_{kind}"), new);
        }
        let mut envelope = Map::new();
        envelope.insert("method".into(), Value::String(self.method().into()));
        envelope.insert("args".into(), Value::Object(args));
        Ok(Value::Object(envelope))
    }

    /// The Octavia ProviderDriver method name.
    pub fn method(&self) -> &'static str {
        match self {
            Event::LoadbalancerCreate { .. } => "loadbalancer_create",
            Event::LoadbalancerDelete { .. } => "loadbalancer_delete",
            Event::LoadbalancerUpdate { .. } => "loadbalancer_update",
            Event::LoadbalancerFailover { .. } => "loadbalancer_failover",
            Event::ListenerCreate { .. } => "listener_create",
            Event::ListenerDelete { .. } => "listener_delete",
            Event::ListenerUpdate { .. } => "listener_update",
            Event::PoolCreate { .. } => "pool_create",
            Event::PoolDelete { .. } => "pool_delete",
            Event::PoolUpdate { .. } => "pool_update",
            Event::MemberCreate { .. } => "member_create",
            Event::MemberDelete { .. } => "member_delete",
            Event::MemberUpdate { .. } => "member_update",
            Event::MemberBatchUpdate { .. } => "member_batch_update",
            Event::HealthMonitorCreate { .. } => "health_monitor_create",
            Event::HealthMonitorDelete { .. } => "health_monitor_delete",
            Event::HealthMonitorUpdate { .. } => "health_monitor_update",
        }
    }

    /// The primary object's kind and id (member_batch_update: the pool).
    pub fn object(&self) -> (ObjectKind, &str) {
        use ObjectKind as K;
        match self {
            Event::LoadbalancerCreate { loadbalancer: lb }
            | Event::LoadbalancerDelete {
                loadbalancer: lb, ..
            }
            | Event::LoadbalancerUpdate { new: lb, .. } => (K::Loadbalancer, &lb.loadbalancer_id),
            Event::LoadbalancerFailover { loadbalancer_id } => (K::Loadbalancer, loadbalancer_id),
            Event::ListenerCreate { listener: l }
            | Event::ListenerDelete { listener: l }
            | Event::ListenerUpdate { new: l, .. } => (K::Listener, &l.listener_id),
            Event::PoolCreate { pool: p }
            | Event::PoolDelete { pool: p }
            | Event::PoolUpdate { new: p, .. } => (K::Pool, &p.pool_id),
            Event::MemberCreate { member: m }
            | Event::MemberDelete { member: m }
            | Event::MemberUpdate { new: m, .. } => (K::Member, &m.member_id),
            Event::MemberBatchUpdate { pool_id, .. } => (K::Pool, pool_id),
            Event::HealthMonitorCreate { healthmonitor: h }
            | Event::HealthMonitorDelete { healthmonitor: h }
            | Event::HealthMonitorUpdate { new: h, .. } => (K::HealthMonitor, &h.healthmonitor_id),
        }
    }
}
