//! Tables (Wasm 3.0 §4.5.3.8 table instances) on reserved mappings: the
//! elements never move, and a table whose elements start null costs no host
//! memory until written (null is the all-zero cell, and committed pages
//! start zeroed), so `(table 10000000 funcref)` is cheap until used.

use super::context::VMTableDefinition;
use super::limits::{StoreBudget, TABLE_ELEMENT_BYTES};
use super::mmap::Mapping;
use super::vmbox::VmBox;
use crate::error::{Error, Result};
use crate::types::TableType;
use crate::values::RawVal;

/// A table.
pub(crate) struct TableInst {
    pub ty: TableType,
    mapping: Mapping,
    /// Base and size in elements as every tier reads them.
    def: VmBox<VMTableDefinition>,
    /// The ceiling in elements: the smallest of the type's maximum, the
    /// index type's range and the config's per-table maximum.
    pub max_elems: u64,
}

impl TableInst {
    /// A table of `ty.min` elements set to `init`, charged to `budget`.
    pub fn new(
        ty: TableType,
        init: RawVal,
        config_max: u64,
        budget: &mut StoreBudget,
    ) -> Result<TableInst> {
        let index_max = if ty.table64 {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
        let max_elems = config_max.min(ty.max.unwrap_or(u64::MAX)).min(index_max);
        if ty.min > max_elems {
            return Err(Error::Limit(format!(
                "table of {} elements exceeds the configured maximum of {config_max}",
                ty.min
            )));
        }
        let bytes = ty.min.saturating_mul(TABLE_ELEMENT_BYTES);
        if !budget.try_charge(bytes) {
            return Err(budget.exceeded(&format!("a table of {} elements", ty.min), bytes));
        }
        // Never more than the budget could ever let it commit.
        let reserve = max_elems
            .saturating_mul(TABLE_ELEMENT_BYTES)
            .min(budget.limit());
        let reserve = usize::try_from(reserve).ok();
        let made = reserve
            .ok_or_else(|| "too large for this host".to_string())
            .and_then(Mapping::reserve)
            .and_then(|mut mapping| {
                mapping.commit(bytes as usize)?;
                Ok(mapping)
            });
        let mapping = match made {
            Ok(m) => m,
            Err(why) => {
                budget.refund(bytes);
                return Err(Error::Limit(format!("table of {} elements: {why}", ty.min)));
            }
        };
        let mut table = TableInst {
            ty,
            def: VmBox::new(VMTableDefinition {
                base: mapping.base().cast(),
                length: ty.min,
            }),
            mapping,
            max_elems,
        };
        if init != 0 {
            table.elems_mut().fill(init);
        }
        Ok(table)
    }

    /// The first element; stable for the table's life.
    pub fn base(&self) -> *mut RawVal {
        self.mapping.base().cast()
    }

    /// The size in elements (it fits a `usize`: it was committed).
    pub fn len(&self) -> usize {
        self.def.get().length as usize
    }

    /// The definition the VM contexts of importing instances point at.
    pub fn vm_definition(&self) -> *mut VMTableDefinition {
        self.def.as_ptr()
    }

    /// The elements.
    pub fn elems(&self) -> &[RawVal] {
        // SAFETY: `len` elements are committed (zero or written since) and
        // the mapping is page-aligned, so aligned for `RawVal`.
        unsafe { std::slice::from_raw_parts(self.base(), self.len()) }
    }

    /// The elements, mutably.
    pub fn elems_mut(&mut self) -> &mut [RawVal] {
        // SAFETY: as in `elems`, with `&mut self` making the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.base(), self.len()) }
    }

    /// `table.grow` (Wasm 3.0 §4.4.6): the old size, or None when the
    /// ceiling, the store's budget or the host refuses.
    pub fn grow(&mut self, delta: u64, init: RawVal, budget: &mut StoreBudget) -> Option<u64> {
        let old = self.len() as u64;
        let new = old.checked_add(delta)?;
        if new > self.max_elems {
            return None;
        }
        let new_len = usize::try_from(new).ok()?;
        let added = delta.checked_mul(TABLE_ELEMENT_BYTES)?;
        if !budget.try_charge(added) {
            return None;
        }
        let bytes = new_len.checked_mul(TABLE_ELEMENT_BYTES as usize);
        if bytes.is_none_or(|b| self.mapping.commit(b).is_err()) {
            budget.refund(added);
            return None;
        }
        self.def.set(VMTableDefinition {
            base: self.base(),
            length: new,
        });
        if init != 0 {
            self.elems_mut()[old as usize..].fill(init);
        }
        Some(old)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{HeapType, RefType};

    fn ty(min: u64, max: Option<u64>) -> TableType {
        TableType {
            element: RefType {
                nullable: true,
                heap: HeapType::Func,
            },
            min,
            max,
            table64: false,
        }
    }

    #[test]
    fn grows_with_init_and_stops_at_budget() {
        let mut budget = StoreBudget::new(10 * TABLE_ELEMENT_BYTES);
        let mut t = TableInst::new(ty(2, None), 5, u64::MAX, &mut budget).unwrap();
        assert_eq!(t.elems(), &[5, 5]);
        assert_eq!(t.grow(3, 9, &mut budget), Some(2));
        assert_eq!(t.elems(), &[5, 5, 9, 9, 9]);
        assert_eq!(t.grow(6, 0, &mut budget), None);
        assert_eq!(t.grow(5, 0, &mut budget), Some(5));
        assert!(TableInst::new(ty(1, None), 0, u64::MAX, &mut budget).is_err());
    }

    #[test]
    fn a_ceiling_of_zero_elements_still_works() {
        let mut budget = StoreBudget::new(u64::MAX);
        let mut t = TableInst::new(ty(0, Some(0)), 0, u64::MAX, &mut budget).unwrap();
        assert_eq!(t.grow(1, 0, &mut budget), None);
        assert_eq!(t.grow(0, 0, &mut budget), Some(0));
        assert!(t.elems().is_empty());
    }
}
