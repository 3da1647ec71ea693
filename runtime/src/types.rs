//! The runtime's own view of WebAssembly types.
//!
//! Types are converted from `wasmparser`'s once, after validation, so that the
//! rest of the runtime never sees a module-relative type index: every concrete
//! heap type names an engine-wide canonical [`TypeId`] (Wasm 3.0 §4.2.3,
//! "type equivalence" after rec-group canonicalisation).

use std::fmt;
use std::sync::Arc;

/// An engine-wide canonical type identity: two modules that define the same
/// recursion group get the same ids, so `call_indirect` and import matching
/// compare ids instead of structures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(pub(crate) u32);

impl TypeId {
    /// The raw index of this id in the engine's type registry.
    pub fn index(self) -> u32 {
        self.0
    }
}

/// A value type (Wasm 3.0 §2.3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit IEEE 754 float.
    F32,
    /// 64-bit IEEE 754 float.
    F64,
    /// 128-bit vector.
    V128,
    /// A reference.
    Ref(RefType),
}

impl ValType {
    /// How many 64-bit cells a value of this type takes wherever values
    /// live (stack, locals, arguments, globals, exception payloads): two
    /// for `v128` (low half first), one for every other type.
    pub fn cells(&self) -> usize {
        match self {
            ValType::V128 => 2,
            _ => 1,
        }
    }

    /// `funcref`, i.e. `(ref null func)`.
    pub const FUNCREF: ValType = ValType::Ref(RefType::FUNCREF);
    /// `externref`, i.e. `(ref null extern)`.
    pub const EXTERNREF: ValType = ValType::Ref(RefType::EXTERNREF);

    /// Whether the type is a reference type.
    pub fn is_ref(self) -> bool {
        matches!(self, ValType::Ref(_))
    }

    /// Whether values of this type have a default (zero or null) value,
    /// which non-nullable references do not (Wasm 3.0 §2.3.4 "defaultable").
    pub fn is_defaultable(self) -> bool {
        match self {
            ValType::Ref(r) => r.nullable,
            _ => true,
        }
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValType::I32 => f.write_str("i32"),
            ValType::I64 => f.write_str("i64"),
            ValType::F32 => f.write_str("f32"),
            ValType::F64 => f.write_str("f64"),
            ValType::V128 => f.write_str("v128"),
            ValType::Ref(r) => write!(f, "{r}"),
        }
    }
}

/// A reference type: a heap type and whether null is a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RefType {
    /// Whether `ref.null` is a value of this type.
    pub nullable: bool,
    /// What the reference points to.
    pub heap: HeapType,
}

impl RefType {
    /// `funcref`.
    pub const FUNCREF: RefType = RefType {
        nullable: true,
        heap: HeapType::Func,
    };
    /// `externref`.
    pub const EXTERNREF: RefType = RefType {
        nullable: true,
        heap: HeapType::Extern,
    };
    /// `exnref`.
    pub const EXNREF: RefType = RefType {
        nullable: true,
        heap: HeapType::Exn,
    };
}

impl fmt::Display for RefType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nullable {
            write!(f, "(ref null {})", self.heap)
        } else {
            write!(f, "(ref {})", self.heap)
        }
    }
}

/// A heap type (Wasm 3.0 §2.3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeapType {
    /// Any function.
    Func,
    /// Any host reference.
    Extern,
    /// Any exception.
    Exn,
    /// Any internal (GC) reference.
    Any,
    /// Comparable references.
    Eq,
    /// Unboxed 31-bit integers.
    I31,
    /// Any structure.
    Struct,
    /// Any array.
    Array,
    /// The bottom of the `any` hierarchy.
    None,
    /// The bottom of the `func` hierarchy.
    NoFunc,
    /// The bottom of the `extern` hierarchy.
    NoExtern,
    /// The bottom of the `exn` hierarchy.
    NoExn,
    /// A concrete defined type.
    Concrete(TypeId),
}

/// The three disjoint reference hierarchies (plus exceptions), named by their top types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefHierarchy {
    /// `func` and its subtypes.
    Func,
    /// `extern` and its subtypes.
    Extern,
    /// `any` and its subtypes.
    Any,
    /// `exn` and its subtypes.
    Exn,
}

impl HeapType {
    /// The hierarchy this heap type belongs to; concrete types ask the registry.
    pub(crate) fn hierarchy(self, concrete_is_func: impl Fn(TypeId) -> bool) -> RefHierarchy {
        match self {
            HeapType::Func | HeapType::NoFunc => RefHierarchy::Func,
            HeapType::Extern | HeapType::NoExtern => RefHierarchy::Extern,
            HeapType::Exn | HeapType::NoExn => RefHierarchy::Exn,
            HeapType::Any
            | HeapType::Eq
            | HeapType::I31
            | HeapType::Struct
            | HeapType::Array
            | HeapType::None => RefHierarchy::Any,
            HeapType::Concrete(id) => {
                if concrete_is_func(id) {
                    RefHierarchy::Func
                } else {
                    RefHierarchy::Any
                }
            }
        }
    }
}

