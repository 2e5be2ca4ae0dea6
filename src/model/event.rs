//! The typed event: one Octavia ProviderDriver call, parsed and validated.
//!
//! `Event::parse` is the only way in: it classifies the method, type-checks
//! every argument with exact field paths, and applies the validation rules,
//! so an `Event` value is always one the daemon can carry out.

use super::error::EventError;
use super::fields::{as_object, index, type_name};
use super::healthmonitor::HealthMonitor;
use super::listener::Listener;
use super::loadbalancer::LoadBalancer;
use super::member::Member;
use super::pool::Pool;
use super::rules::check_id;
use super::unsupported;
use super::validate::{self, Mode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// ProviderDriver methods that are events, in octavia-lib's order.
pub const EVENT_METHODS: &[&str] = &[
    "loadbalancer_create",
    "loadbalancer_delete",
    "loadbalancer_update",
    "loadbalancer_failover",
    "listener_create",
    "listener_delete",
    "listener_update",
    "pool_create",
    "pool_delete",
    "pool_update",
    "member_create",
    "member_delete",
    "member_update",
    "member_batch_update",
    "health_monitor_create",
    "health_monitor_delete",
    "health_monitor_update",
];

/// Synchronous provider calls the shim answers itself.
pub const NOT_AN_EVENT_METHODS: &[&str] = &[
    "get_supported_flavor_metadata",
    "validate_flavor",
    "get_supported_availability_zone_metadata",
    "validate_availability_zone",
    "create_vip_port",
];

/// L7 methods, all refused as unsupported.
pub const L7_METHODS: &[&str] = &[
    "l7policy_create",
    "l7policy_update",
    "l7policy_delete",
    "l7rule_create",
    "l7rule_update",
    "l7rule_delete",
];

/// ProviderDriver methods we refuse as unsupported besides L7.
pub const UNSUPPORTED_METHODS: &[&str] = &["loadbalancer_failover_with_flavor"];

/// One accepted provider call. Variant fields follow octavia-lib's
/// parameter names, shortened for updates (`old`, `new`).
// Variants hold objects by value (no Box) so callers can match and
// construct them directly; an Event is parsed once per request and moved a
// handful of times, so the size difference costs nothing measurable.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Event {
    LoadbalancerCreate {
        loadbalancer: LoadBalancer,
    },
    LoadbalancerDelete {
        loadbalancer: LoadBalancer,
        cascade: bool,
    },
    LoadbalancerUpdate {
        old: LoadBalancer,
        new: LoadBalancer,
    },
    LoadbalancerFailover {
        loadbalancer_id: String,
    },
    ListenerCreate {
        listener: Listener,
    },
    ListenerDelete {
        listener: Listener,
    },
    ListenerUpdate {
        old: Listener,
        new: Listener,
    },
    PoolCreate {
        pool: Pool,
    },
    PoolDelete {
        pool: Pool,
    },
    PoolUpdate {
        old: Pool,
        new: Pool,
    },
    MemberCreate {
        member: Member,
    },
    MemberDelete {
        member: Member,
    },
    MemberUpdate {
        old: Member,
        new: Member,
    },
    MemberBatchUpdate {
        pool_id: String,
        members: Vec<Member>,
    },
    HealthMonitorCreate {
        healthmonitor: HealthMonitor,
    },
    HealthMonitorDelete {
        healthmonitor: HealthMonitor,
    },
    HealthMonitorUpdate {
        old: HealthMonitor,
        new: HealthMonitor,
    },
}

/// Longest method name echoed back in an error.
const MAX_ECHOED_METHOD: usize = 80;

fn echo(method: &str) -> String {
    method.chars().take(MAX_ECHOED_METHOD).collect()
}

/// A required argument; absent and `null` are both "missing".
fn arg<'a>(args: &'a Map<String, Value>, key: &str) -> Result<&'a Value, EventError> {
    match args.get(key) {
        None | Some(Value::Null) => Err(EventError::invalid(key, "is required")),
        Some(v) => Ok(v),
    }
}

/// `cascade` defaults to false, as in octavia-lib's signature.
fn cascade_arg(args: &Map<String, Value>) -> Result<bool, EventError> {
    match args.get("cascade") {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(EventError::invalid(
            "cascade",
            format!("expected a boolean, got {}", type_name(v)),
        )),
    }
}

/// A required id argument (`loadbalancer_id`, `pool_id`).
fn id_arg(args: &Map<String, Value>, key: &str) -> Result<String, EventError> {
    match arg(args, key)? {
        Value::String(s) => check_id(key, s).map(|()| s.clone()),
        v => Err(EventError::invalid(
            key,
            format!("expected a string, got {}", type_name(v)),
        )),
    }
}

type Reader<T> = fn(&Value, &str, bool) -> Result<T, EventError>;

