//! Integer arithmetic and logic (ADD … CMP, INC/DEC, NEG/NOT, TEST) and the
//! data-movement forms (MOV, MOVZX/MOVSX/MOVSXD, LEA, XCHG, CMOVcc, SETcc,
//! BSWAP, CBW/CWD family, XLAT, MOVBE, CRC32). SDM Vol.2A/2B per mnemonic.

use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::flags::{self, CF, OF};
use super::operand::Loc;
use super::state::{Cpu, CpuMode, Platform, SegReg, sign_extend, size_mask};
use super::table::Map;
use super::{control, muldiv, stack};
use crate::mmu::Memory;

/// The eight classic binary operations, in their encoding order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AluOp {
    /// Addition.
    Add,
    /// Bitwise or.
    Or,
    /// Addition with carry.
    Adc,
    /// Subtraction with borrow.
    Sbb,
    /// Bitwise and.
    And,
    /// Subtraction.
    Sub,
    /// Bitwise exclusive or.
    Xor,
    /// Subtraction that only sets flags.
    Cmp,
}

impl AluOp {
    /// The operation an opcode's bits 5:3 (or a group's ModRM.reg) name.
    pub(crate) fn from_bits(bits: u8) -> AluOp {
        [
            AluOp::Add,
            AluOp::Or,
            AluOp::Adc,
            AluOp::Sbb,
            AluOp::And,
            AluOp::Sub,
            AluOp::Xor,
            AluOp::Cmp,
        ][bits as usize & 7]
    }
}

/// Computes `a op b`; returns the result and the new status flags.
pub fn alu(op: AluOp, a: u64, b: u64, size: u8, rflags: u64) -> (u64, u64) {
    let carry = rflags & CF;
    match op {
        AluOp::Add => flags::add(a, b, 0, size),
        AluOp::Adc => flags::add(a, b, carry, size),
        AluOp::Sub | AluOp::Cmp => flags::sub(a, b, 0, size),
        AluOp::Sbb => flags::sub(a, b, carry, size),
        AluOp::Or => {
            let r = (a | b) & size_mask(size);
            (r, flags::logic(r, size))
        }
        AluOp::And => {
            let r = (a & b) & size_mask(size);
            (r, flags::logic(r, size))
        }
        AluOp::Xor => {
            let r = (a ^ b) & size_mask(size);
            (r, flags::logic(r, size))
        }
    }
}

/// Applies `op` to the destination location with source `src`.
fn alu_to<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    insn: &Insn,
    op: AluOp,
    dst: Loc,
    src: u64,
    size: u8,
) -> Result<(), Stop> {
    let a = cpu.read_loc(mem, insn, dst, size)?;
    let (r, f) = alu(op, a, src, size, cpu.rflags);
    if op != AluOp::Cmp {
        cpu.write_loc(mem, insn, dst, size, r)?;
    }
    cpu.set_status_flags(f);
    Ok(())
}

/// INC/DEC: like ADD/SUB 1 but CF is preserved.
fn inc_dec<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    insn: &Insn,
    dst: Loc,
    size: u8,
    dec: bool,
) -> Result<(), Stop> {
    let a = cpu.read_loc(mem, insn, dst, size)?;
    let (r, f) = if dec {
        flags::sub(a, 1, 0, size)
    } else {
        flags::add(a, 1, 0, size)
    };
    cpu.write_loc(mem, insn, dst, size, r)?;
    cpu.set_flags_masked(f, flags::STATUS & !CF);
    Ok(())
}

