//! Software IEEE 754 binary floating point for the SSE and x87 units:
//! single, double and x87 80-bit extended precision, the four rounding
//! modes and the six exception flags (SDM Vol.1 §4.8–4.9, §8.5, §11.5).
//! No host floating point is used, so results are exact on every host.
//!
//! A finite value is handled unpacked as `sig × 2^exp` with an integer
//! significand; `round_pack` rounds it into a format.

/// Exception flags, in MXCSR / x87 status-word bit order.
pub mod exc {
    /// Invalid operation (IE).
    pub const INVALID: u8 = 1;
    /// Denormal operand (DE).
    pub const DENORMAL: u8 = 2;
    /// Divide by zero (ZE).
    pub const DIVIDE_BY_ZERO: u8 = 4;
    /// Overflow (OE).
    pub const OVERFLOW: u8 = 8;
    /// Underflow (UE).
    pub const UNDERFLOW: u8 = 16;
    /// Inexact result / precision (PE).
    pub const INEXACT: u8 = 32;
}

/// Rounding control, encoded as in MXCSR.RC and the x87 control word RC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// Round to nearest, ties to even.
    NearestEven,
    /// Toward −∞.
    Down,
    /// Toward +∞.
    Up,
    /// Toward zero (truncate).
    TowardZero,
}

impl Rounding {
    /// Decodes the 2-bit RC field.
    pub fn from_rc(rc: u32) -> Rounding {
        [
            Rounding::NearestEven,
            Rounding::Down,
            Rounding::Up,
            Rounding::TowardZero,
        ][(rc & 3) as usize]
    }
}

/// A binary interchange (or x87 extended) format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// Exponent field width.
    pub exp_bits: u32,
    /// Stored fraction bits (for x87 extended: the 63 bits after the explicit integer bit).
    pub frac_bits: u32,
    /// The integer bit is stored (x87 extended).
    pub explicit_int: bool,
}

/// IEEE binary32.
pub const F32: Format = Format {
    exp_bits: 8,
    frac_bits: 23,
    explicit_int: false,
};
/// IEEE binary64.
pub const F64: Format = Format {
    exp_bits: 11,
    frac_bits: 52,
    explicit_int: false,
};
/// x87 double-extended (64-bit significand with explicit integer bit).
pub const F80: Format = Format {
    exp_bits: 15,
    frac_bits: 63,
    explicit_int: true,
};

impl Format {
    fn precision(self) -> u32 {
        self.frac_bits + 1
    }
    fn bias(self) -> i32 {
        (1 << (self.exp_bits - 1)) - 1
    }
    fn exp_max_field(self) -> u128 {
        (1u128 << self.exp_bits) - 1
    }
    fn sign_shift(self) -> u32 {
        self.exp_bits + self.frac_bits + self.explicit_int as u32
    }
    fn exp_shift(self) -> u32 {
        self.frac_bits + self.explicit_int as u32
    }
    fn frac_mask(self) -> u128 {
        (1u128 << self.frac_bits) - 1
    }
    /// The quiet bit: the top stored fraction bit.
    fn quiet_bit(self) -> u128 {
        1u128 << (self.frac_bits - 1)
    }
    /// Integer bit for explicit formats.
    fn int_bit(self) -> u128 {
        if self.explicit_int {
            1u128 << self.frac_bits
        } else {
            0
        }
    }
    /// The default ("indefinite") QNaN: negative, quiet bit only.
    pub fn default_nan(self) -> u128 {
        (1u128 << self.sign_shift())
            | (self.exp_max_field() << self.exp_shift())
            | self.int_bit()
            | self.quiet_bit()
    }
    /// Infinity with a sign.
    pub fn infinity(self, sign: bool) -> u128 {
        ((sign as u128) << self.sign_shift())
            | (self.exp_max_field() << self.exp_shift())
            | self.int_bit()
    }
    /// Zero with a sign.
    pub fn zero(self, sign: bool) -> u128 {
        (sign as u128) << self.sign_shift()
    }
    /// Largest finite value with a sign.
    fn max_finite(self, sign: bool) -> u128 {
        ((sign as u128) << self.sign_shift())
            | ((self.exp_max_field() - 1) << self.exp_shift())
            | self.int_bit()
            | self.frac_mask()
    }
    /// Sign bit of an encoding.
    pub fn sign(self, bits: u128) -> bool {
        (bits >> self.sign_shift()) & 1 != 0
    }
}

