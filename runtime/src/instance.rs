//! Instances and instantiation (Wasm 3.0 §4.5.4), plus the handles of the
//! other external kinds: [`Memory`], [`Table`], [`Global`], [`Tag`].

use std::sync::Arc;

use crate::error::{Error, Result, Trap, TrapKind};
use crate::func::{Func, raw_to_val, val_to_raw};
use crate::module::{ConstExpr, ConstOp, DataMode, ElemMode, ExportIndex, ImportKind, Module};
use crate::store::{
    AsContext, AsContextMut, FuncInst, FuncKind, GlobalInst, InstanceData, MemoryInst, Store,
    StoreId, StoreInner, TableInst, TagInst,
};
use crate::types::{ExternType, FuncType, GlobalType, MemoryType, TableType, TagType, ValType};
use crate::values::{RawVal, Val};
use crate::vm::VMContext;
use crate::vm::offsets::VMOffsets;

/// Anything an instance imports or exports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A table.
    Table(Table),
    /// A linear memory.
    Memory(Memory),
    /// A global.
    Global(Global),
    /// An exception tag.
    Tag(Tag),
}

impl Extern {
    /// The function, if this is one.
    pub fn into_func(self) -> Option<Func> {
        match self {
            Extern::Func(f) => Some(f),
            _ => None,
        }
    }

    /// The memory, if this is one.
    pub fn into_memory(self) -> Option<Memory> {
        match self {
            Extern::Memory(m) => Some(m),
            _ => None,
        }
    }

    /// The table, if this is one.
    pub fn into_table(self) -> Option<Table> {
        match self {
            Extern::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The global, if this is one.
    pub fn into_global(self) -> Option<Global> {
        match self {
            Extern::Global(g) => Some(g),
            _ => None,
        }
    }

    /// The tag, if this is one.
    pub fn into_tag(self) -> Option<Tag> {
        match self {
            Extern::Tag(t) => Some(t),
            _ => None,
        }
    }

    /// The type of the entity.
    pub fn ty(&self, ctx: impl AsContext) -> ExternType {
        let ctx = ctx.as_store();
        match self {
            Extern::Func(f) => ExternType::Func(f.ty(ctx)),
            Extern::Table(t) => ExternType::Table(t.ty(ctx)),
            Extern::Memory(m) => ExternType::Memory(m.ty(ctx)),
            Extern::Global(g) => ExternType::Global(g.ty(ctx)),
            Extern::Tag(t) => ExternType::Tag(t.ty(ctx)),
        }
    }

    fn store(&self) -> StoreId {
        match self {
            Extern::Func(f) => f.store,
            Extern::Table(t) => t.store,
            Extern::Memory(m) => m.store,
            Extern::Global(g) => g.store,
            Extern::Tag(t) => t.store,
        }
    }
}

macro_rules! from_handle {
    ($($t:ident),*) => {$(
        impl From<$t> for Extern {
            fn from(x: $t) -> Extern {
                Extern::$t(x)
            }
        }
    )*};
}
from_handle!(Func, Table, Memory, Global, Tag);

/// An instantiated module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instance {
    store: StoreId,
    index: u32,
}

pub(crate) fn export_of(store: StoreId, inst: &InstanceData, name: &str) -> Option<Extern> {
    let (_, idx) = inst.module.inner.exports.iter().find(|(n, _)| n == name)?;
    Some(match *idx {
        ExportIndex::Func(i) => Extern::Func(Func {
            store,
            index: *inst.funcs.get(i as usize)?,
        }),
        ExportIndex::Table(i) => Extern::Table(Table {
            store,
            index: *inst.tables.get(i as usize)?,
        }),
        ExportIndex::Memory(i) => Extern::Memory(Memory {
            store,
            index: *inst.memories.get(i as usize)?,
        }),
        ExportIndex::Global(i) => Extern::Global(Global {
            store,
            index: *inst.globals.get(i as usize)?,
        }),
        ExportIndex::Tag(i) => Extern::Tag(Tag {
            store,
            index: *inst.tags.get(i as usize)?,
        }),
    })
}

impl Instance {
    /// Instantiates `module` with imports given in the module's import order.
    pub fn new<T: 'static>(
        mut ctx: impl AsContextMut<Data = T>,
        module: &Module,
        imports: &[Extern],
    ) -> Result<Instance> {
        instantiate(ctx.as_store_mut(), module, imports)
    }

