//! SSE/SSE2 integer and data-movement instructions on XMM registers, plus
//! FXSAVE/FXRSTOR (SDM Vol.2 per mnemonic, Vol.1 chapters 10–11).
//! Floating-point SSE arithmetic lives in `sse_float` once implemented.

use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::operand::Loc;
use super::state::{Cpu, X87Pointers, cr, sign_extend};
use super::table::Map;
use crate::mmu::Memory;

/// Applies `f` lane by lane to two 128-bit values split into `bits`-wide lanes.
fn lanes(a: u128, b: u128, bits: u32, f: impl Fn(u64, u64) -> u64) -> u128 {
    let mask = if bits == 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    let mut out = 0u128;
    let mut shift = 0;
    while shift < 128 {
        let x = ((a >> shift) & mask) as u64;
        let y = ((b >> shift) & mask) as u64;
        out |= ((f(x, y) as u128) & mask) << shift;
        shift += bits;
    }
    out
}

fn lane(v: u128, bits: u32, i: u32) -> u64 {
    ((v >> (i * bits)) & ((1u128 << bits) - 1)) as u64
}

fn signed(v: u64, bits: u32) -> i64 {
    sign_extend(v, (bits / 8) as u8) as i64
}

fn saturate_signed(v: i64, bits: u32) -> u64 {
    let max = (1i64 << (bits - 1)) - 1;
    let min = -(1i64 << (bits - 1));
    v.clamp(min, max) as u64
}

fn saturate_unsigned(v: i64, bits: u32) -> u64 {
    v.clamp(0, (1i64 << bits) - 1) as u64
}

/// Interleaves the low (`high == false`) or high halves of `a` and `b` in `bits` lanes.
pub(super) fn unpack(a: u128, b: u128, bits: u32, high: bool) -> u128 {
    let count = 64 / bits;
    let base = if high { count } else { 0 };
    let mut out = 0u128;
    for i in 0..count {
        out |= (lane(a, bits, base + i) as u128) << (2 * i * bits);
        out |= (lane(b, bits, base + i) as u128) << ((2 * i + 1) * bits);
    }
    out
}

/// Narrows the lanes of `a` then `b` from `bits` to `bits/2` with saturation.
pub(super) fn pack(a: u128, b: u128, bits: u32, unsigned: bool) -> u128 {
    let half = bits / 2;
    let count = 128 / bits;
    let mut out = 0u128;
    for (k, src) in [a, b].into_iter().enumerate() {
        for i in 0..count {
            let v = signed(lane(src, bits, i), bits);
            let n = if unsigned {
                saturate_unsigned(v, half)
            } else {
                saturate_signed(v, half)
            };
            out |= ((n as u128) & ((1u128 << half) - 1)) << ((k as u32 * count + i) * half);
        }
    }
    out
}

impl Cpu {
    /// Source operand of an XMM instruction: register or 128-bit memory,
    /// which must be 16-byte aligned when `aligned` (SDM Vol.1 §10.4.1.1: #GP).
    fn xmm_source<M: Memory>(
        &self,
        mem: &mut M,
        insn: &Insn,
        aligned: bool,
    ) -> Result<u128, Exception> {
        if aligned {
            self.check_aligned16(insn)?;
        }
        match self.rm_loc(insn)? {
            Loc::Reg(r) => Ok(self.xmm[r as usize]),
            Loc::Mem(addr) => {
                if aligned && addr % 16 != 0 {
                    return Err(Exception::GeneralProtection(0));
                }
                self.read_mem128(mem, addr)
            }
        }
    }

    /// Low `size` bytes of the source (scalar forms: no alignment check).
    fn xmm_source_low<M: Memory>(
        &self,
        mem: &mut M,
        insn: &Insn,
        size: u8,
    ) -> Result<u64, Exception> {
        match self.rm_loc(insn)? {
            Loc::Reg(r) => Ok(self.xmm[r as usize] as u64 & super::state::size_mask(size)),
            Loc::Mem(addr) => self.read_mem(mem, addr, size),
        }
    }
}

