//! MMX and the SSE/SSE2 forms that use MMX registers (SDM Vol.1 chapter 9,
//! Vol.2 per mnemonic). MM0–7 alias the significands of the x87 physical
//! registers: any MMX instruction sets TOP = 0 and tags every register
//! valid, a write sets the register's sign/exponent to all ones, EMMS
//! empties the tags (SDM Vol.1 §9.5). Packed-integer semantics are shared
//! with the XMM forms in `sse`.

use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::operand::Loc;
use super::softfloat::{self as sf, Env, F32, F64};
use super::sse::{ShiftKind, integer_op, pack, shift_lanes, unpack};
use super::state::Cpu;
use super::table::Map;
use crate::mmu::Memory;

const LOW64: u128 = u64::MAX as u128;

impl Cpu {
    /// The x87→MMX transition.
    fn enter_mmx(&mut self) {
        self.x87.tag = 0xff;
        self.x87.status &= !(7 << 11);
    }

    fn mm(&self, i: u8) -> u64 {
        self.x87.regs[(i & 7) as usize].0
    }

    fn set_mm(&mut self, i: u8, v: u64) {
        self.x87.regs[(i & 7) as usize] = (v, 0xffff);
    }

    /// The r/m operand as an MMX register or a 64-bit memory value.
    fn mm_source<M: Memory>(&self, mem: &mut M, insn: &Insn) -> Result<u64, Exception> {
        match self.rm_loc(insn)? {
            Loc::Reg(r) => Ok(self.mm(r)),
            Loc::Mem(addr) => self.read_mem(mem, addr, 8),
        }
    }
}

/// MASKMOVQ/MASKMOVDQU check the whole destination even when the mask
/// selects no byte (the SDM leaves it open; the host faults): rewrite it.
fn probe_store<M: Memory>(mem: &mut M, base: u64, len: usize) -> Result<(), Exception> {
    if !super::operand::is_canonical(base) {
        return Err(Exception::GeneralProtection(0));
    }
    let mut old = [0u8; 16];
    mem.read(base, &mut old[..len])?;
    mem.write(base, &old[..len])
}

/// MMX packed-integer opcodes (no prefix, map 0F).
fn is_mmx_integer(op: u8) -> bool {
    matches!(op, 0x60..=0x6b | 0x74..=0x76 | 0xd1..=0xd5 | 0xd8..=0xdf | 0xe0..=0xe5 | 0xe8..=0xef | 0xf1..=0xf6 | 0xf8..=0xfe)
}

/// A packed-integer operation on 64-bit operands.
fn mmx_integer(op: u8, d: u64, s: u64) -> Option<u64> {
    let (d, s) = (d as u128, s as u128);
    let r = match op {
        // High unpacks take bytes 4–7 of each operand.
        0x68..=0x6a => unpack(d >> 32, s >> 32, [8, 16, 32][(op - 0x68) as usize], false),
        // Packs: the destination's elements fill the low half.
        0x63 | 0x67 | 0x6b => {
            let bits = if op == 0x6b { 32 } else { 16 };
            pack(d | (s << 64), 0, bits, op == 0x67)
        }
        _ => integer_op(op, d, s)?,
    };
    Some((r & LOW64) as u64)
}

/// Executes MMX forms; `None` if the instruction is not one.
pub fn execute<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Option<Result<(), Stop>> {
    if insn.map != Map::Map0F {
        return None;
    }
    let prefix = insn.sse_prefix();
    let op = insn.opcode;
    let mmx_form = match (prefix, op) {
        (0, 0x6e | 0x6f | 0x70..=0x73 | 0x77 | 0x7e | 0x7f | 0xc4 | 0xc5 | 0xd7 | 0xe7 | 0xf7) => {
            true
        }
        (0, o) if is_mmx_integer(o) && o != 0x6c && o != 0x6d => true,
        (0 | 0x66, 0x2a | 0x2c | 0x2d) | (0xf3 | 0xf2, 0xd6) | (0x66, 0xf7) => true,
        _ => false,
    };
    if !mmx_form {
        return None;
    }
    // An invalid operand form is #UD before anything else.
    let register_only = matches!(
        (prefix, op),
        (0, 0x71..=0x73 | 0xc5 | 0xd7 | 0xf7) | (0xf3 | 0xf2, 0xd6) | (0x66, 0xf7)
    );
    let bad_group = prefix == 0
        && match op {
            0x71 | 0x72 => !matches!(insn.reg & 7, 2 | 4 | 6),
            0x73 => !matches!(insn.reg & 7, 2 | 6),
            _ => false,
        };
    if bad_group
        || (register_only && insn.mem.is_some())
        || (prefix == 0 && op == 0xe7 && insn.mem.is_none())
    {
        return Some(Err(Exception::InvalidOpcode.into()));
    }
    // MMX instructions deliver a pending x87 exception first (#MF, SDM Vol.1 §9.5).
    // Forms that touch no MMX register (MASKMOVDQU, CVTPI2PS/PD from memory) do not.
    let no_mmx_register = (prefix, op) == (0x66, 0xf7) || (op == 0x2a && insn.mem.is_some());
    let touches_mmx = !no_mmx_register;
    if cpu.x87.status & (1 << 7) != 0 && touches_mmx {
        return Some(Err(Exception::FloatingPoint.into()));
    }
    Some(run(cpu, mem, insn, prefix, op).map_err(Stop::from))
}

