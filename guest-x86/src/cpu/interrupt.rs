//! Event delivery: one `deliver` for exceptions, external interrupts and
//! INT n, in real mode (IVT), protected mode (IDT interrupt/trap gates with
//! a ring switch through the TSS) and long mode (16-byte gates, IST), plus
//! the double-fault and triple-fault rules (SDM Vol.3A chapter 6).

use super::fault::{Exception, Stop};
use super::flags;
use super::segment::selector_error;
use super::state::{Cpu, CpuMode, SegReg, Segment, attr, cr};
use crate::mmu::Memory;

/// Where an event comes from; decides privilege checks, the EXT bit of
/// error codes and the double-fault rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventSource {
    /// A processor exception (fault or trap).
    Exception,
    /// An interrupt from the interrupt controller.
    External,
    /// INT n, INT3 or INTO: the gate's DPL must allow the CPL.
    Software,
}

/// The stack an event pushes onto (before commit).
struct NewStack {
    ss: Segment,
    sp: u64,
    /// 0xffff, 0xffff_ffff or all ones.
    mask: u64,
    /// Pushes are supervisor accesses (the handler runs at CPL 0).
    supervisor: bool,
}

impl NewStack {
    fn push<M: Memory>(
        &mut self,
        mem: &mut M,
        size: u8,
        value: u64,
        long: bool,
    ) -> Result<(), Exception> {
        let sp = self.sp.wrapping_sub(size as u64) & self.mask;
        let base = if long { 0 } else { self.ss.base };
        let addr = base.wrapping_add(sp);
        let addr = if long { addr } else { addr & 0xffff_ffff };
        if long && !super::operand::is_canonical(addr) {
            return Err(Exception::StackFault(0));
        }
        let bytes = value.to_le_bytes();
        if self.supervisor {
            mem.write_supervisor(addr, &bytes[..size as usize])?;
        } else {
            mem.write(addr, &bytes[..size as usize])?;
        }
        self.sp = sp;
        Ok(())
    }
}

/// Exceptions reported as faults (SDM Vol.3A Table 6-1): RIP points at the
/// faulting instruction. #DB is left out (it is a fault or a trap by cause).
fn fault_class(vector: u8) -> bool {
    matches!(vector, 0 | 5 | 6 | 7 | 10..=14 | 16 | 17 | 19)
}

/// Contributory exceptions (SDM Vol.3A Table 6-4).
fn contributory(vector: u8) -> bool {
    matches!(vector, 0 | 10 | 11 | 12 | 13)
}

impl Cpu {
    /// Delivers an exception raised by an instruction (RIP at the faulting
    /// instruction for faults), applying the double-fault rules: a fault
    /// while delivering it becomes #DF or is delivered in turn; a fault
    /// while delivering #DF is a triple fault (SDM Vol.3A §6.15, Table 6-5).
    pub fn deliver_exception<M: Memory>(&mut self, mem: &mut M, e: Exception) -> Result<(), Stop> {
        if let Exception::PageFault { addr, .. } = e {
            self.cr2 = addr;
        }
        let mut current = e;
        // A benign fault while delivering may itself fault; three rounds
        // cover every chain the rules allow before #DF or shutdown.
        for _ in 0..4 {
            let first = current.vector();
            // The RFLAGS image of a fault has RF set, so the handler's IRET
            // does not re-trigger an instruction breakpoint (SDM Vol.3A
            // §18.3.1.1; observed under KVM).
            let saved_flags = self.rflags;
            if fault_class(first) {
                self.rflags |= flags::RF;
            }
            match self.deliver(mem, first, current.error_code(), EventSource::Exception) {
                Ok(()) => return Ok(()),
                Err(second) => {
                    self.rflags = saved_flags;
                    if first == 8 {
                        return Err(Stop::TripleFault);
                    }
                    if let Exception::PageFault { addr, .. } = second {
                        self.cr2 = addr;
                    }
                    let v = second.vector();
                    let double = (contributory(first) && contributory(v))
                        || (first == 14 && (contributory(v) || v == 14));
                    current = if double {
                        Exception::DoubleFault
                    } else {
                        second
                    };
                }
            }
        }
        Err(Stop::TripleFault)
    }

    /// Delivers an external interrupt (RIP at the next instruction).
    pub fn deliver_interrupt<M: Memory>(&mut self, mem: &mut M, vector: u8) -> Result<(), Stop> {
        match self.deliver(mem, vector, None, EventSource::External) {
            Ok(()) => Ok(()),
            Err(e) => self.deliver_exception(mem, e),
        }
    }

