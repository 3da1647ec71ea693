//! A user-mode address space, shaped like Linux's: ranges of linear pages
//! with permissions (VMAs) that cost nothing until touched, and the
//! touched pages, each backed by a frame of the run's shared frame pool
//! (see `phys`). A fork shares every touched frame copy-on-write. A small
//! direct-mapped TLB fronts both maps.
//!
//! Hostile programs stay within `--mem`: lazily mapped ranges use one map
//! entry per range, not per page; only touched pages take frames, from one
//! pool for all processes; a touch the pool cannot back reports
//! [`AddressSpace::out_of_memory`] so the caller can end the process as
//! Linux's OOM killer would.

use alloc::collections::BTreeMap;

use super::phys::{FrameId, FramePool, OutOfMemory, SharedFrames};
use super::{Memory, PAGE_SIZE};
use crate::cpu::Exception;

/// Page may be read.
pub const PROT_READ: u8 = 1;
/// Page may be written.
pub const PROT_WRITE: u8 = 2;
/// Page may be executed.
pub const PROT_EXEC: u8 = 4;

const TLB_ENTRIES: usize = 256;

/// A range of mapped pages `[start, end)` (page numbers; the start is the
/// map key) with one set of permissions.
#[derive(Clone, Copy)]
struct Range {
    end: u64,
    prot: u8,
}

/// A touched page's frame.
#[derive(Clone, Copy)]
struct Touched {
    frame: FrameId,
    /// The frame may be held by another address space too (after fork):
    /// it is copied on the first write.
    copy_on_write: bool,
}

#[derive(Clone, Copy)]
struct TlbEntry {
    vpn: u64,
    frame: FrameId,
    /// The range's permissions, without `PROT_WRITE` while copy-on-write.
    prot: u8,
}

const TLB_EMPTY: TlbEntry = TlbEntry {
    vpn: u64::MAX,
    frame: 0,
    prot: 0,
};

/// Highest user address + 1 (the canonical lower half, SDM Vol.1 §3.3.7.1).
pub const USER_TOP: u64 = 0x0000_8000_0000_0000;

/// What an access intends, for resolving a page.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Intent {
    Read,
    /// A guest store: breaks copy-on-write if the range is writable.
    Write,
    /// A loader or kernel store that ignores permissions: always breaks
    /// copy-on-write.
    Poke,
}

/// A paged linear address space.
pub struct AddressSpace {
    pool: SharedFrames,
    /// Bumped on every change that may alter executable bytes.
    code_generation: u64,
    ranges: BTreeMap<u64, Range>,
    touched: BTreeMap<u64, Touched>,
    tlb: [TlbEntry; TLB_ENTRIES],
    /// The last page touch failed because the pool was exhausted.
    out_of_memory: bool,
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        let mut pool = self.pool.borrow_mut();
        for page in self.touched.values() {
            pool.release(page.frame);
        }
    }
}

impl AddressSpace {
    /// An empty space with its own pool of at most `max_bytes` (tests and
    /// single-process use).
    pub fn new(max_bytes: u64) -> AddressSpace {
        AddressSpace::in_pool(FramePool::shared(max_bytes))
    }

    /// An empty space taking its frames from `pool`.
    pub fn in_pool(pool: SharedFrames) -> AddressSpace {
        AddressSpace {
            pool,
            code_generation: 0,
            ranges: BTreeMap::new(),
            touched: BTreeMap::new(),
            tlb: [TLB_EMPTY; TLB_ENTRIES],
            out_of_memory: false,
        }
    }

    /// The pool this space takes frames from.
    pub fn pool(&self) -> &SharedFrames {
        &self.pool
    }

