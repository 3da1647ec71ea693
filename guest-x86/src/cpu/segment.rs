//! Segment descriptors and segment-register loads: reading the GDT/LDT,
//! the checks of MOV/POP Sreg and LDS/LES/LSS/LFS/LGS, and the real-mode
//! and virtual-8086 base arithmetic (SDM Vol.3A §3.4–3.5, §5.5–5.8;
//! Vol.2B MOV, POP).

use super::fault::Exception;
use super::state::{Cpu, CpuMode, SegReg, Segment, attr};
use crate::mmu::Memory;

/// An 8-byte segment descriptor (SDM Vol.3A §3.4.5, Figure 3-8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor(pub u64);

impl Descriptor {
    /// Base address bits 31:0.
    pub fn base(self) -> u64 {
        ((self.0 >> 16) & 0xff_ffff) | ((self.0 >> 56) << 24)
    }

    /// Limit in bytes after applying G.
    pub fn limit(self) -> u32 {
        let raw = ((self.0 & 0xffff) | ((self.0 >> 32) & 0xf_0000)) as u32;
        if self.attributes() & attr::GRANULAR != 0 {
            (raw << 12) | 0xfff
        } else {
            raw
        }
    }

    /// Access byte and flags nibble as cached in [`Segment::attributes`].
    pub fn attributes(self) -> u16 {
        (((self.0 >> 40) & 0xff) | (((self.0 >> 52) & 0xf) << 8)) as u16
    }

    /// DPL.
    pub fn dpl(self) -> u8 {
        attr::dpl(self.attributes())
    }

    /// Present bit.
    pub fn present(self) -> bool {
        self.attributes() & attr::PRESENT != 0
    }

    /// A code or data (not system) descriptor.
    pub fn is_code_or_data(self) -> bool {
        self.attributes() & attr::CODE_DATA != 0
    }

    /// A code segment.
    pub fn is_code(self) -> bool {
        self.is_code_or_data() && self.attributes() & attr::CODE != 0
    }

    /// The system-descriptor type (S = 0): 2 LDT, 9/11 TSS, 0xC call gate …
    pub fn system_type(self) -> u8 {
        (self.attributes() & 0xf) as u8
    }

    /// The descriptor cache this descriptor loads for `selector`.
    pub fn to_segment(self, selector: u16) -> Segment {
        Segment {
            selector,
            base: self.base(),
            limit: self.limit(),
            attributes: self.attributes(),
        }
    }
}

/// Selector error code: the selector with RPL cleared (SDM Vol.3A §6.13).
pub fn selector_error(selector: u16) -> u32 {
    (selector & 0xfffc) as u32
}

impl Cpu {
    /// Linear address of the descriptor `selector` names, checked against
    /// the GDT or LDT limit (#GP(selector) past it).
    pub(crate) fn descriptor_address(&self, selector: u16, size: u64) -> Result<u64, Exception> {
        let (base, limit) = if selector & 4 != 0 {
            if self.ldtr.attributes & attr::PRESENT == 0 || self.ldtr.selector & 0xfffc == 0 {
                return Err(Exception::GeneralProtection(selector_error(selector)));
            }
            (self.ldtr.base, self.ldtr.limit as u64)
        } else {
            (self.gdtr.base, self.gdtr.limit as u64)
        };
        let offset = (selector & 0xfff8) as u64;
        if offset + size - 1 > limit {
            return Err(Exception::GeneralProtection(selector_error(selector)));
        }
        Ok(base.wrapping_add(offset))
    }

    /// Reads the 8-byte descriptor for `selector` (an implicit supervisor access).
    pub(crate) fn read_descriptor<M: Memory>(
        &self,
        mem: &mut M,
        selector: u16,
    ) -> Result<(u64, Descriptor), Exception> {
        let addr = self.descriptor_address(selector, 8)?;
        let mut b = [0u8; 8];
        mem.read_supervisor(addr, &mut b)?;
        Ok((addr, Descriptor(u64::from_le_bytes(b))))
    }