    fn data<'s, T>(&self, store: &'s Store<T>) -> Option<&'s Arc<InstanceData>> {
        if store.id() != self.store {
            return None;
        }
        store.inner.instances.get(self.index as usize)
    }

    /// An export by name.
    pub fn get_export(&self, ctx: impl AsContext, name: &str) -> Option<Extern> {
        let store = ctx.as_store();
        export_of(self.store, self.data(store)?, name)
    }

    /// An exported function.
    pub fn get_func(&self, ctx: impl AsContext, name: &str) -> Option<Func> {
        self.get_export(ctx, name)?.into_func()
    }

    /// An exported memory.
    pub fn get_memory(&self, ctx: impl AsContext, name: &str) -> Option<Memory> {
        self.get_export(ctx, name)?.into_memory()
    }

    /// An exported global.
    pub fn get_global(&self, ctx: impl AsContext, name: &str) -> Option<Global> {
        self.get_export(ctx, name)?.into_global()
    }

    /// An exported table.
    pub fn get_table(&self, ctx: impl AsContext, name: &str) -> Option<Table> {
        self.get_export(ctx, name)?.into_table()
    }

    /// Every export, in the module's order.
    pub fn exports(&self, ctx: impl AsContext) -> Vec<(String, Extern)> {
        let store = ctx.as_store();
        let Some(data) = self.data(store) else {
            return Vec::new();
        };
        data.module
            .inner
            .exports
            .iter()
            .filter_map(|(n, _)| Some((n.clone(), export_of(self.store, data, n)?)))
            .collect()
    }

    /// The module this is an instance of.
    pub fn module(&self, ctx: impl AsContext) -> Option<Module> {
        Some(self.data(ctx.as_store())?.module.clone())
    }
}

fn link_err(imp: &crate::module::Import, why: impl std::fmt::Display) -> Error {
    Error::Link(format!("import `{}::{}`: {why}", imp.module, imp.name))
}

fn limits_match(
    have_min: u64,
    have_max: Option<u64>,
    want_min: u64,
    want_max: Option<u64>,
) -> bool {
    // Wasm 3.0 §3.4.2: import limits subsumption.
    have_min >= want_min
        && match want_max {
            None => true,
            Some(w) => have_max.is_some_and(|h| h <= w),
        }
}

fn check_import<T>(store: &Store<T>, imp: &crate::module::Import, ext: &Extern) -> Result<()> {
    store.inner.check(ext.store())?;
    let engine = &store.inner.engine;
    let incompatible = |what: String| link_err(imp, format!("incompatible import type: {what}"));
    match (&imp.kind, ext) {
        (ImportKind::Func(want), Extern::Func(f)) => {
            let have = f
                .type_id(store)
                .ok_or_else(|| incompatible("dangling function".into()))?;
            if !engine.type_matches(have, *want) {
                let want_ty = engine
                    .func_type(*want)
                    .unwrap_or_else(|| FuncType::new([], []));
                return Err(incompatible(format!(
                    "expected {want_ty}, found {}",
                    f.ty(store)
                )));
            }
        }
        (ImportKind::Table(want), Extern::Table(t)) => {
            let have = t.ty(store);
            let size = store.inner.tables[t.index as usize].len() as u64;
            if have.element != want.element
                || have.table64 != want.table64
                || !limits_match(size, have.max, want.min, want.max)
            {
                return Err(incompatible(format!(
                    "expected {}, found {}",
                    ExternType::Table(*want),
                    ExternType::Table(have)
                )));
            }
        }
        (ImportKind::Memory(want), Extern::Memory(m)) => {
            let have = m.ty(store);
            let pages = store.inner.memories[m.index as usize].pages();
            if have.memory64 != want.memory64
                || have.page_size_log2 != want.page_size_log2
                || !limits_match(pages, have.max, want.min, want.max)
            {
                return Err(incompatible(format!(
                    "expected {}, found {}",
                    ExternType::Memory(*want),
                    ExternType::Memory(have)
                )));
            }
        }
        (ImportKind::Global(want), Extern::Global(g)) => {
            let have = g.ty(store);
            let ok = have.mutable == want.mutable
                && if want.mutable {
                    have.content == want.content
                } else {
                    val_type_matches(store, have.content, want.content)
                };
            if !ok {
                return Err(incompatible(format!(
                    "expected {}, found {}",
                    ExternType::Global(*want),
                    ExternType::Global(have)
                )));
            }
        }
        (ImportKind::Tag(want), Extern::Tag(t)) => {
            let have = store.inner.tags[t.index as usize].ty;
            if have != *want {
                return Err(incompatible("tag signatures differ".into()));
            }
        }
        (want, have) => {
            let want = match want {
                ImportKind::Func(_) => "func",
                ImportKind::Table(_) => "table",
                ImportKind::Memory(_) => "memory",
                ImportKind::Global(_) => "global",
                ImportKind::Tag(_) => "tag",
            };
            return Err(incompatible(format!(
                "expected a {want}, found a {}",
                have.ty(store).kind_name()
            )));
        }
    }
    Ok(())
}

