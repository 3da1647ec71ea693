//! RFLAGS bits (SDM Vol.1 §3.4.3) and the arithmetic flag computations
//! shared by every family. Flags are computed eagerly and exactly.

use super::state::{sign_bit, size_mask};

/// Carry.
pub const CF: u64 = 1 << 0;
/// Always-one reserved bit 1.
pub const RESERVED_ONE: u64 = 1 << 1;
/// Parity of the low result byte.
pub const PF: u64 = 1 << 2;
/// Auxiliary carry (bit 3 → 4).
pub const AF: u64 = 1 << 4;
/// Zero.
pub const ZF: u64 = 1 << 6;
/// Sign.
pub const SF: u64 = 1 << 7;
/// Trap.
pub const TF: u64 = 1 << 8;
/// Interrupt enable.
pub const IF: u64 = 1 << 9;
/// Direction.
pub const DF: u64 = 1 << 10;
/// Overflow.
pub const OF: u64 = 1 << 11;
/// I/O privilege level (two bits).
pub const IOPL: u64 = 3 << 12;
/// Nested task.
pub const NT: u64 = 1 << 14;
/// Resume flag.
pub const RF: u64 = 1 << 16;
/// Virtual-8086 mode.
pub const VM: u64 = 1 << 17;
/// Alignment check.
pub const AC: u64 = 1 << 18;
/// CPUID-capable (software-writable in user mode).
pub const ID: u64 = 1 << 21;
/// The six status flags.
pub const STATUS: u64 = CF | PF | AF | ZF | SF | OF;

/// PF, ZF and SF for a `size`-byte result.
#[inline]
pub fn szp(result: u64, size: u8) -> u64 {
    let r = result & size_mask(size);
    let mut f = 0;
    if r == 0 {
        f |= ZF;
    }
    if r & sign_bit(size) != 0 {
        f |= SF;
    }
    if (r as u8).count_ones().is_multiple_of(2) {
        f |= PF;
    }
    f
}

/// Status flags of `a + b + carry` (ADD/ADC, SDM Vol.2A ADD).
#[inline]
pub fn add(a: u64, b: u64, carry: u64, size: u8) -> (u64, u64) {
    let m = size_mask(size);
    let (a, b) = (a & m, b & m);
    let wide = a as u128 + b as u128 + carry as u128;
    let r = (wide as u64) & m;
    let mut f = szp(r, size);
    if wide > m as u128 {
        f |= CF;
    }
    if (a ^ r) & (b ^ r) & sign_bit(size) != 0 {
        f |= OF;
    }
    if (a ^ b ^ r) & 0x10 != 0 {
        f |= AF;
    }
    (r, f)
}

/// Status flags of `a - b - borrow` (SUB/SBB/CMP/NEG).
#[inline]
pub fn sub(a: u64, b: u64, borrow: u64, size: u8) -> (u64, u64) {
    let m = size_mask(size);
    let (a, b) = (a & m, b & m);
    let r = a.wrapping_sub(b).wrapping_sub(borrow) & m;
    let mut f = szp(r, size);
    if (a as u128) < b as u128 + borrow as u128 {
        f |= CF;
    }
    if (a ^ b) & (a ^ r) & sign_bit(size) != 0 {
        f |= OF;
    }
    if (a ^ b ^ r) & 0x10 != 0 {
        f |= AF;
    }
    (r, f)
}

/// Status flags of a logical result: CF = OF = 0, AF cleared (undefined in the SDM).
#[inline]
pub fn logic(result: u64, size: u8) -> u64 {
    szp(result, size)
}

/// Evaluates condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc,
/// SDM Vol.1 Appendix B).
#[inline]
pub fn condition(rflags: u64, cc: u8) -> bool {
    let f = |bit: u64| rflags & bit != 0;
    let result = match cc >> 1 {
        0 => f(OF),
        1 => f(CF),
        2 => f(ZF),
        3 => f(CF) || f(ZF),
        4 => f(SF),
        5 => f(PF),
        6 => f(SF) != f(OF),
        _ => f(ZF) || (f(SF) != f(OF)),
    };
    result != (cc & 1 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_and_sub_flags() {
        assert_eq!(add(0x7f, 1, 0, 1), (0x80, OF | SF | AF));
        assert_eq!(add(0xff, 1, 0, 1), (0, CF | ZF | AF | PF));
        assert_eq!(sub(0, 1, 0, 4), (0xffff_ffff, CF | SF | AF | PF));
        assert_eq!(sub(0x8000_0000, 1, 0, 4), (0x7fff_ffff, OF | AF | PF));
        assert_eq!(add(u64::MAX, 0, 1, 8).1 & (CF | ZF), CF | ZF);
    }

    #[test]
    fn conditions() {
        assert!(condition(ZF, 0x4)); // E
        assert!(!condition(ZF, 0x5)); // NE
        assert!(condition(SF, 0xc)); // L: SF != OF
        assert!(condition(SF | OF, 0xd)); // GE
        assert!(condition(CF, 0x6)); // BE
    }
}
