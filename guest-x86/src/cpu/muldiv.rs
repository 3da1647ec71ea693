//! Multiplication and division (SDM Vol.2A/B MUL, IMUL, DIV, IDIV).
//! Division by zero or an overflowing quotient raises #DE.

use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::flags::{self, CF, OF};
use super::state::{Cpu, sign_extend, size_mask};
use super::table::Map;
use crate::mmu::Memory;

/// MUL/IMUL flags: CF = OF = "upper half significant"; SF/ZF/PF/AF are
/// undefined by the SDM and set here from the low half.
fn mul_flags(low: u64, size: u8, overflow: bool) -> u64 {
    flags::szp(low, size) | if overflow { CF | OF } else { 0 }
}

/// Signed `a * b` truncated to `size` and whether it overflowed.
pub fn imul_trunc(a: u64, b: u64, size: u8) -> (u64, bool) {
    let full = (sign_extend(a, size) as i64 as i128) * (sign_extend(b, size) as i64 as i128);
    let r = full as u64 & size_mask(size);
    (r, sign_extend(r, size) as i64 as i128 != full)
}

/// Writes a double-width result to AX, DX:AX, EDX:EAX or RDX:RAX.
fn write_pair(cpu: &mut Cpu, size: u8, low: u64, high: u64) {
    if size == 1 {
        cpu.write_reg(0, 2, false, (high << 8) | (low & 0xff));
    } else {
        cpu.write_reg(0, size, false, low);
        cpu.write_reg(2, size, false, high);
    }
}

/// Reads the double-width dividend.
fn read_pair(cpu: &Cpu, size: u8) -> u128 {
    if size == 1 {
        cpu.read_reg(0, 2, false) as u128
    } else {
        ((cpu.read_reg(2, size, false) as u128) << (size as u32 * 8))
            | cpu.read_reg(0, size, false) as u128
    }
}

/// F6/F7 /4../7: MUL, IMUL, DIV, IDIV with the implicit accumulator.
pub fn group3<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn, size: u8) -> Result<(), Stop> {
    let src = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, size)?;
    let bits = size as u32 * 8;
    let m = size_mask(size);
    let acc = cpu.read_reg(0, size, false);
    match insn.reg & 7 {
        4 => {
            let full = acc as u128 * src as u128;
            let (low, high) = (full as u64 & m, (full >> bits) as u64 & m);
            write_pair(cpu, size, low, high);
            cpu.set_status_flags(mul_flags(low, size, high != 0));
        }
        5 => {
            let full =
                (sign_extend(acc, size) as i64 as i128) * (sign_extend(src, size) as i64 as i128);
            let (low, high) = (full as u64 & m, (full >> bits) as u64 & m);
            write_pair(cpu, size, low, high);
            let overflow = sign_extend(low, size) as i64 as i128 != full;
            cpu.set_status_flags(mul_flags(low, size, overflow));
        }
        6 => {
            if src == 0 {
                return Err(Exception::DivideError.into());
            }
            let dividend = read_pair(cpu, size);
            let q = dividend / src as u128;
            let r = dividend % src as u128;
            if q > m as u128 {
                return Err(Exception::DivideError.into());
            }
            write_div(cpu, size, q as u64, r as u64);
        }
        _ => {
            let divisor = sign_extend(src, size) as i64 as i128;
            if divisor == 0 {
                return Err(Exception::DivideError.into());
            }
            let raw = read_pair(cpu, size);
            // Sign-extend the 2*size-byte dividend.
            let shift = 128 - 2 * bits;
            let dividend = ((raw << shift) as i128) >> shift;
            let (Some(q), Some(r)) = (dividend.checked_div(divisor), dividend.checked_rem(divisor))
            else {
                return Err(Exception::DivideError.into());
            };
            let limit = 1i128 << (bits - 1);
            if q >= limit || q < -limit {
                return Err(Exception::DivideError.into());
            }
            write_div(cpu, size, q as u64 & m, r as u64 & m);
        }
    }
    Ok(())
}

fn write_div(cpu: &mut Cpu, size: u8, quotient: u64, remainder: u64) {
    if size == 1 {
        cpu.write_reg(0, 2, false, (remainder << 8) | quotient);
    } else {
        cpu.write_reg(0, size, false, quotient);
        cpu.write_reg(2, size, false, remainder);
    }
}

/// Executes the `MulDiv` family: the two- and three-operand IMUL forms.
pub fn execute<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    let size = insn.op_size;
    let src = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, size)?;
    let other = match (insn.map, insn.opcode) {
        (Map::OneByte, 0x69) => insn.imm,
        (Map::OneByte, 0x6b) => sign_extend(insn.imm, 1),
        (Map::Map0F, 0xaf) => cpu.read_reg_operand(insn, size),
        _ => return Err(Exception::InvalidOpcode.into()),
    };
    let (r, overflow) = imul_trunc(src, other, size);
    cpu.write_reg_operand(insn, size, r);
    cpu.set_status_flags(mul_flags(r, size, overflow));
    Ok(())
}
