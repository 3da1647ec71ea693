//! The layout of an instance's `VMContext`, computed in this one place for
//! the interpreter and compiled code alike. A context is a header followed
//! by arrays whose lengths come from the module:
//!
//! ```text
//! 0                       *mut VMStoreContext
//! 8                       u64: the instance's index in its store
//! memories_start          [*mut VMMemoryDefinition; memories]
//! tables_start            [*mut VMTableDefinition; tables]
//! globals_start           [*mut VMGlobalDefinition; globals]
//! funcs_start             [*const VMFuncRef; funcs]
//! type_ids_start          [u32; types]   (canonical ids of the module's types)
//! ```
//!
//! Entities are reached through pointers, so imported and defined ones look
//! the same and every definition stays where the store put it.

/// Bytes of one pointer slot.
const POINTER: u32 = 8;

/// How many of each entity an instance has.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct VMCounts {
    pub memories: u32,
    pub tables: u32,
    pub globals: u32,
    pub funcs: u32,
    pub types: u32,
}

/// Byte offsets inside one module's `VMContext`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct VMOffsets {
    pub counts: VMCounts,
    pub memories_start: u32,
    pub tables_start: u32,
    pub globals_start: u32,
    pub funcs_start: u32,
    pub type_ids_start: u32,
    /// The whole context, in bytes.
    pub size: u32,
}

/// Offset of the store context pointer.
pub(crate) const STORE_CONTEXT: u32 = 0;
/// Offset of the instance's index in its store (call-outs from compiled
/// code find the instance through it).
pub(crate) const INSTANCE_INDEX: u32 = STORE_CONTEXT + POINTER;

impl VMOffsets {
    /// The layout for `counts`, or None if it would not fit in 4 GiB
    /// (validation limits each index space far below that).
    pub fn new(counts: VMCounts) -> Option<VMOffsets> {
        let after = |start: u32, n: u32, each: u32| start.checked_add(n.checked_mul(each)?);
        let memories_start = INSTANCE_INDEX + POINTER;
        let tables_start = after(memories_start, counts.memories, POINTER)?;
        let globals_start = after(tables_start, counts.tables, POINTER)?;
        let funcs_start = after(globals_start, counts.globals, POINTER)?;
        let type_ids_start = after(funcs_start, counts.funcs, POINTER)?;
        let size = after(type_ids_start, counts.types, 4)?;
        Some(VMOffsets {
            counts,
            memories_start,
            tables_start,
            globals_start,
            funcs_start,
            type_ids_start,
            size,
        })
    }

    /// The layout of `module`'s instances, or None if it would not fit.
    pub fn for_module(module: &crate::module::ModuleInner) -> Option<VMOffsets> {
        let count = |n: usize| u32::try_from(n).ok();
        VMOffsets::new(VMCounts {
            memories: count(module.memories.len())?,
            tables: count(module.tables.len())?,
            globals: count(module.globals.len())?,
            funcs: count(module.funcs.len())?,
            types: count(module.types.len())?,
        })
    }

    /// The slot holding memory `i`'s definition pointer.
    pub fn memory(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.memories);
        self.memories_start + i * POINTER
    }

    /// The slot holding table `i`'s definition pointer.
    pub fn table(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.tables);
        self.tables_start + i * POINTER
    }

    /// The slot holding global `i`'s definition pointer.
    pub fn global(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.globals);
        self.globals_start + i * POINTER
    }

    /// The slot holding function `i`'s reference pointer.
    pub fn func(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.funcs);
        self.funcs_start + i * POINTER
    }

    /// The slot holding type `i`'s canonical id.
    pub fn type_id(&self, i: u32) -> u32 {
        debug_assert!(i < self.counts.types);
        self.type_ids_start + i * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_follow_each_other() {
        let o = VMOffsets::new(VMCounts {
            memories: 2,
            tables: 1,
            globals: 3,
            funcs: 4,
            types: 5,
        })
        .unwrap();
        assert_eq!(o.memory(0), 16);
        assert_eq!(o.memory(1), 24);
        assert_eq!(o.table(0), 32);
        assert_eq!(o.global(2), 56);
        assert_eq!(o.func(0), 64);
        assert_eq!(o.type_id(0), 96);
        assert_eq!(o.size, 116);
        let huge = VMCounts {
            funcs: u32::MAX,
            ..VMCounts::default()
        };
        assert_eq!(VMOffsets::new(huge), None);
    }
}
