//! SSE/SSE2 floating point: packed and scalar arithmetic, MIN/MAX, SQRT,
//! comparisons, COMISS/UCOMISS and conversions, computed with `softfloat`
//! under MXCSR rounding, DAZ/FTZ and exception flags (SDM Vol.1 §11.5).

use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::operand::Loc;
use super::softfloat::{self as sf, BinaryOp, Env, F32, F64, Format, Relation};
use super::state::Cpu;
use crate::mmu::Memory;

/// Lane layout selected by the mandatory prefix.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Four singles (no prefix).
    PackedSingle,
    /// Two doubles (66).
    PackedDouble,
    /// Low single (F3).
    ScalarSingle,
    /// Low double (F2).
    ScalarDouble,
}

impl Shape {
    fn from_prefix(prefix: u8) -> Shape {
        match prefix {
            0x66 => Shape::PackedDouble,
            0xf3 => Shape::ScalarSingle,
            0xf2 => Shape::ScalarDouble,
            _ => Shape::PackedSingle,
        }
    }
    fn format(self) -> Format {
        match self {
            Shape::PackedSingle | Shape::ScalarSingle => F32,
            _ => F64,
        }
    }
    fn lane_bits(self) -> u32 {
        if self.format() == F32 { 32 } else { 64 }
    }
    fn lanes(self) -> u32 {
        match self {
            Shape::PackedSingle => 4,
            Shape::PackedDouble => 2,
            _ => 1,
        }
    }
    fn scalar(self) -> bool {
        matches!(self, Shape::ScalarSingle | Shape::ScalarDouble)
    }
}

fn lane(v: u128, bits: u32, i: u32) -> u128 {
    (v >> (bits * i)) & ((1u128 << bits) - 1)
}

fn set_lane(v: u128, bits: u32, i: u32, x: u128) -> u128 {
    let mask = ((1u128 << bits) - 1) << (bits * i);
    (v & !mask) | ((x << (bits * i)) & mask)
}

impl Cpu {
    /// Merges `env`'s flags into MXCSR; an unmasked exception faults with
    /// #XM before any destination is written (SDM Vol.1 §11.5.1).
    pub(super) fn finish_simd(&mut self, env: &Env) -> Result<(), Exception> {
        self.mxcsr |= env.flags as u32;
        let masks = (self.mxcsr >> 7) & 0x3f;
        if env.flags as u32 & !masks != 0 {
            return Err(Exception::SimdFloatingPoint);
        }
        Ok(())
    }

    /// Source operand for `shape`: full register/aligned m128 for packed,
    /// the low lane (m32/m64, unaligned) for scalar.
    fn float_source<M: Memory>(
        &self,
        mem: &mut M,
        insn: &Insn,
        shape: Shape,
    ) -> Result<u128, Exception> {
        if shape.scalar() {
            match self.rm_loc(insn)? {
                Loc::Reg(r) => Ok(self.xmm[r as usize]),
                Loc::Mem(addr) => {
                    Ok(self.read_mem(mem, addr, (shape.lane_bits() / 8) as u8)? as u128)
                }
            }
        } else {
            self.check_aligned16(insn)?;
            match self.rm_loc(insn)? {
                Loc::Reg(r) => Ok(self.xmm[r as usize]),
                Loc::Mem(addr) => {
                    if !addr.is_multiple_of(16) {
                        return Err(Exception::GeneralProtection(0));
                    }
                    self.read_mem128(mem, addr)
                }
            }
        }
    }

    /// A 64-bit source for the conversions that read two lanes (m64 unaligned).
    fn low64_source<M: Memory>(&self, mem: &mut M, insn: &Insn) -> Result<u128, Exception> {
        match self.rm_loc(insn)? {
            Loc::Reg(r) => Ok(self.xmm[r as usize] & u64::MAX as u128),
            Loc::Mem(addr) => Ok(self.read_mem(mem, addr, 8)? as u128),
        }
    }
}

