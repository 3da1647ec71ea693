//! The store owns every runtime entity (functions, memories, tables,
//! globals, tags, exceptions, instances) and the value stack all tiers share.
//! Handles ([`Func`](crate::Func), [`Memory`](crate::Memory), …) are indices
//! into it, tagged with the store's id so a handle from another store is an
//! error, not a wrong answer.
//!
//! Instance layout: an instance is a set of index maps from the module's
//! index spaces to store entities ([`InstanceData`]). Every tier resolves
//! `global 3` or `memory 1` through the same maps; nothing is tier-specific.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::func::HostFunc;
use crate::interp::code::CompiledFunc;
use crate::module::Module;
use crate::types::{GlobalType, TypeId};
use crate::values::RawVal;
pub(crate) use crate::vm::{MemoryInst, StoreBudget, TableInst, VMStoreContext};
use crate::vm::{VMContext, VMFuncRef, VMGlobalDefinition, VmBox};

/// Identifies a store; handles carry it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StoreId(u32);

static NEXT_STORE_ID: AtomicU32 = AtomicU32::new(1);

pub(crate) enum FuncKind {
    /// A wasm function: its code and the instance it closes over.
    Wasm {
        instance: u32,
        code: Arc<CompiledFunc>,
    },
    /// A host function, by index into `Store::host_funcs`.
    Host(u32),
}

pub(crate) struct FuncInst {
    pub ty: TypeId,
    pub kind: FuncKind,
    /// What machine code calls; `vmctx` is set once the instance's context exists.
    pub funcref: VmBox<VMFuncRef>,
}

impl FuncInst {
    pub fn new(ty: TypeId, kind: FuncKind, store_index: u32) -> FuncInst {
        FuncInst {
            ty,
            kind,
            funcref: VmBox::new(VMFuncRef {
                code: std::ptr::null(),
                vmctx: std::ptr::null_mut(),
                type_id: ty.0,
                store_index,
            }),
        }
    }
}

pub(crate) struct GlobalInst {
    pub ty: GlobalType,
    /// The value cell every tier reads and writes.
    def: VmBox<VMGlobalDefinition>,
}

impl GlobalInst {
    /// A global holding `value` (a scalar in its low 64 bits, or a `v128`).
    pub fn new(ty: GlobalType, value: u128) -> GlobalInst {
        let [value, hi] = crate::values::v128_to_cells(value);
        GlobalInst {
            ty,
            def: VmBox::new(VMGlobalDefinition { value, hi }),
        }
    }

    /// The whole value, both cells (a scalar has zero high bits).
    pub fn wide_value(&self) -> u128 {
        let d = self.def.get();
        crate::values::v128_from_cells(d.value, d.hi)
    }

    pub fn set_value(&mut self, value: u128) {
        let [value, hi] = crate::values::v128_to_cells(value);
        self.def.set(VMGlobalDefinition { value, hi });
    }

    /// The cell the VM contexts of importing instances point at.
    pub fn vm_definition(&self) -> *mut VMGlobalDefinition {
        self.def.as_ptr()
    }
}

pub(crate) struct TagInst {
    pub ty: TypeId,
}

pub(crate) struct ExnInst {
    /// Store index of the tag.
    pub tag: u32,
    pub payload: Box<[RawVal]>,
    /// Whether a reference to it may exist (an exnref in a cell, an `Exn`
    /// handed out, a compiled frame's pending exception); until then the
    /// interpreter frees it when a clause catches it without a reference.
    pub escaped: bool,
}

/// An instance's view of the store: module index → store index, per space.
pub(crate) struct InstanceData {
    pub module: Module,
    pub funcs: Vec<u32>,
    pub tables: Vec<u32>,
    pub memories: Vec<u32>,
    pub globals: Vec<u32>,
    pub tags: Vec<u32>,
    /// Element segments (store indices into `StoreInner::elems`).
    pub elems: Vec<u32>,
    /// Data segments (store indices into `StoreInner::datas`).
    pub datas: Vec<u32>,
    /// The context every tier reaches memories and globals through.
    pub vmctx: VMContext,
}

/// A saved interpreter activation: where to resume the caller.
///
/// A plain record, no reference counts: the store never drops a
/// function's code or an instance (`funcs` and `instances` only grow), so
/// both outlive every activation that runs them and a call costs no
/// atomic increment or decrement.
pub(crate) struct Frame {
    pub code: *const CompiledFunc,
    pub instance: *const InstanceData,
    /// Store index of `instance` (host calls take the instance's `Arc`).
    pub instance_index: u32,
    pub pc: usize,
    pub fp: usize,
}

