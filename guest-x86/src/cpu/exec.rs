//! The fetch–decode–execute step and dispatch to the instruction families.

use alloc::vec::Vec;

use super::decode::{DecodeError, Insn, MAX_INSN_LEN, decode};
use super::fast::Effects;
use super::fault::{Exception, Stop};
use super::state::{Cpu, CpuMode};
use super::table::{Family, Map};
use super::{alu, bits, control, muldiv, shift, sse, stack, string, system, x87};
use crate::mmu::Memory;

/// Decoded blocks by linear address, valid while the memory's code
/// generation is unchanged. A block is the run of instructions execution
/// went through from its start, each decoded when first reached (so no
/// bytes are fetched or decoded ahead). `Cpu::step_cached` checks the
/// linear address, generation, mode and privilege before each instruction;
/// `Cpu::run_quiet` checks them when it enters a block and then only after
/// the instructions that can change them (see `fast::Effects`).
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

/// Limits of [`Cpu::run_quiet`].
#[derive(Clone, Copy, Debug)]
pub struct RunLimits {
    /// Instructions to start at most (at least one is).
    pub instructions: u64,
    /// Stop once the time-stamp counter reaches this (a timer is due).
    pub until_tsc: u64,
    /// Stop once RFLAGS.IF is set (an interrupt is waiting for it).
    pub stop_when_if_set: bool,
}

/// The linear address of an instruction and the state its decoding and
/// fetch permissions depend on.
#[derive(Clone, Copy)]
struct BlockContext {
    linear: u64,
    generation: u64,
    mode: CpuMode,
    user: bool,
}

impl Block {
    fn matches(&self, context: &BlockContext) -> bool {
        self.generation == context.generation
            && self.mode == context.mode
            && self.user == context.user
    }
}

