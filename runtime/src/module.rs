//! Compiling a module: decode, validate, convert types to canonical ids and
//! translate every function body into interpreter code, once.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use wasmparser::{
    CompositeInnerType, ExternalKind, FuncValidatorAllocations, Name, NameSectionReader, Parser,
    Payload, TypeRef, ValidPayload, Validator,
};

use crate::engine::{Engine, RegisteredType, core_id_index};
use crate::error::{CompileError, CompileErrorKind, Error, Result};
use crate::interp::code::CompiledFunc;
use crate::interp::translate::{FuncTranslator, ModuleContext, RuntimeChecks};
use crate::types::{
    ExternType, FuncType, GlobalType, HeapType, MemoryType, RefType, TableType, TagType, TypeId,
    ValType,
};

/// One operator of a constant expression (Wasm 3.0 §3.3.10, extended-const).
#[derive(Clone, Debug)]
pub(crate) enum ConstOp {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
    V128(u128),
    RefNull,
    RefFunc(u32),
    GlobalGet(u32),
    I32Add,
    I32Sub,
    I32Mul,
    I64Add,
    I64Sub,
    I64Mul,
}

/// A constant expression, evaluated at instantiation.
pub(crate) type ConstExpr = Vec<ConstOp>;

#[derive(Clone, Debug)]
pub(crate) enum ImportKind {
    Func(TypeId),
    Table(TableType),
    Memory(MemoryType),
    Global(GlobalType),
    Tag(TypeId),
}

#[derive(Clone, Debug)]
pub(crate) struct Import {
    pub module: String,
    pub name: String,
    pub kind: ImportKind,
}

/// The kind of an exported entity and its index in the module's space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExportIndex {
    Func(u32),
    Table(u32),
    Memory(u32),
    Global(u32),
    Tag(u32),
}

#[derive(Clone, Debug)]
pub(crate) enum ElemMode {
    Passive,
    Declared,
    Active { table: u32, offset: ConstExpr },
}

#[derive(Clone, Debug)]
pub(crate) struct ElemSegment {
    pub mode: ElemMode,
    pub items: Vec<ConstExpr>,
}

#[derive(Clone, Debug)]
pub(crate) enum DataMode {
    Passive,
    Active { mem: u32, offset: ConstExpr },
}

#[derive(Clone, Debug)]
pub(crate) struct DataSegment {
    pub mode: DataMode,
    pub bytes: Arc<[u8]>,
}

/// A section's name, byte offset and size, for `wrun inspect`.
#[derive(Clone, Debug)]
pub struct SectionInfo {
    /// The section's name (`type`, `code`, or a custom section's name).
    pub name: String,
    /// Offset of the section's contents in the binary.
    pub offset: u64,
    /// Size of the contents in bytes.
    pub size: u64,
}

/// Everything known about a compiled module; shared by its instances.
#[derive(Debug)]
pub(crate) struct ModuleInner {
    pub engine: Engine,
    pub name: Option<String>,
    /// Module type index → canonical id.
    pub types: Vec<TypeId>,
    pub imports: Vec<Import>,
    /// Canonical signature of every function, imported ones first.
    pub funcs: Vec<TypeId>,
    pub num_imported_funcs: u32,
    pub tables: Vec<TableType>,
    /// Initial value of each defined table (None: null).
    pub table_inits: Vec<Option<ConstExpr>>,
    pub num_imported_tables: u32,
    pub memories: Vec<MemoryType>,
    pub num_imported_memories: u32,
    pub globals: Vec<GlobalType>,
    pub global_inits: Vec<ConstExpr>,
    pub num_imported_globals: u32,
    pub tags: Vec<TypeId>,
    pub num_imported_tags: u32,
    pub exports: Vec<(String, ExportIndex)>,
    pub start: Option<u32>,
    pub elems: Vec<ElemSegment>,
    pub datas: Vec<DataSegment>,
    pub code: Vec<Arc<CompiledFunc>>,
    pub func_names: HashMap<u32, String>,
    pub sections: Vec<SectionInfo>,
    pub features_used: BTreeSet<&'static str>,
    /// Why the module cannot run, for a module compiled for inspection
    /// only (`Module::for_inspection`); such a module has no code.
    pub unsupported: Option<Error>,
    /// Machine code for the whole module (`Strategy::Jit`), if the JIT
    /// compiled it.
    pub jit: Option<crate::tier::JitModule>,
    /// Why the JIT did not compile it, when asked to.
    pub jit_fallback: Option<String>,
}

