//! Property tests: no input makes parsing panic, and whatever is accepted
//! survives the journal round trip (`to_envelope` → `parse_envelope`).

use super::*;
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Strings that reach deeper code paths than random text would.
const INTERESTING: &[&str] = &[
    "",
    "x",
    "127.0.0.1",
    "::1",
    "0.0.0.0",
    "10.0.0.0/8",
    "/",
    "/healthz",
    "200",
    "200-204",
    "200,202",
    "GET",
    "HEAD",
    "TCP",
    "UDP",
    "HTTP",
    "HTTPS",
    "SCTP",
    "PROXY",
    "TERMINATED_HTTPS",
    "ROUND_ROBIN",
    "SOURCE_IP",
    "HTTP_COOKIE",
    "TLS-HELLO",
    "PING",
    "NONE",
    "true",
    "false",
    "lb-1",
    "pool-1",
    "member-1",
    "a/b",
    "é",
];

/// Every key the model reads, plus every argument name.
const KEYS: &[&str] = &[
    "loadbalancer_id",
    "listener_id",
    "pool_id",
    "member_id",
    "healthmonitor_id",
    "name",
    "description",
    "admin_state_up",
    "project_id",
    "vip_address",
    "vip_port_id",
    "vip_network_id",
    "vip_subnet_id",
    "vip_qos_policy_id",
    "vip_sg_ids",
    "additional_vips",
    "listeners",
    "pools",
    "flavor",
    "availability_zone",
    "protocol",
    "protocol_port",
    "connection_limit",
    "default_pool_id",
    "default_pool",
    "allowed_cidrs",
    "timeout_client_data",
    "timeout_member_connect",
    "timeout_member_data",
    "timeout_tcp_inspect",
    "insert_headers",
    "l7policies",
    "default_tls_container_ref",
    "sni_container_refs",
    "client_authentication",
    "hsts_max_age",
    "hsts_preload",
    "lb_algorithm",
    "members",
    "healthmonitor",
    "session_persistence",
    "tls_enabled",
    "tls_container_ref",
    "tls_versions",
    "address",
    "weight",
    "backup",
    "monitor_address",
    "monitor_port",
    "subnet_id",
    "vnic_type",
    "type",
    "delay",
    "timeout",
    "max_retries",
    "max_retries_down",
    "http_method",
    "url_path",
    "expected_codes",
    "http_version",
    "domain_name",
    "cookie_name",
    "persistence_timeout",
];

const ARG_KEYS: &[&str] = &[
    "loadbalancer",
    "old_loadbalancer",
    "new_loadbalancer",
    "listener",
    "old_listener",
    "new_listener",
    "pool",
    "old_pool",
    "new_pool",
    "member",
    "old_member",
    "new_member",
    "healthmonitor",
    "old_healthmonitor",
    "new_healthmonitor",
    "members",
    "pool_id",
    "loadbalancer_id",
    "cascade",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-3i64..300).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        Just(Value::from(1.1)),
        prop::sample::select(INTERESTING).prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ]
}

/// Arbitrary JSON, biased towards objects with the keys we read.
fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(KEYS), inner.clone(), 0..8).prop_map(
                |m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            ),
            prop::collection::btree_map(".{0,6}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Argument objects shaped like real ones, with arbitrary field values.
fn args() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(prop::sample::select(ARG_KEYS), json(), 0..4).prop_map(|m| {
        let map: Map<String, Value> = m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        Value::Object(map)
    })
}

fn all_methods() -> Vec<&'static str> {
    let mut methods: Vec<&str> = EVENT_METHODS.to_vec();
    methods.extend(L7_METHODS);
    methods.extend(NOT_AN_EVENT_METHODS);
    methods.extend(UNSUPPORTED_METHODS);
    methods.push("no_such_method");
    methods
}

fn assert_round_trip(event: &Event) -> Result<(), TestCaseError> {
    let envelope = event
        .to_envelope()
        .map_err(|e| TestCaseError::fail(format!("to_envelope: {e}")))?;
    let again = parse_envelope(&envelope);
    prop_assert_eq!(again.as_ref(), Ok(event), "envelope {}", envelope);
    Ok(())
}

const GOOD: &str = include_str!("../../tests/fixtures/good_events.json");

fn good_bodies() -> Vec<Value> {
    match serde_json::from_str::<Value>(GOOD) {
        Ok(Value::Array(cases)) => cases.into_iter().map(|c| c["body"].clone()).collect(),
        _ => Vec::new(),
    }
}

/// Sets (or, for `None`, removes) `key` in every object-valued argument.
fn mutate(body: &mut Value, key: &str, value: Option<Value>) {
    let Some(args) = body.get_mut("args").and_then(Value::as_object_mut) else {
        return;
    };
    for arg in args.values_mut() {
        if let Some(obj) = arg.as_object_mut() {
            match &value {
                Some(v) => obj.insert(key.to_owned(), v.clone()),
                None => obj.remove(key),
            };
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_args_never_panic(method in prop::sample::select(all_methods()), a in json()) {
        if let Ok(event) = Event::parse(method, &a) {
            prop_assert_eq!(event.method(), method);
            assert_round_trip(&event)?;
        }
    }

    #[test]
    fn shaped_args_never_panic(method in prop::sample::select(all_methods()), a in args()) {
        if let Ok(event) = Event::parse(method, &a) {
            prop_assert_eq!(event.method(), method);
            let _ = super::ordering(&event);
            assert_round_trip(&event)?;
        }
    }

    /// Valid events with one field replaced: the closest inputs to real
    /// ones, so this explores the validation rules rather than the reader.
    #[test]
    fn mutated_good_events_never_panic_and_round_trip(
        case in 0usize..64,
        key in prop::sample::select(KEYS),
        value in prop::option::of(json()),
    ) {
        let bodies = good_bodies();
        prop_assume!(!bodies.is_empty());
        let mut body = bodies[case % bodies.len()].clone();
        mutate(&mut body, key, value);
        if let Ok(event) = parse_envelope(&body) {
            let _ = super::ordering(&event);
            let _ = event.object();
            assert_round_trip(&event)?;
        }
    }

    #[test]
    fn arbitrary_bodies_never_panic(body in json(), method in prop::sample::select(all_methods()), a in args()) {
        let _ = parse_envelope(&body);
        let mut envelope = Map::new();
        envelope.insert("method".into(), Value::from(method));
        envelope.insert("args".into(), a);
        let _ = parse_envelope(&Value::Object(envelope));
    }
}