/// The operation environment: rounding, flush/denormal modes, NaN rules,
/// and the accumulated exception flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Env {
    /// Rounding mode.
    pub rounding: Rounding,
    /// Flush tiny results to zero (MXCSR.FTZ; only when UE is masked).
    pub flush_to_zero: bool,
    /// Treat denormal inputs as zero (MXCSR.DAZ).
    pub denormals_are_zero: bool,
    /// x87 NaN propagation (larger significand wins) instead of SSE's
    /// "first operand wins" (SDM Vol.1 Table 4-7).
    pub x87_nan_rules: bool,
    /// Underflow is unmasked: then tininess alone signals #U, exact or not
    /// (SDM Vol.1 §4.9.1.5).
    pub underflow_unmasked: bool,
    /// Exception flags raised so far.
    pub flags: u8,
    /// The last rounding increased the magnitude (x87 C1).
    pub rounded_up: bool,
    /// Added to the exponent of finite results before rounding (the x87's
    /// response to unmasked overflow/underflow, ∓24576).
    pub exponent_bias: i32,
}

impl Env {
    /// An SSE environment from an MXCSR value.
    pub fn from_mxcsr(mxcsr: u32) -> Env {
        // FTZ only acts when underflow is masked (SDM Vol.1 §10.2.3.3).
        let ue_masked = mxcsr & (1 << 11) != 0;
        Env {
            rounding: Rounding::from_rc(mxcsr >> 13),
            flush_to_zero: mxcsr & (1 << 15) != 0 && ue_masked,
            denormals_are_zero: mxcsr & (1 << 6) != 0,
            x87_nan_rules: false,
            underflow_unmasked: !ue_masked,
            flags: 0,
            rounded_up: false,
            exponent_bias: 0,
        }
    }
}

/// What an encoding holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Zero,
    /// Finite non-zero: value = sig × 2^exp.
    Finite {
        sig: u128,
        exp: i32,
    },
    Infinity,
    QuietNaN,
    SignalingNaN,
    /// x87 unnormal, pseudo-NaN or pseudo-infinity: always an invalid operand.
    Unsupported,
}

impl Class {
    /// NaNs and unsupported encodings, which bypass normal arithmetic.
    fn is_nan_like(self) -> bool {
        matches!(
            self,
            Class::QuietNaN | Class::SignalingNaN | Class::Unsupported
        )
    }
}

fn classify(fmt: Format, bits: u128, env: &mut Env) -> (bool, Class) {
    let sign = fmt.sign(bits);
    let exp_field = (bits >> fmt.exp_shift()) & fmt.exp_max_field();
    let frac = bits & fmt.frac_mask();
    let bias = fmt.bias();
    let shift = fmt.frac_bits as i32;
    if exp_field == fmt.exp_max_field() {
        if fmt.explicit_int && bits & fmt.int_bit() == 0 {
            // Pseudo-infinity / pseudo-NaN: invalid operands on the x87 (SDM Vol.1 §8.2.2).
            return (sign, Class::Unsupported);
        }
        return match (frac == 0, frac & fmt.quiet_bit() != 0) {
            (true, _) => (sign, Class::Infinity),
            (false, true) => (sign, Class::QuietNaN),
            (false, false) => (sign, Class::SignalingNaN),
        };
    }
    let sig = if fmt.explicit_int {
        frac | (bits & fmt.int_bit())
    } else {
        frac
    };
    if exp_field == 0 {
        if sig == 0 {
            return (sign, Class::Zero);
        }
        if env.denormals_are_zero {
            return (sign, Class::Zero);
        }
        env.flags |= exc::DENORMAL;
        return (
            sign,
            Class::Finite {
                sig,
                exp: 1 - bias - shift,
            },
        );
    }
    if fmt.explicit_int && bits & fmt.int_bit() == 0 {
        // Unnormal: an invalid operand for x87 arithmetic.
        return (sign, Class::Unsupported);
    }
    let sig = if fmt.explicit_int {
        sig
    } else {
        sig | (1u128 << fmt.frac_bits)
    };
    (
        sign,
        Class::Finite {
            sig,
            exp: exp_field as i32 - bias - shift,
        },
    )
}

/// The operand as an operation sees it: a denormal becomes a signed zero
/// under DAZ (used where an input is passed through, as by MINSD/MAXSD).
pub fn denormal_as_zero(fmt: Format, env: &Env, bits: u128) -> u128 {
    let exp_field = (bits >> fmt.exp_shift()) & fmt.exp_max_field();
    if env.denormals_are_zero && exp_field == 0 {
        fmt.zero(fmt.sign(bits))
    } else {
        bits
    }
}