/// A compiled module, ready to instantiate; cheap to clone.
#[derive(Clone, Debug)]
pub struct Module {
    pub(crate) inner: Arc<ModuleInner>,
}

/// An import of a module: where from and of what type.
#[derive(Clone, Debug)]
pub struct ImportType<'a> {
    /// The module name.
    pub module: &'a str,
    /// The field name.
    pub name: &'a str,
    /// The expected type.
    pub ty: ExternType,
}

/// An export of a module.
#[derive(Clone, Debug)]
pub struct ExportType<'a> {
    /// The export name.
    pub name: &'a str,
    /// The exported entity's type.
    pub ty: ExternType,
}

fn compile_err(kind: CompileErrorKind, message: impl Into<String>, offset: u64) -> Error {
    Error::Compile(CompileError {
        kind,
        message: message.into(),
        offset: Some(offset),
    })
}

pub(crate) fn unsupported(what: &str, offset: u64) -> Error {
    compile_err(CompileErrorKind::Unsupported, what, offset)
}

fn from_wasmparser(e: wasmparser::BinaryReaderError) -> Error {
    // wasmparser does not separate decoding from validation errors in its
    // type; messages of decoding failures are the "malformed" ones.
    let msg = e.message().to_string();
    let malformed = [
        "unexpected end",
        "malformed",
        "invalid leb",
        "integer representation too long",
        "integer too large",
        "magic header",
        "unknown binary version",
        "section size mismatch",
        "unexpected content after last section",
        "invalid section",
        "out of bounds",
        "length out of bounds",
        "too many locals",
        "invalid utf-8",
        "illegal opcode",
        "unknown operator",
        "invalid var_u32",
        "trailing bytes",
    ]
    .iter()
    .any(|m| msg.contains(m));
    let kind = if malformed {
        CompileErrorKind::Malformed
    } else {
        CompileErrorKind::Invalid
    };
    compile_err(kind, msg, e.offset())
}

impl Module {
    /// Compiles a module from its binary or text (`.wat`) form.
    pub fn new(engine: &Engine, bytes: impl AsRef<[u8]>) -> Result<Module> {
        let bytes = bytes.as_ref();
        if bytes.starts_with(b"\0asm") {
            return Module::from_binary(engine, bytes);
        }
        let binary = wat::parse_bytes(bytes).map_err(|e| {
            Error::Compile(CompileError {
                kind: CompileErrorKind::Malformed,
                message: format!("text format: {e}"),
                offset: None,
            })
        })?;
        Module::from_binary(engine, &binary)
    }

