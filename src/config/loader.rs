//! Turns a file plus environment variables into a [`Config`], with the `config` crate.
//!
//! Order: built-in defaults, then the file, then the environment (env wins). Before
//! merging, every key is checked against the keys the [`Config`] structs actually have,
//! so a typo fails loudly instead of silently leaving a default in force. Policy for
//! unknown *sections*: rejected in TOML (the file is ours) and in the environment (the
//! prefix is ours); ignored in INI, because operators may point us at a larger shared INI
//! file that also configures other services.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use ::config::{Environment, FileFormat, Map, Source, Value, ValueKind};

use super::error::ConfigError;
use super::Config;

/// Environment variables `LOXILB_COORDINATOR__<SECTION>__<KEY>` override the file.
pub const ENV_PREFIX: &str = "LOXILB_COORDINATOR";
const ENV_SEPARATOR: &str = "__";

/// File formats we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Toml,
    Ini,
}

impl Format {
    /// `.toml`, or `.ini` / `.conf` / `.cfg` (the usual names of INI files on OpenStack hosts).
    pub(crate) fn from_path(path: &Path) -> Result<Format, ConfigError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("toml") => Ok(Format::Toml),
            Some("ini" | "conf" | "cfg") => Ok(Format::Ini),
            _ => Err(ConfigError::UnsupportedFormat {
                path: path.to_owned(),
            }),
        }
    }
}

/// The text of a configuration file and where it came from (for messages).
pub(crate) struct FileText<'a> {
    pub text: &'a str,
    pub format: Format,
    pub origin: String,
}

/// A ready map handed to the `config` builder as a source.
#[derive(Debug, Clone)]
struct MapSource(Map<String, Value>);

impl Source for MapSource {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }
    fn collect(&self) -> Result<Map<String, Value>, ::config::ConfigError> {
        Ok(self.0.clone())
    }
}

/// section -> keys, taken from the serialized defaults so it can never drift from the structs.
fn known_keys() -> Result<BTreeMap<String, BTreeSet<String>>, ConfigError> {
    let value =
        serde_json::to_value(Config::default()).map_err(|e| ConfigError::Other(e.to_string()))?;
    let mut out = BTreeMap::new();
    if let serde_json::Value::Object(sections) = value {
        for (section, fields) in sections {
            let keys = match fields {
                serde_json::Value::Object(f) => f.keys().cloned().collect(),
                _ => BTreeSet::new(),
            };
            out.insert(section, keys);
        }
    }
    Ok(out)
}