/// Undoes a #D raised by the current operation (NaN operands and invalid
/// operations take priority over #D, SDM Vol.1 §4.9.2), keeping #D from
/// earlier lanes.
fn keep_denormal_flag(env: &mut Env, before: u8) {
    env.flags = (env.flags & !exc::DENORMAL) | (before & exc::DENORMAL);
}

/// Quiets a NaN encoding (sets the quiet bit).
pub fn quiet(fmt: Format, bits: u128) -> u128 {
    bits | fmt.quiet_bit() | fmt.int_bit()
}

/// True for any NaN encoding, or an x87 encoding that is never a number
/// (unnormal, pseudo-NaN, pseudo-infinity).
pub fn is_nan(fmt: Format, bits: u128) -> bool {
    let mut env = Env::from_mxcsr(0x1f80);
    classify(fmt, bits, &mut env).1.is_nan_like()
}

/// Result NaN for a two-operand operation when at least one input is NaN.
fn propagate_nan(fmt: Format, env: &mut Env, a: u128, ca: Class, b: u128, cb: Class) -> u128 {
    if ca == Class::Unsupported || cb == Class::Unsupported {
        env.flags |= exc::INVALID;
        return fmt.default_nan();
    }
    let a_nan = matches!(ca, Class::QuietNaN | Class::SignalingNaN);
    let b_nan = matches!(cb, Class::QuietNaN | Class::SignalingNaN);
    if ca == Class::SignalingNaN || cb == Class::SignalingNaN {
        env.flags |= exc::INVALID;
    }
    if env.x87_nan_rules && a_nan && b_nan && ca != cb {
        // x87: an SNaN and a QNaN give the QNaN (SDM Vol.1 Table 4-7).
        return if ca == Class::QuietNaN {
            quiet(fmt, a)
        } else {
            quiet(fmt, b)
        };
    }
    if env.x87_nan_rules && a_nan && b_nan {
        // x87: the NaN with the larger significand (SDM Vol.1 Table 4-7);
        // of two equal ones the positive, whatever the operand order
        // (observed on the host: −indefinite − +QNaN 0xC000… is the +QNaN).
        let mag =
            |v: u128| v & ((1u128 << fmt.sign_shift()) - 1) & (fmt.frac_mask() & !fmt.quiet_bit());
        let b_wins = mag(b) > mag(a) || (mag(b) == mag(a) && fmt.sign(a));
        return if b_wins { quiet(fmt, b) } else { quiet(fmt, a) };
    }
    if a_nan { quiet(fmt, a) } else { quiet(fmt, b) }
}

/// Shifts `sig` right by `shift` bits and rounds per `rounding`; returns
/// the kept integer and whether bits were lost.
fn shift_round(sig: u128, shift: i32, sign: bool, rounding: Rounding) -> (u128, bool) {
    let (kept, inexact, _) = shift_round_up(sig, shift, sign, rounding);
    (kept, inexact)
}

/// `shift_round`, also telling whether the magnitude was rounded up.
fn shift_round_up(
    mut sig: u128,
    mut shift: i32,
    sign: bool,
    rounding: Rounding,
) -> (u128, bool, bool) {
    if shift <= 0 {
        return (sig << (-shift) as u32, false, false);
    }
    if shift >= 130 {
        // Every bit is far below the half point: only stickiness matters.
        sig = (sig != 0) as u128;
        shift = 2;
    } else if shift > 126 {
        // Fold the lowest bits into a sticky bit so the shifts below fit in
        // 128 bits; the kept bits and the half bit are unaffected.
        let extra = (shift - 126) as u32;
        let lost = sig & ((1u128 << extra) - 1);
        sig = (sig >> extra) | (lost != 0) as u128;
        shift = 126;
    }
    let kept = sig >> shift;
    let rem = sig & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    let up = match rounding {
        Rounding::NearestEven => rem > half || (rem == half && kept & 1 == 1),
        Rounding::TowardZero => false,
        Rounding::Up => rem != 0 && !sign,
        Rounding::Down => rem != 0 && sign,
    };
    (kept + up as u128, rem != 0, up)
}

