//! Functions: the [`Func`] handle, host functions (untyped with
//! [`Func::new`], typed with [`Func::wrap`]), the [`Caller`] a host function
//! receives, and conversions between [`Val`] and raw cells.

use std::marker::PhantomData;
use std::sync::Arc;

use crate::error::{Error, Result, Trap};
use crate::instance::Extern;
use crate::store::{AsContext, AsContextMut, FuncInst, FuncKind, InstanceData, Store, StoreId};
use crate::types::{FuncType, HeapType, RefHierarchy, RefType, TypeId, ValType};
use crate::values::{Exn, NULL_REF, RawVal, Val};

/// The body of a host function.
pub type HostFn<T> =
    Arc<dyn Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static>;

pub(crate) struct HostFunc<T> {
    pub ty: FuncType,
    pub body: HostFn<T>,
}

/// A function in a store: wasm or host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Func {
    pub(crate) store: StoreId,
    pub(crate) index: u32,
}

/// What a host function sees of the store while it runs.
pub struct Caller<'a, T> {
    pub(crate) store: &'a mut Store<T>,
    pub(crate) instance: Option<Arc<InstanceData>>,
}

impl<T> Caller<'_, T> {
    /// The store's host data.
    pub fn data(&self) -> &T {
        self.store.data()
    }

    /// The store's host data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        self.store.data_mut()
    }

    /// Whether the store's epoch deadline has passed, as a probe a blocking
    /// host call can keep checking (see `Store::interrupt_probe`).
    pub fn interrupt_probe(&self) -> crate::InterruptProbe {
        self.store.interrupt_probe()
    }

    /// An export of the calling wasm instance (e.g. its `memory`).
    pub fn get_export(&self, name: &str) -> Option<Extern> {
        let inst = self.instance.as_ref()?;
        crate::instance::export_of(self.store.id(), inst, name)
    }
}

impl<T> AsContext for Caller<'_, T> {
    type Data = T;
    fn as_store(&self) -> &Store<T> {
        self.store
    }
}

impl<T> AsContextMut for Caller<'_, T> {
    fn as_store_mut(&mut self) -> &mut Store<T> {
        self.store
    }
}

impl Func {
    /// A host function with an explicit signature.
    pub fn new<T: 'static>(
        mut ctx: impl AsContextMut<Data = T>,
        ty: FuncType,
        body: impl Fn(Caller<'_, T>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Result<Func> {
        let store = ctx.as_store_mut();
        Func::from_host(store, ty, Arc::new(body))
    }

    /// A host function whose signature comes from a Rust closure's types.
    pub fn wrap<T: 'static, Params, Results>(
        mut ctx: impl AsContextMut<Data = T>,
        f: impl IntoFunc<T, Params, Results>,
    ) -> Result<Func> {
        let (ty, body) = f.into_host();
        Func::from_host(ctx.as_store_mut(), ty, body)
    }

    pub(crate) fn from_host<T>(
        store: &mut Store<T>,
        ty: FuncType,
        body: HostFn<T>,
    ) -> Result<Func> {
        let type_id = store.inner.engine.intern_func_type(&ty)?;
        let host_index = store.host_funcs.len() as u32;
        store.host_funcs.push(HostFunc { ty, body });
        let index = store.inner.funcs.len() as u32;
        store
            .inner
            .funcs
            .push(FuncInst::new(type_id, FuncKind::Host(host_index), index));
        Ok(Func {
            store: store.id(),
            index,
        })
    }

    /// The function's signature.
    pub fn ty(&self, ctx: impl AsContext) -> FuncType {
        let store = ctx.as_store();
        store
            .inner
            .funcs
            .get(self.index as usize)
            .and_then(|f| store.inner.engine.func_type(f.ty))
            .unwrap_or_else(|| FuncType::new([], []))
    }

    pub(crate) fn type_id<T>(&self, store: &Store<T>) -> Option<TypeId> {
        store.inner.funcs.get(self.index as usize).map(|f| f.ty)
    }

    /// Calls the function. `results` must have room for every result.
    pub fn call<T: 'static>(
        &self,
        mut ctx: impl AsContextMut<Data = T>,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        let store = ctx.as_store_mut();
        store.inner.check(self.store)?;
        let ty = self.ty(&*store);
        if params.len() != ty.params().len() {
            return Err(Error::usage(format!(
                "function {ty} takes {} arguments, {} given",
                ty.params().len(),
                params.len()
            )));
        }
        if results.len() < ty.results().len() {
            return Err(Error::usage(format!(
                "function {ty} returns {} results, room for {} given",
                ty.results().len(),
                results.len()
            )));
        }
        let mut raw = Vec::with_capacity(ty.param_cells());
        for (i, (p, t)) in params.iter().zip(ty.params()).enumerate() {
            push_cells(store, p, *t, &mut raw)
                .map_err(|e| Error::usage(format!("argument {i}: {e}")))?;
        }
        let out = crate::tier::call_store_func(store, self.index, &raw, None)?;
        for (slot, v) in results
            .iter_mut()
            .zip(cells_to_vals(store, &out, ty.results()))
        {
            *slot = v;
        }
        Ok(())
    }
}

