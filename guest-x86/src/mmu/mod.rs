//! Guest memory. User mode: `PhysMem`, a bounded frame store, and
//! `AddressSpace`, which maps linear pages onto its frames (a page map plus
//! a small software TLB). System mode: `Ram`, one contiguous physical block
//! with the PC's holes, behind `SystemMemory` (TLB, page walker, bus). The
//! CPU sees memory only through the `Memory` trait.

pub mod paging;
pub mod phys;
pub mod ram;
pub mod space;
pub mod system;
pub mod tlb;

use crate::cpu::Exception;
use crate::cpu::fault::pf;
use crate::devices::bus::Bus;
pub use paging::PagingControl;

/// Size of a page and of a physical frame.
pub const PAGE_SIZE: u64 = 4096;

/// Linear-address memory as the CPU sees it.
pub trait Memory {
    /// Reads `buf.len()` bytes at linear address `addr`.
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Exception>;
    /// Writes `data` at linear address `addr`; nothing is written on a fault.
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), Exception>;
    /// Reads a little-endian value of `size` bytes (1, 2, 4 or 8) at
    /// linear address `addr`: what most instructions' operands need, so a
    /// memory can serve it without a byte slice.
    #[inline]
    fn read_value(&mut self, addr: u64, size: u8) -> Result<u64, Exception> {
        let mut buf = [0u8; 8];
        self.read(addr, &mut buf[..size as usize])?;
        Ok(u64::from_le_bytes(buf))
    }
    /// Writes the low `size` bytes (1, 2, 4 or 8) of `value` at `addr`.
    #[inline]
    fn write_value(&mut self, addr: u64, size: u8, value: u64) -> Result<(), Exception> {
        self.write(addr, &value.to_le_bytes()[..size as usize])
    }
    /// Copies up to `buf.len()` executable bytes at `addr`, stopping at the
    /// first byte that cannot be fetched; returns how many were copied.
    fn fetch(&mut self, addr: u64, buf: &mut [u8]) -> usize;
    /// The fault raised by fetching at `addr`, where `fetch` stopped.
    fn fetch_fault(&mut self, addr: u64) -> Exception {
        Exception::PageFault {
            addr,
            code: pf::USER | pf::FETCH,
        }
    }
    /// A counter that changes whenever executable bytes or mappings may have
    /// changed, letting decoded instructions be cached; `None` if untracked.
    fn code_generation(&self) -> Option<u64> {
        None
    }
    /// The paging controls or the CPL changed (system mode).
    fn set_paging(&mut self, _ctl: PagingControl) {}
    /// Flushes the TLB (MOV to CR3), keeping global pages if asked.
    fn flush_tlb(&mut self, _keep_global: bool) {}
    /// INVLPG: drops the translation of the page holding `linear`.
    fn invalidate_page(&mut self, _linear: u64) {}
    /// An implicit supervisor read (GDT, LDT, IDT, TSS), whatever the CPL
    /// (SDM Vol.3A §4.6).
    fn read_supervisor(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Exception> {
        self.read(addr, buf)
    }
    /// An implicit supervisor write (descriptor accessed/busy bits, pushes
    /// on a ring-0 stack during delivery).
    fn write_supervisor(&mut self, addr: u64, data: &[u8]) -> Result<(), Exception> {
        self.write(addr, data)
    }
    /// Port I/O and MMIO; `None` where there are no devices (user mode).
    fn bus(&mut self) -> Option<&mut dyn Bus> {
        None
    }
    /// The virtual time before an instruction, for devices that read it
    /// (see [`Bus::set_clock`]).
    #[inline]
    fn set_clock(&mut self, _now: u64) {}
    /// The devices want a look between instructions (see
    /// [`Bus::wants_attention`]); never where there are none.
    #[inline]
    fn wants_attention(&self) -> bool {
        false
    }
}