/// Executes the `Alu` family.
pub fn execute<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    let op = insn.opcode;
    let osz = insn.op_size;
    match op {
        0x00..=0x3f if op & 7 < 6 => {
            let aop = AluOp::from_bits(op >> 3);
            let size = insn.size_by_low_bit();
            match op & 7 {
                0 | 1 => {
                    let src = cpu.read_reg_operand(insn, size);
                    alu_to(cpu, mem, insn, aop, cpu.rm_loc(insn)?, src, size)
                }
                2 | 3 => {
                    let src = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, size)?;
                    alu_to(cpu, mem, insn, aop, Loc::Reg(insn.reg), src, size)
                }
                _ => alu_to(cpu, mem, insn, aop, Loc::Reg(0), insn.imm, size),
            }
        }
        0x40..=0x4f if cpu.mode != CpuMode::Bits64 => {
            inc_dec(cpu, mem, insn, Loc::Reg(op & 7), osz, op >= 0x48)
        }
        0x80..=0x83 => {
            let size = if op & 1 == 0 { 1 } else { osz };
            let src = if op == 0x83 {
                sign_extend(insn.imm, 1)
            } else {
                insn.imm
            };
            alu_to(
                cpu,
                mem,
                insn,
                AluOp::from_bits(insn.reg),
                cpu.rm_loc(insn)?,
                src,
                size,
            )
        }
        0x84 | 0x85 => {
            let size = insn.size_by_low_bit();
            let a = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, size)?;
            let b = cpu.read_reg_operand(insn, size);
            cpu.set_status_flags(flags::logic(a & b, size));
            Ok(())
        }
        0xa8 | 0xa9 => {
            let size = if op == 0xa8 { 1 } else { osz };
            let a = cpu.read_reg(0, size, false);
            cpu.set_status_flags(flags::logic(a & insn.imm & size_mask(size), size));
            Ok(())
        }
        0xf6 | 0xf7 => {
            let size = if op == 0xf6 { 1 } else { osz };
            let dst = cpu.rm_loc(insn)?;
            match insn.reg & 7 {
                0 | 1 => {
                    let a = cpu.read_loc(mem, insn, dst, size)?;
                    cpu.set_status_flags(flags::logic(a & insn.imm & size_mask(size), size));
                    Ok(())
                }
                2 => {
                    let a = cpu.read_loc(mem, insn, dst, size)?;
                    cpu.write_loc(mem, insn, dst, size, !a).map_err(Stop::from)
                }
                3 => {
                    // NEG: CF = (source != 0), rest as 0 - source.
                    let a = cpu.read_loc(mem, insn, dst, size)?;
                    let (r, f) = flags::sub(0, a, 0, size);
                    cpu.write_loc(mem, insn, dst, size, r)?;
                    cpu.set_status_flags(f);
                    Ok(())
                }
                _ => muldiv::group3(cpu, mem, insn, size),
            }
        }
        0xfe => match insn.reg & 7 {
            0 | 1 => inc_dec(cpu, mem, insn, cpu.rm_loc(insn)?, 1, insn.reg & 7 == 1),
            _ => Err(Exception::InvalidOpcode.into()),
        },
        0xff => match insn.reg & 7 {
            0 | 1 => inc_dec(cpu, mem, insn, cpu.rm_loc(insn)?, osz, insn.reg & 7 == 1),
            2 | 4 => control::indirect_near(cpu, mem, insn),
            3 | 5 if cpu.platform == Platform::Pc => super::far::indirect(cpu, mem, insn),
            6 => stack::push_rm(cpu, mem, insn),
            _ => Err(Exception::InvalidOpcode.into()),
        },
        _ => Err(Exception::InvalidOpcode.into()),
    }
}

/// Virtual cycles (nanoseconds at the PC's 1 GHz) one PAUSE takes:
/// between AMD Zen's (~65) and Intel Skylake's (~140).
pub const PAUSE_CYCLES: u64 = 100;