    /// Reads the upper half of a 16-byte system descriptor (long mode).
    pub(crate) fn read_descriptor_high<M: Memory>(
        &self,
        mem: &mut M,
        selector: u16,
    ) -> Result<u64, Exception> {
        let addr = self.descriptor_address(selector, 16)?;
        let mut b = [0u8; 8];
        mem.read_supervisor(addr.wrapping_add(8), &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Sets the accessed bit of a code/data descriptor in memory, as the
    /// processor does on a load (SDM Vol.3A §3.4.5.1).
    pub(crate) fn mark_accessed<M: Memory>(
        &self,
        mem: &mut M,
        addr: u64,
        d: Descriptor,
    ) -> Result<(), Exception> {
        if d.attributes() & attr::ACCESSED == 0 {
            let byte = ((d.0 >> 40) as u8) | attr::ACCESSED as u8;
            mem.write_supervisor(addr.wrapping_add(5), &[byte])?;
        }
        Ok(())
    }

    /// True in real mode or virtual-8086 mode, where a selector is just a
    /// paragraph number.
    pub(crate) fn selectors_are_paragraphs(&self) -> bool {
        self.cr0 & super::state::cr::CR0_PE == 0 || self.rflags & super::flags::VM != 0
    }

    /// Loads a data segment register or SS (MOV Sreg, POP Sreg, LxS) with
    /// the protected-mode checks (SDM Vol.2B MOV, "IF SS is loaded").
    /// Loading CS this way is #UD (handled by the callers).
    pub(crate) fn load_segment<M: Memory>(
        &mut self,
        mem: &mut M,
        seg: SegReg,
        selector: u16,
    ) -> Result<(), Exception> {
        if self.selectors_are_paragraphs() {
            let s = &mut self.segs[seg as usize];
            s.selector = selector;
            s.base = (selector as u64) << 4;
            if self.rflags & super::flags::VM != 0 {
                s.limit = 0xffff;
                s.attributes = attr::PRESENT
                    | attr::CODE_DATA
                    | attr::WRITABLE_READABLE
                    | attr::ACCESSED
                    | (3 << 5);
            }
            return Ok(());
        }
        let cpl = self.cpl();
        let rpl = (selector & 3) as u8;
        let err = selector_error(selector);
        if selector & 0xfffc == 0 {
            // A null selector: #GP(0) for SS, except in 64-bit mode at CPL < 3
            // with RPL = CPL; for the others it marks the register unusable.
            if seg == SegReg::Ss && !(self.mode == CpuMode::Bits64 && cpl < 3 && rpl == cpl) {
                return Err(Exception::GeneralProtection(0));
            }
            let keep_base = self.mode == CpuMode::Bits64 && matches!(seg, SegReg::Fs | SegReg::Gs);
            let s = &mut self.segs[seg as usize];
            s.selector = selector;
            if !keep_base {
                s.base = 0;
            }
            s.attributes = if seg == SegReg::Ss {
                attr::PRESENT
                    | attr::CODE_DATA
                    | attr::WRITABLE_READABLE
                    | attr::ACCESSED
                    | ((cpl as u16) << 5)
            } else {
                0
            };
            return Ok(());
        }
        let (addr, d) = self.read_descriptor(mem, selector)?;
        let a = d.attributes();
        if seg == SegReg::Ss {
            let writable_data =
                d.is_code_or_data() && a & attr::CODE == 0 && a & attr::WRITABLE_READABLE != 0;
            if rpl != cpl || d.dpl() != cpl || !writable_data {
                return Err(Exception::GeneralProtection(err));
            }
            if !d.present() {
                return Err(Exception::StackFault(err));
            }
        } else {
            let readable =
                d.is_code_or_data() && (a & attr::CODE == 0 || a & attr::WRITABLE_READABLE != 0);
            let conforming_code = d.is_code() && a & attr::DOWN_CONFORMING != 0;
            if !readable || (!conforming_code && (rpl > d.dpl() || cpl > d.dpl())) {
                return Err(Exception::GeneralProtection(err));
            }
            if !d.present() {
                return Err(Exception::SegmentNotPresent(err));
            }
        }
        self.mark_accessed(mem, addr, d)?;
        let mut s = d.to_segment(selector);
        s.attributes |= attr::ACCESSED;
        if self.mode == CpuMode::Bits64 && matches!(seg, SegReg::Fs | SegReg::Gs) {
            // The 64-bit base of FS/GS comes from the MSRs; a load sets bits 31:0.
            s.base &= 0xffff_ffff;
        }
        self.segs[seg as usize] = s;
        Ok(())
    }

    /// Checks a code-segment descriptor for a far JMP/CALL or a return and
    /// gives the CS cache to load with RPL = the new CPL (SDM Vol.2A JMP,
    /// Vol.2B RET). `new_cpl` is the privilege the code will run at.
    pub(crate) fn check_code_segment<M: Memory>(
        &self,
        mem: &mut M,
        selector: u16,
        new_cpl: u8,
        returning: bool,
    ) -> Result<Segment, Exception> {
        let err = selector_error(selector);
        if selector & 0xfffc == 0 {
            return Err(Exception::GeneralProtection(0));
        }
        let (addr, d) = self.read_descriptor(mem, selector)?;
        if !d.is_code() {
            // Call gates, task gates and TSS targets are not implemented.
            return Err(Exception::GeneralProtection(err));
        }
        let rpl = (selector & 3) as u8;
        let conforming = d.attributes() & attr::DOWN_CONFORMING != 0;
        let cpl = self.cpl();
        let ok = if returning {
            // RET/IRET: RPL is the privilege returned to, never inner.
            rpl >= cpl
                && if conforming {
                    d.dpl() <= rpl
                } else {
                    d.dpl() == rpl
                }
        } else if conforming {
            d.dpl() <= cpl
        } else {
            rpl <= cpl && d.dpl() == cpl
        };
        // SDM Vol.3A §5.2.1: L and D both set is reserved in IA-32e mode.
        let bad_long = self.efer & super::state::cr::EFER_LMA != 0
            && d.attributes() & attr::LONG != 0
            && d.attributes() & attr::DEFAULT_BIG != 0;
        if !ok || bad_long {
            return Err(Exception::GeneralProtection(err));
        }
        if !d.present() {
            return Err(Exception::SegmentNotPresent(err));
        }
        self.mark_accessed(mem, addr, d)?;
        let mut s = d.to_segment((selector & 0xfffc) | new_cpl as u16);
        s.attributes |= attr::ACCESSED;
        Ok(s)
    }

    /// Installs a new CS cache and recomputes the mode and CPL.
    pub(crate) fn set_cs<M: Memory>(&mut self, mem: &mut M, cs: Segment) {
        self.segs[SegReg::Cs as usize] = cs;
        self.sync_mode(mem);
    }

    /// CS for a real-mode or virtual-8086 far transfer.
    pub(crate) fn paragraph_cs(&self, selector: u16) -> Segment {
        let old = self.segs[SegReg::Cs as usize];
        Segment {
            selector,
            base: (selector as u64) << 4,
            ..old
        }
    }

    /// After a return to an outer privilege level, data segment registers
    /// the new CPL may not use become null (SDM Vol.2B RET, IRET).
    pub(crate) fn nullify_inaccessible_segments(&mut self) {
        let cpl = self.cpl();
        for seg in [SegReg::Es, SegReg::Ds, SegReg::Fs, SegReg::Gs] {
            let s = &mut self.segs[seg as usize];
            let a = s.attributes;
            let conforming_code = a & attr::CODE != 0 && a & attr::DOWN_CONFORMING != 0;
            if s.selector & 0xfffc != 0 && !conforming_code && attr::dpl(a) < cpl {
                s.selector = 0;
                s.attributes = 0;
            }
        }
    }
}

/// What LAR, LSL, VERR and VERW ask about a selector (SDM Vol.3A §5.10;
/// Vol.2A LAR, LSL; Vol.2B VERR/VERW). They clear ZF instead of faulting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SelectorQuery {
    /// LAR: the access rights.
    AccessRights,
    /// LSL: the byte-granular limit.
    Limit,
    /// VERR: readable at the current privilege.
    Readable,
    /// VERW: writable at the current privilege.
    Writable,
}

impl Cpu {
    /// The descriptor `selector` names if it is visible at the current
    /// privilege (weakened by the selector's RPL) and of a type `query`
    /// accepts; `None` where the instruction clears ZF. Only reading the
    /// descriptor table can fault.
    pub(crate) fn query_selector<M: Memory>(
        &self,
        mem: &mut M,
        selector: u16,
        query: SelectorQuery,
    ) -> Result<Option<Descriptor>, Exception> {
        if selector & 0xfffc == 0 {
            return Ok(None);
        }
        // Past the table's limit (or no LDT): ZF = 0, not #GP.
        let Ok(addr) = self.descriptor_address(selector, 8) else {
            return Ok(None);
        };
        let mut b = [0u8; 8];
        mem.read_supervisor(addr, &mut b)?;
        let d = Descriptor(u64::from_le_bytes(b));
        let attributes = d.attributes();
        let long_mode = self.efer & super::state::cr::EFER_LMA != 0;
        let type_ok = if d.is_code_or_data() {
            let readable_or_writable = attributes & attr::WRITABLE_READABLE != 0;
            match query {
                SelectorQuery::AccessRights | SelectorQuery::Limit => true,
                SelectorQuery::Readable => !d.is_code() || readable_or_writable,
                SelectorQuery::Writable => !d.is_code() && readable_or_writable,
            }
        } else {
            // Vol.2A Table 3-52 (LAR) and Table 3-57 (LSL): gates have no
            // limit; IA-32e mode keeps only the LDT, 64-bit TSSs and (LAR)
            // 64-bit call gates.
            let t = d.system_type();
            match (query, long_mode) {
                (SelectorQuery::AccessRights, true) => matches!(t, 0x2 | 0x9 | 0xb | 0xc),
                (SelectorQuery::AccessRights, false) => {
                    matches!(t, 0x1..=0x5 | 0x9 | 0xb | 0xc)
                }
                (SelectorQuery::Limit, true) => matches!(t, 0x2 | 0x9 | 0xb),
                (SelectorQuery::Limit, false) => matches!(t, 0x1..=0x3 | 0x9 | 0xb),
                (SelectorQuery::Readable | SelectorQuery::Writable, _) => false,
            }
        };
        // Conforming code is visible from every privilege level.
        let conforming = d.is_code() && attributes & attr::DOWN_CONFORMING != 0;
        let dpl = d.dpl();
        let visible = conforming || (self.cpl() <= dpl && (selector & 3) as u8 <= dpl);
        Ok((type_ok && visible).then_some(d))
    }
}