impl DecodeCache {
    /// The block and index of the decoded instruction at `start`
    /// (`context.linear`): the next one of the block run last when
    /// execution continues there, else the block starting there, decoded
    /// afresh (its first instruction) when absent or stale.
    fn locate<M: Memory>(
        &mut self,
        cpu: &mut Cpu,
        mem: &mut M,
        start: u64,
        context: BlockContext,
    ) -> Result<(usize, usize), Stop> {
        let current = &mut self.blocks[self.current];
        if context.linear == self.next_linear && current.matches(&context) {
            if self.next < current.insns.len() {
                return Ok((self.current, self.next));
            }
            if self.next < MAX_BLOCK_INSNS {
                // Execution fell through to the end of the block: decode
                // one more instruction, only now that it is reached.
                let insn = cpu.fetch_decode(mem, start)?;
                current.insns.push(insn);
                return Ok((self.current, self.next));
            }
        }
        let linear = context.linear;
        let slot = ((linear ^ (linear >> 12)) as usize) % CACHE_BLOCKS;
        let block = &mut self.blocks[slot];
        if block.linear != linear || !block.matches(&context) {
            block.linear = u64::MAX;
            block.insns.clear();
            let insn = cpu.fetch_decode(mem, start)?;
            block.linear = linear;
            block.generation = context.generation;
            block.mode = context.mode;
            block.user = context.user;
            block.insns.push(insn);
        }
        Ok((slot, 0))
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
    /// one started (the one that stops included).
    pub fn run_cached<M: Memory>(
        &mut self,
        mem: &mut M,
        cache: &mut DecodeCache,
        left: &mut u64,
    ) -> Result<(), Stop> {
        while *left > 0 {
            // Linux user mode takes no interrupts: a shadow (POP SS) means
            // nothing there and must not end every run after one step.
            self.interrupt_shadow = false;
            let limits = RunLimits {
                instructions: *left,
                until_tsc: u64::MAX,
                stop_when_if_set: false,
            };
            let (done, result) = self.run_quiet(mem, cache, limits);
            *left -= done;
            result?;
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
        let context = self.block_context(generation);
        let (slot, index) = cache.locate(self, mem, start, context)?;
        let insn = &cache.blocks[slot].insns[index];
        cache.current = slot;
        cache.next = index + 1;
        cache.next_linear = context.linear.wrapping_add(insn.len as u64);
        self.run_decoded(mem, start, insn)
    }

    /// Runs instructions through `cache` until one stops with an error, the
    /// memory's devices want a look (`Memory::wants_attention`), an
    /// instruction opens an interrupt shadow, or a limit is reached; the
    /// devices' clock is set before each instruction as the machine would.
    /// Returns how many instructions were started (the one that stopped
    /// included) and how the last one ended.
    ///
    /// Inside a block the next instruction is taken without looking the
    /// block up again: only a jump, a write to code (the generation), or a
    /// general-path instruction that changed the mode, the privilege or the
    /// CS base sends execution back through [`DecodeCache::locate`].
    pub fn run_quiet<M: Memory>(
        &mut self,
        mem: &mut M,
        cache: &mut DecodeCache,
        limits: RunLimits,
    ) -> (u64, Result<(), Stop>) {
        let mut done = 0u64;
        // A device was accessed, an interrupt shadow opened (STI, MOV SS),
        // or IF was set while an interrupt waits for it.
        let machine_wants_a_look = |cpu: &Cpu, mem: &M| {
            mem.wants_attention()
                || cpu.interrupt_shadow
                || (limits.stop_when_if_set && cpu.flag(super::flags::IF))
        };
        loop {
            let start = self.rip;
            let Some(generation) = mem.code_generation() else {
                mem.set_clock(self.tsc);
                return (done + 1, self.step(mem));
            };
            let context = self.block_context(generation);
            let (slot, mut index) = match cache.locate(self, mem, start, context) {
                Ok(found) => found,
                Err(stop) => return (done + 1, Err(stop)),
            };
            let block = &mut cache.blocks[slot];
            let cs_base = context.linear.wrapping_sub(start);
            let mut linear = context.linear;
            // Leaves the block: remembers where execution continues so the
            // next lookup (here or in `step_cached`) is a comparison.
            macro_rules! leave {
                () => {{
                    cache.current = slot;
                    cache.next = index;
                    cache.next_linear = linear;
                }};
            }
            loop {
                let Some(insn) = block.insns.get(index) else {
                    // Fell through to the end of the block: decode one more
                    // instruction, only now that it is reached.
                    if index == MAX_BLOCK_INSNS {
                        leave!();
                        break;
                    }
                    match self.fetch_decode(mem, self.rip) {
                        Ok(insn) => block.insns.push(insn),
                        Err(stop) => {
                            leave!();
                            return (done + 1, Err(stop));
                        }
                    }
                    continue;
                };
                let start = self.rip;
                mem.set_clock(self.tsc);
                let result = self.run_decoded(mem, start, insn);
                done += 1;
                index += 1;
                linear = linear.wrapping_add(insn.len as u64);
                if result.is_err() || done >= limits.instructions || self.tsc >= limits.until_tsc {
                    leave!();
                    return (done, result);
                }
                match insn.fast.effects() {
                    // Registers and flags only: the next instruction follows.
                    Effects::Registers => continue,
                    // A load may have read a device register.
                    Effects::Load => {
                        if !mem.wants_attention() {
                            continue;
                        }
                    }
                    // A store may have reached a device or rewritten code.
                    Effects::Store => {
                        if !mem.wants_attention() && mem.code_generation() == Some(generation) {
                            continue;
                        }
                    }
                    Effects::Branch => {
                        if self.rip.wrapping_add(cs_base) == linear {
                            continue;
                        }
                    }
                    Effects::Any => {
                        let stays = !machine_wants_a_look(self, mem)
                            && self.mode == context.mode
                            && (self.cpl() == 3) == context.user
                            && self.seg_base(super::SegReg::Cs) == cs_base
                            && mem.code_generation() == Some(generation)
                            && self.rip.wrapping_add(cs_base) == linear;
                        if stays {
                            continue;
                        }
                    }
                }
                leave!();
                if machine_wants_a_look(self, mem) {
                    return (done, result);
                }
                // A jump, rewritten code or a new mode: look the block up.
                break;
            }
        }
    }

    /// What a cached block must match to be reused at RIP.
    #[inline]
    fn block_context(&self, generation: u64) -> BlockContext {
        BlockContext {
            linear: self.rip.wrapping_add(self.seg_base(super::SegReg::Cs)),
            generation,
            mode: self.mode,
            user: self.cpl() == 3,
        }
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

    #[inline(always)]
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

    #[test]
    fn block_loop_sees_a_store_into_an_instruction_it_already_decoded() {
        let mut mem = AddressSpace::new(1 << 20);
        mem.map(0x1000, 4096, PROT_READ | PROT_WRITE | PROT_EXEC)
            .unwrap();
        mem.map(0x2000, 4096, PROT_READ | PROT_WRITE).unwrap();
        // mov [rbx], eax; mov eax, 1 (its immediate at 0x1003).
        mem.poke(0x1000, &[0x89, 0x03, 0xb8, 1, 0, 0, 0]).unwrap();
        let mut cache = DecodeCache::default();
        let mut cpu = Cpu::new_long_mode_user();
        let mut run = |cpu: &mut Cpu, eax: u64, rbx: u64| {
            cpu.rip = 0x1000;
            cpu.gpr[0] = eax;
            cpu.gpr[3] = rbx;
            let mut left = 2;
            cpu.run_cached(&mut mem, &mut cache, &mut left).unwrap();
            assert_eq!((left, cpu.rip), (0, 0x1007));
            cpu.gpr[0]
        };
        // First both instructions are decoded into one block (the store
        // goes to a data page)...
        assert_eq!(run(&mut cpu, 5, 0x2000), 1);
        // ...then the store rewrites the second one's immediate: the loop
        // must not run the copy it decoded before.
        assert_eq!(run(&mut cpu, 9, 0x1003), 9);
    }
}
