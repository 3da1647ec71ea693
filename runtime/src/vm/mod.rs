//! The VM layer every execution tier shares: linear memories and tables on
//! reserved mappings with stable addresses, the store's resource budget,
//! the per-instance `VMContext` and its layout (`offsets.rs`, the one place
//! offsets are computed), the store-wide VM state (fuel, epoch deadline)
//! and interruption.

pub(crate) mod context;
pub(crate) mod interrupt;
pub(crate) mod limits;
pub(crate) mod memory;
pub(crate) mod mmap;
pub(crate) mod offsets;
pub(crate) mod table;
pub(crate) mod vmbox;

pub(crate) use context::{
    VMContext, VMFuncRef, VMGlobalDefinition, VMMemoryDefinition, VMStoreContext,
};
pub use interrupt::{InterruptHandle, InterruptProbe};
pub(crate) use limits::StoreBudget;
pub(crate) use memory::MemoryInst;
pub(crate) use table::TableInst;
pub(crate) use vmbox::VmBox;
