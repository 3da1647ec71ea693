//! Stack instructions: PUSH/POP, PUSHF/POPF, ENTER/LEAVE (SDM Vol.2B).

use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::flags;
use super::state::{Cpu, CpuMode, SegReg, sign_extend, size_mask};
use super::table::Map;
use crate::mmu::Memory;

const RSP: usize = 4;
const RBP: usize = 5;

fn stack_address_mask(cpu: &Cpu) -> u64 {
    match cpu.mode {
        CpuMode::Bits64 => u64::MAX,
        // SS.B selects a 32-bit stack pointer (SDM Vol.3A §3.4.5).
        _ if cpu.segs[SegReg::Ss as usize].attributes & 0x400 != 0 => 0xffff_ffff,
        _ => 0xffff,
    }
}

pub(crate) fn set_rsp(cpu: &mut Cpu, value: u64) {
    let mask = stack_address_mask(cpu);
    cpu.gpr[RSP] = (cpu.gpr[RSP] & !mask) | (value & mask);
}

/// A non-canonical stack address raises #SS(0) (SDM Vol.3A §6.15, #SS).
fn check_stack_address(cpu: &Cpu, addr: u64) -> Result<(), Exception> {
    if cpu.mode == CpuMode::Bits64 && !super::operand::is_canonical(addr) {
        return Err(Exception::StackFault(0));
    }
    Ok(())
}

/// Pushes `size` bytes of `value`; RSP changes only if the store succeeds.
pub fn push<M: Memory>(cpu: &mut Cpu, mem: &mut M, size: u8, value: u64) -> Result<(), Exception> {
    let mask = stack_address_mask(cpu);
    let new_sp = cpu.gpr[RSP].wrapping_sub(size as u64) & mask;
    check_stack_address(cpu, new_sp)?;
    cpu.write_mem(
        mem,
        cpu.seg_base(SegReg::Ss).wrapping_add(new_sp),
        size,
        value,
    )?;
    set_rsp(cpu, new_sp);
    Ok(())
}

/// Pops `size` bytes.
pub fn pop<M: Memory>(cpu: &mut Cpu, mem: &mut M, size: u8) -> Result<u64, Exception> {
    let mask = stack_address_mask(cpu);
    let sp = cpu.gpr[RSP] & mask;
    check_stack_address(cpu, sp)?;
    let v = cpu.read_mem(mem, cpu.seg_base(SegReg::Ss).wrapping_add(sp), size)?;
    set_rsp(cpu, sp.wrapping_add(size as u64));
    Ok(v)
}

/// FF /6: PUSH r/m.
pub fn push_rm<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    let v = cpu.read_loc(mem, insn, cpu.rm_loc(insn)?, insn.op_size)?;
    push(cpu, mem, insn.op_size, v)?;
    Ok(())
}

/// Executes the `Stack` family.
pub fn execute<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    let size = insn.op_size;
    match (insn.map, insn.opcode) {
        (Map::OneByte, 0x50..=0x57) => {
            let v = cpu.read_reg(insn.rm, size, false);
            push(cpu, mem, size, v)?;
        }
        (Map::OneByte, 0x58..=0x5f) => {
            let v = pop(cpu, mem, size)?;
            cpu.write_reg(insn.rm, size, false, v);
        }
        (Map::OneByte, 0x68) => push(cpu, mem, size, insn.imm)?,
        (Map::OneByte, 0x6a) => push(cpu, mem, size, sign_extend(insn.imm, 1))?,
        (Map::OneByte, 0x8f) => {
            if insn.reg & 7 != 0 {
                return Err(Exception::InvalidOpcode.into());
            }
            // SDM Vol.2B POP: with RSP as base, the address uses the incremented RSP.
            let old_sp = cpu.gpr[RSP];
            let v = pop(cpu, mem, size)?;
            let loc = cpu.rm_loc(insn)?;
            if let Err(e) = cpu.write_loc(mem, insn, loc, size, v) {
                cpu.gpr[RSP] = old_sp;
                return Err(e.into());
            }
        }
        (Map::OneByte, 0x9c) => {
            // PUSHF clears VM and RF in the image (SDM Vol.2B PUSHF).
            push(cpu, mem, size, cpu.rflags & !(3 << 16))?;
        }
        (Map::OneByte, 0x9d) => {
            let v = pop(cpu, mem, size)?;
            // IF needs CPL ≤ IOPL and IOPL needs CPL 0; VM and RF are never set.
            let writable = super::far::loadable_flags(cpu) & size_mask(size);
            cpu.rflags = (cpu.rflags & !writable) | (v & writable) | flags::RESERVED_ONE;
        }
        (Map::OneByte, 0xc8) => enter(cpu, mem, insn)?,
        (Map::OneByte, 0xc9) => {
            let old_sp = cpu.gpr[RSP];
            set_rsp(cpu, cpu.gpr[RBP]);
            match pop(cpu, mem, size) {
                Ok(v) => cpu.write_reg(RBP as u8, size, false, v),
                Err(e) => {
                    cpu.gpr[RSP] = old_sp;
                    return Err(e.into());
                }
            }
        }
        (Map::OneByte, 0x06 | 0x0e | 0x16 | 0x1e) => {
            let seg = segment_of_push_pop(insn.opcode);
            push(cpu, mem, size, cpu.segs[seg as usize].selector as u64)?;
        }
        (Map::OneByte, 0x07 | 0x17 | 0x1f) | (Map::Map0F, 0xa1 | 0xa9) => {
            let seg = match (insn.map, insn.opcode) {
                (Map::Map0F, 0xa1) => SegReg::Fs,
                (Map::Map0F, _) => SegReg::Gs,
                _ => segment_of_push_pop(insn.opcode),
            };
            let old_sp = cpu.gpr[RSP];
            let selector = pop(cpu, mem, size)? as u16;
            if let Err(e) = cpu.load_segment(mem, seg, selector) {
                cpu.gpr[RSP] = old_sp;
                return Err(e.into());
            }
            if seg == SegReg::Ss {
                // POP SS holds interrupts off for one instruction (SDM Vol.3A §6.8.3).
                cpu.interrupt_shadow = true;
            }
        }
        (Map::OneByte, 0x60) => pusha(cpu, mem, size)?,
        (Map::OneByte, 0x61) => popa(cpu, mem, size)?,
        (Map::Map0F, 0xa0 | 0xa8) => {
            let seg = if insn.opcode == 0xa0 {
                SegReg::Fs
            } else {
                SegReg::Gs
            };
            push(cpu, mem, size, cpu.segs[seg as usize].selector as u64)?;
        }
        _ => return Err(Exception::InvalidOpcode.into()),
    }
    Ok(())
}