    /// Compiles a module from a file (binary or text).
    pub fn from_file(engine: &Engine, path: impl AsRef<Path>) -> Result<Module> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| Error::Usage(format!("cannot read {}: {e}", path.display())))?;
        Module::new(engine, &bytes).map_err(|e| match e {
            Error::Compile(mut c) => {
                c.message = format!("{}: {}", path.display(), c.message);
                Error::Compile(c)
            }
            other => other,
        })
    }

    /// Validates a binary module without translating it.
    pub fn validate(engine: &Engine, bytes: &[u8]) -> Result<()> {
        Validator::new_with_features(engine.inner.features)
            .validate_all(bytes)
            .map(|_| ())
            .map_err(from_wasmparser)
    }

    /// Compiles a binary module.
    pub fn from_binary(engine: &Engine, bytes: &[u8]) -> Result<Module> {
        let module = Module::for_inspection(engine, bytes)?;
        match &module.inner.unsupported {
            Some(e) => Err(e.clone()),
            None => Ok(module),
        }
    }

    /// Decodes and validates a binary module for its imports, exports,
    /// sections and features, even if it uses something wrun cannot run
    /// yet (GC). Instantiating such a module fails with the
    /// "unsupported" error; `Module::unsupported` tells it up front.
    pub fn for_inspection(engine: &Engine, bytes: &[u8]) -> Result<Module> {
        // Pass 1 reports errors with a throwaway validator: the engine's
        // shared validator cannot be reset after a failed validation.
        Module::validate(engine, bytes)?;
        let mut validator = engine
            .inner
            .validator
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        validator.reset();
        let result = compile_validated(engine, &mut validator, bytes);
        if let Err(Error::Compile(_)) = &result {
            // Unreachable after pass 1; if it happens anyway, start a fresh
            // shared validator rather than leave a poisoned one behind.
            *validator = Validator::new_with_features(engine.inner.features);
        }
        drop(validator);
        let mut inner = result?;
        if inner.unsupported.is_none() {
            (inner.jit, inner.jit_fallback) = crate::tier::compile(engine, &inner, bytes);
        }
        Ok(Module {
            inner: Arc::new(inner),
        })
    }

    /// Why the module cannot be instantiated, if it was compiled with
    /// [`Module::for_inspection`] and uses something wrun does not run yet.
    pub fn unsupported(&self) -> Option<&Error> {
        self.inner.unsupported.as_ref()
    }

    /// Whether the module runs as machine code (the engine asked for the
    /// JIT and it compiled the whole module).
    pub fn is_compiled(&self) -> bool {
        self.inner.jit.is_some()
    }

    /// Why the JIT left this module to the interpreter, when the engine
    /// asked for the JIT.
    pub fn jit_fallback(&self) -> Option<&str> {
        self.inner.jit_fallback.as_deref()
    }

    /// The module's name from its name section.
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// The engine the module was compiled with.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The module's imports, in order.
    pub fn imports(&self) -> impl Iterator<Item = ImportType<'_>> + '_ {
        self.inner.imports.iter().map(|imp| ImportType {
            module: &imp.module,
            name: &imp.name,
            ty: self.import_type(&imp.kind),
        })
    }

    /// The module's exports, in order.
    pub fn exports(&self) -> impl Iterator<Item = ExportType<'_>> + '_ {
        self.inner.exports.iter().map(|(name, idx)| ExportType {
            name,
            ty: self.export_type(*idx),
        })
    }

    /// The types of every memory, imported ones first (memory 0 decides
    /// whether WASI pointers are 32- or 64-bit).
    pub fn memory_types(&self) -> &[MemoryType] {
        &self.inner.memories
    }

    /// The module's sections in binary order.
    pub fn sections(&self) -> &[SectionInfo] {
        &self.inner.sections
    }

    /// The proposals the module uses beyond Wasm 1.0, as `wrun features` names them.
    pub fn features_used(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.inner.features_used.iter().copied()
    }

    fn func_type(&self, id: TypeId) -> FuncType {
        self.inner
            .engine
            .func_type(id)
            .unwrap_or_else(|| FuncType::new([], []))
    }

    fn import_type(&self, kind: &ImportKind) -> ExternType {
        match kind {
            ImportKind::Func(id) => ExternType::Func(self.func_type(*id)),
            ImportKind::Table(t) => ExternType::Table(*t),
            ImportKind::Memory(m) => ExternType::Memory(*m),
            ImportKind::Global(g) => ExternType::Global(*g),
            ImportKind::Tag(id) => ExternType::Tag(TagType {
                type_id: *id,
                func: self.func_type(*id),
            }),
        }
    }

    fn export_type(&self, idx: ExportIndex) -> ExternType {
        let m = &self.inner;
        let get = |v: Option<ExternType>| v.unwrap_or(ExternType::Func(FuncType::new([], [])));
        match idx {
            ExportIndex::Func(i) => get(m
                .funcs
                .get(i as usize)
                .map(|id| ExternType::Func(self.func_type(*id)))),
            ExportIndex::Table(i) => get(m.tables.get(i as usize).map(|t| ExternType::Table(*t))),
            ExportIndex::Memory(i) => {
                get(m.memories.get(i as usize).map(|t| ExternType::Memory(*t)))
            }
            ExportIndex::Global(i) => {
                get(m.globals.get(i as usize).map(|t| ExternType::Global(*t)))
            }
            ExportIndex::Tag(i) => get(m.tags.get(i as usize).map(|id| {
                ExternType::Tag(TagType {
                    type_id: *id,
                    func: self.func_type(*id),
                })
            })),
        }
    }
}

