//! wrun's WebAssembly 3.0 runtime: decode and validate modules with
//! `wasmparser`, instantiate them in a [`Store`], and run them on the
//! interpreter.
//!
//! The embedding API follows wasmtime's shape: [`Engine`] and [`Config`],
//! [`Module`], [`Store`], [`Linker`], [`Instance`], [`Func`] (with typed host
//! functions through [`Func::wrap`]), [`Memory`], [`Table`], [`Global`],
//! [`Tag`] and [`Val`]. Failures are [`Error`] values: compile errors carry
//! the byte offset, traps carry a wasm backtrace.

mod engine;
mod error;
mod func;
mod instance;
mod interp;
mod linker;
mod module;
mod store;
mod tier;
mod types;
mod values;
mod vm;

pub use engine::{Config, DEFAULT_STORE_MEMORY_BUDGET, Engine, Proposal, Setting};
pub use error::{CompileError, CompileErrorKind, Error, FrameInfo, Result, Trap, TrapKind};
pub use func::{Caller, Func, HostFn, IntoFunc, WasmResults, WasmTy, WithCaller};
pub use instance::{Extern, Global, Instance, Memory, Table, Tag};
pub use linker::Linker;
pub use module::{ExportType, ImportType, Module, SectionInfo};
pub use store::{AsContext, AsContextMut, Store, StoreId};
pub use tier::{JIT_AVAILABLE, Strategy};
pub use types::{
    ExternType, FuncType, GlobalType, HeapType, MemoryType, RefType, TableType, TagType, TypeId,
    ValType,
};
pub use values::{Exn, Val};
pub use vm::{InterruptHandle, InterruptProbe};
