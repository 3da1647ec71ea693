//! The engine: configuration, the enabled feature set, and the engine-wide
//! type registry shared by every module compiled with it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use wasmparser::{Validator, WasmFeatures};

use crate::error::{CompileError, CompileErrorKind, Error, Result};
use crate::tier::Strategy;
use crate::types::{FuncType, HeapType, RefType, TypeId, ValType};
use crate::vm::InterruptHandle;

/// A WebAssembly proposal that can be switched on or off in a [`Config`].
/// The default set is Wasm 3.0 (minus threads); older proposal test suites
/// run with the set of their era, since Wasm 3.0 relaxed rules they assert
/// (e.g. multi-memory made a second memory valid).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proposal {
    /// Mutable imported/exported globals.
    MutableGlobal,
    /// Sign-extension operators.
    SignExtension,
    /// Non-trapping float-to-int conversions.
    SaturatingFloatToInt,
    /// Multiple results and block parameters.
    MultiValue,
    /// Bulk memory and table operations, passive segments.
    BulkMemory,
    /// Reference types and multiple tables.
    ReferenceTypes,
    /// 128-bit SIMD (the interpreter runs it; the JIT leaves a module
    /// using `v128` to the interpreter).
    Simd,
    /// Relaxed SIMD, with deterministic choices (`docs/simd.md`); run as
    /// [`Proposal::Simd`] is.
    RelaxedSimd,
    /// 64-bit memories and tables.
    Memory64,
    /// Multiple memories.
    MultiMemory,
    /// Tail calls.
    TailCall,
    /// Typed function references.
    FunctionReferences,
    /// Exception handling with `try_table` and exnref.
    Exceptions,
    /// The legacy `try`/`catch`/`delegate`/`rethrow` instructions.
    LegacyExceptions,
    /// Extended constant expressions.
    ExtendedConst,
    /// Garbage collection (validated; not executable yet).
    Gc,
    /// Threads and atomics (validated; not executable).
    Threads,
    /// Custom page sizes.
    CustomPageSizes,
    /// 128-bit wide arithmetic (validated; not executable).
    WideArithmetic,
}

impl Proposal {
    /// Every proposal, in declaration order.
    pub const ALL: [Proposal; 19] = [
        Proposal::MutableGlobal,
        Proposal::SignExtension,
        Proposal::SaturatingFloatToInt,
        Proposal::MultiValue,
        Proposal::BulkMemory,
        Proposal::ReferenceTypes,
        Proposal::Simd,
        Proposal::RelaxedSimd,
        Proposal::Memory64,
        Proposal::MultiMemory,
        Proposal::TailCall,
        Proposal::FunctionReferences,
        Proposal::Exceptions,
        Proposal::LegacyExceptions,
        Proposal::ExtendedConst,
        Proposal::Gc,
        Proposal::Threads,
        Proposal::CustomPageSizes,
        Proposal::WideArithmetic,
    ];