/// Converts a validated value type; concrete indices are canonical ids.
pub(crate) fn convert_val_type(types: &[TypeId], v: wasmparser::ValType) -> Result<ValType> {
    Ok(match v {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(r) => ValType::Ref(convert_ref_type(types, r)?),
    })
}

pub(crate) fn convert_ref_type(types: &[TypeId], r: wasmparser::RefType) -> Result<RefType> {
    Ok(RefType {
        nullable: r.is_nullable(),
        heap: convert_heap_type(types, r.heap_type())?,
    })
}

pub(crate) fn convert_heap_type(types: &[TypeId], h: wasmparser::HeapType) -> Result<HeapType> {
    use wasmparser::AbstractHeapType as A;
    let idx = |i: wasmparser::UnpackedIndex| -> Result<HeapType> {
        match i {
            wasmparser::UnpackedIndex::Id(id) => Ok(HeapType::Concrete(TypeId(core_id_index(id)))),
            wasmparser::UnpackedIndex::Module(m) => types
                .get(m as usize)
                .map(|t| HeapType::Concrete(*t))
                .ok_or_else(|| Error::usage(format!("type index {m} out of range"))),
            wasmparser::UnpackedIndex::RecGroup(_) => Err(Error::usage(
                "rec-group-relative type index after canonicalisation",
            )),
        }
    };
    Ok(match h {
        wasmparser::HeapType::Abstract { ty, .. } => match ty {
            A::Func => HeapType::Func,
            A::Extern => HeapType::Extern,
            A::Any => HeapType::Any,
            A::None => HeapType::None,
            A::NoExtern => HeapType::NoExtern,
            A::NoFunc => HeapType::NoFunc,
            A::Eq => HeapType::Eq,
            A::Struct => HeapType::Struct,
            A::Array => HeapType::Array,
            A::I31 => HeapType::I31,
            A::Exn => HeapType::Exn,
            A::NoExn => HeapType::NoExn,
            A::Cont | A::NoCont => {
                return Err(Error::usage(
                    "stack-switching continuations are unsupported",
                ));
            }
        },
        wasmparser::HeapType::Concrete(i) | wasmparser::HeapType::Exact(i) => idx(i)?,
    })
}

fn convert_table_type(types: &[TypeId], t: wasmparser::TableType) -> Result<TableType> {
    Ok(TableType {
        element: convert_ref_type(types, t.element_type)?,
        min: t.initial,
        max: t.maximum,
        table64: t.table64,
    })
}

fn convert_memory_type(m: wasmparser::MemoryType) -> MemoryType {
    MemoryType {
        min: m.initial,
        max: m.maximum,
        memory64: m.memory64,
        shared: m.shared,
        page_size_log2: m.page_size_log2.map(|p| p as u8).unwrap_or(16),
    }
}

fn convert_global_type(types: &[TypeId], g: wasmparser::GlobalType) -> Result<GlobalType> {
    Ok(GlobalType {
        content: convert_val_type(types, g.content_type)?,
        mutable: g.mutable,
    })
}

