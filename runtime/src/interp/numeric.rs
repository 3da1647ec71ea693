//! Semantics of the numeric operators (Wasm 3.0 §4.3 numerics, §4.4.1).
//!
//! Cells hold i32/f32 in their low 32 bits; upper bits are ignored on read.
//! Float results keep Rust's (IEEE 754) NaN propagation, which yields the
//! arithmetic NaNs the spec allows; `abs`, `neg` and `copysign` are bit
//! operations so NaN payloads pass through unchanged (§4.3.3).

use super::code::NumOp;
use crate::error::TrapKind;

#[inline(always)]
fn f32_of(c: u64) -> f32 {
    f32::from_bits(c as u32)
}

#[inline(always)]
fn f64_of(c: u64) -> f64 {
    f64::from_bits(c)
}

#[inline(always)]
fn from_f32(x: f32) -> u64 {
    u64::from(x.to_bits())
}

#[inline(always)]
fn from_f64(x: f64) -> u64 {
    x.to_bits()
}

/// Rounding may hand a signalling NaN input back unchanged; the spec wants
/// an arithmetic NaN (quiet bit set) from every float operator (§4.3.3).
#[inline(always)]
pub(crate) fn quiet_f32(x: f32) -> f32 {
    if x.is_nan() {
        f32::from_bits(x.to_bits() | 0x0040_0000)
    } else {
        x
    }
}

#[inline(always)]
pub(crate) fn quiet_f64(x: f64) -> f64 {
    if x.is_nan() {
        f64::from_bits(x.to_bits() | 0x0008_0000_0000_0000)
    } else {
        x
    }
}

#[inline(always)]
fn b(x: bool) -> u64 {
    u64::from(x)
}

/// `fmin`: NaN if either is NaN; -0 below +0 (§4.3.3).
pub(crate) fn fmin<F: Float>(a: F, b: F) -> F {
    if a.is_nan() || b.is_nan() {
        return F::canonical_nan();
    }
    if a == b {
        // Equal values differ only for signed zeros: prefer the negative one.
        return if a.is_sign_negative() { a } else { b };
    }
    if a < b { a } else { b }
}

/// `fmax`: NaN if either is NaN; +0 above -0.
pub(crate) fn fmax<F: Float>(a: F, b: F) -> F {
    if a.is_nan() || b.is_nan() {
        return F::canonical_nan();
    }
    if a == b {
        return if a.is_sign_positive() { a } else { b };
    }
    if a > b { a } else { b }
}

pub(crate) trait Float: Copy + PartialOrd {
    fn is_nan(self) -> bool;
    fn is_sign_negative(self) -> bool;
    fn is_sign_positive(self) -> bool;
    fn canonical_nan() -> Self;
}

impl Float for f32 {
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    fn is_sign_negative(self) -> bool {
        f32::is_sign_negative(self)
    }
    fn is_sign_positive(self) -> bool {
        f32::is_sign_positive(self)
    }
    fn canonical_nan() -> f32 {
        f32::from_bits(0x7fc0_0000)
    }
}

impl Float for f64 {
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    fn is_sign_negative(self) -> bool {
        f64::is_sign_negative(self)
    }
    fn is_sign_positive(self) -> bool {
        f64::is_sign_positive(self)
    }
    fn canonical_nan() -> f64 {
        f64::from_bits(0x7ff8_0000_0000_0000)
    }
}

/// Checked truncation (`trunc_s`/`trunc_u`, §4.3.4): NaN and values whose
/// truncation falls outside `[lo, hi)` trap. Bounds are exact powers of two.
#[inline]
fn trunc_checked(x: f64, lo: f64, hi: f64) -> Result<f64, TrapKind> {
    if x.is_nan() {
        return Err(TrapKind::InvalidConversionToInteger);
    }
    let t = x.trunc();
    if t < lo || t >= hi {
        return Err(TrapKind::IntegerOverflow);
    }
    Ok(t)
}