/// Rounds `sig × 2^exp` (sig != 0) into `fmt` with `precision` significant
/// bits (`precision` < format precision only for the x87 PC field).
fn round_pack_precision(
    fmt: Format,
    env: &mut Env,
    sign: bool,
    exp: i32,
    sig: u128,
    precision: u32,
) -> u128 {
    if sig == 0 {
        return fmt.zero(sign);
    }
    let exp = exp + env.exponent_bias;
    let p = precision as i32;
    let msb = 127 - sig.leading_zeros() as i32;
    let e = exp + msb;
    let bias = fmt.bias();
    let emin = 1 - bias;
    let emax = bias;
    // x86 detects tininess after rounding (as SoftFloat's 8086 model does):
    // round with an unbounded exponent and compare with 2^emin.
    let tiny = if e < emin {
        let (k, _) = shift_round(sig, e - (p - 1) - exp, sign, env.rounding);
        let rounded_e = e + (k >> p != 0) as i32;
        rounded_e < emin
    } else {
        false
    };
    env.rounded_up = false;
    if tiny && env.flush_to_zero {
        env.flags |= exc::UNDERFLOW | exc::INEXACT;
        return fmt.zero(sign);
    }
    let lsb = e.max(emin) - (p - 1);
    let (mut kept, inexact, up) = shift_round_up(sig, lsb - exp, sign, env.rounding);
    env.rounded_up = up;
    let mut lsb = lsb;
    if kept >> p != 0 {
        kept >>= 1;
        lsb += 1;
    }
    if inexact {
        env.flags |= exc::INEXACT;
    }
    if tiny && (inexact || env.underflow_unmasked) {
        env.flags |= exc::UNDERFLOW;
    }
    if kept == 0 {
        return fmt.zero(sign);
    }
    let normal = kept >> (p - 1) != 0;
    let e_final = if normal { lsb + p - 1 } else { emin - 1 };
    if e_final > emax {
        env.flags |= exc::OVERFLOW | exc::INEXACT;
        let to_infinity = match env.rounding {
            Rounding::NearestEven => true,
            Rounding::TowardZero => false,
            Rounding::Up => !sign,
            Rounding::Down => sign,
        };
        env.rounded_up = to_infinity;
        return if to_infinity {
            fmt.infinity(sign)
        } else {
            max_finite_at(fmt, sign, precision)
        };
    }
    // Widen a reduced-precision significand back to the format's width.
    let kept = kept << (fmt.precision() - precision);
    let biased = (e_final + bias) as u128;
    let stored = if fmt.explicit_int {
        kept
    } else {
        kept & fmt.frac_mask()
    };
    ((sign as u128) << fmt.sign_shift()) | (biased << fmt.exp_shift()) | stored
}

fn max_finite_at(fmt: Format, sign: bool, precision: u32) -> u128 {
    let drop = fmt.precision() - precision;
    fmt.max_finite(sign) & !((1u128 << drop) - 1)
}

/// Rounds `sig × 2^exp` into `fmt`.
fn round_pack(fmt: Format, env: &mut Env, sign: bool, exp: i32, sig: u128) -> u128 {
    round_pack_precision(fmt, env, sign, exp, sig, fmt.precision())
}

/// The two-operand arithmetic operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// a + b.
    Add,
    /// a − b.
    Sub,
    /// a × b.
    Mul,
    /// a ÷ b.
    Div,
}

/// `a op b` in `fmt`.
pub fn binary(fmt: Format, env: &mut Env, op: BinaryOp, a: u128, b: u128) -> u128 {
    binary_precision(fmt, env, op, a, b, fmt.precision())
}