/// Reads a constant expression into [`ConstOp`]s.
fn read_const_expr(
    types: &[TypeId],
    expr: &wasmparser::ConstExpr<'_>,
    features: &mut BTreeSet<&'static str>,
) -> Result<ConstExpr> {
    use wasmparser::Operator as O;
    let mut ops = Vec::new();
    let mut reader = expr.get_operators_reader();
    while !reader.eof() {
        let offset = reader.original_position();
        let op = reader.read().map_err(from_wasmparser)?;
        ops.push(match op {
            O::I32Const { value } => ConstOp::I32(value),
            O::I64Const { value } => ConstOp::I64(value),
            O::F32Const { value } => ConstOp::F32(value.bits()),
            O::F64Const { value } => ConstOp::F64(value.bits()),
            O::V128Const { value } => {
                features.insert("simd");
                ConstOp::V128(u128::from_le_bytes(*value.bytes()))
            }
            O::RefNull { hty } => {
                // Checked for convertibility; the null cell needs no type.
                convert_heap_type(types, hty)?;
                ConstOp::RefNull
            }
            O::RefFunc { function_index } => ConstOp::RefFunc(function_index),
            O::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
            O::I32Add | O::I32Sub | O::I32Mul | O::I64Add | O::I64Sub | O::I64Mul => {
                features.insert("extended-const");
                match op {
                    O::I32Add => ConstOp::I32Add,
                    O::I32Sub => ConstOp::I32Sub,
                    O::I32Mul => ConstOp::I32Mul,
                    O::I64Add => ConstOp::I64Add,
                    O::I64Sub => ConstOp::I64Sub,
                    _ => ConstOp::I64Mul,
                }
            }
            O::End => continue,
            other => {
                return Err(unsupported(
                    &format!("constant expression operator {other:?} (GC)"),
                    offset,
                ));
            }
        });
    }
    Ok(ops)
}

fn section_name(payload: &Payload<'_>) -> Option<(String, std::ops::Range<u64>)> {
    Some(match payload {
        Payload::TypeSection(s) => ("type".into(), s.range()),
        Payload::ImportSection(s) => ("import".into(), s.range()),
        Payload::FunctionSection(s) => ("function".into(), s.range()),
        Payload::TableSection(s) => ("table".into(), s.range()),
        Payload::MemorySection(s) => ("memory".into(), s.range()),
        Payload::TagSection(s) => ("tag".into(), s.range()),
        Payload::GlobalSection(s) => ("global".into(), s.range()),
        Payload::ExportSection(s) => ("export".into(), s.range()),
        Payload::StartSection { range, .. } => ("start".into(), range.clone()),
        Payload::ElementSection(s) => ("element".into(), s.range()),
        Payload::DataCountSection { range, .. } => ("datacount".into(), range.clone()),
        Payload::DataSection(s) => ("data".into(), s.range()),
        Payload::CodeSectionStart {
            unchecked_range, ..
        } => ("code".into(), unchecked_range.clone()),
        Payload::CustomSection(c) => (format!("custom:{}", c.name()), c.range()),
        _ => return None,
    })
}

