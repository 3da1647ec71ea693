//! wrun's JIT: a single-pass compiler from WebAssembly to machine code.
//!
//! - `masm.rs`: the macro-assembler trait, shaped like Wasm operators
//!   (Winch's `MacroAssembler` is the model);
//! - `x64/` and `aarch64/`: its x86_64 and ARM64 implementations through
//!   `dynasmrt` (the host's is chosen by `target_arch`; the aarch64
//!   assembler builds everywhere, so its encodings are tested natively);
//! - `codegen/`: the arch-neutral generator: value stack, control frames,
//!   operators;
//! - `code_memory.rs`: W^X executable memory.
//!
//! What compiles today: i32/i64 arithmetic, comparisons and conversions,
//! locals, `block`/`loop`/`if`/`br`/`br_if`/`br_table`/`return` with
//! multi-value, direct calls, `select`, i32/i64 globals and integer loads
//! and stores on 32/64-bit memories through the embedder's VM context (see
//! [`ContextLayout`]), `funcref`/`externref` values, and through the
//! embedder's call-out entry ([`CallOut`]) `memory.size/grow`, bulk memory,
//! every table operator, `ref.func`, calls to imported functions and
//! `call_indirect`; and the traps these can raise (`unreachable`,
//! division by zero, signed division overflow, stack exhaustion, out of
//! bounds memory access). Anything else ends compilation with
//! [`CompileError::Unsupported`], naming the operator and offset, so an
//! embedder runs the module on the interpreter instead: never silently
//! wrong code. The crate does not depend on the runtime; the runtime's
//! tests compare it with the interpreter.

pub mod aarch64;
pub mod code_memory;
pub mod codegen;
pub mod masm;
#[cfg(target_arch = "x86_64")]
pub mod x64;

/// The backend compiled modules use on this host.
#[cfg(target_arch = "x86_64")]
mod host {
    pub use crate::x64::X64Masm as Masm;
    pub use crate::x64::abi::EntryTrampoline;
}
/// The backend compiled modules use on this host.
#[cfg(target_arch = "aarch64")]
mod host {
    pub use crate::aarch64::A64Masm as Masm;
    pub use crate::aarch64::abi::EntryTrampoline;
}

/// Whether this host has a backend: where it has none, [`CompiledModule`]
/// cannot be built and an embedder runs every module on its interpreter.
pub const HOST_HAS_BACKEND: bool = cfg!(any(target_arch = "x86_64", target_arch = "aarch64"));

use std::fmt;

pub use code_memory::CodeMemory;
pub use masm::TrapCode;
use wasmparser::ValType;

/// A function signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    pub params: Vec<ValType>,
    pub results: Vec<ValType>,
}

/// Where compiled code finds an instance's memories and globals in the
/// VM context it is called with. The embedder computes these (wrun's
/// runtime in `vm/offsets.rs`), so the layout is defined in one place.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ContextLayout {
    /// Offset of memory 0's definition pointer; memory `i`'s is `8 i` further.
    pub memories_start: u32,
    /// Offset of global 0's definition pointer; global `i`'s is `8 i` further.
    pub globals_start: u32,
    /// Offset of the base pointer inside a memory definition.
    pub memory_base: u32,
    /// Offset of the byte length (u64) inside a memory definition.
    pub memory_length: u32,
    /// Offset of the value inside a global definition.
    pub global_value: u32,
    /// The embedder's call-out entry (see [`CallOut`]): the address of an
    /// `extern "sysv64" fn(vmctx, cells, op, a, b) -> u32`; 0 when there
    /// is none, and operators that need one are unsupported.
    pub callout: usize,
    /// Offset of the store context pointer in the VM context.
    pub store_context: u32,
    /// Offset of the fuel left (u64) in the store context.
    pub fuel: u32,
    /// Offset of the epoch deadline (u64) in the store context.
    pub epoch_deadline: u32,
    /// Offset of the pointer to the engine's epoch counter (u64) in the
    /// store context.
    pub epoch: u32,
    /// Offset of the code address a tail-call call-out leaves (usize) in
    /// the store context.
    pub tail_code: u32,
    /// Offset of the callee's VM context a tail-call call-out leaves.
    pub tail_vmctx: u32,
    /// Charge fuel per wasm operator, as the interpreter does.
    pub consume_fuel: bool,
    /// Check the epoch deadline at function entry and loop headers.
    pub epoch_interruption: bool,
}