/// `a op b` rounded to `precision` bits (x87 precision control).
pub fn binary_precision(
    fmt: Format,
    env: &mut Env,
    op: BinaryOp,
    a: u128,
    b: u128,
    precision: u32,
) -> u128 {
    let before = env.flags;
    let (sa, ca) = classify(fmt, a, env);
    let (mut sb, cb) = classify(fmt, b, env);
    let nan = |c: Class| c.is_nan_like();
    if nan(ca) || nan(cb) {
        keep_denormal_flag(env, before);
        return propagate_nan(fmt, env, a, ca, b, cb);
    }
    if op == BinaryOp::Sub {
        sb = !sb;
    }
    match op {
        BinaryOp::Add | BinaryOp::Sub => match (ca, cb) {
            (Class::Infinity, Class::Infinity) if sa != sb => invalid(fmt, env, before),
            (Class::Infinity, _) => fmt.infinity(sa),
            (_, Class::Infinity) => fmt.infinity(sb),
            (Class::Zero, Class::Zero) => {
                let sign = if sa == sb {
                    sa
                } else {
                    env.rounding == Rounding::Down
                };
                fmt.zero(sign)
            }
            (Class::Zero, Class::Finite { sig, exp }) => {
                round_pack_precision(fmt, env, sb, exp, sig, precision)
            }
            (Class::Finite { sig, exp }, Class::Zero) => {
                round_pack_precision(fmt, env, sa, exp, sig, precision)
            }
            (Class::Finite { sig: ma, exp: ea }, Class::Finite { sig: mb, exp: eb }) => {
                let (ma, ea, mb, eb, sa, sb) = if ea >= eb {
                    (ma, ea, mb, eb, sa, sb)
                } else {
                    (mb, eb, ma, ea, sb, sa)
                };
                // 62 guard bits below each significand, then align b to a.
                let (ma, mb) = (ma << 62, mb << 62);
                let d = (ea - eb) as u32;
                let mb = if d == 0 {
                    mb
                } else if d >= 126 {
                    (mb != 0) as u128
                } else {
                    (mb >> d) | ((mb & ((1u128 << d) - 1) != 0) as u128)
                };
                let exp = ea - 62;
                if sa == sb {
                    round_pack_precision(fmt, env, sa, exp, ma + mb, precision)
                } else if ma > mb {
                    round_pack_precision(fmt, env, sa, exp, ma - mb, precision)
                } else if mb > ma {
                    round_pack_precision(fmt, env, sb, exp, mb - ma, precision)
                } else {
                    fmt.zero(env.rounding == Rounding::Down)
                }
            }
            _ => unreachable_nan(fmt),
        },
        BinaryOp::Mul => {
            let sign = sa != sb;
            match (ca, cb) {
                (Class::Infinity, Class::Zero) | (Class::Zero, Class::Infinity) => {
                    invalid(fmt, env, before)
                }
                (Class::Infinity, _) | (_, Class::Infinity) => fmt.infinity(sign),
                (Class::Zero, _) | (_, Class::Zero) => fmt.zero(sign),
                (Class::Finite { sig: ma, exp: ea }, Class::Finite { sig: mb, exp: eb }) => {
                    round_pack_precision(fmt, env, sign, ea + eb, ma * mb, precision)
                }
                _ => unreachable_nan(fmt),
            }
        }
        BinaryOp::Div => {
            let sign = sa != sb;
            match (ca, cb) {
                (Class::Infinity, Class::Infinity) | (Class::Zero, Class::Zero) => {
                    invalid(fmt, env, before)
                }
                (Class::Infinity, _) => fmt.infinity(sign),
                (_, Class::Infinity) => fmt.zero(sign),
                (Class::Zero, _) => fmt.zero(sign),
                (Class::Finite { .. }, Class::Zero) => {
                    // A denormal dividend is not reported with #Z (observed on
                    // hardware). An x87 operation is a single lane, so any #D
                    // raised while converting its memory operand goes too.
                    if env.x87_nan_rules {
                        env.flags &= !exc::DENORMAL;
                    } else {
                        keep_denormal_flag(env, before);
                    }
                    env.flags |= exc::DIVIDE_BY_ZERO;
                    fmt.infinity(sign)
                }
                (Class::Finite { sig: ma, exp: ea }, Class::Finite { sig: mb, exp: eb }) => {
                    let (ma, ea) = normalize64(ma, ea);
                    let (mb, eb) = normalize64(mb, eb);
                    let num = ma << 64;
                    let (q1, r1) = (num / mb, num % mb);
                    let num2 = r1 << 62;
                    let (q2, r2) = (num2 / mb, num2 % mb);
                    let q = (((q1 << 62) | q2) << 1) | (r2 != 0) as u128;
                    round_pack_precision(fmt, env, sign, ea - eb - 64 - 62 - 1, q, precision)
                }
                _ => unreachable_nan(fmt),
            }
        }
    }
}

/// Scales a significand so its top bit is bit 63.
fn normalize64(sig: u128, exp: i32) -> (u128, i32) {
    let msb = 127 - sig.leading_zeros() as i32;
    let shift = 63 - msb;
    if shift >= 0 {
        (sig << shift, exp - shift)
    } else {
        (sig >> -shift, exp - shift)
    }
}

fn invalid(fmt: Format, env: &mut Env, before: u8) -> u128 {
    keep_denormal_flag(env, before);
    env.flags |= exc::INVALID;
    fmt.default_nan()
}

fn unreachable_nan(fmt: Format) -> u128 {
    // All NaN classes are handled before the match; keep a defined value.
    fmt.default_nan()
}

/// Square root.
pub fn sqrt(fmt: Format, env: &mut Env, a: u128) -> u128 {
    sqrt_precision(fmt, env, a, fmt.precision())
}

