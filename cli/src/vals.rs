//! Values on the command line: parsing `--invoke` arguments by parameter
//! type, and printing results the way `wasmtime run --invoke` does.

use wrun_runtime::{Val, ValType};

/// Parses one argument as a value of type `ty`.
///
/// Integers are decimal or `0x` hex, optionally negative, and may use the
/// full unsigned range (`4294967295` is the i32 `-1`). Floats are decimal,
/// `nan` or `inf` (optionally signed). Reference parameters take `null`.
pub fn parse(text: &str, ty: ValType) -> Result<Val, String> {
    let bad = || format!("`{text}` is not a valid {ty}");
    match ty {
        ValType::I32 => {
            let n = parse_int(text).ok_or_else(bad)?;
            if n < i128::from(i32::MIN) || n > i128::from(u32::MAX) {
                return Err(format!("`{text}` does not fit in an i32"));
            }
            Ok(Val::I32(n as u32 as i32))
        }
        ValType::I64 => {
            let n = parse_int(text).ok_or_else(bad)?;
            if n < i128::from(i64::MIN) || n > i128::from(u64::MAX) {
                return Err(format!("`{text}` does not fit in an i64"));
            }
            Ok(Val::I64(n as u64 as i64))
        }
        ValType::F32 => text
            .parse::<f32>()
            .map(|f| Val::F32(f.to_bits()))
            .map_err(|_| bad()),
        ValType::F64 => text
            .parse::<f64>()
            .map(|f| Val::F64(f.to_bits()))
            .map_err(|_| bad()),
        ValType::Ref(r) if r.nullable && text == "null" => Ok(Val::null_of(r)),
        ValType::Ref(_) => Err(format!(
            "`{text}`: only `null` can be passed for a {ty} parameter"
        )),
        // The 128 bits as one unsigned number, lane 0 in the low bits.
        ValType::V128 => match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            Some(hex) => u128::from_str_radix(hex, 16),
            None => text.parse::<u128>(),
        }
        .map(Val::V128)
        .map_err(|_| bad()),
    }
}

/// A signed decimal or `0x` hexadecimal integer, widened so that range
/// checks happen in one place.
fn parse_int(text: &str) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let magnitude = match digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<u64>().ok()?,
    };
    // A leading sign inside the digits ("--5", "-+5") was rejected by the
    // unsigned parse above.
    let n = i128::from(magnitude);
    Some(if negative { -n } else { n })
}

/// Formats a result as `wasmtime run --invoke` prints it: integers signed in
/// decimal, floats through Rust's shortest round-trip `Display` (`1.5`,
/// `NaN`, `inf`), references as placeholders.
pub fn format(v: &Val) -> String {
    match v {
        Val::I32(x) => x.to_string(),
        Val::I64(x) => x.to_string(),
        Val::F32(bits) => f32::from_bits(*bits).to_string(),
        Val::F64(bits) => f64::from_bits(*bits).to_string(),
        Val::V128(x) => x.to_string(),
        Val::FuncRef(None) => "<null funcref>".into(),
        Val::FuncRef(Some(_)) => "<funcref>".into(),
        Val::ExternRef(None) => "<null externref>".into(),
        Val::ExternRef(Some(_)) => "<externref>".into(),
        Val::ExnRef(None) => "<null exnref>".into(),
        Val::ExnRef(Some(_)) => "<exnref>".into(),
        Val::AnyRef(None) => "<null anyref>".into(),
        Val::AnyRef(Some(_)) => "<anyref>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers() {
        assert_eq!(parse("42", ValType::I32), Ok(Val::I32(42)));
        assert_eq!(parse("-7", ValType::I32), Ok(Val::I32(-7)));
        assert_eq!(parse("0xff", ValType::I32), Ok(Val::I32(255)));
        assert_eq!(parse("0xFFFFFFFF", ValType::I32), Ok(Val::I32(-1)));
        assert_eq!(parse("4294967295", ValType::I32), Ok(Val::I32(-1)));
        assert_eq!(parse("-0x10", ValType::I64), Ok(Val::I64(-16)));
        assert_eq!(
            parse("18446744073709551615", ValType::I64),
            Ok(Val::I64(-1))
        );
        assert!(parse("4294967296", ValType::I32).is_err());
        assert!(parse("-2147483649", ValType::I32).is_err());
        assert!(parse("12abc", ValType::I32).is_err());
        assert!(parse("--5", ValType::I32).is_err());
        assert!(parse("", ValType::I64).is_err());
    }

    #[test]
    fn v128_as_one_number() {
        assert_eq!(parse("0x10", ValType::V128), Ok(Val::V128(16)));
        assert_eq!(parse("7", ValType::V128), Ok(Val::V128(7)));
        assert_eq!(
            parse("0xffffffffffffffffffffffffffffffff", ValType::V128),
            Ok(Val::V128(u128::MAX))
        );
        assert!(parse("-1", ValType::V128).is_err());
    }

    #[test]
    fn floats() {
        assert_eq!(parse("1.5", ValType::F32), Ok(Val::F32(1.5f32.to_bits())));
        assert_eq!(
            parse("-inf", ValType::F64),
            Ok(Val::F64(f64::NEG_INFINITY.to_bits()))
        );
        assert!(
            matches!(parse("nan", ValType::F32), Ok(Val::F32(b)) if f32::from_bits(b).is_nan())
        );
        assert!(parse("one", ValType::F64).is_err());
    }

    #[test]
    fn references() {
        assert_eq!(parse("null", ValType::FUNCREF), Ok(Val::FuncRef(None)));
        assert_eq!(parse("null", ValType::EXTERNREF), Ok(Val::ExternRef(None)));
        assert!(parse("3", ValType::EXTERNREF).is_err());
    }

    #[test]
    fn formatting_matches_wasmtime() {
        assert_eq!(format(&Val::I32(-1)), "-1");
        assert_eq!(format(&Val::I64(i64::MIN)), "-9223372036854775808");
        assert_eq!(format(&Val::F32(2.5f32.to_bits())), "2.5");
        assert_eq!(format(&Val::F64(3.0f64.to_bits())), "3");
        assert_eq!(format(&Val::F64(f64::NAN.to_bits())), "NaN");
        assert_eq!(format(&Val::F32(f32::INFINITY.to_bits())), "inf");
        assert_eq!(format(&Val::FuncRef(None)), "<null funcref>");
    }
}