/// Value-type subtyping for immutable global imports (Wasm 3.0 §3.3.2).
fn val_type_matches<T>(store: &Store<T>, have: ValType, want: ValType) -> bool {
    use crate::types::HeapType as H;
    match (have, want) {
        (ValType::Ref(h), ValType::Ref(w)) => {
            if h.nullable && !w.nullable {
                return false;
            }
            let reg = store.inner.engine.registry();
            match (h.heap, w.heap) {
                (a, b) if a == b => true,
                (H::Concrete(a), H::Concrete(b)) => reg.is_subtype(a, b),
                (H::Concrete(a), H::Func) => reg.is_func(a),
                (H::Concrete(a), H::Any | H::Eq) => !reg.is_func(a),
                (H::NoFunc, b) => {
                    b.hierarchy(|id| reg.is_func(id)) == crate::types::RefHierarchy::Func
                }
                (H::NoExtern, H::Extern) | (H::NoExn, H::Exn) => true,
                (H::None, b) => {
                    b.hierarchy(|id| reg.is_func(id)) == crate::types::RefHierarchy::Any
                }
                (H::I31 | H::Struct | H::Array | H::Eq, H::Any) => true,
                (H::I31 | H::Struct | H::Array, H::Eq) => true,
                _ => false,
            }
        }
        (a, b) => a == b,
    }
}

/// Evaluates a constant expression in a partly built instance.
fn eval_const(
    store: &StoreInner,
    funcs: &[u32],
    globals: &[u32],
    expr: &ConstExpr,
) -> Result<RawVal> {
    // Only a global's initialiser may be a `v128`.
    Ok(eval_const_wide(store, funcs, globals, expr)? as RawVal)
}

/// Evaluates a constant expression to a value of up to 128 bits (a
/// scalar in the low 64).
fn eval_const_wide(
    store: &StoreInner,
    funcs: &[u32],
    globals: &[u32],
    expr: &ConstExpr,
) -> Result<u128> {
    let mut stack: Vec<u128> = Vec::with_capacity(2);
    let bad = || Error::usage("malformed constant expression");
    for op in expr {
        let v = match op {
            ConstOp::I32(x) => u128::from(*x as u32),
            ConstOp::I64(x) => u128::from(*x as u64),
            ConstOp::F32(x) => u128::from(*x),
            ConstOp::F64(x) => u128::from(*x),
            ConstOp::V128(x) => *x,
            ConstOp::RefNull => 0,
            ConstOp::RefFunc(i) => u128::from(*funcs.get(*i as usize).ok_or_else(bad)?) + 1,
            ConstOp::GlobalGet(i) => {
                let g = globals.get(*i as usize).ok_or_else(bad)?;
                store.globals[*g as usize].wide_value()
            }
            ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                let b = stack.pop().ok_or_else(bad)? as u32;
                let a = stack.pop().ok_or_else(bad)? as u32;
                u128::from(match op {
                    ConstOp::I32Add => a.wrapping_add(b),
                    ConstOp::I32Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                })
            }
            ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                let b = stack.pop().ok_or_else(bad)? as u64;
                let a = stack.pop().ok_or_else(bad)? as u64;
                u128::from(match op {
                    ConstOp::I64Add => a.wrapping_add(b),
                    ConstOp::I64Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                })
            }
        };
        stack.push(v);
    }
    stack.pop().ok_or_else(bad)
}

pub(crate) fn new_memory(store: &mut StoreInner, ty: MemoryType) -> Result<u32> {
    if ty.shared {
        return Err(Error::usage("shared memories (threads) are not supported"));
    }
    let config = &store.engine.inner.config;
    let (config_max, cap) = (config.max_memory_bytes, config.memory_reservation);
    let memory = MemoryInst::new(ty, config_max, cap, &mut store.budget)?;
    store.memories.push(memory);
    Ok(store.memories.len() as u32 - 1)
}