/// Square root rounded to `precision` bits.
pub fn sqrt_precision(fmt: Format, env: &mut Env, a: u128, precision: u32) -> u128 {
    let before = env.flags;
    let (sign, class) = classify(fmt, a, env);
    match class {
        Class::QuietNaN | Class::SignalingNaN | Class::Unsupported => {
            propagate_nan(fmt, env, a, class, a, class)
        }
        Class::Zero => fmt.zero(sign),
        _ if sign => invalid(fmt, env, before),
        Class::Infinity => fmt.infinity(false),
        Class::Finite { sig, exp } => {
            let (mut sig, mut exp) = (sig, exp);
            if exp & 1 != 0 {
                sig <<= 1;
                exp -= 1;
            }
            // Digit-by-digit root of N = sig << 2s with N just under 2^136,
            // giving a 68-bit root and an exact remainder.
            let width = 128 - sig.leading_zeros() as i32;
            let s = (136 - width) / 2;
            let bit_of_n = |j: i32| -> u128 {
                if j >= 2 * s {
                    (sig >> (j - 2 * s)) & 1
                } else {
                    0
                }
            };
            let (mut root, mut rem) = (0u128, 0u128);
            for i in 0..68 {
                let top = 135 - 2 * i;
                rem = (rem << 2) | (bit_of_n(top) << 1) | bit_of_n(top - 1);
                let trial = (root << 2) | 1;
                if rem >= trial {
                    rem -= trial;
                    root = (root << 1) | 1;
                } else {
                    root <<= 1;
                }
            }
            let root_exp = (exp - 2 * s) / 2;
            round_pack_precision(
                fmt,
                env,
                false,
                root_exp - 1,
                (root << 1) | (rem != 0) as u128,
                precision,
            )
        }
    }
}

/// Converts between formats (also used for f32/f64 ↔ x87 loads and stores).
pub fn convert(from: Format, to: Format, env: &mut Env, a: u128) -> u128 {
    let (sign, class) = classify(from, a, env);
    match class {
        Class::Zero => to.zero(sign),
        Class::Infinity => to.infinity(sign),
        Class::Unsupported => {
            env.flags |= exc::INVALID;
            to.default_nan()
        }
        Class::QuietNaN | Class::SignalingNaN => {
            if class == Class::SignalingNaN {
                env.flags |= exc::INVALID;
            }
            // A NaN keeps the high bits of its payload across formats (SDM Vol.1 §4.8.3.4).
            let frac = a & from.frac_mask();
            let moved = if to.frac_bits >= from.frac_bits {
                frac << (to.frac_bits - from.frac_bits)
            } else {
                frac >> (from.frac_bits - to.frac_bits)
            };
            quiet(to, to.infinity(sign) | moved)
        }
        Class::Finite { sig, exp } => round_pack(to, env, sign, exp, sig),
    }
}

/// Widens a single or double to extended precision for x87 arithmetic,
/// keeping a signalling NaN signalling (the arithmetic reports it), where
/// `convert` would quiet it.
pub fn widen_keep_snan(from: Format, env: &mut Env, a: u128) -> u128 {
    let mut scratch = *env;
    let (_, class) = classify(from, a, &mut scratch);
    if class == Class::SignalingNaN {
        let mut quiet_env = *env;
        return convert(from, F80, &mut quiet_env, a) & !F80.quiet_bit();
    }
    convert(from, F80, env, a)
}

/// Rounds to `precision` bits within the same format (x87 precision control
/// on loads is not applied; this serves FRNDINT-like internal uses).
pub fn from_integer(fmt: Format, env: &mut Env, value: i128) -> u128 {
    if value == 0 {
        return fmt.zero(false);
    }
    round_pack(fmt, env, value < 0, 0, value.unsigned_abs())
}

/// Converts to a signed integer of `bits` width (32 or 64, or 16 for the
/// x87), rounding per `env` or truncating. Out of range and NaN give the
/// integer indefinite (the most negative value) and #IA.
pub fn to_integer(fmt: Format, env: &mut Env, a: u128, bits: u32, truncate: bool) -> u64 {
    let indefinite = 1u64 << (bits - 1);
    // Conversions to integer do not report #D (SDM Vol.2A CVTSD2SI lists
    // only #I and #P); DAZ still applies.
    let saved_flags = env.flags;
    let (sign, class) = classify(fmt, a, env);
    keep_denormal_flag(env, saved_flags);
    let (sig, exp) = match class {
        Class::Zero => return 0,
        Class::Finite { sig, exp } => (sig, exp),
        _ => {
            env.flags |= exc::INVALID;
            return indefinite;
        }
    };
    let rounding = if truncate {
        Rounding::TowardZero
    } else {
        env.rounding
    };
    let magnitude = if exp >= 0 {
        if exp > 64 || (sig << exp as u32) >> exp as u32 != sig {
            env.flags |= exc::INVALID;
            return indefinite;
        }
        sig << exp as u32
    } else {
        let (k, inexact, up) = shift_round_up(sig, -exp, sign, rounding);
        if inexact {
            env.flags |= exc::INEXACT;
        }
        env.rounded_up = up;
        k
    };
    let limit = 1u128 << (bits - 1);
    if (!sign && magnitude >= limit) || (sign && magnitude > limit) {
        // Out of range reports #I alone: drop a #P raised by this conversion.
        env.flags = (env.flags & !exc::INEXACT) | (saved_flags & exc::INEXACT);
        env.flags |= exc::INVALID;
        return indefinite;
    }
    let v = if sign {
        (magnitude as i128).wrapping_neg()
    } else {
        magnitude as i128
    };
    (v as u64)
        & if bits == 64 {
            u64::MAX
        } else {
            (1u64 << bits) - 1
        }
}

