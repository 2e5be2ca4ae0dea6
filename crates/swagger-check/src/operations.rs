//! The operations a Swagger document describes: method, path template, parameters.
//!
//! Only what request validation needs is kept. `in: header` and `in: formData`
//! parameters are skipped: the recorded requests carry neither headers nor forms.

use serde_json::Value;

use crate::error::SpecError;
use crate::params::ParamSpec;

/// HTTP methods a Swagger 2.0 path item may hold.
const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch"];

/// One segment of a path template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Segment {
    Literal(String),
    Param(String),
}

/// The body parameter of an operation.
#[derive(Debug, Clone)]
pub(crate) struct BodyParam {
    pub name: String,
    pub required: bool,
    /// Index into the compiled body schemas.
    pub schema_index: usize,
}

/// One documented operation.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    /// Upper case, as sent on the wire.
    pub method: String,
    /// The template as written under `paths`, e.g. `/config/endpoint/epipaddress/{ip_address}`.
    pub template: String,
    pub segments: Vec<Segment>,
    pub path_params: Vec<ParamSpec>,
    pub query_params: Vec<ParamSpec>,
    pub body: Option<BodyParam>,
}

/// Splits a template like `/a/{b}` into segments. A segment is a parameter only when it is
/// exactly `{name}`; anything else (the LoxiLB document has nothing else) is literal text.
pub(crate) fn parse_template(template: &str) -> Vec<Segment> {
    template
        .strip_prefix('/')
        .unwrap_or(template)
        .split('/')
        .map(
            |s| match s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
                Some(name) if !name.is_empty() && !name.contains(['{', '}']) => {
                    Segment::Param(name.to_owned())
                }
                _ => Segment::Literal(s.to_owned()),
            },
        )
        .collect()
}

/// Reads every operation of `doc`. Body schemas are appended to `bodies` (borrowed from
/// `doc`) and referred to by index.
pub(crate) fn read<'d>(
    doc: &'d Value,
    bodies: &mut Vec<&'d Value>,
) -> Result<Vec<Operation>, SpecError> {
    let paths = doc
        .get("paths")
        .and_then(Value::as_object)
        .ok_or_else(|| SpecError::Structure("no `paths` map".to_owned()))?;
    let mut ops = Vec::new();
    for (template, item) in paths {
        let shared = params_of(doc, item, template)?;
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let at = format!("{} {template}", method.to_uppercase());
            // Operation-level parameters override path-level ones with the same name and place.
            let mut params = shared.clone();
            for p in params_of(doc, op, &at)? {
                params.retain(|q: &&Value| !same_param(q, p));
                params.push(p);
            }
            ops.push(operation(method, template, &params, bodies, &at)?);
        }
    }
    Ok(ops)
}

fn operation<'d>(
    method: &str,
    template: &str,
    params: &[&'d Value],
    bodies: &mut Vec<&'d Value>,
    at: &str,
) -> Result<Operation, SpecError> {
    let mut op = Operation {
        method: method.to_uppercase(),
        template: template.to_owned(),
        segments: parse_template(template),
        path_params: Vec::new(),
        query_params: Vec::new(),
        body: None,
    };
    for p in params {
        match p.get("in").and_then(Value::as_str) {
            Some("path") => op.path_params.push(ParamSpec::from_json(p, at)?),
            Some("query") => op.query_params.push(ParamSpec::from_json(p, at)?),
            Some("body") => {
                let schema = p.get("schema").ok_or_else(|| {
                    SpecError::Structure(format!("{at}: body parameter without a schema"))
                })?;
                op.body = Some(BodyParam {
                    name: p
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or("body")
                        .to_owned(),
                    required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
                    schema_index: bodies.len(),
                });
                bodies.push(schema);
            }
            Some("header" | "formData") => {}
            other => {
                return Err(SpecError::Structure(format!(
                    "{at}: parameter with unknown location {other:?}"
                )))
            }
        }
    }
    Ok(op)
}

/// The `parameters` list of a path item or operation, with `#/parameters/X` refs resolved.
fn params_of<'d>(doc: &'d Value, node: &'d Value, at: &str) -> Result<Vec<&'d Value>, SpecError> {
    let Some(list) = node.get("parameters") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| SpecError::Structure(format!("{at}: `parameters` is not a list")))?;
    list.iter()
        .map(|p| match p.get("$ref").and_then(Value::as_str) {
            None => Ok(p),
            Some(r) => r
                .strip_prefix("#/parameters/")
                .and_then(|name| doc.get("parameters")?.get(name))
                .ok_or_else(|| SpecError::Structure(format!("{at}: unresolvable parameter {r}"))),
        })
        .collect()
}

fn same_param(a: &Value, b: &Value) -> bool {
    a.get("name") == b.get("name") && a.get("in") == b.get("in")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_split_into_literals_and_params() {
        assert_eq!(
            parse_template("/a/{b}/c"),
            vec![
                Segment::Literal("a".into()),
                Segment::Param("b".into()),
                Segment::Literal("c".into())
            ]
        );
        assert_eq!(
            parse_template("/x{y}"),
            vec![Segment::Literal("x{y}".into())]
        );
        assert_eq!(parse_template("/{}"), vec![Segment::Literal("{}".into())]);
    }

    #[test]
    fn operations_collect_params_and_bodies() {
        let doc = json!({
            "parameters": {"Verbose": {"name": "verbose", "in": "query", "type": "boolean"}},
            "paths": {"/things/{id}": {
                "parameters": [
                    {"name": "id", "in": "path", "type": "string", "required": true},
                    {"$ref": "#/parameters/Verbose"}
                ],
                "get": {},
                "put": {"parameters": [
                    {"name": "id", "in": "path", "type": "integer", "required": true},
                    {"name": "attr", "in": "body", "required": true, "schema": {"type": "object"}},
                    {"name": "X-Token", "in": "header", "type": "string"}
                ]}
            }}
        });
        let mut bodies = Vec::new();
        let ops = read(&doc, &mut bodies).unwrap();
        assert_eq!(ops.len(), 2);
        let put = ops.iter().find(|o| o.method == "PUT").unwrap();
        assert_eq!(put.path_params.len(), 1);
        assert_eq!(put.path_params[0].kind, crate::params::ParamType::Integer);
        assert_eq!(put.query_params[0].name, "verbose");
        let body = put.body.as_ref().unwrap();
        assert!(body.required);
        assert_eq!(bodies[body.schema_index], &json!({"type": "object"}));
        let get = ops.iter().find(|o| o.method == "GET").unwrap();
        assert!(get.body.is_none());
        assert_eq!(get.path_params[0].kind, crate::params::ParamType::String);
    }

    #[test]
    fn structural_problems_are_reported() {
        let empty = json!({});
        let mut bodies = Vec::new();
        assert!(read(&empty, &mut bodies).is_err());
        let bad_ref = json!({"paths": {"/a": {"get": {"parameters": [{"$ref": "#/x"}]}}}});
        assert!(read(&bad_ref, &mut bodies).is_err());
        let bad_in =
            json!({"paths": {"/a": {"get": {"parameters": [{"name": "a", "in": "cookie"}]}}}});
        assert!(read(&bad_in, &mut bodies).is_err());
        let no_schema =
            json!({"paths": {"/a": {"post": {"parameters": [{"name": "a", "in": "body"}]}}}});
        assert!(read(&no_schema, &mut bodies).is_err());
    }
}
