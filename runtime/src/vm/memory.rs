//! Linear memories (Wasm 3.0 §4.5.3.9 memory instances) on reserved
//! mappings: the base never moves, pages are committed as the memory grows
//! and zero-filled by the kernel on first touch, so `(memory 65536)` costs
//! no host memory until the guest writes to it.
//!
//! A 32-bit memory with 64 KiB pages reserves its whole 4 GiB address space
//! plus a guard region covering any static offset, so compiled code can
//! access it without bounds checks: every address it can form lands in
//! committed memory or in inaccessible pages. Memory64 and custom-page-size
//! memories reserve only their (capped) maximum and are checked explicitly.
//!
//! Where address space itself is costly (qemu-user keeps a descriptor per
//! reserved guest page: about 6 MB of host memory per GiB), a configured
//! reservation caps what each memory reserves up front. Such a memory is
//! checked explicitly and moves to a larger reservation when it outgrows its
//! own; every tier reads the base from the memory's VM definition on each
//! access, so a move is invisible to running code.

use super::context::VMMemoryDefinition;
use super::limits::StoreBudget;
use super::mmap::Mapping;
use super::vmbox::VmBox;
use crate::error::{Error, Result};
use crate::types::MemoryType;

/// The address space of a 32-bit memory: 2^32 bytes.
const ADDRESS_SPACE_32: u64 = 1 << 32;

/// Inaccessible bytes after a guarded memory's 4 GiB: a 32-bit address plus
/// a 32-bit static offset (Wasm 3.0 §2.4.7 memarg) plus the widest access
/// stays inside the reservation.
pub(crate) const GUARD_BYTES: u64 = ADDRESS_SPACE_32 + (64 << 10);

/// How accesses to a memory are kept in bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bounds {
    /// Every 32-bit address plus offset lands in the reservation: an access
    /// beyond the length faults on a guard page.
    GuardPages,
    /// Each access compares its end with the length (overflow-safe).
    Explicit,
}

/// A linear memory.
pub(crate) struct MemoryInst {
    pub ty: MemoryType,
    mapping: Mapping,
    /// Base and accessible length (the size in pages times the page size)
    /// as every tier reads them.
    def: VmBox<VMMemoryDefinition>,
    /// The ceiling in bytes: the smallest of the type's maximum, the
    /// address space and the config's per-memory maximum.
    pub max_bytes: u64,
    #[allow(
        dead_code,
        reason = "read by compiled code, which needs no checks with guard pages"
    )]
    pub bounds: Bounds,
    /// The reservation was capped by the config: the memory moves when it
    /// outgrows it.
    movable: bool,
}

impl MemoryInst {
    /// A memory of `ty.min` pages, charged to `budget`. `reservation_cap`
    /// bounds the address space reserved up front (see the module comment).
    pub fn new(
        ty: MemoryType,
        config_max: u64,
        reservation_cap: Option<u64>,
        budget: &mut StoreBudget,
    ) -> Result<MemoryInst> {
        let address_space = ty.address_space_pages().saturating_mul(ty.page_size());
        let type_max = ty
            .max
            .map_or(u64::MAX, |m| m.saturating_mul(ty.page_size()));
        let max_bytes = config_max.min(type_max).min(address_space);
        let bytes = ty.min.saturating_mul(ty.page_size());
        if bytes > max_bytes || usize::try_from(bytes).is_err() {
            return Err(Error::Limit(format!(
                "memory of {} pages ({bytes} bytes) exceeds the configured maximum of {config_max} bytes per memory",
                ty.min
            )));
        }
        if !budget.try_charge(bytes) {
            return Err(budget.exceeded(&format!("a memory of {} pages", ty.min), bytes));
        }
        // Never more than the budget could ever let it commit.
        let ceiling = max_bytes.min(budget.limit());
        let made =
            Self::map(&ty, ceiling, bytes, reservation_cap).and_then(|(mut mapping, bounds)| {
                mapping.commit(bytes as usize)?;
                Ok((mapping, bounds))
            });
        match made {
            Ok((mapping, bounds)) => Ok(MemoryInst {
                ty,
                def: VmBox::new(VMMemoryDefinition {
                    base: mapping.base(),
                    length: bytes,
                }),
                mapping,
                max_bytes,
                bounds,
                movable: reservation_cap.is_some(),
            }),
            Err(why) => {
                budget.refund(bytes);
                Err(Error::Limit(format!("memory of {} pages: {why}", ty.min)))
            }
        }
    }