/// Result of comparing two values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// a < b.
    Less,
    /// a == b.
    Equal,
    /// a > b.
    Greater,
    /// At least one NaN.
    Unordered,
}

/// Compares `a` with `b`. `signaling` raises #I for any NaN (COMISS),
/// otherwise only for SNaN (UCOMISS).
pub fn compare(fmt: Format, env: &mut Env, a: u128, b: u128, signaling: bool) -> Relation {
    let before = env.flags;
    let (sa, ca) = classify(fmt, a, env);
    let (sb, cb) = classify(fmt, b, env);
    let nan = |c: Class| c.is_nan_like();
    if nan(ca) || nan(cb) {
        keep_denormal_flag(env, before);
        let invalid_operand = |c: Class| matches!(c, Class::SignalingNaN | Class::Unsupported);
        if signaling || invalid_operand(ca) || invalid_operand(cb) {
            env.flags |= exc::INVALID;
        }
        return Relation::Unordered;
    }
    let key = |c: Class| -> (i8, i32, u128) {
        // Orders magnitudes: (class rank, exponent of top bit, normalized significand).
        match c {
            Class::Zero => (0, 0, 0),
            Class::Finite { sig, exp } => {
                let msb = 127 - sig.leading_zeros() as i32;
                (1, exp + msb, sig << sig.leading_zeros())
            }
            _ => (2, 0, 0),
        }
    };
    let (ka, kb) = (key(ca), key(cb));
    if ka.0 == 0 && kb.0 == 0 {
        return Relation::Equal;
    }
    let mag = ka.cmp(&kb);
    use core::cmp::Ordering::*;
    match (sa && ka.0 != 0, sb && kb.0 != 0) {
        (false, false) => match mag {
            Less => Relation::Less,
            Equal => Relation::Equal,
            Greater => Relation::Greater,
        },
        (true, true) => match mag {
            Less => Relation::Greater,
            Equal => Relation::Equal,
            Greater => Relation::Less,
        },
        (true, false) => Relation::Less,
        (false, true) => Relation::Greater,
    }
}

/// Rounds to an integral value in the same format (FRNDINT).
pub fn round_to_integral(fmt: Format, env: &mut Env, a: u128) -> u128 {
    let (sign, class) = classify(fmt, a, env);
    match class {
        Class::QuietNaN | Class::SignalingNaN | Class::Unsupported => {
            propagate_nan(fmt, env, a, class, a, class)
        }
        Class::Zero | Class::Infinity => a,
        Class::Finite { sig, exp } => {
            if exp >= 0 {
                return a;
            }
            let (k, inexact, up) = shift_round_up(sig, -exp, sign, env.rounding);
            if inexact {
                env.flags |= exc::INEXACT;
            }
            let r = if k == 0 {
                fmt.zero(sign)
            } else {
                round_pack(fmt, env, sign, 0, k)
            };
            env.rounded_up = up;
            r
        }
    }
}

/// Multiplies by 2^n (FSCALE with an already truncated, clamped `n`).
pub fn scale(fmt: Format, env: &mut Env, a: u128, n: i32) -> u128 {
    let (sign, class) = classify(fmt, a, env);
    match class {
        Class::QuietNaN | Class::SignalingNaN | Class::Unsupported => {
            propagate_nan(fmt, env, a, class, a, class)
        }
        Class::Zero | Class::Infinity => a,
        Class::Finite { sig, exp } => round_pack(fmt, env, sign, exp + n, sig),
    }
}

/// Unpacks a finite non-zero value as (sign, significand, exponent) with
/// value = sig × 2^exp; `None` for zeros, infinities and NaNs.
pub fn unpack_finite(fmt: Format, a: u128) -> Option<(bool, u128, i32)> {
    let mut env = Env::from_mxcsr(0x1f80);
    match classify(fmt, a, &mut env) {
        (sign, Class::Finite { sig, exp }) => Some((sign, sig, exp)),
        _ => None,
    }
}