    /// The child's copy for fork: the same ranges, and every touched frame
    /// shared copy-on-write by both spaces (kernel/fork.c dup_mmap).
    pub fn fork(&mut self) -> AddressSpace {
        {
            let mut pool = self.pool.borrow_mut();
            for page in self.touched.values_mut() {
                pool.retain(page.frame);
                page.copy_on_write = true;
            }
        }
        // The parent's cached write permissions are void now.
        self.flush_tlb();
        AddressSpace {
            pool: self.pool.clone(),
            code_generation: self.code_generation,
            ranges: self.ranges.clone(),
            touched: self.touched.clone(),
            tlb: [TLB_EMPTY; TLB_ENTRIES],
            out_of_memory: false,
        }
    }

    /// True if the last failed access failed because the frame pool is
    /// exhausted (the page is mapped; there is no RAM left to back it).
    pub fn out_of_memory(&self) -> bool {
        self.out_of_memory
    }

    /// Refuses a range that could never be backed: larger than all of RAM.
    fn check_size(&self, first: u64, last: u64) -> Result<(), OutOfMemory> {
        let limit_pages = self.pool.borrow().limit_bytes() / PAGE_SIZE;
        if last.saturating_sub(first) > limit_pages {
            return Err(OutOfMemory);
        }
        Ok(())
    }

    /// Makes `vpn` a range boundary (splits the range straddling it).
    fn split_at(&mut self, vpn: u64) {
        let straddling = self
            .ranges
            .range(..vpn)
            .next_back()
            .filter(|(_, r)| r.end > vpn)
            .map(|(&start, &r)| (start, r));
        if let Some((start, range)) = straddling {
            if let Some(r) = self.ranges.get_mut(&start) {
                r.end = vpn;
            }
            self.ranges.insert(vpn, range);
        }
    }

    /// Removes every range and touched page in `[first, last)`.
    fn remove(&mut self, first: u64, last: u64) {
        self.split_at(first);
        self.split_at(last);
        let starts: alloc::vec::Vec<u64> =
            self.ranges.range(first..last).map(|(&s, _)| s).collect();
        for start in starts {
            self.ranges.remove(&start);
        }
        let pages: alloc::vec::Vec<u64> =
            self.touched.range(first..last).map(|(&v, _)| v).collect();
        let mut pool = self.pool.borrow_mut();
        for vpn in pages {
            if let Some(page) = self.touched.remove(&vpn) {
                pool.release(page.frame);
            }
        }
    }

    /// Maps zeroed pages over `[addr, addr+len)` (page-rounded) with `prot`;
    /// pages already mapped are replaced. Frames are allocated on first touch.
    pub fn map(&mut self, addr: u64, len: u64, prot: u8) -> Result<(), OutOfMemory> {
        let (first, last) = page_range(addr, len);
        self.check_size(first, last)?;
        if first < last {
            self.remove(first, last);
            self.ranges.insert(first, Range { end: last, prot });
        }
        self.flush_tlb();
        Ok(())
    }

    /// Maps the pages of the range that are not mapped yet and adds `prot`
    /// to those that are (ELF segments may share a page).
    pub fn map_merge(&mut self, addr: u64, len: u64, prot: u8) -> Result<(), OutOfMemory> {
        let (first, last) = page_range(addr, len);
        self.check_size(first, last)?;
        self.split_at(first);
        self.split_at(last);
        let mut gaps = alloc::vec::Vec::new();
        let mut at = first;
        for (&start, range) in self.ranges.range_mut(first..last) {
            if start > at {
                gaps.push((at, start));
            }
            range.prot |= prot;
            at = range.end;
        }
        if at < last {
            gaps.push((at, last));
        }
        for (start, end) in gaps {
            self.ranges.insert(start, Range { end, prot });
        }
        self.flush_tlb();
        Ok(())
    }

    /// Unmaps every page in `[addr, addr+len)`.
    pub fn unmap(&mut self, addr: u64, len: u64) {
        let (first, last) = page_range(addr, len);
        self.remove(first, last);
        self.flush_tlb();
    }

