//! Checks recorded HTTP requests against a Swagger 2.0 API description.
//!
//! The end-to-end tests of loxilb-coordinator must show that every request the daemon
//! sends to LoxiLB is one LoxiLB documents. The LoxiLB simulator records each request as
//! method, full path, query string and JSON body; [`SwaggerSpec::validate_request`] says
//! whether that request matches an operation of LoxiLB's API description and lists every
//! way in which it does not. The part of that description the checks use is kept in this
//! crate ([`LOXILB_SUBSET`], written by `subset.py`), so the tests read only what the
//! repository holds.
//!
//! What is checked: the path (under `basePath`) matches a path template with that method,
//! preferring literal segments to `{param}` ones; path and query parameters parse as their
//! documented primitive types and lie in their `enum`; no undocumented query parameter is
//! present and every required one is; the JSON body validates (draft-4 JSON Schema, with
//! `#/definitions/...` references resolved) against the operation's body schema.
//! Headers and form parameters are not checked.

mod error;
mod formats;
mod operations;
mod params;
mod request;
mod router;
mod schema;
mod yaml;

use std::path::Path;

use serde_json::Value;

pub use error::SpecError;

use operations::Operation;
use schema::BodySchemas;

/// LoxiLB's API description as far as the daemon's requests go (paths, methods,
/// parameters, schemas; no prose): `loxilb-swagger-subset.yml` beside this crate's
/// manifest. Its header names the LoxiLB commit it comes from and the license.
pub const LOXILB_SUBSET: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/loxilb-swagger-subset.yml");

/// Choices made when loading a description.
#[derive(Debug, Clone, Copy, Default)]
pub struct SpecOptions {
    /// Reject body properties that the schema does not list (for every object schema that
    /// has `properties` and no `additionalProperties` of its own). Swagger allows them,
    /// but LoxiLB's Go server silently drops unknown fields, so a misspelt field (say
    /// `probeport` on an EndPoint, which spells it `probePort`) is a bug worth catching.
    pub deny_unknown_properties: bool,
}

/// A parsed Swagger 2.0 document, ready to validate requests. Parse once, share freely
/// (it is `Send + Sync`).
#[derive(Debug)]
pub struct SwaggerSpec {
    base_path: String,
    operations: Vec<Operation>,
    bodies: BodySchemas,
}

impl SwaggerSpec {
    /// Reads and parses the YAML (or JSON) file at `path` with default options.
    pub fn load(path: &Path) -> Result<SwaggerSpec, SpecError> {
        Self::load_with(path, SpecOptions::default())
    }

    /// Reads and parses the file at `path`.
    pub fn load_with(path: &Path, options: SpecOptions) -> Result<SwaggerSpec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Io {
            path: path.to_owned(),
            source,
        })?;
        Self::from_yaml_str_with(&text, options)
    }

    /// Parses a Swagger document given as YAML (or JSON) text with default options.
    pub fn from_yaml_str(s: &str) -> Result<SwaggerSpec, SpecError> {
        Self::from_yaml_str_with(s, SpecOptions::default())
    }

    /// Parses a Swagger document given as YAML (or JSON) text.
    pub fn from_yaml_str_with(s: &str, options: SpecOptions) -> Result<SwaggerSpec, SpecError> {
        let doc = yaml::parse(s)?;
        if doc.get("swagger").and_then(Value::as_str) != Some("2.0") {
            return Err(SpecError::Structure(
                "`swagger: '2.0'` is missing".to_owned(),
            ));
        }
        let base_path = match doc.get("basePath") {
            None => String::new(),
            Some(Value::String(b)) => b.trim_end_matches('/').to_owned(),
            Some(_) => return Err(SpecError::Structure("`basePath` is not text".to_owned())),
        };
        let mut body_schemas = Vec::new();
        let operations = operations::read(&doc, &mut body_schemas)?;
        let bodies = BodySchemas::compile(
            doc.get("definitions"),
            &body_schemas,
            options.deny_unknown_properties,
        )?;
        Ok(SwaggerSpec {
            base_path,
            operations,
            bodies,
        })
    }

    /// Ok when the request matches a documented operation (method + path template under
    /// `basePath`), its path parameters have the documented types, its query parameters
    /// are documented, and its JSON body validates against the operation's body schema.
    /// `Err` lists every problem found; body problems name a JSON pointer into the body.
    ///
    /// `path` is the full path including `basePath`, still percent-encoded; `query` is the
    /// raw query string without `?` (a `?` inside `path` is split off when `query` is None).
    pub fn validate_request(
        &self,
        method: &str,
        path: &str,
        query: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(), Vec<String>> {
        request::validate(self, method, path, query, body)
    }
}

#[cfg(test)]
mod tests;
