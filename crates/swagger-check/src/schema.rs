//! Swagger 2.0 schemas turned into compiled JSON Schema (draft 4) validators.
//!
//! Swagger's Schema Object is draft-4 JSON Schema with a few changes. The conversion:
//! - keeps every keyword; keywords JSON Schema does not know (`x-*`, `example`,
//!   `discriminator`, `readOnly`) are ignored by the validator anyway;
//! - adds `minimum`/`maximum` for integer formats (`uint16`, `int32`, ...) because
//!   LoxiLB's Go server rejects out-of-range values for such fields;
//! - drops Swagger's `type: file`, which has no JSON form;
//! - with [`crate::SpecOptions::deny_unknown_properties`], closes every object schema
//!   that lists `properties` (Go ignores unknown JSON fields, so a misspelt field would
//!   otherwise vanish silently).
//!
//! Every body schema is stored under a synthetic name in one root document next to the
//! converted `definitions`, so `#/definitions/X` references resolve exactly as in the
//! Swagger file, and one `build_map` call compiles everything once.

use serde_json::{Map, Value};

use crate::error::SpecError;
use crate::formats::integer_bounds;

/// Keywords whose value is a single subschema.
const ONE_SCHEMA: &[&str] = &["not", "additionalProperties", "additionalItems", "items"];
/// Keywords whose value is a list of subschemas.
const SCHEMA_LIST: &[&str] = &["allOf", "anyOf", "oneOf", "items"];
/// Keywords whose value maps names to subschemas.
const SCHEMA_MAP: &[&str] = &["properties", "patternProperties", "definitions"];

/// Converts one Swagger schema (and its subschemas) to JSON Schema draft 4.
pub(crate) fn convert(schema: &Value, deny_unknown: bool) -> Value {
    let Value::Object(obj) = schema else {
        return schema.clone();
    };
    let mut out = Map::new();
    for (key, value) in obj {
        let converted = if ONE_SCHEMA.contains(&key.as_str()) && value.is_object() {
            convert(value, deny_unknown)
        } else if SCHEMA_LIST.contains(&key.as_str()) && value.is_array() {
            Value::Array(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| convert(s, deny_unknown))
                    .collect(),
            )
        } else if SCHEMA_MAP.contains(&key.as_str()) && value.is_object() {
            Value::Object(
                value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, s)| (name.clone(), convert(s, deny_unknown)))
                    .collect(),
            )
        } else {
            value.clone()
        };
        out.insert(key.clone(), converted);
    }
    if out.get("type").and_then(Value::as_str) == Some("file") {
        out.remove("type");
    }
    if out.get("type").and_then(Value::as_str) == Some("integer") {
        if let Some((lo, hi)) = integer_bounds(out.get("format").and_then(Value::as_str)) {
            out.entry("minimum").or_insert_with(|| bound(lo));
            out.entry("maximum").or_insert_with(|| bound(hi));
        }
    }
    let composed = ["allOf", "anyOf", "oneOf"]
        .iter()
        .any(|k| out.contains_key(*k));
    if deny_unknown
        && out.get("properties").is_some_and(Value::is_object)
        && !out.contains_key("additionalProperties")
        && !composed
    {
        out.insert("additionalProperties".to_owned(), Value::Bool(false));
    }
    Value::Object(out)
}

fn bound(n: i128) -> Value {
    i64::try_from(n)
        .map(Value::from)
        .or_else(|_| u64::try_from(n).map(Value::from))
        .unwrap_or(Value::Null)
}

/// All body schemas of a document, compiled together.
pub(crate) struct BodySchemas {
    map: jsonschema::ValidatorMap,
    prefix: String,
}

impl std::fmt::Debug for BodySchemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodySchemas")
            .field("compiled", &self.map.len())
            .finish()
    }
}

