//! Control transfer: Jcc, JMP, CALL, RET, LOOP/JrCXZ (SDM Vol.2A/B).
//! Far transfers and IRET (`far.rs`) exist on a PC; in Linux user mode
//! they stay #UD.

use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::flags::{self, ZF};
use super::state::{Cpu, CpuMode, Platform};
use super::table::Map;
use crate::mmu::Memory;

/// Sets RIP to `target`, truncated to the operand size outside 64-bit
/// operands (SDM Vol.2A JMP: "EIP ← tempEIP AND 0000FFFFH" for 16 bits).
pub(crate) fn jump(cpu: &mut Cpu, insn: &Insn, target: u64) {
    cpu.rip = match insn.op_size {
        2 => target & 0xffff,
        4 => target & 0xffff_ffff,
        _ => target,
    };
    if cpu.mode == CpuMode::Bits32 {
        cpu.rip &= 0xffff_ffff;
    }
}

/// FF /2 (CALL) and FF /4 (JMP) near indirect.
pub fn indirect_near<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    let size = if cpu.mode == CpuMode::Bits64 {
        8
    } else {
        insn.op_size
    };
    let target = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, size)?;
    if insn.reg & 7 == 2 {
        super::stack::push(cpu, mem, size, cpu.rip)?;
    }
    jump(cpu, insn, target);
    Ok(())
}

/// Executes the `Control` family.
pub fn execute<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    let rel_target = cpu.rip.wrapping_add(insn.imm);
    match (insn.map, insn.opcode) {
        (Map::OneByte, 0x70..=0x7f) | (Map::Map0F, 0x80..=0x8f) => {
            if flags::condition(cpu.rflags, insn.opcode & 15) {
                jump(cpu, insn, rel_target);
            }
            Ok(())
        }
        (Map::OneByte, 0xe9 | 0xeb) => {
            jump(cpu, insn, rel_target);
            Ok(())
        }
        (Map::OneByte, 0xe8) => {
            super::stack::push(cpu, mem, insn.op_size, cpu.rip)?;
            jump(cpu, insn, rel_target);
            Ok(())
        }
        (Map::OneByte, 0xc2 | 0xc3) => {
            let size = insn.op_size;
            let target = super::stack::pop(cpu, mem, size)?;
            let extra = if insn.opcode == 0xc2 { insn.imm } else { 0 };
            cpu.gpr[4] = cpu.gpr[4].wrapping_add(extra);
            jump(cpu, insn, target);
            Ok(())
        }
        (Map::OneByte, 0xe0..=0xe3) => {
            // LOOPNE, LOOPE, LOOP use rCX at address size; JrCXZ tests it.
            let count = if insn.opcode == 0xe3 {
                cpu.read_addr_reg(insn, 1)
            } else {
                let c = cpu.read_addr_reg(insn, 1).wrapping_sub(1);
                cpu.write_addr_reg(insn, 1, c);
                c & super::state::size_mask(insn.addr_size)
            };
            let zf = cpu.flag(ZF);
            let taken = match insn.opcode {
                0xe0 => count != 0 && !zf,
                0xe1 => count != 0 && zf,
                0xe2 => count != 0,
                _ => count == 0,
            };
            if taken {
                jump(cpu, insn, rel_target);
            }
            Ok(())
        }
        (Map::OneByte, 0x9a | 0xea) if cpu.platform == Platform::Pc => {
            super::far::direct(cpu, mem, insn)
        }
        (Map::OneByte, 0xca | 0xcb) if cpu.platform == Platform::Pc => {
            super::far::far_return(cpu, mem, insn)
        }
        (Map::OneByte, 0xcf) if cpu.platform == Platform::Pc => super::far::iret(cpu, mem, insn),
        _ => Err(Exception::InvalidOpcode.into()),
    }
}