/// Executes an SSE floating-point opcode of map 0F; `None` if not one.
pub fn execute<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Option<Result<(), Stop>> {
    let prefix = insn.sse_prefix();
    let op = insn.opcode;
    let handled = match (prefix, op) {
        (0 | 0xf3, 0x52 | 0x53) => approximate(cpu, mem, insn, Shape::from_prefix(prefix)),
        (_, 0x51 | 0x58 | 0x59 | 0x5c..=0x5f) => {
            arithmetic(cpu, mem, insn, Shape::from_prefix(prefix))
        }
        (_, 0xc2) => compare_packed(cpu, mem, insn, Shape::from_prefix(prefix)),
        (0 | 0x66, 0x2e | 0x2f) => comis(cpu, mem, insn, if prefix == 0 { F32 } else { F64 }),
        (0xf3 | 0xf2, 0x2a) => int_to_scalar(cpu, mem, insn),
        (0xf3 | 0xf2, 0x2c | 0x2d) => scalar_to_int(cpu, mem, insn),
        (_, 0x5a) => convert_precision(cpu, mem, insn, prefix),
        (_, 0x5b) | (0x66 | 0xf3 | 0xf2, 0xe6) => convert_integers(cpu, mem, insn, prefix),
        (0x66 | 0xf2, 0x7c | 0x7d | 0xd0) => horizontal(cpu, mem, insn, prefix),
        _ => return None,
    };
    Some(handled.map_err(Stop::from))
}

fn arithmetic<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    insn: &Insn,
    shape: Shape,
) -> Result<(), Exception> {
    let src = cpu.float_source(mem, insn, shape)?;
    let dst = cpu.xmm[insn.reg as usize];
    let mut env = Env::from_mxcsr(cpu.mxcsr);
    let (fmt, bits) = (shape.format(), shape.lane_bits());
    let mut out = dst;
    for i in 0..shape.lanes() {
        let (a, b) = (lane(dst, bits, i), lane(src, bits, i));
        let r = match insn.opcode {
            0x51 => sf::sqrt(fmt, &mut env, b),
            0x58 => sf::binary(fmt, &mut env, BinaryOp::Add, a, b),
            0x59 => sf::binary(fmt, &mut env, BinaryOp::Mul, a, b),
            0x5c => sf::binary(fmt, &mut env, BinaryOp::Sub, a, b),
            0x5e => sf::binary(fmt, &mut env, BinaryOp::Div, a, b),
            // MIN/MAX: the second operand unless the first strictly wins;
            // any NaN raises #I and also yields the second (SDM Vol.2B MINPS).
            0x5d => {
                let pick = if sf::compare(fmt, &mut env, a, b, true) == Relation::Less {
                    a
                } else {
                    b
                };
                sf::denormal_as_zero(fmt, &env, pick)
            }
            _ => {
                let pick = if sf::compare(fmt, &mut env, a, b, true) == Relation::Greater {
                    a
                } else {
                    b
                };
                sf::denormal_as_zero(fmt, &env, pick)
            }
        };
        out = set_lane(out, bits, i, r);
    }
    cpu.finish_simd(&env)?;
    cpu.xmm[insn.reg as usize] = out;
    Ok(())
}

/// SSE3 HADDPS/HADDPD, HSUBPS/HSUBPD (pairs within each source, low half
/// from the destination) and ADDSUBPS/ADDSUBPD (subtract even, add odd lanes).
fn horizontal<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    insn: &Insn,
    prefix: u8,
) -> Result<(), Exception> {
    let shape = if prefix == 0xf2 {
        Shape::PackedSingle
    } else {
        Shape::PackedDouble
    };
    let src = cpu.float_source(mem, insn, shape)?;
    let dst = cpu.xmm[insn.reg as usize];
    let mut env = Env::from_mxcsr(cpu.mxcsr);
    let (fmt, bits, n) = (shape.format(), shape.lane_bits(), shape.lanes());
    let mut out = 0u128;
    for i in 0..n {
        let r = if insn.opcode == 0xd0 {
            let op = if i % 2 == 0 {
                BinaryOp::Sub
            } else {
                BinaryOp::Add
            };
            sf::binary(fmt, &mut env, op, lane(dst, bits, i), lane(src, bits, i))
        } else {
            let (v, k) = if i < n / 2 {
                (dst, 2 * i)
            } else {
                (src, 2 * (i - n / 2))
            };
            let op = if insn.opcode == 0x7c {
                BinaryOp::Add
            } else {
                BinaryOp::Sub
            };
            sf::binary(fmt, &mut env, op, lane(v, bits, k), lane(v, bits, k + 1))
        };
        out = set_lane(out, bits, i, r);
    }
    cpu.finish_simd(&env)?;
    cpu.xmm[insn.reg as usize] = out;
    Ok(())
}

