//! Which tier runs a module, and calling into the JIT tier.
//!
//! With [`Strategy::Jit`] a module is compiled by `wrun-jit` after the
//! interpreter has translated it (fuel and epoch checks included, placed
//! and counted as the interpreter does); if the JIT cannot compile all of
//! it (an operator, a type or a feature it lacks), the whole module runs on
//! the interpreter
//! and [`Module::jit_fallback`](crate::Module::jit_fallback) says why.
//! Calls from the host into a function of a compiled module run its
//! machine code; wasm-to-wasm calls within it stay in machine code; what
//! compiled code cannot do alone (growing memories, bulk and table
//! operators, calls leaving the module) it asks of the runtime through
//! one call-out entry (`tier/callout.rs`).

#[cfg(jit)]
mod callout;

use std::sync::Arc;

use crate::engine::Engine;
use crate::error::Result;
#[cfg(jit)]
use crate::error::{Error, FrameInfo, Trap, TrapKind};
#[cfg(jit)]
use crate::store::CallOutFailure;
use crate::store::{FuncKind, InstanceData, Store};
use crate::values::RawVal;
use crate::vm::offsets::VMOffsets;

/// Whether wrun has a JIT backend for the architecture it was built for
/// (x86_64, aarch64); elsewhere every module runs on the interpreter.
pub const JIT_AVAILABLE: bool = cfg!(jit);

/// How an engine runs the modules it compiles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// The interpreter, for every module (the default where wrun has no
    /// JIT).
    Interp,
    /// The JIT where it can compile the whole module, else the interpreter
    /// (the default on x86_64 and aarch64).
    Jit,
}

impl Default for Strategy {
    /// The JIT where wrun has one (x86_64, aarch64), else the interpreter.
    fn default() -> Strategy {
        if JIT_AVAILABLE {
            Strategy::Jit
        } else {
            Strategy::Interp
        }
    }
}

/// A module's machine code.
#[cfg(jit)]
pub(crate) type JitModule = wrun_jit::CompiledModule;

/// Placeholder where no JIT exists: never built.
#[cfg(not(jit))]
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
    // Compiled code bounds recursion by host stack bytes, not by counting
    // calls: an exact call-depth limit asked for is the interpreter's.
    if config.max_call_depth != crate::engine::Config::new().max_call_depth {
        return (
            None,
            Some("an exact --max-call-depth is counted by the interpreter only".into()),
        );
    }
    let Some(offsets) = VMOffsets::for_module(module) else {
        return (None, Some("the module's index spaces are too large".into()));
    };
    compile_for_host(bytes, &offsets, config, engine.inner.features)
}

/// Where the JIT finds memories and globals: the offsets of `vm/`.
#[cfg(jit)]
fn context_layout(offsets: &VMOffsets, config: &crate::engine::Config) -> wrun_jit::ContextLayout {
    use crate::vm::context::store_offsets;
    use crate::vm::offsets::STORE_CONTEXT;
    use crate::vm::{VMGlobalDefinition, VMMemoryDefinition};
    use std::mem::offset_of;
    wrun_jit::ContextLayout {
        memories_start: offsets.memories_start,
        globals_start: offsets.globals_start,
        memory_base: offset_of!(VMMemoryDefinition, base) as u32,
        memory_length: offset_of!(VMMemoryDefinition, length) as u32,
        global_value: offset_of!(VMGlobalDefinition, value) as u32,
        callout: callout::entry as *const () as usize,
        store_context: STORE_CONTEXT,
        fuel: store_offsets::FUEL as u32,
        epoch_deadline: store_offsets::EPOCH_DEADLINE as u32,
        epoch: store_offsets::EPOCH as u32,
        tail_code: store_offsets::TAIL_CODE as u32,
        tail_vmctx: store_offsets::TAIL_VMCTX as u32,
        consume_fuel: config.consume_fuel,
        epoch_interruption: config.epoch_interruption,
    }
}

#[cfg(jit)]
fn compile_for_host(
    bytes: &[u8],
    offsets: &VMOffsets,
    config: &crate::engine::Config,
    features: wasmparser::WasmFeatures,
) -> (Option<JitModule>, Option<String>) {
    let layout = Some(context_layout(offsets, config));
    match wrun_jit::CompiledModule::with_features(bytes, layout, features) {
        Ok(mut code) => {
            code.set_stack_budget(config.max_host_stack_bytes);
            (Some(code), None)
        }
        Err(e) => (None, Some(e.to_string())),
    }
}

#[cfg(not(jit))]
fn compile_for_host(
    _: &[u8],
    _: &VMOffsets,
    _: &crate::engine::Config,
    _: wasmparser::WasmFeatures,
) -> (Option<JitModule>, Option<String>) {
    (
        None,
        Some("there is no JIT for this architecture yet".into()),
    )
}