/// Pass 2: walk the module with the engine's shared validator, recording
/// everything and translating each function while validating it.
fn compile_validated(
    engine: &Engine,
    validator: &mut Validator,
    bytes: &[u8],
) -> Result<ModuleInner> {
    let mut m = ModuleInner {
        engine: engine.clone(),
        name: None,
        types: Vec::new(),
        imports: Vec::new(),
        funcs: Vec::new(),
        num_imported_funcs: 0,
        tables: Vec::new(),
        table_inits: Vec::new(),
        num_imported_tables: 0,
        memories: Vec::new(),
        num_imported_memories: 0,
        globals: Vec::new(),
        global_inits: Vec::new(),
        num_imported_globals: 0,
        tags: Vec::new(),
        num_imported_tags: 0,
        exports: Vec::new(),
        start: None,
        elems: Vec::new(),
        datas: Vec::new(),
        code: Vec::new(),
        func_names: HashMap::new(),
        sections: Vec::new(),
        features_used: BTreeSet::new(),
        unsupported: None,
        jit: None,
        jit_fallback: None,
    };
    // An unsupported construct is remembered, not returned at once: the
    // shared validator must see the whole module to stay reusable.
    let mut deferred: Option<Error> = None;
    let mut allocs = FuncValidatorAllocations::default();
    let checks = RuntimeChecks {
        consume_fuel: engine.inner.config.consume_fuel,
        epoch_interruption: engine.inner.config.epoch_interruption,
    };

    let mut v128_types: Option<bool> = None;
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(from_wasmparser)?;
        if let Some((name, range)) = section_name(&payload) {
            m.sections.push(SectionInfo {
                name,
                offset: range.start,
                size: range.end - range.start,
            });
        }
        let valid = validator.payload(&payload).map_err(from_wasmparser)?;
        let step = record_payload(&mut m, validator, &payload);
        if let Err(e) = step {
            deferred.get_or_insert(e);
        }
        match valid {
            ValidPayload::Func(to_validate, body) => {
                let mut fv = to_validate.into_validator(std::mem::take(&mut allocs));
                if deferred.is_none() {
                    // The type, global and tag sections precede the code.
                    let v128_types = *v128_types.get_or_insert_with(|| types_hold_v128(&m));
                    let ctx = ModuleContext {
                        module: &m,
                        v128_types,
                    };
                    match FuncTranslator::translate(&ctx, &mut fv, &body, checks) {
                        Ok((func, used)) => {
                            m.features_used.extend(used);
                            m.code.push(Arc::new(func));
                        }
                        Err(e) => {
                            if let Error::Compile(c) = &e {
                                for (word, feature) in
                                    [("SIMD", "simd"), ("GC", "gc"), ("threads", "threads")]
                                {
                                    if c.message.contains(word) {
                                        m.features_used.insert(feature);
                                    }
                                }
                            }
                            // The module validator does not depend on this
                            // body's validator, so abandoning it is fine.
                            deferred = Some(e);
                        }
                    }
                } else {
                    fv.validate(&body).map_err(from_wasmparser)?;
                }
                allocs = fv.into_allocations();
            }
            ValidPayload::End(_) => break,
            _ => {}
        }
    }
    if let Some(e) = deferred {
        // Only "unsupported" errors are deferred; the module stays
        // inspectable but cannot run.
        m.code.clear();
        m.unsupported = Some(e);
    }
    Ok(m)
}

