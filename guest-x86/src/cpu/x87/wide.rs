//! A 128-bit-significand software float for the x87 transcendental
//! functions. The results are delivered with 64 significant bits, so
//! evaluating series with 128 bits leaves ~60 guard bits: the final
//! rounding (in `softfloat::pack`) is then correct except for results
//! within ~2^-120 of a rounding boundary.
//!
//! Every operation truncates to 128 bits but keeps a sticky ("jam") bit in
//! bit 0 when bits were lost, so a value just below an exact one rounds
//! the right way under every rounding mode.

/// `(-1)^neg × sig × 2^(exp − 127)`: `sig` has bit 127 set, or is 0 for zero.
/// `exp` is the exponent of the leading bit, so the magnitude lies in
/// `[2^exp, 2^(exp+1))`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wide {
    pub neg: bool,
    pub exp: i32,
    pub sig: u128,
}

/// π, ln 2 and log2(e) rounded to 128 bits.
pub const PI: Wide = Wide::constant(1, 0xc90f_daa2_2168_c234_c4c6_628b_80dc_1cd1);
pub const LN2: Wide = Wide::constant(-1, 0xb172_17f7_d1cf_79ab_c9e3_b398_03f2_f6af);
pub const LOG2E: Wide = Wide::constant(0, 0xb8aa_3b29_5c17_f0bb_be87_fed0_691d_3e89);
const SQRT2: Wide = Wide::constant(0, 0xb504_f333_f9de_6484_597d_89b3_754a_be9f);
pub const ONE: Wide = Wide::constant(0, 1 << 127);
pub const ZERO: Wide = Wide {
    neg: false,
    exp: 0,
    sig: 0,
};

/// A series stops once its terms fall this many bits below the sum.
const SERIES_CUTOFF: i32 = 132;

/// Shifts a 256-bit value (hi, lo) right by `n`, jamming lost bits into bit 0.
fn shr_jam(hi: u128, lo: u128, n: u32) -> (u128, u128) {
    match n {
        0 => (hi, lo),
        1..=127 => {
            let lost = lo & ((1u128 << n) - 1) != 0;
            (hi >> n, (lo >> n) | (hi << (128 - n)) | lost as u128)
        }
        128..=255 => {
            let lost = lo != 0 || hi & ((1u128 << (n - 128)) - 1) != 0;
            (0, (hi >> (n - 128)) | lost as u128)
        }
        _ => (0, (hi != 0 || lo != 0) as u128),
    }
}

/// The full 256-bit product of two 128-bit integers, as (high, low).
pub fn mul_128(a: u128, b: u128) -> (u128, u128) {
    let (a1, a0) = (a >> 64, a & u64::MAX as u128);
    let (b1, b0) = (b >> 64, b & u64::MAX as u128);
    let low = a0 * b0;
    let mid1 = a1 * b0;
    let mid2 = a0 * b1;
    let high = a1 * b1;
    let (mid, mid_carry) = mid1.overflowing_add(mid2);
    let (lo, lo_carry) = low.overflowing_add(mid << 64);
    let hi = high + (mid >> 64) + ((mid_carry as u128) << 64) + lo_carry as u128;
    (hi, lo)
}

impl Wide {
    const fn constant(exp: i32, sig: u128) -> Wide {
        Wide {
            neg: false,
            exp,
            sig,
        }
    }

    /// `(-1)^neg × (hi·2^128 + lo) × 2^lsb_exp`, normalized to 128 bits.
    fn from_256(neg: bool, hi: u128, lo: u128, lsb_exp: i32) -> Wide {
        if hi == 0 && lo == 0 {
            return Wide { neg, ..ZERO };
        }
        let width = if hi != 0 {
            256 - hi.leading_zeros()
        } else {
            128 - lo.leading_zeros()
        };
        // Bring the leading bit to bit 127 of the low half.
        let (sig, exp_of_bit0) = if width > 128 {
            let (_, l) = shr_jam(hi, lo, width - 128);
            (l, lsb_exp + (width - 128) as i32)
        } else {
            (lo << (128 - width), lsb_exp - (128 - width) as i32)
        };
        Wide {
            neg,
            exp: exp_of_bit0 + 127,
            sig,
        }
    }

