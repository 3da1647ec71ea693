//! The x87 transcendental instructions: FSIN, FCOS, FSINCOS, FPTAN
//! (D9 FE/FF/FB/F2), FPATAN (D9 F3), F2XM1 (D9 F0), FYL2X (D9 F1) and
//! FYL2XP1 (D9 F9), per the result tables of SDM Vol.2A.
//!
//! Results are evaluated with 128-bit significands (`wide`) and rounded
//! once into 64 bits under RC; precision control does not apply (SDM Vol.1
//! §8.1.5.2). The SDM specifies these functions to within 1 ulp (Vol.1
//! §8.3.10), so a processor may differ from the exact rounding in the last
//! bit; this emulator delivers the correctly rounded value of the model
//! below. Behaviour checked against the host CPU:
//! - trigonometric arguments are reduced with the 66-bit π (`wide`);
//! - a computed result always sets PE, even when it happens to be exact
//!   (F2XM1(1), FYL2X(8, 3)); table results (zeros, infinities) do not;
//! - outside their documented domains (the SDM: "undefined") F2XM1
//!   (|x| > 1) and FYL2XP1 (x ≤ −1) return x with PE set;
//! - C1 ("rounded up") describes the processor's own approximation, so
//!   where that lies on the other side of the true value, its C1 differs
//!   from the correctly rounded one given here.

use core::cmp::Ordering;

use super::wide::{self, Wide};
use super::*;

/// Which function of the reduced argument the trigonometric group wants.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Trig {
    Sin,
    Cos,
    /// FSINCOS: ST(0) ← sin, then push cos.
    SinCos,
    /// FPTAN: ST(0) ← tan, then push 1.0.
    Tan,
}

const F80_ONE: F80Bits = 0x3fff_8000_0000_0000_0000;

/// Rounds a computed (inexact) value into extended precision. The sticky
/// bit makes PE and the rounding direction right even if the 128 bits
/// happen to end in zeros.
fn deliver(env: &mut Env, value: Wide) -> F80Bits {
    let (neg, sig, lsb_exp) = value.to_parts();
    sf::pack(F80, env, neg, lsb_exp, sig | 1)
}

/// Rounds a value known to be exact (y times the log2 of a power of two):
/// the processor still treats it as inexact, so it reports PE, and UE when
/// the result is tiny (observed on the host).
fn deliver_exact(env: &mut Env, value: Wide) -> F80Bits {
    let (neg, sig, lsb_exp) = value.to_parts();
    let r = sf::pack(F80, env, neg, lsb_exp, sig);
    env.flags |= exc::INEXACT;
    if !value.is_zero() && value.exp + env.exponent_bias < F80_MIN_NORMAL_EXP {
        env.flags |= exc::UNDERFLOW;
    }
    r
}

/// The exponent of the smallest normal extended value, 2^−16382.
const F80_MIN_NORMAL_EXP: i32 = -16382;

fn to_wide(v: F80Bits) -> Option<Wide> {
    sf::unpack_finite(F80, v).map(|(neg, sig, exp)| Wide::from_parts(neg, sig, exp))
}

/// A finite `v` with |v| ≥ 2^63 is outside the trigonometric range.
fn beyond_2_63(v: F80Bits) -> bool {
    match sf::unpack_finite(F80, v) {
        Some((_, sig, exp)) => exp + 127 - sig.leading_zeros() as i32 >= 63,
        None => false,
    }
}

