//! aarch64: the macro-assembler implemented with `dynasmrt`'s aarch64
//! assembler (`masm.rs`), register roles (`regs.rs`) and the calling
//! convention (`abi.rs`). Built on every host, so its encodings are
//! tested natively; compiled modules use it on aarch64 hosts only.

pub mod abi;
pub mod masm;
pub mod regs;

pub use masm::A64Masm;
