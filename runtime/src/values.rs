//! Values as the embedder sees them ([`Val`]) and as every execution tier
//! stores them (64-bit cells, [`RawVal`]: one per value, two for a `v128`).
//!
//! Reference cells: 0 is null; otherwise the cell holds `index + 1` of a store
//! entity (function, exception) or `payload + 1` of a host `externref`.

use crate::store::StoreId;
use crate::types::{HeapType, RefType, ValType};
use crate::{Func, Tag};

/// One value cell on the interpreter's stack, in a global, or in a table.
pub type RawVal = u64;

/// The two cells of a `v128`, low half first (Wasm lanes are little-endian,
/// so lane 0 is in the low bits of the first cell).
pub(crate) fn v128_to_cells(x: u128) -> [RawVal; 2] {
    [x as u64, (x >> 64) as u64]
}

/// A `v128` from its two cells, low half first.
pub(crate) fn v128_from_cells(lo: RawVal, hi: RawVal) -> u128 {
    u128::from(lo) | (u128::from(hi) << 64)
}

/// The cell that encodes a null reference.
pub const NULL_REF: RawVal = 0;

/// A value passed between the host and wasm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val {
    /// An `i32`.
    I32(i32),
    /// An `i64`.
    I64(i64),
    /// An `f32`, as its bit pattern (so NaN payloads survive).
    F32(u32),
    /// An `f64`, as its bit pattern.
    F64(u64),
    /// A `v128`.
    V128(u128),
    /// A function reference, or null.
    FuncRef(Option<Func>),
    /// A host reference carrying a host-chosen number, or null.
    ExternRef(Option<u64>),
    /// An exception reference, or null.
    ExnRef(Option<Exn>),
    /// A null reference of the `any` hierarchy (GC references are not yet implemented).
    AnyRef(Option<u64>),
}

impl Val {
    /// The default value of a type: zero, or null for nullable references.
    pub fn default_for(ty: ValType) -> Option<Val> {
        Some(match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::V128 => Val::V128(0),
            ValType::Ref(r) if r.nullable => Val::null_of(r),
            ValType::Ref(_) => return None,
        })
    }

    /// The null value of a reference type's hierarchy.
    pub fn null_of(r: RefType) -> Val {
        match r.heap {
            HeapType::Func | HeapType::NoFunc | HeapType::Concrete(_) => Val::FuncRef(None),
            HeapType::Extern | HeapType::NoExtern => Val::ExternRef(None),
            HeapType::Exn | HeapType::NoExn => Val::ExnRef(None),
            _ => Val::AnyRef(None),
        }
    }

    /// Whether this is a null reference.
    pub fn is_null_ref(&self) -> bool {
        matches!(
            self,
            Val::FuncRef(None) | Val::ExternRef(None) | Val::ExnRef(None) | Val::AnyRef(None)
        )
    }

    /// A short description of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::I32(_) => "i32",
            Val::I64(_) => "i64",
            Val::F32(_) => "f32",
            Val::F64(_) => "f64",
            Val::V128(_) => "v128",
            Val::FuncRef(_) => "funcref",
            Val::ExternRef(_) => "externref",
            Val::ExnRef(_) => "exnref",
            Val::AnyRef(_) => "anyref",
        }
    }
}

/// An exception instance living in a store (Wasm 3.0 §4.2.8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exn {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
    pub(crate) tag: Tag,
}

impl Exn {
    /// The tag the exception was thrown with.
    pub fn tag(&self) -> Tag {
        self.tag
    }

    /// The values the exception carries, typed by its tag's signature.
    pub fn payload(&self, ctx: impl crate::AsContext) -> Vec<Val> {
        let store = ctx.as_store();
        let Some(exn) = store.inner.exns.get(self.index as usize) else {
            return Vec::new();
        };
        if store.id() != self.store {
            return Vec::new();
        }
        let ty = self.tag.ty(store);
        crate::func::cells_to_vals(store, &exn.payload, ty.func.params())
    }
}
