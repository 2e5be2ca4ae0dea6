//! The validator against LoxiLB's real API description (the subset the repository keeps,
//! `crates/swagger-check/loxilb-swagger-subset.yml`): the requests the daemon sends must
//! pass, and the mistakes it could make must be caught with a message that says what is
//! wrong.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{json, Value};
use swagger_check::{SpecOptions, SwaggerSpec};

fn swagger_path() -> PathBuf {
    PathBuf::from(swagger_check::LOXILB_SUBSET)
}

fn spec() -> &'static SwaggerSpec {
    static SPEC: OnceLock<SwaggerSpec> = OnceLock::new();
    SPEC.get_or_init(|| SwaggerSpec::load(&swagger_path()).expect("loxilb-swagger.yml loads"))
}

fn strict_spec() -> &'static SwaggerSpec {
    static SPEC: OnceLock<SwaggerSpec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let options = SpecOptions {
            deny_unknown_properties: true,
        };
        SwaggerSpec::load_with(&swagger_path(), options).expect("loxilb-swagger.yml loads")
    })
}

fn ok(method: &str, path: &str, query: Option<&str>, body: Option<Value>) {
    for s in [spec(), strict_spec()] {
        if let Err(p) = s.validate_request(method, path, query, body.as_ref()) {
            panic!("{method} {path} rejected: {p:#?}");
        }
    }
}

/// The problems of a request that must fail; asserts there is at least one.
fn fail(method: &str, path: &str, query: Option<&str>, body: Option<Value>) -> Vec<String> {
    match spec().validate_request(method, path, query, body.as_ref()) {
        Ok(()) => panic!("{method} {path} accepted"),
        Err(p) => {
            assert!(!p.is_empty());
            p
        }
    }
}

fn has(problems: &[String], needle: &str) -> bool {
    problems.iter().any(|p| p.contains(needle))
}

fn endpoint() -> Value {
    json!({
        "hostName": "10.0.0.1",
        "name": "10.0.0.1_tcp_80",
        "probeType": "tcp",
        "probePort": 80,
        "probeReq": "",
        "probeResp": "",
        "probeDuration": 10,
        "inactiveReTries": 3
    })
}

fn lb_entry() -> Value {
    json!({
        "serviceArguments": {
            "externalIP": "1.2.3.4",
            "port": 80,
            "protocol": "tcp",
            "sel": 0,
            "mode": 2,
            "monitor": true,
            "probetype": "http",
            "probeport": 8080,
            "probereq": "/healthz",
            "proberesp": "200",
            "probeTimeout": 5,
            "probeRetries": 3,
            "inactiveTimeOut": 60,
            "name": "octavia-lb-1",
            "oper": 0
        },
        "endpoints": [
            {"endpointIP": "10.0.0.1", "targetPort": 8080, "weight": 1},
            {"endpointIP": "10.0.0.2", "targetPort": 8080, "weight": 2}
        ],
        "allowedSources": [{"prefix": "192.0.2.0/24"}]
    })
}

#[test]
fn endpoint_requests_pass() {
    ok("POST", "/netlox/v1/config/endpoint", None, Some(endpoint()));
    ok(
        "POST",
        "/netlox/v1/config/endpoint",
        None,
        Some(json!({"hostName": "10.0.0.1"})),
    );
    ok(
        "DELETE",
        "/netlox/v1/config/endpoint/epipaddress/10.0.0.1",
        Some("name=x&probe_type=tcp&probe_port=80"),
        None,
    );
    ok(
        "DELETE",
        "/netlox/v1/config/endpoint/epipaddress/fd00%3A%3A1",
        None,
        None,
    );
    ok("GET", "/netlox/v1/config/endpoint/all", None, None);
    ok(
        "POST",
        "/netlox/v1/config/endpointhoststate",
        None,
        Some(json!({"hostName": "10.0.0.1", "epPort": 80, "epProto": "tcp", "state": "red"})),
    );
}

#[test]
fn loadbalancer_requests_pass() {
    ok(
        "POST",
        "/netlox/v1/config/loadbalancer",
        None,
        Some(lb_entry()),
    );
    ok(
        "DELETE",
        "/netlox/v1/config/loadbalancer/externalipaddress/1.2.3.4/port/80/protocol/tcp",
        None,
        None,
    );
    ok(
        "DELETE",
        "/netlox/v1/config/loadbalancer/externalipaddress/1.2.3.4/port/80/protocol/tcp",
        Some("bgp=false&block=0"),
        None,
    );
    ok(
        "DELETE",
        "/netlox/v1/config/loadbalancer/externalipaddress/1.2.3.4/port/80/portmax/90/protocol/udp",
        None,
        None,
    );
    ok(
        "DELETE",
        "/netlox/v1/config/loadbalancer/name/octavia-lb-1",
        None,
        None,
    );
    ok("GET", "/netlox/v1/config/loadbalancer/all", None, None);
    ok("DELETE", "/netlox/v1/config/loadbalancer/all", None, None);
}

#[test]
fn unknown_paths_and_wrong_methods_fail() {
    let p = fail("GET", "/netlox/v1/config/endpoints/all", None, None);
    assert!(has(&p, "no documented path matches"), "{p:?}");
    let p = fail("GET", "/config/endpoint/all", None, None);
    assert!(has(&p, "not under basePath \"/netlox/v1\""), "{p:?}");
    let p = fail("PUT", "/netlox/v1/config/endpoint", None, Some(endpoint()));
    assert!(
        has(&p, "method not documented for this path (documented: POST)"),
        "{p:?}"
    );
    let p = fail("GET", "/netlox/v1/config/loadbalancer/name/x", None, None);
    assert!(has(&p, "documented: DELETE"), "{p:?}");
}