/// Operators compiled code hands to the embedder through the call-out
/// entry (Winch's and wasmtime's "builtins" / libcalls): everything that
/// needs the store (growing, bulk copies, tables, calls leaving the
/// module). The entry is called as `callout(vmctx, cells, op, a, b)`: the
/// operator's operands are in `cells[..operands]`, its results replace them
/// from `cells[0]` on; `a` and `b` are the operator's immediates. It
/// returns 0, [`TrapCode::Exception`] when a wasm exception is pending
/// (the embedder holds it; compiled code goes to its handler), or a trap
/// code (usually [`TrapCode::CallOut`], the embedder having recorded the
/// error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum CallOut {
    /// `memory.size a`.
    MemorySize,
    /// `memory.grow a`.
    MemoryGrow,
    /// `memory.fill a`.
    MemoryFill,
    /// `memory.copy a b` (destination, source).
    MemoryCopy,
    /// `memory.init` of data segment `a` into memory `b`.
    MemoryInit,
    /// `data.drop a`.
    DataDrop,
    /// `table.get a`.
    TableGet,
    /// `table.set a`.
    TableSet,
    /// `table.size a`.
    TableSize,
    /// `table.grow a`.
    TableGrow,
    /// `table.fill a`.
    TableFill,
    /// `table.copy a b` (destination, source).
    TableCopy,
    /// `table.init` of element segment `a` into table `b`.
    TableInit,
    /// `elem.drop a`.
    ElemDrop,
    /// `ref.func a`.
    RefFunc,
    /// `call a` of a function the module imports. Like `call_indirect`
    /// and `call_ref`, it returns [`CALLEE_COMPILED`] with the callee's
    /// code and context in the store context when the callee is compiled
    /// (of any module), for the caller to call natively; otherwise it runs
    /// the callee and returns 0 with the results in the cells.
    CallImport,
    /// `call_indirect` of type `a` through table `b` (the element index
    /// follows the arguments).
    CallIndirect,
    /// `throw` of the module's tag `a`, its payload in the cells. Returns
    /// [`TrapCode::Exception`]: the embedder holds the new exception.
    Throw,
    /// `throw_ref` of the exnref in `cells[0]` (a null one traps).
    ThrowRef,
    /// A catch clause tried on the pending exception (Wasm 3.0 §4.4.11):
    /// of tag `a` (module index; [`CATCH_ALL`] for any), pushing the
    /// payload (tags only) and, if `b` is 1, the exnref into the cells.
    /// Returns 0 when it caught (nothing is pending any more), else
    /// [`TrapCode::Exception`] with the exception still pending.
    Catch,
    /// `call_ref` of type `a`: the function reference follows the
    /// arguments.
    CallRef,
    /// `return_call` of the imported function `a`. Like the three tail
    /// calls here, it returns [`CALLEE_COMPILED`] with the callee's code
    /// and context in the store context ([`ContextLayout::tail_code`])
    /// when the callee is compiled, for the caller to jump to in place of
    /// its own frame (constant stack, across modules too); otherwise it
    /// runs the callee and returns 0 with the results in the cells.
    ReturnCallImport,
    /// `return_call_indirect` of type `a` through table `b`.
    ReturnCallIndirect,
    /// `return_call_ref` of type `a`.
    ReturnCallRef,
}

/// The status of a call-out whose callee is compiled code to call or,
/// for a tail call, jump to (see [`CallOut::CallImport`]).
pub const CALLEE_COMPILED: u32 = 64;

/// [`CallOut::Catch`]'s tag for `catch_all`.
pub const CATCH_ALL: u32 = u32::MAX;

impl CallOut {
    /// Every call-out, in discriminant order.
    pub const ALL: [CallOut; 24] = [
        CallOut::MemorySize,
        CallOut::MemoryGrow,
        CallOut::MemoryFill,
        CallOut::MemoryCopy,
        CallOut::MemoryInit,
        CallOut::DataDrop,
        CallOut::TableGet,
        CallOut::TableSet,
        CallOut::TableSize,
        CallOut::TableGrow,
        CallOut::TableFill,
        CallOut::TableCopy,
        CallOut::TableInit,
        CallOut::ElemDrop,
        CallOut::RefFunc,
        CallOut::CallImport,
        CallOut::CallIndirect,
        CallOut::Throw,
        CallOut::ThrowRef,
        CallOut::Catch,
        CallOut::CallRef,
        CallOut::ReturnCallImport,
        CallOut::ReturnCallIndirect,
        CallOut::ReturnCallRef,
    ];

