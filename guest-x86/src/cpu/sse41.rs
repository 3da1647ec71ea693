//! SSE4.1 (SDM Vol.2 per mnemonic): blends, PTEST, PMOVSX/PMOVZX, the
//! new packed integer min/max/multiply/compare forms, PHMINPOSUW,
//! MPSADBW, element insert/extract, ROUNDPS/PD/SS/SD and DPPS/DPPD.
//! All are 66-prefixed in maps 0F38 and 0F3A.

use alloc::vec::Vec;

use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::flags::{CF, STATUS, ZF};
use super::operand::Loc;
use super::softfloat::{self as sf, BinaryOp, Env, F32, F64, Format, Rounding};
use super::state::{Cpu, sign_extend};
use super::table::Map;
use crate::mmu::Memory;

fn lane(v: u128, bits: u32, i: u32) -> u64 {
    ((v >> (i * bits)) & ((1u128 << bits) - 1)) as u64
}

fn set_lane(v: u128, bits: u32, i: u32, x: u64) -> u128 {
    let mask = ((1u128 << bits) - 1) << (bits * i);
    (v & !mask) | (((x as u128) << (bits * i)) & mask)
}

fn signed(v: u64, bits: u32) -> i64 {
    sign_extend(v, (bits / 8) as u8) as i64
}

fn map_lanes(d: u128, s: u128, bits: u32, f: impl Fn(u64, u64) -> u64) -> u128 {
    (0..128 / bits).fold(0u128, |acc, i| {
        set_lane(acc, bits, i, f(lane(d, bits, i), lane(s, bits, i)))
    })
}

impl Cpu {
    /// A full 128-bit operand (aligned when from memory).
    fn sse41_source<M: Memory>(&self, mem: &mut M, insn: &Insn) -> Result<u128, Exception> {
        self.check_aligned16(insn)?;
        match self.rm_loc(insn)? {
            Loc::Reg(r) => Ok(self.xmm[r as usize]),
            Loc::Mem(addr) => self.read_mem128(mem, addr),
        }
    }

    /// The low `bytes` of an XMM register or an unaligned memory operand.
    fn sse41_low<M: Memory>(&self, mem: &mut M, insn: &Insn, bytes: u8) -> Result<u128, Exception> {
        match self.rm_loc(insn)? {
            Loc::Reg(r) => Ok(self.xmm[r as usize] & ((1u128 << (bytes as u32 * 8)) - 1)),
            Loc::Mem(addr) => Ok(self.read_mem(mem, addr, bytes)? as u128),
        }
    }
}

/// Executes an SSE4.1 form; `None` if the instruction is not one.
pub fn execute<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Option<Result<(), Stop>> {
    if insn.sse_prefix() != 0x66 {
        return None;
    }
    let result = match insn.map {
        Map::Map0F38 => map38(cpu, mem, insn)?,
        Map::Map0F3A => map3a(cpu, mem, insn)?,
        _ => return None,
    };
    Some(result.map_err(Stop::from))
}