/// FSIN, FCOS, FSINCOS, FPTAN.
pub(super) fn trig(cpu: &mut Cpu, op: Trig) -> X87Result<()> {
    let pushes = matches!(op, Trig::SinCos | Trig::Tan);
    // C2 reports "out of range" only; every other outcome clears it, even
    // a stack fault or an unmasked exception (observed on the host).
    cpu.x87.status &= !sw::C2;
    let Some(a) = cpu.read_st(0)? else {
        cpu.set_st(0, F80.default_nan());
        if pushes {
            cpu.push(F80.default_nan())?;
        }
        return Ok(());
    };
    if pushes && !cpu.room_for_second_result()? {
        return Ok(());
    }
    let mut env = cpu.x87_env();
    let (first, second) = match sf::category(F80, a) {
        Category::NaN | Category::Unsupported => {
            let q = sf::binary(F80, &mut env, BinaryOp::Add, a, a);
            (q, q)
        }
        Category::Infinity => {
            env.flags |= exc::INVALID;
            (F80.default_nan(), F80.default_nan())
        }
        Category::Zero => match op {
            Trig::Sin => (a, a),
            Trig::Cos => (F80_ONE, F80_ONE),
            Trig::SinCos => (a, F80_ONE),
            Trig::Tan => (a, F80_ONE),
        },
        Category::Denormal | Category::Normal => {
            if beyond_2_63(a) {
                // Out of range: C2 = 1 and the operand stays (SDM Vol.2A FSIN).
                cpu.x87.status |= sw::C2;
                cpu.set_c1(false);
                return Ok(());
            }
            denormal_operands(&mut env, &[a]);
            let Some((neg, sig, exp)) = sf::unpack_finite(F80, a) else {
                return Ok(());
            };
            let (r, quadrant) = wide::reduce_pi66_half(neg, sig as u64, exp);
            // sin(r + q·π/2) and cos(r + q·π/2); only the series an
            // instruction needs are summed.
            let sin_x = || match quadrant {
                0 => wide::sin(r),
                1 => wide::cos(r),
                2 => wide::sin(r).neg(),
                _ => wide::cos(r).neg(),
            };
            let cos_x = || match quadrant {
                0 => wide::cos(r),
                1 => wide::sin(r).neg(),
                2 => wide::cos(r).neg(),
                _ => wide::sin(r),
            };
            let mut round = |value: Wide| compute_biased(cpu, &mut env, |e| deliver(e, value));
            match op {
                Trig::Sin => {
                    let v = round(sin_x());
                    (v, v)
                }
                Trig::Cos => {
                    let v = round(cos_x());
                    (v, v)
                }
                Trig::SinCos => {
                    // C1 reports the rounding of the sine, the value left
                    // in ST(1) (observed on the host): round it last.
                    let c = round(cos_x());
                    let s = round(sin_x());
                    (s, c)
                }
                Trig::Tan => (round(sin_x().div(cos_x())), F80_ONE),
            }
        }
    };
    cpu.x87_flags(&env)?;
    cpu.set_st(0, first);
    if pushes {
        // Room was checked above, so this push cannot fault.
        cpu.push(second)?;
    }
    cpu.set_c1(env.rounded_up && env.flags & exc::INEXACT != 0);
    Ok(())
}

/// Runs a two-operand function ST(1) ← f(ST(1), ST(0)) then pops (FPATAN,
/// FYL2X, FYL2XP1); NaN operands propagate as in arithmetic.
fn binary_and_pop(
    cpu: &mut Cpu,
    f: impl Fn(&mut Env, F80Bits, F80Bits) -> F80Bits,
) -> X87Result<()> {
    let (x, y) = (cpu.read_st(0)?, cpu.read_st(1)?);
    let (Some(x), Some(y)) = (x, y) else {
        cpu.set_st(1, F80.default_nan());
        cpu.pop();
        return Ok(());
    };
    let mut env = cpu.x87_env();
    let r = if nan_like(x) || nan_like(y) {
        sf::binary(F80, &mut env, BinaryOp::Add, x, y)
    } else {
        denormal_operands(&mut env, &[x, y]);
        compute_biased(cpu, &mut env, |e| f(e, y, x))
    };
    cpu.x87_flags(&env)?;
    cpu.set_st(1, r);
    cpu.pop();
    cpu.set_c1(env.rounded_up && env.flags & exc::INEXACT != 0);
    Ok(())
}

/// FPATAN: ST(1) ← atan2(ST(1), ST(0)), pop (SDM Vol.2A FPATAN Table 3-29).
pub(super) fn fpatan(cpu: &mut Cpu) -> X87Result<()> {
    binary_and_pop(cpu, |env, y, x| {
        let (cy, cx) = (sf::category(F80, y), sf::category(F80, x));
        let quarter = |n: i64| Wide::from_int(n).mul(wide::PI).scale(-2);
        let angle = match (cy, cx) {
            (Category::Zero, _) if !F80.sign(x) => return y,
            (Category::Zero, _) => wide::PI,
            (Category::Infinity, Category::Infinity) if F80.sign(x) => quarter(3),
            (Category::Infinity, Category::Infinity) => quarter(1),
            (Category::Infinity, _) | (_, Category::Zero) => quarter(2),
            (_, Category::Infinity) if !F80.sign(x) => return F80.zero(F80.sign(y)),
            (_, Category::Infinity) => wide::PI,
            _ => match (to_wide(y), to_wide(x)) {
                (Some(wy), Some(wx)) => wide::atan2(wy, wx).abs(),
                _ => return F80.default_nan(),
            },
        };
        let signed = if F80.sign(y) { angle.neg() } else { angle };
        deliver(env, signed)
    })
}