// SAFETY: the pointers lead to data the same store owns (through the `Arc`s
// in `funcs` and `instances`), so they move between threads with it.
unsafe impl Send for Frame {}

/// Everything in a store that does not depend on the host data type.
pub(crate) struct StoreInner {
    pub id: StoreId,
    pub engine: Engine,
    pub funcs: Vec<FuncInst>,
    pub tables: Vec<TableInst>,
    pub memories: Vec<MemoryInst>,
    pub globals: Vec<GlobalInst>,
    pub tags: Vec<TagInst>,
    pub exns: Vec<ExnInst>,
    /// Element segment contents; a dropped segment is emptied.
    pub elems: Vec<Vec<RawVal>>,
    /// Data segment contents; a dropped segment is `None`.
    pub datas: Vec<Option<Arc<[u8]>>>,
    pub instances: Vec<Arc<InstanceData>>,
    /// The value stack of all frames of all tiers.
    pub stack: Vec<RawVal>,
    /// First free cell of `stack` (nested host → wasm calls start here).
    pub sp: usize,
    /// Saved caller activations.
    pub frames: Vec<Frame>,
    /// Interpreter invocations in progress (host → wasm re-entries nest
    /// them); each holds one activation that is not in `frames`.
    pub nesting: usize,
    /// Host stack address of the outermost invocation in progress.
    pub native_stack_base: usize,
    /// Fuel, the epoch deadline: state every tier reads at a stable address.
    pub vm: Box<VMStoreContext>,
    /// What memories and tables may still commit, across all of them.
    pub budget: StoreBudget,
    /// Why the last call-out from compiled code failed, until the entry
    /// that called the compiled code takes it.
    #[cfg_attr(not(jit), allow(dead_code, reason = "JIT tier only"))]
    pub callout_failure: Option<CallOutFailure>,
    /// The lowest host stack address compiled frames may reach, set by
    /// the outermost entry into compiled code (0 while none runs), so
    /// nested entries share one budget.
    #[cfg_attr(not(jit), allow(dead_code, reason = "JIT tier only"))]
    pub jit_stack_limit: usize,
    /// The wasm exception compiled code is unwinding with (its frames
    /// see only `TrapCode::Exception`), from the throw or the failed call
    /// until a catch clause takes it or the entry returns it.
    #[cfg_attr(not(jit), allow(dead_code, reason = "JIT tier only"))]
    pub jit_pending_exception: Option<crate::values::Exn>,
}

/// How a call-out failed.
#[cfg_attr(not(jit), allow(dead_code, reason = "JIT tier only"))]
pub(crate) enum CallOutFailure {
    /// A trap, host error or exit, returned to the entry as is.
    Error(Error),
    /// A host function panicked: the panic resumes at the entry, once no
    /// compiled frame is left to cross.
    Panic(Box<dyn std::any::Any + Send>),
}

/// A store: the world a set of instances lives in, plus host data `T`.
pub struct Store<T> {
    pub(crate) inner: StoreInner,
    pub(crate) host_funcs: Vec<HostFunc<T>>,
    data: T,
}

impl<T> std::fmt::Debug for Store<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("id", &self.inner.id)
            .field("instances", &self.inner.instances.len())
            .field("funcs", &self.inner.funcs.len())
            .field("memories", &self.inner.memories.len())
            .finish()
    }
}

impl<T> Store<T> {
    /// An empty store for `engine`, carrying host data.
    pub fn new(engine: &Engine, data: T) -> Store<T> {
        let config = &engine.inner.config;
        let budget = StoreBudget::new(config.store_memory_budget);
        Store {
            inner: StoreInner {
                id: StoreId(NEXT_STORE_ID.fetch_add(1, Ordering::Relaxed)),
                engine: engine.clone(),
                funcs: Vec::new(),
                tables: Vec::new(),
                memories: Vec::new(),
                globals: Vec::new(),
                tags: Vec::new(),
                exns: Vec::new(),
                elems: Vec::new(),
                datas: Vec::new(),
                instances: Vec::new(),
                stack: Vec::new(),
                sp: 0,
                frames: Vec::new(),
                nesting: 0,
                native_stack_base: 0,
                vm: Box::new(VMStoreContext {
                    fuel: 0,
                    epoch_deadline: u64::MAX,
                    epoch: Arc::as_ptr(&engine.inner.epoch),
                    callout_store: std::ptr::null_mut(),
                    callout_dispatch: None,
                    tail_code: std::ptr::null(),
                    tail_vmctx: std::ptr::null_mut(),
                }),
                budget,
                callout_failure: None,
                jit_stack_limit: 0,
                jit_pending_exception: None,
            },
            host_funcs: Vec::new(),
            data,
        }
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The host data.
    pub fn data(&self) -> &T {
        &self.data
    }

    /// The host data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.data
    }