fn map38<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Option<Result<(), Exception>> {
    let dst = insn.reg as usize;
    let op = insn.opcode;
    let r = (|| -> Result<(), Exception> {
        match op {
            0x20..=0x25 | 0x30..=0x35 => {
                // PMOVSX/PMOVZX: (source lane bits, destination lane bits).
                let (from, to) =
                    [(8, 16), (8, 32), (8, 64), (16, 32), (16, 64), (32, 64)][(op & 7) as usize];
                let count = 128 / to;
                let s = cpu.sse41_low(mem, insn, (count * from / 8) as u8)?;
                let sign = op < 0x30;
                cpu.xmm[dst] = (0..count).fold(0u128, |acc, i| {
                    let v = lane(s, from, i);
                    set_lane(acc, to, i, if sign { signed(v, from) as u64 } else { v })
                });
            }
            0x2a => {
                // MOVNTDQA: aligned load, memory only.
                if insn.mem.is_none() {
                    return Err(Exception::InvalidOpcode);
                }
                cpu.xmm[dst] = cpu.sse41_source(mem, insn)?;
            }
            _ => {
                let s = cpu.sse41_source(mem, insn)?;
                let d = cpu.xmm[dst];
                let mask = cpu.xmm[0];
                // PBLENDVB/BLENDVPS/BLENDVPD: XMM0's lane sign bits pick the source.
                let sel = |bits: u32| {
                    (0..128 / bits).fold(0u128, |acc, i| {
                        let take = lane(mask, bits, i) >> (bits - 1) != 0;
                        set_lane(
                            acc,
                            bits,
                            i,
                            if take {
                                lane(s, bits, i)
                            } else {
                                lane(d, bits, i)
                            },
                        )
                    })
                };
                cpu.xmm[dst] = match op {
                    0x10 => sel(8),
                    0x14 => sel(32),
                    0x15 => sel(64),
                    0x17 => {
                        // PTEST (SDM Vol.2B): ZF = (d AND s) == 0, CF = (NOT d AND s) == 0.
                        let mut f = 0;
                        if d & s == 0 {
                            f |= ZF;
                        }
                        if !d & s == 0 {
                            f |= CF;
                        }
                        cpu.set_flags_masked(f, STATUS);
                        return Ok(());
                    }
                    0x28 => map_lanes(d, s, 64, |a, b| {
                        (signed(a & 0xffff_ffff, 32) * signed(b & 0xffff_ffff, 32)) as u64
                    }),
                    0x29 => map_lanes(d, s, 64, |a, b| if a == b { u64::MAX } else { 0 }),
                    0x2b => {
                        let sat = |v: u64| signed(v, 32).clamp(0, 0xffff) as u64;
                        (0..4).fold(0u128, |acc, i| set_lane(acc, 16, i, sat(lane(d, 32, i))))
                            | (0..4).fold(0u128, |acc, i| {
                                set_lane(acc, 16, i + 4, sat(lane(s, 32, i)))
                            })
                    }
                    0x38 => map_lanes(
                        d,
                        s,
                        8,
                        |a, b| if signed(a, 8) < signed(b, 8) { a } else { b },
                    ),
                    0x39 => map_lanes(
                        d,
                        s,
                        32,
                        |a, b| if signed(a, 32) < signed(b, 32) { a } else { b },
                    ),
                    0x3a => map_lanes(d, s, 16, |a, b| a.min(b)),
                    0x3b => map_lanes(d, s, 32, |a, b| a.min(b)),
                    0x3c => map_lanes(
                        d,
                        s,
                        8,
                        |a, b| if signed(a, 8) > signed(b, 8) { a } else { b },
                    ),
                    0x3d => map_lanes(
                        d,
                        s,
                        32,
                        |a, b| if signed(a, 32) > signed(b, 32) { a } else { b },
                    ),
                    0x3e => map_lanes(d, s, 16, |a, b| a.max(b)),
                    0x3f => map_lanes(d, s, 32, |a, b| a.max(b)),
                    0x40 => map_lanes(d, s, 32, |a, b| a.wrapping_mul(b)),
                    0x41 => {
                        // PHMINPOSUW: the smallest word and its (lowest) index.
                        let (index, min) = (0..8)
                            .map(|i| (i, lane(s, 16, i)))
                            .min_by_key(|&(i, v)| (v, i))
                            .unwrap_or((0, 0));
                        (min as u128) | ((index as u128) << 16)
                    }
                    _ => return Err(Exception::InvalidOpcode),
                };
            }
        }
        Ok(())
    })();
    match op {
        0x10 | 0x14 | 0x15 | 0x17 | 0x20..=0x25 | 0x28..=0x2b | 0x30..=0x35 | 0x38..=0x41 => {
            Some(r)
        }
        _ => None,
    }
}

fn map3a<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Option<Result<(), Exception>> {
    let dst = insn.reg as usize;
    let imm = insn.imm as u32;
    let r = (|| -> Result<(), Exception> {
        match insn.opcode {
            0x08..=0x0b => round(cpu, mem, insn),
            0x0c..=0x0e => {
                let s = cpu.sse41_source(mem, insn)?;
                let d = cpu.xmm[dst];
                let bits = [32, 64, 16][(insn.opcode - 0x0c) as usize];
                cpu.xmm[dst] = (0..128 / bits).fold(d, |acc, i| {
                    if imm >> i & 1 != 0 {
                        set_lane(acc, bits, i, lane(s, bits, i))
                    } else {
                        acc
                    }
                });
                Ok(())
            }
            0x14..=0x17 => {
                // PEXTRB, PEXTRW, PEXTRD/Q, EXTRACTPS.
                let x = cpu.xmm[dst];
                let (value, size) = match insn.opcode {
                    0x14 => (lane(x, 8, imm & 15), 1),
                    0x15 => (lane(x, 16, imm & 7), 2),
                    0x16 if insn.rex_w() => (lane(x, 64, imm & 1), 8),
                    _ => (lane(x, 32, imm & 3), 4),
                };
                match cpu.rm_loc(insn)? {
                    // A register destination receives the zero-extended element.
                    Loc::Reg(r) => {
                        let width = if size == 8 || insn.rex_w() { 8 } else { 4 };
                        cpu.write_reg(r, width, false, value)
                    }
                    Loc::Mem(addr) => cpu.write_mem(mem, addr, size, value)?,
                }
                Ok(())
            }
            0x20 | 0x22 => {
                // PINSRB, PINSRD/Q.
                let (bits, index) = match insn.opcode {
                    0x20 => (8, imm & 15),
                    _ if insn.rex_w() => (64, imm & 1),
                    _ => (32, imm & 3),
                };
                let value = match cpu.rm_loc(insn)? {
                    Loc::Reg(r) => cpu.read_reg(r, (bits / 8).max(4) as u8, false),
                    Loc::Mem(addr) => cpu.read_mem(mem, addr, (bits / 8) as u8)?,
                };
                cpu.xmm[dst] = set_lane(cpu.xmm[dst], bits, index, value);
                Ok(())
            }
            0x21 => {
                // INSERTPS: a register source uses imm[7:6] to pick its element.
                let element = match cpu.rm_loc(insn)? {
                    Loc::Reg(r) => lane(cpu.xmm[r as usize], 32, imm >> 6 & 3),
                    Loc::Mem(addr) => cpu.read_mem(mem, addr, 4)?,
                };
                let mut d = set_lane(cpu.xmm[dst], 32, imm >> 4 & 3, element);
                for i in 0..4 {
                    if imm >> i & 1 != 0 {
                        d = set_lane(d, 32, i, 0);
                    }
                }
                cpu.xmm[dst] = d;
                Ok(())
            }
            0x40 | 0x41 => dot_product(cpu, mem, insn),
            0x42 => {
                // MPSADBW: eight sums of absolute differences of 4-byte groups.
                let s = cpu.sse41_source(mem, insn)?;
                let d = cpu.xmm[dst];
                let (src_off, dst_off) = ((imm & 3) * 4, (imm >> 2 & 1) * 4);
                cpu.xmm[dst] = (0..8).fold(0u128, |acc, i| {
                    let sum: u64 = (0..4)
                        .map(|j| lane(d, 8, dst_off + i + j).abs_diff(lane(s, 8, src_off + j)))
                        .sum();
                    set_lane(acc, 16, i, sum)
                });
                Ok(())
            }
            _ => Err(Exception::InvalidOpcode),
        }
    })();
    match insn.opcode {
        0x08..=0x0e | 0x14..=0x17 | 0x20..=0x22 | 0x40..=0x42 => Some(r),
        _ => None,
    }
}