    /// The proposal's name on a command line (`-W NAME=y|n`): the name of
    /// its folder in the official test suite, as `wrun features` and
    /// `wrun inspect` print it (wasmtime's spelling for the later ones).
    pub fn name(self) -> &'static str {
        match self {
            Proposal::MutableGlobal => "mutable-global",
            Proposal::SignExtension => "sign-extension-ops",
            Proposal::SaturatingFloatToInt => "nontrapping-float-to-int-conversions",
            Proposal::MultiValue => "multi-value",
            Proposal::BulkMemory => "bulk-memory",
            Proposal::ReferenceTypes => "reference-types",
            Proposal::Simd => "simd",
            Proposal::RelaxedSimd => "relaxed-simd",
            Proposal::Memory64 => "memory64",
            Proposal::MultiMemory => "multi-memory",
            Proposal::TailCall => "tail-call",
            Proposal::FunctionReferences => "function-references",
            Proposal::Exceptions => "exceptions",
            Proposal::LegacyExceptions => "legacy-exceptions",
            Proposal::ExtendedConst => "extended-const",
            Proposal::Gc => "gc",
            Proposal::Threads => "threads",
            Proposal::CustomPageSizes => "custom-page-sizes",
            Proposal::WideArithmetic => "wide-arithmetic",
        }
    }

    /// The proposal with this [`Proposal::name`].
    pub fn from_name(name: &str) -> Option<Proposal> {
        Proposal::ALL.into_iter().find(|p| p.name() == name)
    }

    fn flags(self) -> WasmFeatures {
        match self {
            Proposal::MutableGlobal => WasmFeatures::MUTABLE_GLOBAL,
            Proposal::SignExtension => WasmFeatures::SIGN_EXTENSION,
            Proposal::SaturatingFloatToInt => WasmFeatures::SATURATING_FLOAT_TO_INT,
            Proposal::MultiValue => WasmFeatures::MULTI_VALUE,
            Proposal::BulkMemory => WasmFeatures::BULK_MEMORY,
            Proposal::ReferenceTypes => WasmFeatures::REFERENCE_TYPES,
            Proposal::Simd => WasmFeatures::SIMD,
            Proposal::RelaxedSimd => WasmFeatures::RELAXED_SIMD,
            Proposal::Memory64 => WasmFeatures::MEMORY64,
            Proposal::MultiMemory => WasmFeatures::MULTI_MEMORY,
            Proposal::TailCall => WasmFeatures::TAIL_CALL,
            Proposal::FunctionReferences => WasmFeatures::FUNCTION_REFERENCES,
            Proposal::Exceptions => WasmFeatures::EXCEPTIONS,
            Proposal::LegacyExceptions => WasmFeatures::LEGACY_EXCEPTIONS,
            Proposal::ExtendedConst => WasmFeatures::EXTENDED_CONST,
            Proposal::Gc => WasmFeatures::GC,
            Proposal::Threads => WasmFeatures::THREADS,
            Proposal::CustomPageSizes => WasmFeatures::CUSTOM_PAGE_SIZES,
            Proposal::WideArithmetic => WasmFeatures::WIDE_ARITHMETIC,
        }
    }
}

/// The default of [`Config::store_memory_budget`].
pub const DEFAULT_STORE_MEMORY_BUDGET: u64 = 6 << 30;

/// Settings that apply to every module and store of an engine.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) features: WasmFeatures,
    pub(crate) max_memory_bytes: u64,
    pub(crate) memory_reservation: Option<u64>,
    pub(crate) store_memory_budget: u64,
    pub(crate) max_table_elements: u64,
    pub(crate) max_call_depth: u32,
    pub(crate) max_stack_cells: usize,
    pub(crate) max_host_stack_bytes: usize,
    pub(crate) consume_fuel: bool,
    pub(crate) epoch_interruption: bool,
    pub(crate) strategy: Strategy,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            features: default_features(),
            max_memory_bytes: 4 << 30,
            memory_reservation: None,
            store_memory_budget: DEFAULT_STORE_MEMORY_BUDGET,
            max_table_elements: 10_000_000,
            max_call_depth: 50_000,
            max_stack_cells: 4 << 20,
            max_host_stack_bytes: 1 << 20,
            consume_fuel: false,
            epoch_interruption: false,
            strategy: Strategy::default(),
        }
    }
}

/// One engine setting as a value, so a command line can name settings once
/// and apply them over different base configurations (`wrun run` over the
/// default, `wrun spec` over each suite's own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setting {
    /// [`Config::strategy`].
    Strategy(Strategy),
    /// [`Config::max_memory_bytes`].
    MaxMemoryBytes(u64),
    /// [`Config::store_memory_budget`].
    StoreMemoryBudget(u64),
    /// [`Config::max_call_depth`].
    MaxCallDepth(u32),
    /// [`Config::memory_reservation`].
    MemoryReservation(u64),
    /// [`Config::wasm_proposal`].
    Proposal(Proposal, bool),
}

impl Config {
    /// The default configuration.
    pub fn new() -> Config {
        Config::default()
    }

    /// Applies one [`Setting`].
    pub fn apply(&mut self, setting: Setting) -> &mut Config {
        match setting {
            Setting::Strategy(s) => self.strategy(s),
            Setting::MaxMemoryBytes(bytes) => self.max_memory_bytes(bytes),
            Setting::StoreMemoryBudget(bytes) => self.store_memory_budget(bytes),
            Setting::MaxCallDepth(depth) => self.max_call_depth(depth),
            Setting::MemoryReservation(bytes) => self.memory_reservation(bytes),
            Setting::Proposal(p, enable) => self.wasm_proposal(p, enable),
        }
    }

