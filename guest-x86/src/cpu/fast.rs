//! Fast forms: the handful of encodings that make up most of what real
//! code executes (ALU and MOV between registers, ALU with an immediate,
//! register MOV through memory, TEST, Jcc and JMP in 64-bit mode; about
//! two thirds of a Linux boot) are classified once, when decoded, so they
//! run without the family dispatch and its re-matching of the opcode.
//! Their semantics are the family code's own helpers; everything else,
//! and every LOCKed or byte-sized form, takes the general path.

use super::alu::{AluOp, alu};
use super::decode::Insn;
use super::fault::Stop;
use super::flags;
use super::state::{Cpu, sign_extend};
use super::table::Map;
use crate::mmu::Memory;

/// How a decoded instruction runs: `General` through `Cpu::execute`, the
/// rest straight from here. Register numbers include REX extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FastForm {
    /// Not a fast form.
    #[default]
    General,
    /// ADD…CMP (00–3F, the non-byte ModRM forms) between registers:
    /// `dst = dst op src` (CMP writes nothing).
    AluRegReg { op: AluOp, dst: u8, src: u8 },
    /// 81 /op and 83 /op on a register; `imm8` when the immediate is the
    /// byte form, sign-extended (SDM Vol.2A ADD: 83 /0 ib).
    AluRegImm { op: AluOp, dst: u8, imm8: bool },
    /// TEST (85) between registers: flags of AND, nothing written.
    TestRegReg { a: u8, b: u8 },
    /// MOV (89, 8B) between registers.
    MovRegReg { dst: u8, src: u8 },
    /// MOV r/m, reg (89) to memory.
    MovStore,
    /// MOV reg, r/m (8B) from memory.
    MovLoad,
    /// Jcc rel8/rel32 in 64-bit mode (64-bit operand size).
    Jcc { cc: u8 },
    /// JMP rel8/rel32 in 64-bit mode (64-bit operand size).
    Jmp,
}

/// What running an instruction may have changed beyond registers and
/// flags: how much a block loop must check before taking the next one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effects {
    /// Registers and status flags only; RIP moves to the next instruction.
    Registers,
    /// Also read memory (which may be a device).
    Load,
    /// Also wrote memory (a device, or bytes that were decoded).
    Store,
    /// May have jumped.
    Branch,
    /// Anything: modes, privilege, interrupt state, devices, RIP.
    Any,
}

impl FastForm {
    /// What an instruction of this form may change.
    #[inline(always)]
    pub fn effects(self) -> Effects {
        match self {
            FastForm::AluRegReg { .. }
            | FastForm::AluRegImm { .. }
            | FastForm::TestRegReg { .. }
            | FastForm::MovRegReg { .. } => Effects::Registers,
            FastForm::MovLoad => Effects::Load,
            FastForm::MovStore => Effects::Store,
            FastForm::Jcc { .. } | FastForm::Jmp => Effects::Branch,
            FastForm::General => Effects::Any,
        }
    }

    /// The fast form of `insn`, decided once when it is decoded.
    pub fn of(insn: &Insn) -> FastForm {
        if insn.lock {
            return FastForm::General;
        }
        let registers = insn.md == 3;
        let wide = insn.op_size == 8;
        match (insn.map, insn.opcode) {
            (Map::OneByte, op @ 0x00..=0x3f) if registers && op & 7 == 1 => FastForm::AluRegReg {
                op: AluOp::from_bits(op >> 3),
                dst: insn.rm,
                src: insn.reg,
            },
            (Map::OneByte, op @ 0x00..=0x3f) if registers && op & 7 == 3 => FastForm::AluRegReg {
                op: AluOp::from_bits(op >> 3),
                dst: insn.reg,
                src: insn.rm,
            },
            (Map::OneByte, op @ (0x81 | 0x83)) if registers => FastForm::AluRegImm {
                op: AluOp::from_bits(insn.reg),
                dst: insn.rm,
                imm8: op == 0x83,
            },
            (Map::OneByte, 0x85) if registers => FastForm::TestRegReg {
                a: insn.rm,
                b: insn.reg,
            },
            (Map::OneByte, 0x89) if registers => FastForm::MovRegReg {
                dst: insn.rm,
                src: insn.reg,
            },
            (Map::OneByte, 0x8b) if registers => FastForm::MovRegReg {
                dst: insn.reg,
                src: insn.rm,
            },
            (Map::OneByte, 0x89) => FastForm::MovStore,
            (Map::OneByte, 0x8b) => FastForm::MovLoad,
            (Map::OneByte, cc @ 0x70..=0x7f) | (Map::Map0F, cc @ 0x80..=0x8f) if wide => {
                FastForm::Jcc { cc: cc & 15 }
            }
            (Map::OneByte, 0xe9 | 0xeb) if wide => FastForm::Jmp,
            _ => FastForm::General,
        }
    }
}