pub(crate) fn new_table(store: &mut StoreInner, ty: TableType, init: RawVal) -> Result<u32> {
    let config_max = store.engine.inner.config.max_table_elements;
    let table = TableInst::new(ty, init, config_max, &mut store.budget)?;
    store.tables.push(table);
    Ok(store.tables.len() as u32 - 1)
}

/// Wasm 1.0 §4.5.4: without bulk memory, every active segment is checked
/// before any is written, and a misfit makes the module unlinkable.
fn check_segments_fit(
    inner: &StoreInner,
    m: &crate::module::ModuleInner,
    data: &InstanceData,
) -> Result<()> {
    for seg in &m.elems {
        if let ElemMode::Active { table, offset } = &seg.mode {
            let offset = eval_const(inner, &data.funcs, &data.globals, offset)? as u32 as u64;
            let len = inner.tables[data.tables[*table as usize] as usize].len() as u64;
            if offset + seg.items.len() as u64 > len {
                return Err(Error::Link("elements segment does not fit".into()));
            }
        }
    }
    for seg in &m.datas {
        if let DataMode::Active { mem, offset } = &seg.mode {
            let offset = eval_const(inner, &data.funcs, &data.globals, offset)? as u32 as u64;
            let len = inner.memories[data.memories[*mem as usize] as usize].len() as u64;
            if offset + seg.bytes.len() as u64 > len {
                return Err(Error::Link("data segment does not fit".into()));
            }
        }
    }
    Ok(())
}

/// Points the instance's VM context at the definitions of everything it
/// imports and defines, and its own functions' references at the context.
fn fill_vmctx(
    inner: &mut StoreInner,
    data: &mut InstanceData,
    types: &[crate::types::TypeId],
    num_imported_funcs: u32,
) {
    let ctx = &mut data.vmctx;
    for (i, &m) in (0u32..).zip(&data.memories) {
        ctx.set_memory(i, inner.memories[m as usize].vm_definition());
    }
    for (i, &t) in (0u32..).zip(&data.tables) {
        ctx.set_table(i, inner.tables[t as usize].vm_definition());
    }
    for (i, &g) in (0u32..).zip(&data.globals) {
        ctx.set_global(i, inner.globals[g as usize].vm_definition());
    }
    for (i, ty) in (0u32..).zip(types) {
        ctx.set_type_id(i, ty.0);
    }
    let vmctx = ctx.as_ptr();
    for (i, &f) in (0u32..).zip(&data.funcs) {
        let func = &mut inner.funcs[f as usize];
        if i >= num_imported_funcs {
            let mut funcref = func.funcref.get();
            funcref.vmctx = vmctx;
            func.funcref.set(funcref);
        }
        ctx.set_func(i, func.funcref.as_ptr());
    }
}