/// Reads `old_<kind>`/`new_<kind>` and checks they name the same object.
fn update_pair<T>(
    args: &Map<String, Value>,
    kind: &str,
    read: Reader<T>,
    id_of: fn(&T) -> &str,
) -> Result<(T, T), EventError> {
    let (old_key, new_key) = (format!("old_{kind}"), format!("new_{kind}"));
    let old = read(arg(args, &old_key)?, &old_key, false)?;
    let new = read(arg(args, &new_key)?, &new_key, true)?;
    if id_of(&old) != id_of(&new) {
        return Err(EventError::invalid(
            format!("{new_key}.{kind}_id"),
            format!(
                "{:?} does not match old_{kind} id {:?}",
                id_of(&new),
                id_of(&old)
            ),
        ));
    }
    Ok((old, new))
}

fn parse_batch(args: &Map<String, Value>) -> Result<Event, EventError> {
    let pool_id = id_arg(args, "pool_id")?;
    let list = arg(args, "members")?;
    let Value::Array(items) = list else {
        return Err(EventError::invalid(
            "members",
            format!("expected an array, got {}", type_name(list)),
        ));
    };
    let mut members = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = index("members", i);
        let m = Member::read(item, &path, false)?;
        if let Some(p) = m.pool_id.as_deref().filter(|p| *p != pool_id) {
            return Err(EventError::invalid(
                format!("{path}.pool_id"),
                format!("{p:?} does not match pool_id {pool_id:?}"),
            ));
        }
        validate::member(&m, &path, Mode::Nested)?;
        members.push(m);
    }
    validate::unique_members("members", &members)?;
    Ok(Event::MemberBatchUpdate { pool_id, members })
}

/// Parses an event method whose name is known to be in `EVENT_METHODS`: by the
/// object it is about, one function each.
fn parse_event(method: &str, a: &Map<String, Value>) -> Result<Event, EventError> {
    match method.split('_').next() {
        Some("loadbalancer") => parse_loadbalancer(method, a),
        Some("listener") => parse_listener(method, a),
        Some("pool") => parse_pool(method, a),
        Some("member") => parse_member(method, a),
        Some("health") => parse_health_monitor(method, a),
        _ => Err(unknown_method(method)),
    }
}

fn unknown_method(method: &str) -> EventError {
    EventError::UnknownMethod {
        method: echo(method),
    }
}

/// The load balancer events.
fn parse_loadbalancer(method: &str, a: &Map<String, Value>) -> Result<Event, EventError> {
    use Mode::{Create, Existing, UpdateNew};
    let lb = |key: &str| LoadBalancer::read(arg(a, key)?, key, false);
    let event = match method {
        "loadbalancer_create" => {
            let loadbalancer = lb("loadbalancer")?;
            validate::loadbalancer(&loadbalancer, "loadbalancer", Create)?;
            Event::LoadbalancerCreate { loadbalancer }
        }
        "loadbalancer_delete" => {
            let loadbalancer = lb("loadbalancer")?;
            validate::loadbalancer(&loadbalancer, "loadbalancer", Existing)?;
            let cascade = cascade_arg(a)?;
            Event::LoadbalancerDelete {
                loadbalancer,
                cascade,
            }
        }
        "loadbalancer_update" => {
            let (old, new) = update_pair(a, "loadbalancer", LoadBalancer::read, |x| {
                &x.loadbalancer_id
            })?;
            validate::loadbalancer(&old, "old_loadbalancer", Existing)?;
            validate::loadbalancer(&new, "new_loadbalancer", UpdateNew)?;
            Event::LoadbalancerUpdate { old, new }
        }
        "loadbalancer_failover" => Event::LoadbalancerFailover {
            loadbalancer_id: id_arg(a, "loadbalancer_id")?,
        },
        other => return Err(unknown_method(other)),
    };
    Ok(event)
}

/// The listener events.
fn parse_listener(method: &str, a: &Map<String, Value>) -> Result<Event, EventError> {
    use Mode::{Create, Existing, UpdateNew};
    let ls = |key: &str| Listener::read(arg(a, key)?, key, false);
    let event = match method {
        "listener_create" => {
            let listener = ls("listener")?;
            validate::listener(&listener, "listener", Create)?;
            Event::ListenerCreate { listener }
        }
        "listener_delete" => {
            let listener = ls("listener")?;
            validate::listener(&listener, "listener", Existing)?;
            Event::ListenerDelete { listener }
        }
        "listener_update" => {
            let (old, new) = update_pair(a, "listener", Listener::read, |x| &x.listener_id)?;
            validate::listener(&old, "old_listener", Existing)?;
            validate::listener(&new, "new_listener", UpdateNew)?;
            Event::ListenerUpdate { old, new }
        }
        other => return Err(unknown_method(other)),
    };
    Ok(event)
}