impl Cpu {
    /// Runs a fast form (not `General`), RIP already advanced.
    #[inline(always)]
    pub(super) fn execute_fast<M: Memory>(
        &mut self,
        mem: &mut M,
        insn: &Insn,
        form: FastForm,
    ) -> Result<(), Stop> {
        let size = insn.op_size;
        match form {
            FastForm::General => return self.execute(mem, insn),
            FastForm::AluRegReg { op, dst, src } => {
                let b = self.read_reg(src, size, false);
                self.alu_on_register(op, dst, b, size);
            }
            FastForm::AluRegImm { op, dst, imm8 } => {
                let b = if imm8 {
                    sign_extend(insn.imm, 1)
                } else {
                    insn.imm
                };
                self.alu_on_register(op, dst, b, size);
            }
            FastForm::TestRegReg { a, b } => {
                let r = self.read_reg(a, size, false) & self.read_reg(b, size, false);
                self.set_status_flags(flags::logic(r, size));
            }
            FastForm::MovRegReg { dst, src } => {
                let v = self.read_reg(src, size, false);
                self.write_reg(dst, size, false, v);
            }
            FastForm::MovStore => {
                let loc = self.rm_loc(insn)?;
                let v = self.read_reg(insn.reg, size, false);
                self.write_loc(mem, insn, loc, size, v)?;
            }
            FastForm::MovLoad => {
                let loc = self.rm_loc(insn)?;
                let v = self.read_loc(mem, insn, loc, size)?;
                self.write_reg(insn.reg, size, false, v);
            }
            FastForm::Jcc { cc } => {
                if flags::condition(self.rflags, cc) {
                    self.rip = self.rip.wrapping_add(insn.imm);
                }
            }
            FastForm::Jmp => self.rip = self.rip.wrapping_add(insn.imm),
        }
        Ok(())
    }

    /// `register = register op b` with the status flags (CMP only sets
    /// the flags), as the ALU family does.
    #[inline(always)]
    fn alu_on_register(&mut self, op: AluOp, register: u8, b: u64, size: u8) {
        let a = self.read_reg(register, size, false);
        let (r, f) = alu(op, a, b, size, self.rflags);
        if op != AluOp::Cmp {
            self.write_reg(register, size, false, r);
        }
        self.set_status_flags(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::decode::decode;
    use crate::cpu::state::CpuMode;

    fn form(bytes: &[u8]) -> FastForm {
        decode(bytes, CpuMode::Bits64).expect("decodes").fast
    }

    #[test]
    fn forms_are_classified_by_encoding() {
        // add rax, rbx (48 01 d8): r/m (rax) += reg (rbx).
        assert_eq!(
            form(&[0x48, 0x01, 0xd8]),
            FastForm::AluRegReg {
                op: AluOp::Add,
                dst: 0,
                src: 3
            }
        );
        // cmp r9d, eax (44 3b c8): reg (r9) - r/m (eax).
        assert_eq!(
            form(&[0x44, 0x3b, 0xc8]),
            FastForm::AluRegReg {
                op: AluOp::Cmp,
                dst: 9,
                src: 0
            }
        );
        // sub rsp, 8 (48 83 ec 08).
        assert_eq!(
            form(&[0x48, 0x83, 0xec, 0x08]),
            FastForm::AluRegImm {
                op: AluOp::Sub,
                dst: 4,
                imm8: true
            }
        );
        assert_eq!(form(&[0x48, 0x89, 0x07]), FastForm::MovStore);
        assert_eq!(form(&[0x75, 0x02]), FastForm::Jcc { cc: 5 });
        // Byte forms, LOCK and memory ALU forms go the general way.
        assert_eq!(form(&[0x00, 0xd8]), FastForm::General);
        assert_eq!(form(&[0xf0, 0x48, 0x01, 0x07]), FastForm::General);
        assert_eq!(form(&[0x48, 0x01, 0x07]), FastForm::General);
        // A 16-bit Jcc (66 prefix) keeps the general path's truncation.
        assert_eq!(
            decode(&[0x66, 0x75, 0x02], CpuMode::Bits32).unwrap().fast,
            FastForm::General
        );
    }
}
