//! The call-out entry of compiled code: what machine code cannot do alone
//! (growing a memory, bulk memory and table operators, `ref.func`, calls
//! to imports and through tables) it asks of the runtime here, in the
//! shape `wrun_jit::CallOut` documents (wasmtime's and Winch's builtins
//! are the model). The operators run the interpreter's own code on the
//! compiled frame's cells, so both tiers share one implementation and one
//! set of trap rules.
//!
//! Compiled code knows its instance's context only; the store comes from
//! the store context, where the entry into compiled code left it with a
//! dispatcher for its host data type (`call_compiled`).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use wrun_jit::{CALLEE_COMPILED, CATCH_ALL, CallOut, TrapCode};

use crate::error::{Error, Result, Trap, TrapKind};
use crate::interp::code::Instr;
use crate::interp::exec::resolve_indirect;
use crate::interp::memory::exec_bulk;
use crate::store::{CallOutFailure, ExnInst, InstanceData, Store, StoreInner};
use crate::values::{Exn, RawVal};
use crate::vm::VMContext;

/// Defines [`entry`] with the calling convention the host's backend
/// calls it with (its `abi.rs`): System V on x86_64, AAPCS64 (`"C"`) on
/// aarch64.
macro_rules! callout_entry {
    ($abi:literal) => {
        /// The address compiled code calls (`ContextLayout::callout`).
        ///
        /// # Safety
        /// Called by compiled code only, with its instance's live context and a
        /// pointer to the frame cells the operator reads and writes (as many as
        /// its operands or results, whichever is more).
        pub(super) unsafe extern $abi fn entry(
            vmctx: *mut u8,
            cells: *mut RawVal,
            op: u32,
            a: u32,
            b: u32,
        ) -> u32 {
            // SAFETY: `vmctx` is a live context, whose store context outlives it.
            let dispatch = unsafe {
                let store_context = VMContext::store_context(vmctx);
                (
                    (*store_context).callout_store,
                    (*store_context).callout_dispatch,
                )
            };
            match dispatch {
                // SAFETY: the entry into compiled code set both for this store.
                (store, Some(dispatch)) => unsafe { dispatch(store, vmctx, cells, op, a, b) },
                // Compiled code runs only after an entry set them: unreachable in
                // practice, and a trap rather than a crash if not.
                (_, None) => TrapCode::Unreachable as u32,
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
callout_entry!("sysv64");
#[cfg(target_arch = "aarch64")]
callout_entry!("C");

/// Runs call-out `op` on the `Store<T>` at `store`. Failures (and panics
/// of host functions) are kept in the store for the entry to return once
/// the compiled frames are gone; compiled code only sees
/// [`TrapCode::CallOut`].
///
/// # Safety
/// `store` must be the `Store<T>` whose compiled code is calling, with
/// nothing else borrowing it; `vmctx` and `cells` as for [`entry`].
pub(super) unsafe fn dispatch<T>(
    store: *mut u8,
    vmctx: *mut u8,
    cells: *mut RawVal,
    op: u32,
    a: u32,
    b: u32,
) -> u32 {
    // SAFETY: the caller's promise; the entry that set the pointer holds
    // the only other path to the store and does not use it meanwhile.
    let store = unsafe { &mut *store.cast::<Store<T>>() };
    // SAFETY: a live context.
    let instance = unsafe { VMContext::instance_index(vmctx) };
    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `cells` as the caller promises.
        unsafe { run(store, instance, cells, op, a, b) }
    }));
    let failure = match outcome {
        Ok(Ok(status)) => return status,
        // Wasm 3.0 §4.4.11: not a failure; compiled code unwinds to its
        // handler, the exception kept here meanwhile.
        Ok(Err(Error::Exception(exn))) => {
            store.inner.jit_pending_exception = Some(exn);
            return TrapCode::Exception as u32;
        }
        Ok(Err(e)) => CallOutFailure::Error(e),
        Err(panic) => CallOutFailure::Panic(panic),
    };
    store.inner.callout_failure = Some(failure);
    TrapCode::CallOut as u32
}

/// Runs call-out `op`; returns 0, or [`CALLEE_COMPILED`] from a call
/// whose compiled callee the caller calls (or, for a tail call, jumps to).
///
/// # Safety
/// As for [`dispatch`].
unsafe fn run<T>(
    store: &mut Store<T>,
    instance: u32,
    cells: *mut RawVal,
    op: u32,
    a: u32,
    b: u32,
) -> Result<u32> {
    let op = CallOut::from_raw(op)
        .ok_or_else(|| Error::usage(format!("compiled code asked for call-out {op}")))?;
    let inst = store
        .inner
        .instances
        .get(instance as usize)
        .cloned()
        .ok_or_else(|| Error::usage(format!("call-out from unknown instance {instance}")))?;
    // SAFETY (every arm): the cells the operator's arity names.
    if let (Some(instr), Some((operands, results))) = (bulk_instr(op, a, b), op.fixed_arity()) {
        unsafe { bulk(&mut store.inner, &inst, cells, instr, operands, results) }?;
        return Ok(0);
    }
    let func = unsafe {
        match op {
            CallOut::RefFunc => {
                // A funcref cell is the store index plus one, 0 being null.
                cells.write(u64::from(inst.funcs[a as usize]) + 1);
                return Ok(0);
            }
            CallOut::CallImport | CallOut::ReturnCallImport => inst.funcs[a as usize],
            CallOut::CallIndirect | CallOut::ReturnCallIndirect => {
                let type_id = inst.module.inner.types[a as usize];
                let element = cells.add(param_count(&store.inner, &inst, a)).read();
                resolve_indirect(&store.inner, &inst, b, type_id, element).map_err(Trap::new)?
            }
            // Wasm 3.0 §4.4.10 call_ref: null traps; the type was checked
            // by validation.
            CallOut::CallRef | CallOut::ReturnCallRef => cells
                .add(param_count(&store.inner, &inst, a))
                .read()
                .checked_sub(1)
                .ok_or_else(|| Trap::new(TrapKind::NullFunctionReference))?
                as u32,
            CallOut::Throw => {
                return Err(Error::Exception(throw(&mut store.inner, &inst, a, cells)?));
            }
            CallOut::ThrowRef => {
                let exn = cells
                    .read()
                    .checked_sub(1)
                    .ok_or_else(|| Trap::new(TrapKind::NullExceptionReference))?;
                return Err(Error::Exception(exception(&store.inner, exn as u32)?));
            }
            CallOut::Catch => return catch(&mut store.inner, &inst, a, b != 0, cells).map(|()| 0),
            other => return Err(Error::usage(format!("call-out {other:?} has no handler"))),
        }
    };
    if let Some((callee, index)) = super::compiled_callee(store, func) {
        // Compiled code calls a compiled callee itself, on the callee's
        // context (no nested entry, no copies); a tail call (Wasm 3.0
        // §4.4.10 return_call) replaces its frame by the callee's, so a
        // tail-call loop runs in constant stack across modules too.
        let code = callee
            .module
            .inner
            .jit
            .as_ref()
            .and_then(|code| code.function_address(index))
            .ok_or_else(|| Error::usage("a compiled callee without code"))?;
        store.inner.vm.tail_code = code;
        store.inner.vm.tail_vmctx = callee.vmctx.as_ptr();
        return Ok(CALLEE_COMPILED);
    }
    // Host and interpreted callees run here; a tail call then returns
    // their results (the host stack grows by this one call only).
    let extra = usize::from(!matches!(
        op,
        CallOut::CallImport | CallOut::ReturnCallImport
    ));
    unsafe { call(store, &inst, func, cells, extra) }?;
    Ok(0)
}

/// Parameters of the module's function type `ty`.
fn param_count(inner: &StoreInner, inst: &InstanceData, ty: u32) -> usize {
    inst.module
        .inner
        .types
        .get(ty as usize)
        .and_then(|&t| inner.engine.func_type(t))
        .map_or(0, |f| f.param_cells())
}

/// The store's exception `index` as the API names it.
fn exception(inner: &StoreInner, index: u32) -> Result<Exn> {
    let tag = inner
        .exns
        .get(index as usize)
        .map(|e| e.tag)
        .ok_or_else(|| Error::usage(format!("unknown exception {index}")))?;
    Ok(Exn {
        store: inner.id,
        index,
        tag: crate::Tag {
            store: inner.id,
            index: tag,
        },
    })
}

/// `throw` of the module's tag `tag` with its payload in `cells`: a new
/// exception in the store, as the interpreter makes it.
///
/// # Safety
/// `cells` must be valid for the tag's parameters.
unsafe fn throw(
    inner: &mut StoreInner,
    inst: &InstanceData,
    tag: u32,
    cells: *mut RawVal,
) -> Result<Exn> {
    let tag_addr = *inst
        .tags
        .get(tag as usize)
        .ok_or_else(|| Error::usage(format!("throw of unknown tag {tag}")))?;
    let n = inner
        .tags
        .get(tag_addr as usize)
        .and_then(|t| inner.engine.func_type(t.ty))
        .map_or(0, |f| f.param_cells());
    // SAFETY: the caller's promise.
    let payload: Box<[RawVal]> = unsafe { std::slice::from_raw_parts(cells, n) }.into();
    inner.exns.push(ExnInst {
        tag: tag_addr,
        payload,
        escaped: true,
    });
    exception(inner, inner.exns.len() as u32 - 1)
}

/// One catch clause tried on the pending exception (Wasm 3.0 §4.4.11):
/// of the module's tag `tag` or, for [`CATCH_ALL`], any; on a match the
/// payload (a tag's only) and the exnref if `with_ref` go to `cells` and
/// nothing is pending any more; else the exception stays pending.
///
/// # Safety
/// `cells` must be valid for the payload plus the exnref.
unsafe fn catch(
    inner: &mut StoreInner,
    inst: &InstanceData,
    tag: u32,
    with_ref: bool,
    cells: *mut RawVal,
) -> Result<()> {
    let exn = inner
        .jit_pending_exception
        .take()
        .ok_or_else(|| Error::usage("a catch clause without a pending exception"))?;
    let record = inner
        .exns
        .get(exn.index as usize)
        .ok_or_else(|| Error::usage("a catch clause of an unknown exception"))?;
    let mut at = 0;
    if tag != CATCH_ALL {
        if inst.tags.get(tag as usize) != Some(&record.tag) {
            return Err(Error::Exception(exn));
        }
        // SAFETY: the caller's promise.
        unsafe {
            std::ptr::copy_nonoverlapping(record.payload.as_ptr(), cells, record.payload.len())
        };
        at = record.payload.len();
    }
    if with_ref {
        // SAFETY: as above; an exnref is the exception's index plus one.
        unsafe { cells.add(at).write(u64::from(exn.index) + 1) };
    }
    Ok(())
}

/// The interpreter instruction a bulk or table call-out runs.
fn bulk_instr(op: CallOut, a: u32, b: u32) -> Option<Instr> {
    Some(match op {
        CallOut::MemorySize => Instr::MemorySize(a),
        CallOut::MemoryGrow => Instr::MemoryGrow(a),
        CallOut::MemoryFill => Instr::MemoryFill(a),
        CallOut::MemoryCopy => Instr::MemoryCopy { dst: a, src: b },
        CallOut::MemoryInit => Instr::MemoryInit { data: a, mem: b },
        CallOut::DataDrop => Instr::DataDrop(a),
        CallOut::TableGet => Instr::TableGet(a),
        CallOut::TableSet => Instr::TableSet(a),
        CallOut::TableSize => Instr::TableSize(a),
        CallOut::TableGrow => Instr::TableGrow(a),
        CallOut::TableFill => Instr::TableFill(a),
        CallOut::TableCopy => Instr::TableCopy { dst: a, src: b },
        CallOut::TableInit => Instr::TableInit { elem: a, table: b },
        CallOut::ElemDrop => Instr::ElemDrop(a),
        CallOut::RefFunc
        | CallOut::CallImport
        | CallOut::CallIndirect
        | CallOut::CallRef
        | CallOut::Throw
        | CallOut::ThrowRef
        | CallOut::Catch
        | CallOut::ReturnCallImport
        | CallOut::ReturnCallIndirect
        | CallOut::ReturnCallRef => return None,
    })
}

/// A bulk or table operator, run by the interpreter's implementation on
/// the `operands` cells, leaving `results` there.
///
/// # Safety
/// `cells` must be valid for `max(operands, results)` cells.
unsafe fn bulk(
    inner: &mut StoreInner,
    inst: &InstanceData,
    cells: *mut RawVal,
    instr: Instr,
    operands: u32,
    results: u32,
) -> Result<()> {
    // SAFETY: the caller's promise.
    let len = operands.max(results) as usize;
    let stack = unsafe { std::slice::from_raw_parts_mut(cells, len) };
    let mut sp = operands as usize;
    exec_bulk(inner, stack, inst, &instr, &mut sp).map_err(|kind| Trap::new(kind).into())
}

/// Calls store function `func` for `caller` with its arguments in `cells` (followed by
/// `extra` operand cells, such as `call_indirect`'s element index) and
/// writes its results there.
///
/// # Safety
/// `cells` must be valid for the function's parameters plus `extra`, or
/// its results, whichever is more.
unsafe fn call<T>(
    store: &mut Store<T>,
    caller: &Arc<InstanceData>,
    func: u32,
    cells: *mut RawVal,
    extra: usize,
) -> Result<()> {
    let ty = store
        .inner
        .funcs
        .get(func as usize)
        .and_then(|f| store.inner.engine.func_type(f.ty))
        .ok_or_else(|| Error::usage(format!("call-out to unknown function {func}")))?;
    let (params, results) = (ty.param_cells(), ty.result_cells());
    // SAFETY: the caller's promise.
    let args = unsafe { std::slice::from_raw_parts(cells, params) }.to_vec();
    let out = super::call_store_func(store, func, &args, Some(caller.clone()))?;
    debug_assert!(out.len() == results && results <= (params + extra).max(results));
    // SAFETY: as above.
    unsafe { std::ptr::copy_nonoverlapping(out.as_ptr(), cells, out.len().min(results)) };
    Ok(())
}
