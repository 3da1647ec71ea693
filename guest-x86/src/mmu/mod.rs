//! Guest memory. All guest RAM access goes through `PhysMem`, a bounded
//! frame store; `AddressSpace` maps linear pages onto its frames for user
//! mode (a page map plus a small software TLB). The CPU sees memory only
//! through the `Memory` trait.

pub mod phys;
pub mod space;

use crate::cpu::Exception;

/// Size of a page and of a physical frame.
pub const PAGE_SIZE: u64 = 4096;

/// Linear-address memory as the CPU sees it.
pub trait Memory {
    /// Reads `buf.len()` bytes at linear address `addr`.
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), Exception>;
    /// Writes `data` at linear address `addr`; nothing is written on a fault.
    fn write(&mut self, addr: u64, data: &[u8]) -> Result<(), Exception>;
    /// Copies up to `buf.len()` executable bytes at `addr`, stopping at the
    /// first byte that cannot be fetched; returns how many were copied.
    fn fetch(&mut self, addr: u64, buf: &mut [u8]) -> usize;
    /// A counter that changes whenever executable bytes or mappings may have
    /// changed, letting decoded instructions be cached; `None` if untracked.
    fn code_generation(&self) -> Option<u64> {
        None
    }
}