/// The pool events.
fn parse_pool(method: &str, a: &Map<String, Value>) -> Result<Event, EventError> {
    use Mode::{Create, Existing, UpdateNew};
    let pl = |key: &str| Pool::read(arg(a, key)?, key, false);
    let event = match method {
        "pool_create" => {
            let pool = pl("pool")?;
            validate::pool(&pool, "pool", Create)?;
            Event::PoolCreate { pool }
        }
        "pool_delete" => {
            let pool = pl("pool")?;
            validate::pool(&pool, "pool", Existing)?;
            Event::PoolDelete { pool }
        }
        "pool_update" => {
            let (old, new) = update_pair(a, "pool", Pool::read, |x| &x.pool_id)?;
            validate::pool(&old, "old_pool", Existing)?;
            validate::pool(&new, "new_pool", UpdateNew)?;
            Event::PoolUpdate { old, new }
        }
        other => return Err(unknown_method(other)),
    };
    Ok(event)
}

/// The member events.
fn parse_member(method: &str, a: &Map<String, Value>) -> Result<Event, EventError> {
    use Mode::{Create, Existing, UpdateNew};
    let mb = |key: &str| Member::read(arg(a, key)?, key, false);
    let event = match method {
        "member_create" => {
            let member = mb("member")?;
            validate::member(&member, "member", Create)?;
            Event::MemberCreate { member }
        }
        "member_delete" => {
            let member = mb("member")?;
            validate::member(&member, "member", Existing)?;
            Event::MemberDelete { member }
        }
        "member_update" => {
            let (old, new) = update_pair(a, "member", Member::read, |x| &x.member_id)?;
            validate::member(&old, "old_member", Existing)?;
            validate::member(&new, "new_member", UpdateNew)?;
            Event::MemberUpdate { old, new }
        }
        "member_batch_update" => parse_batch(a)?,
        other => return Err(unknown_method(other)),
    };
    Ok(event)
}

/// The health monitor events.
fn parse_health_monitor(method: &str, a: &Map<String, Value>) -> Result<Event, EventError> {
    use Mode::{Create, Existing, UpdateNew};
    let hm = |key: &str| HealthMonitor::read(arg(a, key)?, key, false);
    let event = match method {
        "health_monitor_create" => {
            let healthmonitor = hm("healthmonitor")?;
            validate::healthmonitor(&healthmonitor, "healthmonitor", Create, None)?;
            Event::HealthMonitorCreate { healthmonitor }
        }
        "health_monitor_delete" => {
            let healthmonitor = hm("healthmonitor")?;
            validate::healthmonitor(&healthmonitor, "healthmonitor", Existing, None)?;
            Event::HealthMonitorDelete { healthmonitor }
        }
        "health_monitor_update" => {
            let (old, new) = update_pair(a, "healthmonitor", HealthMonitor::read, |x| {
                &x.healthmonitor_id
            })?;
            validate::healthmonitor(&old, "old_healthmonitor", Existing, None)?;
            validate::healthmonitor(&new, "new_healthmonitor", UpdateNew, Some(&old))?;
            Event::HealthMonitorUpdate { old, new }
        }
        other => return Err(unknown_method(other)),
    };
    Ok(event)
}

/// Classifies the method, then parses `args` (None when the envelope had
/// no `args` key).
fn parse_args(method: &str, args: Option<&Value>) -> Result<Event, EventError> {
    if NOT_AN_EVENT_METHODS.contains(&method) {
        return Err(EventError::NotAnEvent {
            method: method.to_owned(),
        });
    }
    if L7_METHODS.contains(&method) {
        return Err(unsupported::l7_method(method));
    }
    if UNSUPPORTED_METHODS.contains(&method) {
        return Err(unsupported::failover_with_flavor(method));
    }
    if !EVENT_METHODS.contains(&method) {
        return Err(EventError::UnknownMethod {
            method: echo(method),
        });
    }
    let args = args.ok_or_else(|| EventError::invalid("args", "is required"))?;
    parse_event(method, as_object(args, "args")?)
}

/// Parses a whole `POST /v1/events` body: `{"method": "...", "args": {...}}`.
/// Envelope errors are `Invalid` on field `method` (body not an object,
/// method missing or not a string) or `args` (missing or not an object);
/// `EventError::kind()` reports them as `bad_request`. Other keys are ignored.
pub fn parse_envelope(body: &Value) -> Result<Event, EventError> {
    let Value::Object(envelope) = body else {
        return Err(EventError::invalid(
            "method",
            format!("the body must be an object, got {}", type_name(body)),
        ));
    };
    let method = match envelope.get("method") {
        None | Some(Value::Null) => return Err(EventError::invalid("method", "is required")),
        Some(Value::String(m)) => m,
        Some(v) => {
            return Err(EventError::invalid(
                "method",
                format!("expected a string, got {}", type_name(v)),
            ))
        }
    };
    let args = envelope.get("args").filter(|v| !v.is_null());
    parse_args(method, args)
}

impl Event {
    /// Parses and validates one provider call. `args` holds the method's
    /// parameters by name, objects in octavia-lib `to_dict()` shape.
    pub fn parse(method: &str, args: &Value) -> Result<Event, EventError> {
        parse_args(method, Some(args))
    }
}
