//! String instructions with REP/REPE/REPNE (SDM Vol.2B MOVS, CMPS, STOS,
//! LODS, SCAS; Vol.2B REP). A fault mid-way leaves the registers of the
//! finished iterations in place, so the instruction restarts correctly.

use super::decode::Insn;
use super::fault::Stop;
use super::flags::{self, DF, ZF};
use super::state::{Cpu, SegReg};
use crate::mmu::Memory;

const RCX: u8 = 1;

/// Iterations a REP string instruction runs on a PC before it lets the
/// machine look at interrupts: it then restarts itself with the registers
/// of the finished iterations, as after an interrupt (SDM Vol.2B REP).
pub(crate) const REP_CHUNK: u32 = 4096;

/// Ends a REP chunk: RIP back at the instruction, so it resumes next step.
/// Returns true if the chunk is over (only on a PC; user mode runs to the end).
pub(crate) fn rep_chunk_done(cpu: &mut Cpu, insn: &Insn, iterations: u32) -> bool {
    if iterations < REP_CHUNK || cpu.platform != super::state::Platform::Pc {
        return false;
    }
    let start = cpu.rip.wrapping_sub(insn.len as u64);
    cpu.rip = match cpu.mode {
        super::state::CpuMode::Bits64 => start,
        super::state::CpuMode::Bits32 => start & 0xffff_ffff,
        super::state::CpuMode::Bits16 => start & 0xffff,
    };
    true
}
const RSI: u8 = 6;
const RDI: u8 = 7;

/// Executes the `String` family.
pub fn execute<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    if insn.opcode < 0xa4 {
        return super::io::string_io(cpu, mem, insn);
    }
    let size = insn.size_by_low_bit();
    let step = if cpu.flag(DF) {
        (size as u64).wrapping_neg()
    } else {
        size as u64
    };
    let src_seg = insn.seg_override.unwrap_or(SegReg::Ds);
    let repeat = insn.rep != 0;
    // CMPS/SCAS distinguish REPE (F3) from REPNE (F2).
    let compares = matches!(insn.opcode, 0xa6 | 0xa7 | 0xae | 0xaf);
    let mut iterations = 0u32;
    loop {
        if repeat && cpu.read_addr_reg(insn, RCX) == 0 {
            return Ok(());
        }
        let si = cpu.read_addr_reg(insn, RSI);
        let di = cpu.read_addr_reg(insn, RDI);
        match insn.opcode {
            0xa4 | 0xa5 => {
                let v = cpu.read_mem(mem, cpu.string_address(src_seg, si), size)?;
                cpu.write_mem(mem, cpu.string_address(SegReg::Es, di), size, v)?;
                cpu.write_addr_reg(insn, RSI, si.wrapping_add(step));
                cpu.write_addr_reg(insn, RDI, di.wrapping_add(step));
            }
            0xa6 | 0xa7 => {
                let a = cpu.read_mem(mem, cpu.string_address(src_seg, si), size)?;
                let b = cpu.read_mem(mem, cpu.string_address(SegReg::Es, di), size)?;
                let (_, f) = flags::sub(a, b, 0, size);
                cpu.set_status_flags(f);
                cpu.write_addr_reg(insn, RSI, si.wrapping_add(step));
                cpu.write_addr_reg(insn, RDI, di.wrapping_add(step));
            }
            0xaa | 0xab => {
                cpu.write_mem(
                    mem,
                    cpu.string_address(SegReg::Es, di),
                    size,
                    cpu.read_reg(0, size, false),
                )?;
                cpu.write_addr_reg(insn, RDI, di.wrapping_add(step));
            }
            0xac | 0xad => {
                let v = cpu.read_mem(mem, cpu.string_address(src_seg, si), size)?;
                cpu.write_reg(0, size, false, v);
                cpu.write_addr_reg(insn, RSI, si.wrapping_add(step));
            }
            _ => {
                let b = cpu.read_mem(mem, cpu.string_address(SegReg::Es, di), size)?;
                let (_, f) = flags::sub(cpu.read_reg(0, size, false), b, 0, size);
                cpu.set_status_flags(f);
                cpu.write_addr_reg(insn, RDI, di.wrapping_add(step));
            }
        }
        if !repeat {
            return Ok(());
        }
        let count = cpu.read_addr_reg(insn, RCX).wrapping_sub(1);
        cpu.write_addr_reg(insn, RCX, count);
        if compares {
            let zf = cpu.flag(ZF);
            if (insn.rep == 0xf3 && !zf) || (insn.rep == 0xf2 && zf) {
                return Ok(());
            }
        }
        iterations += 1;
        if count != 0 && rep_chunk_done(cpu, insn, iterations) {
            return Ok(());
        }
    }
}
