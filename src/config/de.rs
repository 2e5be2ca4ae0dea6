//! Strict field deserializers.
//!
//! The `config` crate coerces freely (`true` becomes 1, `30.7` becomes 31, a number becomes
//! a string). INI files and environment variables only carry strings, so strings holding
//! numbers and booleans must be accepted, but anything beyond that is far more likely a
//! mistake than an intent, so these functions accept exactly: the native type, or a string
//! that spells it. Errors go through serde, and the `config` crate prefixes them with the
//! key path, which is how a wrong type ends up naming `section.key`.

use std::fmt::{self, Display};
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Deserializer, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Serializer};

/// A non-negative integer (or a string of decimal digits) that fits into `T`.
pub(crate) fn uint<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<u64>,
{
    struct V;
    impl Visitor<'_> for V {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative integer")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            u64::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            let t = v.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(E::invalid_type(Unexpected::Str(v), &self));
            }
            t.parse::<u64>()
                .map_err(|_| E::invalid_value(Unexpected::Str(v), &"an integer below 2^64"))
        }
    }
    let v = deserializer.deserialize_any(V)?;
    T::try_from(v).map_err(|_| {
        // The largest value `T` holds, found without a numeric-traits dependency.
        let max = [u64::MAX, u32::MAX.into(), u16::MAX.into(), u8::MAX.into()]
            .into_iter()
            .find(|m| T::try_from(*m).is_ok())
            .unwrap_or(0);
        de::Error::invalid_value(
            Unexpected::Unsigned(v),
            &format!("an integer between 0 and {max}").as_str(),
        )
    })
}

/// A boolean, or one of the strings true/false/yes/no/on/off (any case).
pub(crate) fn boolean<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a boolean (true or false)")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            match v.trim().to_ascii_lowercase().as_str() {
                "true" | "yes" | "on" => Ok(true),
                "false" | "no" | "off" => Ok(false),
                _ => Err(E::invalid_value(Unexpected::Str(v), &self)),
            }
        }
    }
    deserializer.deserialize_any(V)
}

struct StrVisitor;
impl Visitor<'_> for StrVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
}

/// A string; numbers and booleans are rejected rather than stringified.
pub(crate) fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    deserializer.deserialize_any(StrVisitor)
}

/// A string parsed with `FromStr`; the parse error is expected to say what is allowed.
pub(crate) fn parse<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    let s = string(deserializer)?;
    s.parse::<T>()
        .map_err(|e| de::Error::custom(format!("invalid value {s:?}: {e}")))
}

/// An optional value: absent, or an empty string (handy to unset something from the
/// environment), means `None`; anything else is parsed with `FromStr`.
pub(crate) fn opt_parse<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    struct V<T>(PhantomData<T>);
    impl<'de, T> Visitor<'de> for V<T>
    where
        T: FromStr,
        T::Err: Display,
    {
        type Value = Option<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            if v.trim().is_empty() {
                return Ok(None);
            }
            v.parse::<T>()
                .map(Some)
                .map_err(|e| E::custom(format!("invalid value {v:?}: {e}")))
        }
    }
    deserializer.deserialize_option(V(PhantomData))
}

/// A list of strings: a native array, or one comma-separated string (INI, environment).
pub(crate) fn string_list<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    struct Item(String);
    impl<'de> Deserialize<'de> for Item {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            string(d).map(Item)
        }
    }
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of strings or a comma-separated string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            if v.trim().is_empty() {
                return Ok(Vec::new());
            }
            Ok(v.split(',').map(|s| s.trim().to_owned()).collect())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(Item(s)) = seq.next_element()? {
                out.push(s);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(V)
}

/// A Unix file mode written as an octal string ("0660", "660" or "0o660"). A bare number
/// is refused: `660` in TOML is decimal, which is never what the operator meant.
pub(crate) fn octal_mode<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    const EXPECTED: &str = "an octal file mode in quotes, such as \"0660\"";
    struct V;
    impl Visitor<'_> for V {
        type Value = u32;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(EXPECTED)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u32, E> {
            let t = v.trim();
            let digits = t.strip_prefix("0o").unwrap_or(t);
            if digits.is_empty()
                || digits.len() > 6
                || !digits.bytes().all(|b| (b'0'..=b'7').contains(&b))
            {
                return Err(E::invalid_value(Unexpected::Str(v), &EXPECTED));
            }
            u32::from_str_radix(digits, 8)
                .map_err(|_| E::invalid_value(Unexpected::Str(v), &EXPECTED))
        }
    }
    deserializer.deserialize_any(V)
}

/// Writes a file mode back as the octal string `octal_mode` reads.
pub(crate) fn ser_octal_mode<S: Serializer>(mode: &u32, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format!("{mode:04o}"))
}

/// A finite non-negative number (integer or decimal), or a string that spells one.
pub(crate) fn number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = f64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative number")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
            // Exact for every value a setting can sensibly hold (below 2^53).
            Ok(v as f64)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
            if v < 0 {
                return Err(E::invalid_value(Unexpected::Signed(v), &self));
            }
            Ok(v as f64)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
            if !v.is_finite() || v < 0.0 {
                return Err(E::invalid_value(Unexpected::Float(v), &self));
            }
            Ok(v)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
            let t = v.trim();
            // Plain decimals only: no exponents, infinities or NaN spelled as text.
            let plain = !t.is_empty()
                && t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && t.bytes().filter(|b| *b == b'.').count() <= 1
                && t.bytes().any(|b| b.is_ascii_digit());
            if !plain {
                return Err(E::invalid_type(Unexpected::Str(v), &self));
            }
            t.parse::<f64>()
                .map_err(|_| E::invalid_type(Unexpected::Str(v), &self))
        }
    }
    deserializer.deserialize_any(V)
}