/// ROUNDPS/PD/SS/SD: imm[2] selects MXCSR.RC over imm[1:0]; imm[3]
/// suppresses the precision exception (SDM Vol.2B ROUNDPS).
fn round<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Exception> {
    let op = insn.opcode;
    let imm = insn.imm as u32;
    let (fmt, bits): (Format, u32) = if op & 1 == 0 { (F32, 32) } else { (F64, 64) };
    let scalar = op >= 0x0a;
    let src = if scalar {
        cpu.sse41_low(mem, insn, (bits / 8) as u8)?
    } else {
        cpu.sse41_source(mem, insn)?
    };
    let mut env = Env::from_mxcsr(cpu.mxcsr);
    if imm & 4 == 0 {
        env.rounding = Rounding::from_rc(imm & 3);
    }
    let dst = insn.reg as usize;
    let lanes = if scalar { 1 } else { 128 / bits };
    let mut out = cpu.xmm[dst];
    for i in 0..lanes {
        let before = env.flags;
        let r = sf::round_to_integral(fmt, &mut env, lane(src, bits, i) as u128);
        // Rounding reports #I and #P only.
        env.flags = (env.flags & !sf::exc::DENORMAL) | (before & sf::exc::DENORMAL);
        out = set_lane(out, bits, i, r as u64);
    }
    if imm & 8 != 0 {
        env.flags &= !sf::exc::INEXACT;
    }
    cpu.finish_simd(&env)?;
    cpu.xmm[dst] = out;
    Ok(())
}

/// DPPS/DPPD: selected products summed pairwise, in the order of the
/// SDM's pseudocode (each step rounded), broadcast to the selected lanes.
fn dot_product<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Exception> {
    let imm = insn.imm as u32;
    let (fmt, bits, n): (Format, u32, u32) = if insn.opcode == 0x40 {
        (F32, 32, 4)
    } else {
        (F64, 64, 2)
    };
    let s = cpu.sse41_source(mem, insn)?;
    let d = cpu.xmm[insn.reg as usize];
    let mut env = Env::from_mxcsr(cpu.mxcsr);
    let zero = fmt.zero(false);
    let products: Vec<u128> = (0..n)
        .map(|i| {
            if imm >> (4 + i) & 1 != 0 {
                sf::binary(
                    fmt,
                    &mut env,
                    BinaryOp::Mul,
                    lane(d, bits, i) as u128,
                    lane(s, bits, i) as u128,
                )
            } else {
                zero
            }
        })
        .collect();
    let sum = if n == 4 {
        let a = sf::binary(fmt, &mut env, BinaryOp::Add, products[0], products[1]);
        let b = sf::binary(fmt, &mut env, BinaryOp::Add, products[2], products[3]);
        sf::binary(fmt, &mut env, BinaryOp::Add, a, b)
    } else {
        sf::binary(fmt, &mut env, BinaryOp::Add, products[0], products[1])
    };
    cpu.finish_simd(&env)?;
    cpu.xmm[insn.reg as usize] = (0..n).fold(0u128, |acc, i| {
        set_lane(acc, bits, i, if imm >> i & 1 != 0 { sum as u64 } else { 0 })
    });
    Ok(())
}
