//! Guest physical RAM for system mode: one contiguous block, indexed by
//! physical address, with the PC's holes routed elsewhere (SDM-independent
//! PC convention; see `boot::layout`):
//! - the legacy VGA window 0xA0000–0xBFFFF goes to the bus (MMIO);
//! - the BIOS area 0xC0000–0xFFFFF is ROM: readable, guest writes ignored;
//! - everything at or above the RAM size (PCI hole, APIC pages) goes to the bus.
//!
//! Physical address == offset into the block, so a fast path can index it
//! directly after a TLB hit. No pointer into the block escapes.

use alloc::vec::Vec;

use crate::boot::layout;

/// Largest RAM this layout supports: below the 32-bit PCI/APIC hole.
pub const MAX_RAM: u64 = layout::PCI_HOLE_START;

/// Where a physical address lands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Region {
    /// Ordinary RAM.
    Ram,
    /// ROM (the BIOS area): reads from the block, guest writes are dropped.
    Rom,
    /// A device window or nothing at all: the bus answers.
    Mmio,
}

/// The RAM block.
#[derive(Clone)]
pub struct Ram {
    bytes: Vec<u8>,
}

/// The requested size cannot be provided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadRamSize(pub u64);

impl Ram {
    /// `size` bytes of zeroed RAM (a multiple of 4 KiB, at least 2 MiB,
    /// at most [`MAX_RAM`]).
    pub fn new(size: u64) -> Result<Ram, BadRamSize> {
        if !(2 << 20..=MAX_RAM).contains(&size) || !size.is_multiple_of(4096) {
            return Err(BadRamSize(size));
        }
        // Refuse a size the allocator cannot provide with an error, not an
        // abort: probe with a fallible reservation first.
        let mut probe: Vec<u8> = Vec::new();
        probe
            .try_reserve_exact(size as usize)
            .map_err(|_| BadRamSize(size))?;
        drop(probe);
        // `vec![0; n]` asks the allocator for zeroed memory (calloc), which
        // a host hands out untouched: RAM the guest never uses costs
        // nothing (`resize` would write every byte, so a boot sector with
        // `--mem 1024` had 1 GiB resident).
        Ok(Ram {
            bytes: alloc::vec![0u8; size as usize],
        })
    }

    /// Size of the block in bytes.
    pub fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Which region `addr` falls in.
    #[inline]
    pub fn region(&self, addr: u64) -> Region {
        if addr >= self.size() || (layout::VGA_WINDOW_START..layout::VGA_WINDOW_END).contains(&addr)
        {
            Region::Mmio
        } else if (layout::BIOS_AREA_START..layout::BIOS_AREA_END).contains(&addr) {
            Region::Rom
        } else {
            Region::Ram
        }
    }

    /// True if `[addr, addr+len)` is plain RAM or ROM in one piece (readable
    /// straight from the block).
    #[inline]
    pub fn is_backed(&self, addr: u64, len: usize) -> bool {
        let end = addr.saturating_add(len as u64);
        end <= self.size() && !(addr < layout::VGA_WINDOW_END && end > layout::VGA_WINDOW_START)
    }

    /// True if `[addr, addr+len)` is writable RAM in one piece.
    #[inline]
    pub fn is_writable(&self, addr: u64, len: usize) -> bool {
        let end = addr.saturating_add(len as u64);
        self.is_backed(addr, len)
            && !(addr < layout::BIOS_AREA_END && end > layout::VGA_WINDOW_START)
    }

    /// Reads backed bytes; the caller checked [`Ram::is_backed`].
    #[inline]
    pub fn read(&self, addr: u64, buf: &mut [u8]) {
        let a = addr as usize;
        buf.copy_from_slice(&self.bytes[a..a + buf.len()]);
    }

    /// Writes RAM bytes; the caller checked [`Ram::is_writable`].
    #[inline]
    pub fn write(&mut self, addr: u64, data: &[u8]) {
        let a = addr as usize;
        self.bytes[a..a + data.len()].copy_from_slice(data);
    }

    /// Reads a little-endian value of `size` bytes; the caller checked
    /// [`Ram::is_backed`]. Fixed widths compile to single loads.
    #[inline]
    pub fn read_value(&self, addr: u64, size: u8) -> u64 {
        let a = addr as usize;
        let b = &self.bytes;
        match size {
            1 => b[a] as u64,
            2 => u16::from_le_bytes([b[a], b[a + 1]]) as u64,
            4 => u32::from_le_bytes(b[a..a + 4].try_into().unwrap_or_default()) as u64,
            8 => u64::from_le_bytes(b[a..a + 8].try_into().unwrap_or_default()),
            _ => {
                let mut v = [0u8; 8];
                v[..size as usize].copy_from_slice(&b[a..a + size as usize]);
                u64::from_le_bytes(v)
            }
        }
    }

    /// Writes the low `size` bytes of `value`; the caller checked
    /// [`Ram::is_writable`].
    #[inline]
    pub fn write_value(&mut self, addr: u64, size: u8, value: u64) {
        let a = addr as usize;
        let b = &mut self.bytes;
        match size {
            1 => b[a] = value as u8,
            2 => b[a..a + 2].copy_from_slice(&(value as u16).to_le_bytes()),
            4 => b[a..a + 4].copy_from_slice(&(value as u32).to_le_bytes()),
            8 => b[a..a + 8].copy_from_slice(&value.to_le_bytes()),
            n => b[a..a + n as usize].copy_from_slice(&value.to_le_bytes()[..n as usize]),
        }
    }

    /// Loads an image into the block (ROM included), for boot loaders.
    /// Fails if any byte falls outside the block or in the VGA window.
    pub fn load(&mut self, addr: u64, data: &[u8]) -> Result<(), BadRamSize> {
        if !self.is_backed(addr, data.len()) {
            return Err(BadRamSize(addr.saturating_add(data.len() as u64)));
        }
        self.write(addr, data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holes_route_to_the_bus_or_rom() {
        let ram = Ram::new(16 << 20).unwrap();
        assert_eq!(ram.region(0x7c00), Region::Ram);
        assert_eq!(ram.region(0xb8000), Region::Mmio);
        assert_eq!(ram.region(0xf0000), Region::Rom);
        assert_eq!(ram.region(16 << 20), Region::Mmio);
        assert!(!ram.is_backed(0x9ffff, 2));
        assert!(ram.is_backed(0xffff0, 16) && !ram.is_writable(0xffff0, 16));
        assert!(Ram::new(u64::MAX).is_err() && Ram::new(12345).is_err());
    }
}