    /// Enables or disables a proposal for modules compiled by the engine.
    pub fn wasm_proposal(&mut self, proposal: Proposal, enable: bool) -> &mut Config {
        self.features.set(proposal.flags(), enable);
        self
    }

    /// Enables exactly the Wasm 1.0 feature set plus `extra`.
    pub fn wasm_1_0_with(&mut self, extra: &[Proposal]) -> &mut Config {
        self.features = WasmFeatures::WASM1;
        for p in extra {
            self.features.insert(p.flags());
        }
        self
    }

    /// Whether a proposal is enabled.
    pub fn proposal_enabled(&self, proposal: Proposal) -> bool {
        self.features.contains(proposal.flags())
    }

    /// The most bytes any one linear memory may hold. Instantiating a memory
    /// whose minimum exceeds it fails; `memory.grow` beyond it returns -1.
    pub fn max_memory_bytes(&mut self, bytes: u64) -> &mut Config {
        self.max_memory_bytes = bytes;
        self
    }

    /// Caps the address space each linear memory reserves up front. By
    /// default a memory reserves its whole ceiling (a 32-bit memory 4 GiB
    /// plus guard pages), so its base never moves. With a cap, a memory
    /// reserves the larger of the cap and its initial size, is checked
    /// explicitly, and moves to a larger reservation when `memory.grow`
    /// outgrows its own (copying only non-zero pages). For hosts where
    /// reserving is costly: under qemu-user each reserved GiB costs about
    /// 6 MB of real memory, so a spec run with thousands of memories alive
    /// needs the cap.
    pub fn memory_reservation(&mut self, bytes: u64) -> &mut Config {
        self.memory_reservation = Some(bytes);
        self
    }

    /// The most bytes all memories and tables of one store may hold
    /// together (a table element counts 8 bytes). Creating a memory or table
    /// beyond it fails with [`Error::Limit`]; `memory.grow` and `table.grow`
    /// beyond it return -1. Default 6 GiB: one full 32-bit memory and room
    /// for more.
    pub fn store_memory_budget(&mut self, bytes: u64) -> &mut Config {
        self.store_memory_budget = bytes;
        self
    }

    /// The most elements any one table may hold.
    pub fn max_table_elements(&mut self, elements: u64) -> &mut Config {
        self.max_table_elements = elements;
        self
    }

    /// The deepest wasm call nesting; deeper calls trap with "call stack exhausted".
    pub fn max_call_depth(&mut self, depth: u32) -> &mut Config {
        self.max_call_depth = depth.max(1);
        self
    }

    /// The size of the value stack in 64-bit cells (locals and operands of all frames).
    pub fn max_stack_cells(&mut self, cells: usize) -> &mut Config {
        self.max_stack_cells = cells.max(1024);
        self
    }

    /// The most host stack that host functions calling back into wasm may
    /// use between them (wasm-to-wasm calls use none). Deeper re-entry traps
    /// with "call stack exhausted". Default 1 MiB: safe on a 2 MiB thread.
    pub fn max_host_stack_bytes(&mut self, bytes: usize) -> &mut Config {
        self.max_host_stack_bytes = bytes;
        self
    }

    /// Whether execution consumes fuel (set with `Store::set_fuel`). Costs a
    /// little speed, so it is chosen when modules are compiled.
    pub fn consume_fuel(&mut self, enable: bool) -> &mut Config {
        self.consume_fuel = enable;
        self
    }

    /// The tier [`Config::strategy`] selected.
    pub fn selected_strategy(&self) -> Strategy {
        self.strategy
    }

    /// Which tier runs the modules: the interpreter (default), or the JIT
    /// for every module it can compile whole (the others run on the
    /// interpreter; [`Module::jit_fallback`](crate::Module::jit_fallback)
    /// says why). With the JIT, a compiled module's stack limit is
    /// [`max_host_stack_bytes`](Self::max_host_stack_bytes).
    pub fn strategy(&mut self, strategy: Strategy) -> &mut Config {
        self.strategy = strategy;
        self
    }

