//! Memory system calls: brk, mmap (anonymous, and file-backed as private
//! copies: the file's bytes are read in at mmap time), mprotect, munmap,
//! mincore. Memory mapped MAP_SHARED is not shared with forked children
//! (fork gives the child copy-on-write copies of every page); threads share
//! all of it. Mapping is lazy: a page takes a frame from the run's shared
//! pool (`--mem`) when first touched.

use alloc::vec;
use alloc::vec::Vec;

use super::Process;
use super::host::errno::*;
use super::host::{Errno, HostOs};
use super::loader::MMAP_TOP;
use super::task::Task;
use crate::mmu::PAGE_SIZE;
use crate::mmu::space::{PROT_EXEC, PROT_READ, PROT_WRITE, USER_TOP};

const MAP_SHARED: u64 = 0x01;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_FIXED_NOREPLACE: u64 = 0x100000;

type SysResult = Result<u64, Errno>;

/// Linux PROT_* to page permissions: on x86 any access right implies read.
fn guest_prot(prot: u64) -> u8 {
    let mut p = (prot & 7) as u8 & (PROT_READ | PROT_WRITE | PROT_EXEC);
    if p != 0 {
        p |= PROT_READ;
    }
    p
}

impl<H: HostOs> Process<H> {
    pub(super) fn sys_brk(&mut self, t: &mut Task, requested: u64) -> SysResult {
        let round = |v: u64| v.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let mut mm = t.mm.borrow_mut();
        if requested < mm.brk_start || requested >= MMAP_TOP {
            return Ok(mm.brk);
        }
        let (old_end, new_end) = (round(mm.brk), round(requested));
        if new_end > old_end {
            if mm.space.any_mapped(old_end, new_end - old_end) {
                return Ok(mm.brk);
            }
            if mm
                .space
                .map_merge(old_end, new_end - old_end, PROT_READ | PROT_WRITE)
                .is_err()
            {
                return Ok(mm.brk);
            }
        } else if new_end < old_end {
            mm.space.unmap(new_end, old_end - new_end);
        }
        mm.brk = requested;
        Ok(mm.brk)
    }

    /// mmap(addr, len, prot, flags, fd, offset).
    pub(super) fn sys_mmap(&mut self, t: &mut Task, a: [u64; 6]) -> SysResult {
        let [addr, len, prot, flags, fd, offset] = a;
        if len == 0 || !addr.is_multiple_of(PAGE_SIZE) || !offset.is_multiple_of(PAGE_SIZE) {
            return Err(EINVAL);
        }
        let len = len.checked_add(PAGE_SIZE - 1).ok_or(ENOMEM)? / PAGE_SIZE * PAGE_SIZE;
        let file = if flags & MAP_ANONYMOUS == 0 {
            Some(self.host_fd(t, fd)?)
        } else {
            None
        };
        if file.is_some() && flags & MAP_SHARED != 0 && prot & PROT_WRITE as u64 != 0 {
            // Writes through a shared file mapping would never reach the file.
            return Err(ENOTSUP);
        }
        let mut mm = t.mm.borrow_mut();
        let space = &mut mm.space;
        let target = if flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0 {
            if addr.checked_add(len).is_none_or(|end| end > USER_TOP) {
                return Err(ENOMEM);
            }
            if flags & MAP_FIXED_NOREPLACE != 0 && space.any_mapped(addr, len) {
                return Err(EEXIST);
            }
            addr
        } else if addr != 0
            && addr.checked_add(len).is_some_and(|e| e <= MMAP_TOP)
            && !space.any_mapped(addr, len)
        {
            addr
        } else {
            space.find_free(len, MMAP_TOP).ok_or(ENOMEM)?
        };
        space
            .map(target, len, guest_prot(prot))
            .map_err(|_| ENOMEM)?;
        if let Some(host) = file {
            // Copy the file contents in bounded chunks, up to EOF or `len`.
            let mut chunk = vec![0u8; 64 << 10];
            let mut filled = 0u64;
            while filled < len {
                let want = chunk.len().min((len - filled) as usize);
                let at = offset.checked_add(filled).ok_or(EOVERFLOW)?;
                let n = self.host.pread(host, &mut chunk[..want], at)?;
                if n == 0 {
                    break;
                }
                space
                    .poke(target + filled, &chunk[..n])
                    .map_err(|_| ENOMEM)?;
                filled += n as u64;
            }
        }
        Ok(target)
    }

    pub(super) fn sys_mprotect(
        &mut self,
        t: &mut Task,
        addr: u64,
        len: u64,
        prot: u64,
    ) -> SysResult {
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(EINVAL);
        }
        if t.mm.borrow_mut().space.protect(addr, len, guest_prot(prot)) {
            Ok(0)
        } else {
            Err(ENOMEM)
        }
    }

    /// mincore(2): every mapped page counts as resident (guest memory is
    /// never paged out); a hole in the range is ENOMEM.
    pub(super) fn sys_mincore(&mut self, t: &mut Task, addr: u64, len: u64, vec: u64) -> SysResult {
        if !addr.is_multiple_of(PAGE_SIZE) {
            return Err(EINVAL);
        }
        let pages = len.div_ceil(PAGE_SIZE);
        if pages
            .checked_mul(PAGE_SIZE)
            .and_then(|bytes| addr.checked_add(bytes))
            .is_none_or(|end| end > USER_TOP)
        {
            return Err(ENOMEM);
        }
        let mut out = Vec::new();
        for i in 0..pages {
            if t.mm.borrow().space.prot_at(addr + i * PAGE_SIZE).is_none() {
                return Err(ENOMEM);
            }
            out.push(1u8);
            if out.len() == 4096 || i + 1 == pages {
                t.write_mem(vec + (i + 1 - out.len() as u64), &out)?;
                out.clear();
            }
        }
        Ok(0)
    }

    pub(super) fn sys_munmap(&mut self, t: &mut Task, addr: u64, len: u64) -> SysResult {
        if !addr.is_multiple_of(PAGE_SIZE) || len == 0 {
            return Err(EINVAL);
        }
        t.mm.borrow_mut().space.unmap(addr, len);
        Ok(0)
    }
}
