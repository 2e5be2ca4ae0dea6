//! JSON parsing that refuses a repeated key in any object, at any depth.
//!
//! `serde_json::from_slice::<Value>` keeps the last of two equal keys, so a
//! body carrying `"method":"l7policy_create","method":"loadbalancer_delete"`
//! reads as a delete to us while a proxy or log reader that keeps the first
//! key sees something else. A body is only ever read one way here: a repeated
//! key is an error naming the key's path.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::super::fields::{index, join};

/// Why a body could not be read as one unambiguous JSON value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrictJsonError {
    /// An object holds `path`'s last key twice. The path follows the field paths
    /// of `EventError` (`loadbalancer.listeners[0].name`), from the body's root.
    #[error("duplicate key {path}")]
    DuplicateKey { path: String },
    /// Not JSON at all (or numbers out of range, nesting too deep).
    #[error("{0}")]
    Syntax(String),
}

/// Parses `body` into a `Value`, refusing duplicate keys anywhere.
pub fn parse(body: &[u8]) -> Result<Value, StrictJsonError> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed = ValueSeed {
        path: String::new(),
        duplicate: &found,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match (parsed, found.into_inner()) {
        (_, Some(path)) => Err(StrictJsonError::DuplicateKey { path }),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(StrictJsonError::Syntax(e.to_string())),
    }
}

/// Builds one value at `path`; records the first duplicate key it meets.
struct ValueSeed<'c> {
    path: String,
    duplicate: &'c RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            let seed = ValueSeed {
                path: index(&self.path, items.len()),
                duplicate: self.duplicate,
            };
            match seq.next_element_seed(seed)? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = join(&self.path, &key);
            if object.contains_key(&key) {
                *self.duplicate.borrow_mut() = Some(path);
                return Err(de::Error::custom("duplicate key"));
            }
            let value = map.next_value_seed(ValueSeed {
                path,
                duplicate: self.duplicate,
            })?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestResult;

    fn dup(body: &str) -> Option<String> {
        match parse(body.as_bytes()) {
            Err(StrictJsonError::DuplicateKey { path }) => Some(path),
            _ => None,
        }
    }

    #[test]
    fn a_repeated_key_is_named_at_any_depth() -> TestResult {
        assert_eq!(
            dup(r#"{"method":"l7policy_create","method":"loadbalancer_delete"}"#),
            Some("method".into())
        );
        assert_eq!(
            dup(r#"{"args":{"pool":{"members":[{},{"address":"a","address":"b"}]}}}"#),
            Some("args.pool.members[1].address".into())
        );
        assert_eq!(dup(r#"[[{"a":1,"a":1}]]"#), Some("[0][0].a".into()));
        Ok(())
    }

    #[test]
    fn same_key_in_sibling_objects_is_fine_and_values_match_serde_json() -> TestResult {
        let body = r#"{"a":[{"k":1},{"k":-2.5}],"b":{"k":null,"s":"é\u0000"},"c":true}"#;
        let strict = parse(body.as_bytes())?;
        let plain: Value = serde_json::from_str(body)?;
        assert_eq!(strict, plain);
        Ok(())
    }

    #[test]
    fn syntax_errors_and_trailing_data_are_not_duplicates() -> TestResult {
        for body in ["{", "1e400", "{} x", ""] {
            assert!(
                matches!(parse(body.as_bytes()), Err(StrictJsonError::Syntax(_))),
                "{body}"
            );
        }
        Ok(())
    }
}