fn hierarchy<T>(store: &Store<T>, heap: HeapType) -> RefHierarchy {
    let reg = store.inner.engine.registry();
    heap.hierarchy(|id| reg.is_func(id))
}

/// Converts a host value to a cell of type `ty`, checking that it fits.
pub(crate) fn val_to_raw<T>(store: &Store<T>, v: &Val, ty: ValType) -> Result<RawVal> {
    let mismatch = || {
        Error::usage(format!(
            "expected a value of type {ty}, got {}",
            v.type_name()
        ))
    };
    Ok(match (v, ty) {
        (Val::I32(x), ValType::I32) => *x as u32 as u64,
        (Val::I64(x), ValType::I64) => *x as u64,
        (Val::F32(x), ValType::F32) => u64::from(*x),
        (Val::F64(x), ValType::F64) => *x,
        (Val::V128(_), ValType::V128) => {
            return Err(Error::usage("a v128 takes two cells (see `push_cells`)"));
        }
        (v, ValType::Ref(RefType { nullable, heap })) => {
            if v.is_null_ref() {
                if !nullable {
                    return Err(Error::usage(format!("null given for non-nullable {ty}")));
                }
                return match (v, hierarchy(store, heap)) {
                    (Val::FuncRef(None), RefHierarchy::Func)
                    | (Val::ExternRef(None), RefHierarchy::Extern)
                    | (Val::ExnRef(None), RefHierarchy::Exn)
                    | (Val::AnyRef(None), RefHierarchy::Any) => Ok(NULL_REF),
                    _ => Err(mismatch()),
                };
            }
            match (v, heap) {
                (Val::FuncRef(Some(f)), HeapType::Func) => {
                    store.inner.check(f.store)?;
                    u64::from(f.index) + 1
                }
                (Val::FuncRef(Some(f)), HeapType::Concrete(want)) => {
                    store.inner.check(f.store)?;
                    let have = f.type_id(store).ok_or_else(mismatch)?;
                    if !store.inner.engine.type_matches(have, want) {
                        return Err(mismatch());
                    }
                    u64::from(f.index) + 1
                }
                (Val::ExternRef(Some(x)), HeapType::Extern) => x
                    .checked_add(1)
                    .ok_or_else(|| Error::usage("externref payload u64::MAX is reserved"))?,
                (Val::ExnRef(Some(e)), HeapType::Exn) => {
                    store.inner.check(e.store)?;
                    u64::from(e.index) + 1
                }
                _ => return Err(mismatch()),
            }
        }
        _ => return Err(mismatch()),
    })
}

/// Appends the cells of a host value of type `ty` (two for a `v128`,
/// low half first; see [`ValType::cells`]).
pub(crate) fn push_cells<T>(
    store: &Store<T>,
    v: &Val,
    ty: ValType,
    out: &mut Vec<RawVal>,
) -> Result<()> {
    match (v, ty) {
        (Val::V128(x), ValType::V128) => {
            out.extend(crate::values::v128_to_cells(*x));
            Ok(())
        }
        _ => {
            out.push(val_to_raw(store, v, ty)?);
            Ok(())
        }
    }
}