const TWO_31: f64 = 2147483648.0;
const TWO_32: f64 = 4294967296.0;
const TWO_63: f64 = 9223372036854775808.0;
const TWO_64: f64 = 18446744073709551616.0;

/// A binary operator on two cells, for the specialised handlers: with
/// `op` a constant, inlining folds `exec`'s operator match away and the
/// cells stay in registers, so the semantics are written once.
#[inline(always)]
pub(crate) fn binary(op: NumOp, lhs: u64, rhs: u64) -> Result<u64, TrapKind> {
    let mut cells = [lhs, rhs];
    let mut sp = 2;
    // SAFETY: both operands are in `cells`.
    unsafe { exec(op, &mut cells, &mut sp)? };
    Ok(cells[0])
}

/// Executes a numeric operator on the top of `stack[..*sp]`.
///
/// # Safety
/// `*sp <= stack.len()` and the operator's operands are on the stack:
/// `*sp >= 2` for binary operators, `*sp >= 1` for unary ones. Validated
/// code run by the dispatch loop guarantees both.
#[inline(always)]
pub(crate) unsafe fn exec(op: NumOp, stack: &mut [u64], sp: &mut usize) -> Result<(), TrapKind> {
    use NumOp as N;
    debug_assert!(*sp <= stack.len() && *sp >= 1);
    // SAFETY: the function's precondition bounds every index below.
    macro_rules! at {
        ($i:expr) => {
            unsafe { *stack.get_unchecked($i) }
        };
    }
    macro_rules! put {
        ($i:expr, $v:expr) => {{
            let v = $v;
            unsafe { *stack.get_unchecked_mut($i) = v }
        }};
    }
    macro_rules! un {
        ($f:expr) => {{
            let a = at!(*sp - 1);
            put!(*sp - 1, $f(a));
        }};
    }
    macro_rules! bin {
        ($f:expr) => {{
            debug_assert!(*sp >= 2);
            let rhs = at!(*sp - 1);
            let lhs = at!(*sp - 2);
            put!(*sp - 2, $f(lhs, rhs));
            *sp -= 1;
        }};
    }
    macro_rules! bin_trap {
        ($f:expr) => {{
            debug_assert!(*sp >= 2);
            let rhs = at!(*sp - 1);
            let lhs = at!(*sp - 2);
            put!(*sp - 2, $f(lhs, rhs)?);
            *sp -= 1;
        }};
    }
    macro_rules! un_trap {
        ($f:expr) => {{
            let a = at!(*sp - 1);
            put!(*sp - 1, $f(a)?);
        }};
    }
    let i32_ = |c: u64| c as u32 as i32;
    let u32_ = |c: u64| c as u32;
    let i32c = |x: i32| x as u32 as u64;
    let u32c = |x: u32| x as u64;
    match op {
        N::I32Eqz => un!(|a| b(u32_(a) == 0)),
        N::I32Eq => bin!(|a, c| b(u32_(a) == u32_(c))),
        N::I32Ne => bin!(|a, c| b(u32_(a) != u32_(c))),
        N::I32LtS => bin!(|a, c| b(i32_(a) < i32_(c))),
        N::I32LtU => bin!(|a, c| b(u32_(a) < u32_(c))),
        N::I32GtS => bin!(|a, c| b(i32_(a) > i32_(c))),
        N::I32GtU => bin!(|a, c| b(u32_(a) > u32_(c))),
        N::I32LeS => bin!(|a, c| b(i32_(a) <= i32_(c))),
        N::I32LeU => bin!(|a, c| b(u32_(a) <= u32_(c))),
        N::I32GeS => bin!(|a, c| b(i32_(a) >= i32_(c))),
        N::I32GeU => bin!(|a, c| b(u32_(a) >= u32_(c))),
        N::I64Eqz => un!(|a| b(a == 0)),
        N::I64Eq => bin!(|a, c| b(a == c)),
        N::I64Ne => bin!(|a, c| b(a != c)),
        N::I64LtS => bin!(|a: u64, c: u64| b((a as i64) < (c as i64))),
        N::I64LtU => bin!(|a, c| b(a < c)),
        N::I64GtS => bin!(|a: u64, c: u64| b((a as i64) > (c as i64))),
        N::I64GtU => bin!(|a, c| b(a > c)),
        N::I64LeS => bin!(|a: u64, c: u64| b((a as i64) <= (c as i64))),
        N::I64LeU => bin!(|a, c| b(a <= c)),
        N::I64GeS => bin!(|a: u64, c: u64| b((a as i64) >= (c as i64))),
        N::I64GeU => bin!(|a, c| b(a >= c)),
        N::F32Eq => bin!(|a, c| b(f32_of(a) == f32_of(c))),
        N::F32Ne => bin!(|a, c| b(f32_of(a) != f32_of(c))),
        N::F32Lt => bin!(|a, c| b(f32_of(a) < f32_of(c))),
        N::F32Gt => bin!(|a, c| b(f32_of(a) > f32_of(c))),
        N::F32Le => bin!(|a, c| b(f32_of(a) <= f32_of(c))),
        N::F32Ge => bin!(|a, c| b(f32_of(a) >= f32_of(c))),
        N::F64Eq => bin!(|a, c| b(f64_of(a) == f64_of(c))),
        N::F64Ne => bin!(|a, c| b(f64_of(a) != f64_of(c))),
        N::F64Lt => bin!(|a, c| b(f64_of(a) < f64_of(c))),
        N::F64Gt => bin!(|a, c| b(f64_of(a) > f64_of(c))),
        N::F64Le => bin!(|a, c| b(f64_of(a) <= f64_of(c))),
        N::F64Ge => bin!(|a, c| b(f64_of(a) >= f64_of(c))),
        N::I32Clz => un!(|a| u32c(u32_(a).leading_zeros())),
        N::I32Ctz => un!(|a| u32c(u32_(a).trailing_zeros())),
        N::I32Popcnt => un!(|a| u32c(u32_(a).count_ones())),
        N::I32Add => bin!(|a, c| u32c(u32_(a).wrapping_add(u32_(c)))),
        N::I32Sub => bin!(|a, c| u32c(u32_(a).wrapping_sub(u32_(c)))),
        N::I32Mul => bin!(|a, c| u32c(u32_(a).wrapping_mul(u32_(c)))),
        N::I32DivS => bin_trap!(|a, c| {
            let (a, c) = (i32_(a), i32_(c));
            if c == 0 {
                Err(TrapKind::IntegerDivideByZero)
            } else if a == i32::MIN && c == -1 {
                Err(TrapKind::IntegerOverflow)
            } else {
                Ok(i32c(a / c))
            }
        }),
        N::I32DivU => bin_trap!(|a, c| {
            u32_(a)
                .checked_div(u32_(c))
                .map(u32c)
                .ok_or(TrapKind::IntegerDivideByZero)
        }),
        N::I32RemS => bin_trap!(|a, c| {
            let (a, c) = (i32_(a), i32_(c));
            if c == 0 {
                Err(TrapKind::IntegerDivideByZero)
            } else {
                Ok(i32c(a.wrapping_rem(c)))
            }
        }),
        N::I32RemU => bin_trap!(|a, c| {
            let (a, c) = (u32_(a), u32_(c));
            if c == 0 {
                Err(TrapKind::IntegerDivideByZero)
            } else {
                Ok(u32c(a % c))
            }
        }),
        N::I32And => bin!(|a, c| u32c(u32_(a) & u32_(c))),
        N::I32Or => bin!(|a, c| u32c(u32_(a) | u32_(c))),
        N::I32Xor => bin!(|a, c| u32c(u32_(a) ^ u32_(c))),
        N::I32Shl => bin!(|a, c| u32c(u32_(a).wrapping_shl(u32_(c)))),
        N::I32ShrS => bin!(|a, c| i32c(i32_(a).wrapping_shr(u32_(c)))),
        N::I32ShrU => bin!(|a, c| u32c(u32_(a).wrapping_shr(u32_(c)))),
        N::I32Rotl => bin!(|a, c| u32c(u32_(a).rotate_left(u32_(c) % 32))),
        N::I32Rotr => bin!(|a, c| u32c(u32_(a).rotate_right(u32_(c) % 32))),
        N::I64Clz => un!(|a: u64| u64::from(a.leading_zeros())),
        N::I64Ctz => un!(|a: u64| u64::from(a.trailing_zeros())),
        N::I64Popcnt => un!(|a: u64| u64::from(a.count_ones())),
        N::I64Add => bin!(|a: u64, c| a.wrapping_add(c)),
        N::I64Sub => bin!(|a: u64, c| a.wrapping_sub(c)),
        N::I64Mul => bin!(|a: u64, c| a.wrapping_mul(c)),
        N::I64DivS => bin_trap!(|a: u64, c: u64| {
            let (a, c) = (a as i64, c as i64);
            if c == 0 {
                Err(TrapKind::IntegerDivideByZero)
            } else if a == i64::MIN && c == -1 {
                Err(TrapKind::IntegerOverflow)
            } else {
                Ok((a / c) as u64)
            }
        }),
        N::I64DivU => {
            bin_trap!(|a: u64, c: u64| a.checked_div(c).ok_or(TrapKind::IntegerDivideByZero))
        }
        N::I64RemS => bin_trap!(|a: u64, c: u64| {
            let (a, c) = (a as i64, c as i64);
            if c == 0 {
                Err(TrapKind::IntegerDivideByZero)
            } else {
                Ok(a.wrapping_rem(c) as u64)
            }
        }),
        N::I64RemU => bin_trap!(|a: u64, c: u64| {
            if c == 0 {
                Err(TrapKind::IntegerDivideByZero)
            } else {
                Ok(a % c)
            }
        }),
        N::I64And => bin!(|a, c| a & c),
        N::I64Or => bin!(|a, c| a | c),
        N::I64Xor => bin!(|a, c| a ^ c),
        N::I64Shl => bin!(|a: u64, c: u64| a.wrapping_shl(c as u32)),
        N::I64ShrS => bin!(|a: u64, c: u64| (a as i64).wrapping_shr(c as u32) as u64),
        N::I64ShrU => bin!(|a: u64, c: u64| a.wrapping_shr(c as u32)),
        N::I64Rotl => bin!(|a: u64, c: u64| a.rotate_left((c % 64) as u32)),
        N::I64Rotr => bin!(|a: u64, c: u64| a.rotate_right((c % 64) as u32)),
        N::F32Abs => un!(|a: u64| a & 0x7fff_ffff),
        N::F32Neg => un!(|a: u64| (a ^ 0x8000_0000) & 0xffff_ffff),
        N::F32Ceil => un!(|a| from_f32(quiet_f32(f32_of(a).ceil()))),
        N::F32Floor => un!(|a| from_f32(quiet_f32(f32_of(a).floor()))),
        N::F32Trunc => un!(|a| from_f32(quiet_f32(f32_of(a).trunc()))),
        N::F32Nearest => un!(|a| from_f32(quiet_f32(f32_of(a).round_ties_even()))),
        N::F32Sqrt => un!(|a| from_f32(quiet_f32(f32_of(a).sqrt()))),
        N::F32Add => bin!(|a, c| from_f32(f32_of(a) + f32_of(c))),
        N::F32Sub => bin!(|a, c| from_f32(f32_of(a) - f32_of(c))),
        N::F32Mul => bin!(|a, c| from_f32(f32_of(a) * f32_of(c))),
        N::F32Div => bin!(|a, c| from_f32(f32_of(a) / f32_of(c))),
        N::F32Min => bin!(|a, c| from_f32(fmin(f32_of(a), f32_of(c)))),
        N::F32Max => bin!(|a, c| from_f32(fmax(f32_of(a), f32_of(c)))),
        N::F32Copysign => bin!(|a: u64, c: u64| (a & 0x7fff_ffff) | (c & 0x8000_0000)),
        N::F64Abs => un!(|a: u64| a & 0x7fff_ffff_ffff_ffff),
        N::F64Neg => un!(|a: u64| a ^ 0x8000_0000_0000_0000),
        N::F64Ceil => un!(|a| from_f64(quiet_f64(f64_of(a).ceil()))),
        N::F64Floor => un!(|a| from_f64(quiet_f64(f64_of(a).floor()))),
        N::F64Trunc => un!(|a| from_f64(quiet_f64(f64_of(a).trunc()))),
        N::F64Nearest => un!(|a| from_f64(quiet_f64(f64_of(a).round_ties_even()))),
        N::F64Sqrt => un!(|a| from_f64(quiet_f64(f64_of(a).sqrt()))),
        N::F64Add => bin!(|a, c| from_f64(f64_of(a) + f64_of(c))),
        N::F64Sub => bin!(|a, c| from_f64(f64_of(a) - f64_of(c))),
        N::F64Mul => bin!(|a, c| from_f64(f64_of(a) * f64_of(c))),
        N::F64Div => bin!(|a, c| from_f64(f64_of(a) / f64_of(c))),
        N::F64Min => bin!(|a, c| from_f64(fmin(f64_of(a), f64_of(c)))),
        N::F64Max => bin!(|a, c| from_f64(fmax(f64_of(a), f64_of(c)))),
        N::F64Copysign => {
            bin!(|a: u64, c: u64| (a & 0x7fff_ffff_ffff_ffff) | (c & 0x8000_0000_0000_0000))
        }
        N::I32WrapI64 => un!(|a: u64| a & 0xffff_ffff),
        N::I32TruncF32S => {
            un_trap!(
                |a| trunc_checked(f64::from(f32_of(a)), -TWO_31, TWO_31).map(|t| i32c(t as i32))
            )
        }
        N::I32TruncF32U => {
            un_trap!(|a| trunc_checked(f64::from(f32_of(a)), -0.0, TWO_32).map(|t| u32c(t as u32)))
        }
        N::I32TruncF64S => {
            un_trap!(|a| trunc_checked(f64_of(a), -TWO_31, TWO_31).map(|t| i32c(t as i32)))
        }
        N::I32TruncF64U => {
            un_trap!(|a| trunc_checked(f64_of(a), -0.0, TWO_32).map(|t| u32c(t as u32)))
        }
        N::I64ExtendI32S => un!(|a| i32_(a) as i64 as u64),
        N::I64ExtendI32U => un!(|a| u32_(a) as u64),
        N::I64TruncF32S => {
            un_trap!(
                |a| trunc_checked(f64::from(f32_of(a)), -TWO_63, TWO_63).map(|t| t as i64 as u64)
            )
        }
        N::I64TruncF32U => {
            un_trap!(|a| trunc_checked(f64::from(f32_of(a)), -0.0, TWO_64).map(|t| t as u64))
        }
        N::I64TruncF64S => {
            un_trap!(|a| trunc_checked(f64_of(a), -TWO_63, TWO_63).map(|t| t as i64 as u64))
        }
        N::I64TruncF64U => un_trap!(|a| trunc_checked(f64_of(a), -0.0, TWO_64).map(|t| t as u64)),
        N::F32ConvertI32S => un!(|a| from_f32(i32_(a) as f32)),
        N::F32ConvertI32U => un!(|a| from_f32(u32_(a) as f32)),
        N::F32ConvertI64S => un!(|a: u64| from_f32(a as i64 as f32)),
        N::F32ConvertI64U => un!(|a: u64| from_f32(a as f32)),
        N::F32DemoteF64 => un!(|a| from_f32(f64_of(a) as f32)),
        N::F64ConvertI32S => un!(|a| from_f64(f64::from(i32_(a)))),
        N::F64ConvertI32U => un!(|a| from_f64(f64::from(u32_(a)))),
        N::F64ConvertI64S => un!(|a: u64| from_f64(a as i64 as f64)),
        N::F64ConvertI64U => un!(|a: u64| from_f64(a as f64)),
        N::F64PromoteF32 => un!(|a| from_f64(f64::from(f32_of(a)))),
        N::I32Extend8S => un!(|a| i32c(a as u8 as i8 as i32)),
        N::I32Extend16S => un!(|a| i32c(a as u16 as i16 as i32)),
        N::I64Extend8S => un!(|a| a as u8 as i8 as i64 as u64),
        N::I64Extend16S => un!(|a| a as u16 as i16 as i64 as u64),
        N::I64Extend32S => un!(|a| a as u32 as i32 as i64 as u64),
        // Saturating truncation is exactly Rust's `as` (NaN → 0, clamp).
        N::I32TruncSatF32S => un!(|a| i32c(f32_of(a) as i32)),
        N::I32TruncSatF32U => un!(|a| u32c(f32_of(a) as u32)),
        N::I32TruncSatF64S => un!(|a| i32c(f64_of(a) as i32)),
        N::I32TruncSatF64U => un!(|a| u32c(f64_of(a) as u32)),
        N::I64TruncSatF32S => un!(|a| f32_of(a) as i64 as u64),
        N::I64TruncSatF32U => un!(|a| f32_of(a) as u64),
        N::I64TruncSatF64S => un!(|a| f64_of(a) as i64 as u64),
        N::I64TruncSatF64U => un!(|a| f64_of(a) as u64),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(op: NumOp, args: &[u64]) -> Result<u64, TrapKind> {
        let mut stack = [0u64; 4];
        stack[..args.len()].copy_from_slice(args);
        let mut sp = args.len();
        // SAFETY: the tests pass every operand the operator takes.
        unsafe { exec(op, &mut stack, &mut sp)? };
        Ok(stack[sp - 1])
    }

    #[test]
    fn division_traps() {
        assert_eq!(
            run(NumOp::I32DivS, &[5, 0]),
            Err(TrapKind::IntegerDivideByZero)
        );
        assert_eq!(
            run(NumOp::I32DivS, &[0x8000_0000, 0xffff_ffff]),
            Err(TrapKind::IntegerOverflow)
        );
        assert_eq!(run(NumOp::I32RemS, &[0x8000_0000, 0xffff_ffff]), Ok(0));
    }

    #[test]
    fn truncation_bounds() {
        let f = |x: f32| u64::from(x.to_bits());
        assert_eq!(run(NumOp::I32TruncF32U, &[f(-0.9)]), Ok(0));
        assert_eq!(
            run(NumOp::I32TruncF32U, &[f(-1.0)]),
            Err(TrapKind::IntegerOverflow)
        );
        assert_eq!(
            run(NumOp::I32TruncF32S, &[f(f32::NAN)]),
            Err(TrapKind::InvalidConversionToInteger)
        );
        assert_eq!(
            run(NumOp::I32TruncF32S, &[f(2147483648.0)]),
            Err(TrapKind::IntegerOverflow)
        );
    }

    #[test]
    fn min_of_signed_zeros_is_negative() {
        let f = |x: f32| u64::from(x.to_bits());
        assert_eq!(run(NumOp::F32Min, &[f(0.0), f(-0.0)]), Ok(f(-0.0)));
        assert_eq!(run(NumOp::F32Max, &[f(-0.0), f(0.0)]), Ok(f(0.0)));
    }
}
