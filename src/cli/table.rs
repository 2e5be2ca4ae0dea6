//! The one table renderer of the operator commands: rows of JSON objects become
//! aligned columns (comfy-table), every cell a single readable value.
//!
//! Cells never show JSON syntax: a list of scalars is comma-separated, a list of
//! objects is counted, an object becomes `key=value` pairs, null is `-`. The JSON
//! stays available unchanged with `--json`; the table is for people.

use comfy_table::{presets, Table};
use serde_json::Value;

/// One JSON value as a table cell (see the module docs).
pub fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        Value::Array(items) if items.is_empty() => "-".into(),
        Value::Array(items) if items.iter().all(|i| i.is_object()) => items.len().to_string(),
        Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
        Value::Object(fields) => fields
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| match v {
                Value::Object(_) => format!("{k}=({})", cell(v)),
                _ => format!("{k}={}", cell(v)),
            })
            .collect::<Vec<_>>()
            .join(" "),
        other => other.to_string(),
    }
}

/// Columns: `columns` when given, else the union of the rows' keys in first-seen
/// order (rows of one answer rarely differ, but nothing is dropped when they do).
pub fn columns(rows: &[Value]) -> Vec<String> {
    let mut cols: Vec<String> = Vec::new();
    for k in rows
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|o| o.keys())
    {
        if !cols.contains(k) {
            cols.push(k.clone());
        }
    }
    cols
}

/// Render `rows` under upper-case headers; `(none)` for no rows.
pub fn render(rows: &[Value], columns_wanted: Option<&[&str]>) -> String {
    if rows.is_empty() {
        return "  (none)".into();
    }
    let cols = match columns_wanted {
        Some(c) => c.iter().map(|s| (*s).to_string()).collect(),
        None => columns(rows),
    };
    let mut table = Table::new();
    table.load_preset(presets::NOTHING);
    table.set_header(cols.iter().map(|c| c.to_uppercase()));
    for r in rows {
        table.add_row(
            cols.iter()
                .map(|c| cell(r.get(c.as_str()).unwrap_or(&Value::Null))),
        );
    }
    table
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_never_show_json_syntax() {
        assert_eq!(cell(&json!([])), "-");
        assert_eq!(cell(&json!(["a", "b"])), "a, b");
        assert_eq!(cell(&json!([{"x": 1}, {"x": 2}])), "2");
        assert_eq!(cell(&json!({"ok": 2, "nok": 0})), "nok=0 ok=2");
        assert_eq!(cell(&json!(null)), "-");
        assert_eq!(cell(&json!(3)), "3");
    }

    #[test]
    fn rows_become_aligned_columns() {
        let out = render(
            &[
                json!({"id": "a", "keys": []}),
                json!({"id": "bb", "keys": ["k1", "k2"]}),
            ],
            None,
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert!(
            lines[0].contains("ID") && lines[0].contains("KEYS"),
            "{out}"
        );
        assert!(lines[2].contains("k1, k2"), "{out}");
        assert!(!out.contains("[]"), "{out}");
        assert_eq!(render(&[], None), "  (none)");
    }
}
