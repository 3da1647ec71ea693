//! System-mode memory: the CPU's linear accesses go through the TLB and the
//! page walker to physical addresses, which land in RAM, ROM or on the bus
//! (MMIO). Decoded code is tracked per physical 4 KiB frame: a write to a
//! frame that was fetched from, through any mapping, invalidates the decode
//! cache, and so does every TLB flush (the cache is keyed by linear address).

use alloc::vec;
use alloc::vec::Vec;

use super::paging::{self, Access, PagingControl, Privilege, TableMemory};
use super::ram::{Ram, Region};
use super::tlb::Tlb;
use super::{Memory, PAGE_SIZE};
use crate::cpu::Exception;
use crate::cpu::state::cr;
use crate::devices::bus::Bus;

/// RAM, the bus and the MMU of a PC.
pub struct SystemMemory<B: Bus> {
    /// Physical RAM.
    pub ram: Ram,
    /// Ports and MMIO.
    pub bus: B,
    paging: PagingControl,
    tlb: Tlb,
    code_generation: u64,
    /// One bit per RAM frame: decoded instructions may come from it.
    code_frames: Vec<u64>,
}

/// The physical side alone, so the walker can borrow it while the TLB is
/// borrowed separately.
struct Physical<'a, B: Bus> {
    ram: &'a mut Ram,
    bus: &'a mut B,
    code_frames: &'a mut [u64],
    code_generation: &'a mut u64,
}

impl<B: Bus> Physical<'_, B> {
    fn read(&mut self, addr: u64, buf: &mut [u8]) {
        if buf.is_empty() {
            return;
        }
        if self.ram.is_backed(addr, buf.len()) {
            self.ram.read(addr, buf);
            return;
        }
        let len = buf.len();
        let end = addr.wrapping_add(len as u64 - 1);
        if matches!(len, 1 | 2 | 4 | 8)
            && self.ram.region(addr) == Region::Mmio
            && self.ram.region(end) == Region::Mmio
        {
            let v = self.bus.mmio_read(addr, len as u8);
            buf.copy_from_slice(&v.to_le_bytes()[..len]);
            return;
        }
        for (i, b) in buf.iter_mut().enumerate() {
            let a = addr.wrapping_add(i as u64);
            *b = if self.ram.is_backed(a, 1) {
                let mut one = [0u8];
                self.ram.read(a, &mut one);
                one[0]
            } else {
                self.bus.mmio_read(a, 1) as u8
            };
        }
    }

    fn write(&mut self, addr: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.ram.is_writable(addr, data.len()) {
            self.note_code_write(addr, data.len());
            self.ram.write(addr, data);
            return;
        }
        let len = data.len();
        let end = addr.wrapping_add(len as u64 - 1);
        if matches!(len, 1 | 2 | 4 | 8)
            && self.ram.region(addr) == Region::Mmio
            && self.ram.region(end) == Region::Mmio
        {
            let mut v = [0u8; 8];
            v[..len].copy_from_slice(data);
            self.bus.mmio_write(addr, len as u8, u64::from_le_bytes(v));
            return;
        }
        for (i, &b) in data.iter().enumerate() {
            let a = addr.wrapping_add(i as u64);
            match self.ram.region(a) {
                Region::Ram => {
                    self.note_code_write(a, 1);
                    self.ram.write(a, &[b]);
                }
                Region::Rom => {}
                Region::Mmio => self.bus.mmio_write(a, 1, b as u64),
            }
        }
    }

    /// A store into frames holding decoded code invalidates the decode cache.
    #[inline]
    fn note_code_write(&mut self, addr: u64, len: usize) {
        let first = addr / PAGE_SIZE;
        let last = (addr + len as u64 - 1) / PAGE_SIZE;
        for frame in first..=last {
            let (word, bit) = ((frame / 64) as usize, frame % 64);
            if let Some(w) = self.code_frames.get_mut(word)
                && *w & (1 << bit) != 0
            {
                *w &= !(1 << bit);
                *self.code_generation += 1;
            }
        }
    }
}

impl<B: Bus> TableMemory for Physical<'_, B> {
    fn read_entry(&mut self, addr: u64, size: u8) -> u64 {
        let mut b = [0u8; 8];
        self.read(addr, &mut b[..size as usize]);
        u64::from_le_bytes(b)
    }
    fn write_entry(&mut self, addr: u64, size: u8, value: u64) {
        self.write(addr, &value.to_le_bytes()[..size as usize]);
    }
}

