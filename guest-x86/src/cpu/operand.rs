//! Operand access shared by every family: effective addresses (SDM Vol.1
//! §3.7.5), register and memory operands of any size.

use super::decode::{Insn, MemOperand};
use super::fault::Exception;
use super::state::{Cpu, CpuMode, size_mask};
use crate::mmu::Memory;

/// Where a ModRM r/m operand lives once its address is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    /// A general register (encoding number).
    Reg(u8),
    /// A linear memory address.
    Mem(u64),
}

/// True if `addr` is canonical for 48-bit linear addresses (SDM Vol.1 §3.3.7.1).
#[inline]
pub fn is_canonical(addr: u64) -> bool {
    ((addr as i64) << 16 >> 16) as u64 == addr
}

impl Cpu {
    /// Offset (effective address) of a memory operand, truncated to the
    /// address size. RIP-relative operands use the next instruction's RIP,
    /// which `self.rip` already holds during execution.
    #[inline]
    pub(crate) fn effective_address(&self, insn: &Insn, m: &MemOperand) -> u64 {
        let mut ea = m.disp as u64;
        if m.rip_relative {
            ea = ea.wrapping_add(self.rip);
        }
        if let Some(base) = m.base {
            ea = ea.wrapping_add(self.gpr[base as usize]);
        }
        if let Some(index) = m.index {
            ea = ea.wrapping_add(self.gpr[index as usize].wrapping_mul(m.scale as u64));
        }
        ea & size_mask(insn.addr_size)
    }

    /// Linear address of a memory operand (segment base added).
    #[inline]
    pub(crate) fn linear_address(&self, insn: &Insn, m: &MemOperand) -> u64 {
        let la = self
            .seg_base(m.seg)
            .wrapping_add(self.effective_address(insn, m));
        if self.mode == CpuMode::Bits64 {
            la
        } else {
            la & 0xffff_ffff
        }
    }

    /// Linear address of `offset` in segment `seg` (string instructions,
    /// stack accesses): 32-bit wrap outside 64-bit mode.
    #[inline]
    pub(crate) fn string_address(&self, seg: super::state::SegReg, offset: u64) -> u64 {
        let la = self.seg_base(seg).wrapping_add(offset);
        if self.mode == CpuMode::Bits64 {
            la
        } else {
            la & 0xffff_ffff
        }
    }

    /// Resolves the ModRM r/m operand. A non-canonical address faults here:
    /// #SS(0) through SS (RSP/RBP bases), #GP(0) otherwise (SDM Vol.3A §6.15).
    #[inline]
    pub(crate) fn rm_loc(&self, insn: &Insn) -> Result<Loc, Exception> {
        match &insn.mem {
            Some(m) => {
                let addr = self.linear_address(insn, m);
                if self.mode == CpuMode::Bits64 && !is_canonical(addr) {
                    return Err(if m.seg == super::state::SegReg::Ss {
                        Exception::StackFault(0)
                    } else {
                        Exception::GeneralProtection(0)
                    });
                }
                Ok(Loc::Mem(addr))
            }
            None => Ok(Loc::Reg(insn.rm)),
        }
    }

    /// Checks the 16-byte alignment an SSE operand demands. Misalignment
    /// raises #GP(0) before any canonical-address (#SS/#GP) check.
    pub(crate) fn check_aligned16(&self, insn: &Insn) -> Result<(), Exception> {
        match &insn.mem {
            Some(m) if !self.linear_address(insn, m).is_multiple_of(16) => {
                Err(Exception::GeneralProtection(0))
            }
            _ => Ok(()),
        }
    }

    /// Reads `size` bytes (1, 2, 4, 8) of memory, zero-extended.
    #[inline]
    pub(crate) fn read_mem<M: Memory>(
        &self,
        mem: &mut M,
        addr: u64,
        size: u8,
    ) -> Result<u64, Exception> {
        self.check_canonical(addr)?;
        mem.read_value(addr, size)
    }

    /// Writes the low `size` bytes of `value` to memory.
    #[inline]
    pub(crate) fn write_mem<M: Memory>(
        &self,
        mem: &mut M,
        addr: u64,
        size: u8,
        value: u64,
    ) -> Result<(), Exception> {
        self.check_canonical(addr)?;
        mem.write_value(addr, size, value)
    }