/// Reads host values of types `tys` from consecutive cells (missing cells
/// read as zero).
pub(crate) fn cells_to_vals<T>(store: &Store<T>, cells: &[RawVal], tys: &[ValType]) -> Vec<Val> {
    let mut at = 0;
    tys.iter()
        .map(|t| {
            let cell = |i: usize| cells.get(at + i).copied().unwrap_or(0);
            let v = match t {
                ValType::V128 => Val::V128(crate::values::v128_from_cells(cell(0), cell(1))),
                _ => raw_to_val(store, cell(0), *t),
            };
            at += t.cells();
            v
        })
        .collect()
}

/// Converts a cell of type `ty` to a host value (a `v128` needs two cells:
/// see [`cells_to_vals`]).
pub(crate) fn raw_to_val<T>(store: &Store<T>, cell: RawVal, ty: ValType) -> Val {
    match ty {
        ValType::I32 => Val::I32(cell as u32 as i32),
        ValType::I64 => Val::I64(cell as i64),
        ValType::F32 => Val::F32(cell as u32),
        ValType::F64 => Val::F64(cell),
        ValType::V128 => Val::V128(u128::from(cell)),
        ValType::Ref(r) => {
            let payload = cell.checked_sub(1);
            match hierarchy(store, r.heap) {
                RefHierarchy::Func => Val::FuncRef(payload.map(|i| Func {
                    store: store.id(),
                    index: i as u32,
                })),
                RefHierarchy::Extern => Val::ExternRef(payload),
                RefHierarchy::Exn => Val::ExnRef(payload.and_then(|i| {
                    let exn = store.inner.exns.get(i as usize)?;
                    Some(Exn {
                        store: store.id(),
                        index: i as u32,
                        tag: crate::Tag {
                            store: store.id(),
                            index: exn.tag,
                        },
                    })
                })),
                RefHierarchy::Any => Val::AnyRef(payload),
            }
        }
    }
}

/// Calls a host function on behalf of wasm: converts the argument cells,
/// runs the closure, checks and converts the results back into cells.
pub(crate) fn call_host<T>(
    store: &mut Store<T>,
    host_index: u32,
    instance: Option<Arc<InstanceData>>,
    args: &[RawVal],
) -> Result<Vec<RawVal>> {
    let (ty, body) = match store.host_funcs.get(host_index as usize) {
        Some(h) => (h.ty.clone(), h.body.clone()),
        None => return Err(Error::usage("dangling host function")),
    };
    let params = cells_to_vals(store, args, ty.params());
    let mut results: Vec<Val> = ty
        .results()
        .iter()
        .map(|t| Val::default_for(*t).unwrap_or(Val::FuncRef(None)))
        .collect();
    body(
        Caller {
            store: &mut *store,
            instance,
        },
        &params,
        &mut results,
    )?;
    let mut cells = Vec::with_capacity(ty.result_cells());
    for (v, t) in results.iter().zip(ty.results()) {
        push_cells(store, v, *t, &mut cells).map_err(|e| {
            Error::Trap(Trap::host(format!(
                "host function returned a bad result: {e}"
            )))
        })?;
    }
    Ok(cells)
}

/// A Rust type that maps to one wasm value type.
pub trait WasmTy: Sized + Send + 'static {
    /// The wasm type.
    fn valtype() -> ValType;
    /// Reads the value; None if the kind differs.
    fn from_val(v: &Val) -> Option<Self>;
    /// Makes the value.
    fn into_val(self) -> Val;
}

macro_rules! wasm_ty {
    ($t:ty, $vt:ident, $variant:ident, $to:expr, $from:expr) => {
        impl WasmTy for $t {
            fn valtype() -> ValType {
                ValType::$vt
            }
            fn from_val(v: &Val) -> Option<Self> {
                match v {
                    Val::$variant(x) => Some($from(*x)),
                    _ => None,
                }
            }
            fn into_val(self) -> Val {
                Val::$variant($to(self))
            }
        }
    };
}

wasm_ty!(i32, I32, I32, |x| x, |x| x);
wasm_ty!(u32, I32, I32, |x: u32| x as i32, |x: i32| x as u32);
wasm_ty!(i64, I64, I64, |x| x, |x| x);
wasm_ty!(u64, I64, I64, |x: u64| x as i64, |x: i64| x as u64);
wasm_ty!(f32, F32, F32, f32::to_bits, f32::from_bits);
wasm_ty!(f64, F64, F64, f64::to_bits, f64::from_bits);