/// Executes the `Sse` family.
pub fn execute<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    // SDM Vol.3A §13.1.3: SSE needs CR0.EM = 0 and CR4.OSFXSR = 1, else #UD.
    if cpu.cr4 & cr::CR4_OSFXSR == 0 || cpu.cr0 & (1 << 2) != 0 {
        return Err(Exception::InvalidOpcode.into());
    }
    let prefix = insn.sse_prefix();
    let dst = insn.reg as usize;
    let ud = || Err(Stop::Exception(Exception::InvalidOpcode));
    if let Some(result) = super::mmx::execute(cpu, mem, insn) {
        return result;
    }
    if let Some(result) = super::ssse3::execute(cpu, mem, insn) {
        return result;
    }
    if let Some(result) = super::sse41::execute(cpu, mem, insn) {
        return result;
    }
    if let Some(result) = super::sse42::execute(cpu, mem, insn) {
        return result;
    }
    match insn.map {
        Map::Map0F => {}
        _ => return ud(),
    }
    if let Some(result) = super::sse_float::execute(cpu, mem, insn) {
        return result;
    }
    let op = insn.opcode;
    match (prefix, op) {
        // MOVUPS/MOVUPD/MOVDQU/MOVAPS/MOVAPD/MOVDQA loads and stores.
        (0 | 0x66, 0x10) | (0 | 0x66, 0x28) | (0x66 | 0xf3, 0x6f) => {
            let aligned = op == 0x28 || (op == 0x6f && prefix == 0x66);
            cpu.xmm[dst] = cpu.xmm_source(mem, insn, aligned)?;
        }
        (0 | 0x66, 0x11)
        | (0 | 0x66, 0x29)
        | (0x66 | 0xf3, 0x7f)
        | (0 | 0x66, 0x2b)
        | (0x66, 0xe7) => {
            let aligned = matches!(op, 0x29 | 0x2b | 0xe7) || (op == 0x7f && prefix == 0x66);
            if matches!(op, 0x2b | 0xe7) && insn.mem.is_none() {
                return ud();
            }
            store_xmm(cpu, mem, insn, cpu.xmm[dst], aligned)?;
        }
        // MOVSS / MOVSD.
        (0xf3 | 0xf2, 0x10) => {
            let size = if prefix == 0xf3 { 4 } else { 8 };
            let mask = (1u128 << (size * 8)) - 1;
            match cpu.rm_loc(insn)? {
                Loc::Reg(r) => cpu.xmm[dst] = (cpu.xmm[dst] & !mask) | (cpu.xmm[r as usize] & mask),
                Loc::Mem(addr) => cpu.xmm[dst] = cpu.read_mem(mem, addr, size)? as u128,
            }
        }
        (0xf3 | 0xf2, 0x11) => {
            let size = if prefix == 0xf3 { 4 } else { 8 };
            let mask = (1u128 << (size * 8)) - 1;
            match cpu.rm_loc(insn)? {
                Loc::Reg(r) => {
                    cpu.xmm[r as usize] = (cpu.xmm[r as usize] & !mask) | (cpu.xmm[dst] & mask)
                }
                Loc::Mem(addr) => cpu.write_mem(mem, addr, size, cpu.xmm[dst] as u64)?,
            }
        }
        // MOVLPS/MOVLPD/MOVHLPS (12), MOVHPS/MOVHPD/MOVLHPS (16).
        (0 | 0x66, 0x12 | 0x16) => {
            let high = op == 0x16;
            let v = match cpu.rm_loc(insn)? {
                Loc::Reg(r) if prefix == 0 => {
                    let s = cpu.xmm[r as usize];
                    if high { s as u64 } else { (s >> 64) as u64 }
                }
                Loc::Reg(_) => return ud(),
                Loc::Mem(addr) => cpu.read_mem(mem, addr, 8)?,
            };
            let d = cpu.xmm[dst];
            cpu.xmm[dst] = if high {
                (d & u64::MAX as u128) | ((v as u128) << 64)
            } else {
                (d & !(u64::MAX as u128)) | v as u128
            };
        }
        (0 | 0x66, 0x13 | 0x17) => {
            let Loc::Mem(addr) = cpu.rm_loc(insn)? else {
                return ud();
            };
            let v = if op == 0x17 {
                (cpu.xmm[dst] >> 64) as u64
            } else {
                cpu.xmm[dst] as u64
            };
            cpu.write_mem(mem, addr, 8, v)?;
        }
        // UNPCKLPS/PD, UNPCKHPS/PD.
        (0 | 0x66, 0x14 | 0x15) => {
            let src = cpu.xmm_source(mem, insn, true)?;
            let bits = if prefix == 0 { 32 } else { 64 };
            cpu.xmm[dst] = unpack(cpu.xmm[dst], src, bits, op == 0x15);
        }
        // MOVMSKPS / MOVMSKPD.
        (0 | 0x66, 0x50) => {
            let Some(r) = register_only(insn) else {
                return ud();
            };
            let v = cpu.xmm[r as usize];
            let bits = if prefix == 0 { 32 } else { 64 };
            let mut mask = 0u64;
            for i in 0..128 / bits {
                mask |= ((v >> (i * bits + bits - 1)) as u64 & 1) << i;
            }
            cpu.write_reg(insn.reg, 4, false, mask);
        }
        // ANDPS/ANDNPS/ORPS/XORPS (and PD).
        (0 | 0x66, 0x54..=0x57) => {
            let src = cpu.xmm_source(mem, insn, true)?;
            let d = cpu.xmm[dst];
            cpu.xmm[dst] = match op {
                0x54 => d & src,
                0x55 => !d & src,
                0x56 => d | src,
                _ => d ^ src,
            };
        }
        // MOVD/MOVQ xmm, r/m.
        (0x66, 0x6e) => {
            let size = if insn.rex_w() { 8 } else { 4 };
            let v = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, size)?;
            cpu.xmm[dst] = v as u128;
        }
        // MOVD/MOVQ r/m, xmm.
        (0x66, 0x7e) => {
            let size = if insn.rex_w() { 8 } else { 4 };
            let v = cpu.xmm[dst] as u64;
            let loc = cpu.rm_loc(insn)?;
            cpu.write_loc(mem, insn, loc, size, v)?;
        }
        // MOVQ xmm, xmm/m64 (F3 0F 7E) and MOVQ xmm/m64, xmm (66 0F D6).
        (0xf3, 0x7e) => cpu.xmm[dst] = cpu.xmm_source_low(mem, insn, 8)? as u128,
        (0x66, 0xd6) => match cpu.rm_loc(insn)? {
            Loc::Reg(r) => cpu.xmm[r as usize] = cpu.xmm[dst] as u64 as u128,
            Loc::Mem(addr) => cpu.write_mem(mem, addr, 8, cpu.xmm[dst] as u64)?,
        },
        // PSHUFD / PSHUFHW / PSHUFLW.
        (0x66 | 0xf3 | 0xf2, 0x70) => {
            let src = cpu.xmm_source(mem, insn, true)?;
            let imm = insn.imm as u32;
            cpu.xmm[dst] = match prefix {
                0x66 => (0..4).fold(0u128, |acc, i| {
                    acc | (lane(src, 32, (imm >> (2 * i)) & 3) as u128) << (32 * i)
                }),
                0xf3 => {
                    let high = (0..4).fold(0u128, |acc, i| {
                        acc | (lane(src, 16, 4 + ((imm >> (2 * i)) & 3)) as u128) << (16 * i)
                    });
                    (src & u64::MAX as u128) | (high << 64)
                }
                _ => {
                    let low = (0..4).fold(0u128, |acc, i| {
                        acc | (lane(src, 16, (imm >> (2 * i)) & 3) as u128) << (16 * i)
                    });
                    (src & !(u64::MAX as u128)) | low
                }
            };
        }
        // Shift groups by immediate: 71 (words), 72 (dwords), 73 (qwords and byte shifts).
        (0x66, 0x71..=0x73) => {
            let Some(r) = register_only(insn) else {
                return ud();
            };
            let r = r as usize;
            let count = insn.imm;
            let v = cpu.xmm[r];
            let bits = match op {
                0x71 => 16,
                0x72 => 32,
                _ => 64,
            };
            cpu.xmm[r] = match (op, insn.reg & 7) {
                (_, 2) => shift_lanes(v, bits, count, ShiftKind::Right),
                (0x71 | 0x72, 4) => shift_lanes(v, bits, count, ShiftKind::Arithmetic),
                (_, 6) => shift_lanes(v, bits, count, ShiftKind::Left),
                (0x73, 3) => {
                    if count > 15 {
                        0
                    } else {
                        v >> (count * 8)
                    }
                }
                (0x73, 7) => {
                    if count > 15 {
                        0
                    } else {
                        v << (count * 8)
                    }
                }
                _ => return ud(),
            };
        }
        // PSHUFB-less integer ops on two operands (66 prefix).
        (
            0x66,
            0x60..=0x6d
            | 0x74..=0x76
            | 0xd1..=0xd5
            | 0xd8..=0xdf
            | 0xe0..=0xe5
            | 0xe8..=0xef
            | 0xf1..=0xf6
            | 0xf8..=0xfe,
        ) => {
            let src = cpu.xmm_source(mem, insn, true)?;
            cpu.xmm[dst] = integer_op(op, cpu.xmm[dst], src)
                .ok_or(Stop::Exception(Exception::InvalidOpcode))?;
        }
        // PMOVMSKB r32, xmm.
        (0x66, 0xd7) => {
            let Some(r) = register_only(insn) else {
                return ud();
            };
            let v = cpu.xmm[r as usize];
            let mask = (0..16).fold(0u64, |acc, i| acc | (((v >> (8 * i + 7)) & 1) as u64) << i);
            cpu.write_reg(insn.reg, 4, false, mask);
        }
        // PINSRW / PEXTRW.
        (0x66, 0xc4) => {
            let v = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, 2)? & 0xffff;
            let i = (insn.imm & 7) as u32;
            cpu.xmm[dst] = (cpu.xmm[dst] & !(0xffffu128 << (16 * i))) | ((v as u128) << (16 * i));
        }
        (0x66, 0xc5) => {
            let Some(r) = register_only(insn) else {
                return ud();
            };
            let v = lane(cpu.xmm[r as usize], 16, (insn.imm & 7) as u32);
            cpu.write_reg(insn.reg, 4, false, v);
        }
        // SHUFPS / SHUFPD.
        (0, 0xc6) => {
            let src = cpu.xmm_source(mem, insn, true)?;
            let d = cpu.xmm[dst];
            let imm = insn.imm as u32;
            let pick = |v: u128, i: u32| lane(v, 32, (imm >> (2 * i)) & 3) as u128;
            cpu.xmm[dst] = pick(d, 0) | pick(d, 1) << 32 | pick(src, 2) << 64 | pick(src, 3) << 96;
        }
        (0x66, 0xc6) => {
            let src = cpu.xmm_source(mem, insn, true)?;
            let d = cpu.xmm[dst];
            let imm = insn.imm as u32;
            cpu.xmm[dst] =
                lane(d, 64, imm & 1) as u128 | (lane(src, 64, (imm >> 1) & 1) as u128) << 64;
        }
        _ => return ud(),
    }
    Ok(())
}