    /// `(-1)^neg × sig × 2^lsb_exp` for any non-negative integer `sig`.
    pub fn from_parts(neg: bool, sig: u128, lsb_exp: i32) -> Wide {
        Wide::from_256(neg, 0, sig, lsb_exp)
    }

    pub fn from_int(n: i64) -> Wide {
        Wide::from_parts(n < 0, n.unsigned_abs() as u128, 0)
    }

    /// (sign, significand, exponent of its bit 0), for `softfloat::pack`.
    pub fn to_parts(self) -> (bool, u128, i32) {
        (self.neg, self.sig, self.exp - 127)
    }

    pub fn is_zero(self) -> bool {
        self.sig == 0
    }

    /// ±2^n exactly (no other bit, not even a sticky one, is set).
    pub fn is_power_of_two(self) -> bool {
        self.sig == 1 << 127
    }

    pub fn neg(self) -> Wide {
        Wide {
            neg: !self.neg,
            ..self
        }
    }

    pub fn abs(self) -> Wide {
        Wide { neg: false, ..self }
    }

    /// Multiplies by 2^n.
    pub fn scale(self, n: i32) -> Wide {
        if self.is_zero() {
            return self;
        }
        Wide {
            exp: self.exp + n,
            ..self
        }
    }

    /// Compares |self| with |other|.
    pub fn magnitude_cmp(self, other: Wide) -> core::cmp::Ordering {
        if self.is_zero() || other.is_zero() {
            return self.sig.cmp(&other.sig);
        }
        (self.exp, self.sig).cmp(&(other.exp, other.sig))
    }

    fn magnitude_below(self, other: Wide) -> bool {
        self.magnitude_cmp(other) == core::cmp::Ordering::Less
    }

    pub fn add(self, other: Wide) -> Wide {
        if self.is_zero() {
            return other;
        }
        if other.is_zero() {
            return self;
        }
        let (big, small) = if self.magnitude_below(other) {
            (other, self)
        } else {
            (self, other)
        };
        // Both as 256-bit integers scaled by 2^(big.exp − 127 − 128); one
        // spare bit on top of `big` absorbs the carry of an addition.
        let shift = (big.exp - small.exp) as u32;
        let (bh, bl) = (big.sig >> 1, big.sig << 127);
        let (sh, sl) = shr_jam(small.sig >> 1, small.sig << 127, shift);
        let (hi, lo) = if big.neg == small.neg {
            let (lo, carry) = bl.overflowing_add(sl);
            (bh + sh + carry as u128, lo)
        } else {
            let (lo, borrow) = bl.overflowing_sub(sl);
            (bh - sh - borrow as u128, lo)
        };
        Wide::from_256(big.neg, hi, lo, big.exp - 127 - 127)
    }

    pub fn sub(self, other: Wide) -> Wide {
        self.add(other.neg())
    }

    pub fn mul(self, other: Wide) -> Wide {
        let neg = self.neg != other.neg;
        if self.is_zero() || other.is_zero() {
            return Wide { neg, ..ZERO };
        }
        let (hi, lo) = mul_128(self.sig, other.sig);
        Wide::from_256(neg, hi, lo, self.exp + other.exp - 254)
    }

    /// Division; a zero divisor is the caller's error and yields zero.
    pub fn div(self, other: Wide) -> Wide {
        let neg = self.neg != other.neg;
        if self.is_zero() || other.is_zero() {
            return Wide { neg, ..ZERO };
        }
        // q = ⌊a·2^127 / b⌋ by restoring division, one bit per step; the
        // remainder is `rem + carry·2^128` and always below 2b.
        let (a, b) = (self.sig, other.sig);
        let (mut rem, mut carry, mut q) = (a, false, 0u128);
        for bit in (0..128).rev() {
            if carry || rem >= b {
                rem = rem.wrapping_sub(b);
                q |= 1 << bit;
            }
            carry = rem >> 127 != 0;
            rem <<= 1;
        }
        let sticky = (rem != 0 || carry) as u128;
        Wide::from_256(neg, 0, q | sticky, self.exp - other.exp - 127)
    }