    /// Reserves the address space: guarded 4 GiB for 32-bit memories with
    /// 64 KiB pages (falling back to an explicitly checked reservation when
    /// the host refuses that much address space), `ceiling` bytes otherwise;
    /// with a `cap`, the larger of the cap and the `initial` bytes (never
    /// beyond the ceiling), explicitly checked.
    fn map(
        ty: &MemoryType,
        ceiling: u64,
        initial: u64,
        cap: Option<u64>,
    ) -> Result<(Mapping, Bounds), String> {
        let size = cap.map_or(ceiling, |cap| cap.max(initial).min(ceiling));
        let plain = usize::try_from(size).map_err(|_| "too large for this host".to_string());
        if cap.is_none() && !ty.memory64 && ty.page_size_log2 == 16 {
            let guarded = usize::try_from(ADDRESS_SPACE_32 + GUARD_BYTES)
                .map_err(|_| String::new())
                .and_then(Mapping::reserve);
            if let Ok(mapping) = guarded {
                return Ok((mapping, Bounds::GuardPages));
            }
        }
        Ok((Mapping::reserve(plain?)?, Bounds::Explicit))
    }

    /// The first byte; stable for the memory's life.
    pub fn base(&self) -> *mut u8 {
        self.mapping.base()
    }

    /// The length in bytes (it fits a `usize`: it was committed).
    pub fn len(&self) -> usize {
        self.def.get().length as usize
    }

    /// The size in pages.
    pub fn pages(&self) -> u64 {
        self.def.get().length >> self.ty.page_size_log2
    }

    /// The definition the VM contexts of importing instances point at.
    pub fn vm_definition(&self) -> *mut VMMemoryDefinition {
        self.def.as_ptr()
    }