impl BodySchemas {
    /// Compiles `bodies[i]` (Swagger schemas) against the document's `definitions`.
    /// Body `i` is later validated with [`BodySchemas::validate`]`(i, ..)`.
    pub(crate) fn compile(
        definitions: Option<&Value>,
        bodies: &[&Value],
        deny_unknown: bool,
    ) -> Result<BodySchemas, SpecError> {
        let mut defs = match definitions {
            None => Map::new(),
            Some(Value::Object(d)) => d
                .iter()
                .map(|(k, s)| (k.clone(), convert(s, deny_unknown)))
                .collect(),
            Some(_) => {
                return Err(SpecError::Structure(
                    "`definitions` is not a map".to_owned(),
                ))
            }
        };
        let mut prefix = "swagger-check-body-".to_owned();
        while defs.keys().any(|k| k.starts_with(&prefix)) {
            prefix.insert(0, '_');
        }
        for (i, body) in bodies.iter().enumerate() {
            defs.insert(format!("{prefix}{i}"), convert(body, deny_unknown));
        }
        let mut root = Map::new();
        root.insert("definitions".to_owned(), Value::Object(defs));
        let map = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft4)
            .offline()
            .build_map(&Value::Object(root))
            .map_err(|e| SpecError::Schema(format!("{} (at {})", e, e.schema_path())))?;
        let schemas = BodySchemas { map, prefix };
        for i in 0..bodies.len() {
            if schemas.map.get(&schemas.key(i)).is_none() {
                return Err(SpecError::Schema(format!(
                    "body schema {i} was not compiled"
                )));
            }
        }
        Ok(schemas)
    }

    fn key(&self, index: usize) -> String {
        format!("#/definitions/{}{}", self.prefix, index)
    }

    /// Every problem of `body` against body schema `index`, each naming a JSON pointer.
    pub(crate) fn validate(&self, index: usize, body: &Value) -> Vec<String> {
        let Some(validator) = self.map.get(&self.key(index)) else {
            return vec![format!("internal: no compiled body schema #{index}")];
        };
        validator
            .iter_errors(body)
            .map(|e| {
                let pointer = e.instance_path().to_string();
                let shown = if pointer.is_empty() {
                    "(root)"
                } else {
                    &pointer
                };
                // The library abbreviates long enums ("or 5 other candidates"); a test
                // failure is easier to act on with the whole list.
                match e.kind() {
                    jsonschema::error::ValidationErrorKind::Enum { options } => {
                        format!("body {shown}: {} is not one of {options}", e.instance())
                    }
                    _ => format!("body {shown}: {e}"),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integer_formats_become_bounds() {
        let s = convert(&json!({"type": "integer", "format": "uint16"}), false);
        assert_eq!(s["minimum"], json!(0));
        assert_eq!(s["maximum"], json!(65535));
        let explicit = convert(
            &json!({"type": "integer", "format": "uint16", "maximum": 100}),
            false,
        );
        assert_eq!(explicit["maximum"], json!(100));
    }

    #[test]
    fn nested_schemas_are_converted_but_property_names_are_not_keywords() {
        let s = convert(
            &json!({"properties": {
                "type": {"type": "integer", "format": "uint8"},
                "properties": {"type": "object", "properties": {"a": {}}},
                "list": {"items": {"type": "integer", "format": "int8"}}
            }}),
            true,
        );
        assert_eq!(s["properties"]["type"]["maximum"], json!(255));
        assert_eq!(s["properties"]["list"]["items"]["minimum"], json!(-128));
        assert_eq!(s["additionalProperties"], json!(false));
        assert_eq!(
            s["properties"]["properties"]["additionalProperties"],
            json!(false)
        );
        assert!(s["properties"].get("additionalProperties").is_none());
    }

    #[test]
    fn strict_mode_leaves_open_maps_and_compositions_alone() {
        let s = convert(
            &json!({"properties": {"a": {}}, "additionalProperties": {"type": "string"}}),
            true,
        );
        assert_eq!(s["additionalProperties"], json!({"type": "string"}));
        let c = convert(&json!({"properties": {"a": {}}, "allOf": [{}]}), true);
        assert!(c.get("additionalProperties").is_none());
        let lax = convert(&json!({"properties": {"a": {}}}), false);
        assert!(lax.get("additionalProperties").is_none());
    }

    #[test]
    fn file_type_is_dropped() {
        assert_eq!(convert(&json!({"type": "file"}), false), json!({}));
    }

    #[test]
    fn refs_resolve_into_definitions_and_errors_carry_pointers() {
        let defs = json!({"Port": {"type": "integer", "format": "uint16"}});
        let body = json!({"type": "object", "properties": {"p": {"$ref": "#/definitions/Port"}}});
        let s = BodySchemas::compile(Some(&defs), &[&body], false).unwrap();
        assert!(s.validate(0, &json!({"p": 80})).is_empty());
        let errs = s.validate(0, &json!({"p": 70000}));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].starts_with("body /p: "), "{errs:?}");
        let root = s.validate(0, &json!([]));
        assert!(root[0].starts_with("body (root): "), "{root:?}");
    }

    #[test]
    fn enum_errors_list_every_allowed_value() {
        let body = json!({"enum": [0, 1, 2, 3, 4, 5, 6]});
        let s = BodySchemas::compile(None, &[&body], false).unwrap();
        let errs = s.validate(0, &json!(9));
        assert_eq!(errs, vec!["body (root): 9 is not one of [0,1,2,3,4,5,6]"]);
        let root = s.validate(0, &json!(9));
        assert!(root[0].starts_with("body (root): "), "{root:?}");
    }

    #[test]
    fn dangling_refs_fail_at_load() {
        let body = json!({"$ref": "#/definitions/Missing"});
        assert!(matches!(
            BodySchemas::compile(None, &[&body], false),
            Err(SpecError::Schema(_))
        ));
    }

    #[test]
    fn synthetic_names_avoid_real_definitions() {
        let defs = json!({"swagger-check-body-0": {"type": "string"}});
        let body = json!({"type": "integer"});
        let s = BodySchemas::compile(Some(&defs), &[&body], false).unwrap();
        assert!(s.validate(0, &json!(3)).is_empty());
    }
}
