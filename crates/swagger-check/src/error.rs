//! Errors raised while loading a Swagger document.
//!
//! Request problems are not errors of this kind: `validate_request` returns them as plain
//! strings so a test can print every one of them at once.

use std::path::PathBuf;

/// Why a Swagger document could not be turned into a [`crate::SwaggerSpec`].
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The text is not YAML (or JSON, which is YAML too).
    #[error("not valid YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    /// The YAML holds something JSON cannot (a non-finite float, a non-scalar map key).
    #[error("YAML value at {at} has no JSON form: {why}")]
    NotJson { at: String, why: String },
    /// The document is YAML but not a Swagger 2.0 description this crate understands.
    #[error("not a usable Swagger 2.0 document: {0}")]
    Structure(String),
    /// A body schema could not be compiled as a JSON Schema (draft 4).
    #[error("body schemas do not compile as JSON Schema: {0}")]
    Schema(String),
}