/// RCPPS/RCPSS (53) and RSQRTPS/RSQRTSS (52). The SDM only bounds their
/// error (|rel| ≤ 1.5·2^-12); the results here are the host AMD CPU's, bit
/// for bit: a 12-bit fraction that depends only on the top 12 fraction bits
/// of the input (and, for RSQRT, the exponent's parity). Denormal inputs
/// count as zero, denormal results flush to zero, no flags change.
fn approximate<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    insn: &Insn,
    shape: Shape,
) -> Result<(), Exception> {
    let src = cpu.float_source(mem, insn, shape)?;
    let mut out = cpu.xmm[insn.reg as usize];
    for i in 0..shape.lanes() {
        let x = lane(src, 32, i) as u32;
        let r = if insn.opcode == 0x53 {
            reciprocal_approx(x)
        } else {
            reciprocal_sqrt_approx(x)
        };
        out = set_lane(out, 32, i, r as u128);
    }
    cpu.xmm[insn.reg as usize] = out;
    Ok(())
}

/// RCPSS on one single.
fn reciprocal_approx(x: u32) -> u32 {
    let sign = x & 0x8000_0000;
    let exp_field = (x >> 23) & 0xff;
    match exp_field {
        0xff if x & 0x7f_ffff != 0 => x | 0x40_0000, // QNaN
        0xff => sign,                                // 1/±∞ = ±0
        0 => sign | 0x7f80_0000,                     // ±0 and denormals: ±∞
        _ => {
            // 1/(m·2^e) = (2/m)·2^(−e−1), with 2/m in (1, 2].
            let result_exp = 253 - exp_field as i32;
            if result_exp <= 0 {
                return sign; // would be denormal: flushed
            }
            let index = (x >> 11) & 0xfff;
            let fraction = approx_fraction(index, reciprocal_ideal(index), &RCP_CORRECTION);
            sign | (result_exp as u32) << 23 | fraction << 11
        }
    }
}

/// RSQRTSS on one single.
fn reciprocal_sqrt_approx(x: u32) -> u32 {
    let sign = x & 0x8000_0000;
    let exp_field = (x >> 23) & 0xff;
    match exp_field {
        0xff if x & 0x7f_ffff != 0 => x | 0x40_0000, // QNaN
        0 => sign | 0x7f80_0000,                     // ±0 and denormals: ±∞
        _ if sign != 0 => F32.default_nan() as u32,
        0xff => 0,
        _ => {
            // x = m·2^E: 1/√x = (2/√m)·2^(−E/2 − 1) for even E, and with
            // m' = 2m, E' = E − 1 for odd E; 2/√m' in (1, 2].
            let e = exp_field as i32 - 127;
            let odd = e & 1 != 0;
            let result_exp = 126 - (e - odd as i32) / 2;
            let index = (x >> 11) & 0xfff;
            let (ideal, correction) = if odd {
                (reciprocal_sqrt_ideal(index, 1 << 40), &RSQRT_ODD_CORRECTION)
            } else {
                (
                    reciprocal_sqrt_ideal(index, 1 << 41),
                    &RSQRT_EVEN_CORRECTION,
                )
            };
            let fraction = approx_fraction(index, ideal, correction);
            (result_exp as u32) << 23 | fraction << 11
        }
    }
}

/// The 12-bit fraction nearest to 2/m at the middle of input interval
/// `index` (m = 1 + (index + ½)/4096): 4096·(8191 − 2i)/(8193 + 2i).
fn reciprocal_ideal(index: u32) -> u32 {
    let (num, den) = (4096 * (8191 - 2 * index as u64), 8193 + 2 * index as u64);
    ((2 * num + den) / (2 * den)) as u32
}

