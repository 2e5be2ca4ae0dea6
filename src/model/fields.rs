//! A small reader that type-checks an Octavia dict one field at a time.
//!
//! serde's derived deserializers stop at the first error without saying
//! which field failed; the ingress API must tell the caller exactly which
//! field is wrong (`members[3].address`), so every object is read through
//! this reader instead. Absent and `null` fields both read as `None`
//! (octavia-lib's `to_dict()` omits Unset values and Octavia sends `None`
//! for unset database columns). Keys we do not know are ignored: octavia-lib
//! adds fields over releases.

use super::error::EventError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Joins a parent path and a key: `("member", "address")` → `member.address`.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Appends a list index: `("members", 3)` → `members[3]`.
pub fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

/// Short JSON type name for error messages.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Returns the value as an object or an `Invalid` error naming `path`.
pub fn as_object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, EventError> {
    value.as_object().ok_or_else(|| {
        EventError::invalid(
            path,
            format!("expected an object, got {}", type_name(value)),
        )
    })
}

/// Reads the fields of one JSON object.
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    path: &'a str,
    /// Record keys whose value is an explicit `null` (update `new` objects:
    /// there `null` means "reset", which differs from "absent = unchanged").
    record_nulls: bool,
    cleared: Vec<String>,
}

impl<'a> Fields<'a> {
    /// Starts reading `value`, which must be an object.
    pub fn new(value: &'a Value, path: &'a str, record_nulls: bool) -> Result<Self, EventError> {
        Ok(Fields {
            obj: as_object(value, path)?,
            path,
            record_nulls,
            cleared: Vec::new(),
        })
    }

    /// The path of one of this object's fields.
    pub fn path_of(&self, key: &str) -> String {
        join(self.path, key)
    }

    fn raw(&mut self, key: &str) -> Option<&'a Value> {
        match self.obj.get(key) {
            None => None,
            Some(Value::Null) => {
                if self.record_nulls {
                    self.cleared.push(key.to_owned());
                }
                None
            }
            Some(v) => Some(v),
        }
    }

    /// Reads an optional field of any serde type.
    pub fn opt<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>, EventError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => T::deserialize(v)
                .map(Some)
                .map_err(|e| EventError::invalid(self.path_of(key), e.to_string())),
        }
    }

    /// Reads a required string field (the object's own id).
    pub fn required_string(&mut self, key: &str) -> Result<String, EventError> {
        self.opt::<String>(key)?
            .ok_or_else(|| EventError::invalid(self.path_of(key), "is required"))
    }

    /// Reads an optional string field and parses it with `FromStr`.
    pub fn parsed<T>(&mut self, key: &str) -> Result<Option<T>, EventError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        match self.opt::<String>(key)? {
            None => Ok(None),
            Some(text) => text
                .parse()
                .map(Some)
                .map_err(|e| EventError::invalid(self.path_of(key), format!("{text:?}: {e}"))),
        }
    }

    /// Reads an optional list of strings, each parsed with `FromStr`.
    pub fn parsed_list<T>(&mut self, key: &str) -> Result<Option<Vec<T>>, EventError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        let Some(items) = self.opt::<Vec<String>>(key)? else {
            return Ok(None);
        };
        let path = self.path_of(key);
        items
            .iter()
            .enumerate()
            .map(|(i, text)| {
                text.parse()
                    .map_err(|e| EventError::invalid(index(&path, i), format!("{text:?}: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// Reads an optional nested object with `read(value, path)`.
    pub fn nested<T>(
        &mut self,
        key: &str,
        read: impl Fn(&Value, &str) -> Result<T, EventError>,
    ) -> Result<Option<T>, EventError> {
        match self.raw(key) {
            None => Ok(None),
            Some(v) => read(v, &self.path_of(key)).map(Some),
        }
    }

    /// Reads an optional list of nested objects. `null` items are skipped:
    /// octavia-lib's recursive `to_dict()` renders back-references as `None`.
    pub fn nested_list<T>(
        &mut self,
        key: &str,
        read: impl Fn(&Value, &str) -> Result<T, EventError>,
    ) -> Result<Option<Vec<T>>, EventError> {
        let Some(v) = self.raw(key) else {
            return Ok(None);
        };
        let path = self.path_of(key);
        let Value::Array(items) = v else {
            return Err(EventError::invalid(
                path,
                format!("expected an array, got {}", type_name(v)),
            ));
        };
        items
            .iter()
            .enumerate()
            .filter(|(_, item)| !item.is_null())
            .map(|(i, item)| read(item, &index(&path, i)))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// The keys that were explicitly `null` (only when recording), sorted.
    pub fn finish(mut self) -> Vec<String> {
        self.cleared.sort();
        self.cleared.dedup();
        self.cleared
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestResult;
    use serde_json::json;

    #[test]
    fn reads_types_and_names_the_failing_field() -> TestResult {
        let v = json!({"port": 80, "bad": "x", "n": null, "list": [1, null]});
        let mut f = Fields::new(&v, "member", true)?;
        assert_eq!(f.opt::<u16>("port"), Ok(Some(80)));
        assert_eq!(f.opt::<u16>("absent"), Ok(None));
        assert_eq!(f.opt::<u16>("n"), Ok(None));
        let err = f.opt::<u16>("bad").err();
        assert_eq!(err.as_ref().and_then(|e| e.field()), Some("member.bad"));
        let err = f.required_string("id").err();
        assert_eq!(err.as_ref().and_then(|e| e.field()), Some("member.id"));
        assert_eq!(f.finish(), vec!["n".to_owned()]);
        Ok(())
    }

    #[test]
    fn non_objects_are_invalid() -> TestResult {
        let err = Fields::new(&json!([1]), "pool", false).err();
        assert_eq!(err.as_ref().and_then(|e| e.field()), Some("pool"));
        Ok(())
    }

    #[test]
    fn parsed_list_reports_the_index() -> TestResult {
        let v = json!({"cidrs": ["10.0.0.0/8", "nope"]});
        let mut f = Fields::new(&v, "", false)?;
        let err = f.parsed_list::<ipnet::IpNet>("cidrs").err();
        assert_eq!(err.as_ref().and_then(|e| e.field()), Some("cidrs[1]"));
        Ok(())
    }
}