/// Calls store function `func` with argument cells on whichever tier runs
/// it: the machine code of a compiled module, else the interpreter (host
/// functions included). Every entry from the host and every call-out of
/// compiled code leaving its module comes through here: the one entry
/// convention between tiers (arguments and results as raw cells).
///
/// `caller` is the instance calling, if wasm calls: a host function sees
/// it as its [`Caller`](crate::Caller) (WASI finds the memory there).
pub(crate) fn call_store_func<T>(
    store: &mut Store<T>,
    func: u32,
    args: &[RawVal],
    caller: Option<Arc<InstanceData>>,
) -> Result<Vec<RawVal>> {
    if let Some(FuncKind::Host(h)) = store.inner.funcs.get(func as usize).map(|f| &f.kind) {
        let h = *h;
        return crate::func::call_host(store, h, caller, args);
    }
    match compiled_callee(store, func) {
        #[cfg(jit)]
        Some((instance, index)) => call_compiled(store, &instance, index, args),
        // Without a JIT no module has machine code (`JitModule` is empty).
        #[cfg(not(jit))]
        Some((instance, _)) => match instance.module.inner.jit {
            Some(ref code) => match *code {},
            None => crate::interp::exec::invoke(store, func, args),
        },
        None => crate::interp::exec::invoke(store, func, args),
    }
}

/// The instance and module-level index of store function `func`, if it is
/// a wasm function of a module the JIT compiled.
fn compiled_callee<T>(store: &Store<T>, func: u32) -> Option<(Arc<InstanceData>, u32)> {
    let FuncKind::Wasm { instance, code } = &store.inner.funcs.get(func as usize)?.kind else {
        return None;
    };
    let instance = store.inner.instances.get(*instance as usize)?;
    instance
        .module
        .inner
        .jit
        .is_some()
        .then(|| (instance.clone(), code.index))
}

/// Runs function `index` of `instance`'s compiled module.
#[cfg(jit)]
fn call_compiled<T>(
    store: &mut Store<T>,
    instance: &InstanceData,
    index: u32,
    args: &[RawVal],
) -> Result<Vec<RawVal>> {
    use wrun_jit::{CallError, TrapCode};
    let module = &instance.module.inner;
    let code = module
        .jit
        .as_ref()
        .ok_or_else(|| Error::usage("no machine code"))?;
    let results = code.signature(index).map_or(0, |s| s.results.len());
    let mut cells = args.to_vec();
    cells.resize(args.len().max(results), 0);

    // The outermost entry sets the stack limit every nested entry keeps.
    let outermost = store.inner.jit_stack_limit == 0;
    if outermost {
        let marker = 0u8;
        let here = std::hint::black_box(&marker) as *const u8 as usize;
        store.inner.jit_stack_limit = here.saturating_sub(code.stack_budget()).max(1);
    }
    let stack_limit = store.inner.jit_stack_limit;
    // Call-outs reach the store through the store context.
    let store_ptr: *mut u8 = (store as *mut Store<T>).cast();
    let vm = &mut *store.inner.vm;
    let saved = (vm.callout_store, vm.callout_dispatch);
    vm.callout_dispatch = Some(callout::dispatch::<T>);
    vm.callout_store = store_ptr;
    // SAFETY: `vmctx` is the context of an instance of the module `code`
    // was compiled from, laid out by the same `VMOffsets` (`compile`), and
    // the store keeps every definition it points at alive; the store is
    // not touched here until the call returns, only through
    // `callout_store` by call-outs.
    let outcome = unsafe {
        code.call_with_stack_limit(instance.vmctx.as_ptr(), index, &mut cells, stack_limit)
    };
    let vm = &mut *store.inner.vm;
    (vm.callout_store, vm.callout_dispatch) = saved;
    if outermost {
        store.inner.jit_stack_limit = 0;
    }
    let failure = store.inner.callout_failure.take();
    let code = match outcome {
        Ok(()) => {
            cells.truncate(results);
            return Ok(cells);
        }
        Err(CallError::Usage(m)) => return Err(Error::Usage(m)),
        Err(CallError::Trap(code)) => code,
    };
    let kind = match code {
        TrapCode::CallOut => {
            return match failure {
                Some(CallOutFailure::Error(e)) => Err(e),
                Some(CallOutFailure::Panic(p)) => std::panic::resume_unwind(p),
                None => Err(Error::usage("a call-out failed without saying why")),
            };
        }
        TrapCode::Unreachable => TrapKind::Unreachable,
        TrapCode::IntegerDivideByZero => TrapKind::IntegerDivideByZero,
        TrapCode::IntegerOverflow => TrapKind::IntegerOverflow,
        TrapCode::StackExhausted => TrapKind::StackExhausted,
        TrapCode::MemoryOutOfBounds => TrapKind::MemoryOutOfBounds,
        TrapCode::InvalidConversionToInteger => TrapKind::InvalidConversionToInteger,
        TrapCode::OutOfFuel => {
            // As in the interpreter: a charge that does not fit empties the tank.
            store.inner.vm.fuel = 0;
            TrapKind::OutOfFuel
        }
        TrapCode::Interrupted => TrapKind::Interrupted,
        TrapCode::NullReference => TrapKind::NullReference,
        TrapCode::Exception => {
            return match store.inner.jit_pending_exception.take() {
                Some(exn) => Err(Error::Exception(exn)),
                None => Err(Error::usage("an exception left compiled code unrecorded")),
            };
        }
    };
    // Compiled frames keep no pc map yet: the backtrace names the
    // function the host called.
    let mut trap = Trap::new(kind);
    trap.set_backtrace(vec![FrameInfo {
        module_name: module.name.clone(),
        func_index: index,
        func_name: module.func_names.get(&index).cloned(),
        module_offset: None,
    }]);
    Err(trap.into())
}
