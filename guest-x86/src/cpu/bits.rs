//! Bit instructions and atomics: BT/BTS/BTR/BTC, BSF/BSR, TZCNT/LZCNT,
//! POPCNT, CMPXCHG, CMPXCHG8B/16B, XADD (SDM Vol.2A/B per mnemonic).

use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::flags::{self, CF, ZF};
use super::operand::Loc;
use super::state::{Cpu, sign_extend};
use crate::mmu::Memory;

/// BT/BTS/BTR/BTC: `op` 0 = test, 1 = set, 2 = reset, 3 = complement.
fn bit_test<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    insn: &Insn,
    offset: u64,
    from_register: bool,
    op: u8,
) -> Result<(), Stop> {
    let size = insn.op_size;
    let bits = size as u64 * 8;
    let mut loc = cpu.rm_loc(insn)?;
    let bit = offset & (bits - 1);
    if let (Loc::Mem(addr), true) = (loc, from_register) {
        // SDM Vol.2A BT: a register bit offset addresses beyond the operand,
        // as a signed offset in operand-size units.
        let signed = sign_extend(offset, size) as i64;
        let units = signed >> bits.trailing_zeros();
        let adjusted = addr.wrapping_add((units * size as i64) as u64);
        if !super::operand::is_canonical(adjusted) {
            let via_stack = matches!(insn.mem, Some(m) if m.seg == super::state::SegReg::Ss);
            return Err(if via_stack {
                Exception::StackFault(0)
            } else {
                Exception::GeneralProtection(0)
            }
            .into());
        }
        loc = Loc::Mem(adjusted);
    }
    let v = cpu.read_loc(mem, insn, loc, size)?;
    let was_set = (v >> bit) & 1 != 0;
    let new = match op {
        1 => v | (1 << bit),
        2 => v & !(1 << bit),
        3 => v ^ (1 << bit),
        _ => v,
    };
    if op != 0 {
        cpu.write_loc(mem, insn, loc, size, new)?;
    }
    cpu.set_flag(CF, was_set);
    Ok(())
}

/// Executes the `Bits` family (map 0F).
pub fn execute<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    let size = insn.op_size;
    let ud = || Err(Stop::Exception(Exception::InvalidOpcode));
    match insn.opcode {
        0xa3 | 0xab | 0xb3 | 0xbb => {
            let offset = cpu.read_reg_operand(insn, size);
            let op = match insn.opcode {
                0xa3 => 0,
                0xab => 1,
                0xb3 => 2,
                _ => 3,
            };
            bit_test(cpu, mem, insn, offset, true, op)
        }
        0xba => match insn.reg & 7 {
            4..=7 => bit_test(cpu, mem, insn, insn.imm, false, (insn.reg & 7) - 4),
            _ => ud(),
        },
        0xbc | 0xbd => {
            let src = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, size)?;
            let bits = size as u32 * 8;
            if insn.rep == 0xf3 {
                // TZCNT / LZCNT: CF = source is zero, ZF = result is zero.
                let count = if insn.opcode == 0xbc {
                    if src == 0 { bits } else { src.trailing_zeros() }
                } else {
                    (src << (64 - bits)).leading_zeros().min(bits)
                };
                cpu.write_reg_operand(insn, size, count as u64);
                let f = if src == 0 { CF } else { 0 } | if count == 0 { ZF } else { 0 };
                cpu.set_flags_masked(f, CF | ZF);
            } else if src == 0 {
                // BSF/BSR of zero: ZF = 1, destination unchanged (AMD APM; Intel "undefined").
                cpu.set_flag(ZF, true);
            } else {
                let index = if insn.opcode == 0xbc {
                    src.trailing_zeros()
                } else {
                    63 - src.leading_zeros()
                };
                cpu.write_reg_operand(insn, size, index as u64);
                cpu.set_flag(ZF, false);
            }
            Ok(())
        }
        0xb8 if insn.rep == 0xf3 => {
            let src = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, size)?;
            cpu.write_reg_operand(insn, size, src.count_ones() as u64);
            cpu.set_status_flags(if src == 0 { ZF } else { 0 });
            Ok(())
        }
        0xb0 | 0xb1 => {
            let size = insn.size_by_low_bit();
            let loc = cpu.rm_loc(insn)?;
            let dest = cpu.read_loc(mem, insn, loc, size)?;
            let acc = cpu.read_reg(0, size, false);
            let (_, f) = flags::sub(acc, dest, 0, size);
            if acc == dest {
                let src = cpu.read_reg_operand(insn, size);
                cpu.write_loc(mem, insn, loc, size, src)?;
            } else {
                // SDM: the destination is written back with its own value
                // (a locked cycle always writes); registers are not.
                if let Loc::Mem(_) = loc {
                    cpu.write_loc(mem, insn, loc, size, dest)?;
                }
                cpu.write_reg(0, size, false, dest);
            }
            cpu.set_status_flags(f);
            Ok(())
        }
        0xc0 | 0xc1 => {
            let size = insn.size_by_low_bit();
            let loc = cpu.rm_loc(insn)?;
            let dest = cpu.read_loc(mem, insn, loc, size)?;
            let src = cpu.read_reg_operand(insn, size);
            let (sum, f) = flags::add(dest, src, 0, size);
            if let Loc::Mem(_) = loc {
                cpu.write_loc(mem, insn, loc, size, sum)?;
                cpu.write_reg_operand(insn, size, dest);
            } else {
                cpu.write_reg_operand(insn, size, dest);
                cpu.write_loc(mem, insn, loc, size, sum)?;
            }
            cpu.set_status_flags(f);
            Ok(())
        }
        0xc7 if insn.reg & 7 == 1 => {
            if insn.mem.is_none() {
                return ud();
            }
            // CMPXCHG16B's alignment #GP comes before the address checks.
            if insn.rex_w() {
                cpu.check_aligned16(insn)?;
            }
            let Loc::Mem(addr) = cpu.rm_loc(insn)? else {
                return ud();
            };
            if insn.rex_w() {
                // CMPXCHG16B: #GP(0) unless 16-byte aligned.
                if addr % 16 != 0 {
                    return Err(Exception::GeneralProtection(0).into());
                }
                let old = cpu.read_mem128(mem, addr)?;
                let expected = ((cpu.gpr[2] as u128) << 64) | cpu.gpr[0] as u128;
                if old == expected {
                    let new = ((cpu.gpr[1] as u128) << 64) | cpu.gpr[3] as u128;
                    cpu.write_mem128(mem, addr, new)?;
                    cpu.set_flag(ZF, true);
                } else {
                    cpu.write_mem128(mem, addr, old)?;
                    cpu.gpr[0] = old as u64;
                    cpu.gpr[2] = (old >> 64) as u64;
                    cpu.set_flag(ZF, false);
                }
            } else {
                let old = cpu.read_mem(mem, addr, 8)?;
                let expected = ((cpu.gpr[2] & 0xffff_ffff) << 32) | (cpu.gpr[0] & 0xffff_ffff);
                if old == expected {
                    let new = ((cpu.gpr[1] & 0xffff_ffff) << 32) | (cpu.gpr[3] & 0xffff_ffff);
                    cpu.write_mem(mem, addr, 8, new)?;
                    cpu.set_flag(ZF, true);
                } else {
                    cpu.write_mem(mem, addr, 8, old)?;
                    cpu.write_reg(0, 4, false, old);
                    cpu.write_reg(2, 4, false, old >> 32);
                    cpu.set_flag(ZF, false);
                }
            }
            Ok(())
        }
        _ => ud(),
    }
}
