//! The VM layer every execution tier shares: linear memories and tables on
//! reserved mappings with stable addresses, and the store's resource budget.

pub(crate) mod limits;
pub(crate) mod memory;
pub(crate) mod mmap;
pub(crate) mod table;

pub(crate) use limits::StoreBudget;
pub(crate) use memory::MemoryInst;
pub(crate) use table::TableInst;