    /// Delivers one event through the IVT or IDT. State changes only on
    /// success; a fault on the way is returned for the caller to deliver.
    pub fn deliver<M: Memory>(
        &mut self,
        mem: &mut M,
        vector: u8,
        error_code: Option<u32>,
        source: EventSource,
    ) -> Result<(), Exception> {
        self.interrupt_shadow = false;
        if self.cr0 & cr::CR0_PE == 0 {
            return self.deliver_real(mem, vector);
        }
        if self.rflags & flags::VM != 0 {
            // Virtual-8086 mode is not implemented.
            return Err(Exception::GeneralProtection(0));
        }
        let ext = u32::from(source != EventSource::Software);
        let gate_error = (vector as u32) * 8 + 2 + ext;
        let long = self.efer & cr::EFER_LMA != 0;
        let gate_size: u64 = if long { 16 } else { 8 };
        if (vector as u64) * gate_size + gate_size - 1 > self.idtr.limit as u64 {
            return Err(Exception::GeneralProtection(gate_error));
        }
        let gate_addr = self.idtr.base.wrapping_add(vector as u64 * gate_size);
        let mut raw = [0u8; 16];
        mem.read_supervisor(gate_addr, &mut raw[..gate_size as usize])?;
        let low = u64::from_le_bytes(raw[..8].try_into().unwrap_or_default());
        let high = u64::from_le_bytes(raw[8..].try_into().unwrap_or_default());
        let gate_type = ((low >> 40) & 0x1f) as u8;
        let gate_dpl = ((low >> 45) & 3) as u8;
        let present = low & (1 << 47) != 0;
        // Interrupt and trap gates only (task gates are not implemented);
        // long mode allows only the 64-bit forms (SDM Vol.3A §6.14.1).
        let (bits32, trap) = match (long, gate_type) {
            (false, 0x06) => (false, false),
            (false, 0x07) => (false, true),
            (_, 0x0e) => (true, false),
            (_, 0x0f) => (true, true),
            _ => return Err(Exception::GeneralProtection(gate_error)),
        };
        let cpl = self.cpl();
        if source == EventSource::Software && gate_dpl < cpl {
            return Err(Exception::GeneralProtection(gate_error));
        }
        if !present {
            return Err(Exception::SegmentNotPresent(gate_error));
        }
        let selector = ((low >> 16) & 0xffff) as u16;
        let mut offset = (low & 0xffff) | ((low >> 32) & 0xffff_0000);
        if long {
            offset |= (high & 0xffff_ffff) << 32;
        } else if !bits32 {
            offset &= 0xffff;
        }
        if selector & 0xfffc == 0 {
            return Err(Exception::GeneralProtection(ext));
        }
        let (desc_addr, d) = self
            .read_descriptor(mem, selector)
            .map_err(|_| Exception::GeneralProtection(selector_error(selector) + ext))?;
        let code_err = selector_error(selector) + ext;
        let conforming = d.attributes() & attr::DOWN_CONFORMING != 0;
        if !d.is_code() || d.dpl() > cpl {
            return Err(Exception::GeneralProtection(code_err));
        }
        if long && (d.attributes() & attr::LONG == 0 || d.attributes() & attr::DEFAULT_BIG != 0) {
            return Err(Exception::GeneralProtection(code_err));
        }
        if !d.present() {
            return Err(Exception::SegmentNotPresent(code_err));
        }
        let new_cpl = if conforming { cpl } else { d.dpl() };
        let old_ss = self.segs[SegReg::Ss as usize];
        let old_rsp = self.gpr[4];
        let ist = if long { ((low >> 32) & 7) as u8 } else { 0 };

        let mut stack = if long {
            let sp = if ist != 0 {
                self.read_tss(mem, 0x24 + 8 * (ist as u64 - 1), 8)?
            } else if new_cpl != cpl {
                self.read_tss(mem, 4 + 8 * new_cpl as u64, 8)?
            } else {
                old_rsp
            };
            let ss = if new_cpl != cpl {
                Segment {
                    selector: new_cpl as u16,
                    base: 0,
                    limit: 0,
                    attributes: attr::PRESENT
                        | attr::CODE_DATA
                        | attr::WRITABLE_READABLE
                        | attr::ACCESSED
                        | ((new_cpl as u16) << 5),
                }
            } else {
                old_ss
            };
            // SDM Vol.3A §6.14.2: the 64-bit stack frame is 16-byte aligned.
            NewStack {
                ss,
                sp: sp & !0xf,
                mask: u64::MAX,
                supervisor: new_cpl == 0,
            }
        } else if new_cpl != cpl {
            let (sp, ss_selector) = self.tss_stack_32(mem, new_cpl)?;
            let ss = self.stack_segment_for(mem, ss_selector, new_cpl)?;
            let mask = if ss.attributes & attr::DEFAULT_BIG != 0 {
                0xffff_ffff
            } else {
                0xffff
            };
            NewStack {
                ss,
                sp,
                mask,
                supervisor: new_cpl == 0,
            }
        } else {
            let mask = if old_ss.attributes & attr::DEFAULT_BIG != 0 {
                0xffff_ffff
            } else {
                0xffff
            };
            NewStack {
                ss: old_ss,
                sp: old_rsp,
                mask,
                supervisor: new_cpl == 0,
            }
        };
        let size: u8 = if long {
            8
        } else if bits32 {
            4
        } else {
            2
        };
        if long || new_cpl != cpl {
            stack.push(mem, size, old_ss.selector as u64, long)?;
            stack.push(mem, size, old_rsp, long)?;
        }
        stack.push(mem, size, self.rflags, long)?;
        stack.push(
            mem,
            size,
            self.segs[SegReg::Cs as usize].selector as u64,
            long,
        )?;
        stack.push(mem, size, self.rip, long)?;
        if let Some(code) = error_code {
            stack.push(mem, size, code as u64, long)?;
        }
        self.mark_accessed(mem, desc_addr, d)?;

        // Commit.
        let mut cs = d.to_segment((selector & 0xfffc) | new_cpl as u16);
        cs.attributes |= attr::ACCESSED;
        self.segs[SegReg::Ss as usize] = stack.ss;
        if long {
            self.gpr[4] = stack.sp;
        } else {
            self.gpr[4] = (self.gpr[4] & !stack.mask) | (stack.sp & stack.mask);
        }
        self.rflags &= !(flags::TF | flags::NT | flags::RF | flags::VM);
        if !trap {
            self.rflags &= !flags::IF;
        }
        self.set_cs(mem, cs);
        self.rip = if self.mode == CpuMode::Bits64 {
            offset
        } else {
            offset & 0xffff_ffff
        };
        Ok(())
    }

