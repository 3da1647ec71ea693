//! System instructions, most of them CPL 0 only: MOV to/from CR0–CR4/CR8 and
//! DR0–DR7, the descriptor-table registers (LGDT/LIDT/SGDT/SIDT, LLDT/
//! SLDT, LTR/STR), SMSW/LMSW/CLTS, INVLPG, INVD/WBINVD and RDMSR/WRMSR
//! (SDM Vol.2A/2B; Vol.3A §2.5, §4.10, §10.8).

use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::operand::Loc;
use super::segment::{SelectorQuery, selector_error};
use super::state::{Cpu, CpuMode, cr, size_mask};
use crate::mmu::Memory;

fn gp() -> Stop {
    Stop::Exception(Exception::GeneralProtection(0))
}

fn ud() -> Stop {
    Stop::Exception(Exception::InvalidOpcode)
}

fn require_cpl0(cpu: &Cpu) -> Result<(), Stop> {
    if cpu.cpl() == 0 { Ok(()) } else { Err(gp()) }
}

impl Cpu {
    /// MOV to CR0 (SDM Vol.3A §2.5, §10.8.5 for the long-mode switch).
    pub fn write_cr0<M: Memory>(&mut self, mem: &mut M, value: u64) -> Result<(), Exception> {
        let gp = Err(Exception::GeneralProtection(0));
        if value >> 32 != 0
            || (value & cr::CR0_PG != 0 && value & cr::CR0_PE == 0)
            || (value & cr::CR0_NW != 0 && value & cr::CR0_CD == 0)
        {
            return gp;
        }
        let paging_on = value & cr::CR0_PG != 0;
        let was_on = self.cr0 & cr::CR0_PG != 0;
        if paging_on && !was_on && self.efer & cr::EFER_LME != 0 {
            if self.cr4 & cr::CR4_PAE == 0 {
                return gp;
            }
            self.efer |= cr::EFER_LMA;
        }
        if !paging_on && was_on && self.efer & cr::EFER_LMA != 0 {
            // Leaving long mode is only allowed from compatibility mode.
            if self.mode == CpuMode::Bits64 {
                return gp;
            }
            self.efer &= !cr::EFER_LMA;
        }
        self.cr0 = value | cr::CR0_ET;
        self.sync_mode(mem);
        Ok(())
    }

    /// MOV to CR3: a new root, and a TLB flush that keeps global pages.
    pub fn write_cr3<M: Memory>(&mut self, mem: &mut M, value: u64) -> Result<(), Exception> {
        if value >> crate::mmu::paging::MAX_PHYS_BITS != 0 {
            return Err(Exception::GeneralProtection(0));
        }
        self.cr3 = value;
        self.sync_mode(mem);
        mem.flush_tlb(true);
        Ok(())
    }

    /// MOV to CR4.
    pub fn write_cr4<M: Memory>(&mut self, mem: &mut M, value: u64) -> Result<(), Exception> {
        if value & !cr::CR4_SUPPORTED != 0
            || (value & cr::CR4_PAE == 0 && self.efer & cr::EFER_LMA != 0)
        {
            return Err(Exception::GeneralProtection(0));
        }
        self.cr4 = value;
        self.sync_mode(mem);
        Ok(())
    }
}

/// 0F 20 / 0F 22: MOV from/to a control register.
pub fn mov_cr<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    require_cpl0(cpu)?;
    let size = if cpu.mode == CpuMode::Bits64 { 8 } else { 4 };
    let n = insn.reg;
    if insn.opcode == 0x20 {
        let v = match n {
            0 => cpu.cr0,
            2 => cpu.cr2,
            3 => cpu.cr3,
            4 => cpu.cr4,
            // SDM Vol.3A §10.8.6.1: CR8 is the local APIC's TPR[7:4].
            8 => match mem.bus().and_then(|b| b.local_apic()) {
                Some(apic) => apic.cr8(),
                None => cpu.cr8,
            },
            _ => return Err(ud()),
        };
        cpu.write_reg(insn.rm, size, false, v);
        return Ok(());
    }
    let v = cpu.read_reg(insn.rm, size, false);
    match n {
        0 => cpu.write_cr0(mem, v)?,
        2 => cpu.cr2 = v,
        3 => cpu.write_cr3(mem, v)?,
        4 => cpu.write_cr4(mem, v)?,
        8 if v >> 4 == 0 => {
            cpu.cr8 = v;
            if let Some(apic) = mem.bus().and_then(|b| b.local_apic()) {
                apic.set_cr8(v);
            }
        }
        8 => return Err(gp()),
        _ => return Err(ud()),
    }
    Ok(())
}