    /// The accessible bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `[base, base + len)` is committed read-write and owned by
        // this memory; the shared borrow of `self` keeps it from changing.
        unsafe { std::slice::from_raw_parts(self.base(), self.len()) }
    }

    /// The accessible bytes, mutably.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`, with `&mut self` making the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.base(), self.len()) }
    }

    /// `memory.grow` (Wasm 3.0 §4.4.7): the old size in pages, or None when
    /// the type's maximum, the config's ceiling, the store's budget or the
    /// host refuses.
    pub fn grow(&mut self, delta: u64, budget: &mut StoreBudget) -> Option<u64> {
        let old = self.pages();
        let new_bytes = old.checked_add(delta)?.checked_mul(self.ty.page_size())?;
        if new_bytes > self.max_bytes {
            return None;
        }
        let new_len = usize::try_from(new_bytes).ok()?;
        let added = new_bytes - self.len() as u64;
        if !budget.try_charge(added) {
            return None;
        }
        let grown = if new_len > self.mapping.reserved() {
            self.relocate(new_len, budget.limit())
        } else {
            Ok(())
        };
        if grown.and_then(|()| self.mapping.commit(new_len)).is_err() {
            budget.refund(added);
            return None;
        }
        self.def.set(VMMemoryDefinition {
            base: self.mapping.base(),
            length: new_len as u64,
        });
        Some(old)
    }

    /// Moves a capped memory to a reservation of at least `needed` bytes
    /// (doubling, so repeated growth moves it O(log n) times; never beyond
    /// the ceiling). Copies only the pages that hold a non-zero byte, so
    /// untouched pages stay uncommitted in the new mapping too.
    fn relocate(&mut self, needed: usize, budget_limit: u64) -> Result<(), String> {
        if !self.movable {
            return Err("a guarded memory never moves".into());
        }
        let ceiling = self.max_bytes.min(budget_limit);
        let doubled = (self.mapping.reserved() as u64).saturating_mul(2);
        let size = usize::try_from(doubled.min(ceiling).max(needed as u64))
            .map_err(|_| "too large for this host".to_string())?;
        let mut moved = Mapping::reserve(size)?;
        moved.commit(self.len())?;
        let page = super::mmap::host_page_size();
        for (i, chunk) in self.bytes().chunks(page).enumerate() {
            if chunk.iter().any(|&b| b != 0) {
                // SAFETY: the destination is committed for `self.len()`
                // bytes and this chunk lies within them; the mappings are
                // distinct, so the ranges do not overlap.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        chunk.as_ptr(),
                        moved.base().add(i * page),
                        chunk.len(),
                    );
                }
            }
        }
        self.mapping = moved;
        self.def.set(VMMemoryDefinition {
            base: self.mapping.base(),
            length: self.len() as u64,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(min: u64, max: Option<u64>, memory64: bool, page_size_log2: u8) -> MemoryType {
        MemoryType {
            min,
            max,
            memory64,
            shared: false,
            page_size_log2,
        }
    }

    #[test]
    fn a_4gib_memory_is_committed_lazily_and_guarded() {
        let mut budget = StoreBudget::new(u64::MAX);
        let mut m =
            MemoryInst::new(ty(65536, None, false, 16), 4 << 30, None, &mut budget).unwrap();
        assert_eq!(m.len(), 4 << 30);
        assert_eq!(m.bounds, Bounds::GuardPages);
        assert_eq!(m.bytes()[(4 << 30) - 1], 0);
        m.bytes_mut()[12345] = 1;
        assert_eq!(m.grow(1, &mut budget), None, "at the 32-bit maximum");
    }

    #[test]
    fn growth_is_charged_and_the_base_stays() {
        let mut budget = StoreBudget::new(3 << 16);
        let mut m =
            MemoryInst::new(ty(1, Some(10), true, 16), u64::MAX, None, &mut budget).unwrap();
        assert_eq!(m.bounds, Bounds::Explicit);
        let base = m.base();
        assert_eq!(m.grow(2, &mut budget), Some(1));
        assert_eq!(m.grow(1, &mut budget), None, "budget spent");
        assert_eq!(budget.used(), 3 << 16);
        assert_eq!(m.base(), base);
        assert_eq!(m.pages(), 3);
    }

    #[test]
    fn budget_and_ceiling_refuse_creation_with_a_message() {
        let mut budget = StoreBudget::new(1 << 20);
        let err = MemoryInst::new(ty(17, None, false, 16), u64::MAX, None, &mut budget)
            .err()
            .unwrap();
        assert!(err.to_string().contains("memory budget"), "{err}");
        let err = MemoryInst::new(ty(3, None, false, 16), 2 << 16, None, &mut budget)
            .err()
            .unwrap();
        assert!(err.to_string().contains("configured maximum"), "{err}");
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn byte_pages_reserve_only_their_ceiling() {
        let mut budget = StoreBudget::new(u64::MAX);
        let mut m =
            MemoryInst::new(ty(10, Some(100), false, 0), u64::MAX, None, &mut budget).unwrap();
        assert_eq!(m.bounds, Bounds::Explicit);
        assert_eq!(m.grow(90, &mut budget), Some(10));
        assert_eq!(m.grow(1, &mut budget), None);
        assert_eq!(m.len(), 100);
    }

    #[test]
    fn a_capped_memory_moves_when_it_outgrows_its_reservation() {
        let mut budget = StoreBudget::new(u64::MAX);
        let page = 1u64 << 16;
        let mut m =
            MemoryInst::new(ty(1, None, false, 16), 4 << 30, Some(2 * page), &mut budget).unwrap();
        assert_eq!(m.bounds, Bounds::Explicit);
        assert_eq!(
            m.mapping.reserved() as u64,
            2 * page,
            "only the cap is reserved"
        );
        m.bytes_mut()[7] = 0xaa;
        m.bytes_mut()[page as usize - 1] = 0xbb;
        let base = m.base();
        assert_eq!(m.grow(1, &mut budget), Some(1), "within the reservation");
        assert_eq!(m.base(), base);
        assert_eq!(
            m.grow(3, &mut budget),
            Some(2),
            "beyond it: the memory moves"
        );
        assert_ne!(m.base(), base);
        assert_eq!(m.def.get().base, m.base(), "the VM definition follows");
        assert_eq!(m.pages(), 5);
        assert_eq!((m.bytes()[7], m.bytes()[page as usize - 1]), (0xaa, 0xbb));
        assert!(m.bytes()[page as usize..].iter().all(|&b| b == 0));
        assert_eq!(
            m.grow(65536, &mut budget),
            None,
            "the type's ceiling still holds"
        );
        assert_eq!(budget.used(), 5 * page);
    }

    #[test]
    fn a_cap_below_the_initial_size_reserves_the_initial_size() {
        let mut budget = StoreBudget::new(u64::MAX);
        let m = MemoryInst::new(ty(4, Some(4), false, 16), 4 << 30, Some(1), &mut budget).unwrap();
        assert_eq!(m.mapping.reserved(), 4 << 16);
        assert_eq!(m.len(), 4 << 16);
    }
}
