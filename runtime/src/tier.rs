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
pub(crate) fn compile(engine: &Engine, bytes: &[u8]) -> (Option<JitModule>, Option<String>) {
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
    compile_for_host(bytes, config.max_host_stack_bytes)
}

#[cfg(target_arch = "x86_64")]
fn compile_for_host(bytes: &[u8], stack_budget: usize) -> (Option<JitModule>, Option<String>) {
    match wrun_jit::CompiledModule::new(bytes) {
        Ok(mut code) => {
            code.set_stack_budget(stack_budget);
            (Some(code), None)
        }
        Err(e) => (None, Some(e.to_string())),
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn compile_for_host(_: &[u8], _: usize) -> (Option<JitModule>, Option<String>) {
    (
        None,
        Some("there is no JIT for this architecture yet".into()),
    )
}

/// Calls function `index` of a compiled module with argument cells.
#[cfg(target_arch = "x86_64")]
pub(crate) fn call(
    code: &JitModule,
    index: u32,
    args: &[RawVal],
    frame: impl FnOnce() -> FrameInfo,
) -> Result<Vec<RawVal>> {
    use wrun_jit::{CallError, TrapCode};
    let results = code.signature(index).map_or(0, |s| s.results.len());
    let mut cells = args.to_vec();
    cells.resize(args.len().max(results), 0);
    match code.call(index, &mut cells) {
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
    _: u32,
    _: &[RawVal],
    _: impl FnOnce() -> FrameInfo,
) -> Result<Vec<RawVal>> {
    match *code {}
}
