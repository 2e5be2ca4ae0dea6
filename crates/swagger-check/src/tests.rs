//! Behaviour of `SwaggerSpec` on a small hand-written document. The real LoxiLB file is
//! exercised in `tests/loxilb_swagger.rs`.

use super::*;
use proptest::prelude::*;
use serde_json::json;

const DOC: &str = r#"
swagger: '2.0'
basePath: /api/v1/
paths:
  /items:
    post:
      parameters:
        - {name: attr, in: body, required: true, schema: {$ref: '#/definitions/Item'}}
    get:
      parameters:
        - {name: limit, in: query, type: integer, required: true}
        - {name: tag, in: query, type: string, enum: [a, b]}
  /items/all:
    get: {}
  /items/{name}:
    delete:
      parameters:
        - {name: name, in: path, type: string, required: true}
    put:
      parameters:
        - {name: name, in: path, type: string, required: true}
        - {name: attr, in: body, schema: {type: object, properties: {n: {type: integer}}}}
definitions:
  Item:
    type: object
    required: [id]
    properties:
      id: {type: integer, format: uint16, x-go-name: ID}
      tags:
        type: array
        items: {type: object, properties: {label: {type: string}}}
"#;

fn spec() -> SwaggerSpec {
    SwaggerSpec::from_yaml_str(DOC).unwrap()
}

fn problems(r: Result<(), Vec<String>>) -> Vec<String> {
    r.err().unwrap_or_default()
}

#[test]
fn spec_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SwaggerSpec>();
}

#[test]
fn requests_must_be_under_base_path() {
    let s = spec();
    assert!(s
        .validate_request("GET", "/api/v1/items/all", None, None)
        .is_ok());
    let p = problems(s.validate_request("GET", "/items/all", None, None));
    assert!(p[0].contains("not under basePath \"/api/v1\""), "{p:?}");
    assert!(s
        .validate_request("GET", "/api/v1items/all", None, None)
        .is_err());
    assert!(s
        .validate_request("GET", "/api/v1/items/all/", None, None)
        .is_err());
}

#[test]
fn method_case_is_ignored_and_wrong_methods_are_named() {
    let s = spec();
    assert!(s
        .validate_request("get", "/api/v1/items/all", None, None)
        .is_ok());
    let p = problems(s.validate_request("PATCH", "/api/v1/items/x", None, None));
    assert!(p[0].contains("documented: DELETE, PUT"), "{p:?}");
}

#[test]
fn query_may_come_inside_the_path() {
    let s = spec();
    assert!(s
        .validate_request("GET", "/api/v1/items?limit=3&tag=a", None, None)
        .is_ok());
    let p = problems(s.validate_request("GET", "/api/v1/items?limit=3", Some("limit=3"), None));
    assert!(p[0].contains("contains '?'"), "{p:?}");
}

#[test]
fn query_problems_are_all_listed() {
    let s = spec();
    let p = problems(s.validate_request("GET", "/api/v1/items", Some("tag=c&x=1&tag=a"), None));
    assert!(
        p.iter()
            .any(|m| m.contains("required query parameter limit is missing")),
        "{p:?}"
    );
    assert!(p.iter().any(|m| m.contains("\"c\" is not one of")), "{p:?}");
    assert!(
        p.iter()
            .any(|m| m.contains("\"x\" is not documented (documented: limit, tag)")),
        "{p:?}"
    );
    assert!(p.iter().any(|m| m.contains("tag is repeated")), "{p:?}");
    assert!(
        p.iter().all(|m| m.starts_with("GET /api/v1/items: ")),
        "{p:?}"
    );
    assert!(s
        .validate_request("GET", "/api/v1/items", Some("limit=1&&"), None)
        .is_ok());
    assert!(s
        .validate_request("GET", "/api/v1/items", Some("limit=%31"), None)
        .is_ok());
}

#[test]
fn path_segments_are_percent_decoded() {
    let s = spec();
    assert!(s
        .validate_request("DELETE", "/api/v1/items/a%2Fb", None, None)
        .is_ok());
    assert!(s
        .validate_request("GET", "/api/v1/items/%61ll", None, None)
        .is_ok());
    let p = problems(s.validate_request("DELETE", "/api/v1/items/%FF", None, None));
    assert!(p[0].contains("not UTF-8"), "{p:?}");
    let p = problems(s.validate_request("DELETE", "/api/v1/items/", None, None));
    assert!(p[0].contains("path parameter name is empty"), "{p:?}");
}