    /// Changes the permissions of mapped pages in the range; returns false
    /// if some page in it is not mapped.
    pub fn protect(&mut self, addr: u64, len: u64, prot: u8) -> bool {
        let (first, last) = page_range(addr, len);
        self.split_at(first);
        self.split_at(last);
        let mut covered = 0u64;
        for (&start, range) in self.ranges.range_mut(first..last) {
            range.prot = prot;
            covered += range.end - start;
        }
        self.flush_tlb();
        covered == last.saturating_sub(first)
    }

    /// The range holding page `vpn`.
    fn range_of(&self, vpn: u64) -> Option<Range> {
        self.ranges
            .range(..=vpn)
            .next_back()
            .map(|(_, &r)| r)
            .filter(|r| r.end > vpn)
    }

    /// True if any page of the range is mapped.
    pub fn any_mapped(&self, addr: u64, len: u64) -> bool {
        let (first, last) = page_range(addr, len);
        first < last
            && self
                .ranges
                .range(..last)
                .next_back()
                .is_some_and(|(_, r)| r.end > first)
    }

    /// Finds a free, page-aligned range of `len` bytes at or below `below`,
    /// searching downwards (like Linux's top-down mmap layout).
    pub fn find_free(&self, len: u64, below: u64) -> Option<u64> {
        let pages = len.div_ceil(PAGE_SIZE);
        let mut top = below / PAGE_SIZE;
        for (&start, range) in self.ranges.range(..top).rev() {
            if range.end <= top && top - range.end >= pages {
                break;
            }
            top = top.min(start);
        }
        top.checked_sub(pages)
            .filter(|&start| start > 0x10)
            .map(|start| start * PAGE_SIZE)
    }

    /// Frames in use by the whole pool, and its ceiling, in bytes.
    pub fn pool_usage(&self) -> (u64, u64) {
        let pool = self.pool.borrow();
        (pool.frames_in_use() as u64 * PAGE_SIZE, pool.limit_bytes())
    }

    fn flush_tlb(&mut self) {
        self.code_generation += 1;
        self.tlb = [TLB_EMPTY; TLB_ENTRIES];
    }

    /// The frame and effective permissions of page `vpn` from the TLB.
    #[inline]
    fn translate(&mut self, vpn: u64) -> Option<(FrameId, u8)> {
        let slot = (vpn as usize) % TLB_ENTRIES;
        if self.tlb[slot].vpn == vpn {
            return Some((self.tlb[slot].frame, self.tlb[slot].prot));
        }
        self.resolve(vpn, Intent::Read)
    }

    /// Walks the maps for page `vpn`: backs it with a zeroed frame on
    /// first touch, copies a shared frame when `intent` writes to it, and
    /// fills the TLB. `None` if unmapped or out of memory (then
    /// `out_of_memory` says which).
    fn resolve(&mut self, vpn: u64, intent: Intent) -> Option<(FrameId, u8)> {
        self.out_of_memory = false;
        let range = self.range_of(vpn)?;
        let mut pool = self.pool.borrow_mut();
        let page = match self.touched.get_mut(&vpn) {
            Some(page) => page,
            None => {
                let Ok(frame) = pool.alloc() else {
                    self.out_of_memory = true;
                    return None;
                };
                self.touched.entry(vpn).or_insert(Touched {
                    frame,
                    copy_on_write: false,
                })
            }
        };
        let writes =
            intent == Intent::Poke || (intent == Intent::Write && range.prot & PROT_WRITE != 0);
        if page.copy_on_write && writes {
            if pool.holders(page.frame) > 1 {
                let Ok(copy) = pool.alloc_copy(page.frame) else {
                    self.out_of_memory = true;
                    return None;
                };
                pool.release(page.frame);
                page.frame = copy;
            }
            page.copy_on_write = false;
        }
        let prot = if page.copy_on_write {
            range.prot & !PROT_WRITE
        } else {
            range.prot
        };
        let frame = page.frame;
        self.tlb[(vpn as usize) % TLB_ENTRIES] = TlbEntry { vpn, frame, prot };
        Some((frame, prot))
    }

