//! YAML text to `serde_json::Value`.
//!
//! Deserialising YAML straight into `serde_json::Value` fails on documents whose map keys
//! are not strings (an unquoted `200:` response code is an integer in YAML). Swagger treats
//! every key as a string, so this goes through the YAML value tree and stringifies scalar
//! keys, resolves `<<` merge keys and drops YAML tags.

use serde_json::{Map, Number, Value};
use serde_yaml_ng::Value as Yaml;

use crate::error::SpecError;

/// Parses one YAML document into JSON.
pub(crate) fn parse(text: &str) -> Result<Value, SpecError> {
    let mut doc: Yaml = serde_yaml_ng::from_str(text)?;
    doc.apply_merge()?;
    to_json(&doc, "")
}

fn to_json(yaml: &Yaml, at: &str) -> Result<Value, SpecError> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Number(n) => number(n, at)?,
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Sequence(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_json(item, &format!("{at}/{i}")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(entries) => {
            let mut map = Map::new();
            for (k, v) in entries {
                let key = key_string(k, at)?;
                let child = to_json(v, &format!("{at}/{key}"))?;
                map.insert(key, child);
            }
            Value::Object(map)
        }
        Yaml::Tagged(tagged) => to_json(&tagged.value, at)?,
    })
}

fn number(n: &serde_yaml_ng::Number, at: &str) -> Result<Value, SpecError> {
    if let Some(u) = n.as_u64() {
        return Ok(Value::Number(u.into()));
    }
    if let Some(i) = n.as_i64() {
        return Ok(Value::Number(i.into()));
    }
    n.as_f64()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| SpecError::NotJson {
            at: at.to_owned(),
            why: format!("number {n} is not finite"),
        })
}

fn key_string(key: &Yaml, at: &str) -> Result<String, SpecError> {
    match key {
        Yaml::String(s) => Ok(s.clone()),
        Yaml::Bool(b) => Ok(b.to_string()),
        Yaml::Number(n) => Ok(n.to_string()),
        Yaml::Null => Ok("null".to_owned()),
        Yaml::Tagged(tagged) => key_string(&tagged.value, at),
        Yaml::Sequence(_) | Yaml::Mapping(_) => Err(SpecError::NotJson {
            at: at.to_owned(),
            why: "a map key is a sequence or a map".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integer_keys_become_strings() {
        let v = parse("responses:\n  200:\n    description: OK\n").unwrap();
        assert_eq!(v, json!({"responses": {"200": {"description": "OK"}}}));
    }

    #[test]
    fn merge_keys_are_applied() {
        let v = parse("base: &b {type: integer}\nport:\n  <<: *b\n  format: uint16\n").unwrap();
        assert_eq!(v["port"], json!({"type": "integer", "format": "uint16"}));
    }

    #[test]
    fn non_finite_numbers_are_rejected() {
        let err = parse("x: .inf\n").unwrap_err();
        assert!(matches!(err, SpecError::NotJson { .. }), "{err}");
    }

    #[test]
    fn complex_keys_are_rejected() {
        let err = parse("? [a, b]\n: 1\n").unwrap_err();
        assert!(err.to_string().contains("map key"), "{err}");
    }

    #[test]
    fn broken_yaml_is_an_error() {
        assert!(matches!(parse("a: [1, 2"), Err(SpecError::Yaml(_))));
    }
}