/// What a typed host function returns: nothing, a value, a tuple, or a `Result` of those.
pub trait WasmResults: Send + 'static {
    /// The wasm result types.
    fn valtypes() -> Vec<ValType>;
    /// Writes the results into `out`.
    fn write(self, out: &mut [Val]) -> Result<()>;
}

impl WasmResults for () {
    fn valtypes() -> Vec<ValType> {
        Vec::new()
    }
    fn write(self, _out: &mut [Val]) -> Result<()> {
        Ok(())
    }
}

impl<A: WasmTy> WasmResults for A {
    fn valtypes() -> Vec<ValType> {
        vec![A::valtype()]
    }
    fn write(self, out: &mut [Val]) -> Result<()> {
        if let Some(slot) = out.first_mut() {
            *slot = self.into_val();
        }
        Ok(())
    }
}

impl<R: WasmResults> WasmResults for Result<R> {
    fn valtypes() -> Vec<ValType> {
        R::valtypes()
    }
    fn write(self, out: &mut [Val]) -> Result<()> {
        self?.write(out)
    }
}

macro_rules! wasm_results_tuple {
    ($($name:ident $idx:tt),+) => {
        impl<$($name: WasmTy),+> WasmResults for ($($name,)+) {
            fn valtypes() -> Vec<ValType> {
                vec![$($name::valtype()),+]
            }
            fn write(self, out: &mut [Val]) -> Result<()> {
                $( if let Some(slot) = out.get_mut($idx) { *slot = self.$idx.into_val(); } )+
                Ok(())
            }
        }
    };
}

wasm_results_tuple!(A 0, B 1);
wasm_results_tuple!(A 0, B 1, C 2);
wasm_results_tuple!(A 0, B 1, C 2, D 3);

/// Marks typed host functions whose first argument is a [`Caller`].
pub struct WithCaller<T>(PhantomData<T>);

/// A Rust closure usable as a host function.
pub trait IntoFunc<T, Params, Results>: Send + Sync + 'static {
    /// The signature and the untyped body.
    fn into_host(self) -> (FuncType, HostFn<T>);
}

macro_rules! into_func {
    ($($arg:ident),*) => {
        #[allow(non_snake_case, unused_variables, unused_mut)]
        impl<T: 'static, F, R, $($arg,)*> IntoFunc<T, ($($arg,)*), R> for F
        where
            F: Fn($($arg),*) -> R + Send + Sync + 'static,
            R: WasmResults,
            $($arg: WasmTy,)*
        {
            fn into_host(self) -> (FuncType, HostFn<T>) {
                let ty = FuncType::new(vec![$($arg::valtype()),*], R::valtypes());
                let body: HostFn<T> = Arc::new(move |_caller: Caller<'_, T>, params: &[Val], results: &mut [Val]| {
                    let mut it = params.iter();
                    $(let $arg = it.next().and_then($arg::from_val).ok_or_else(|| Error::usage("host function argument type mismatch"))?;)*
                    (self)($($arg),*).write(results)
                });
                (ty, body)
            }
        }

        #[allow(non_snake_case, unused_variables, unused_mut)]
        impl<T: 'static, F, R, $($arg,)*> IntoFunc<T, (WithCaller<T>, $($arg,)*), R> for F
        where
            F: Fn(Caller<'_, T>, $($arg),*) -> R + Send + Sync + 'static,
            R: WasmResults,
            $($arg: WasmTy,)*
        {
            fn into_host(self) -> (FuncType, HostFn<T>) {
                let ty = FuncType::new(vec![$($arg::valtype()),*], R::valtypes());
                let body: HostFn<T> = Arc::new(move |caller: Caller<'_, T>, params: &[Val], results: &mut [Val]| {
                    let mut it = params.iter();
                    $(let $arg = it.next().and_then($arg::from_val).ok_or_else(|| Error::usage("host function argument type mismatch"))?;)*
                    (self)(caller, $($arg),*).write(results)
                });
                (ty, body)
            }
        }
    };
}

into_func!();
into_func!(A1);
into_func!(A1, A2);
into_func!(A1, A2, A3);
into_func!(A1, A2, A3, A4);
into_func!(A1, A2, A3, A4, A5);
into_func!(A1, A2, A3, A4, A5, A6);
into_func!(A1, A2, A3, A4, A5, A6, A7);
into_func!(A1, A2, A3, A4, A5, A6, A7, A8);