/// ENTER imm16, imm8 (SDM Vol.2A ENTER, nesting level modulo 32).
fn enter<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Exception> {
    let size = insn.op_size;
    let level = insn.imm2 & 31;
    let saved_sp = cpu.gpr[RSP];
    let saved_bp = cpu.gpr[RBP];
    let result = (|| {
        push(cpu, mem, size, cpu.read_reg(RBP as u8, size, false))?;
        let frame = cpu.gpr[RSP];
        if level > 0 {
            // The frame pointers are addressed with the full (stack-address
            // sized) RBP whatever the operand size (SDM Vol.2A ENTER).
            let mut bp = cpu.gpr[RBP] & stack_address_mask(cpu);
            for _ in 1..level {
                bp = bp.wrapping_sub(size as u64);
                let addr = cpu
                    .seg_base(SegReg::Ss)
                    .wrapping_add(bp & stack_address_mask(cpu));
                check_stack_address(cpu, addr)?;
                let v = cpu.read_mem(mem, addr, size)?;
                push(cpu, mem, size, v)?;
            }
            push(cpu, mem, size, frame)?;
        }
        let new_sp = cpu.gpr[RSP].wrapping_sub(insn.imm) & stack_address_mask(cpu);
        // The new top of stack must be writable: AMD processors probe it
        // (observed on the host; the SDM does not say), so fault here too.
        let top = cpu.seg_base(SegReg::Ss).wrapping_add(new_sp);
        check_stack_address(cpu, top)?;
        let old = cpu.read_mem(mem, top, size)?;
        cpu.write_mem(mem, top, size, old)?;
        cpu.write_reg(RBP as u8, size, false, frame);
        set_rsp(cpu, new_sp);
        Ok(())
    })();
    if result.is_err() {
        cpu.gpr[RSP] = saved_sp;
        cpu.gpr[RBP] = saved_bp;
    }
    result
}

/// The segment register of the one-byte PUSH/POP Sreg opcodes (ES 06/07,
/// CS 0E, SS 16/17, DS 1E/1F).
fn segment_of_push_pop(opcode: u8) -> SegReg {
    match opcode >> 3 {
        0 => SegReg::Es,
        1 => SegReg::Cs,
        2 => SegReg::Ss,
        _ => SegReg::Ds,
    }
}

/// PUSHA/PUSHAD: AX, CX, DX, BX, the original SP, BP, SI, DI (SDM Vol.2B PUSHA).
fn pusha<M: Memory>(cpu: &mut Cpu, mem: &mut M, size: u8) -> Result<(), Exception> {
    let saved_sp = cpu.gpr[RSP];
    for reg in 0..8u8 {
        let v = if reg as usize == RSP {
            saved_sp
        } else {
            cpu.gpr[reg as usize]
        };
        if let Err(e) = push(cpu, mem, size, v & size_mask(size)) {
            cpu.gpr[RSP] = saved_sp;
            return Err(e);
        }
    }
    Ok(())
}

/// POPA/POPAD: the reverse, skipping the saved SP (SDM Vol.2B POPA).
fn popa<M: Memory>(cpu: &mut Cpu, mem: &mut M, size: u8) -> Result<(), Exception> {
    let saved = cpu.gpr;
    for reg in (0..8u8).rev() {
        match pop(cpu, mem, size) {
            Ok(v) if reg as usize != RSP => cpu.write_reg(reg, size, false, v),
            Ok(_) => {}
            Err(e) => {
                cpu.gpr = saved;
                return Err(e);
            }
        }
    }
    Ok(())
}