impl<B: Bus> SystemMemory<B> {
    /// Memory over `ram` and `bus`, paging off.
    pub fn new(ram: Ram, bus: B) -> SystemMemory<B> {
        let frames = ram.size() / PAGE_SIZE;
        SystemMemory {
            code_frames: vec![0; frames.div_ceil(64) as usize],
            ram,
            bus,
            paging: PagingControl::default(),
            tlb: Tlb::default(),
            code_generation: 0,
        }
    }

    fn physical(&mut self) -> Physical<'_, B> {
        Physical {
            ram: &mut self.ram,
            bus: &mut self.bus,
            code_frames: &mut self.code_frames,
            code_generation: &mut self.code_generation,
        }
    }

    /// Translates a linear address (TLB, then the walker) or returns the #PF.
    pub fn translate(
        &mut self,
        linear: u64,
        access: Access,
        privilege: Privilege,
    ) -> Result<u64, Exception> {
        if let Some(frame) = self.tlb.lookup(&self.paging, linear, access, privilege) {
            return Ok(frame | (linear & 0xfff));
        }
        let ctl = self.paging;
        let mut phys = self.physical();
        match paging::walk(&ctl, &mut phys, linear, access, privilege) {
            Ok(t) => {
                if ctl.mode() != paging::PagingMode::Off {
                    self.tlb.insert(linear, t);
                }
                Ok(t.frame | (linear & 0xfff))
            }
            Err(code) => Err(Exception::PageFault { addr: linear, code }),
        }
    }

    /// The physical address of a `size`-byte access at `linear` that stays
    /// in one page and hits the TLB with the current privilege; `None`
    /// sends the access down the general path (walk, faults, page splits).
    #[inline]
    fn tlb_hit(&self, linear: u64, size: u8, access: Access) -> Option<u64> {
        let offset = linear & (PAGE_SIZE - 1);
        if offset + size as u64 > PAGE_SIZE {
            return None;
        }
        let frame = self
            .tlb
            .lookup(&self.paging, linear, access, Privilege::Current)?;
        Some(frame | offset)
    }

    /// Reads physical memory (RAM, ROM or MMIO), for loaders and devices.
    pub fn read_physical(&mut self, addr: u64, buf: &mut [u8]) {
        self.physical().read(addr, buf);
    }

    /// Writes physical memory as a device or DMA would.
    pub fn write_physical(&mut self, addr: u64, data: &[u8]) {
        self.physical().write(addr, data);
    }

    fn access(
        &mut self,
        linear: u64,
        buf: &mut [u8],
        access: Access,
        privilege: Privilege,
    ) -> Result<(), Exception> {
        // Translate every page first, so a faulting access changes nothing.
        let mut pieces: [(u64, usize, usize); 3] = [(0, 0, 0); 3];
        let mut count = 0;
        let mut done = 0usize;
        while done < buf.len() {
            let a = linear.wrapping_add(done as u64);
            let n = ((PAGE_SIZE - a % PAGE_SIZE) as usize).min(buf.len() - done);
            let phys = self.translate(a, access, privilege)?;
            if count == pieces.len() {
                // A long access (FXSAVE images are 512 bytes, two pages at most):
                // flush what is collected and continue.
                self.transfer(&pieces[..count], buf, access);
                count = 0;
            }
            pieces[count] = (phys, done, n);
            count += 1;
            done += n;
        }
        self.transfer(&pieces[..count], buf, access);
        Ok(())
    }

    fn transfer(&mut self, pieces: &[(u64, usize, usize)], buf: &mut [u8], access: Access) {
        let mut phys = self.physical();
        for &(p, offset, n) in pieces {
            if access == Access::Write {
                phys.write(p, &buf[offset..offset + n]);
            } else {
                phys.read(p, &mut buf[offset..offset + n]);
            }
        }
    }

    fn write_with(
        &mut self,
        addr: u64,
        data: &[u8],
        privilege: Privilege,
    ) -> Result<(), Exception> {
        let mut tmp = [0u8; 64];
        if data.len() <= tmp.len() {
            tmp[..data.len()].copy_from_slice(data);
            return self.access(addr, &mut tmp[..data.len()], Access::Write, privilege);
        }
        let mut owned = Vec::from(data);
        self.access(addr, &mut owned, Access::Write, privilege)
    }

    fn flush(&mut self, keep_global: bool) {
        self.tlb.flush(keep_global);
        self.code_generation += 1;
    }
}

