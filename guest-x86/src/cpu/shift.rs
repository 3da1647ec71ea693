//! Shifts and rotates (SDM Vol.2B SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR,
//! SHLD, SHRD). Counts are masked to 5 bits (6 with 64-bit operands); a
//! masked count of zero changes nothing, flags included.

use super::alu::of_bit;
use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::flags::{self, AF, CF, OF};
use super::operand::Loc;
use super::state::{Cpu, sign_bit, size_mask};
use super::table::Map;
use crate::mmu::Memory;

/// The group-2 operations, in ModRM.reg order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShiftOp {
    /// Rotate left.
    Rol,
    /// Rotate right.
    Ror,
    /// Rotate left through carry.
    Rcl,
    /// Rotate right through carry.
    Rcr,
    /// Shift left (SHL and SAL).
    Shl,
    /// Logical shift right.
    Shr,
    /// Arithmetic shift right.
    Sar,
}

impl ShiftOp {
    fn from_reg(reg: u8) -> ShiftOp {
        [
            ShiftOp::Rol,
            ShiftOp::Ror,
            ShiftOp::Rcl,
            ShiftOp::Rcr,
            ShiftOp::Shl,
            ShiftOp::Shr,
            ShiftOp::Shl,
            ShiftOp::Sar,
        ][reg as usize & 7]
    }
}

/// Shifts/rotates `value` by an already-masked, non-zero `count`; returns
/// the result and RFLAGS with CF/OF (and SF/ZF/PF/AF for shifts) updated.
pub fn shift(op: ShiftOp, value: u64, count: u32, size: u8, rflags: u64) -> (u64, u64) {
    let bits = size as u32 * 8;
    let m = size_mask(size);
    let v = value & m;
    let msb = |x: u64| x & sign_bit(size) != 0;
    let cf_in = rflags & CF != 0;
    match op {
        ShiftOp::Rol | ShiftOp::Ror => {
            // `bits` is a power of two: masks instead of divisions.
            let n = count & (bits - 1);
            let back = (bits - n) & (bits - 1);
            let r = if op == ShiftOp::Rol {
                ((v << n) | (v >> back)) & m
            } else {
                ((v >> n) | (v << back)) & m
            };
            let (cf, of) = if op == ShiftOp::Rol {
                (r & 1 != 0, msb(r) != (r & 1 != 0))
            } else {
                (msb(r), msb(r) != (r & (sign_bit(size) >> 1) != 0))
            };
            let f = (rflags & !(CF | OF)) | if cf { CF } else { 0 } | of_bit(of);
            (r, f)
        }
        ShiftOp::Rcl | ShiftOp::Rcr => {
            // SDM: 8- and 16-bit forms rotate modulo 9 and 17 bits.
            let n = match size {
                1 => count % 9,
                2 => count % 17,
                _ => count,
            };
            let wide = ((cf_in as u128) << bits) | v as u128;
            let width = bits + 1;
            let rotated = if op == ShiftOp::Rcl {
                ((wide << n) | (wide >> ((width - n) % width))) & ((1u128 << width) - 1)
            } else {
                ((wide >> n) | (wide << ((width - n) % width))) & ((1u128 << width) - 1)
            };
            let r = rotated as u64 & m;
            let cf = (rotated >> bits) & 1 != 0;
            let of = if op == ShiftOp::Rcl {
                msb(r) != cf
            } else {
                msb(r) != (r & (sign_bit(size) >> 1) != 0)
            };
            let f = (rflags & !(CF | OF)) | if cf { CF } else { 0 } | of_bit(of);
            (r, f)
        }
        ShiftOp::Shl | ShiftOp::Shr | ShiftOp::Sar => {
            let wide = v as u128;
            let (r, cf, of) = match op {
                ShiftOp::Shl => {
                    let r = ((wide << count) as u64) & m;
                    let cf = count <= bits && (v >> (bits - count)) & 1 != 0;
                    (r, cf, msb(r) != cf)
                }
                ShiftOp::Shr => {
                    let r = (wide >> count) as u64 & m;
                    let cf = (wide >> (count - 1)) & 1 != 0;
                    (r, cf, msb(v))
                }
                _ => {
                    let signed = super::state::sign_extend(v, size) as i64 as i128;
                    let r = (signed >> count.min(127)) as u64 & m;
                    let cf = (signed >> (count - 1).min(127)) & 1 != 0;
                    (r, cf, false)
                }
            };
            let status = flags::szp(r, size) | if cf { CF } else { 0 } | of_bit(of);
            ((r), (rflags & !flags::STATUS) | (status & !AF))
        }
    }
}