/// Executes the `Move` family.
pub fn execute_move<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    let osz = insn.op_size;
    let ud = || Err(Stop::Exception(Exception::InvalidOpcode));
    match (insn.map, insn.opcode) {
        (Map::OneByte, 0x63) => {
            if cpu.mode != CpuMode::Bits64 {
                return ud();
            }
            // MOVSXD: sign-extends a doubleword only with REX.W.
            let src_size = osz.min(4);
            let v = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, src_size)?;
            cpu.write_reg_operand(insn, osz, sign_extend(v, src_size));
            Ok(())
        }
        (Map::OneByte, 0x86 | 0x87) => {
            let size = insn.size_by_low_bit();
            let loc = cpu.rm_loc(insn)?;
            let a = cpu.read_loc(mem, insn, loc, size)?;
            let b = cpu.read_reg_operand(insn, size);
            cpu.write_loc(mem, insn, loc, size, b)?;
            cpu.write_reg_operand(insn, size, a);
            Ok(())
        }
        (Map::OneByte, 0x88 | 0x89) => {
            let size = insn.size_by_low_bit();
            let v = cpu.read_reg_operand(insn, size);
            cpu.write_loc(mem, insn, cpu.rm_loc(insn)?, size, v)
                .map_err(Stop::from)
        }
        (Map::OneByte, 0x8a | 0x8b) => {
            let size = insn.size_by_low_bit();
            let v = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, size)?;
            cpu.write_reg_operand(insn, size, v);
            Ok(())
        }
        (Map::OneByte, 0x8c) => {
            let sreg = insn.reg & 7;
            if sreg > 5 {
                return ud();
            }
            let selector = cpu.segs[sreg as usize].selector as u64;
            // SDM Vol.2B MOV: a memory destination is always 16 bits.
            let size = if insn.mem.is_some() { 2 } else { osz };
            cpu.write_loc(mem, insn, cpu.rm_loc(insn)?, size, selector)
                .map_err(Stop::from)
        }
        (Map::OneByte, 0x8e) if cpu.platform == Platform::Pc => {
            // MOV Sreg, r/m16: CS is not loadable this way (SDM Vol.2B MOV).
            let seg = match insn.reg & 7 {
                0 => SegReg::Es,
                2 => SegReg::Ss,
                3 => SegReg::Ds,
                4 => SegReg::Fs,
                5 => SegReg::Gs,
                _ => return ud(),
            };
            let selector = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, 2)? as u16;
            cpu.load_segment(mem, seg, selector)?;
            if seg == SegReg::Ss {
                // MOV SS holds interrupts off for one instruction (SDM Vol.3A §6.8.3).
                cpu.interrupt_shadow = true;
            }
            Ok(())
        }
        (Map::OneByte, 0xc4 | 0xc5) | (Map::Map0F, 0xb2 | 0xb4 | 0xb5)
            if cpu.platform == Platform::Pc =>
        {
            load_far_pointer(cpu, mem, insn)
        }
        (Map::OneByte, 0x8d) => {
            let Some(m) = insn.mem else { return ud() };
            let ea = cpu.effective_address(insn, &m);
            cpu.write_reg_operand(insn, osz, ea);
            Ok(())
        }
        (Map::OneByte, 0x90) if insn.rex & 1 == 0 => {
            // NOP, or PAUSE with F3: the spin-loop hint lasts tens to
            // hundreds of cycles on real processors (SDM Vol.2B PAUSE), so on
            // the PC it advances the virtual clock by PAUSE_CYCLES; a
            // kernel's busy-waits on time (APIC timer calibration, udelay)
            // then take fewer instructions.
            if insn.rep == 0xf3 && cpu.platform == Platform::Pc {
                cpu.tsc = cpu.tsc.wrapping_add(PAUSE_CYCLES - 1);
            }
            Ok(())
        }
        (Map::OneByte, 0x90..=0x97) => {
            let a = cpu.read_reg(0, osz, false);
            let b = cpu.read_reg(insn.rm, osz, false);
            cpu.write_reg(0, osz, false, b);
            cpu.write_reg(insn.rm, osz, false, a);
            Ok(())
        }
        (Map::OneByte, 0x98) => {
            let half = osz / 2;
            let v = sign_extend(cpu.read_reg(0, half, false), half);
            cpu.write_reg(0, osz, false, v);
            Ok(())
        }
        (Map::OneByte, 0x99) => {
            let v = cpu.read_reg(0, osz, false);
            let fill = if v & super::state::sign_bit(osz) != 0 {
                u64::MAX
            } else {
                0
            };
            cpu.write_reg(2, osz, false, fill);
            Ok(())
        }
        (Map::OneByte, 0xa0..=0xa3) => {
            let size = insn.size_by_low_bit();
            let seg = insn.seg_override.unwrap_or(super::SegReg::Ds);
            let addr = cpu.seg_base(seg).wrapping_add(insn.imm);
            if insn.opcode < 0xa2 {
                let v = cpu.read_mem(mem, addr, size)?;
                cpu.write_reg(0, size, false, v);
            } else {
                cpu.write_mem(mem, addr, size, cpu.read_reg(0, size, false))?;
            }
            Ok(())
        }
        (Map::OneByte, 0xb0..=0xb7) => {
            cpu.write_reg(insn.rm, 1, insn.high_bytes(), insn.imm);
            Ok(())
        }
        (Map::OneByte, 0xb8..=0xbf) => {
            cpu.write_reg(insn.rm, osz, false, insn.imm);
            Ok(())
        }
        (Map::OneByte, 0xc6 | 0xc7) => {
            if insn.reg & 7 != 0 {
                return ud();
            }
            let size = insn.size_by_low_bit();
            cpu.write_loc(mem, insn, cpu.rm_loc(insn)?, size, insn.imm)
                .map_err(Stop::from)
        }
        (Map::OneByte, 0xd7) => {
            let seg = insn.seg_override.unwrap_or(super::SegReg::Ds);
            let offset = (cpu.gpr[3].wrapping_add(cpu.gpr[0] & 0xff)) & size_mask(insn.addr_size);
            let v = cpu.read_mem(mem, cpu.seg_base(seg).wrapping_add(offset), 1)?;
            cpu.write_reg(0, 1, false, v);
            Ok(())
        }
        (Map::Map0F, 0x40..=0x4f) => {
            let v = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, osz)?;
            if flags::condition(cpu.rflags, insn.opcode & 15) {
                cpu.write_reg_operand(insn, osz, v);
            } else if osz == 4 {
                // SDM Vol.2A CMOVcc: a 32-bit destination is zero-extended even if not moved.
                let old = cpu.read_reg_operand(insn, 4);
                cpu.write_reg_operand(insn, 4, old);
            }
            Ok(())
        }
        (Map::Map0F, 0x90..=0x9f) => {
            let v = flags::condition(cpu.rflags, insn.opcode & 15) as u64;
            cpu.write_loc(mem, insn, cpu.rm_loc(insn)?, 1, v)
                .map_err(Stop::from)
        }
        (Map::Map0F, 0xb6 | 0xb7 | 0xbe | 0xbf) => {
            let src_size = if insn.opcode & 1 == 0 { 1 } else { 2 };
            let mut v = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, src_size)?;
            if insn.opcode >= 0xbe {
                v = sign_extend(v, src_size);
            }
            cpu.write_reg_operand(insn, osz, v);
            Ok(())
        }
        (Map::Map0F, 0xc3) => {
            if insn.mem.is_none() || insn.opsize_prefix {
                return ud();
            }
            let v = cpu.read_reg_operand(insn, osz);
            cpu.write_loc(mem, insn, cpu.rm_loc(insn)?, osz, v)
                .map_err(Stop::from)
        }
        (Map::Map0F, 0xc8..=0xcf) => {
            let v = cpu.read_reg(insn.rm, osz, false);
            let swapped = match osz {
                // SDM: BSWAP of a 16-bit register is undefined; hardware yields zero.
                2 => 0,
                4 => (v as u32).swap_bytes() as u64,
                _ => v.swap_bytes(),
            };
            cpu.write_reg(insn.rm, osz, false, swapped);
            Ok(())
        }
        (Map::Map0F38, 0xf0 | 0xf1) if insn.rep == 0 => {
            // MOVBE (SDM Vol.2B): memory operand only.
            let Some(_) = insn.mem else { return ud() };
            let loc = cpu.rm_loc(insn)?;
            let swap = |v: u64| match osz {
                2 => (v as u16).swap_bytes() as u64,
                4 => (v as u32).swap_bytes() as u64,
                _ => v.swap_bytes(),
            };
            if insn.opcode == 0xf0 {
                let v = cpu.read_loc(mem, insn, loc, osz)?;
                cpu.write_reg_operand(insn, osz, swap(v));
            } else {
                let v = cpu.read_reg_operand(insn, osz);
                cpu.write_loc(mem, insn, loc, osz, swap(v))?;
            }
            Ok(())
        }
        (Map::Map0F38, 0xf0 | 0xf1) if insn.rep == 0xf2 => {
            // CRC32 (SDM Vol.2A): CRC-32C, bit-reflected, over the source bytes.
            let src_size = if insn.opcode == 0xf0 { 1 } else { osz };
            let data = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, src_size)?;
            let dst_size = if insn.rex_w() { 8 } else { 4 };
            let mut crc = cpu.read_reg_operand(insn, 4) as u32;
            for i in 0..src_size {
                crc ^= (data >> (8 * i)) as u8 as u32;
                for _ in 0..8 {
                    crc = if crc & 1 != 0 {
                        (crc >> 1) ^ 0x82f6_3b78
                    } else {
                        crc >> 1
                    };
                }
            }
            cpu.write_reg_operand(insn, dst_size, crc as u64);
            Ok(())
        }
        _ => ud(),
    }
}

/// OF for one-bit rotates/shifts helper shared with `shift`.
pub(crate) fn of_bit(on: bool) -> u64 {
    if on { OF } else { 0 }
}

/// LES, LDS, LSS, LFS, LGS: a far pointer m16:16/32/64 into a segment
/// register and a general register (SDM Vol.2A LDS/LES/LFS/LGS/LSS).
fn load_far_pointer<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    let Loc::Mem(addr) = cpu.rm_loc(insn)? else {
        return Err(Exception::InvalidOpcode.into());
    };
    let seg = match (insn.map, insn.opcode) {
        (Map::OneByte, 0xc4) => SegReg::Es,
        (Map::OneByte, _) => SegReg::Ds,
        (_, 0xb2) => SegReg::Ss,
        (_, 0xb4) => SegReg::Fs,
        _ => SegReg::Gs,
    };
    let size = insn.op_size;
    let offset = cpu.read_mem(mem, addr, size)?;
    let selector = cpu.read_mem(mem, addr.wrapping_add(size as u64), 2)? as u16;
    cpu.load_segment(mem, seg, selector)?;
    cpu.write_reg_operand(insn, size, offset);
    Ok(())
}