impl<B: Bus> Memory for SystemMemory<B> {
    #[inline]
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Exception> {
        self.access(addr, buf, Access::Read, Privilege::Current)
    }

    /// The fast path: within one page, a TLB hit on RAM is one load.
    #[inline]
    fn read_value(&mut self, addr: u64, size: u8) -> Result<u64, Exception> {
        if let Some(phys) = self.tlb_hit(addr, size, Access::Read)
            && self.ram.is_backed(phys, size as usize)
        {
            return Ok(self.ram.read_value(phys, size));
        }
        let mut buf = [0u8; 8];
        self.access(
            addr,
            &mut buf[..size as usize],
            Access::Read,
            Privilege::Current,
        )?;
        Ok(u64::from_le_bytes(buf))
    }

    /// The fast path: within one page, a TLB hit on writable RAM is one
    /// store (after the code-frame check every RAM write makes).
    #[inline]
    fn write_value(&mut self, addr: u64, size: u8, value: u64) -> Result<(), Exception> {
        if let Some(phys) = self.tlb_hit(addr, size, Access::Write)
            && self.ram.is_writable(phys, size as usize)
        {
            self.physical().note_code_write(phys, size as usize);
            self.ram.write_value(phys, size, value);
            return Ok(());
        }
        let mut buf = value.to_le_bytes();
        self.access(
            addr,
            &mut buf[..size as usize],
            Access::Write,
            Privilege::Current,
        )
    }

    #[inline]
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), Exception> {
        self.write_with(addr, data, Privilege::Current)
    }

    fn fetch(&mut self, addr: u64, buf: &mut [u8]) -> usize {
        let mut done = 0;
        while done < buf.len() {
            let a = addr.wrapping_add(done as u64);
            let Ok(phys) = self.translate(a, Access::Fetch, Privilege::Current) else {
                break;
            };
            let n = ((PAGE_SIZE - a % PAGE_SIZE) as usize).min(buf.len() - done);
            let frame = phys / PAGE_SIZE;
            if let Some(w) = self.code_frames.get_mut((frame / 64) as usize) {
                *w |= 1 << (frame % 64);
            }
            self.physical().read(phys, &mut buf[done..done + n]);
            done += n;
        }
        done
    }

    fn fetch_fault(&mut self, addr: u64) -> Exception {
        match self.translate(addr, Access::Fetch, Privilege::Current) {
            Err(e) => e,
            // Not reached: fetch stops only where translation fails.
            Ok(_) => Exception::GeneralProtection(0),
        }
    }

    fn code_generation(&self) -> Option<u64> {
        Some(self.code_generation)
    }

    fn set_paging(&mut self, ctl: PagingControl) {
        let old = self.paging;
        self.paging = ctl;
        // A change of paging mode or of the bits cached translations depend
        // on invalidates everything (SDM Vol.3A §4.10.4.1).
        let cr0_bits = cr::CR0_PG | cr::CR0_WP | cr::CR0_PE;
        let cr4_bits = cr::CR4_PAE | cr::CR4_PSE | cr::CR4_PGE;
        let efer_bits = cr::EFER_LMA | cr::EFER_NXE;
        if (old.cr0 ^ ctl.cr0) & cr0_bits != 0
            || (old.cr4 ^ ctl.cr4) & cr4_bits != 0
            || (old.efer ^ ctl.efer) & efer_bits != 0
        {
            self.flush(false);
        }
    }

    fn flush_tlb(&mut self, keep_global: bool) {
        self.flush(keep_global);
    }

    fn invalidate_page(&mut self, linear: u64) {
        self.tlb.invalidate(linear);
        self.code_generation += 1;
    }

    fn read_supervisor(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Exception> {
        self.access(addr, buf, Access::Read, Privilege::Supervisor)
    }

    fn write_supervisor(&mut self, addr: u64, data: &[u8]) -> Result<(), Exception> {
        self.write_with(addr, data, Privilege::Supervisor)
    }

    fn bus(&mut self) -> Option<&mut dyn Bus> {
        Some(&mut self.bus)
    }

    #[inline]
    fn set_clock(&mut self, now: u64) {
        self.bus.set_clock(now);
    }

    #[inline]
    fn wants_attention(&self) -> bool {
        self.bus.wants_attention()
    }
}
