//! Validation of one recorded request against the parsed document.
//!
//! Routing problems (no such path, wrong method, undecodable path) stop the check, since
//! nothing else can be compared without an operation; all other problems are collected
//! so one run shows them all.

use std::collections::HashSet;

use percent_encoding::percent_decode_str;
use serde_json::Value;

use crate::operations::{Operation, Segment};
use crate::{router, SwaggerSpec};

pub(crate) fn validate(
    spec: &SwaggerSpec,
    method: &str,
    path: &str,
    query: Option<&str>,
    body: Option<&Value>,
) -> Result<(), Vec<String>> {
    let method = method.to_ascii_uppercase();
    let (path, query) = match (path.split_once('?'), query) {
        (None, q) => (path, q),
        (Some((p, q)), None) => (p, Some(q)),
        (Some(_), Some(_)) => {
            return Err(vec![format!(
                "path {path:?} contains '?' although the query was given separately"
            )])
        }
    };
    let segments = segments_of(&spec.base_path, path)?;
    let Some(op) = router::route(&spec.operations, &method, &segments) else {
        let methods = router::methods_for(&spec.operations, &segments);
        return Err(vec![if methods.is_empty() {
            format!("{method} {path}: no documented path matches")
        } else {
            format!(
                "{method} {path}: method not documented for this path (documented: {})",
                methods.join(", ")
            )
        }]);
    };
    let mut problems = Vec::new();
    check_path_params(op, &segments, &mut problems);
    check_query(op, query.unwrap_or(""), &mut problems);
    check_body(spec, op, body, &mut problems);
    if problems.is_empty() {
        Ok(())
    } else {
        let context = format!("{} {}{}", op.method, spec.base_path, op.template);
        Err(problems
            .into_iter()
            .map(|p| format!("{context}: {p}"))
            .collect())
    }
}

/// The decoded segments of `path` below `base`.
fn segments_of(base: &str, path: &str) -> Result<Vec<String>, Vec<String>> {
    let rest = path
        .strip_prefix(base)
        .filter(|r| r.is_empty() || r.starts_with('/'))
        .ok_or_else(|| vec![format!("path {path:?} is not under basePath {base:?}")])?;
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    rest.split('/')
        .map(|s| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|d| d.into_owned())
                .map_err(|_| vec![format!("path segment {s:?} is not UTF-8 once decoded")])
        })
        .collect()
}

fn check_path_params(op: &Operation, segments: &[String], problems: &mut Vec<String>) {
    for (segment, value) in op.segments.iter().zip(segments) {
        let Segment::Param(name) = segment else {
            continue;
        };
        if value.is_empty() {
            problems.push(format!("path parameter {name} is empty"));
            continue;
        }
        // A template parameter the document forgot to declare is taken as a string.
        if let Some(spec) = op.path_params.iter().find(|p| p.name == *name) {
            if let Err(why) = spec.check(value) {
                problems.push(format!("path parameter {name}: {why}"));
            }
        }
    }
}

fn check_query(op: &Operation, query: &str, problems: &mut Vec<String>) {
    let mut seen = HashSet::new();
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if name.is_empty() && value.is_empty() {
            continue; // "a=1&&b=2" or a lone "&"
        }
        let Some(spec) = op.query_params.iter().find(|p| p.name == name) else {
            let documented: Vec<&str> = op.query_params.iter().map(|p| p.name.as_str()).collect();
            problems.push(format!(
                "query parameter {name:?} is not documented (documented: {})",
                if documented.is_empty() {
                    "none".to_owned()
                } else {
                    documented.join(", ")
                }
            ));
            continue;
        };
        if !seen.insert(spec.name.clone()) {
            problems.push(format!("query parameter {name} is repeated"));
        }
        if let Err(why) = spec.check(&value) {
            problems.push(format!("query parameter {name}: {why}"));
        }
    }
    for spec in &op.query_params {
        if spec.required && !seen.contains(&spec.name) {
            problems.push(format!("required query parameter {} is missing", spec.name));
        }
    }
}

fn check_body(
    spec: &SwaggerSpec,
    op: &Operation,
    body: Option<&Value>,
    problems: &mut Vec<String>,
) {
    match (&op.body, body) {
        (Some(param), Some(body)) => {
            problems.extend(spec.bodies.validate(param.schema_index, body))
        }
        (Some(param), None) if param.required => {
            problems.push(format!("required body ({}) is missing", param.name));
        }
        (None, Some(_)) => problems.push("a body was sent but the operation takes none".to_owned()),
        _ => {}
    }
}