    /// Real-mode delivery through the IVT: push FLAGS, CS, IP; clear IF,
    /// TF, AC (SDM Vol.3A §20.1.4).
    fn deliver_real<M: Memory>(&mut self, mem: &mut M, vector: u8) -> Result<(), Exception> {
        let entry = vector as u64 * 4;
        if entry + 3 > self.idtr.limit as u64 {
            return Err(Exception::GeneralProtection(0));
        }
        let mut b = [0u8; 4];
        mem.read_supervisor(self.idtr.base.wrapping_add(entry), &mut b)?;
        let ip = u16::from_le_bytes([b[0], b[1]]);
        let cs = u16::from_le_bytes([b[2], b[3]]);
        let ss = self.segs[SegReg::Ss as usize];
        let mut stack = NewStack {
            ss,
            sp: self.gpr[4],
            mask: if ss.attributes & attr::DEFAULT_BIG != 0 {
                0xffff_ffff
            } else {
                0xffff
            },
            supervisor: true,
        };
        stack.push(mem, 2, self.rflags, false)?;
        stack.push(
            mem,
            2,
            self.segs[SegReg::Cs as usize].selector as u64,
            false,
        )?;
        stack.push(mem, 2, self.rip, false)?;
        self.gpr[4] = (self.gpr[4] & !stack.mask) | (stack.sp & stack.mask);
        self.rflags &= !(flags::IF | flags::TF | flags::AC | flags::RF);
        let cs = self.paragraph_cs(cs);
        self.set_cs(mem, cs);
        self.rip = ip as u64;
        Ok(())
    }

    /// Reads `size` bytes at `offset` in the current TSS (#TS past its limit).
    pub(crate) fn read_tss<M: Memory>(
        &self,
        mem: &mut M,
        offset: u64,
        size: u8,
    ) -> Result<u64, Exception> {
        if self.tr.attributes & attr::PRESENT == 0
            || offset + size as u64 - 1 > self.tr.limit as u64
        {
            return Err(Exception::InvalidTss(selector_error(self.tr.selector)));
        }
        let mut b = [0u8; 8];
        mem.read_supervisor(self.tr.base.wrapping_add(offset), &mut b[..size as usize])?;
        Ok(u64::from_le_bytes(b))
    }

    /// SS:ESP for privilege level `level` from a 32-bit or 16-bit TSS
    /// (SDM Vol.3A §7.2.1, §7.6).
    fn tss_stack_32<M: Memory>(&self, mem: &mut M, level: u8) -> Result<(u64, u16), Exception> {
        let busy_or_free_32 = matches!(self.tr.attributes & 0xf, 9 | 11);
        if busy_or_free_32 {
            let sp = self.read_tss(mem, 4 + 8 * level as u64, 4)?;
            let ss = self.read_tss(mem, 8 + 8 * level as u64, 2)? as u16;
            Ok((sp, ss))
        } else {
            let sp = self.read_tss(mem, 2 + 4 * level as u64, 2)?;
            let ss = self.read_tss(mem, 4 + 4 * level as u64, 2)? as u16;
            Ok((sp, ss))
        }
    }

    /// Checks the SS an inner-level stack switch loads (#TS on failure).
    fn stack_segment_for<M: Memory>(
        &self,
        mem: &mut M,
        selector: u16,
        level: u8,
    ) -> Result<Segment, Exception> {
        let err = Exception::InvalidTss(selector_error(selector));
        if selector & 0xfffc == 0 || (selector & 3) as u8 != level {
            return Err(err);
        }
        let (addr, d) = self.read_descriptor(mem, selector).map_err(|_| err)?;
        let a = d.attributes();
        if !d.is_code_or_data()
            || a & attr::CODE != 0
            || a & attr::WRITABLE_READABLE == 0
            || d.dpl() != level
        {
            return Err(err);
        }
        if !d.present() {
            return Err(Exception::StackFault(selector_error(selector)));
        }
        self.mark_accessed(mem, addr, d)?;
        Ok(d.to_segment(selector))
    }
}
