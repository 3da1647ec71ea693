//! System and miscellaneous instructions: flag manipulation, LAHF/SAHF,
//! CPUID, RDTSC, SYSCALL, INT, HLT, fences, hint NOPs, LDMXCSR/STMXCSR,
//! and the privileged forms that fault at CPL 3.

use super::cpuid::cpuid;
use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::flags::{self, CF, DF};
use super::operand::Loc;
use super::state::{Cpu, SegReg};
use super::table::Map;
use crate::mmu::Memory;

/// MXCSR bits software may set (SDM Vol.1 §10.2.3; DAZ is supported).
pub const MXCSR_WRITABLE: u32 = 0xffff;

impl Cpu {
    /// Current privilege level: CS.RPL (SDM Vol.3A §5.5).
    pub fn cpl(&self) -> u8 {
        (self.segs[SegReg::Cs as usize].selector & 3) as u8
    }
}

/// Executes the `System` family.
pub fn execute<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    let gp = || Err(Stop::Exception(Exception::GeneralProtection(0)));
    let ud = || Err(Stop::Exception(Exception::InvalidOpcode));
    match (insn.map, insn.opcode) {
        (Map::OneByte, 0x9e) => {
            // SAHF loads SF, ZF, AF, PF, CF from AH.
            let ah = (cpu.gpr[0] >> 8) & 0xff;
            cpu.set_flags_masked(ah, flags::SF | flags::ZF | flags::AF | flags::PF | CF);
        }
        (Map::OneByte, 0x9f) => {
            let low = (cpu.rflags & 0xd7) | flags::RESERVED_ONE;
            cpu.write_reg(4, 1, true, low);
        }
        (Map::OneByte, 0xcc) => return Err(Stop::SoftwareInterrupt(3)),
        (Map::OneByte, 0xcd) => return Err(Stop::SoftwareInterrupt(insn.imm as u8)),
        (Map::OneByte, 0xf4) => {
            return if cpu.cpl() == 0 {
                Err(Stop::Halt)
            } else {
                gp()
            };
        }
        (Map::OneByte, 0xf5) => cpu.rflags ^= CF,
        (Map::OneByte, 0xf8) => cpu.set_flag(CF, false),
        (Map::OneByte, 0xf9) => cpu.set_flag(CF, true),
        (Map::OneByte, 0xfc) => cpu.set_flag(DF, false),
        (Map::OneByte, 0xfd) => cpu.set_flag(DF, true),
        (Map::OneByte, 0xfa | 0xfb | 0xe4..=0xe7 | 0xec..=0xef) if cpu.cpl() != 0 => return gp(),
        (Map::Map0F, 0x05) => {
            // SDM Vol.2B SYSCALL: RCX ← RIP, R11 ← RFLAGS.
            cpu.gpr[1] = cpu.rip;
            cpu.gpr[11] = cpu.rflags;
            return Err(Stop::Syscall);
        }
        (Map::Map0F, 0x0b) => return ud(),
        // PREFETCHW needs a memory operand (SDM Vol.2B PREFETCHW: #UD for a register).
        (Map::Map0F, 0x0d) if insn.mem.is_none() => return ud(),
        (Map::Map0F, 0x0d | 0x18..=0x1f) => {} // prefetches, ENDBR64 and hint NOPs
        (Map::Map0F, 0x31) => {
            let tsc = cpu.tsc;
            cpu.write_reg(0, 4, false, tsc);
            cpu.write_reg(2, 4, false, tsc >> 32);
        }
        (Map::Map0F, 0xa2) => {
            let (a, b, c, d) = cpuid(cpu.gpr[0] as u32, cpu.gpr[1] as u32);
            cpu.write_reg(0, 4, false, a as u64);
            cpu.write_reg(3, 4, false, b as u64);
            cpu.write_reg(1, 4, false, c as u64);
            cpu.write_reg(2, 4, false, d as u64);
        }
        (Map::Map0F, 0xae) if insn.rep == 0 && !insn.opsize_prefix => {
            match (insn.reg & 7, cpu.rm_loc(insn)?) {
                (5..=7, Loc::Reg(_)) => {} // LFENCE, MFENCE, SFENCE
                (7, Loc::Mem(_)) => {}     // CLFLUSH
                (2, Loc::Mem(addr)) => {
                    let v = cpu.read_mem(mem, addr, 4)? as u32;
                    if v & !MXCSR_WRITABLE != 0 {
                        return gp();
                    }
                    cpu.mxcsr = v;
                }
                (3, Loc::Mem(addr)) => cpu.write_mem(mem, addr, 4, cpu.mxcsr as u64)?,
                (0, Loc::Mem(addr)) => {
                    super::sse::fxsave_layout(cpu, mem, addr, insn.rex & 8 != 0)?
                }
                (1, Loc::Mem(addr)) => {
                    super::sse::fxrstor_layout(cpu, mem, addr, insn.rex & 8 != 0)?
                }
                _ => return ud(),
            }
        }
        (Map::Map0F, 0x00 | 0x01 | 0x06 | 0x08 | 0x09 | 0x20..=0x23 | 0x30 | 0x32 | 0x33)
            if cpu.cpl() != 0 =>
        {
            return gp();
        }
        _ => return ud(),
    }
    Ok(())
}