pub(crate) fn instantiate<T: 'static>(
    store: &mut Store<T>,
    module: &Module,
    imports: &[Extern],
) -> Result<Instance> {
    let m = &module.inner;
    if let Some(e) = &m.unsupported {
        return Err(e.clone());
    }
    if !crate::Engine::same(&m.engine, &store.inner.engine) {
        return Err(Error::usage("module was compiled by a different engine"));
    }
    if imports.len() != m.imports.len() {
        return Err(Error::Link(format!(
            "module expects {} imports, {} given",
            m.imports.len(),
            imports.len()
        )));
    }
    let offsets = VMOffsets::for_module(m)
        .ok_or_else(|| Error::Limit("the module's index spaces are too large".into()))?;
    let instance_index = store.inner.instances.len() as u32;
    let mut data = InstanceData {
        vmctx: VMContext::new(offsets, &*store.inner.vm, instance_index),
        module: module.clone(),
        funcs: Vec::with_capacity(m.funcs.len()),
        tables: Vec::with_capacity(m.tables.len()),
        memories: Vec::with_capacity(m.memories.len()),
        globals: Vec::with_capacity(m.globals.len()),
        tags: Vec::with_capacity(m.tags.len()),
        elems: Vec::new(),
        datas: Vec::new(),
    };
    for (imp, ext) in m.imports.iter().zip(imports) {
        check_import(store, imp, ext)?;
        match ext {
            Extern::Func(f) => data.funcs.push(f.index),
            Extern::Table(t) => data.tables.push(t.index),
            Extern::Memory(mem) => data.memories.push(mem.index),
            Extern::Global(g) => data.globals.push(g.index),
            Extern::Tag(t) => data.tags.push(t.index),
        }
    }
    let inner = &mut store.inner;
    // Functions first: constant expressions may take their references.
    for (i, code) in m.code.iter().enumerate() {
        let ty = m.funcs[m.num_imported_funcs as usize + i];
        let kind = FuncKind::Wasm {
            instance: instance_index,
            code: code.clone(),
        };
        let index = inner.funcs.len() as u32;
        inner.funcs.push(FuncInst::new(ty, kind, index));
        data.funcs.push(index);
    }
    for (i, init) in m.global_inits.iter().enumerate() {
        let value = eval_const_wide(inner, &data.funcs, &data.globals, init)?;
        let ty = m.globals[m.num_imported_globals as usize + i];
        inner.globals.push(GlobalInst::new(ty, value));
        data.globals.push(inner.globals.len() as u32 - 1);
    }
    for (i, init) in m.table_inits.iter().enumerate() {
        let ty = m.tables[m.num_imported_tables as usize + i];
        let value = match init {
            Some(e) => eval_const(inner, &data.funcs, &data.globals, e)?,
            None => 0,
        };
        data.tables.push(new_table(inner, ty, value)?);
    }
    for ty in &m.memories[m.num_imported_memories as usize..] {
        data.memories.push(new_memory(inner, *ty)?);
    }
    for ty in &m.tags[m.num_imported_tags as usize..] {
        inner.tags.push(TagInst { ty: *ty });
        data.tags.push(inner.tags.len() as u32 - 1);
    }
    fill_vmctx(inner, &mut data, &m.types, m.num_imported_funcs);
    for seg in &m.elems {
        let items = seg
            .items
            .iter()
            .map(|e| eval_const(inner, &data.funcs, &data.globals, e))
            .collect::<Result<Vec<_>>>()?;
        inner.elems.push(items);
        data.elems.push(inner.elems.len() as u32 - 1);
    }
    for seg in &m.datas {
        inner.datas.push(Some(seg.bytes.clone()));
        data.datas.push(inner.datas.len() as u32 - 1);
    }
    let data = Arc::new(data);
    inner.instances.push(data.clone());
    let instance = Instance {
        store: inner.id,
        index: instance_index,
    };

    if !inner
        .engine
        .inner
        .features
        .contains(wasmparser::WasmFeatures::BULK_MEMORY)
    {
        check_segments_fit(inner, m, &data)?;
    }
    // Active segments, in order (Wasm 3.0 §4.5.4 steps 14–15): a segment
    // out of bounds traps, leaving earlier writes in place.
    for (i, seg) in m.elems.iter().enumerate() {
        let store_elem = data.elems[i] as usize;
        match &seg.mode {
            ElemMode::Active { table, offset } => {
                let offset = eval_const(inner, &data.funcs, &data.globals, offset)?;
                let table_index = data.tables[*table as usize] as usize;
                let t = &mut inner.tables[table_index];
                let offset = if t.ty.table64 {
                    offset
                } else {
                    offset as u32 as u64
                };
                let items = std::mem::take(&mut inner.elems[store_elem]);
                let t = &mut inner.tables[table_index];
                let end = offset.checked_add(items.len() as u64);
                match end {
                    Some(end) if end <= t.len() as u64 => {
                        t.elems_mut()[offset as usize..end as usize].copy_from_slice(&items);
                    }
                    _ => return Err(Trap::new(TrapKind::TableOutOfBounds).into()),
                }
            }
            ElemMode::Declared => inner.elems[store_elem].clear(),
            ElemMode::Passive => {}
        }
    }
    for (i, seg) in m.datas.iter().enumerate() {
        if let DataMode::Active { mem, offset } = &seg.mode {
            let offset = eval_const(inner, &data.funcs, &data.globals, offset)?;
            let mem_index = data.memories[*mem as usize] as usize;
            let memory = &mut inner.memories[mem_index];
            let offset = if memory.ty.memory64 {
                offset
            } else {
                offset as u32 as u64
            };
            let end = offset.checked_add(seg.bytes.len() as u64);
            match end {
                Some(end) if end <= memory.len() as u64 => {
                    memory.bytes_mut()[offset as usize..end as usize].copy_from_slice(&seg.bytes);
                }
                _ => return Err(Trap::new(TrapKind::MemoryOutOfBounds).into()),
            }
            inner.datas[data.datas[i] as usize] = None;
        }
    }
    if let Some(start) = m.start {
        let f = Func {
            store: inner.id,
            index: data.funcs[start as usize],
        };
        f.call(&mut *store, &[], &mut [])?;
    }
    Ok(instance)
}

