//! A user-mode address space: linear pages mapped to frames of `PhysMem`
//! with read/write/execute permissions, fronted by a direct-mapped TLB.

use alloc::collections::BTreeMap;

use super::phys::{FrameId, OutOfMemory, PhysMem};
use super::{Memory, PAGE_SIZE};
use crate::cpu::Exception;

/// Page may be read.
pub const PROT_READ: u8 = 1;
/// Page may be written.
pub const PROT_WRITE: u8 = 2;
/// Page may be executed.
pub const PROT_EXEC: u8 = 4;

const TLB_ENTRIES: usize = 256;

/// Frame id of a page whose frame is allocated on first touch.
const LAZY: FrameId = FrameId::MAX;

#[derive(Clone, Copy)]
struct Page {
    /// Backing frame, or `LAZY` until first access (zero-filled on demand).
    frame: FrameId,
    prot: u8,
}

#[derive(Clone, Copy)]
struct TlbEntry {
    vpn: u64,
    frame: FrameId,
    prot: u8,
}

const TLB_EMPTY: TlbEntry = TlbEntry {
    vpn: u64::MAX,
    frame: 0,
    prot: 0,
};

/// Highest user address + 1 (the canonical lower half, SDM Vol.1 §3.3.7.1).
pub const USER_TOP: u64 = 0x0000_8000_0000_0000;

/// A paged linear address space.
#[derive(Clone)]
pub struct AddressSpace {
    phys: PhysMem,
    /// Bumped on every change that may alter executable bytes.
    code_generation: u64,
    max_bytes: u64,
    pages: BTreeMap<u64, Page>,
    tlb: [TlbEntry; TLB_ENTRIES],
}

impl AddressSpace {
    /// An empty space whose RAM is bounded by `max_bytes`.
    pub fn new(max_bytes: u64) -> AddressSpace {
        AddressSpace {
            phys: PhysMem::new(max_bytes),
            code_generation: 0,
            max_bytes,
            pages: BTreeMap::new(),
            tlb: [TLB_EMPTY; TLB_ENTRIES],
        }
    }

    /// Maps zeroed pages over `[addr, addr+len)` (page-rounded) with `prot`;
    /// pages already mapped are replaced. Frames are allocated on first touch.
    pub fn map(&mut self, addr: u64, len: u64, prot: u8) -> Result<(), OutOfMemory> {
        let (first, last) = page_range(addr, len);
        // Even lazily mapped, a range larger than all of RAM is refused: it
        // could never be backed, and its page entries alone would exhaust memory.
        if last.saturating_sub(first) > self.max_bytes / PAGE_SIZE {
            return Err(OutOfMemory);
        }
        for vpn in first..last {
            if let Some(old) = self.pages.insert(vpn, Page { frame: LAZY, prot }) {
                self.release(old);
            }
        }
        self.flush_tlb();
        Ok(())
    }

    /// Maps the pages of the range that are not mapped yet and adds `prot`
    /// to those that are (ELF segments may share a page).
    pub fn map_merge(&mut self, addr: u64, len: u64, prot: u8) -> Result<(), OutOfMemory> {
        let (first, last) = page_range(addr, len);
        if last.saturating_sub(first) > self.max_bytes / PAGE_SIZE {
            return Err(OutOfMemory);
        }
        for vpn in first..last {
            self.pages
                .entry(vpn)
                .and_modify(|p| p.prot |= prot)
                .or_insert(Page { frame: LAZY, prot });
        }
        self.flush_tlb();
        Ok(())
    }

    fn release(&mut self, page: Page) {
        if page.frame != LAZY {
            self.phys.release(page.frame);
        }
    }

    /// Unmaps every page in `[addr, addr+len)`.
    pub fn unmap(&mut self, addr: u64, len: u64) {
        let (first, last) = page_range(addr, len);
        let victims: alloc::vec::Vec<u64> =
            self.pages.range(first..last).map(|(&vpn, _)| vpn).collect();
        for vpn in victims {
            if let Some(page) = self.pages.remove(&vpn) {
                self.release(page);
            }
        }
        self.flush_tlb();
    }