/// The r/m register of a form that has no memory variant (#UD otherwise).
fn register_only(insn: &Insn) -> Option<u8> {
    if insn.mem.is_none() {
        Some(insn.rm)
    } else {
        None
    }
}

fn store_xmm<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    insn: &Insn,
    value: u128,
    aligned: bool,
) -> Result<(), Exception> {
    if aligned {
        cpu.check_aligned16(insn)?;
    }
    match cpu.rm_loc(insn)? {
        Loc::Reg(r) => {
            cpu.xmm[r as usize] = value;
            Ok(())
        }
        Loc::Mem(addr) => {
            if aligned && addr % 16 != 0 {
                return Err(Exception::GeneralProtection(0));
            }
            cpu.write_mem128(mem, addr, value)
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum ShiftKind {
    Left,
    Right,
    Arithmetic,
}

/// Shifts every lane by `count`; logical shifts beyond the lane width give 0,
/// arithmetic ones fill with the sign (SDM Vol.2B PSRLW/PSRAW/PSLLW).
pub(super) fn shift_lanes(v: u128, bits: u32, count: u64, kind: ShiftKind) -> u128 {
    lanes(v, 0, bits, |x, _| {
        let too_far = count >= bits as u64;
        match kind {
            ShiftKind::Left => {
                if too_far {
                    0
                } else {
                    x << count
                }
            }
            ShiftKind::Right => {
                if too_far {
                    0
                } else {
                    x >> count
                }
            }
            ShiftKind::Arithmetic => (signed(x, bits) >> count.min(bits as u64 - 1)) as u64,
        }
    })
}

/// The two-operand packed-integer operations of the 66-prefixed 0F map.
pub(super) fn integer_op(op: u8, d: u128, s: u128) -> Option<u128> {
    // The shift count is the low quadword of the source (SDM Vol.2B PSLLW).
    let count = s as u64;
    Some(match op {
        0x60 => unpack(d, s, 8, false),
        0x61 => unpack(d, s, 16, false),
        0x62 => unpack(d, s, 32, false),
        0x63 => pack(d, s, 16, false),
        0x64 => lanes(
            d,
            s,
            8,
            |a, b| if signed(a, 8) > signed(b, 8) { 0xff } else { 0 },
        ),
        0x65 => lanes(d, s, 16, |a, b| {
            if signed(a, 16) > signed(b, 16) {
                0xffff
            } else {
                0
            }
        }),
        0x66 => lanes(d, s, 32, |a, b| {
            if signed(a, 32) > signed(b, 32) {
                0xffff_ffff
            } else {
                0
            }
        }),
        0x67 => pack(d, s, 16, true),
        0x68 => unpack(d, s, 8, true),
        0x69 => unpack(d, s, 16, true),
        0x6a => unpack(d, s, 32, true),
        0x6b => pack(d, s, 32, false),
        0x6c => unpack(d, s, 64, false),
        0x6d => unpack(d, s, 64, true),
        0x74 => lanes(d, s, 8, |a, b| if a == b { 0xff } else { 0 }),
        0x75 => lanes(d, s, 16, |a, b| if a == b { 0xffff } else { 0 }),
        0x76 => lanes(d, s, 32, |a, b| if a == b { 0xffff_ffff } else { 0 }),
        0xd1 => shift_lanes(d, 16, count, ShiftKind::Right),
        0xd2 => shift_lanes(d, 32, count, ShiftKind::Right),
        0xd3 => shift_lanes(d, 64, count, ShiftKind::Right),
        0xd4 => lanes(d, s, 64, |a, b| a.wrapping_add(b)),
        0xd5 => lanes(d, s, 16, |a, b| (signed(a, 16) * signed(b, 16)) as u64),
        0xd8 => lanes(d, s, 8, |a, b| a.saturating_sub(b)),
        0xd9 => lanes(d, s, 16, |a, b| a.saturating_sub(b)),
        0xda => lanes(d, s, 8, |a, b| a.min(b)),
        0xdb => d & s,
        0xdc => lanes(d, s, 8, |a, b| (a + b).min(0xff)),
        0xdd => lanes(d, s, 16, |a, b| (a + b).min(0xffff)),
        0xde => lanes(d, s, 8, |a, b| a.max(b)),
        0xdf => !d & s,
        0xe0 => lanes(d, s, 8, |a, b| (a + b + 1) >> 1),
        0xe1 => shift_lanes(d, 16, count, ShiftKind::Arithmetic),
        0xe2 => shift_lanes(d, 32, count, ShiftKind::Arithmetic),
        0xe3 => lanes(d, s, 16, |a, b| (a + b + 1) >> 1),
        0xe4 => lanes(d, s, 16, |a, b| (a * b) >> 16),
        0xe5 => lanes(d, s, 16, |a, b| {
            ((signed(a, 16) * signed(b, 16)) >> 16) as u64
        }),
        0xe8 => lanes(d, s, 8, |a, b| {
            saturate_signed(signed(a, 8) - signed(b, 8), 8)
        }),
        0xe9 => lanes(d, s, 16, |a, b| {
            saturate_signed(signed(a, 16) - signed(b, 16), 16)
        }),
        0xea => lanes(
            d,
            s,
            16,
            |a, b| if signed(a, 16) < signed(b, 16) { a } else { b },
        ),
        0xeb => d | s,
        0xec => lanes(d, s, 8, |a, b| {
            saturate_signed(signed(a, 8) + signed(b, 8), 8)
        }),
        0xed => lanes(d, s, 16, |a, b| {
            saturate_signed(signed(a, 16) + signed(b, 16), 16)
        }),
        0xee => lanes(
            d,
            s,
            16,
            |a, b| if signed(a, 16) > signed(b, 16) { a } else { b },
        ),
        0xef => d ^ s,
        0xf1 => shift_lanes(d, 16, count, ShiftKind::Left),
        0xf2 => shift_lanes(d, 32, count, ShiftKind::Left),
        0xf3 => shift_lanes(d, 64, count, ShiftKind::Left),
        0xf4 => lanes(d, s, 64, |a, b| (a & 0xffff_ffff) * (b & 0xffff_ffff)),
        0xf5 => lanes(d, s, 32, |a, b| {
            let lo = signed(a & 0xffff, 16) * signed(b & 0xffff, 16);
            let hi = signed(a >> 16, 16) * signed(b >> 16, 16);
            lo.wrapping_add(hi) as u64
        }),
        0xf6 => {
            let sad = |half: u32| {
                (0..8)
                    .map(|i| lane(d, 8, half * 8 + i).abs_diff(lane(s, 8, half * 8 + i)))
                    .sum::<u64>()
            };
            sad(0) as u128 | (sad(1) as u128) << 64
        }
        0xf8 => lanes(d, s, 8, |a, b| a.wrapping_sub(b)),
        0xf9 => lanes(d, s, 16, |a, b| a.wrapping_sub(b)),
        0xfa => lanes(d, s, 32, |a, b| a.wrapping_sub(b)),
        0xfb => lanes(d, s, 64, |a, b| a.wrapping_sub(b)),
        0xfc => lanes(d, s, 8, |a, b| a.wrapping_add(b)),
        0xfd => lanes(d, s, 16, |a, b| a.wrapping_add(b)),
        0xfe => lanes(d, s, 32, |a, b| a.wrapping_add(b)),
        _ => return None,
    })
}

/// FXSAVE in the 64-bit layout (REX.W, what 64-bit Linux uses) (SDM
/// Vol.2A FXSAVE, Table 3-56): legacy x87 area, MXCSR, XMM0–15.
pub fn fxsave<M: Memory>(cpu: &mut Cpu, mem: &mut M, addr: u64) -> Result<(), Exception> {
    fxsave_layout(cpu, mem, addr, true)
}

/// FXRSTOR in the 64-bit layout: the inverse of `fxsave`.
pub fn fxrstor<M: Memory>(cpu: &mut Cpu, mem: &mut M, addr: u64) -> Result<(), Exception> {
    fxrstor_layout(cpu, mem, addr, true)
}

/// FXSAVE; `wide` picks the REX.W layout (64-bit FIP/FDP, no selectors)
/// over the 32-bit one (SDM Vol.2A Tables 3-53, 3-56).
pub(super) fn fxsave_layout<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    addr: u64,
    wide: bool,
) -> Result<(), Exception> {
    if !addr.is_multiple_of(16) {
        return Err(Exception::GeneralProtection(0));
    }
    let mut image = [0u8; 512];
    image[0..2].copy_from_slice(&cpu.x87.control.to_le_bytes());
    image[2..4].copy_from_slice(&cpu.x87.status.to_le_bytes());
    image[4] = cpu.x87.tag;
    // AMD stores FOP, FIP and FDP only while an exception is pending (ES);
    // otherwise they read as zero (AMD APM Vol.5 FXSAVE, observed on the host).
    if cpu.x87.status & (1 << 7) != 0 {
        let p = cpu.x87.pointers;
        image[6..8].copy_from_slice(&p.fop.to_le_bytes());
        if wide {
            image[8..16].copy_from_slice(&p.fip.to_le_bytes());
            image[16..24].copy_from_slice(&p.fdp.to_le_bytes());
        } else {
            image[8..12].copy_from_slice(&(p.fip as u32).to_le_bytes());
            image[12..14].copy_from_slice(&p.fcs.to_le_bytes());
            image[16..20].copy_from_slice(&(p.fdp as u32).to_le_bytes());
            image[20..22].copy_from_slice(&p.fds.to_le_bytes());
        }
    }
    image[24..28].copy_from_slice(&cpu.mxcsr.to_le_bytes());
    image[28..32].copy_from_slice(&0xffffu32.to_le_bytes()); // MXCSR_MASK
    for i in 0..8 {
        let top = ((cpu.x87.status >> 11) & 7) as usize;
        let (mant, exp) = cpu.x87.regs[(top + i) % 8];
        image[32 + 16 * i..40 + 16 * i].copy_from_slice(&mant.to_le_bytes());
        image[40 + 16 * i..42 + 16 * i].copy_from_slice(&exp.to_le_bytes());
    }
    for i in 0..16 {
        image[160 + 16 * i..176 + 16 * i].copy_from_slice(&cpu.xmm[i].to_le_bytes());
    }
    mem.write(addr, &image)
}

/// FXRSTOR; reserved MXCSR bits raise #GP(0). The pointers are loaded
/// whether or not ES is set; the REX.W layout clears FCS and FDS
/// (observed on the host).
pub(super) fn fxrstor_layout<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    addr: u64,
    wide: bool,
) -> Result<(), Exception> {
    if !addr.is_multiple_of(16) {
        return Err(Exception::GeneralProtection(0));
    }
    let mut image = [0u8; 512];
    mem.read(addr, &mut image)?;
    let word = |o: usize| u16::from_le_bytes([image[o], image[o + 1]]);
    let dword = |o: usize| u32::from_le_bytes([image[o], image[o + 1], image[o + 2], image[o + 3]]);
    let mxcsr = dword(24);
    if mxcsr & !super::system::MXCSR_WRITABLE != 0 {
        return Err(Exception::GeneralProtection(0));
    }
    cpu.mxcsr = mxcsr;
    cpu.x87.control = word(0);
    cpu.x87.status = word(2);
    cpu.x87.tag = image[4];
    let qword = |o: usize| dword(o) as u64 | (dword(o + 4) as u64) << 32;
    cpu.x87.pointers = if wide {
        X87Pointers {
            fip: qword(8),
            fcs: 0,
            fop: word(6) & 0x7ff,
            fdp: qword(16),
            fds: 0,
        }
    } else {
        X87Pointers {
            fip: dword(8) as u64,
            fcs: word(12),
            fop: word(6) & 0x7ff,
            fdp: dword(16) as u64,
            fds: word(20),
        }
    };
    let top = ((cpu.x87.status >> 11) & 7) as usize;
    for i in 0..8 {
        let mut m = [0u8; 8];
        m.copy_from_slice(&image[32 + 16 * i..40 + 16 * i]);
        cpu.x87.regs[(top + i) % 8] = (u64::from_le_bytes(m), word(40 + 16 * i));
    }
    for i in 0..16 {
        let mut x = [0u8; 16];
        x.copy_from_slice(&image[160 + 16 * i..176 + 16 * i]);
        cpu.xmm[i] = u128::from_le_bytes(x);
    }
    Ok(())
}