#[test]
fn bodies_are_required_forbidden_or_optional_as_documented() {
    let s = spec();
    let p = problems(s.validate_request("POST", "/api/v1/items", None, None));
    assert!(p[0].contains("required body (attr) is missing"), "{p:?}");
    let p = problems(s.validate_request("GET", "/api/v1/items/all", None, Some(&json!({}))));
    assert!(p[0].contains("operation takes none"), "{p:?}");
    assert!(s
        .validate_request("PUT", "/api/v1/items/x", None, None)
        .is_ok());
    assert!(s
        .validate_request("PUT", "/api/v1/items/x", None, Some(&json!({"n": 1})))
        .is_ok());
}

#[test]
fn body_errors_point_into_the_body() {
    let s = spec();
    let body = json!({"id": 70000, "tags": [{"label": 3}]});
    let p = problems(s.validate_request("POST", "/api/v1/items", None, Some(&body)));
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p.iter()
            .any(|m| m.contains("body /id: 70000 is greater than the maximum")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.contains("body /tags/0/label: 3 is not of type \"string\"")),
        "{p:?}"
    );
    let p = problems(s.validate_request("POST", "/api/v1/items", None, Some(&json!({}))));
    assert!(
        p[0].contains("body (root): \"id\" is a required property"),
        "{p:?}"
    );
    // Draft 4 semantics, like Go's decoder: 1.0 is not an integer.
    assert!(s
        .validate_request("POST", "/api/v1/items", None, Some(&json!({"id": 1.0})))
        .is_err());
}

#[test]
fn unknown_body_properties_pass_by_default_and_fail_when_denied() {
    let body = json!({"id": 1, "idd": 2, "tags": [{"lable": "x"}]});
    assert!(spec()
        .validate_request("POST", "/api/v1/items", None, Some(&body))
        .is_ok());
    let strict = SwaggerSpec::from_yaml_str_with(
        DOC,
        SpecOptions {
            deny_unknown_properties: true,
        },
    )
    .unwrap();
    let p = problems(strict.validate_request("POST", "/api/v1/items", None, Some(&body)));
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p.iter()
            .any(|m| m.contains("body (root)") && m.contains("idd")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|m| m.contains("body /tags/0") && m.contains("lable")),
        "{p:?}"
    );
}

#[test]
fn documents_that_are_not_swagger_2_are_rejected() {
    assert!(matches!(
        SwaggerSpec::from_yaml_str("openapi: 3.0.0\npaths: {}\n"),
        Err(SpecError::Structure(_))
    ));
    assert!(SwaggerSpec::from_yaml_str("swagger: '2.0'\nbasePath: 3\npaths: {}\n").is_err());
    assert!(matches!(
        SwaggerSpec::from_yaml_str("swagger: '2.0'\npaths: {}\ndefinitions: [1]\n"),
        Err(SpecError::Structure(_))
    ));
    let missing = SwaggerSpec::load(Path::new("/nonexistent/swagger.yml")).unwrap_err();
    assert!(
        missing.to_string().contains("/nonexistent/swagger.yml"),
        "{missing}"
    );
}

#[test]
fn empty_base_path_is_the_root() {
    let s = SwaggerSpec::from_yaml_str(
        "swagger: '2.0'\npaths:\n  /:\n    get: {}\n  /a:\n    get: {}\n",
    )
    .unwrap();
    assert!(s.validate_request("GET", "/", None, None).is_ok());
    assert!(s.validate_request("GET", "/a", None, None).is_ok());
    assert!(s.validate_request("GET", "", None, None).is_ok());
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}|id|tags|label", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn arbitrary_requests_never_panic(
        method in "[A-Za-z]{0,7}|GET|POST|PUT|DELETE",
        path in "(/api/v1)?(/[a-z%0-9A-F{}?]{0,6}){0,4}",
        query in proptest::option::of(".{0,20}"),
        body in proptest::option::of(json_value()),
    ) {
        let _ = spec().validate_request(&method, &path, query.as_deref(), body.as_ref());
    }

    #[test]
    fn arbitrary_documents_never_panic(text in ".{0,200}") {
        let _ = SwaggerSpec::from_yaml_str(&text);
        let _ = SwaggerSpec::from_yaml_str(&format!("swagger: '2.0'\n{text}"));
    }
}