    /// Copies mapped, already-touched bytes without changing any state
    /// (diagnostics); stops at the first byte it cannot provide.
    pub fn peek_fetch(&self, addr: u64, buf: &mut [u8]) -> usize {
        let pool = self.pool.borrow();
        for (i, b) in buf.iter_mut().enumerate() {
            let a = addr.wrapping_add(i as u64);
            let vpn = a / PAGE_SIZE;
            match self.touched.get(&vpn) {
                Some(page) if self.range_of(vpn).is_some() => {
                    let mut one = [0u8];
                    pool.read(page.frame, (a % PAGE_SIZE) as usize, &mut one);
                    *b = one[0];
                }
                _ => return i,
            }
        }
        buf.len()
    }

    /// Permissions of the page holding `addr`, if mapped.
    pub fn prot_at(&self, addr: u64) -> Option<u8> {
        self.range_of(addr / PAGE_SIZE).map(|r| r.prot)
    }

    /// Copies bytes page by page: `store == true` stores `buf` into guest
    /// memory, otherwise loads it; `need` is the permission each page must
    /// grant (0 for loader and kernel accesses, which ignore permissions).
    fn access(
        &mut self,
        addr: u64,
        buf: &mut [u8],
        need: u8,
        store: bool,
    ) -> Result<(), Exception> {
        let intent = match (store, need) {
            (false, _) => Intent::Read,
            (true, 0) => Intent::Poke,
            (true, _) => Intent::Write,
        };
        // Check every page first so that a faulting access changes nothing.
        let mut checked = 0usize;
        while checked < buf.len() {
            let a = addr.wrapping_add(checked as u64);
            let ok = a < USER_TOP
                && matches!(self.resolve(a / PAGE_SIZE, intent), Some((_, p)) if p & need == need);
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
            // The check above resolved every page (copies for writes
            // included), so the TLB answers unless the range outgrew it.
            let (frame, prot) = self
                .translate(a / PAGE_SIZE)
                .ok_or(user_page_fault(a, store))?;
            let mut pool = self.pool.borrow_mut();
            if store {
                // Loader pokes ignore permissions: any store may change code.
                if prot & PROT_EXEC != 0 || need == 0 {
                    self.code_generation += 1;
                }
                pool.write(frame, offset, &buf[done..done + n]);
            } else {
                pool.read(frame, offset, &mut buf[done..done + n]);
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
            self.pool.borrow().read(frame, offset, buf);
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
            self.pool.borrow_mut().write(frame, offset, data);
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
            self.pool
                .borrow()
                .read(frame, offset, &mut buf[done..done + n]);
            done += n;
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RW: u8 = PROT_READ | PROT_WRITE;

    fn byte(space: &mut AddressSpace, addr: u64) -> u8 {
        let mut b = [0u8];
        space.read(addr, &mut b).unwrap();
        b[0]
    }

    #[test]
    fn fork_shares_frames_until_either_side_writes() {
        let mut parent = AddressSpace::new(16 * PAGE_SIZE);
        parent.map(0x10000, 2 * PAGE_SIZE, RW).unwrap();
        parent.write(0x10000, &[1]).unwrap();
        parent.write(0x11000, &[2]).unwrap();
        let mut child = parent.fork();
        assert_eq!(parent.pool_usage().0, 2 * PAGE_SIZE, "fork copies nothing");
        child.write(0x10000, &[9]).unwrap();
        assert_eq!(
            (byte(&mut parent, 0x10000), byte(&mut child, 0x10000)),
            (1, 9)
        );
        parent.write(0x11000, &[7]).unwrap();
        assert_eq!(
            (byte(&mut parent, 0x11000), byte(&mut child, 0x11000)),
            (7, 2)
        );
        assert_eq!(parent.pool_usage().0, 4 * PAGE_SIZE);
        drop(child);
        assert_eq!(
            parent.pool_usage().0,
            2 * PAGE_SIZE,
            "the child's frames return"
        );
    }

    #[test]
    fn a_read_only_shared_page_still_faults_on_write() {
        let mut parent = AddressSpace::new(16 * PAGE_SIZE);
        parent.map(0x10000, PAGE_SIZE, PROT_READ).unwrap();
        parent.poke(0x10000, &[5]).unwrap();
        let mut child = parent.fork();
        assert!(child.write(0x10000, &[1]).is_err());
        assert!(!child.out_of_memory());
        assert_eq!(byte(&mut parent, 0x10000), 5);
    }

    #[test]
    fn touching_past_the_pool_reports_out_of_memory() {
        let mut space = AddressSpace::new(2 * PAGE_SIZE);
        space.map(0x10000, 2 * PAGE_SIZE, RW).unwrap();
        space.map(0x40000, 2 * PAGE_SIZE, RW).unwrap();
        space.write(0x10000, &[1]).unwrap();
        space.write(0x11000, &[1]).unwrap();
        assert!(space.write(0x40000, &[1]).is_err());
        assert!(space.out_of_memory());
        // An unmapped page is an ordinary fault.
        assert!(space.write(0x90000, &[1]).is_err());
        assert!(!space.out_of_memory());
        space.unmap(0x10000, PAGE_SIZE);
        space.write(0x40000, &[1]).unwrap();
    }

    #[test]
    fn ranges_split_merge_and_protect_page_by_page() {
        let mut space = AddressSpace::new(64 * PAGE_SIZE);
        space.map(0x10000, 8 * PAGE_SIZE, PROT_READ).unwrap();
        space.unmap(0x12000, 2 * PAGE_SIZE);
        assert!(!space.any_mapped(0x12000, 2 * PAGE_SIZE));
        assert!(space.any_mapped(0x11000, 2 * PAGE_SIZE));
        // Merging fills the hole and adds write to what was there.
        space.map_merge(0x11000, 4 * PAGE_SIZE, PROT_WRITE).unwrap();
        assert_eq!(space.prot_at(0x10000), Some(PROT_READ));
        assert_eq!(space.prot_at(0x11000), Some(RW));
        assert_eq!(space.prot_at(0x12000), Some(PROT_WRITE));
        assert_eq!(space.prot_at(0x15000), Some(PROT_READ));
        assert!(space.protect(0x13000, PAGE_SIZE, PROT_EXEC));
        assert_eq!(space.prot_at(0x13000), Some(PROT_EXEC));
        assert_eq!(space.prot_at(0x14000), Some(RW));
        // Part of the range unmapped: reported, the rest still changed.
        assert!(!space.protect(0x17000, 2 * PAGE_SIZE, PROT_READ));
        assert_eq!(space.prot_at(0x18000), None);
    }

    #[test]
    fn free_ranges_are_found_below_the_top_between_mappings() {
        let mut space = AddressSpace::new(64 * PAGE_SIZE);
        space
            .map(0x100000 - 2 * PAGE_SIZE, 2 * PAGE_SIZE, RW)
            .unwrap();
        space
            .map(0x100000 - 6 * PAGE_SIZE, 2 * PAGE_SIZE, RW)
            .unwrap();
        assert_eq!(
            space.find_free(2 * PAGE_SIZE, 0x100000),
            Some(0x100000 - 4 * PAGE_SIZE)
        );
        assert_eq!(
            space.find_free(3 * PAGE_SIZE, 0x100000),
            Some(0x100000 - 9 * PAGE_SIZE)
        );
    }

    #[test]
    fn a_range_larger_than_all_of_ram_is_refused_but_many_fit() {
        let mut space = AddressSpace::new(16 * PAGE_SIZE);
        assert_eq!(space.map(0x10000, 17 * PAGE_SIZE, RW), Err(OutOfMemory));
        for i in 0..1000u64 {
            space
                .map(0x1000_0000 + i * 0x10_0000, 16 * PAGE_SIZE, RW)
                .unwrap();
        }
        assert_eq!(space.pool_usage().0, 0);
    }
}