/// The 12-bit fraction nearest to 2/√m' at the middle of interval `index`:
/// with S = 4096·√(4/m'), 4S² = `four_s2_scaled` / (8193 + 2i), where the
/// scale is 2^41 for m' = m (even exponent) and 2^40 for m' = 2m (odd).
fn reciprocal_sqrt_ideal(index: u32, four_s2_scaled: u64) -> u32 {
    let two_s = (four_s2_scaled / (8193 + 2 * index as u64)).isqrt();
    // round(S) = ⌈⌊2S⌋ / 2⌉.
    (two_s.div_ceil(2) - 4096) as u32
}

/// The ideal fraction plus the host's per-interval correction (−1, 0 or
/// +1, two bits each: 0b00 = 0, 0b01 = +1, 0b11 = −1).
fn approx_fraction(index: u32, ideal: u32, correction: &[u64; 128]) -> u32 {
    let bits = (correction[index as usize / 32] >> (2 * (index % 32))) & 3;
    match bits {
        1 => ideal + 1,
        3 => ideal - 1,
        _ => ideal,
    }
}

// Corrections measured on the host (AMD EPYC) for every one of the 4096
// input intervals; `tests/sse_approximations.rs` checks them against the
// host exhaustively.
#[rustfmt::skip]
const RCP_CORRECTION: [u64; 128] = [
    0x5550000f5550000f, 0x000f000f5550000f, 0x5550055055505550, 0x055001500050000c,
    0x0050015005500550, 0x0050055000000010, 0x0050155501501555, 0xfc0c005000100551,
    0x141000c3040030f3, 0x55514504040030c3, 0x1451410404104003, 0x1451451414514514,
    0xc000000004104104, 0x0410451400104104, 0xc000411404104514, 0xc0104515f30c0104,
    0x5511103351110033, 0x1110003351111033, 0x1100003355551100, 0x1111110011111100,
    0x0000110011111100, 0x0001110011555544, 0x1111554411111144, 0x0111154411115545,
    0x55514410144100c3, 0x14410400104000c3, 0x1441041014510410, 0x000000c310410000,
    0x0000000010410410, 0x0041041000000000, 0x0000041000410410, 0x00414514c30c0000,
    0x0501010304000c0f, 0x4541414045414140, 0x0501414045414140, 0x4551515404000100,
    0x0541515004010140, 0x30000100300c0000, 0x300c010030000100, 0x04014154f03c0000,
    0x5455401500500000, 0x00540010004000c0, 0x0055001500550014, 0x0050001400540015,
    0x0055401503000000, 0x0055001500000014, 0x0f000015ff0000c0, 0x0300001503000015,
    0x0000000040000000, 0x5500000055555540, 0x4000000000000000, 0x0000000055555555,
    0x0000000000000000, 0x0000000000000000, 0x5555555500000000, 0x0000000000000015,
    0x5555500000001000, 0x0000000000000ffc, 0x0005500000015000, 0x0001500000055000,
    0x00000fc000000000, 0x0000100000555000, 0x0000100001555005, 0xfc000f0000055001,
    0x5550154015500540, 0x000f003f000f003f, 0x0550054015501540, 0x0000000000500140,
    0x0010014005505541, 0x00100140f00f0030, 0xc00c000001501541, 0x0010054000000040,
    0x0000300c0000300c, 0x00c0300c0000300c, 0x0501405015054150, 0x00c0300c01004010,
    0x00c0000005014050, 0xc0c0300001014150, 0x0501415100004050, 0xc0c00010f0f03000,
    0x5050500010101000, 0x1010100010505040, 0x0000003010101000, 0x505050410c0c0c30,
    0x0c0c003000101000, 0x0c0c003010105040, 0x0f0c0c3000101040, 0x001050410c001000,
    0x5041040010400000, 0x5145041051410410, 0x5145041051450410, 0x1041041051410410,
    0x0000000010400000, 0x104104100c30c30c, 0x5145145100000000, 0x0c30c30c00000010,
    0x1000100000c30cf3, 0x00c300c351045104, 0x1004100010000000, 0x5114510451041104,
    0x00c30cc30cc30cc3, 0x0cc30cc30cc30cc3, 0x1104110451045114, 0x0000000010041004,
    0x114451140c0300c0, 0x0c0300c000401004, 0x0c00000010441104, 0x0c03000010441104,
    0xcc330cc000401104, 0x004011040c000004, 0xcc3300c010445115, 0x000010040c000004,
    0x000c003300cc0333, 0x000c0033000c0033, 0x0ccc033300cc0033, 0x1110444411114444,
    0x0000000010004400, 0x111044440ccc0033, 0xcccc003300004000, 0x00cc000010004444,
    0x00ccc00011000444, 0xccccc00010000444, 0x1111044400000440, 0x00000440ccccc000,
    0x1111155400000444, 0xccccc000ccccc000, 0x0000044400000444, 0x0000044400000444,
];
#[rustfmt::skip]
const RSQRT_EVEN_CORRECTION: [u64; 128] = [
    0x0000ffff0000ffff, 0x555500000000ffff, 0x0000ffff00050000, 0x5555000000050000,
    0x0000f0000000fff0, 0x0000000000000000, 0x0000f0000000c000, 0x00150000c000ffc0,
    0x000000f055001500, 0x00f000fc55001500, 0x0500050001000000, 0x5500550015001500,
    0x0500150015001500, 0x00c0000001000500, 0x0100050000fc00f0, 0x0100150000f00000,
    0x5015014010010000, 0x000000300c00c03c, 0x1001004000010000, 0x0001004000010040,
    0x0f00c0300c000000, 0x0001004050150541, 0x000501410f00c000, 0x000101400f000000,
    0x5050504010101030, 0x0000003c0c0c0c3f, 0x0000003000000030, 0x0000003000000030,
    0x0c0c0c3c00000030, 0x1010100050505041, 0x105051410c000030, 0x1050514100001000,
    0x100000000c30f0c3, 0x0c30c0c350410504, 0x100001000000c000, 0x1041050410410104,
    0x1041050410410504, 0x0000010410410104, 0x0c30c00000000104, 0x0000010410410514,
    0x145104100000c30c, 0x1451041004100000, 0x0451041000000000, 0x00100000c000c30c,
    0x1451045104110410, 0xc000c000c300c30c, 0x0000000000000000, 0x0000000000000000,
    0x1045110411451104, 0x0001000010411004, 0x114511040c0000c0, 0x0c0000c000411004,
    0x0001000010451104, 0x0c01000010451104, 0xcc0000c000451104, 0x1045111400011004,
    0x4111044401000400, 0x3000c00345111444, 0x0000000030000000, 0x0100040000000400,
    0x0000040000000400, 0x3000c00030000000, 0x0111144430ccc003, 0x3000040001100444,
    0x1111000055511111, 0x511111110000000c, 0x5551111111000000, 0x5511111111000000,
    0x1111111110000000, 0x111000000000000c, 0x000000cc11111111, 0x1111110000000000,
    0x0000000000000000, 0x4444444444444440, 0x4444444444444444, 0x4444444444444444,
    0x4444444444444444, 0x0000000000004444, 0x4445555500000000, 0x0004444444444444,
    0x0000000011110000, 0x1111000015554444, 0x1111044400003300, 0x1115444400010000,
    0x1115444400110000, 0x1111044400000000, 0x0111000000003300, 0x0000300011154444,
    0x10000400030000cc, 0x5444551110444401, 0x00000000030000cc, 0x1004440010000400,
    0x1044441110044401, 0x1444451110444511, 0x1044451114444511, 0x1004441110444511,
    0x0000003000040000, 0x445511443000c033, 0x0044010004451104, 0x3000c03300040000,
    0x0044010044451104, 0x4445114430000030, 0x3000c03000440100, 0x0000000004441104,
    0x1000000014411044, 0x1000000054411044, 0x000c030014411044, 0x000c030014411044,
    0x1441104510401004, 0x10401004000c0300, 0x000c030014411045, 0x1040104410000000,
    0x03000000c330c030, 0x1004110400040100, 0x1045114510441144, 0xc300c00014451545,
    0x030000000300c000, 0x0000000003000000, 0x0300000000000100, 0x0300000003000000,
    0x0400041004100410, 0x0000000000000400, 0x4514551400c30003, 0x0410441045104514,
    0x0003000000000400, 0x0410451045144514, 0x00c3000000000410, 0x0000041044104514,
];
#[rustfmt::skip]
const RSQRT_ODD_CORRECTION: [u64; 128] = [
    0x504104001000000c, 0x0c30c3cf51450410, 0x514514500c30c30f, 0x1041041051451410,
    0x0000000010410410, 0x1041041051451451, 0x104104100c30c000, 0x000004100c30c300,
    0x4104110400001000, 0x30c300c341145104, 0x30c000c030c000c0, 0x30c000c030c000c0,
    0x4114511430c300c0, 0x3000100401041104, 0x010451143cc300c0, 0x0104511430c00004,
    0x03300cc344011004, 0x4441110440010000, 0x000000c003300cc3, 0x4401100440010004,
    0x4441110444411104, 0x4401110444411104, 0x0001100444011104, 0x033000c000000004,
    0x111110040000ccc0, 0x000cccc010000004, 0x00000cc011110004, 0x0000ccc011110004,
    0x1111111510000004, 0x00000004000000c0, 0xccccccc011111114, 0x000000040000ccc0,
    0x4444444444444444, 0x4444444444444444, 0x4444444444444444, 0x0000000000004444,
    0x3333333000000000, 0x0000000044444444, 0x0044444433330000, 0x4444444400000000,
    0x544444411000000c, 0x104444401000000c, 0x100004400330000c, 0x0330000c14444441,
    0x1000444000000040, 0x0333300c10444451, 0x030000000330000c, 0x0000004003000000,
    0x4411104445111044, 0x4401100444111044, 0x0400100044011004, 0x00cc030000000000,
    0x4401100445111444, 0x00cc030000000000, 0x0000100044111044, 0x0401100430cc0330,
    0x0441104400000300, 0x0441104400000000, 0x04411044000c0300, 0x00401004300c0300,
    0x300c030004411044, 0x0441104400001004, 0x300c0000330cc330, 0x0040104400001004,
    0x0010000000000c00, 0x4010401040100010, 0x4110411041104010, 0x4110411041104110,
    0x4010401041104110, 0x0010001000104010, 0x0c000c0000000000, 0x411441140cc30c03,
    0x0400000044104100, 0x4514510400030c30, 0x0000003004104100, 0x0410410030c30c33,
    0x4510410400000c30, 0x30c30c3000000000, 0x30c30c3004100000, 0x30c30c3004104000,
    0x4514514500000000, 0x0410410400000000, 0x0000000030c30c30, 0x30c30c3004104104,
    0x0410410400000000, 0x0000000030c30c30, 0x0410410400004104, 0x30c30c3045145145,
    0x0030c30c0030c30c, 0x0400000000300000, 0x0400004104000001, 0x0404104104001041,
    0x0404104104041041, 0x0400104104041041, 0x0400004104001041, 0x0000000004000001,
    0x414504140c30f0c3, 0x0104001041050410, 0x0c0030c000000000, 0x410504100c30f0c3,
    0x0000300000040010, 0x410404100c30f0c3, 0x0c3030c000000000, 0x0000000041050410,
    0x010404100c3030c3, 0x410504140c003000, 0x3c30f0c300000000, 0x0c3030c000040010,
    0x0c3030c000040410, 0x0c3030c000040410, 0x3c30f0c000040010, 0x4105041400000010,
    0x0404040000003030, 0x04000000303030f0, 0x303030f005040404, 0x0504040404000000,
    0x00000030303030f0, 0x0505050404040400, 0x0000003030303030, 0x0504040404040000,
    0x3030303030f0f0f0, 0x0000000000000030, 0x0504040404040404, 0xf0f0f0f005050505,
    0x3030303030303030, 0x0000003030303030, 0x0000000000000000, 0x0000000000000000,
];

