//! Fast system calls on a PC: SYSCALL/SYSRET (STAR, LSTAR, CSTAR, FMASK,
//! EFER.SCE), SYSENTER/SYSEXIT (the SYSENTER MSRs) and SWAPGS (SDM Vol.2B).
//! In Linux user mode SYSCALL stops the CPU instead (see `system.rs`).

use super::fault::{Exception, Stop};
use super::flags;
use super::state::{Cpu, CpuMode, FlatKind, SegReg, Segment, cr};
use crate::mmu::Memory;

/// The flat code segment SYSCALL/SYSENTER/SYSRET/SYSEXIT load.
fn flat_code(selector: u16, dpl: u8, long: bool) -> Segment {
    let kind = if long {
        FlatKind::Code64
    } else {
        FlatKind::Code32
    };
    Segment::flat(selector, dpl, kind)
}

/// The flat stack segment they load.
fn flat_stack(selector: u16, dpl: u8) -> Segment {
    Segment::flat(selector, dpl, FlatKind::Data)
}

fn gp() -> Stop {
    Stop::Exception(Exception::GeneralProtection(0))
}

/// SYSCALL on a PC (SDM Vol.2B SYSCALL; the legacy-mode form is AMD's).
pub fn syscall<M: Memory>(cpu: &mut Cpu, mem: &mut M) -> Result<(), Stop> {
    if cpu.efer & cr::EFER_SCE == 0 || cpu.cr0 & cr::CR0_PE == 0 {
        return Err(Exception::InvalidOpcode.into());
    }
    let selector = ((cpu.msr.star >> 32) & 0xfffc) as u16;
    let long = cpu.efer & cr::EFER_LMA != 0;
    if long {
        cpu.gpr[1] = cpu.rip;
        cpu.gpr[11] = cpu.rflags & !flags::RF;
        cpu.rip = if cpu.mode == CpuMode::Bits64 {
            cpu.msr.lstar
        } else {
            cpu.msr.cstar
        };
        cpu.rflags &= !(cpu.msr.sfmask | flags::RF);
    } else {
        cpu.gpr[1] = cpu.rip & 0xffff_ffff;
        cpu.rip = cpu.msr.star & 0xffff_ffff;
        cpu.rflags &= !(flags::IF | flags::VM | flags::RF);
    }
    cpu.rflags |= flags::RESERVED_ONE;
    cpu.segs[SegReg::Ss as usize] = flat_stack(selector + 8, 0);
    cpu.set_cs(mem, flat_code(selector, 0, long));
    Ok(())
}

/// SYSRET (SDM Vol.2B SYSRET): to CPL 3, 64-bit with REX.W, else 32-bit.
pub fn sysret<M: Memory>(cpu: &mut Cpu, mem: &mut M, rex_w: bool) -> Result<(), Stop> {
    if cpu.efer & cr::EFER_SCE == 0 || cpu.cr0 & cr::CR0_PE == 0 {
        return Err(Exception::InvalidOpcode.into());
    }
    if cpu.cpl() != 0 {
        return Err(gp());
    }
    let base = ((cpu.msr.star >> 48) & 0xffff) as u16;
    let long = cpu.efer & cr::EFER_LMA != 0;
    if long && rex_w && !super::operand::is_canonical(cpu.gpr[1]) {
        return Err(gp());
    }
    let (cs, rip) = if long && rex_w {
        (flat_code((base + 16) | 3, 3, true), cpu.gpr[1])
    } else {
        (flat_code(base | 3, 3, false), cpu.gpr[1] & 0xffff_ffff)
    };
    if long {
        let writable = !(flags::RF | flags::VM);
        cpu.rflags = (cpu.gpr[11] & writable & 0x3f_7fd7) | flags::RESERVED_ONE;
    } else {
        cpu.rflags |= flags::IF;
    }
    // SS keeps base/limit flat with DPL 3 (SDM: "SS.Selector ← IA32_STAR[63:48]+8").
    cpu.segs[SegReg::Ss as usize] = flat_stack((base + 8) | 3, 3);
    cpu.set_cs(mem, cs);
    cpu.rip = rip;
    Ok(())
}

/// SYSENTER (SDM Vol.2B SYSENTER).
pub fn sysenter<M: Memory>(cpu: &mut Cpu, mem: &mut M) -> Result<(), Stop> {
    let selector = (cpu.msr.sysenter_cs & 0xfffc) as u16;
    if cpu.cr0 & cr::CR0_PE == 0 || selector == 0 {
        return Err(gp());
    }
    let long = cpu.efer & cr::EFER_LMA != 0;
    cpu.rflags &= !(flags::VM | flags::IF | flags::RF);
    cpu.segs[SegReg::Ss as usize] = flat_stack(selector + 8, 0);
    cpu.set_cs(mem, flat_code(selector, 0, long));
    let mask = if long { u64::MAX } else { 0xffff_ffff };
    cpu.rip = cpu.msr.sysenter_eip & mask;
    cpu.gpr[4] = cpu.msr.sysenter_esp & mask;
    Ok(())
}

/// SYSEXIT (SDM Vol.2B SYSEXIT): to CPL 3, 64-bit with REX.W.
pub fn sysexit<M: Memory>(cpu: &mut Cpu, mem: &mut M, rex_w: bool) -> Result<(), Stop> {
    let selector = (cpu.msr.sysenter_cs & 0xfffc) as u16;
    if cpu.cr0 & cr::CR0_PE == 0 || selector == 0 || cpu.cpl() != 0 {
        return Err(gp());
    }
    let (cs, ss, mask) = if rex_w {
        (
            flat_code((selector + 32) | 3, 3, true),
            (selector + 40) | 3,
            u64::MAX,
        )
    } else {
        (
            flat_code((selector + 16) | 3, 3, false),
            (selector + 24) | 3,
            0xffff_ffff,
        )
    };
    if rex_w
        && (!super::operand::is_canonical(cpu.gpr[2]) || !super::operand::is_canonical(cpu.gpr[1]))
    {
        return Err(gp());
    }
    cpu.segs[SegReg::Ss as usize] = flat_stack(ss, 3);
    cpu.set_cs(mem, cs);
    cpu.rip = cpu.gpr[2] & mask;
    cpu.gpr[4] = cpu.gpr[1] & mask;
    Ok(())
}

/// SWAPGS: exchanges GS.base with IA32_KERNEL_GS_BASE (64-bit mode, CPL 0).
pub fn swapgs(cpu: &mut Cpu) -> Result<(), Stop> {
    if cpu.mode != CpuMode::Bits64 {
        return Err(Exception::InvalidOpcode.into());
    }
    if cpu.cpl() != 0 {
        return Err(gp());
    }
    core::mem::swap(
        &mut cpu.segs[SegReg::Gs as usize].base,
        &mut cpu.kernel_gs_base,
    );
    Ok(())
}