/// SHLD/SHRD on a non-zero masked count no larger than the operand size.
pub fn double_shift(
    left: bool,
    dst: u64,
    src: u64,
    count: u32,
    size: u8,
    rflags: u64,
) -> (u64, u64) {
    let bits = size as u32 * 8;
    let m = size_mask(size);
    let (d, s) = (dst & m, src & m);
    let (r, cf) = if left {
        let combined = ((d as u128) << bits) | s as u128;
        let r = ((combined << count) >> bits) as u64 & m;
        (r, (d >> (bits - count)) & 1 != 0)
    } else {
        let combined = ((s as u128) << bits) | d as u128;
        let r = (combined >> count) as u64 & m;
        (r, (d >> (count - 1)) & 1 != 0)
    };
    let of = (r ^ d) & sign_bit(size) != 0;
    let status = flags::szp(r, size) | if cf { CF } else { 0 } | of_bit(of);
    (r, (rflags & !flags::STATUS) | status)
}

/// A zero count changes no flags and no memory, but a 32-bit register
/// destination is still written, so its upper half is zeroed (observed on
/// hardware; SDM Vol.1 §3.4.1.1).
fn zero_count(cpu: &mut Cpu, loc: Loc, size: u8, value: u64) -> Result<(), Stop> {
    if let (Loc::Reg(r), 4) = (loc, size) {
        cpu.write_reg(r, 4, false, value);
    }
    Ok(())
}

/// Executes the `Shift` family.
pub fn execute<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    let count_mask = if insn.op_size == 8 { 0x3f } else { 0x1f };
    let loc = cpu.rm_loc(insn)?;
    match (insn.map, insn.opcode) {
        (Map::OneByte, 0xc0 | 0xc1 | 0xd0..=0xd3) => {
            let size = insn.size_by_low_bit();
            let raw = match insn.opcode {
                0xc0 | 0xc1 => insn.imm,
                0xd0 | 0xd1 => 1,
                _ => cpu.gpr[1] & 0xff,
            };
            let count = (raw & if size == 8 { 0x3f } else { 0x1f }) as u32;
            let v = cpu.read_loc(mem, insn, loc, size)?;
            if count == 0 {
                return zero_count(cpu, loc, size, v);
            }
            let (r, f) = shift(ShiftOp::from_reg(insn.reg), v, count, size, cpu.rflags);
            cpu.write_loc(mem, insn, loc, size, r)?;
            cpu.rflags = f;
            Ok(())
        }
        (Map::Map0F, 0xa4 | 0xa5 | 0xac | 0xad) => {
            let size = insn.op_size;
            let raw = if insn.opcode & 1 == 0 {
                insn.imm
            } else {
                cpu.gpr[1] & 0xff
            };
            let count = (raw & count_mask) as u32;
            let d = cpu.read_loc(mem, insn, loc, size)?;
            if count == 0 {
                return zero_count(cpu, loc, size, d);
            }
            let s = cpu.read_reg_operand(insn, size);
            // SDM Vol.2B SHLD: counts above a 16-bit operand width give undefined results and flags.
            let eff = if count > size as u32 * 8 {
                count % (size as u32 * 8)
            } else {
                count
            };
            if eff == 0 {
                return Ok(());
            }
            let (r, f) = double_shift(insn.opcode < 0xa8, d, s, eff, size, cpu.rflags);
            cpu.write_loc(mem, insn, loc, size, r)?;
            cpu.rflags = f;
            Ok(())
        }
        _ => Err(Exception::InvalidOpcode.into()),
    }
}