    /// Whether running code checks the engine's epoch against the store's
    /// deadline (at function entry and loop headers) and traps with
    /// "interrupted" once it is reached: see [`Engine::increment_epoch`]
    /// and [`Store::set_epoch_deadline`](crate::Store::set_epoch_deadline).
    /// Costs a little speed, so it is chosen when modules are compiled.
    pub fn epoch_interruption(&mut self, enable: bool) -> &mut Config {
        self.epoch_interruption = enable;
        self
    }
}

/// What the engine knows about one canonical type.
#[derive(Clone, Debug)]
pub(crate) struct RegisteredType {
    /// The signature, for function types.
    pub func: Option<FuncType>,
    /// The declared supertype, if any (Wasm 3.0 §2.3.7 subtypes).
    pub supertype: Option<TypeId>,
}

/// Canonical types indexed by [`TypeId`].
#[derive(Default)]
pub(crate) struct TypeRegistry {
    types: Vec<Option<RegisteredType>>,
}

impl TypeRegistry {
    pub fn get(&self, id: TypeId) -> Option<&RegisteredType> {
        self.types.get(id.0 as usize).and_then(Option::as_ref)
    }

    pub fn insert(&mut self, id: TypeId, ty: RegisteredType) {
        let idx = id.0 as usize;
        if self.types.len() <= idx {
            self.types.resize(idx + 1, None);
        }
        if self.types[idx].is_none() {
            self.types[idx] = Some(ty);
        }
    }

    /// Whether `sub` is `sup` or declares it (transitively) as supertype.
    pub fn is_subtype(&self, sub: TypeId, sup: TypeId) -> bool {
        let mut cur = Some(sub);
        // Subtype chains are bounded by the validator (depth ≤ 63), so the
        // loop ends; the bound here guards against a corrupted registry.
        for _ in 0..64 {
            match cur {
                Some(id) if id == sup => return true,
                Some(id) => cur = self.get(id).and_then(|t| t.supertype),
                None => return false,
            }
        }
        false
    }

    pub fn is_func(&self, id: TypeId) -> bool {
        self.get(id).is_some_and(|t| t.func.is_some())
    }
}

pub(crate) struct EngineInner {
    pub config: Config,
    pub features: WasmFeatures,
    /// One validator for every module, so that equal types get equal
    /// `CoreTypeId`s across modules (wasmparser canonicalises rec groups in
    /// the validator's type list, which `reset` keeps).
    pub validator: Mutex<Validator>,
    pub registry: RwLock<TypeRegistry>,
    /// The epoch counter (see `vm/interrupt.rs`).
    pub epoch: Arc<AtomicU64>,
}

