//! The fetch–decode–execute step and dispatch to the instruction families.

use alloc::vec::Vec;

use super::decode::{DecodeError, Insn, MAX_INSN_LEN, decode};
use super::fault::{Exception, Stop};
use super::state::{Cpu, CpuMode};
use super::table::{Family, Map};
use super::{alu, bits, control, muldiv, shift, sse, stack, string, system, x87};
use crate::mmu::Memory;

/// Decoded blocks by linear address, valid while the memory's code
/// generation is unchanged. A block is the run of instructions execution
/// went through from its start, each decoded when first reached (so no
/// bytes are fetched or decoded ahead). Each step still checks the linear
/// address, generation, mode and privilege: the next instruction is found
/// without a hash lookup or a copy, and when interrupts or faults are
/// taken does not change.
pub struct DecodeCache {
    blocks: Vec<Block>,
    /// The block being run, the index of its next instruction and the linear
    /// address that instruction was decoded at.
    current: usize,
    next: usize,
    next_linear: u64,
}

struct Block {
    linear: u64,
    generation: u64,
    mode: CpuMode,
    /// Fetched at CPL 3: a user fetch must not reuse what the kernel was
    /// allowed to fetch from a supervisor page (or the reverse under NX rules).
    user: bool,
    insns: Vec<Insn>,
}

const CACHE_BLOCKS: usize = 1024;
/// Longest block; a longer run continues in a new block.
const MAX_BLOCK_INSNS: usize = 64;

impl Default for DecodeCache {
    fn default() -> Self {
        DecodeCache {
            blocks: (0..CACHE_BLOCKS)
                .map(|_| Block {
                    linear: u64::MAX,
                    generation: 0,
                    mode: CpuMode::Bits64,
                    user: false,
                    insns: Vec::new(),
                })
                .collect(),
            current: 0,
            next: 0,
            next_linear: u64::MAX,
        }
    }
}

impl Cpu {
    /// Executes one instruction. On an exception RIP is left at the
    /// faulting instruction (fault semantics, SDM Vol.3A §6.5).
    pub fn step<M: Memory>(&mut self, mem: &mut M) -> Result<(), Stop> {
        let start = self.rip;
        let insn = self.fetch_decode(mem, start)?;
        self.run_decoded(mem, start, &insn)
    }

    /// Runs up to `*left` instructions through `cache`, counting off each
    /// one started (the one that stops included). The loop lets the
    /// compiler keep the per-instruction path in one frame.
    pub fn run_cached<M: Memory>(
        &mut self,
        mem: &mut M,
        cache: &mut DecodeCache,
        left: &mut u64,
    ) -> Result<(), Stop> {
        while *left > 0 {
            *left -= 1;
            self.step_cached(mem, cache)?;
        }
        Ok(())
    }

    /// `step` through a decode cache; memories that do not track code
    /// writes (`code_generation` is `None`) bypass it.
    #[inline]
    pub fn step_cached<M: Memory>(
        &mut self,
        mem: &mut M,
        cache: &mut DecodeCache,
    ) -> Result<(), Stop> {
        let start = self.rip;
        let Some(generation) = mem.code_generation() else {
            return self.step(mem);
        };
        let linear = start.wrapping_add(self.seg_base(super::SegReg::Cs));
        let user = self.cpl() == 3;
        let mode = self.mode;
        let valid = |b: &Block| b.generation == generation && b.mode == mode && b.user == user;
        let continues = linear == cache.next_linear && valid(&cache.blocks[cache.current]);
        if !(continues && cache.next < cache.blocks[cache.current].insns.len()) {
            if continues && cache.next < MAX_BLOCK_INSNS {
                // Execution fell through to the end of the block: decode one
                // more instruction, only now that it is reached.
                let insn = self.fetch_decode(mem, start)?;
                cache.blocks[cache.current].insns.push(insn);
            } else {
                let slot = ((linear ^ (linear >> 12)) as usize) % CACHE_BLOCKS;
                let block = &mut cache.blocks[slot];
                if block.linear != linear || !valid(block) {
                    block.linear = u64::MAX;
                    block.insns.clear();
                    let insn = self.fetch_decode(mem, start)?;
                    *block = Block {
                        linear,
                        generation,
                        mode,
                        user,
                        insns: core::mem::take(&mut block.insns),
                    };
                    block.insns.push(insn);
                }
                cache.current = slot;
                cache.next = 0;
            }
        }
        let insn = &cache.blocks[cache.current].insns[cache.next];
        cache.next += 1;
        cache.next_linear = linear.wrapping_add(insn.len as u64);
        self.run_decoded(mem, start, insn)
    }

    fn fetch_decode<M: Memory>(&mut self, mem: &mut M, start: u64) -> Result<Insn, Stop> {
        let fetch_at = start.wrapping_add(self.seg_base(super::SegReg::Cs));
        let mut bytes = [0u8; MAX_INSN_LEN];
        let available = mem.fetch(fetch_at, &mut bytes);
        match decode(&bytes[..available], self.mode) {
            Ok(insn) => Ok(insn),
            Err(DecodeError::Truncated) => {
                let addr = fetch_at.wrapping_add(available as u64);
                let fault = mem.fetch_fault(addr);
                if let Exception::PageFault { addr, .. } = fault {
                    self.cr2 = addr;
                }
                Err(Stop::Exception(fault))
            }
            Err(DecodeError::TooLong) => Err(Stop::Exception(Exception::GeneralProtection(0))),
            Err(DecodeError::Invalid) => Err(Stop::Exception(Exception::InvalidOpcode)),
        }
    }