    /// Operand and result counts of the call-outs whose arity is fixed
    /// (all but the calls, whose arity is their callee's type).
    pub fn fixed_arity(self) -> Option<(u32, u32)> {
        use CallOut as C;
        Some(match self {
            C::MemorySize | C::TableSize | C::RefFunc => (0, 1),
            C::MemoryGrow | C::TableGet => (1, 1),
            C::TableGrow => (2, 1),
            C::TableSet => (2, 0),
            C::MemoryFill | C::MemoryCopy | C::MemoryInit => (3, 0),
            C::TableFill | C::TableCopy | C::TableInit => (3, 0),
            C::DataDrop | C::ElemDrop => (0, 0),
            C::ThrowRef => (1, 0),
            C::CallImport
            | C::CallIndirect
            | C::CallRef
            | C::Throw
            | C::Catch
            | C::ReturnCallImport
            | C::ReturnCallIndirect
            | C::ReturnCallRef => return None,
        })
    }

    /// The call-out an entry received, back from its number.
    pub fn from_raw(raw: u32) -> Option<CallOut> {
        CallOut::ALL.get(raw as usize).copied()
    }
}

/// Why a module was not compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompileError {
    /// The module is not valid WebAssembly.
    Invalid(String),
    /// The module uses something the JIT cannot compile yet: run it on the
    /// interpreter.
    Unsupported {
        /// What is missing.
        what: String,
        /// Byte offset in the module.
        offset: u64,
    },
    /// Code generation or mapping the code failed.
    Assembler(String),
}

impl CompileError {
    pub(crate) fn unsupported(what: &str, offset: u64) -> CompileError {
        CompileError::Unsupported {
            what: what.to_string(),
            offset,
        }
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileError::Invalid(m) => write!(f, "invalid module: {m}"),
            CompileError::Unsupported { what, offset } => {
                write!(
                    f,
                    "the JIT cannot compile {what} (at offset {offset:#x}) yet"
                )
            }
            CompileError::Assembler(m) => write!(f, "code generation failed: {m}"),
        }
    }
}

impl std::error::Error for CompileError {}

/// Why a call into compiled code failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallError {
    /// The code trapped.
    Trap(TrapCode),
    /// The call itself was wrong (unknown function, too few cells).
    Usage(String),
}

/// Host stack compiled code may use below the entry point, by default.
pub const DEFAULT_STACK_BUDGET: usize = 512 << 10;

/// A compiled module.
pub struct CompiledModule {
    code: CodeMemory,
    /// Entry offsets of the functions defined in the module (imported
    /// ones have no code here).
    entries: Vec<usize>,
    info: codegen::ModuleInfo,
    stack_budget: usize,
}

impl fmt::Debug for CompiledModule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledModule")
            .field("code_bytes", &self.code.len())
            .field("functions", &self.entries.len())
            .finish()
    }
}

