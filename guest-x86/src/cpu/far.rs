//! Far transfers: JMP/CALL ptr16:16/32 and m16:16/32/64, RETF and IRET in
//! real, protected, compatibility and 64-bit mode (SDM Vol.2A JMP, CALL,
//! IRET; Vol.2B RET). Call gates and task switches are not implemented
//! (#GP with the selector).

use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::flags;
use super::operand::Loc;
use super::stack::{pop, push};
use super::state::{Cpu, CpuMode, SegReg, cr, size_mask};
use crate::mmu::Memory;

/// Which far transfer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FarKind {
    Jump,
    Call,
}

/// 9A/EA: CALL/JMP ptr16:16/32 (not in 64-bit mode).
pub fn direct<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    let kind = if insn.opcode == 0x9a {
        FarKind::Call
    } else {
        FarKind::Jump
    };
    transfer(cpu, mem, insn, kind, insn.imm2 as u16, insn.imm)
}

/// FF /3 and FF /5: CALL/JMP m16:16/32/64.
pub fn indirect<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    let Loc::Mem(addr) = cpu.rm_loc(insn)? else {
        return Err(Exception::InvalidOpcode.into());
    };
    let size = insn.op_size;
    let offset = cpu.read_mem(mem, addr, size)?;
    let selector = cpu.read_mem(mem, addr.wrapping_add(size as u64), 2)? as u16;
    let kind = if insn.reg & 7 == 3 {
        FarKind::Call
    } else {
        FarKind::Jump
    };
    transfer(cpu, mem, insn, kind, selector, offset)
}

fn transfer<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    insn: &Insn,
    kind: FarKind,
    selector: u16,
    offset: u64,
) -> Result<(), Stop> {
    let size = insn.op_size;
    let offset = offset & size_mask(size);
    let cs = if cpu.selectors_are_paragraphs() {
        cpu.paragraph_cs(selector)
    } else {
        cpu.check_code_segment(mem, selector, cpu.cpl(), false)?
    };
    if kind == FarKind::Call {
        let saved_sp = cpu.gpr[4];
        let old_cs = cpu.segs[SegReg::Cs as usize].selector as u64;
        let pushed = push(cpu, mem, size, old_cs).and_then(|_| push(cpu, mem, size, cpu.rip));
        if let Err(e) = pushed {
            cpu.gpr[4] = saved_sp;
            return Err(e.into());
        }
    }
    cpu.set_cs(mem, cs);
    cpu.rip = offset;
    Ok(())
}

/// CB/CA: RETF [imm16].
pub fn far_return<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    let size = insn.op_size;
    let release = if insn.opcode == 0xca { insn.imm } else { 0 };
    let saved_sp = cpu.gpr[4];
    let result = (|| {
        let ip = pop(cpu, mem, size)?;
        let selector = pop(cpu, mem, size)? as u16;
        if cpu.selectors_are_paragraphs() {
            let cs = cpu.paragraph_cs(selector);
            release_stack(cpu, release);
            cpu.set_cs(mem, cs);
            cpu.rip = ip & size_mask(size);
            return Ok(());
        }
        let rpl = (selector & 3) as u8;
        let cs = cpu.check_code_segment(mem, selector, rpl, true)?;
        release_stack(cpu, release);
        if rpl > cpu.cpl() {
            // Return to an outer level: SS:RSP come next (SDM Vol.2B RET).
            let sp = pop(cpu, mem, size)?;
            let ss = pop(cpu, mem, size)? as u16;
            switch_to_outer(cpu, mem, cs, ss, sp, size)?;
            release_stack(cpu, release);
        } else {
            cpu.set_cs(mem, cs);
        }
        cpu.rip = ip & size_mask(size);
        Ok(())
    })();
    if let Err(e) = result {
        cpu.gpr[4] = saved_sp;
        return Err(Stop::Exception(e));
    }
    Ok(())
}

fn release_stack(cpu: &mut Cpu, bytes: u64) {
    if bytes != 0 {
        let v = cpu.gpr[4].wrapping_add(bytes);
        super::stack::set_rsp(cpu, v);
    }
}