fn run<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    insn: &Insn,
    prefix: u8,
    op: u8,
) -> Result<(), Exception> {
    // MMX registers ignore REX.R; XMM destinations use it.
    let dst = insn.reg & 7;
    let xdst = insn.reg as usize;
    let ud = Err(Exception::InvalidOpcode);
    match (prefix, op) {
        (0, 0x77) => {
            // EMMS: all tags empty (and TOP = 0, as observed on hardware).
            cpu.x87.tag = 0;
            cpu.x87.status &= !(7 << 11);
            return Ok(());
        }
        (0 | 0x66, 0x2a) => {
            // CVTPI2PS / CVTPI2PD: only a register source switches to MMX.
            let v = cpu.mm_source(mem, insn)?;
            if insn.mem.is_none() {
                cpu.enter_mmx();
            }
            let mut env = Env::from_mxcsr(cpu.mxcsr);
            let x = cpu.xmm[xdst];
            let ints = [v as u32 as i32 as i128, (v >> 32) as u32 as i32 as i128];
            let out = if prefix == 0 {
                let lo = sf::from_integer(F32, &mut env, ints[0]);
                let hi = sf::from_integer(F32, &mut env, ints[1]);
                (x & !LOW64) | lo | (hi << 32)
            } else {
                sf::from_integer(F64, &mut env, ints[0])
                    | (sf::from_integer(F64, &mut env, ints[1]) << 64)
            };
            cpu.finish_simd(&env)?;
            cpu.xmm[xdst] = out;
            return Ok(());
        }
        (0 | 0x66, 0x2c | 0x2d) => {
            // CVT(T)PS2PI / CVT(T)PD2PI into an MMX register.
            let truncate = op == 0x2c;
            let src = match cpu.rm_loc(insn)? {
                Loc::Reg(r) => cpu.xmm[r as usize],
                Loc::Mem(addr) if prefix == 0 => cpu.read_mem(mem, addr, 8)? as u128,
                Loc::Mem(addr) => {
                    cpu.check_aligned16(insn)?;
                    cpu.read_mem128(mem, addr)?
                }
            };
            let mut env = Env::from_mxcsr(cpu.mxcsr);
            let (fmt, bits) = if prefix == 0 { (F32, 32) } else { (F64, 64) };
            let lane = |i: u32| (src >> (i * bits)) & ((1u128 << bits) - 1);
            let lo = sf::to_integer(fmt, &mut env, lane(0), 32, truncate);
            let hi = sf::to_integer(fmt, &mut env, lane(1), 32, truncate);
            cpu.finish_simd(&env)?;
            cpu.enter_mmx();
            cpu.set_mm(dst, (lo & 0xffff_ffff) | (hi << 32));
            return Ok(());
        }
        (0x66, 0xf7) => {
            // MASKMOVDQU (SSE2): XMM bytes selected by the mask's sign bits to DS:rDI.
            let Loc::Reg(r) = cpu.rm_loc(insn)? else {
                return ud;
            };
            let (data, mask) = (cpu.xmm[xdst], cpu.xmm[r as usize]);
            let seg = insn.seg_override.unwrap_or(super::SegReg::Ds);
            let base = cpu.seg_base(seg).wrapping_add(cpu.read_addr_reg(insn, 7));
            probe_store(mem, base, 16)?;
            for i in 0..16u64 {
                if (mask >> (8 * i + 7)) & 1 != 0 {
                    cpu.write_mem(mem, base.wrapping_add(i), 1, (data >> (8 * i)) as u64)?;
                }
            }
            return Ok(());
        }
        (0xf3, 0xd6) => {
            // MOVQ2DQ xmm, mm.
            let Loc::Reg(r) = cpu.rm_loc(insn)? else {
                return ud;
            };
            cpu.enter_mmx();
            cpu.xmm[xdst] = cpu.mm(r) as u128;
            return Ok(());
        }
        (0xf2, 0xd6) => {
            // MOVDQ2Q mm, xmm.
            let Loc::Reg(r) = cpu.rm_loc(insn)? else {
                return ud;
            };
            cpu.enter_mmx();
            cpu.set_mm(dst, cpu.xmm[r as usize] as u64);
            return Ok(());
        }
        _ => {}
    }
    match op {
        0x6e => {
            let size = if insn.rex_w() { 8 } else { 4 };
            let v = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, size)?;
            cpu.enter_mmx();
            cpu.set_mm(dst, v);
        }
        0x7e => {
            let size = if insn.rex_w() { 8 } else { 4 };
            let loc = cpu.rm_loc(insn)?;
            let v = cpu.mm(dst);
            cpu.write_loc(mem, insn, loc, size, v)?;
            cpu.enter_mmx();
        }
        0x6f => {
            let v = cpu.mm_source(mem, insn)?;
            cpu.enter_mmx();
            cpu.set_mm(dst, v);
        }
        0x7f | 0xe7 => {
            let v = cpu.mm(dst);
            match cpu.rm_loc(insn)? {
                Loc::Reg(r) => cpu.set_mm(r, v),
                Loc::Mem(addr) => cpu.write_mem(mem, addr, 8, v)?,
            }
            cpu.enter_mmx();
        }
        0x70 => {
            // PSHUFW.
            let s = cpu.mm_source(mem, insn)?;
            let imm = insn.imm as u32;
            let r = (0..4).fold(0u64, |acc, i| {
                acc | ((s >> (16 * ((imm >> (2 * i)) & 3))) & 0xffff) << (16 * i)
            });
            cpu.enter_mmx();
            cpu.set_mm(dst, r);
        }
        0x71..=0x73 => {
            let r = insn.rm & 7;
            let bits = [16, 32, 64][(op - 0x71) as usize];
            let kind = match (op, insn.reg & 7) {
                (_, 2) => ShiftKind::Right,
                (0x71 | 0x72, 4) => ShiftKind::Arithmetic,
                (_, 6) => ShiftKind::Left,
                _ => return ud,
            };
            let v = shift_lanes(cpu.mm(r) as u128, bits, insn.imm, kind);
            cpu.enter_mmx();
            cpu.set_mm(r, (v & LOW64) as u64);
        }
        0xc4 => {
            let v = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, 2)? & 0xffff;
            let i = (insn.imm & 3) * 16;
            let r = (cpu.mm(dst) & !(0xffff << i)) | (v << i);
            cpu.enter_mmx();
            cpu.set_mm(dst, r);
        }
        0xc5 => {
            let v = (cpu.mm(insn.rm) >> ((insn.imm & 3) * 16)) & 0xffff;
            cpu.enter_mmx();
            cpu.write_reg(insn.reg, 4, false, v);
        }
        0xd7 => {
            let v = cpu.mm(insn.rm);
            let mask = (0..8).fold(0u64, |acc, i| acc | ((v >> (8 * i + 7)) & 1) << i);
            cpu.enter_mmx();
            cpu.write_reg(insn.reg, 4, false, mask);
        }
        0xf7 => {
            // MASKMOVQ: store the bytes of mm1 selected by mm2's sign bits at DS:rDI.
            let (data, mask) = (cpu.mm(dst), cpu.mm(insn.rm));
            let seg = insn.seg_override.unwrap_or(super::SegReg::Ds);
            let base = cpu.seg_base(seg).wrapping_add(cpu.read_addr_reg(insn, 7));
            probe_store(mem, base, 8)?;
            for i in 0..8 {
                if (mask >> (8 * i + 7)) & 1 != 0 {
                    cpu.write_mem(mem, base.wrapping_add(i), 1, data >> (8 * i))?;
                }
            }
            cpu.enter_mmx();
        }
        _ => {
            let s = cpu.mm_source(mem, insn)?;
            let Some(r) = mmx_integer(op, cpu.mm(dst), s) else {
                return ud;
            };
            cpu.enter_mmx();
            cpu.set_mm(dst, r);
        }
    }
    Ok(())
}