fn compare_packed<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    insn: &Insn,
    shape: Shape,
) -> Result<(), Exception> {
    let src = cpu.float_source(mem, insn, shape)?;
    let dst = cpu.xmm[insn.reg as usize];
    let mut env = Env::from_mxcsr(cpu.mxcsr);
    let (fmt, bits) = (shape.format(), shape.lane_bits());
    let predicate = insn.imm & 7;
    // EQ, UNORD, NEQ, ORD are quiet; LT, LE, NLT, NLE signal on QNaN (SDM Vol.2A CMPPS).
    let signaling = matches!(predicate, 1 | 2 | 5 | 6);
    let mut out = dst;
    for i in 0..shape.lanes() {
        let rel = sf::compare(
            fmt,
            &mut env,
            lane(dst, bits, i),
            lane(src, bits, i),
            signaling,
        );
        let truth = match predicate {
            0 => rel == Relation::Equal,
            1 => rel == Relation::Less,
            2 => matches!(rel, Relation::Less | Relation::Equal),
            3 => rel == Relation::Unordered,
            4 => rel != Relation::Equal,
            5 => !matches!(rel, Relation::Less),
            6 => !matches!(rel, Relation::Less | Relation::Equal),
            _ => rel != Relation::Unordered,
        };
        out = set_lane(out, bits, i, if truth { (1u128 << bits) - 1 } else { 0 });
    }
    cpu.finish_simd(&env)?;
    cpu.xmm[insn.reg as usize] = out;
    Ok(())
}

