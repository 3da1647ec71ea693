//! SSE/SSE2 floating point: packed and scalar arithmetic, MIN/MAX, SQRT,
//! comparisons, COMISS/UCOMISS and conversions, computed with `softfloat`
//! under MXCSR rounding, DAZ/FTZ and exception flags (SDM Vol.1 §11.5).

use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::flags::{self, CF, PF, ZF};
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

/// RCPPS/RCPSS (53) and RSQRTPS/RSQRTSS (52): the SDM only bounds their
/// error (|rel| ≤ 1.5·2^-12) and vendors' tables differ, so the exact value
/// is rounded to 12 significant bits (not bit-identical to any processor).
/// Denormal inputs count as zero, tiny results flush to zero, no flags change.
fn approximate<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    insn: &Insn,
    shape: Shape,
) -> Result<(), Exception> {
    let src = cpu.float_source(mem, insn, shape)?;
    let mut out = cpu.xmm[insn.reg as usize];
    for i in 0..shape.lanes() {
        let x = lane(src, 32, i);
        let sign = x >> 31 & 1 != 0;
        let exp_field = (x >> 23) & 0xff;
        let is_zero = exp_field == 0;
        let r = if exp_field == 0xff && x & 0x7f_ffff != 0 {
            x | 0x40_0000 // QNaN
        } else if insn.opcode == 0x53 {
            if is_zero {
                F32.infinity(sign)
            } else if exp_field == 0xff {
                F32.zero(sign)
            } else {
                round12(sf::binary(
                    F32,
                    &mut Env::from_mxcsr(0x9fc0),
                    BinaryOp::Div,
                    0x3f80_0000,
                    x,
                ))
            }
        } else if is_zero {
            F32.infinity(sign)
        } else if sign {
            F32.default_nan()
        } else if exp_field == 0xff {
            0
        } else {
            let mut env = Env::from_mxcsr(0x9fc0);
            let wide = sf::convert(F32, F64, &mut env, x);
            let root = sf::sqrt(F64, &mut env, wide);
            let inv = sf::binary(F64, &mut env, BinaryOp::Div, 0x3ff0_0000_0000_0000, root);
            round12(sf::convert(F64, F32, &mut env, inv))
        };
        out = set_lane(out, 32, i, r);
    }
    cpu.xmm[insn.reg as usize] = out;
    Ok(())
}

/// Rounds a single's significand to 12 bits (nearest), flushing denormals.
fn round12(x: u128) -> u128 {
    if (x >> 23) & 0xff == 0 {
        return x & 0x8000_0000;
    }
    let rounded = (x + (1 << 11)) & !0xfff;
    rounded & 0xffff_ffff
}

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
    // SDM Vol.2A COMISD: ZF,PF,CF = 111 unordered, 000 greater, 001 less, 100 equal; OF,SF,AF = 0.
    let f = match rel {
        Relation::Unordered => ZF | PF | CF,
        Relation::Greater => 0,
        Relation::Less => CF,
        Relation::Equal => ZF,
    };
    cpu.set_status_flags(f & flags::STATUS);
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
    fn reciprocal_approximations_are_close() {
        // rcpps xmm0, xmm1 on [2.0, 0.0, -4.0, 3.0]
        let r = run(
            &[0x0f, 0x53, 0xc1],
            0x4040_0000_c080_0000_0000_0000_4000_0000,
        );
        assert_eq!(r as u32, 0x3f00_0000); // 0.5
        assert_eq!((r >> 32) as u32, 0x7f80_0000); // +inf
        assert_eq!((r >> 64) as u32, 0xbe80_0000); // -0.25
        let third = f32::from_bits((r >> 96) as u32);
        assert!((third - 1.0 / 3.0).abs() < 1.5 / 4096.0 / 3.0 * 1.01);
        // rsqrtps xmm0, xmm1 on [4.0, ...]
        let r = run(&[0x0f, 0x52, 0xc1], 0x4080_0000);
        assert_eq!(r as u32, 0x3f00_0000); // 0.5
    }
}