fn list<'a>(items: impl IntoIterator<Item = &'a String>) -> String {
    items
        .into_iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses the file and applies the key policy; returns the sections to merge.
fn file_sections(
    file: &FileText<'_>,
    known: &BTreeMap<String, BTreeSet<String>>,
) -> Result<Map<String, Value>, ConfigError> {
    let format = match file.format {
        Format::Toml => FileFormat::Toml,
        Format::Ini => FileFormat::Ini,
    };
    let parsed = ::config::File::from_str(file.text, format)
        .collect()
        .map_err(|e| ConfigError::Parse {
            origin: file.origin.clone(),
            message: e.to_string(),
        })?;
    let mut names: Vec<&String> = parsed.keys().collect();
    names.sort();
    let mut out = Map::new();
    for name in names {
        let Some(value) = parsed.get(name) else {
            continue;
        };
        let Some(fields) = known.get(name) else {
            if file.format == Format::Ini {
                continue; // someone else's section (or a key outside any section)
            }
            return Err(match value.kind {
                ValueKind::Table(_) => ConfigError::UnknownSection {
                    section: name.clone(),
                    origin: file.origin.clone(),
                    known: list(known.keys()),
                },
                _ => ConfigError::UnknownKey {
                    key: name.clone(),
                    origin: file.origin.clone(),
                    known: format!("top level holds only the sections {}", list(known.keys())),
                },
            });
        };
        let ValueKind::Table(table) = &value.kind else {
            return Err(ConfigError::WrongType {
                key: name.clone(),
                origin: file.origin.clone(),
                message: format!("expected a section [{name}], found a plain value"),
            });
        };
        let mut keys: Vec<&String> = table.keys().collect();
        keys.sort();
        if let Some(bad) = keys.into_iter().find(|k| !fields.contains(*k)) {
            return Err(ConfigError::UnknownKey {
                key: format!("{name}.{bad}"),
                origin: file.origin.clone(),
                known: list(fields),
            });
        }
        out.insert(name.clone(), value.clone());
    }
    Ok(out)
}

/// The variable name an environment key (`section.key`) came from.
fn env_var_name(key: &str) -> String {
    format!(
        "{ENV_PREFIX}{ENV_SEPARATOR}{}",
        key.replace('.', ENV_SEPARATOR).to_ascii_uppercase()
    )
}

/// Collects our environment variables as flat `section.key` entries and checks them.
fn env_entries(
    env: HashMap<String, String>,
    known: &BTreeMap<String, BTreeSet<String>>,
) -> Result<Map<String, Value>, ConfigError> {
    let entries = Environment::with_prefix(ENV_PREFIX)
        .prefix_separator(ENV_SEPARATOR)
        .separator(ENV_SEPARATOR)
        .source(Some(env.into_iter().collect()))
        .collect()
        .map_err(|e| ConfigError::Other(e.to_string()))?;
    let mut keys: Vec<&String> = entries.keys().collect();
    keys.sort();
    for key in keys {
        let name = env_var_name(key);
        let mut parts = key.split('.');
        let (Some(section), Some(field), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(ConfigError::Environment {
                name,
                reason: format!("expected {ENV_PREFIX}__<SECTION>__<KEY>"),
            });
        };
        let Some(fields) = known.get(section) else {
            return Err(ConfigError::UnknownSection {
                section: section.to_owned(),
                origin: format!("environment variable {name}"),
                known: list(known.keys()),
            });
        };
        if !fields.contains(field) {
            return Err(ConfigError::UnknownKey {
                key: key.clone(),
                origin: format!("environment variable {name}"),
                known: list(fields),
            });
        }
    }
    Ok(entries)
}

/// Maps a deserialization error of the merged tree to one naming key and source.
fn type_error(
    e: ::config::ConfigError,
    env: &Map<String, Value>,
    file_origin: Option<&str>,
) -> ConfigError {
    let (key, message) = match e {
        ::config::ConfigError::Type {
            unexpected,
            expected,
            key,
            ..
        } => (
            key.unwrap_or_default(),
            format!("invalid type: {unexpected}, expected {expected}"),
        ),
        ::config::ConfigError::At { error, key, .. } => {
            (key.unwrap_or_default(), error.to_string())
        }
        other => return ConfigError::Other(other.to_string()),
    };
    // `loxilb.nodes[1]` came from the same place as `loxilb.nodes`.
    let base = key.split('[').next().unwrap_or_default();
    let origin = if env.contains_key(base) {
        format!("environment variable {}", env_var_name(base))
    } else {
        file_origin.unwrap_or("the configuration").to_owned()
    };
    ConfigError::WrongType {
        key,
        origin,
        message,
    }
}

/// Defaults, then `file`, then `env`; then [`Config::validate`].
pub(crate) fn load(
    file: Option<FileText<'_>>,
    env: HashMap<String, String>,
) -> Result<Config, ConfigError> {
    let known = known_keys()?;
    let mut builder = ::config::Config::builder();
    if let Some(file) = &file {
        builder = builder.add_source(MapSource(file_sections(file, &known)?));
    }
    let env_map = env_entries(env, &known)?;
    builder = builder.add_source(MapSource(env_map.clone()));
    let merged = builder
        .build()
        .map_err(|e| ConfigError::Other(e.to_string()))?;
    let config: Config = merged
        .try_deserialize()
        .map_err(|e| type_error(e, &env_map, file.as_ref().map(|f| f.origin.as_str())))?;
    config.validate()?;
    Ok(config)
}

/// Reads `path` and loads it with [`load`].
pub(crate) fn load_path(
    path: Option<&Path>,
    env: HashMap<String, String>,
) -> Result<Config, ConfigError> {
    let Some(path) = path else {
        return load(None, env);
    };
    let format = Format::from_path(path)?;
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    load(
        Some(FileText {
            text: &text,
            format,
            origin: path.display().to_string(),
        }),
        env,
    )
}

/// Our variables from the process environment. A non-Unicode value of one of *our*
/// variables is an error; other variables are none of our business.
pub(crate) fn process_env() -> Result<HashMap<String, String>, ConfigError> {
    let prefix = format!("{ENV_PREFIX}{ENV_SEPARATOR}");
    let mut out = HashMap::new();
    for (k, v) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if !k.to_ascii_uppercase().starts_with(&prefix) {
            continue;
        }
        let v = v.into_string().map_err(|_| ConfigError::Environment {
            name: k.to_owned(),
            reason: "value is not valid UTF-8".to_owned(),
        })?;
        out.insert(k.to_owned(), v);
    }
    Ok(out)
}