fn comis<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn, fmt: Format) -> Result<(), Exception> {
    let shape = if fmt == F32 {
        Shape::ScalarSingle
    } else {
        Shape::ScalarDouble
    };
    let src = cpu.float_source(mem, insn, shape)?;
    let bits = shape.lane_bits();
    let mut env = Env::from_mxcsr(cpu.mxcsr);
    let rel = sf::compare(
        fmt,
        &mut env,
        lane(cpu.xmm[insn.reg as usize], bits, 0),
        lane(src, bits, 0),
        insn.opcode == 0x2f,
    );
    cpu.finish_simd(&env)?;
    cpu.set_compare_flags(rel);
    Ok(())
}

fn int_to_scalar<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Exception> {
    let size = if insn.rex_w() { 8 } else { 4 };
    let raw = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, size)?;
    let value = if size == 8 {
        raw as i64 as i128
    } else {
        raw as u32 as i32 as i128
    };
    let (fmt, bits) = if insn.rep == 0xf3 {
        (F32, 32)
    } else {
        (F64, 64)
    };
    let mut env = Env::from_mxcsr(cpu.mxcsr);
    let r = sf::from_integer(fmt, &mut env, value);
    cpu.finish_simd(&env)?;
    let d = &mut cpu.xmm[insn.reg as usize];
    *d = set_lane(*d, bits, 0, r);
    Ok(())
}