/// FYL2X: ST(1) ← ST(1) · log2(ST(0)), pop (SDM Vol.2A FYL2X Table 3-48).
pub(super) fn fyl2x(cpu: &mut Cpu) -> X87Result<()> {
    binary_and_pop(cpu, |env, y, x| {
        let (cy, cx) = (sf::category(F80, y), sf::category(F80, x));
        if F80.sign(x) && cx != Category::Zero {
            env.flags |= exc::INVALID;
            return F80.default_nan();
        }
        let wx = to_wide(x);
        let log = wx.map(wide::log2);
        // Sign of the result: y's, flipped when log2(x) < 0.
        let log_negative = match (cx, log) {
            (Category::Zero, _) => true,
            (_, Some(l)) => l.neg,
            _ => false,
        };
        let log_zero = log.is_some_and(Wide::is_zero);
        let sign = F80.sign(y) != log_negative;
        match (cy, cx) {
            // 0 · ∞ and ∞ · 0 (log2 of 0, of +∞ or of 1).
            (Category::Zero, Category::Zero | Category::Infinity) => {
                env.flags |= exc::INVALID;
                F80.default_nan()
            }
            (Category::Infinity, _) if log_zero => {
                env.flags |= exc::INVALID;
                F80.default_nan()
            }
            (Category::Zero, _) => F80.zero(sign),
            _ if log_zero => F80.zero(sign),
            (_, Category::Zero) => {
                if cy != Category::Infinity {
                    // #Z outranks #D: a denormal y is not reported.
                    env.flags &= !exc::DENORMAL;
                    env.flags |= exc::DIVIDE_BY_ZERO;
                }
                F80.infinity(sign)
            }
            (Category::Infinity, _) | (_, Category::Infinity) => F80.infinity(sign),
            _ => match (to_wide(y), wx, log) {
                (Some(wy), Some(wx), Some(l)) if wx.is_power_of_two() => {
                    deliver_exact(env, wy.mul(l))
                }
                (Some(wy), _, Some(l)) => deliver(env, wy.mul(l)),
                _ => F80.default_nan(),
            },
        }
    })
}

/// FYL2XP1: ST(1) ← ST(1) · log2(ST(0) + 1), pop (SDM Vol.2A FYL2XP1
/// Table 3-49). Accurate for small x; outside (−1, ∞) the host returns x.
pub(super) fn fyl2xp1(cpu: &mut Cpu) -> X87Result<()> {
    binary_and_pop(cpu, |env, y, x| {
        let (cy, cx) = (sf::category(F80, y), sf::category(F80, x));
        let wx = to_wide(x);
        if let Some(w) = wx
            && w.neg
            && w.magnitude_cmp(wide::ONE) != Ordering::Less
        {
            // x ≤ −1: undefined per SDM. The host hands back x (inexact)
            // for a finite non-zero y, and −y for a zero or infinite y.
            return match cy {
                Category::Zero => F80.zero(!F80.sign(y)),
                Category::Infinity => F80.infinity(!F80.sign(y)),
                _ => {
                    env.flags |= exc::INEXACT;
                    x
                }
            };
        }
        if cx == Category::Infinity && F80.sign(x) {
            env.flags |= exc::INVALID;
            return F80.default_nan();
        }
        let sign = F80.sign(y) != F80.sign(x);
        match (cy, cx) {
            (Category::Infinity, Category::Zero) | (Category::Zero, Category::Infinity) => {
                env.flags |= exc::INVALID;
                F80.default_nan()
            }
            (Category::Zero, _) | (_, Category::Zero) => F80.zero(sign),
            (Category::Infinity, _) | (_, Category::Infinity) => F80.infinity(sign),
            _ => match (to_wide(y), wx) {
                (Some(wy), Some(w)) if w.exp < -2 => {
                    deliver(env, wy.mul(wide::ln_1p(w).mul(wide::LOG2E)))
                }
                (Some(wy), Some(w)) => {
                    // Far from 0, forming 1 + x loses nothing (a lost bit
                    // stays as a sticky bit, so only an exact power of two
                    // gives an exact logarithm).
                    let one_plus_x = wide::ONE.add(w);
                    let product = wy.mul(wide::log2(one_plus_x));
                    if one_plus_x.is_power_of_two() {
                        deliver_exact(env, product)
                    } else {
                        deliver(env, product)
                    }
                }
                _ => F80.default_nan(),
            },
        }
    })
}

/// F2XM1: ST(0) ← 2^ST(0) − 1 (SDM Vol.2A F2XM1 Table 3-16).
pub(super) fn f2xm1(cpu: &mut Cpu) -> X87Result<()> {
    unary_st0(cpu, |_, env, a| match sf::category(F80, a) {
        Category::NaN | Category::Unsupported => sf::binary(F80, env, BinaryOp::Add, a, a),
        Category::Zero => a,
        Category::Infinity if F80.sign(a) => F80_ONE | (1 << 79),
        Category::Infinity => a,
        _ => {
            denormal_operands(env, &[a]);
            let Some(w) = to_wide(a) else {
                return a;
            };
            if w.magnitude_cmp(wide::ONE) == Ordering::Greater {
                // |x| > 1: undefined per SDM; the host returns x, inexact.
                env.flags |= exc::INEXACT;
                return a;
            }
            deliver(env, wide::exp_m1(w.mul(wide::LN2)))
        }
    })
}