/// Fails loudly when a handle is used with a foreign store: an embedder bug
/// that must not silently read another store's entity (wasmtime does the same).
fn own<T>(store: &Store<T>, id: StoreId, what: &str) {
    assert!(
        store.id() == id,
        "{what} handle used with a store it does not belong to"
    );
}

/// A linear memory in a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

impl Memory {
    /// A new host-created memory.
    pub fn new<T>(mut ctx: impl AsContextMut<Data = T>, ty: MemoryType) -> Result<Memory> {
        let store = ctx.as_store_mut();
        let index = new_memory(&mut store.inner, ty)?;
        Ok(Memory {
            store: store.id(),
            index,
        })
    }

    fn inst<'s, T>(&self, store: &'s Store<T>) -> &'s MemoryInst {
        own(store, self.store, "Memory");
        &store.inner.memories[self.index as usize]
    }

    /// The memory's type (its minimum is the current size).
    pub fn ty(&self, ctx: impl AsContext) -> MemoryType {
        let m = self.inst(ctx.as_store());
        MemoryType {
            min: m.pages(),
            ..m.ty
        }
    }

    /// The size in pages.
    pub fn size(&self, ctx: impl AsContext) -> u64 {
        self.inst(ctx.as_store()).pages()
    }

    /// The contents.
    pub fn data<'s, T: 's>(&self, ctx: &'s impl AsContext<Data = T>) -> &'s [u8] {
        self.inst(ctx.as_store()).bytes()
    }

    /// The contents, mutably.
    pub fn data_mut<'s, T: 's>(&self, ctx: &'s mut impl AsContextMut<Data = T>) -> &'s mut [u8] {
        let store = ctx.as_store_mut();
        own(store, self.store, "Memory");
        store.inner.memories[self.index as usize].bytes_mut()
    }

    /// Grows by `delta` pages; returns the old size.
    pub fn grow<T>(&self, mut ctx: impl AsContextMut<Data = T>, delta: u64) -> Result<u64> {
        let store = ctx.as_store_mut();
        store.inner.check(self.store)?;
        let inner = &mut store.inner;
        inner.memories[self.index as usize]
            .grow(delta, &mut inner.budget)
            .ok_or_else(|| Error::Limit(format!("cannot grow memory by {delta} pages")))
    }
}

/// A table in a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Table {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

impl Table {
    /// A new host-created table filled with `init`.
    pub fn new<T>(mut ctx: impl AsContextMut<Data = T>, ty: TableType, init: Val) -> Result<Table> {
        let store = ctx.as_store_mut();
        let raw = val_to_raw(store, &init, ValType::Ref(ty.element))?;
        let index = new_table(&mut store.inner, ty, raw)?;
        Ok(Table {
            store: store.id(),
            index,
        })
    }

    /// The table's type (its minimum is the current size).
    pub fn ty(&self, ctx: impl AsContext) -> TableType {
        own(ctx.as_store(), self.store, "Table");
        let t = &ctx.as_store().inner.tables[self.index as usize];
        TableType {
            min: t.len() as u64,
            ..t.ty
        }
    }

    /// The size in elements.
    pub fn size(&self, ctx: impl AsContext) -> u64 {
        own(ctx.as_store(), self.store, "Table");
        ctx.as_store().inner.tables[self.index as usize].len() as u64
    }

    /// The element at `index`, if in bounds.
    pub fn get(&self, ctx: impl AsContext, index: u64) -> Option<Val> {
        let store = ctx.as_store();
        own(store, self.store, "Table");
        let t = &store.inner.tables[self.index as usize];
        let cell = *t.elems().get(usize::try_from(index).ok()?)?;
        Some(raw_to_val(store, cell, ValType::Ref(t.ty.element)))
    }

    /// Sets the element at `index`.
    pub fn set<T>(&self, mut ctx: impl AsContextMut<Data = T>, index: u64, v: Val) -> Result<()> {
        let store = ctx.as_store_mut();
        store.inner.check(self.store)?;
        let elem = store.inner.tables[self.index as usize].ty.element;
        let raw = val_to_raw(store, &v, ValType::Ref(elem))?;
        let t = &mut store.inner.tables[self.index as usize];
        let slot = usize::try_from(index)
            .ok()
            .and_then(|i| t.elems_mut().get_mut(i))
            .ok_or_else(|| Error::from(TrapKind::TableOutOfBounds))?;
        *slot = raw;
        Ok(())
    }

    /// Grows by `delta` elements set to `init`; returns the old size.
    pub fn grow<T>(
        &self,
        mut ctx: impl AsContextMut<Data = T>,
        delta: u64,
        init: Val,
    ) -> Result<u64> {
        let store = ctx.as_store_mut();
        store.inner.check(self.store)?;
        let elem = store.inner.tables[self.index as usize].ty.element;
        let raw = val_to_raw(store, &init, ValType::Ref(elem))?;
        let inner = &mut store.inner;
        inner.tables[self.index as usize]
            .grow(delta, raw, &mut inner.budget)
            .ok_or_else(|| Error::Limit(format!("cannot grow table by {delta} elements")))
    }
}

/// A host value as a global holds it: a `v128` whole, a scalar in the
/// low 64 bits.
fn val_to_wide<T>(store: &Store<T>, v: &Val, ty: ValType) -> Result<u128> {
    let mut cells = Vec::with_capacity(2);
    crate::func::push_cells(store, v, ty, &mut cells)?;
    let cell = |i: usize| cells.get(i).copied().unwrap_or(0);
    Ok(crate::values::v128_from_cells(cell(0), cell(1)))
}

/// A global in a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Global {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

impl Global {
    /// A new host-created global.
    pub fn new<T>(mut ctx: impl AsContextMut<Data = T>, ty: GlobalType, v: Val) -> Result<Global> {
        let store = ctx.as_store_mut();
        let value = val_to_wide(store, &v, ty.content)?;
        store.inner.globals.push(GlobalInst::new(ty, value));
        Ok(Global {
            store: store.id(),
            index: store.inner.globals.len() as u32 - 1,
        })
    }

    /// The global's type.
    pub fn ty(&self, ctx: impl AsContext) -> GlobalType {
        own(ctx.as_store(), self.store, "Global");
        ctx.as_store().inner.globals[self.index as usize].ty
    }

    /// The current value.
    pub fn get(&self, ctx: impl AsContext) -> Val {
        let store = ctx.as_store();
        own(store, self.store, "Global");
        let g = &store.inner.globals[self.index as usize];
        let [lo, hi] = crate::values::v128_to_cells(g.wide_value());
        crate::func::cells_to_vals(store, &[lo, hi], &[g.ty.content])
            .pop()
            .unwrap_or(Val::I32(0))
    }

    /// Sets the value of a mutable global.
    pub fn set<T>(&self, mut ctx: impl AsContextMut<Data = T>, v: Val) -> Result<()> {
        let store = ctx.as_store_mut();
        store.inner.check(self.store)?;
        let ty = store.inner.globals[self.index as usize].ty;
        if !ty.mutable {
            return Err(Error::usage("cannot set an immutable global"));
        }
        let value = val_to_wide(store, &v, ty.content)?;
        store.inner.globals[self.index as usize].set_value(value);
        Ok(())
    }
}

/// An exception tag in a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

impl Tag {
    /// A new host-created tag with the given payload signature.
    pub fn new<T>(mut ctx: impl AsContextMut<Data = T>, ty: &FuncType) -> Result<Tag> {
        let store = ctx.as_store_mut();
        let id = store.inner.engine.intern_func_type(ty)?;
        store.inner.tags.push(TagInst { ty: id });
        Ok(Tag {
            store: store.id(),
            index: store.inner.tags.len() as u32 - 1,
        })
    }

    /// The tag's type.
    pub fn ty(&self, ctx: impl AsContext) -> TagType {
        let store = ctx.as_store();
        own(store, self.store, "Tag");
        let id = store.inner.tags[self.index as usize].ty;
        TagType {
            type_id: id,
            func: store
                .inner
                .engine
                .func_type(id)
                .unwrap_or_else(|| FuncType::new([], [])),
        }
    }
}