/// 0F 21 / 0F 23: MOV from/to a debug register (state only: no breakpoint
/// fires). DR4/DR5 alias DR6/DR7 unless CR4.DE (SDM Vol.3A §18.2.2).
pub fn mov_dr<M: Memory>(cpu: &mut Cpu, _mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    require_cpl0(cpu)?;
    let size = if cpu.mode == CpuMode::Bits64 { 8 } else { 4 };
    let mut n = insn.reg as usize;
    if n > 7 {
        return Err(ud());
    }
    if n == 4 || n == 5 {
        if cpu.cr4 & cr::CR4_DE != 0 {
            return Err(ud());
        }
        n += 2;
    }
    if insn.opcode == 0x21 {
        let v = cpu.dr[n];
        cpu.write_reg(insn.rm, size, false, v);
    } else {
        let v = cpu.read_reg(insn.rm, size, false);
        if (n == 6 || n == 7) && v >> 32 != 0 {
            return Err(gp());
        }
        cpu.dr[n] = match n {
            6 => v | super::state::DR6_RESET,
            7 => v | super::state::DR7_RESET,
            _ => v,
        };
    }
    Ok(())
}

/// 0F 00: SLDT, STR, LLDT, LTR, VERR, VERW.
pub fn group6<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    if cpu.selectors_are_paragraphs() {
        return Err(ud());
    }
    let loc = cpu.rm_loc(insn)?;
    match insn.reg & 7 {
        0 | 1 => {
            let v = if insn.reg & 7 == 0 {
                cpu.ldtr.selector
            } else {
                cpu.tr.selector
            };
            let size = if matches!(loc, Loc::Mem(_)) {
                2
            } else {
                insn.op_size
            };
            cpu.write_loc(mem, insn, loc, size, v as u64)?;
        }
        2 | 3 => {
            require_cpl0(cpu)?;
            let selector = cpu.read_loc(mem, insn, loc, 2)? as u16;
            if insn.reg & 7 == 2 {
                load_ldt(cpu, mem, selector)?;
            } else {
                load_task_register(cpu, mem, selector)?;
            }
        }
        4 | 5 => {
            // VERR/VERW (SDM Vol.2B): ZF tells whether the segment could be
            // read or written at the current privilege.
            let selector = cpu.read_loc(mem, insn, loc, 2)? as u16;
            let query = if insn.reg & 7 == 4 {
                SelectorQuery::Readable
            } else {
                SelectorQuery::Writable
            };
            let passes = cpu.query_selector(mem, selector, query)?.is_some();
            cpu.set_flag(super::flags::ZF, passes);
        }
        _ => return Err(ud()),
    }
    Ok(())
}

/// A system descriptor from the GDT with its 64-bit base in long mode.
fn system_segment<M: Memory>(
    cpu: &Cpu,
    mem: &mut M,
    selector: u16,
) -> Result<(u64, super::segment::Descriptor, super::state::Segment), Exception> {
    let err = Exception::GeneralProtection(selector_error(selector));
    if selector & 4 != 0 {
        return Err(err);
    }
    let (addr, d) = cpu.read_descriptor(mem, selector)?;
    let mut seg = d.to_segment(selector);
    if cpu.efer & cr::EFER_LMA != 0 {
        seg.base |= cpu.read_descriptor_high(mem, selector)? << 32;
    }
    Ok((addr, d, seg))
}

/// LLDT (SDM Vol.2A LLDT): a null selector leaves the LDT unusable.
fn load_ldt<M: Memory>(cpu: &mut Cpu, mem: &mut M, selector: u16) -> Result<(), Exception> {
    if selector & 0xfffc == 0 {
        cpu.ldtr = super::state::Segment {
            selector,
            ..Default::default()
        };
        return Ok(());
    }
    let (_, d, seg) = system_segment(cpu, mem, selector)?;
    if d.is_code_or_data() || d.system_type() != 2 {
        return Err(Exception::GeneralProtection(selector_error(selector)));
    }
    if !d.present() {
        return Err(Exception::SegmentNotPresent(selector_error(selector)));
    }
    cpu.ldtr = seg;
    Ok(())
}