    /// Reads 16 bytes of memory.
    pub(crate) fn read_mem128<M: Memory>(&self, mem: &mut M, addr: u64) -> Result<u128, Exception> {
        self.check_canonical(addr)?;
        let mut buf = [0u8; 16];
        mem.read(addr, &mut buf)?;
        Ok(u128::from_le_bytes(buf))
    }

    /// Writes 16 bytes of memory.
    pub(crate) fn write_mem128<M: Memory>(
        &self,
        mem: &mut M,
        addr: u64,
        value: u128,
    ) -> Result<(), Exception> {
        self.check_canonical(addr)?;
        mem.write(addr, &value.to_le_bytes())
    }

    #[inline]
    fn check_canonical(&self, addr: u64) -> Result<(), Exception> {
        if self.mode == CpuMode::Bits64 && !is_canonical(addr) {
            return Err(Exception::GeneralProtection(0));
        }
        Ok(())
    }

    /// Reads an operand location.
    #[inline]
    pub(crate) fn read_loc<M: Memory>(
        &self,
        mem: &mut M,
        insn: &Insn,
        loc: Loc,
        size: u8,
    ) -> Result<u64, Exception> {
        match loc {
            Loc::Reg(r) => Ok(self.read_reg(r, size, insn.high_bytes())),
            Loc::Mem(a) => self.read_mem(mem, a, size),
        }
    }

    /// Writes an operand location.
    #[inline]
    pub(crate) fn write_loc<M: Memory>(
        &mut self,
        mem: &mut M,
        insn: &Insn,
        loc: Loc,
        size: u8,
        value: u64,
    ) -> Result<(), Exception> {
        match loc {
            Loc::Reg(r) => {
                self.write_reg(r, size, insn.high_bytes(), value);
                Ok(())
            }
            Loc::Mem(a) => self.write_mem(mem, a, size, value),
        }
    }

    /// Reads the ModRM.reg operand.
    #[inline]
    pub(crate) fn read_reg_operand(&self, insn: &Insn, size: u8) -> u64 {
        self.read_reg(insn.reg, size, insn.high_bytes())
    }

    /// Writes the ModRM.reg operand.
    #[inline]
    pub(crate) fn write_reg_operand(&mut self, insn: &Insn, size: u8, value: u64) {
        self.write_reg(insn.reg, size, insn.high_bytes(), value);
    }

    /// Replaces the six status flags with `status`.
    #[inline]
    pub(crate) fn set_status_flags(&mut self, status: u64) {
        self.rflags = (self.rflags & !super::flags::STATUS) | status;
    }

    /// RFLAGS after an ordered/unordered float compare (COMISS/UCOMISS,
    /// FCOMI/FUCOMI; SDM Vol.2A COMISD): ZF,PF,CF = 111 unordered, 000
    /// greater, 001 less, 100 equal; OF, SF, AF cleared.
    pub(crate) fn set_compare_flags(&mut self, rel: super::softfloat::Relation) {
        use super::flags::{CF, PF, ZF};
        use super::softfloat::Relation;
        self.set_status_flags(match rel {
            Relation::Unordered => ZF | PF | CF,
            Relation::Greater => 0,
            Relation::Less => CF,
            Relation::Equal => ZF,
        });
    }

    /// Replaces the status flags selected by `mask` with those in `status`.
    #[inline]
    pub(crate) fn set_flags_masked(&mut self, status: u64, mask: u64) {
        self.rflags = (self.rflags & !mask) | (status & mask);
    }

    /// Reads rAX/rCX/… masked to the address size (string and loop counters).
    #[inline]
    pub(crate) fn read_addr_reg(&self, insn: &Insn, reg: u8) -> u64 {
        self.gpr[reg as usize] & size_mask(insn.addr_size)
    }

    /// Writes a register at address size (16-bit merges, 32-bit zero-extends).
    #[inline]
    pub(crate) fn write_addr_reg(&mut self, insn: &Insn, reg: u8, value: u64) {
        self.write_reg(reg, insn.addr_size, false, value);
    }
}
