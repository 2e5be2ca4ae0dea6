//! Health monitor `expected_codes`: Octavia's "200", "200,202" or "200-204".
//!
//! Parsed once at ingress so later stages (probe mapping, status checks) work
//! on numbers, and so a malformed value is refused before it is journalled.
//! We accept a comma-separated list whose items are single codes or ranges
//! (a superset of Octavia's grammar, which never mixes the two); whitespace
//! around commas is tolerated as Octavia does. `Display` gives the canonical
//! text without spaces.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Lowest and highest HTTP status codes Octavia accepts.
pub const MIN_CODE: u16 = 100;
pub const MAX_CODE: u16 = 599;
/// Octavia stores expected_codes in a 64-character column.
pub const MAX_TEXT_LEN: usize = 64;

/// One item of the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeSpec {
    Single(u16),
    /// Inclusive range, `lo <= hi`.
    Range(u16, u16),
}

impl CodeSpec {
    fn contains(self, code: u16) -> bool {
        match self {
            CodeSpec::Single(c) => c == code,
            CodeSpec::Range(lo, hi) => (lo..=hi).contains(&code),
        }
    }
}

/// A parsed, non-empty `expected_codes` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedCodes(Vec<CodeSpec>);

impl ExpectedCodes {
    /// The items in input order.
    pub fn items(&self) -> &[CodeSpec] {
        &self.0
    }

    /// Whether an HTTP status code counts as healthy.
    pub fn contains(&self, code: u16) -> bool {
        self.0.iter().any(|s| s.contains(code))
    }
}

/// Why a text is not a valid `expected_codes`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExpectedCodesError(String);

fn parse_code(text: &str) -> Result<u16, ExpectedCodesError> {
    if text.len() != 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ExpectedCodesError(format!(
            "{text:?} is not a three-digit HTTP status code"
        )));
    }
    let code: u16 = text
        .parse()
        .map_err(|_| ExpectedCodesError(format!("{text:?} is not a number")))?;
    if !(MIN_CODE..=MAX_CODE).contains(&code) {
        return Err(ExpectedCodesError(format!(
            "{code} is outside {MIN_CODE}..={MAX_CODE}"
        )));
    }
    Ok(code)
}

fn parse_item(item: &str) -> Result<CodeSpec, ExpectedCodesError> {
    match item.split_once('-') {
        None => parse_code(item).map(CodeSpec::Single),
        Some((lo, hi)) => {
            let (lo, hi) = (parse_code(lo)?, parse_code(hi)?);
            if lo > hi {
                return Err(ExpectedCodesError(format!("range {lo}-{hi} is reversed")));
            }
            Ok(CodeSpec::Range(lo, hi))
        }
    }
}

impl FromStr for ExpectedCodes {
    type Err = ExpectedCodesError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > MAX_TEXT_LEN {
            return Err(ExpectedCodesError(format!(
                "longer than {MAX_TEXT_LEN} characters"
            )));
        }
        if s.trim().is_empty() {
            return Err(ExpectedCodesError("empty".into()));
        }
        s.split(',')
            .map(|item| parse_item(item.trim()))
            .collect::<Result<Vec<_>, _>>()
            .map(ExpectedCodes)
    }
}

impl fmt::Display for ExpectedCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, spec) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match spec {
                CodeSpec::Single(c) => write!(f, "{c}")?,
                CodeSpec::Range(lo, hi) => write!(f, "{lo}-{hi}")?,
            }
        }
        Ok(())
    }
}

impl Serialize for ExpectedCodes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ExpectedCodes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ExpectedCodes, ExpectedCodesError> {
        s.parse()
    }

    #[test]
    fn octavia_forms_parse_and_print_canonically() {
        for text in ["200", "200,202", "200-204", "100", "599"] {
            assert_eq!(parse(text).map(|c| c.to_string()), Ok(text.to_owned()));
        }
        assert_eq!(
            parse("200 , 202").map(|c| c.to_string()),
            Ok("200,202".into())
        );
        assert_eq!(
            parse("200,300-302").map(|c| c.items().to_vec()),
            Ok(vec![CodeSpec::Single(200), CodeSpec::Range(300, 302)])
        );
    }

    #[test]
    fn contains_checks_singles_and_ranges() {
        let codes = parse("200-204,301").unwrap_or(ExpectedCodes(vec![]));
        assert!(codes.contains(200) && codes.contains(204) && codes.contains(301));
        assert!(!codes.contains(205) && !codes.contains(300));
    }

    #[test]
    fn malformed_values_are_rejected() {
        for bad in [
            "",
            " ",
            "20",
            "2000",
            "099",
            "600",
            "abc",
            "200,",
            ",200",
            "204-200",
            "200-",
            "-200",
            "200--204",
            "2 00",
            "+20",
            "200-300-400",
            "２００",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(parse(&"200,".repeat(20)).is_err());
    }

    #[test]
    fn serde_uses_the_text_form() {
        let codes: Result<ExpectedCodes, _> = serde_json::from_str("\"200-204\"");
        assert_eq!(
            codes.as_ref().map(|c| c.items().to_vec()).ok(),
            Some(vec![CodeSpec::Range(200, 204)])
        );
        let text = codes.ok().and_then(|c| serde_json::to_string(&c).ok());
        assert_eq!(text.as_deref(), Some("\"200-204\""));
        assert!(serde_json::from_str::<ExpectedCodes>("200").is_err());
    }
}