    /// Square root of a non-negative value: a 64-bit integer estimate, then
    /// two Newton steps (each doubles the correct bits).
    pub fn sqrt(self) -> Wide {
        if self.is_zero() {
            return self;
        }
        // value = sig × 2^e with e = exp − 127; make e even.
        let e = self.exp - 127;
        let (sig, e) = if e % 2 != 0 {
            (self.sig >> 1, e + 1)
        } else {
            (self.sig, e)
        };
        let mut x = Wide::from_parts(false, sig.isqrt(), e / 2);
        for _ in 0..2 {
            x = x.add(self.div(x)).scale(-1);
        }
        x
    }
}

// ------------------------------------------------------------ functions

/// sin(r) for |r| ≤ ~π/4: r − r³/3! + r⁵/5! − …
pub fn sin(r: Wide) -> Wide {
    let r2 = r.mul(r);
    let (mut sum, mut term) = (r, r);
    for k in 1.. {
        let denominator = Wide::from_int((2 * k) * (2 * k + 1));
        term = term.mul(r2).div(denominator).neg();
        sum = sum.add(term);
        if term.is_zero() || term.exp < sum.exp - SERIES_CUTOFF {
            break;
        }
    }
    sum
}

/// cos(r) for |r| ≤ ~π/4: 1 − r²/2! + r⁴/4! − …
pub fn cos(r: Wide) -> Wide {
    let r2 = r.mul(r);
    let (mut sum, mut term) = (ONE, ONE);
    for k in 1.. {
        let denominator = Wide::from_int((2 * k - 1) * (2 * k));
        term = term.mul(r2).div(denominator).neg();
        sum = sum.add(term);
        if term.is_zero() || term.exp < sum.exp - SERIES_CUTOFF {
            break;
        }
    }
    sum
}

/// e^y − 1 for |y| ≤ ~1, without cancellation for small y:
/// y + y²/2! + y³/3! + …
pub fn exp_m1(y: Wide) -> Wide {
    let (mut sum, mut term) = (y, y);
    for k in 2.. {
        term = term.mul(y).div(Wide::from_int(k));
        sum = sum.add(term);
        if term.is_zero() || term.exp < sum.exp - SERIES_CUTOFF {
            break;
        }
    }
    sum
}

/// 2·atanh(s) = 2·(s + s³/3 + s⁵/5 + …) for |s| ≤ ~0.2.
fn two_atanh(s: Wide) -> Wide {
    let s2 = s.mul(s);
    let (mut sum, mut power) = (s, s);
    for k in 1.. {
        power = power.mul(s2);
        let term = power.div(Wide::from_int(2 * k + 1));
        sum = sum.add(term);
        if term.is_zero() || term.exp < sum.exp - SERIES_CUTOFF {
            break;
        }
    }
    sum.scale(1)
}

/// ln(1 + x) for |x| ≤ ~0.4: 2·atanh(x / (2 + x)), accurate for tiny x.
pub fn ln_1p(x: Wide) -> Wide {
    two_atanh(x.div(x.add(Wide::from_int(2))))
}

/// log2(x) for x > 0: x = m·2^e with m in [√½, √2), then
/// e + ln(m)·log2(e), so a result near 0 keeps its relative precision.
/// Exact (an integer) when x is a power of two: see `is_power_of_two`.
pub fn log2(x: Wide) -> Wide {
    let mut m = Wide { exp: 0, ..x };
    let mut e = x.exp;
    if !m.magnitude_below(SQRT2) {
        m = m.scale(-1);
        e += 1;
    }
    let ln_m = two_atanh(m.sub(ONE).div(m.add(ONE)));
    Wide::from_int(e as i64).add(ln_m.mul(LOG2E))
}

/// atan(t) for 0 ≤ t ≤ 1: four argument halvings
/// (atan t = 2·atan(t / (1 + √(1 + t²)))) bring t below tan(π/64), then
/// t − t³/3 + t⁵/5 − …
fn atan_unit(t: Wide) -> Wide {
    let mut t = t;
    let mut halvings = 0;
    while halvings < 4 && t.exp > -20 {
        let root = ONE.add(t.mul(t)).sqrt();
        t = t.div(ONE.add(root));
        halvings += 1;
    }
    let t2 = t.mul(t);
    let (mut sum, mut power) = (t, t);
    for k in 1.. {
        power = power.mul(t2).neg();
        let term = power.div(Wide::from_int(2 * k + 1));
        sum = sum.add(term);
        if term.is_zero() || term.exp < sum.exp - SERIES_CUTOFF {
            break;
        }
    }
    sum.scale(halvings)
}

