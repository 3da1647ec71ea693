//! Which tier runs a module, and calling into the JIT tier.
//!
//! With [`Strategy::Jit`] a module is compiled by `wrun-jit` after the
//! interpreter has translated it; if the JIT cannot compile all of it (an
//! operator, a type or a feature it lacks, or an engine option such as fuel
//! it does not implement yet), the whole module runs on the interpreter
//! and [`Module::jit_fallback`](crate::Module::jit_fallback) says why.
//! Calls from the host into a function of a compiled module run its
//! machine code; wasm-to-wasm calls within it stay in machine code.

use crate::engine::Engine;
use crate::error::{FrameInfo, Result, Trap, TrapKind};
use crate::values::RawVal;
use crate::vm::VMContext;
use crate::vm::offsets::VMOffsets;

/// How an engine runs the modules it compiles.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Strategy {
    /// The interpreter, for every module (the default until the JIT passes
    /// the official suites on its own).
    #[default]
    Interp,
    /// The JIT where it can compile the whole module, else the interpreter.
    Jit,
}

/// A module's machine code.
#[cfg(target_arch = "x86_64")]
pub(crate) type JitModule = wrun_jit::CompiledModule;

/// Placeholder where no JIT exists: never built.
#[cfg(not(target_arch = "x86_64"))]
#[derive(Debug)]
pub(crate) enum JitModule {}

/// Compiles `bytes` with the JIT if the engine asks for it: the code, or
/// why the module runs on the interpreter (None, None: it was not asked).
pub(crate) fn compile(
    engine: &Engine,
    module: &crate::module::ModuleInner,
    bytes: &[u8],
) -> (Option<JitModule>, Option<String>) {
    let config = &engine.inner.config;
    if config.strategy != Strategy::Jit {
        return (None, None);
    }
    if config.consume_fuel || config.epoch_interruption {
        return (
            None,
            Some("the JIT does not count fuel or check epochs yet".into()),
        );
    }
    let Some(offsets) = VMOffsets::for_module(module) else {
        return (None, Some("the module's index spaces are too large".into()));
    };
    compile_for_host(bytes, &offsets, config.max_host_stack_bytes)
}

/// Where the JIT finds memories and globals: the offsets of `vm/`.
#[cfg(target_arch = "x86_64")]
fn context_layout(offsets: &VMOffsets) -> wrun_jit::ContextLayout {
    use crate::vm::{VMGlobalDefinition, VMMemoryDefinition};
    use std::mem::offset_of;
    wrun_jit::ContextLayout {
        memories_start: offsets.memories_start,
        globals_start: offsets.globals_start,
        memory_base: offset_of!(VMMemoryDefinition, base) as u32,
        memory_length: offset_of!(VMMemoryDefinition, length) as u32,
        global_value: offset_of!(VMGlobalDefinition, value) as u32,
    }
}

#[cfg(target_arch = "x86_64")]
fn compile_for_host(
    bytes: &[u8],
    offsets: &VMOffsets,
    stack_budget: usize,
) -> (Option<JitModule>, Option<String>) {
    match wrun_jit::CompiledModule::new(bytes, Some(context_layout(offsets))) {
        Ok(mut code) => {
            code.set_stack_budget(stack_budget);
            (Some(code), None)
        }
        Err(e) => (None, Some(e.to_string())),
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn compile_for_host(_: &[u8], _: &VMOffsets, _: usize) -> (Option<JitModule>, Option<String>) {
    (
        None,
        Some("there is no JIT for this architecture yet".into()),
    )
}

/// Calls function `index` of a compiled module with argument cells, in
/// the instance whose context is `vmctx`.
#[cfg(target_arch = "x86_64")]
pub(crate) fn call(
    code: &JitModule,
    vmctx: &VMContext,
    index: u32,
    args: &[RawVal],
    frame: impl FnOnce() -> FrameInfo,
) -> Result<Vec<RawVal>> {
    use wrun_jit::{CallError, TrapCode};
    let results = code.signature(index).map_or(0, |s| s.results.len());
    let mut cells = args.to_vec();
    cells.resize(args.len().max(results), 0);
    // SAFETY: `vmctx` is the context of an instance of the module `code`
    // was compiled from, laid out by the same `VMOffsets` (`compile`), and
    // the store keeps every definition it points at alive.
    match unsafe { code.call_with_context(vmctx.as_ptr(), index, &mut cells) } {
        Ok(()) => {
            cells.truncate(results);
            Ok(cells)
        }
        Err(CallError::Trap(code)) => {
            let kind = match code {
                TrapCode::Unreachable => TrapKind::Unreachable,
                TrapCode::IntegerDivideByZero => TrapKind::IntegerDivideByZero,
                TrapCode::IntegerOverflow => TrapKind::IntegerOverflow,
                TrapCode::StackExhausted => TrapKind::StackExhausted,
                TrapCode::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
                TrapCode::InvalidConversionToInteger => TrapKind::InvalidConversionToInteger,
            };
            // Compiled frames keep no pc map yet: the backtrace names the
            // function the host called.
            let mut trap = Trap::new(kind);
            trap.set_backtrace(vec![frame()]);
            Err(trap.into())
        }
        Err(CallError::Usage(m)) => Err(crate::Error::Usage(m)),
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn call(
    code: &JitModule,
    _: &VMContext,
    _: u32,
    _: &[RawVal],
    _: impl FnOnce() -> FrameInfo,
) -> Result<Vec<RawVal>> {
    match *code {}
}