impl CompiledModule {
    /// Validates and compiles `wasm` for the host architecture. Without a
    /// context layout, memory and global operators are unsupported.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    pub fn new(wasm: &[u8], layout: Option<ContextLayout>) -> Result<CompiledModule, CompileError> {
        CompiledModule::with_features(wasm, layout, wasmparser::WasmFeatures::default())
    }

    /// Like [`new`](Self::new), validating with the embedder's proposals
    /// (the legacy exceptions, custom page sizes … its engine enables).
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    pub fn with_features(
        wasm: &[u8],
        layout: Option<ContextLayout>,
        features: wasmparser::WasmFeatures,
    ) -> Result<CompiledModule, CompileError> {
        let (code, entries, info) = codegen::compile(wasm, layout, features, host::Masm::new())?;
        let code = CodeMemory::new(&code).map_err(CompileError::Assembler)?;
        Ok(CompiledModule {
            code,
            entries,
            info,
            stack_budget: DEFAULT_STACK_BUDGET,
        })
    }

    /// The host stack compiled code may use below the call's entry; deeper
    /// recursion traps with [`TrapCode::StackExhausted`].
    pub fn stack_budget(&self) -> usize {
        self.stack_budget
    }

    /// Sets [`stack_budget`](Self::stack_budget).
    pub fn set_stack_budget(&mut self, bytes: usize) {
        self.stack_budget = bytes;
    }

    /// The index of the function exported as `name`.
    pub fn export(&self, name: &str) -> Option<u32> {
        self.info
            .exports
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, i)| *i)
    }

    /// The machine code address of function `index` (defined here), for
    /// a tail call from another module's code (its context in r14).
    pub fn function_address(&self, index: u32) -> Option<*const u8> {
        let defined = index.checked_sub(self.info.num_imported_funcs)?;
        let &offset = self.entries.get(defined as usize)?;
        self.code.address(offset)
    }

    /// Function `index`'s signature.
    pub fn signature(&self, index: u32) -> Option<&Signature> {
        self.info.signature(*self.info.funcs.get(index as usize)?)
    }

    /// Calls function `index` of a module compiled without a context
    /// layout, with its arguments in `cells` (i32 values zero-extended);
    /// its results replace them from `cells[0]` on.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    pub fn call(&self, index: u32, cells: &mut [u64]) -> Result<(), CallError> {
        if self.info.layout.is_some() {
            return Err(CallError::Usage(
                "this module needs a VM context: use call_with_context".into(),
            ));
        }
        // SAFETY: code compiled without a layout never reads the context.
        unsafe { self.call_with_context(std::ptr::null_mut(), index, cells) }
    }

    /// Like [`call`](Self::call), with the instance's VM context.
    ///
    /// # Safety
    /// `vmctx` must point at a live context laid out as the
    /// [`ContextLayout`] given at compilation says, whose memory and global
    /// definitions match the module's types and stay valid during the call.
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    pub unsafe fn call_with_context(
        &self,
        vmctx: *mut u8,
        index: u32,
        cells: &mut [u64],
    ) -> Result<(), CallError> {
        let marker = 0u8;
        let here = std::hint::black_box(&marker) as *const u8 as usize;
        let limit = here.saturating_sub(self.stack_budget);
        // SAFETY: the caller's promise is passed on.
        unsafe { self.call_with_stack_limit(vmctx, index, cells, limit) }
    }

    /// Like [`call_with_context`](Self::call_with_context), with the lowest
    /// stack address compiled frames may reach given by the caller: a call
    /// nested inside compiled code (through a call-out) keeps the limit of
    /// the outermost entry, so recursion across modules and tiers is
    /// bounded as a whole.
    ///
    /// # Safety
    /// As for [`call_with_context`](Self::call_with_context).
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    pub unsafe fn call_with_stack_limit(
        &self,
        vmctx: *mut u8,
        index: u32,
        cells: &mut [u64],
        stack_limit: usize,
    ) -> Result<(), CallError> {
        let sig = self
            .signature(index)
            .ok_or_else(|| CallError::Usage(format!("no function {index}")))?;
        let needed = sig.params.len().max(sig.results.len());
        if cells.len() < needed {
            return Err(CallError::Usage(format!(
                "function {index} needs {needed} cells, {} given",
                cells.len()
            )));
        }
        let code = index
            .checked_sub(self.info.num_imported_funcs)
            .and_then(|defined| self.entries.get(defined as usize))
            .and_then(|&off| self.code.address(off))
            .ok_or_else(|| CallError::Usage(format!("no code for function {index}")))?;
        let trampoline = self
            .code
            .address(0)
            .ok_or_else(|| CallError::Usage("empty module".into()))?;
        let mut state = masm::EntryState::new(stack_limit as u64);
        // SAFETY: offset 0 is the entry trampoline (abi.rs) and `code` a
        // function entry of this module, with the signature checked against
        // `cells`; compiled code only touches `cells[..needed]`, its own
        // frames (bounded by `stack_limit`), `state`, and the context the
        // caller vouches for.
        let raw = unsafe {
            let entry: host::EntryTrampoline = std::mem::transmute(trampoline);
            entry(vmctx, cells.as_mut_ptr(), code, &mut state)
        };
        match raw {
            0 => Ok(()),
            raw => Err(CallError::Trap(
                TrapCode::from_raw(raw).unwrap_or(TrapCode::Unreachable),
            )),
        }
    }
}
