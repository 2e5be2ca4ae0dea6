//! Swagger integer formats as numeric ranges.
//!
//! JSON Schema only checks `format` on strings, yet Swagger uses `format: uint16` etc. on
//! integers, and LoxiLB's Go server decodes such fields into fixed-width types that reject
//! out-of-range values. Turning the format into bounds makes the validator agree with it.

/// Inclusive bounds for a Swagger integer format; `None` for formats that do not bound.
pub(crate) fn integer_bounds(format: Option<&str>) -> Option<(i128, i128)> {
    let (lo, hi): (i128, i128) = match format? {
        "int8" => (i8::MIN.into(), i8::MAX.into()),
        "int16" => (i16::MIN.into(), i16::MAX.into()),
        "int32" => (i32::MIN.into(), i32::MAX.into()),
        "int64" => (i64::MIN.into(), i64::MAX.into()),
        "uint8" => (0, u8::MAX.into()),
        "uint16" => (0, u16::MAX.into()),
        "uint32" => (0, u32::MAX.into()),
        "uint64" => (0, u64::MAX.into()),
        _ => return None,
    };
    Some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_formats_have_bounds() {
        assert_eq!(integer_bounds(Some("uint16")), Some((0, 65535)));
        assert_eq!(
            integer_bounds(Some("int32")),
            Some((-2_147_483_648, 2_147_483_647))
        );
        assert_eq!(
            integer_bounds(Some("uint64")).map(|b| b.1),
            Some(u64::MAX.into())
        );
    }

    #[test]
    fn other_formats_do_not_bound() {
        assert_eq!(integer_bounds(Some("date-time")), None);
        assert_eq!(integer_bounds(None), None);
    }
}