/// LTR (SDM Vol.2A LTR): an available TSS, marked busy in the GDT.
fn load_task_register<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    selector: u16,
) -> Result<(), Exception> {
    if selector & 0xfffc == 0 {
        return Err(Exception::GeneralProtection(0));
    }
    let (addr, d, seg) = system_segment(cpu, mem, selector)?;
    let long = cpu.efer & cr::EFER_LMA != 0;
    let available = match d.system_type() {
        9 => true,
        1 => !long,
        _ => false,
    };
    if d.is_code_or_data() || !available {
        return Err(Exception::GeneralProtection(selector_error(selector)));
    }
    if !d.present() {
        return Err(Exception::SegmentNotPresent(selector_error(selector)));
    }
    let busy = ((d.0 >> 40) as u8) | 2;
    mem.write_supervisor(addr.wrapping_add(5), &[busy])?;
    cpu.tr = seg;
    cpu.tr.attributes |= 2;
    Ok(())
}

/// 0F 01: SGDT, SIDT, LGDT, LIDT, SMSW, LMSW, INVLPG, SWAPGS.
pub fn group7<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    let sub = insn.reg & 7;
    let loc = cpu.rm_loc(insn)?;
    let wide = cpu.mode == CpuMode::Bits64;
    match (sub, loc) {
        (0 | 1, Loc::Mem(addr)) => {
            let table = if sub == 0 { cpu.gdtr } else { cpu.idtr };
            cpu.write_mem(mem, addr, 2, table.limit as u64)?;
            let base_size = if wide { 8 } else { 4 };
            cpu.write_mem(mem, addr.wrapping_add(2), base_size, table.base)?;
        }
        (2 | 3, Loc::Mem(addr)) => {
            require_cpl0(cpu)?;
            let limit = cpu.read_mem(mem, addr, 2)? as u16;
            let mut base = cpu.read_mem(mem, addr.wrapping_add(2), if wide { 8 } else { 4 })?;
            if !wide && insn.op_size == 2 {
                base &= 0xff_ffff;
            }
            if wide && !super::operand::is_canonical(base) {
                return Err(gp());
            }
            let table = super::state::TableRegister { base, limit };
            if sub == 2 {
                cpu.gdtr = table;
            } else {
                cpu.idtr = table;
            }
        }
        (4, loc) => {
            let size = if matches!(loc, Loc::Mem(_)) {
                2
            } else {
                insn.op_size
            };
            cpu.write_loc(mem, insn, loc, size, cpu.cr0 & size_mask(size))?;
        }
        (6, loc) => {
            require_cpl0(cpu)?;
            // LMSW loads PE, MP, EM, TS and cannot clear PE.
            let v = cpu.read_loc(mem, insn, loc, 2)?;
            let low = cr::CR0_MP | cr::CR0_EM | cr::CR0_TS;
            let new = (cpu.cr0 & !low) | (v & (low | cr::CR0_PE)) | (cpu.cr0 & cr::CR0_PE);
            cpu.write_cr0(mem, new)?;
        }
        (7, Loc::Mem(addr)) => {
            require_cpl0(cpu)?;
            mem.invalidate_page(addr);
        }
        (7, Loc::Reg(_)) if insn.rm & 7 == 0 => super::syscall::swapgs(cpu)?,
        _ => return Err(ud()),
    }
    Ok(())
}

/// RDMSR (0F 32) and WRMSR (0F 30): ECX selects, EDX:EAX carries the value.
pub fn msr_access<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    require_cpl0(cpu)?;
    let index = cpu.gpr[1] as u32;
    if insn.opcode == 0x32 {
        let v = cpu.read_msr(mem, index)?;
        cpu.write_reg(0, 4, false, v);
        cpu.write_reg(2, 4, false, v >> 32);
    } else {
        let v = (cpu.gpr[0] & 0xffff_ffff) | (cpu.gpr[2] << 32);
        cpu.write_msr(mem, index, v)?;
    }
    Ok(())
}

/// CLTS (0F 06), INVD (0F 08), WBINVD (0F 09): caches are not modelled.
pub fn cache_and_ts(cpu: &mut Cpu, insn: &Insn) -> Result<(), Stop> {
    require_cpl0(cpu)?;
    if insn.opcode == 0x06 {
        cpu.cr0 &= !cr::CR0_TS;
    }
    Ok(())
}