#[test]
fn wrong_body_types_fail_with_a_pointer() {
    let mut body = endpoint();
    body["probePort"] = json!("80");
    let p = fail("POST", "/netlox/v1/config/endpoint", None, Some(body));
    assert!(
        has(&p, "body /probePort: \"80\" is not of type \"integer\""),
        "{p:?}"
    );
    let mut lb = lb_entry();
    lb["endpoints"][1]["weight"] = json!("2");
    lb["serviceArguments"]["probeport"] = json!(70000);
    let p = fail("POST", "/netlox/v1/config/loadbalancer", None, Some(lb));
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        has(
            &p,
            "body /endpoints/1/weight: \"2\" is not of type \"integer\""
        ),
        "{p:?}"
    );
    assert!(
        has(
            &p,
            "body /serviceArguments/probeport: 70000 is greater than the maximum of 65535"
        ),
        "{p:?}"
    );
}

#[test]
fn missing_required_fields_fail() {
    let mut lb = lb_entry();
    lb.as_object_mut().unwrap().remove("serviceArguments");
    let p = fail("POST", "/netlox/v1/config/loadbalancer", None, Some(lb));
    assert!(
        has(
            &p,
            "body (root): \"serviceArguments\" is a required property"
        ),
        "{p:?}"
    );
    let mut lb = lb_entry();
    lb["endpoints"][0]
        .as_object_mut()
        .unwrap()
        .remove("endpointIP");
    let p = fail("POST", "/netlox/v1/config/loadbalancer", None, Some(lb));
    assert!(
        has(
            &p,
            "body /endpoints/0: \"endpointIP\" is a required property"
        ),
        "{p:?}"
    );
    let p = fail(
        "POST",
        "/netlox/v1/config/endpoint",
        None,
        Some(json!({"name": "x"})),
    );
    assert!(has(&p, "\"hostName\" is a required property"), "{p:?}");
    let p = fail("POST", "/netlox/v1/config/endpoint", None, None);
    assert!(has(&p, "required body (attr) is missing"), "{p:?}");
}

#[test]
fn enum_violations_fail() {
    let mut lb = lb_entry();
    lb["serviceArguments"]["protocol"] = json!("foo");
    lb["serviceArguments"]["sel"] = json!(9);
    let p = fail("POST", "/netlox/v1/config/loadbalancer", None, Some(lb));
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        has(&p, "body /serviceArguments/protocol: \"foo\" is not one of [\"tcp\",\"udp\",\"sctp\",\"icmp\"]"),
        "{p:?}"
    );
    assert!(
        has(
            &p,
            "body /serviceArguments/sel: 9 is not one of [0,1,2,3,4,5,6]"
        ),
        "{p:?}"
    );
    let mut ep = endpoint();
    ep["probeType"] = json!("icmp");
    let p = fail("POST", "/netlox/v1/config/endpoint", None, Some(ep));
    assert!(has(&p, "body /probeType"), "{p:?}");
}

#[test]
fn bad_path_and_query_parameters_fail() {
    let p = fail(
        "DELETE",
        "/netlox/v1/config/loadbalancer/externalipaddress/1.2.3.4/port/http/protocol/tcp",
        None,
        None,
    );
    assert!(
        has(&p, "path parameter port: \"http\" is not a number"),
        "{p:?}"
    );
    let p = fail(
        "DELETE",
        "/netlox/v1/config/endpoint/epipaddress/10.0.0.1",
        Some("name=x&probeType=tcp"),
        None,
    );
    assert!(
        has(&p, "query parameter \"probeType\" is not documented (documented: name, probe_type, probe_port)"),
        "{p:?}"
    );
    let p = fail(
        "DELETE",
        "/netlox/v1/config/endpoint/epipaddress/10.0.0.1",
        Some("probe_port=eighty"),
        None,
    );
    assert!(
        has(&p, "query parameter probe_port: \"eighty\" is not a number"),
        "{p:?}"
    );
    let p = fail(
        "DELETE",
        "/netlox/v1/config/loadbalancer/externalipaddress/1.2.3.4/port/80/protocol/tcp",
        Some("bgp=yes"),
        None,
    );
    assert!(
        has(&p, "query parameter bgp: \"yes\" is not a boolean"),
        "{p:?}"
    );
}

#[test]
fn integer_path_parameters_must_be_integers() {
    // /config/vlan/{vlan_id} declares vlan_id as `type: integer`.
    ok("DELETE", "/netlox/v1/config/vlan/100", None, None);
    let p = fail("DELETE", "/netlox/v1/config/vlan/10.5", None, None);
    assert!(
        has(&p, "path parameter vlan_id: \"10.5\" is not an integer"),
        "{p:?}"
    );
}

#[test]
fn misspelt_fields_are_caught_only_in_strict_mode() {
    // EndPoint spells it probePort; LoadbalanceEntry's serviceArguments spell it probeport.
    let mut ep = endpoint();
    ep.as_object_mut().unwrap().remove("probePort");
    ep["probeport"] = json!(80);
    assert!(spec()
        .validate_request("POST", "/netlox/v1/config/endpoint", None, Some(&ep))
        .is_ok());
    let p = strict_spec()
        .validate_request("POST", "/netlox/v1/config/endpoint", None, Some(&ep))
        .unwrap_err();
    assert!(has(&p, "body (root)") && has(&p, "probeport"), "{p:?}");
}