    /// Consumes the store, returning the host data.
    pub fn into_data(self) -> T {
        self.data
    }

    /// Sets the remaining fuel (the engine must have `consume_fuel` on).
    pub fn set_fuel(&mut self, fuel: u64) -> Result<()> {
        self.fuel_enabled()?;
        self.inner.vm.fuel = fuel;
        Ok(())
    }

    /// The remaining fuel.
    pub fn get_fuel(&self) -> Result<u64> {
        self.fuel_enabled()?;
        Ok(self.inner.vm.fuel)
    }

    fn fuel_enabled(&self) -> Result<()> {
        if self.inner.engine.inner.config.consume_fuel {
            Ok(())
        } else {
            Err(Error::usage(
                "fuel is not enabled: build the engine with Config::consume_fuel(true)",
            ))
        }
    }

    /// Interrupts the guest once the engine's epoch has advanced `ticks`
    /// beyond its current value (with `Config::epoch_interruption` on). A
    /// new store never is interrupted until this is called.
    pub fn set_epoch_deadline(&mut self, ticks: u64) {
        let now = self
            .inner
            .engine
            .inner
            .epoch
            .load(std::sync::atomic::Ordering::Acquire);
        self.inner.vm.epoch_deadline = now.saturating_add(ticks);
    }

    /// A probe telling whether this store's deadline has passed, for host
    /// code that blocks (it can be checked without the store).
    pub fn interrupt_probe(&self) -> crate::InterruptProbe {
        let config = &self.inner.engine.inner.config;
        crate::InterruptProbe {
            epoch: config
                .epoch_interruption
                .then(|| self.inner.engine.inner.epoch.clone()),
            deadline: self.inner.vm.epoch_deadline,
        }
    }

    /// Bytes the store's memories and tables hold, counted against
    /// [`Config::store_memory_budget`](crate::Config::store_memory_budget).
    pub fn memory_budget_used(&self) -> u64 {
        self.inner.budget.used()
    }

    pub(crate) fn id(&self) -> StoreId {
        self.inner.id
    }
}

impl StoreInner {
    pub(crate) fn check(&self, id: StoreId) -> Result<()> {
        if id == self.id {
            Ok(())
        } else {
            Err(Error::usage(
                "handle used with a store it does not belong to",
            ))
        }
    }

    /// Makes sure the value stack is allocated (lazily: most of it is never touched).
    pub(crate) fn ensure_stack(&mut self) {
        if self.stack.is_empty() {
            self.stack = vec![0; self.engine.inner.config.max_stack_cells];
        }
    }
}

/// Anything that gives read access to a store: `&Store<T>`, `&mut Store<T>`, a `Caller`.
pub trait AsContext {
    /// The host data type.
    type Data;
    /// The store.
    fn as_store(&self) -> &Store<Self::Data>;
}

/// Anything that gives write access to a store.
pub trait AsContextMut: AsContext {
    /// The store, mutably.
    fn as_store_mut(&mut self) -> &mut Store<Self::Data>;
}

impl<T> AsContext for Store<T> {
    type Data = T;
    fn as_store(&self) -> &Store<T> {
        self
    }
}

impl<T> AsContextMut for Store<T> {
    fn as_store_mut(&mut self) -> &mut Store<T> {
        self
    }
}

impl<S: AsContext> AsContext for &S {
    type Data = S::Data;
    fn as_store(&self) -> &Store<S::Data> {
        (**self).as_store()
    }
}

impl<S: AsContext> AsContext for &mut S {
    type Data = S::Data;
    fn as_store(&self) -> &Store<S::Data> {
        (**self).as_store()
    }
}

impl<S: AsContextMut> AsContextMut for &mut S {
    fn as_store_mut(&mut self) -> &mut Store<S::Data> {
        (**self).as_store_mut()
    }
}
