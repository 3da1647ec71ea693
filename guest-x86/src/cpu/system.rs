//! System and miscellaneous instructions: flag manipulation, LAHF/SAHF,
//! CPUID, RDTSC, SYSCALL, INT, HLT, CLI/STI, fences, hint NOPs,
//! LDMXCSR/STMXCSR; the privileged forms fault at CPL 3 and go to
//! `privileged`, `syscall` and `io` at CPL 0 on a PC.

use super::cpuid::cpuid;
use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::flags::{self, CF, DF};
use super::interrupt::EventSource;
use super::operand::Loc;
use super::segment::SelectorQuery;
use super::state::{Cpu, Platform, cr};
use super::table::Map;
use crate::mmu::Memory;

/// MXCSR bits software may set (SDM Vol.1 §10.2.3; DAZ is supported).
pub const MXCSR_WRITABLE: u32 = 0xffff;

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
        (Map::OneByte, 0xcc | 0xcd | 0xce | 0xf1) => return software_interrupt(cpu, mem, insn),
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
        (Map::OneByte, 0xfa | 0xfb | 0xe4..=0xe7 | 0xec..=0xef)
            if cpu.cpl() != 0 && cpu.platform == Platform::LinuxUser =>
        {
            return gp();
        }
        (Map::OneByte, 0xe4..=0xe7 | 0xec..=0xef) => return super::io::in_out(cpu, mem, insn),
        (Map::OneByte, 0xfa | 0xfb) => {
            // CLI/STI need CPL ≤ IOPL (SDM Vol.2A CLI); STI holds interrupts
            // off for one more instruction.
            if !super::io::io_permitted(cpu) {
                return gp();
            }
            let enable = insn.opcode == 0xfb;
            if enable && !cpu.flag(flags::IF) {
                cpu.interrupt_shadow = true;
            }
            cpu.set_flag(flags::IF, enable);
        }
        (Map::Map0F, 0x05) if cpu.platform == Platform::Pc => {
            return super::syscall::syscall(cpu, mem);
        }
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
        (Map::Map0F, 0x31) if cpu.cr4 & cr::CR4_TSD != 0 && cpu.cpl() != 0 => return gp(),
        (Map::Map0F, 0x31) => {
            let tsc = cpu.tsc;
            cpu.write_reg(0, 4, false, tsc);
            cpu.write_reg(2, 4, false, tsc >> 32);
        }
        (Map::Map0F, 0xa2) => {
            // SDM Vol.3A §10.4.3: CPUID shows the APIC while it is enabled.
            let apic = mem
                .bus()
                .and_then(|b| b.local_apic())
                .is_some_and(|a| a.hardware_enabled());
            let (a, b, c, d) = cpuid(cpu.gpr[0] as u32, cpu.gpr[1] as u32, apic);
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
        // SLDT/STR/VERR/VERW (0F 00) and SGDT/SIDT/SMSW (0F 01) run at any
        // CPL on a CPU without UMIP; group6/group7 check their privileged
        // forms. Linux user mode answers as the kernel does with UMIP on.
        (Map::Map0F, 0x00 | 0x01) if cpu.cpl() != 0 && cpu.platform == Platform::LinuxUser => {
            return gp();
        }
        (Map::Map0F, 0x06 | 0x08 | 0x09 | 0x20..=0x23 | 0x30 | 0x32 | 0x33) if cpu.cpl() != 0 => {
            return gp();
        }
        (_, _) if cpu.platform == Platform::LinuxUser => return ud(),
        (Map::Map0F, 0x00) => return super::privileged::group6(cpu, mem, insn),
        (Map::Map0F, 0x02 | 0x03) => return access_rights_or_limit(cpu, mem, insn),
        (Map::Map0F, 0x01) => return super::privileged::group7(cpu, mem, insn),
        (Map::Map0F, 0x06 | 0x08 | 0x09) => return super::privileged::cache_and_ts(cpu, insn),
        (Map::Map0F, 0x07) => return super::syscall::sysret(cpu, mem, insn.rex_w()),
        (Map::Map0F, 0x20 | 0x22) => return super::privileged::mov_cr(cpu, mem, insn),
        (Map::Map0F, 0x21 | 0x23) => return super::privileged::mov_dr(cpu, mem, insn),
        (Map::Map0F, 0x30 | 0x32) => return super::privileged::msr_access(cpu, mem, insn),
        (Map::Map0F, 0x34) => return super::syscall::sysenter(cpu, mem),
        (Map::Map0F, 0x35) => return super::syscall::sysexit(cpu, mem, insn.rex_w()),
        _ => return ud(),
    }
    Ok(())
}

/// INT n, INT3, INTO and INT1. In Linux user mode the syscall layer turns
/// INT n into a signal; on a PC it goes through the IDT (SDM Vol.2A INT n).
/// LAR (0F 02) and LSL (0F 03), SDM Vol.2A: the selector's access rights
/// (the descriptor's high doubleword masked by 00FxFF00H) or byte-granular
/// limit in the destination register and ZF = 1, or ZF = 0 and the
/// register unchanged when the selector does not pass.
fn access_rights_or_limit<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    if cpu.selectors_are_paragraphs() {
        return Err(Exception::InvalidOpcode.into());
    }
    let loc = cpu.rm_loc(insn)?;
    // Only the selector's 16 bits are read (a memory source is a word).
    let selector = cpu.read_loc(mem, insn, loc, 2)? as u16;
    let query = if insn.opcode == 0x02 {
        SelectorQuery::AccessRights
    } else {
        SelectorQuery::Limit
    };
    let found = cpu.query_selector(mem, selector, query)?;
    cpu.set_flag(flags::ZF, found.is_some());
    if let Some(d) = found {
        let value = match query {
            SelectorQuery::AccessRights => (d.0 >> 32) & 0x00ff_ff00,
            _ => d.limit() as u64,
        };
        cpu.write_reg(insn.reg, insn.op_size, false, value);
    }
    Ok(())
}

fn software_interrupt<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    let (vector, source) = match insn.opcode {
        0xcc => (3, EventSource::Software),
        0xcd => (insn.imm as u8, EventSource::Software),
        // INTO traps only when OF is set.
        0xce if !cpu.flag(flags::OF) => return Ok(()),
        0xce => (4, EventSource::Software),
        // INT1 (ICEBP) is delivered like a debug exception, without the DPL check.
        _ => (1, EventSource::Exception),
    };
    if cpu.platform == Platform::LinuxUser {
        return match insn.opcode {
            0xce => Err(Exception::Overflow.into()),
            0xf1 => Err(Exception::InvalidOpcode.into()),
            _ => Err(Stop::SoftwareInterrupt(vector)),
        };
    }
    cpu.deliver(mem, vector, None, source).map_err(Stop::from)
}
