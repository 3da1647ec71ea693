//! Reserved virtual mappings committed on demand: the backing store of
//! linear memories and tables. The whole reservation is mapped once with no
//! access, so the base address never moves (machine code and the VM context
//! may keep it); growing makes a longer prefix read-write. The kernel
//! zero-fills a committed page on first touch, so committing costs address
//! space and commit charge, not resident memory.

use region::{Allocation, Protection};

/// A reservation of address space whose first `committed` bytes are
/// read-write and the rest inaccessible (a guard).
pub(crate) struct Mapping {
    alloc: Allocation,
    committed: usize,
}

// SAFETY: the mapping is plain memory owned by this value; the raw pointer
// inside `Allocation` is not tied to the thread that created it.
unsafe impl Send for Mapping {}
// SAFETY: shared access only hands out the base address and sizes; writes
// to the contents go through `&mut` owners.
unsafe impl Sync for Mapping {}

/// The host page size (mappings are reserved and committed in whole pages).
pub(crate) fn host_page_size() -> usize {
    region::page::size()
}

/// `bytes` rounded up to whole host pages, if that fits a `usize`.
fn round_to_pages(bytes: usize) -> Option<usize> {
    let page = host_page_size();
    bytes.checked_add(page - 1).map(|b| b / page * page)
}

impl Mapping {
    /// Reserves `bytes` (at least one page) of inaccessible address space.
    pub fn reserve(bytes: usize) -> Result<Mapping, String> {
        let size = round_to_pages(bytes.max(1))
            .ok_or_else(|| format!("cannot reserve {bytes} bytes of address space"))?;
        let alloc = region::alloc(size, Protection::NONE)
            .map_err(|e| format!("cannot reserve {size} bytes of address space: {e}"))?;
        Ok(Mapping {
            alloc,
            committed: 0,
        })
    }

    /// The first byte; stable for the mapping's life.
    pub fn base(&self) -> *mut u8 {
        self.alloc.as_ptr::<u8>().cast_mut()
    }

    /// Bytes of address space reserved.
    pub fn reserved(&self) -> usize {
        self.alloc.len()
    }

    /// Makes the first `bytes` read-write (rounded up to whole pages). Never
    /// shrinks; fails if `bytes` exceeds the reservation or the host refuses.
    pub fn commit(&mut self, bytes: usize) -> Result<(), String> {
        let target = round_to_pages(bytes)
            .filter(|t| *t <= self.reserved())
            .ok_or_else(|| {
                format!(
                    "{bytes} bytes exceed the {} bytes reserved",
                    self.reserved()
                )
            })?;
        if target <= self.committed {
            return Ok(());
        }
        // SAFETY: `[committed, target)` lies inside the reservation (checked
        // above) and holds no Rust values yet; making it read-write only
        // exposes zero pages.
        unsafe {
            region::protect(
                self.base().add(self.committed),
                target - self.committed,
                Protection::READ_WRITE,
            )
        }
        .map_err(|e| format!("cannot commit {target} bytes: {e}"))?;
        self.committed = target;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_grows_within_the_reservation_only() {
        let page = host_page_size();
        let mut m = Mapping::reserve(4 * page).unwrap();
        assert_eq!(m.reserved(), 4 * page);
        m.commit(page + 1).unwrap();
        // SAFETY: two pages are committed.
        unsafe {
            m.base().add(2 * page - 1).write(7);
            assert_eq!(m.base().read(), 0, "committed pages start zeroed");
        }
        assert!(m.commit(5 * page).is_err());
        let base = m.base();
        m.commit(4 * page).unwrap();
        assert_eq!(m.base(), base, "the base never moves");
    }
}