/// Compiles modules and owns the type registry; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<EngineInner>,
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(&Config::default())
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Engine {
    /// An engine with the given configuration.
    pub fn new(config: &Config) -> Engine {
        let features = config.features;
        Engine {
            inner: Arc::new(EngineInner {
                config: config.clone(),
                features,
                validator: Mutex::new(Validator::new_with_features(features)),
                registry: RwLock::new(TypeRegistry::default()),
                epoch: Arc::new(AtomicU64::new(0)),
            }),
        }
    }

    /// The configuration this engine was built with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Advances the epoch by one tick: every store of this engine whose
    /// deadline it reaches traps with "interrupted" at its next check
    /// (with [`Config::epoch_interruption`] on). Callable from any thread.
    pub fn increment_epoch(&self) {
        self.inner.epoch.fetch_add(1, Ordering::Release);
    }

    /// A handle that increments this engine's epoch, for another thread
    /// (a watchdog) to hold without the engine.
    pub fn interrupt_handle(&self) -> InterruptHandle {
        InterruptHandle {
            epoch: self.inner.epoch.clone(),
        }
    }

    /// Whether two engines are the same one.
    pub fn same(a: &Engine, b: &Engine) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }

    pub(crate) fn registry(&self) -> std::sync::RwLockReadGuard<'_, TypeRegistry> {
        // A poisoned lock only means another thread panicked while holding
        // it; the registry is append-only, so its data is still consistent.
        self.inner
            .registry
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn registry_mut(&self) -> std::sync::RwLockWriteGuard<'_, TypeRegistry> {
        self.inner
            .registry
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The signature registered for a canonical type id.
    pub(crate) fn func_type(&self, id: TypeId) -> Option<FuncType> {
        self.registry().get(id).and_then(|t| t.func.clone())
    }

    /// Whether canonical type `sub` matches `sup` (Wasm 3.0 §3.3.2 subtyping).
    pub(crate) fn type_matches(&self, sub: TypeId, sup: TypeId) -> bool {
        if sub == sup {
            return true;
        }
        let reg = self.registry();
        if reg.is_subtype(sub, sup) {
            return true;
        }
        // Without GC there are no rec groups and wasmparser does not
        // canonicalise ids: function types are then equal by structure.
        !self.inner.features.contains(WasmFeatures::GC)
            && matches!((reg.get(sub), reg.get(sup)), (Some(a), Some(b)) if a.func.is_some() && a.func == b.func)
    }

    /// Gives a host-defined signature its canonical id by validating a
    /// one-type module through the shared validator.
    pub(crate) fn intern_func_type(&self, ty: &FuncType) -> Result<TypeId> {
        let mut types = wasm_encoder::TypeSection::new();
        let to_enc = |v: &ValType| -> Result<wasm_encoder::ValType> { encoder_val_type(*v) };
        let params = ty.params().iter().map(to_enc).collect::<Result<Vec<_>>>()?;
        let results = ty
            .results()
            .iter()
            .map(to_enc)
            .collect::<Result<Vec<_>>>()?;
        types.ty().function(params, results);
        let mut module = wasm_encoder::Module::new();
        module.section(&types);
        let bytes = module.finish();
        let mut validator = self
            .inner
            .validator
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        validator.reset();
        let parsed = validator.validate_all(&bytes).map_err(|e| {
            Error::Compile(CompileError {
                kind: CompileErrorKind::Invalid,
                message: format!("host function type {ty}: {}", e.message()),
                offset: None,
            })
        })?;
        let core_id = parsed.as_ref().core_type_at_in_module(0);
        let id = TypeId(core_id_index(core_id));
        drop(validator);
        self.registry_mut().insert(
            id,
            RegisteredType {
                func: Some(ty.clone()),
                supertype: None,
            },
        );
        Ok(id)
    }
}

/// The proposals wrun accepts at validation by default: Wasm 3.0. Threads
/// are masked off (the WASM3 preset includes them); GC validates but is
/// refused at translation with an "unsupported" error until its tier
/// exists.
fn default_features() -> WasmFeatures {
    let mut f = WasmFeatures::WASM3;
    f.remove(WasmFeatures::THREADS);
    f.remove(WasmFeatures::SHARED_EVERYTHING_THREADS);
    f.insert(WasmFeatures::LEGACY_EXCEPTIONS);
    f
}

pub(crate) fn core_id_index(id: wasmparser::types::CoreTypeId) -> u32 {
    use wasmparser::types::TypeIdentifier;
    // Ids index the validator's type list, which is far below 2^32 entries.
    u32::try_from(id.index()).unwrap_or(u32::MAX)
}

fn encoder_val_type(v: ValType) -> Result<wasm_encoder::ValType> {
    Ok(match v {
        ValType::I32 => wasm_encoder::ValType::I32,
        ValType::I64 => wasm_encoder::ValType::I64,
        ValType::F32 => wasm_encoder::ValType::F32,
        ValType::F64 => wasm_encoder::ValType::F64,
        ValType::V128 => wasm_encoder::ValType::V128,
        ValType::Ref(RefType { nullable, heap }) => {
            use wasm_encoder::AbstractHeapType as A;
            let ty = match heap {
                HeapType::Func => A::Func,
                HeapType::Extern => A::Extern,
                HeapType::Exn => A::Exn,
                HeapType::Any => A::Any,
                HeapType::Eq => A::Eq,
                HeapType::I31 => A::I31,
                HeapType::Struct => A::Struct,
                HeapType::Array => A::Array,
                HeapType::None => A::None,
                HeapType::NoFunc => A::NoFunc,
                HeapType::NoExtern => A::NoExtern,
                HeapType::NoExn => A::NoExn,
                HeapType::Concrete(_) => {
                    return Err(Error::usage(
                        "host function signatures cannot name concrete types",
                    ));
                }
            };
            wasm_encoder::ValType::Ref(wasm_encoder::RefType {
                nullable,
                heap_type: wasm_encoder::HeapType::Abstract { shared: false, ty },
            })
        }
    })
}