/// Packs `sig × 2^exp` (rounding if needed); zero keeps `sign`.
pub fn pack(fmt: Format, env: &mut Env, sign: bool, exp: i32, sig: u128) -> u128 {
    if sig == 0 {
        fmt.zero(sign)
    } else {
        round_pack(fmt, env, sign, exp, sig)
    }
}

/// The operand classes FXAM distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// ±0.
    Zero,
    /// Denormal (or pseudo-denormal).
    Denormal,
    /// Normal finite.
    Normal,
    /// ±∞.
    Infinity,
    /// Any NaN.
    NaN,
    /// Unnormal, pseudo-NaN, pseudo-infinity (x87 "unsupported").
    Unsupported,
}

/// Classifies an encoding without raising flags.
pub fn category(fmt: Format, a: u128) -> Category {
    let exp_field = (a >> fmt.exp_shift()) & fmt.exp_max_field();
    let int_ok = !fmt.explicit_int || a & fmt.int_bit() != 0;
    let frac = a & fmt.frac_mask();
    if exp_field == fmt.exp_max_field() {
        if !int_ok {
            Category::Unsupported
        } else if frac == 0 {
            Category::Infinity
        } else {
            Category::NaN
        }
    } else if exp_field == 0 {
        if frac == 0 && (!fmt.explicit_int || a & fmt.int_bit() == 0) {
            Category::Zero
        } else {
            Category::Denormal
        }
    } else if !int_ok {
        Category::Unsupported
    } else {
        Category::Normal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Env {
        Env::from_mxcsr(0x1f80)
    }

    fn d(x: f64) -> u128 {
        x.to_bits() as u128
    }

    #[test]
    fn double_arithmetic_matches_ieee() {
        let cases = [
            (1.5, 2.25),
            (0.1, 0.2),
            (1e308, 1e308),
            (3.0, -3.0),
            (1e-310, 3.0),
            (-7.5, 1e-3),
        ];
        for (a, b) in cases {
            let mut e = env();
            assert_eq!(
                binary(F64, &mut e, BinaryOp::Add, d(a), d(b)),
                d(a + b),
                "{a} + {b}"
            );
            assert_eq!(
                binary(F64, &mut e, BinaryOp::Sub, d(a), d(b)),
                d(a - b),
                "{a} - {b}"
            );
            assert_eq!(
                binary(F64, &mut e, BinaryOp::Mul, d(a), d(b)),
                d(a * b),
                "{a} * {b}"
            );
            assert_eq!(
                binary(F64, &mut e, BinaryOp::Div, d(a), d(b)),
                d(a / b),
                "{a} / {b}"
            );
        }
        let mut e = env();
        assert_eq!(sqrt(F64, &mut e, d(2.0)), d(2f64.sqrt()));
        assert_eq!(e.flags, exc::INEXACT);
    }

    #[test]
    fn flags_and_special_values() {
        let mut e = env();
        assert_eq!(
            binary(F64, &mut e, BinaryOp::Div, d(1.0), d(0.0)),
            d(f64::INFINITY)
        );
        assert_eq!(e.flags, exc::DIVIDE_BY_ZERO);
        let mut e = env();
        assert_eq!(
            binary(F64, &mut e, BinaryOp::Mul, d(1e308), d(10.0)),
            d(f64::INFINITY)
        );
        assert_eq!(e.flags, exc::OVERFLOW | exc::INEXACT);
        let mut e = env();
        assert_eq!(
            binary(
                F64,
                &mut e,
                BinaryOp::Sub,
                d(f64::INFINITY),
                d(f64::INFINITY)
            ),
            F64.default_nan()
        );
        assert_eq!(e.flags, exc::INVALID);
    }

    #[test]
    fn exact_denormal_results_are_exact() {
        // 2^-16445 / 1.0 in round-up mode: a wide significand must not be
        // mistaken for an inexact one.
        let mut e = env();
        e.rounding = Rounding::Up;
        let r = binary_precision(
            F80,
            &mut e,
            BinaryOp::Div,
            1,
            0x3fff_8000_0000_0000_0000,
            64,
        );
        assert_eq!((r, e.flags & exc::INEXACT, e.rounded_up), (1, 0, false));
    }

    #[test]
    fn extended_precision_keeps_64_bits() {
        let mut e = env();
        let one = from_integer(F80, &mut e, 1);
        let three = from_integer(F80, &mut e, 3);
        let third = binary(F80, &mut e, BinaryOp::Div, one, three);
        // 1/3 in x87 extended: 0x3FFD AAAA AAAA AAAA AAAB.
        assert_eq!(third, 0x3ffd_aaaa_aaaa_aaaa_aaab);
    }
}