impl fmt::Display for HeapType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            HeapType::Func => "func",
            HeapType::Extern => "extern",
            HeapType::Exn => "exn",
            HeapType::Any => "any",
            HeapType::Eq => "eq",
            HeapType::I31 => "i31",
            HeapType::Struct => "struct",
            HeapType::Array => "array",
            HeapType::None => "none",
            HeapType::NoFunc => "nofunc",
            HeapType::NoExtern => "noextern",
            HeapType::NoExn => "noexn",
            HeapType::Concrete(id) => return write!(f, "type#{}", id.0),
        };
        f.write_str(name)
    }
}

/// A function signature.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FuncType {
    params: Arc<[ValType]>,
    results: Arc<[ValType]>,
}

impl FuncType {
    /// A signature from its parameter and result types.
    pub fn new(
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
    ) -> FuncType {
        FuncType {
            params: params.into_iter().collect(),
            results: results.into_iter().collect(),
        }
    }

    /// The parameter types.
    pub fn params(&self) -> &[ValType] {
        &self.params
    }

    /// The result types.
    pub fn results(&self) -> &[ValType] {
        &self.results
    }

    /// The cells the parameters take (see [`ValType::cells`]).
    pub fn param_cells(&self) -> usize {
        self.params.iter().map(ValType::cells).sum()
    }

    /// The cells the results take.
    pub fn result_cells(&self) -> usize {
        self.results.iter().map(ValType::cells).sum()
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(func")?;
        if !self.params.is_empty() {
            f.write_str(" (param")?;
            for p in self.params.iter() {
                write!(f, " {p}")?;
            }
            f.write_str(")")?;
        }
        if !self.results.is_empty() {
            f.write_str(" (result")?;
            for r in self.results.iter() {
                write!(f, " {r}")?;
            }
            f.write_str(")")?;
        }
        f.write_str(")")
    }
}

/// A linear memory's type (Wasm 3.0 §2.3.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryType {
    /// Initial size in pages.
    pub min: u64,
    /// Maximum size in pages, if any.
    pub max: Option<u64>,
    /// Whether addresses are `i64` (memory64).
    pub memory64: bool,
    /// Whether the memory is shared between threads (not supported).
    pub shared: bool,
    /// log2 of the page size: 16 for 64 KiB pages (custom-page-sizes allows 0).
    pub page_size_log2: u8,
}

impl MemoryType {
    /// A 32-bit memory with 64 KiB pages.
    pub fn new(min: u64, max: Option<u64>) -> MemoryType {
        MemoryType {
            min,
            max,
            memory64: false,
            shared: false,
            page_size_log2: 16,
        }
    }

    /// The page size in bytes.
    pub fn page_size(&self) -> u64 {
        1u64 << self.page_size_log2
    }

    /// The largest page count the address type allows (Wasm 3.0 §3.2.9).
    pub fn address_space_pages(&self) -> u64 {
        let bits = if self.memory64 { 64 } else { 32 };
        if bits - u32::from(self.page_size_log2) >= 64 {
            u64::MAX
        } else {
            1u64 << (bits - u32::from(self.page_size_log2))
        }
    }
}

/// A table's type (Wasm 3.0 §2.3.10).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableType {
    /// The type of the elements.
    pub element: RefType,
    /// Initial size in elements.
    pub min: u64,
    /// Maximum size in elements, if any.
    pub max: Option<u64>,
    /// Whether indices are `i64` (memory64's table64).
    pub table64: bool,
}

/// A global's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalType {
    /// The type of the value.
    pub content: ValType,
    /// Whether `global.set` is allowed.
    pub mutable: bool,
}

/// An exception tag's type: the signature of its payload, and its canonical id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagType {
    /// The canonical id of the function type.
    pub type_id: TypeId,
    /// The payload signature (results are always empty).
    pub func: FuncType,
}

/// The type of anything a module imports or exports.
#[derive(Clone, Debug, PartialEq)]
pub enum ExternType {
    /// A function and its signature.
    Func(FuncType),
    /// A table.
    Table(TableType),
    /// A linear memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
    /// An exception tag.
    Tag(TagType),
}

impl ExternType {
    /// The kind as the text format spells it.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ExternType::Func(_) => "func",
            ExternType::Table(_) => "table",
            ExternType::Memory(_) => "memory",
            ExternType::Global(_) => "global",
            ExternType::Tag(_) => "tag",
        }
    }
}

impl fmt::Display for ExternType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExternType::Func(t) => write!(f, "{t}"),
            ExternType::Table(t) => {
                let idx = if t.table64 { "i64 " } else { "" };
                match t.max {
                    Some(max) => write!(f, "(table {idx}{} {} {})", t.min, max, t.element),
                    None => write!(f, "(table {idx}{} {})", t.min, t.element),
                }
            }
            ExternType::Memory(m) => {
                let idx = if m.memory64 { "i64 " } else { "" };
                match m.max {
                    Some(max) => write!(f, "(memory {idx}{} {})", m.min, max),
                    None => write!(f, "(memory {idx}{})", m.min),
                }
            }
            ExternType::Global(g) => {
                if g.mutable {
                    write!(f, "(global (mut {}))", g.content)
                } else {
                    write!(f, "(global {})", g.content)
                }
            }
            ExternType::Tag(t) => write!(f, "(tag {})", t.func),
        }
    }
}