    /// Changes the permissions of mapped pages in the range; returns false
    /// if some page in it is not mapped.
    pub fn protect(&mut self, addr: u64, len: u64, prot: u8) -> bool {
        let (first, last) = page_range(addr, len);
        let mut touched = 0u64;
        for (_, page) in self.pages.range_mut(first..last) {
            page.prot = prot;
            touched += 1;
        }
        self.flush_tlb();
        touched == last - first
    }

    /// True if any page of the range is mapped.
    pub fn any_mapped(&self, addr: u64, len: u64) -> bool {
        let (first, last) = page_range(addr, len);
        self.pages.range(first..last).next().is_some()
    }

    /// Finds a free, page-aligned range of `len` bytes at or below `below`,
    /// searching downwards (like Linux's top-down mmap layout).
    pub fn find_free(&self, len: u64, below: u64) -> Option<u64> {
        let pages = len.div_ceil(PAGE_SIZE);
        let mut top = below / PAGE_SIZE;
        for (&vpn, _) in self.pages.range(..top).rev() {
            if top - (vpn + 1) >= pages {
                break;
            }
            top = vpn;
        }
        top.checked_sub(pages)
            .filter(|&start| start > 0x10)
            .map(|start| start * PAGE_SIZE)
    }

    /// Frames in use (for statistics).
    pub fn frames_in_use(&self) -> usize {
        self.phys.frames_in_use()
    }

    fn flush_tlb(&mut self) {
        self.code_generation += 1;
        self.tlb = [TLB_EMPTY; TLB_ENTRIES];
    }

    #[inline]
    fn translate(&mut self, vpn: u64) -> Option<(FrameId, u8)> {
        let slot = (vpn as usize) % TLB_ENTRIES;
        if self.tlb[slot].vpn == vpn {
            return Some((self.tlb[slot].frame, self.tlb[slot].prot));
        }
        let page = self.pages.get_mut(&vpn)?;
        if page.frame == LAZY {
            page.frame = self.phys.alloc().ok()?;
        }
        let (frame, prot) = (page.frame, page.prot);
        self.tlb[slot] = TlbEntry { vpn, frame, prot };
        Some((frame, prot))
    }

    /// Copies mapped, already-touched bytes without changing any state
    /// (diagnostics); stops at the first byte it cannot provide.
    pub fn peek_fetch(&self, addr: u64, buf: &mut [u8]) -> usize {
        for (i, b) in buf.iter_mut().enumerate() {
            let a = addr.wrapping_add(i as u64);
            match self.pages.get(&(a / PAGE_SIZE)) {
                Some(p) if p.frame != LAZY => {
                    let mut one = [0u8];
                    self.phys.read(p.frame, (a % PAGE_SIZE) as usize, &mut one);
                    *b = one[0];
                }
                _ => return i,
            }
        }
        buf.len()
    }

    /// Permissions of the page holding `addr`, if mapped.
    pub fn prot_at(&self, addr: u64) -> Option<u8> {
        self.pages.get(&(addr / PAGE_SIZE)).map(|p| p.prot)
    }

