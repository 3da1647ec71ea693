//! The arch-neutral single-pass code generator: one walk over each
//! function's operators, a compile-time value stack (`stack.rs`), control
//! frames (`control.rs`) and the operator visitor (`func.rs`), all talking
//! to an ISA through [`MacroAssembler`](crate::masm::MacroAssembler).

pub mod control;
pub mod func;
pub mod stack;

use wasmparser::{Parser, Payload, ValType};

use crate::masm::MacroAssembler;
use crate::{CompileError, ContextLayout, Signature};

/// What the generator knows of a module.
pub struct ModuleInfo {
    /// Every type's signature (`None` for non-function types).
    pub types: Vec<Option<Signature>>,
    /// Each function's type index, the imported ones first.
    pub funcs: Vec<u32>,
    /// How many functions the module imports (they have no code here:
    /// calls to them leave through the call-out).
    pub num_imported_funcs: u32,
    /// Exported functions by name.
    pub exports: Vec<(String, u32)>,
    /// Each memory's address type: true for memory64.
    pub memories: Vec<bool>,
    /// Each global's type.
    pub globals: Vec<ValType>,
    /// Each tag's type index (imported tags first).
    pub tags: Vec<u32>,
    /// Where memories and globals are in the VM context, if given.
    pub layout: Option<ContextLayout>,
}

impl ModuleInfo {
    pub fn signature(&self, type_index: u32) -> Option<&Signature> {
        self.types.get(type_index as usize)?.as_ref()
    }
}

/// Whether compiled code can hold values of this type yet.
pub fn supported_type(ty: ValType) -> bool {
    matches!(
        ty,
        ValType::I32 | ValType::I64 | ValType::F32 | ValType::F64
    ) || is_plain_reference(ty)
}

/// Function, extern and exception references, nullable or not, typed
/// function references included: cells holding a store index plus one,
/// or 0 for null, as the interpreter keeps them; nothing about them needs
/// the garbage collector or a type check in compiled code (GC heap types
/// are refused).
fn is_plain_reference(ty: ValType) -> bool {
    use wasmparser::{AbstractHeapType as A, HeapType};
    let ValType::Ref(r) = ty else {
        return false;
    };
    match r.heap_type() {
        HeapType::Abstract { shared: false, ty } => matches!(
            ty,
            A::Func | A::Extern | A::Exn | A::NoFunc | A::NoExtern | A::NoExn
        ),
        // Concrete types are function types: GC types are refused when
        // the type section is read.
        HeapType::Concrete(_) => true,
        _ => false,
    }
}

/// Whether every parameter and result has a supported type.
pub fn supported_signature(sig: &Signature) -> bool {
    sig.params
        .iter()
        .chain(&sig.results)
        .all(|t| supported_type(*t))
}

/// Validates `wasm` and compiles every function with `masm`. Returns the
/// code, the entry offset of each function defined in the module (in
/// order, after the imported ones) and the module's signatures.
pub fn compile<M: MacroAssembler>(
    wasm: &[u8],
    layout: Option<ContextLayout>,
    features: wasmparser::WasmFeatures,
    mut masm: M,
) -> Result<(Vec<u8>, Vec<usize>, ModuleInfo), CompileError> {
    let mut validator = wasmparser::Validator::new_with_features(features);
    validator.validate_all(wasm).map_err(|e| {
        CompileError::Invalid(format!("{} at offset {:#x}", e.message(), e.offset()))
    })?;

    let mut info = ModuleInfo {
        types: Vec::new(),
        funcs: Vec::new(),
        num_imported_funcs: 0,
        exports: Vec::new(),
        memories: Vec::new(),
        globals: Vec::new(),
        tags: Vec::new(),
        layout,
    };
    let mut bodies = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| CompileError::Invalid(e.message().to_string()))?;
        match payload {
            Payload::TypeSection(reader) => {
                for group in reader.into_iter_with_offsets() {
                    let (offset, group) =
                        group.map_err(|e| CompileError::Invalid(e.message().to_string()))?;
                    // Rec groups and subtype declarations of function types
                    // (the exceptions and function-references suites use
                    // them) are plain signatures here; struct and array
                    // types are GC.
                    for sub in group.into_types() {
                        let wasmparser::CompositeInnerType::Func(ty) = &sub.composite_type.inner
                        else {
                            return Err(CompileError::unsupported("GC types", offset));
                        };
                        if sub.composite_type.shared || sub.composite_type.descriptor_idx.is_some()
                        {
                            return Err(CompileError::unsupported(
                                "shared or described types",
                                offset,
                            ));
                        }
                        info.types.push(Some(Signature {
                            params: ty.params().to_vec(),
                            results: ty.results().to_vec(),
                        }));
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports_with_offsets() {
                    let (offset, import) =
                        import.map_err(|e| CompileError::Invalid(e.message().to_string()))?;
                    match import.ty {
                        wasmparser::TypeRef::Func(ty) if layout.is_some_and(|l| l.callout != 0) => {
                            info.funcs.push(ty);
                            info.num_imported_funcs += 1;
                        }
                        wasmparser::TypeRef::Func(_) | wasmparser::TypeRef::FuncExact(_) => {
                            return Err(CompileError::unsupported(
                                "imported functions without a call-out entry",
                                offset,
                            ));
                        }
                        wasmparser::TypeRef::Memory(m) => info.memories.push(m.memory64),
                        wasmparser::TypeRef::Tag(t) => info.tags.push(t.func_type_idx),
                        wasmparser::TypeRef::Global(g) => info.globals.push(g.content_type),
                        _ => {}
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for ty in reader {
                    info.funcs
                        .push(ty.map_err(|e| CompileError::Invalid(e.message().to_string()))?);
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export =
                        export.map_err(|e| CompileError::Invalid(e.message().to_string()))?;
                    if export.kind == wasmparser::ExternalKind::Func {
                        info.exports.push((export.name.to_string(), export.index));
                    }
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    let memory =
                        memory.map_err(|e| CompileError::Invalid(e.message().to_string()))?;
                    info.memories.push(memory.memory64);
                }
            }
            Payload::TagSection(reader) => {
                for tag in reader {
                    let tag = tag.map_err(|e| CompileError::Invalid(e.message().to_string()))?;
                    info.tags.push(tag.func_type_idx);
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader {
                    let global =
                        global.map_err(|e| CompileError::Invalid(e.message().to_string()))?;
                    info.globals.push(global.ty.content_type);
                }
            }
            Payload::CodeSectionEntry(body) => bodies.push(body),
            _ => {}
        }
    }

    masm.module_prelude();
    // Labels of the functions defined here (index minus the imports).
    let defined = info.funcs.len() - info.num_imported_funcs as usize;
    let entries: Vec<M::Label> = (0..defined).map(|_| masm.new_label()).collect();
    for (i, body) in bodies.iter().enumerate() {
        masm.bind(entries[i]);
        let index = info.num_imported_funcs + i as u32;
        func::compile_function(&mut masm, &info, &entries, index, body)?;
    }
    let (code, offsets) = masm.finish(&entries).map_err(CompileError::Assembler)?;
    Ok((code, offsets, info))
}