fn scalar_to_int<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Exception> {
    let shape = if insn.rep == 0xf3 {
        Shape::ScalarSingle
    } else {
        Shape::ScalarDouble
    };
    let src = lane(cpu.float_source(mem, insn, shape)?, shape.lane_bits(), 0);
    let size: u8 = if insn.rex_w() { 8 } else { 4 };
    let mut env = Env::from_mxcsr(cpu.mxcsr);
    let r = sf::to_integer(
        shape.format(),
        &mut env,
        src,
        size as u32 * 8,
        insn.opcode == 0x2c,
    );
    cpu.finish_simd(&env)?;
    cpu.write_reg(insn.reg, size, false, r);
    Ok(())
}

fn convert_precision<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    insn: &Insn,
    prefix: u8,
) -> Result<(), Exception> {
    let mut env = Env::from_mxcsr(cpu.mxcsr);
    let dst = cpu.xmm[insn.reg as usize];
    let out = match prefix {
        0 => {
            // CVTPS2PD: two singles (m64) to two doubles.
            let src = cpu.low64_source(mem, insn)?;
            let lo = sf::convert(F32, F64, &mut env, lane(src, 32, 0));
            let hi = sf::convert(F32, F64, &mut env, lane(src, 32, 1));
            lo | (hi << 64)
        }
        0x66 => {
            let src = cpu.float_source(mem, insn, Shape::PackedDouble)?;
            let lo = sf::convert(F64, F32, &mut env, lane(src, 64, 0));
            let hi = sf::convert(F64, F32, &mut env, lane(src, 64, 1));
            lo | (hi << 32)
        }
        0xf3 => {
            let src = cpu.float_source(mem, insn, Shape::ScalarSingle)?;
            set_lane(
                dst,
                64,
                0,
                sf::convert(F32, F64, &mut env, lane(src, 32, 0)),
            )
        }
        _ => {
            let src = cpu.float_source(mem, insn, Shape::ScalarDouble)?;
            set_lane(
                dst,
                32,
                0,
                sf::convert(F64, F32, &mut env, lane(src, 64, 0)),
            )
        }
    };
    cpu.finish_simd(&env)?;
    cpu.xmm[insn.reg as usize] = out;
    Ok(())
}

