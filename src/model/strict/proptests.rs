//! Mutations of the valid fixture bodies that the ingress must refuse: a key
//! written twice (anywhere), an id that is not a UUID, a string over its bound
//! and a control character. Each must be refused naming the mutated field.

use proptest::prelude::*;
use serde_json::Value;

use super::strings::{is_uuid, MAX_TEXT};
use super::{check_args, parse, StrictJsonError};
use crate::model::fields::{index, join};

const GOOD: &str = include_str!("../../../tests/fixtures/good_events.json");

/// The fixture bodies whose `args` pass the strict checks as they are.
fn strict_good_bodies() -> Vec<Value> {
    let Ok(Value::Array(cases)) = serde_json::from_str::<Value>(GOOD) else {
        return Vec::new();
    };
    cases
        .into_iter()
        .map(|c| c["body"].clone())
        .filter(|b| check_args(&b["args"], true).is_ok())
        .collect()
}

/// Every (path, value) in `v`, paths as `EventError` fields (relative to `v`).
fn leaves<'a>(v: &'a Value, path: &str, out: &mut Vec<(String, &'a Value)>) {
    out.push((path.to_owned(), v));
    match v {
        Value::Object(map) => map
            .iter()
            .for_each(|(k, child)| leaves(child, &join(path, k), out)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, child)| leaves(child, &index(path, i), out)),
        _ => {}
    }
}

/// Replaces the value at `path` (as produced by `leaves`).
fn set(v: &mut Value, path: &str, new: Value) {
    let mut all = Vec::new();
    leaves(v, "", &mut all);
    let position = all.iter().position(|(p, _)| p == path);
    let mut n = 0;
    set_nth(v, position.unwrap_or(usize::MAX), &mut n, new);
}

fn set_nth(v: &mut Value, target: usize, n: &mut usize, new: Value) -> bool {
    if *n == target {
        *v = new;
        return true;
    }
    *n += 1;
    match v {
        Value::Object(map) => map.values_mut().any(|c| set_nth(c, target, n, new.clone())),
        Value::Array(items) => items.iter_mut().any(|c| set_nth(c, target, n, new.clone())),
        _ => false,
    }
}

/// Serializes `v` writing the first key of the `target`-th object (in
/// `leaves` order) twice; returns the text and the repeated key's path.
fn with_duplicate(v: &Value, target: usize) -> Option<(String, String)> {
    let mut all = Vec::new();
    leaves(v, "", &mut all);
    let (path, obj) = all
        .iter()
        .filter(|(_, x)| x.as_object().is_some_and(|m| !m.is_empty()))
        .nth(target)?;
    let (key, first) = obj.as_object()?.iter().next()?;
    // Rebuild the object's text with `key` again at its end, then splice it in.
    let mut text = serde_json::to_string(obj).ok()?;
    text.pop();
    text.push_str(&format!(
        ",{}:{}}}",
        serde_json::to_string(key).ok()?,
        first
    ));
    let marker = Value::String("\u{1}splice\u{1}".into());
    let mut whole = v.clone();
    set(&mut whole, path, marker.clone());
    let whole = serde_json::to_string(&whole).ok()?;
    let spliced = whole.replacen(&serde_json::to_string(&marker).ok()?, &text, 1);
    Some((spliced, join(path, key)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_repeated_key_anywhere_is_named(case in 0usize..64, target in 0usize..32) {
        let bodies = strict_good_bodies();
        prop_assume!(!bodies.is_empty());
        let body = &bodies[case % bodies.len()];
        let Some((text, path)) = with_duplicate(body, target) else {
            return Ok(());
        };
        // serde_json alone takes the body (the last key wins) ...
        prop_assert!(serde_json::from_str::<Value>(&text).is_ok());
        // ... the strict reader names the key.
        prop_assert_eq!(parse(text.as_bytes()), Err(StrictJsonError::DuplicateKey { path }));
    }

    #[test]
    fn a_non_uuid_id_is_named(case in 0usize..64, pick in 0usize..64, id in "[a-z0-9.-]{0,40}|1e400|80") {
        prop_assume!(!is_uuid(&id));
        let bodies = strict_good_bodies();
        prop_assume!(!bodies.is_empty());
        let mut args = bodies[case % bodies.len()]["args"].clone();
        let mut all = Vec::new();
        leaves(&args, "", &mut all);
        let ids: Vec<String> = all
            .iter()
            .filter(|(_, v)| v.as_str().is_some_and(is_uuid))
            .map(|(p, _)| p.clone())
            .collect();
        prop_assume!(!ids.is_empty());
        let path = ids[pick % ids.len()].clone();
        set(&mut args, &path, Value::String(id));
        let err = check_args(&args, true).err();
        prop_assert_eq!(err.as_ref().and_then(|e| e.field()), Some(path.as_str()));
    }

    #[test]
    fn a_long_or_control_character_name_is_named(
        case in 0usize..64,
        pick in 0usize..64,
        extra in 1usize..2000,
        control in prop::sample::select(vec!['\u{0}', '\r', '\n', '\u{1b}', '\u{7f}', '\u{9b}']),
        long in any::<bool>(),
    ) {
        let bodies = strict_good_bodies();
        prop_assume!(!bodies.is_empty());
        let mut args = bodies[case % bodies.len()]["args"].clone();
        let mut all = Vec::new();
        leaves(&args, "", &mut all);
        // Octavia objects (not the args map, not metadata): each may carry a name.
        let objects: Vec<(String, Value)> = all
            .iter()
            .filter(|(p, v)| {
                v.is_object() && !p.is_empty() && !p.contains("flavor") && !p.contains("availability_zone")
            })
            .map(|(p, v)| (p.clone(), (*v).clone()))
            .collect();
        prop_assume!(!objects.is_empty());
        let (path, mut object) = objects[pick % objects.len()].clone();
        let text = if long {
            "n".repeat(MAX_TEXT + extra)
        } else {
            format!("ok{control}name")
        };
        if let Some(map) = object.as_object_mut() {
            map.insert("name".into(), Value::String(text));
        }
        set(&mut args, &path, object);
        let err = check_args(&args, true).err();
        let name = join(&path, "name");
        prop_assert_eq!(err.as_ref().and_then(|e| e.field()), Some(name.as_str()));
    }
}

#[test]
fn most_fixture_bodies_are_strict_so_the_mutations_have_inputs() {
    assert!(
        strict_good_bodies().len() >= 20,
        "{}",
        strict_good_bodies().len()
    );
}