/// atan2(y, x) for finite non-zero y and x: the angle of the point (x, y),
/// in (−π, π], with the sign of y.
pub fn atan2(y: Wide, x: Wide) -> Wide {
    let (ay, ax) = (y.abs(), x.abs());
    let angle = if ay.magnitude_below(ax) || ay == ax {
        atan_unit(ay.div(ax))
    } else {
        PI.scale(-1).sub(atan_unit(ax.div(ay)))
    };
    let angle = if x.neg { PI.sub(angle) } else { angle };
    Wide {
        neg: y.neg,
        ..angle
    }
}

/// The x87's π for argument reduction: 66 significant bits, 0xC90FDAA2_
/// 2168C234_C × 2^−66 (SDM Vol.1 §8.3.10). FSIN, FCOS, FSINCOS and FPTAN
/// reduce with it exactly, which is why their results drift from the true
/// functions near multiples of π; the host CPU matches this model.
const PI66_HALF_TIMES_2_67: u128 = 0xc_90fd_aa22_168c_234c;

/// Reduces finite x = sig × 2^lsb_exp (|x| < 2^63) by the nearest multiple
/// k of π₆₆/2: returns (r, k mod 4) with x = r + k·π₆₆/2 exactly (up to the
/// final rounding of r to 128 bits).
pub fn reduce_pi66_half(neg: bool, sig: u64, lsb_exp: i32) -> (Wide, u32) {
    let x = Wide::from_parts(neg, sig as u128, lsb_exp);
    let half_pi66 = Wide::from_parts(false, PI66_HALF_TIMES_2_67, -67);
    if x.abs().magnitude_below(PI.scale(-2)) {
        return (x, 0);
    }
    // k = round(|x| / (π₆₆/2)); |x| < 2^63 so k < 2^63. The quotient is
    // qsig × 2^qexp with qexp < 0: its integer part is qsig >> −qexp and
    // the next bit rounds.
    let (_, qsig, qexp) = x.abs().div(half_pi66).to_parts();
    let shift = qexp.unsigned_abs();
    let k = match shift {
        1..=127 => (qsig >> shift) as u64 + ((qsig >> (shift - 1)) & 1) as u64,
        128 => (qsig >> 127) as u64,
        _ => 0,
    };
    // |x|·2^67 and k·P as exact 256-bit integers; |x| ≥ π/4 and |x| < 2^63
    // put lsb_exp + 67 in 3..=66.
    let x_shift = (lsb_exp + 67).clamp(0, 127) as u32;
    let x = sig as u128;
    let (xh, xl) = if x_shift > 64 {
        (x >> (128 - x_shift), x << x_shift)
    } else {
        (0, x << x_shift)
    };
    let (kh, kl) = mul_128(k as u128, PI66_HALF_TIMES_2_67);
    // r·2^67 = |x|·2^67 − k·P, possibly negative.
    let x_bigger = (xh, xl) >= (kh, kl);
    let (ah, al, bh, bl) = if x_bigger {
        (xh, xl, kh, kl)
    } else {
        (kh, kl, xh, xl)
    };
    let (lo, borrow) = al.overflowing_sub(bl);
    let hi = ah - bh - borrow as u128;
    // r is negative when x is negative XOR k·P overshot |x|.
    let r = Wide::from_256(neg == x_bigger, hi, lo, -67);
    // For negative x the multiple is −k: sin/cos quadrants go backwards.
    let quadrant = if neg {
        (4 - (k % 4) as u32) % 4
    } else {
        (k % 4) as u32
    };
    (r, quadrant)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The value rounded to 64 bits (nearest), as (exponent, significand).
    fn top64(w: Wide) -> (i32, u64) {
        let s = (w.sig >> 64) as u64;
        let round = (w.sig >> 63) & 1;
        match s.checked_add(round as u64) {
            Some(v) => (w.exp, v),
            None => (w.exp + 1, 1 << 63),
        }
    }

    #[test]
    fn arithmetic_round_trips() {
        let three = Wide::from_int(3);
        let third = ONE.div(three);
        assert_eq!(top64(third.mul(three)), (0, 1 << 63));
        assert_eq!(Wide::from_int(5).sub(Wide::from_int(7)), Wide::from_int(-2));
        assert_eq!(top64(Wide::from_int(2).sqrt()), top64(SQRT2));
        assert_eq!(Wide::from_int(9).sqrt().to_parts().1 >> 64, 3 << 62);
    }

    #[test]
    fn constants_agree_with_each_other() {
        // ln 2 · log2(e) = 1; atan2(1, 1) = π/4; 4·atan2(1, 0+) − π ≈ 0.
        assert_eq!(top64(LN2.mul(LOG2E)), (0, 1 << 63));
        assert_eq!(top64(atan2(ONE, ONE)), top64(PI.scale(-2)));
        assert_eq!(top64(log2(Wide::from_int(8))), top64(Wide::from_int(3)));
        assert_eq!(top64(exp_m1(LN2)), top64(ONE));
        // sin(π/6) = 1/2, cos(π/3) = 1/2.
        let sixth = PI.div(Wide::from_int(6));
        assert_eq!(top64(sin(sixth)), (-1, 1 << 63));
        assert_eq!(top64(cos(sixth.scale(1))), (-1, 1 << 63));
    }

    /// Values correctly rounded to 64 bits, computed independently with
    /// 400-bit arithmetic (mpmath): (exponent, significand, negative).
    #[test]
    fn functions_round_correctly_at_known_points() {
        let half = Wide::from_parts(false, 1, -1);
        let quarter3 = Wide::from_parts(false, 3, -2);
        let cases: [(&str, Wide, (i32, u64), bool); 12] = [
            ("sin(1)", sin(ONE), (-1, 0xd76a_a478_4867_7021), false),
            ("cos(1)", cos(ONE), (-1, 0x8a51_407d_a834_5c92), false),
            ("sin(0.5)", sin(half), (-2, 0xf577_43a2_582f_7f44), false),
            (
                "tan(0.75)",
                sin(quarter3).div(cos(quarter3)),
                (-1, 0xee7d_1b08_8777_5f06),
                false,
            ),
            (
                "atan2(1, 3)",
                atan2(ONE, Wide::from_int(3)),
                (-2, 0xa4bc_7d19_34f7_0924),
                false,
            ),
            (
                "atan2(5, -2)",
                atan2(Wide::from_int(5), Wide::from_int(-2)),
                (0, 0xf9c4_4978_f064_41a5),
                false,
            ),
            (
                "log2(3)",
                log2(Wide::from_int(3)),
                (0, 0xcae0_0d1c_fdeb_43d0),
                false,
            ),
            (
                "log2(0.75)",
                log2(quarter3),
                (-2, 0xd47f_cb8c_0852_f0c1),
                true,
            ),
            (
                "ln(1 + 2^-20)",
                ln_1p(Wide::from_parts(false, 1, -20)),
                (-21, 0xffff_f800_0055_5551),
                false,
            ),
            (
                "e^(2^-30) - 1",
                exp_m1(Wide::from_parts(false, 1, -30)),
                (-30, 0x8000_0001_0000_0001),
                false,
            ),
            (
                "e^-0.5 - 1",
                exp_m1(half.neg()),
                (-2, 0xc974_d039_069f_6018),
                true,
            ),
            (
                "sqrt(3)",
                Wide::from_int(3).sqrt(),
                (0, 0xddb3_d742_c265_539e),
                false,
            ),
        ];
        for (name, value, expected, negative) in cases {
            assert_eq!((top64(value), value.neg), (expected, negative), "{name}");
        }
    }

    #[test]
    fn reduction_is_exact_for_a_multiple_of_pi66() {
        // x = 3·(π₆₆/2) rounded to 64 bits: r is that rounding error.
        let p3 = 3 * PI66_HALF_TIMES_2_67; // 70 bits
        let sig = (p3 >> 6) as u64;
        let (r, q) = reduce_pi66_half(false, sig, 6 - 67);
        assert_eq!(q, 3);
        let expected = -((p3 & 63) as i64);
        assert_eq!(
            r,
            Wide::from_parts(expected < 0, expected.unsigned_abs() as u128, -67)
        );
    }
}