fn convert_integers<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    insn: &Insn,
    prefix: u8,
) -> Result<(), Exception> {
    let mut env = Env::from_mxcsr(cpu.mxcsr);
    let int32 = |v: u128| v as u32 as i32 as i128;
    let out = match (insn.opcode, prefix) {
        (0x5b, 0) => {
            // CVTDQ2PS.
            let src = cpu.float_source(mem, insn, Shape::PackedSingle)?;
            (0..4).fold(0u128, |acc, i| {
                acc | sf::from_integer(F32, &mut env, int32(lane(src, 32, i))) << (32 * i)
            })
        }
        (0x5b, 0x66 | 0xf3) => {
            // CVTPS2DQ / CVTTPS2DQ.
            let src = cpu.float_source(mem, insn, Shape::PackedSingle)?;
            let truncate = prefix == 0xf3;
            (0..4).fold(0u128, |acc, i| {
                acc | (sf::to_integer(F32, &mut env, lane(src, 32, i), 32, truncate) as u128)
                    << (32 * i)
            })
        }
        (0xe6, 0xf3) => {
            // CVTDQ2PD: two doublewords (m64).
            let src = cpu.low64_source(mem, insn)?;
            (0..2).fold(0u128, |acc, i| {
                acc | sf::from_integer(F64, &mut env, int32(lane(src, 32, i))) << (64 * i)
            })
        }
        (0xe6, 0x66 | 0xf2) => {
            // CVTTPD2DQ / CVTPD2DQ: upper half zeroed.
            let src = cpu.float_source(mem, insn, Shape::PackedDouble)?;
            let truncate = prefix == 0x66;
            (0..2).fold(0u128, |acc, i| {
                acc | (sf::to_integer(F64, &mut env, lane(src, 64, i), 32, truncate) as u128)
                    << (32 * i)
            })
        }
        _ => return Err(Exception::InvalidOpcode),
    };
    cpu.finish_simd(&env)?;
    cpu.xmm[insn.reg as usize] = out;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::cpu::Cpu;
    use crate::mmu::space::{AddressSpace, PROT_EXEC, PROT_READ};

    fn run(code: &[u8], xmm1: u128) -> u128 {
        let mut mem = AddressSpace::new(1 << 20);
        mem.map(0x1000, 4096, PROT_READ | PROT_EXEC).unwrap();
        mem.poke(0x1000, code).unwrap();
        let mut cpu = Cpu::new_long_mode_user();
        cpu.rip = 0x1000;
        cpu.xmm[1] = xmm1;
        cpu.step(&mut mem).unwrap();
        cpu.xmm[0]
    }

    #[test]
    fn reciprocal_approximations_are_the_hosts() {
        // rcpps xmm0, xmm1 on [2.0, 0.0, -4.0, 3.0]: AMD's 12-bit answers
        // (1/2 comes out just below 0.5), within the SDM's 1.5·2^-12.
        let r = run(
            &[0x0f, 0x53, 0xc1],
            0x4040_0000_c080_0000_0000_0000_4000_0000,
        );
        assert_eq!(r as u32, 0x3eff_f000);
        assert_eq!((r >> 32) as u32, 0x7f80_0000); // +inf
        assert_eq!((r >> 64) as u32, 0xbe7f_f000);
        assert_eq!((r >> 96) as u32, 0x3eaa_a800);
        for (lane, exact) in [(0, 0.5f32), (2, -0.25), (3, 1.0 / 3.0)] {
            let approx = f32::from_bits((r >> (32 * lane)) as u32);
            assert!(((approx - exact) / exact).abs() <= 1.5 / 4096.0);
        }
        // rsqrtps xmm0, xmm1 on [4.0, ...]
        let r = run(&[0x0f, 0x52, 0xc1], 0x4080_0000);
        assert_eq!(r as u32, 0x3eff_f800);
    }
}