/// Loads CS, then SS:RSP at the new (outer) CPL. SS must be valid at that
/// CPL; a null SS is allowed for a 64-bit target below CPL 3.
fn switch_to_outer<M: Memory>(
    cpu: &mut Cpu,
    mem: &mut M,
    cs: super::state::Segment,
    ss: u16,
    sp: u64,
    size: u8,
) -> Result<(), Exception> {
    let saved = (cpu.segs, cpu.mode);
    cpu.set_cs(mem, cs);
    if let Err(e) = cpu.load_segment(mem, SegReg::Ss, ss) {
        cpu.segs = saved.0;
        cpu.sync_mode(mem);
        return Err(e);
    }
    cpu.gpr[4] = if cpu.mode == CpuMode::Bits64 {
        sp
    } else {
        sp & size_mask(size)
    };
    cpu.nullify_inaccessible_segments();
    Ok(())
}

/// RFLAGS bits a POPF or IRET may change at the current privilege
/// (SDM Vol.2B POPF; Vol.2A IRET): IF needs CPL ≤ IOPL, IOPL needs CPL 0;
/// VM, VIF and VIP are never loaded here.
pub fn loadable_flags(cpu: &Cpu) -> u64 {
    let mut mask = flags::STATUS | flags::TF | flags::DF | flags::NT | flags::AC | flags::ID;
    let cpl = cpu.cpl();
    if cpl <= cpu.iopl() {
        mask |= flags::IF;
    }
    if cpl == 0 {
        mask |= flags::IOPL;
    }
    mask
}

/// CF: IRET/IRETD/IRETQ.
pub fn iret<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    let size = insn.op_size;
    let saved_sp = cpu.gpr[4];
    let result = (|| {
        if cpu.rflags & flags::NT != 0 && cpu.cr0 & cr::CR0_PE != 0 {
            // A task return (nested task) is not implemented; in IA-32e mode
            // it is #GP(0) architecturally.
            return Err(Exception::GeneralProtection(0));
        }
        if cpu.rflags & flags::VM != 0 {
            return Err(Exception::GeneralProtection(0));
        }
        let ip = pop(cpu, mem, size)?;
        let selector = pop(cpu, mem, size)? as u16;
        let popped_flags = pop(cpu, mem, size)?;
        let mut writable = loadable_flags(cpu) | flags::RF;
        if size == 2 {
            writable &= 0xffff;
        }
        if cpu.cr0 & cr::CR0_PE == 0 {
            let cs = cpu.paragraph_cs(selector);
            cpu.set_cs(mem, cs);
            cpu.rip = ip & size_mask(size);
            cpu.rflags = (cpu.rflags & !writable) | (popped_flags & writable) | flags::RESERVED_ONE;
            return Ok(());
        }
        if popped_flags & flags::VM != 0
            && cpu.cpl() == 0
            && size == 4
            && cpu.mode != CpuMode::Bits64
        {
            // Return to virtual-8086 mode is not implemented.
            return Err(Exception::GeneralProtection(0));
        }
        let rpl = (selector & 3) as u8;
        let cs = cpu.check_code_segment(mem, selector, rpl, true)?;
        let in_64 = cpu.mode == CpuMode::Bits64;
        // Flags use the privilege before the return.
        let new_flags = (cpu.rflags & !writable) | (popped_flags & writable) | flags::RESERVED_ONE;
        if in_64 || rpl > cpu.cpl() {
            // 64-bit mode always pops SS:RSP (SDM Vol.2A IRET, IA-32e mode).
            let sp = pop(cpu, mem, size)?;
            let ss = pop(cpu, mem, size)? as u16;
            if rpl > cpu.cpl() {
                switch_to_outer(cpu, mem, cs, ss, sp, size)?;
            } else {
                let saved = cpu.segs;
                cpu.set_cs(mem, cs);
                if let Err(e) = cpu.load_segment(mem, SegReg::Ss, ss) {
                    cpu.segs = saved;
                    cpu.sync_mode(mem);
                    return Err(e);
                }
                cpu.gpr[4] = sp;
            }
        } else {
            cpu.set_cs(mem, cs);
        }
        cpu.rflags = new_flags;
        cpu.rip = if cpu.mode == CpuMode::Bits64 {
            ip
        } else {
            ip & 0xffff_ffff & size_mask(size)
        };
        Ok(())
    })();
    if let Err(e) = result {
        cpu.gpr[4] = saved_sp;
        return Err(Stop::Exception(e));
    }
    Ok(())
}