    /// Copies bytes regardless of permissions (loader and kernel use):
    /// `write == true` stores `buf` into guest memory, otherwise loads it.
    fn access(
        &mut self,
        addr: u64,
        buf: &mut [u8],
        need: u8,
        store: bool,
    ) -> Result<(), Exception> {
        // Check every page first so that a faulting access changes nothing.
        let mut checked = 0usize;
        while checked < buf.len() {
            let a = addr.wrapping_add(checked as u64);
            let ok = a < USER_TOP
                && matches!(self.translate(a / PAGE_SIZE), Some((_, p)) if p & need == need);
            if !ok {
                return Err(user_page_fault(a, store));
            }
            checked += (PAGE_SIZE - a % PAGE_SIZE) as usize;
        }
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr + done as u64;
            let offset = (a % PAGE_SIZE) as usize;
            let n = (PAGE_SIZE as usize - offset).min(buf.len() - done);
            let (frame, prot) = self
                .translate(a / PAGE_SIZE)
                .ok_or(user_page_fault(a, store))?;
            if store {
                // Loader pokes ignore permissions: any store may change code.
                if prot & PROT_EXEC != 0 || need == 0 {
                    self.code_generation += 1;
                }
                self.phys.write(frame, offset, &buf[done..done + n]);
            } else {
                self.phys.read(frame, offset, &mut buf[done..done + n]);
            }
            done += n;
        }
        Ok(())
    }

    /// Reads guest memory ignoring permissions (pages must be mapped).
    pub fn peek(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Exception> {
        self.access(addr, buf, 0, false)
    }

    /// Writes guest memory ignoring permissions (pages must be mapped).
    pub fn poke(&mut self, addr: u64, data: &[u8]) -> Result<(), Exception> {
        let mut tmp = alloc::vec::Vec::from(data);
        self.access(addr, &mut tmp, 0, true)
    }
}

/// The #PF a user-mode access raises (the U bit set, W for stores).
fn user_page_fault(addr: u64, store: bool) -> Exception {
    use crate::cpu::fault::pf;
    let write = if store { pf::WRITE } else { 0 };
    Exception::PageFault {
        addr,
        code: pf::USER | write,
    }
}

fn page_range(addr: u64, len: u64) -> (u64, u64) {
    let first = addr / PAGE_SIZE;
    let last = addr.saturating_add(len).div_ceil(PAGE_SIZE);
    (first, last)
}

impl Memory for AddressSpace {
    #[inline]
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Exception> {
        let offset = (addr % PAGE_SIZE) as usize;
        if offset + buf.len() <= PAGE_SIZE as usize
            && let Some((frame, prot)) = self.translate(addr / PAGE_SIZE)
            && prot & PROT_READ != 0
            && addr < USER_TOP
        {
            self.phys.read(frame, offset, buf);
            return Ok(());
        }
        self.access(addr, buf, PROT_READ, false)
    }

    #[inline]
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), Exception> {
        let offset = (addr % PAGE_SIZE) as usize;
        if offset + data.len() <= PAGE_SIZE as usize
            && let Some((frame, prot)) = self.translate(addr / PAGE_SIZE)
            && prot & PROT_WRITE != 0
            && addr < USER_TOP
        {
            if prot & PROT_EXEC != 0 {
                self.code_generation += 1;
            }
            self.phys.write(frame, offset, data);
            return Ok(());
        }
        let mut tmp = [0u8; 64];
        if data.len() <= tmp.len() {
            tmp[..data.len()].copy_from_slice(data);
            return self.access(addr, &mut tmp[..data.len()], PROT_WRITE, true);
        }
        let mut owned = alloc::vec::Vec::from(data);
        self.access(addr, &mut owned, PROT_WRITE, true)
    }

    fn code_generation(&self) -> Option<u64> {
        Some(self.code_generation)
    }

    fn fetch(&mut self, addr: u64, buf: &mut [u8]) -> usize {
        let mut done = 0;
        while done < buf.len() {
            let a = addr.wrapping_add(done as u64);
            let Some((frame, prot)) = self.translate(a / PAGE_SIZE) else {
                break;
            };
            if prot & PROT_EXEC == 0 || a >= USER_TOP {
                break;
            }
            let offset = (a % PAGE_SIZE) as usize;
            let n = (PAGE_SIZE as usize - offset).min(buf.len() - done);
            self.phys.read(frame, offset, &mut buf[done..done + n]);
            done += n;
        }
        done
    }
}
