//! Non-body parameters (`in: path`, `in: query`) and the check of one raw string value.
//!
//! Swagger 2.0 gives these parameters a primitive `type` (plus optional `enum` and
//! `format`) instead of a schema. A server parses the text of the URL into that type, so
//! the check is "would a server accept this text": integers are optional `-` and digits
//! that fit the format's range, numbers follow JSON's number grammar, booleans are exactly
//! `true` or `false`.

use serde_json::Value;

use crate::error::SpecError;
use crate::formats::integer_bounds;

/// The primitive type a path or query parameter is declared with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ParamType {
    String,
    Integer,
    Number,
    Boolean,
    /// `array` or `file`: accepted as any text (the LoxiLB document uses neither in
    /// path or query parameters).
    Other,
}

/// One documented path or query parameter.
#[derive(Debug, Clone)]
pub(crate) struct ParamSpec {
    pub name: String,
    pub required: bool,
    pub kind: ParamType,
    pub format: Option<String>,
    pub allowed: Option<Vec<Value>>,
}

impl ParamSpec {
    /// Reads a parameter object (already known to be `in: path` or `in: query`).
    pub(crate) fn from_json(p: &Value, at: &str) -> Result<ParamSpec, SpecError> {
        let name = p
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| SpecError::Structure(format!("{at}: parameter without a name")))?;
        let kind = match p.get("type").and_then(Value::as_str) {
            Some("string") | None => ParamType::String,
            Some("integer") => ParamType::Integer,
            Some("number") => ParamType::Number,
            Some("boolean") => ParamType::Boolean,
            Some(_) => ParamType::Other,
        };
        let allowed = match p.get("enum") {
            None => None,
            Some(Value::Array(items)) => Some(items.clone()),
            Some(_) => {
                return Err(SpecError::Structure(format!(
                    "{at}: enum of parameter {name} is not a list"
                )))
            }
        };
        Ok(ParamSpec {
            name: name.to_owned(),
            required: p.get("required").and_then(Value::as_bool).unwrap_or(false),
            kind,
            format: p.get("format").and_then(Value::as_str).map(str::to_owned),
            allowed,
        })
    }

    /// Checks the decoded text of this parameter; `Err` explains the problem.
    pub(crate) fn check(&self, raw: &str) -> Result<(), String> {
        let typed = self.parse(raw)?;
        match &self.allowed {
            Some(allowed) if !allowed.iter().any(|a| same_value(a, &typed)) => Err(format!(
                "{:?} is not one of the allowed values {}",
                raw,
                Value::Array(allowed.clone())
            )),
            _ => Ok(()),
        }
    }

    fn parse(&self, raw: &str) -> Result<Value, String> {
        match self.kind {
            ParamType::String | ParamType::Other => Ok(Value::String(raw.to_owned())),
            ParamType::Integer => parse_integer(raw, self.format.as_deref()),
            ParamType::Number => parse_number(raw),
            ParamType::Boolean => match raw {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                _ => Err(format!("{raw:?} is not a boolean (true or false)")),
            },
        }
    }
}

fn parse_integer(raw: &str, format: Option<&str>) -> Result<Value, String> {
    let digits = raw.strip_prefix('-').unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{raw:?} is not an integer"));
    }
    let n: i128 = raw
        .parse()
        .map_err(|_| format!("{raw:?} is out of range for an integer"))?;
    let (lo, hi) = integer_bounds(format).unwrap_or((i64::MIN.into(), u64::MAX.into()));
    if n < lo || n > hi {
        return Err(format!("{raw} is outside {lo}..={hi}"));
    }
    Ok(i64::try_from(n)
        .map(Value::from)
        .or_else(|_| u64::try_from(n).map(Value::from))
        .unwrap_or(Value::Null))
}

fn parse_number(raw: &str) -> Result<Value, String> {
    if !is_json_number(raw) {
        return Err(format!("{raw:?} is not a number"));
    }
    raw.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| format!("{raw:?} is out of range for a number"))
}

/// JSON's number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`,
/// relaxed to allow leading zeros (servers parse `080` fine).
fn is_json_number(raw: &str) -> bool {
    let s = raw.strip_prefix('-').unwrap_or(raw);
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    all_digits(int)
        && frac.is_none_or(all_digits)
        && exponent.is_none_or(|e| all_digits(e.strip_prefix(['+', '-']).unwrap_or(e)))
}

/// Enum membership that treats `80`, `80.0` and `8e1` as the same number.
fn same_value(allowed: &Value, actual: &Value) -> bool {
    match (allowed, actual) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        // An enum written as strings for a numeric or boolean parameter.
        (Value::String(a), b) if !b.is_string() => {
            let shown = b.to_string();
            shown == *a
        }
        _ => allowed == actual,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: Value) -> ParamSpec {
        ParamSpec::from_json(&v, "test").unwrap()
    }

    #[test]
    fn integers_must_be_digits() {
        let p = spec(json!({"name": "port", "type": "integer"}));
        assert!(p.check("80").is_ok());
        assert!(p.check("-3").is_ok());
        for bad in ["", "-", "80.0", "8e1", "+80", " 80", "eighty", "0x50"] {
            assert!(p.check(bad).is_err(), "{bad:?} accepted");
        }
        assert!(p.check("99999999999999999999999999").is_err());
    }

    #[test]
    fn integer_formats_bound_the_value() {
        let p = spec(json!({"name": "p", "type": "integer", "format": "uint16"}));
        assert!(p.check("65535").is_ok());
        let err = p.check("65536").unwrap_err();
        assert!(err.contains("0..=65535"), "{err}");
        assert!(p.check("-1").is_err());
    }

    #[test]
    fn numbers_follow_json_grammar() {
        let p = spec(json!({"name": "port", "type": "number"}));
        for good in ["80", "80.5", "-1", "1e3", "1E-3", "080"] {
            assert!(p.check(good).is_ok(), "{good:?} rejected");
        }
        for bad in ["", "tcp", "NaN", "inf", "1.", ".5", "1e", "1e999", "--1"] {
            assert!(p.check(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn booleans_are_true_or_false() {
        let p = spec(json!({"name": "bgp", "type": "boolean"}));
        assert!(p.check("true").is_ok() && p.check("false").is_ok());
        assert!(p.check("yes").unwrap_err().contains("boolean"));
    }

    #[test]
    fn enums_are_enforced_per_type() {
        let s = spec(json!({"name": "proto", "type": "string", "enum": ["tcp", "udp"]}));
        assert!(s.check("udp").is_ok());
        assert!(s.check("foo").unwrap_err().contains("allowed values"));
        let n = spec(json!({"name": "sel", "type": "integer", "enum": [0, 1]}));
        assert!(n.check("1").is_ok());
        assert!(n.check("2").is_err());
        let f = spec(json!({"name": "w", "type": "number", "enum": [1]}));
        assert!(f.check("1.0").is_ok());
        let b = spec(json!({"name": "b", "type": "boolean", "enum": ["true"]}));
        assert!(b.check("true").is_ok() && b.check("false").is_err());
    }

    #[test]
    fn malformed_parameter_objects_are_spec_errors() {
        assert!(ParamSpec::from_json(&json!({"type": "string"}), "x").is_err());
        assert!(ParamSpec::from_json(&json!({"name": "a", "enum": 3}), "x").is_err());
    }
}
