//! Renders the effective configuration as TOML for `check-config`.
//!
//! The config is flat (sections of scalars and string lists), and JSON's encoding of
//! strings, numbers, booleans and string arrays is also valid TOML, so going through
//! `serde_json::Value` gives correct TOML without another dependency. Secrets serialize
//! as `***` (see [`super::secret::Secret`]); unset options become comments because TOML
//! has no null.

use super::Config;

/// Section order of the output (the order of the sample file).
const SECTIONS: [&str; 8] = [
    "health_monitoring",
    "loxilb",
    "octavia",
    "ingress",
    "database",
    "cluster",
    "logging",
    "metrics",
];

pub(crate) fn render(config: &Config) -> String {
    let value = match serde_json::to_value(config) {
        Ok(v) => v,
        Err(e) => return format!("# cannot render the configuration: {e}\n"),
    };
    let mut out = String::new();
    for section in SECTIONS {
        let Some(serde_json::Value::Object(fields)) = value.get(section) else {
            continue;
        };
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("[{section}]\n"));
        for (key, v) in fields {
            match v {
                serde_json::Value::Null => out.push_str(&format!("# {key} is not set\n")),
                other => out.push_str(&format!("{key} = {other}\n")),
            }
        }
    }
    out
}
