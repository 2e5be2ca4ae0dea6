//! Runs the shared fixtures the ingress tests also use:
//! `tests/fixtures/good_events.json` must all parse (and survive a
//! serialization round trip), every case in `bad_events.json` must fail
//! with the expected class and, for `invalid`, the expected field.

use super::*;
use crate::test_support::{Context, TestResult};
use serde_json::Value;

const GOOD: &str = include_str!("../../tests/fixtures/good_events.json");
const BAD: &str = include_str!("../../tests/fixtures/bad_events.json");

fn cases(text: &str) -> Vec<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(items)) => items,
        other => panic!("fixture is not a JSON array: {other:?}"),
    }
}

fn name(case: &Value) -> &str {
    case["name"].as_str().unwrap_or("<unnamed>")
}

#[test]
fn good_events_all_parse_and_round_trip() -> TestResult {
    let cases = cases(GOOD);
    assert!(cases.len() >= 20);
    for case in &cases {
        let event = parse_envelope(&case["body"])
            .map_err(|e| format!("{}: rejected: {e:?}", name(case)))?;
        let envelope = event
            .to_envelope()
            .context(format!("{}: to_envelope", name(case)))?;
        let again = parse_envelope(&envelope)
            .map_err(|e| format!("{}: envelope re-parse: {e:?}", name(case)))?;
        assert_eq!(again, event, "{}: envelope round trip", name(case));
        let json = serde_json::to_value(&event).unwrap_or_default();
        let back: Event =
            serde_json::from_value(json).context(format!("{}: serde round trip", name(case)))?;
        assert_eq!(back, event, "{}: serde round trip", name(case));
    }
    Ok(())
}

#[test]
fn bad_events_fail_with_the_expected_error() -> TestResult {
    let cases = cases(BAD);
    assert!(cases.len() >= 40);
    for case in &cases {
        let expect = case["expect"].as_str().unwrap_or("<missing expect>");
        let err = match parse_envelope(&case["body"]) {
            Ok(event) => panic!("{}: accepted as {event:?}", name(case)),
            Err(err) => err,
        };
        assert_eq!(err.kind(), expect, "{}: got {err:?}", name(case));
        match (expect, case.get("field").and_then(Value::as_str)) {
            ("invalid" | "bad_request", Some(field)) => {
                assert_eq!(err.field(), Some(field), "{}: got {err:?}", name(case));
            }
            ("invalid" | "bad_request", None) => panic!("{}: fixture lacks field", name(case)),
            _ => {}
        }
        if let EventError::Unsupported {
            user_fault_string,
            operator_fault_string,
        } = &err
        {
            assert!(!user_fault_string.is_empty(), "{}", name(case));
            // The operator string starts with the offending field (or method).
            let field = case["field"].as_str().unwrap_or("<fixture lacks field>");
            assert!(
                operator_fault_string.starts_with(&format!("{field}:")),
                "{}: {operator_fault_string}",
                name(case)
            );
        }
    }
    Ok(())
}

#[test]
fn bad_fixture_covers_every_error_class() -> TestResult {
    let cases = cases(BAD);
    for class in [
        "bad_request",
        "invalid",
        "unsupported",
        "unknown_method",
        "not_an_event",
    ] {
        assert!(
            cases.iter().any(|c| c["expect"] == class),
            "no {class} case"
        );
    }
    for method in L7_METHODS.iter().chain(NOT_AN_EVENT_METHODS) {
        assert!(
            cases.iter().any(|c| c["body"]["method"] == *method),
            "no case for {method}"
        );
    }
    Ok(())
}