fn record_payload(m: &mut ModuleInner, validator: &Validator, payload: &Payload<'_>) -> Result<()> {
    match payload {
        Payload::TypeSection(section) => {
            let types = validator
                .types(0)
                .ok_or_else(|| Error::usage("validator lost the module's types"))?;
            let first = m.types.len() as u32;
            let count = types.core_type_count_in_module();
            for i in first..count {
                let id = types.core_type_at_in_module(i);
                let canonical = TypeId(core_id_index(id));
                m.types.push(canonical);
            }
            // Register signatures and supertypes (now that all ids of the
            // section are known, concrete references convert).
            let mut regs = Vec::new();
            for i in first..count {
                let id = types.core_type_at_in_module(i);
                let sub = &types[id];
                let func = match &sub.composite_type.inner {
                    CompositeInnerType::Func(f) => {
                        let params = f
                            .params()
                            .iter()
                            .map(|v| convert_val_type(&m.types, *v))
                            .collect::<Result<Vec<_>>>()?;
                        let results = f
                            .results()
                            .iter()
                            .map(|v| convert_val_type(&m.types, *v))
                            .collect::<Result<Vec<_>>>()?;
                        Some(FuncType::new(params, results))
                    }
                    _ => {
                        m.features_used.insert("gc");
                        None
                    }
                };
                if !sub.is_final || !sub.supertype_idxs.is_empty() {
                    m.features_used.insert("gc");
                }
                let supertype = types.supertype_of(id).map(|s| TypeId(core_id_index(s)));
                regs.push((
                    TypeId(core_id_index(id)),
                    RegisteredType { func, supertype },
                ));
            }
            let mut reg = m.engine.registry_mut();
            for (id, ty) in regs {
                reg.insert(id, ty);
            }
            let _ = section;
        }
        Payload::ImportSection(section) => {
            for imp in section.clone().into_imports() {
                let imp = imp.map_err(from_wasmparser)?;
                let kind = match imp.ty {
                    TypeRef::Func(i) | TypeRef::FuncExact(i) => {
                        let id = type_at(m, i)?;
                        m.funcs.push(id);
                        m.num_imported_funcs += 1;
                        ImportKind::Func(id)
                    }
                    TypeRef::Table(t) => {
                        let t = convert_table_type(&m.types, t)?;
                        m.tables.push(t);
                        m.num_imported_tables += 1;
                        ImportKind::Table(t)
                    }
                    TypeRef::Memory(mt) => {
                        let mt = convert_memory_type(mt);
                        note_memory_features(m, &mt);
                        m.memories.push(mt);
                        m.num_imported_memories += 1;
                        ImportKind::Memory(mt)
                    }
                    TypeRef::Global(g) => {
                        let g = convert_global_type(&m.types, g)?;
                        if g.mutable {
                            m.features_used.insert("mutable-global");
                        }
                        m.globals.push(g);
                        m.num_imported_globals += 1;
                        ImportKind::Global(g)
                    }
                    TypeRef::Tag(t) => {
                        let id = type_at(m, t.func_type_idx)?;
                        m.tags.push(id);
                        m.num_imported_tags += 1;
                        m.features_used.insert("exceptions");
                        ImportKind::Tag(id)
                    }
                };
                m.imports.push(Import {
                    module: imp.module.to_string(),
                    name: imp.name.to_string(),
                    kind,
                });
            }
        }
        Payload::FunctionSection(section) => {
            for ty in section.clone() {
                let ty = ty.map_err(from_wasmparser)?;
                let id = type_at(m, ty)?;
                m.funcs.push(id);
            }
        }
        Payload::TableSection(section) => {
            for table in section.clone() {
                let table = table.map_err(from_wasmparser)?;
                let t = convert_table_type(&m.types, table.ty)?;
                if t.table64 {
                    m.features_used.insert("memory64");
                }
                m.tables.push(t);
                let init = match table.init {
                    wasmparser::TableInit::RefNull => None,
                    wasmparser::TableInit::Expr(e) => {
                        m.features_used.insert("function-references");
                        Some(read_const_expr(&m.types, &e, &mut m.features_used)?)
                    }
                };
                m.table_inits.push(init);
            }
        }
        Payload::MemorySection(section) => {
            for mem in section.clone() {
                let mt = convert_memory_type(mem.map_err(from_wasmparser)?);
                note_memory_features(m, &mt);
                m.memories.push(mt);
            }
        }
        Payload::TagSection(section) => {
            for tag in section.clone() {
                let tag = tag.map_err(from_wasmparser)?;
                m.tags.push(type_at(m, tag.func_type_idx)?);
                m.features_used.insert("exceptions");
            }
        }
        Payload::GlobalSection(section) => {
            for g in section.clone() {
                let g = g.map_err(from_wasmparser)?;
                m.globals.push(convert_global_type(&m.types, g.ty)?);
                let init = read_const_expr(&m.types, &g.init_expr, &mut m.features_used)?;
                m.global_inits.push(init);
            }
        }
        Payload::ExportSection(section) => {
            for e in section.clone() {
                let e = e.map_err(from_wasmparser)?;
                let idx = match e.kind {
                    ExternalKind::Func | ExternalKind::FuncExact => ExportIndex::Func(e.index),
                    ExternalKind::Table => ExportIndex::Table(e.index),
                    ExternalKind::Memory => ExportIndex::Memory(e.index),
                    ExternalKind::Global => {
                        if m.globals.get(e.index as usize).is_some_and(|g| g.mutable) {
                            m.features_used.insert("mutable-global");
                        }
                        ExportIndex::Global(e.index)
                    }
                    ExternalKind::Tag => ExportIndex::Tag(e.index),
                };
                m.exports.push((e.name.to_string(), idx));
            }
        }
        Payload::StartSection { func, .. } => m.start = Some(*func),
        Payload::ElementSection(section) => {
            for elem in section.clone() {
                let elem = elem.map_err(from_wasmparser)?;
                let mode = match elem.kind {
                    wasmparser::ElementKind::Passive => ElemMode::Passive,
                    wasmparser::ElementKind::Declared => ElemMode::Declared,
                    wasmparser::ElementKind::Active {
                        table_index,
                        offset_expr,
                    } => ElemMode::Active {
                        table: table_index.unwrap_or(0),
                        offset: read_const_expr(&m.types, &offset_expr, &mut m.features_used)?,
                    },
                };
                let items = match elem.items {
                    wasmparser::ElementItems::Functions(funcs) => funcs
                        .into_iter()
                        .map(|f| f.map(|f| vec![ConstOp::RefFunc(f)]))
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(from_wasmparser)?,
                    wasmparser::ElementItems::Expressions(_, exprs) => exprs
                        .into_iter()
                        .map(|e| {
                            e.map_err(from_wasmparser)
                                .and_then(|e| read_const_expr(&m.types, &e, &mut m.features_used))
                        })
                        .collect::<Result<Vec<_>>>()?,
                };
                m.elems.push(ElemSegment { mode, items });
            }
        }
        Payload::DataSection(section) => {
            for data in section.clone() {
                let data = data.map_err(from_wasmparser)?;
                let mode = match data.kind {
                    wasmparser::DataKind::Passive => DataMode::Passive,
                    wasmparser::DataKind::Active {
                        memory_index,
                        offset_expr,
                    } => DataMode::Active {
                        mem: memory_index,
                        offset: read_const_expr(&m.types, &offset_expr, &mut m.features_used)?,
                    },
                };
                m.datas.push(DataSegment {
                    mode,
                    bytes: Arc::from(data.data),
                });
            }
        }
        Payload::CustomSection(c) if c.name() == "name" => {
            // A broken name section is ignored, as the spec asks of custom sections.
            if let wasmparser::KnownCustom::Name(reader) = c.as_known() {
                read_names(m, reader);
            }
        }
        _ => {}
    }
    if m.memories.len() > 1 {
        m.features_used.insert("multi-memory");
    }
    Ok(())
}

