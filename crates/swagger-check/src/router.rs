//! Finding the operation a concrete request path belongs to.
//!
//! Several templates can match one path (`/config/loadbalancer/all` and a hypothetical
//! `/config/loadbalancer/{name}`). Like the routers that Swagger servers use, a literal
//! segment beats a parameter: templates are compared segment by segment from the left and
//! the first place where one has a literal and the other a parameter decides.

use std::cmp::Ordering;

use crate::operations::{Operation, Segment};

/// Whether `template` matches the decoded request `segments`.
fn matches(template: &[Segment], segments: &[String]) -> bool {
    template.len() == segments.len()
        && template.iter().zip(segments).all(|(t, s)| match t {
            Segment::Literal(l) => l == s,
            Segment::Param(_) => true,
        })
}

/// `Greater` when `a` is more specific than `b`.
fn specificity(a: &[Segment], b: &[Segment]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| match (x, y) {
            (Segment::Literal(_), Segment::Param(_)) => Ordering::Greater,
            (Segment::Param(_), Segment::Literal(_)) => Ordering::Less,
            _ => Ordering::Equal,
        })
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// The most specific operation with `method` whose template matches `segments`.
pub(crate) fn route<'o>(
    ops: &'o [Operation],
    method: &str,
    segments: &[String],
) -> Option<&'o Operation> {
    ops.iter()
        .filter(|op| op.method == method && matches(&op.segments, segments))
        .max_by(|a, b| specificity(&a.segments, &b.segments))
}

/// Methods documented for any template matching `segments` (for "wrong method" messages).
pub(crate) fn methods_for(ops: &[Operation], segments: &[String]) -> Vec<String> {
    let mut methods: Vec<String> = ops
        .iter()
        .filter(|op| matches(&op.segments, segments))
        .map(|op| op.method.clone())
        .collect();
    methods.sort();
    methods.dedup();
    methods
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operations::parse_template;

    fn op(method: &str, template: &str) -> Operation {
        Operation {
            method: method.to_owned(),
            template: template.to_owned(),
            segments: parse_template(template),
            path_params: Vec::new(),
            query_params: Vec::new(),
            body: None,
        }
    }

    fn segs(path: &str) -> Vec<String> {
        path.trim_start_matches('/')
            .split('/')
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn literal_beats_parameter_whatever_the_order() {
        for ops in [
            vec![op("GET", "/lb/{name}"), op("GET", "/lb/all")],
            vec![op("GET", "/lb/all"), op("GET", "/lb/{name}")],
        ] {
            assert_eq!(
                route(&ops, "GET", &segs("/lb/all")).unwrap().template,
                "/lb/all"
            );
            assert_eq!(
                route(&ops, "GET", &segs("/lb/web")).unwrap().template,
                "/lb/{name}"
            );
        }
    }

    #[test]
    fn leftmost_literal_decides() {
        let ops = vec![op("GET", "/{a}/x"), op("GET", "/a/{x}")];
        assert_eq!(
            route(&ops, "GET", &segs("/a/x")).unwrap().template,
            "/a/{x}"
        );
    }

    #[test]
    fn method_and_length_must_match() {
        let ops = vec![op("GET", "/lb/all"), op("DELETE", "/lb/{name}")];
        assert!(route(&ops, "POST", &segs("/lb/all")).is_none());
        assert!(route(&ops, "GET", &segs("/lb/all/x")).is_none());
        assert!(route(&ops, "GET", &segs("/lb")).is_none());
        // A literal template with the wrong method does not hide a parameter one.
        assert_eq!(
            route(&ops, "DELETE", &segs("/lb/all")).unwrap().template,
            "/lb/{name}"
        );
        assert_eq!(methods_for(&ops, &segs("/lb/all")), vec!["DELETE", "GET"]);
    }
}
