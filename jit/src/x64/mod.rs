//! x86_64: the macro-assembler implemented with `dynasmrt` (`masm.rs`),
//! register roles (`regs.rs`) and the calling convention (`abi.rs`).

pub mod abi;
pub mod masm;
pub mod regs;

pub use masm::X64Masm;
