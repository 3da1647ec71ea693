//! Packed BCD, the operand of FBLD and FBSTP (SDM Vol.1 §4.7, Figure 4-9):
//! 18 decimal digits, two per byte from the least significant byte up,
//! and a sign in bit 7 of the tenth byte.

use super::F80Bits;
use crate::cpu::softfloat::{self as sf, Env, F80, exc};

/// Digits in a packed BCD integer.
const DIGITS: u32 = 18;

/// What FBSTP stores for an invalid operand, masked: the packed BCD
/// indefinite, 0xFFFF_C000_0000_0000_0000 (SDM Vol.1 Table 4-4).
pub(super) const INDEFINITE: u128 = 0xffff_c000_0000_0000_0000;

/// FBLD: the value of a packed BCD integer, always exact. A nibble above
/// 9 counts with its binary value (the SDM leaves it undefined; this is
/// what the host does), so the sum stays below 2^61. A zero keeps its
/// sign.
pub(super) fn load(bits: u128) -> F80Bits {
    let magnitude = (0..DIGITS)
        .rev()
        .fold(0u64, |acc, i| acc * 10 + ((bits >> (4 * i)) & 0xf) as u64);
    let negative = (bits >> 79) & 1 != 0;
    if magnitude == 0 {
        return F80.zero(negative);
    }
    let mut env = Env::from_mxcsr(0x1f80);
    let value = magnitude as i128;
    sf::from_integer(F80, &mut env, if negative { -value } else { value })
}

/// FBSTP: ST(0) rounded to an integer per `env`'s rounding control. NaNs,
/// infinities, unsupported encodings and results of more than 18 digits
/// raise #IA alone (no #P) and give the indefinite; the sign of a zero
/// result is the operand's (SDM Vol.2A FBSTP).
pub(super) fn store(env: &mut Env, value: F80Bits) -> u128 {
    let before = env.flags;
    let integer = sf::to_integer(F80, env, value, 64, false) as i64;
    let magnitude = integer.unsigned_abs();
    if env.flags & exc::INVALID != 0 || magnitude >= 10u64.pow(DIGITS) {
        env.flags = (env.flags & !exc::INEXACT) | (before & exc::INEXACT) | exc::INVALID;
        env.rounded_up = false;
        return INDEFINITE;
    }
    let digits = (0..DIGITS).fold((0u128, magnitude), |(acc, rest), i| {
        (acc | ((rest % 10) as u128) << (4 * i), rest / 10)
    });
    let sign = if F80.sign(value) { 1u128 << 79 } else { 0 };
    digits.0 | sign
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::softfloat::Rounding;

    #[test]
    fn load_counts_invalid_digits_by_their_binary_value() {
        // Eighteen 0xF nibbles: 15 × 111…1 (as the host computes it).
        let all_f = (1u128 << 72) - 1;
        assert_eq!(load(all_f), 0x403b_b909_8406_0d35_5548);
        assert_eq!(load(1 << 79), F80.zero(true));
        assert_eq!(load(0x0a), 0x4002_a000_0000_0000_0000);
    }

    #[test]
    fn store_rounds_and_checks_the_range() {
        let mut env = Env::from_mxcsr(0x1f80);
        env.x87_nan_rules = true;
        // -0.3 rounds to -0 and keeps the sign.
        assert_eq!(store(&mut env, 0xbffd_9999_9999_9999_9999), 1 << 79);
        assert_eq!(env.flags, exc::INEXACT);
        // 10^18 - 0.5 rounds to 10^18 in round-to-nearest: invalid, no #P.
        let mut env = Env::from_mxcsr(0x1f80);
        assert_eq!(store(&mut env, 0x403a_de0b_6b3a_763f_fff8), INDEFINITE);
        assert_eq!(env.flags, exc::INVALID);
        // … and to 999 999 999 999 999 999 rounding down.
        let mut env = Env::from_mxcsr(0x1f80);
        env.rounding = Rounding::Down;
        assert_eq!(
            store(&mut env, 0x403a_de0b_6b3a_763f_fff8),
            0x0099_9999_9999_9999_9999
        );
    }
}
