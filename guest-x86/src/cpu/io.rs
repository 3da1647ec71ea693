//! Port I/O: IN, OUT, INS and OUTS through the bus (SDM Vol.2A IN, INS;
//! Vol.2B OUT, OUTS; Vol.1 §19.5). I/O is allowed when CPL ≤ IOPL; the TSS
//! I/O permission bitmap is not consulted (I/O above IOPL is #GP(0)).

use super::decode::Insn;
use super::fault::{Exception, Stop};
use super::flags::{self, DF};
use super::state::{Cpu, SegReg};
use crate::mmu::Memory;

const RCX: u8 = 1;
const RDX: usize = 2;
const RSI: u8 = 6;
const RDI: u8 = 7;

/// I/O-sensitive instructions (IN/OUT/INS/OUTS, CLI/STI) are allowed.
pub fn io_permitted(cpu: &Cpu) -> bool {
    cpu.rflags & flags::VM == 0 && cpu.cpl() <= cpu.iopl()
}

/// Width of an I/O access: byte forms have the low opcode bit clear.
fn io_size(insn: &Insn) -> u8 {
    if insn.opcode & 1 == 0 {
        1
    } else if insn.op_size == 2 {
        2
    } else {
        4
    }
}

fn port_read<M: Memory>(mem: &mut M, port: u16, size: u8) -> Result<u32, Exception> {
    let bus = mem.bus().ok_or(Exception::GeneralProtection(0))?;
    Ok(bus.port_read(port, size))
}

fn port_write<M: Memory>(mem: &mut M, port: u16, size: u8, value: u32) -> Result<(), Exception> {
    let bus = mem.bus().ok_or(Exception::GeneralProtection(0))?;
    bus.port_write(port, size, value);
    Ok(())
}

/// E4–E7 and EC–EF: IN and OUT with an immediate or DX port.
pub fn in_out<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    if !io_permitted(cpu) {
        return Err(Exception::GeneralProtection(0).into());
    }
    let size = io_size(insn);
    let port = if insn.opcode < 0xe8 {
        insn.imm as u16
    } else {
        cpu.gpr[RDX] as u16
    };
    let input = insn.opcode & 2 == 0;
    if input {
        let v = port_read(mem, port, size)?;
        cpu.write_reg(0, size, false, v as u64);
    } else {
        let v = cpu.read_reg(0, size, false) as u32;
        port_write(mem, port, size, v)?;
    }
    Ok(())
}

/// 6C–6F: INS and OUTS, with REP.
pub fn string_io<M: Memory>(cpu: &mut Cpu, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
    if !io_permitted(cpu) {
        return Err(Exception::GeneralProtection(0).into());
    }
    let size = io_size(insn);
    let step = if cpu.flag(DF) {
        (size as u64).wrapping_neg()
    } else {
        size as u64
    };
    let port = cpu.gpr[RDX] as u16;
    let repeat = insn.rep != 0;
    let outs = insn.opcode >= 0x6e;
    let mut iterations = 0u32;
    loop {
        if repeat && cpu.read_addr_reg(insn, RCX) == 0 {
            return Ok(());
        }
        if outs {
            let si = cpu.read_addr_reg(insn, RSI);
            let seg = insn.seg_override.unwrap_or(SegReg::Ds);
            let addr = cpu.string_address(seg, si);
            let v = cpu.read_mem(mem, addr, size)?;
            port_write(mem, port, size, v as u32)?;
            cpu.write_addr_reg(insn, RSI, si.wrapping_add(step));
        } else {
            // INS always writes through ES (no override, SDM Vol.2A INS).
            let di = cpu.read_addr_reg(insn, RDI);
            let addr = cpu.string_address(SegReg::Es, di);
            // Probe the destination first so a fault does not lose the input.
            cpu.read_mem(mem, addr, size)?;
            let v = port_read(mem, port, size)?;
            cpu.write_mem(mem, addr, size, v as u64)?;
            cpu.write_addr_reg(insn, RDI, di.wrapping_add(step));
        }
        if !repeat {
            return Ok(());
        }
        let count = cpu.read_addr_reg(insn, RCX).wrapping_sub(1);
        cpu.write_addr_reg(insn, RCX, count);
        iterations += 1;
        if count != 0 && super::string::rep_chunk_done(cpu, insn, iterations) {
            return Ok(());
        }
    }
}