    fn run_decoded<M: Memory>(&mut self, mem: &mut M, start: u64, insn: &Insn) -> Result<(), Stop> {
        self.rip = start.wrapping_add(insn.len as u64);
        if self.mode != CpuMode::Bits64 {
            self.rip &= if self.mode == CpuMode::Bits32 {
                0xffff_ffff
            } else {
                0xffff
            };
        }
        self.tsc = self.tsc.wrapping_add(1);
        if self.rflags & super::flags::RF != 0 && !(insn.map == Map::OneByte && insn.opcode == 0xcf)
        {
            // RF lasts for one instruction; IRET is the one that may set it
            // (SDM Vol.3A §18.3.1.1).
            self.rflags &= !super::flags::RF;
        }
        match self.execute_fast(mem, insn, insn.fast) {
            Err(Stop::Exception(e)) => {
                self.rip = start;
                if let Exception::PageFault { addr, .. } = e {
                    self.cr2 = addr;
                }
                Err(Stop::Exception(e))
            }
            other => other,
        }
    }

    /// Executes a decoded instruction whose RIP has already been advanced.
    pub fn execute<M: Memory>(&mut self, mem: &mut M, insn: &Insn) -> Result<(), Stop> {
        if insn.lock && !lock_allowed(insn) {
            // SDM Vol.2A LOCK: #UD unless a read-modify-write of memory.
            return Err(Exception::InvalidOpcode.into());
        }
        match insn.info.family {
            Family::Alu => alu::execute(self, mem, insn),
            Family::Move => alu::execute_move(self, mem, insn),
            Family::Shift => shift::execute(self, mem, insn),
            Family::MulDiv => muldiv::execute(self, mem, insn),
            Family::Bits => bits::execute(self, mem, insn),
            Family::String => string::execute(self, mem, insn),
            Family::Control => control::execute(self, mem, insn),
            Family::Stack => stack::execute(self, mem, insn),
            Family::System => system::execute(self, mem, insn),
            Family::Sse => sse::execute(self, mem, insn),
            Family::X87 => x87::execute(self, mem, insn),
            Family::Prefix | Family::Invalid => Err(Exception::InvalidOpcode.into()),
        }
    }
}

/// Opcodes that accept LOCK with a memory destination (SDM Vol.2A LOCK).
fn lock_allowed(insn: &Insn) -> bool {
    if insn.mem.is_none() {
        return false;
    }
    let group = insn.reg & 7;
    match insn.map {
        Map::OneByte => match insn.opcode {
            0x00..=0x3f => insn.opcode & 7 < 2 && insn.opcode & 0x38 != 0x38,
            0x80..=0x83 => group != 7,
            0x86 | 0x87 => true,
            0xf6 | 0xf7 => group == 2 || group == 3,
            0xfe | 0xff => group < 2,
            _ => false,
        },
        Map::Map0F => match insn.opcode {
            0xab | 0xb3 | 0xbb | 0xb0 | 0xb1 | 0xc0 | 0xc1 => true,
            0xba => group >= 5,
            0xc7 => group == 1,
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmu::space::{AddressSpace, PROT_EXEC, PROT_READ, PROT_WRITE};

    #[test]
    fn decode_cache_sees_self_modifying_code() {
        let mut mem = AddressSpace::new(1 << 20);
        mem.map(0x1000, 4096, PROT_READ | PROT_WRITE | PROT_EXEC)
            .unwrap();
        mem.poke(0x1000, &[0xb8, 1, 0, 0, 0]).unwrap(); // mov eax, 1
        let mut cache = DecodeCache::default();
        let mut cpu = Cpu::new_long_mode_user();
        cpu.rip = 0x1000;
        cpu.step_cached(&mut mem, &mut cache).unwrap();
        assert_eq!(cpu.gpr[0], 1);
        // The guest rewrites its own immediate through an ordinary store.
        Memory::write(&mut mem, 0x1001, &[2]).unwrap();
        cpu.rip = 0x1000;
        cpu.step_cached(&mut mem, &mut cache).unwrap();
        assert_eq!(cpu.gpr[0], 2);
    }

    #[test]
    fn block_sees_a_store_into_its_own_later_instruction() {
        let mut mem = AddressSpace::new(1 << 20);
        mem.map(0x1000, 4096, PROT_READ | PROT_WRITE | PROT_EXEC)
            .unwrap();
        // mov byte [rip+1], 2 rewrites the immediate of the mov eax, 1 that
        // follows it in the same block.
        mem.poke(0x1000, &[0xc6, 0x05, 1, 0, 0, 0, 2, 0xb8, 1, 0, 0, 0])
            .unwrap();
        let mut cache = DecodeCache::default();
        let mut cpu = Cpu::new_long_mode_user();
        cpu.rip = 0x1000;
        cpu.step_cached(&mut mem, &mut cache).unwrap();
        cpu.step_cached(&mut mem, &mut cache).unwrap();
        assert_eq!(cpu.gpr[0], 2);
        assert_eq!(cpu.rip, 0x100c);
    }
}