fn note_memory_features(m: &mut ModuleInner, mt: &MemoryType) {
    if mt.memory64 {
        m.features_used.insert("memory64");
    }
    if mt.page_size_log2 != 16 {
        m.features_used.insert("custom-page-sizes");
    }
}

fn read_names(m: &mut ModuleInner, reader: NameSectionReader<'_>) {
    for name in reader {
        let Ok(name) = name else { return };
        match name {
            Name::Module { name, .. } => m.name = Some(name.to_string()),
            Name::Function(map) => {
                for naming in map {
                    let Ok(naming) = naming else { return };
                    m.func_names.insert(naming.index, naming.name.to_string());
                }
            }
            _ => {}
        }
    }
}

fn type_at(m: &ModuleInner, idx: u32) -> Result<TypeId> {
    m.types
        .get(idx as usize)
        .copied()
        .ok_or_else(|| Error::usage(format!("type index {idx} out of range")))
}

/// Whether a `v128` can reach a function's operand stack other than through
/// a SIMD operator or a local: a signature (calls, blocks, tags) or a global
/// of the module holds one.
fn types_hold_v128(m: &ModuleInner) -> bool {
    let sig_has = |id: &TypeId| {
        m.engine.func_type(*id).is_some_and(|f| {
            f.params()
                .iter()
                .chain(f.results())
                .any(|t| *t == ValType::V128)
        })
    };
    m.types.iter().any(sig_has) || m.globals.iter().any(|g| g.content == ValType::V128)
}
