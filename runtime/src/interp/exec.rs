//! The interpreter's dispatch loop: control flow, calls (direct, indirect,
//! by reference, tail), exception unwinding and the variable/global/ref
//! families. Numeric operators live in `numeric.rs`, memory and table
//! operators in `memory.rs`.
//!
//! Calls between wasm functions do not recurse on the host stack: the
//! caller's activation is saved in `StoreInner::frames` and the loop
//! continues with the callee, so deep wasm recursion ends in a
//! "call stack exhausted" trap at the configured depth, never in a host
//! stack overflow.

use std::sync::Arc;

use super::code::{
    BranchTarget, CatchKind, CompiledFunc, HandlerKind, Instr, LoadKind, MemArg, NumOp, StoreKind,
    with_specialised,
};
use super::memory;
use super::numeric;
use crate::error::{Error, FrameInfo, Result, Trap, TrapKind};
use crate::func::call_host;
use crate::store::{ExnInst, Frame, FuncKind, InstanceData, Store, StoreInner};
use crate::types::TypeId;
use crate::values::{Exn, RawVal};
use crate::vm::VMMemoryDefinition;

/// Why the inner loop stopped running the current function.
enum Action {
    /// Call store function `addr` with arguments on top of the stack.
    Call(u32),
    /// Tail-call store function `addr`.
    ReturnCall(u32),
    /// Return from the current function.
    Return,
    /// Throw store exception `index`.
    Throw(u32),
    /// Trap.
    Trap(TrapKind),
}

/// Calls store function `func` with argument cells; returns its result cells.
pub(crate) fn invoke<T>(store: &mut Store<T>, func: u32, args: &[RawVal]) -> Result<Vec<RawVal>> {
    let (code, instance) = match store.inner.funcs.get(func as usize).map(|f| &f.kind) {
        Some(FuncKind::Wasm { instance, code }) => (code.clone(), *instance),
        Some(FuncKind::Host(h)) => {
            let h = *h;
            return call_host(store, h, None, args);
        }
        None => return Err(Error::usage("dangling function handle")),
    };
    if store.inner.instances.get(instance as usize).is_none() {
        return Err(Error::usage("function of a dangling instance"));
    }
    store.inner.ensure_stack();
    // Wasm calls never grow the host stack, but host functions that call
    // back into wasm nest invocations on it: bound the bytes they use,
    // measured from the outermost invocation's stack position.
    let marker = 0u8;
    let here = std::hint::black_box(&marker) as *const u8 as usize;
    if store.inner.nesting == 0 {
        store.inner.native_stack_base = here;
    } else if store.inner.native_stack_base.saturating_sub(here)
        > store.inner.engine.inner.config.max_host_stack_bytes
    {
        return Err(Trap::new(TrapKind::StackExhausted).into());
    }
    let base = store.inner.sp;
    if base + args.len() > store.inner.stack.len() {
        return Err(Trap::new(TrapKind::StackExhausted).into());
    }
    store.inner.stack[base..base + args.len()].copy_from_slice(args);
    let entry_frames = store.inner.frames.len();
    store.inner.nesting += 1;
    let result = run(store, &code, instance, base, entry_frames);
    store.inner.nesting -= 1;
    store.inner.frames.truncate(entry_frames);
    store.inner.sp = base;
    let n = result?;
    Ok(store.inner.stack[base..base + n].to_vec())
}

/// The store function `call_indirect` through `table` (an instance's
/// index) at element `index_cell` calls, checked as Wasm 3.0 §4.4.10 asks:
/// the element exists, is not null, and its type matches `type_id`
/// (canonical ids, subtyping included). Every tier resolves through here.
pub(crate) fn resolve_indirect(
    inner: &StoreInner,
    inst: &InstanceData,
    table: u32,
    type_id: TypeId,
    index_cell: RawVal,
) -> Result<u32, TrapKind> {
    let t = &inner.tables[inst.tables[table as usize] as usize];
    let index = if t.ty.table64 {
        index_cell
    } else {
        index_cell & 0xffff_ffff
    };
    let &cell = usize::try_from(index)
        .ok()
        .and_then(|i| t.elems().get(i))
        .ok_or(TrapKind::UndefinedElement)?;
    let addr = cell.checked_sub(1).ok_or(TrapKind::UninitializedElement)? as u32;
    let have = inner.funcs[addr as usize].ty;
    if have != type_id && !inner.engine.type_matches(have, type_id) {
        return Err(TrapKind::IndirectCallTypeMismatch);
    }
    Ok(addr)
}

/// Sets up a wasm activation at `fp`: checks stack room, zeroes the
/// non-parameter locals. Returns the operand stack pointer.
#[inline]
fn enter(stack: &mut [RawVal], code: &CompiledFunc, fp: usize) -> Result<usize, TrapKind> {
    if fp + code.max_height as usize > stack.len() {
        return Err(TrapKind::StackExhausted);
    }
    let locals_start = fp + code.num_params as usize;
    let locals_end = fp + code.num_locals as usize;
    stack[locals_start..locals_end].fill(0);
    Ok(locals_end)
}

/// Takes a branch: moves the carried values down to the target's base.
#[inline(always)]
fn branch(stack: &mut [RawVal], sp: &mut usize, fp: usize, t: BranchTarget) -> usize {
    let n = t.arity as usize;
    let dst = fp + t.height as usize;
    if n > 0 && dst + n != *sp {
        stack.copy_within(*sp - n..*sp, dst);
    }
    *sp = dst + n;
    t.pc as usize
}

fn backtrace(
    code: &CompiledFunc,
    inst: &InstanceData,
    pc: usize,
    frames: &[Frame],
) -> Vec<FrameInfo> {
    let info = |code: &CompiledFunc, inst: &InstanceData, pc: usize| {
        let m = &inst.module.inner;
        let index = code.index;
        FrameInfo {
            module_name: m.name.clone(),
            func_index: index,
            func_name: m.func_names.get(&index).cloned(),
            module_offset: code
                .offsets
                .get(pc.saturating_sub(1))
                .map(|o| u64::from(*o)),
        }
    };
    let mut out = vec![info(code, inst, pc)];
    for f in frames.iter().rev() {
        // SAFETY: see `Frame`: saved code and instances outlive the invocation.
        let (code, inst) = unsafe { (&*f.code, &*f.instance) };
        out.push(info(code, inst, f.pc));
    }
    out
}

/// Frees exception `exn` once a clause caught it without keeping a
/// reference: unless a reference to it was ever made (`escaped`), nothing
/// can reach it any more. Only the newest exception is freed, which is the
/// one a throw-and-catch loop makes, so such a loop runs in constant memory
/// and the indices of all others stay put.
fn release(inner: &mut StoreInner, exn: u32) {
    if exn as usize + 1 == inner.exns.len() && !inner.exns[exn as usize].escaped {
        inner.exns.pop();
    }
}

/// Marks exception `exn` as reachable from outside this invocation.
fn escape(inner: &mut StoreInner, exn: u32) {
    if let Some(e) = inner.exns.get_mut(exn as usize) {
        e.escaped = true;
    }
}

/// Finds a handler for exception `exn` thrown at `pc - 1` in this frame;
/// on success sets up the stack and returns the continuation pc.
fn find_handler(
    inner: &mut StoreInner,
    code: &CompiledFunc,
    inst: &InstanceData,
    fp: usize,
    pc: usize,
    exn: u32,
    sp: &mut usize,
) -> Option<usize> {
    let throw_pc = pc.checked_sub(1)? as u32;
    let exn_tag = inner.exns.get(exn as usize)?.tag;
    let tag_matches = |t: u32| inst.tags.get(t as usize) == Some(&exn_tag);
    let mut ceiling = u32::MAX;
    for h in code.handlers.iter().rev() {
        if throw_pc < h.start || throw_pc >= h.end || h.depth > ceiling {
            continue;
        }
        let (catches, exn_local) = match &h.kind {
            HandlerKind::Delegate { target_depth } => {
                ceiling = *target_depth;
                continue;
            }
            HandlerKind::TryTable(c) => (c, None),
            HandlerKind::Legacy { catches, exn_local } => (catches, Some(*exn_local)),
        };
        for c in catches {
            let (caught, with_payload, with_ref) = match c.kind {
                CatchKind::Tag(t) => (tag_matches(t), true, false),
                CatchKind::TagRef(t) => (tag_matches(t), true, true),
                CatchKind::All => (true, false, false),
                CatchKind::AllRef => (true, false, true),
            };
            if !caught {
                continue;
            }
            let mut top = fp + c.target.height as usize;
            if with_payload {
                let payload = &inner.exns[exn as usize].payload;
                if top + payload.len() + 1 > inner.stack.len() {
                    return None;
                }
                inner.stack[top..top + payload.len()].copy_from_slice(payload);
                top += payload.len();
            }
            if with_ref {
                inner.stack[top] = u64::from(exn) + 1;
                top += 1;
            }
            if let Some(local) = exn_local {
                inner.stack[fp + local as usize] = u64::from(exn) + 1;
            }
            if with_ref || exn_local.is_some() {
                inner.exns[exn as usize].escaped = true;
            } else {
                release(inner, exn);
            }
            *sp = top;
            return Some(c.target.pc as usize);
        }
    }
    None
}

/// Where the dispatch loop reads memory 0's base and length, or null for
/// an instance without memories (whose code has no memory-0 forms).
#[inline(always)]
fn memory0(inst: &InstanceData) -> *const VMMemoryDefinition {
    if inst.memories.is_empty() {
        return std::ptr::null();
    }
    // SAFETY: memory 0 exists.
    unsafe { inst.vmctx.memory_definition(0) }
}

/// The code of store function `addr` and its instance's store index, if
/// it is a wasm function.
#[inline(always)]
fn wasm_callee(inner: &StoreInner, addr: u32) -> Option<(*const CompiledFunc, u32)> {
    match &inner.funcs.get(addr as usize)?.kind {
        FuncKind::Wasm { instance, code } => Some((Arc::as_ptr(code), *instance)),
        FuncKind::Host(_) => None,
    }
}

/// The instance at store index `index`, detached from the borrow of the
/// store.
///
/// # Safety
/// `index` is an instance of the store. The store never drops an instance
/// (`instances` only grows), so the data outlives every activation.
#[inline(always)]
unsafe fn instance_at<'a>(inner: &StoreInner, index: u32) -> &'a InstanceData {
    debug_assert!((index as usize) < inner.instances.len());
    // SAFETY: the caller's contract.
    unsafe { &*Arc::as_ptr(inner.instances.get_unchecked(index as usize)) }
}

/// Whether one more activation fits: the configured depth counts saved
/// frames plus one per nested invocation, and the frame records are
/// bounded by the value stack's cells as well, so even a function with
/// no locals and no operands cannot grow them without limit.
#[inline(always)]
fn frame_room(inner: &StoreInner, max_depth: usize) -> bool {
    let depth = inner.frames.len() + 1;
    depth + inner.nesting <= max_depth && depth <= inner.engine.inner.config.max_stack_cells
}

fn run<T>(
    store: &mut Store<T>,
    code: &CompiledFunc,
    mut inst_index: u32,
    mut fp: usize,
    entry_frames: usize,
) -> Result<usize> {
    // Live activations: the saved ones plus one per nested invocation.
    let max_depth = store.inner.engine.inner.config.max_call_depth as usize;
    if store.inner.frames.len() + store.inner.nesting > max_depth {
        return Err(Trap::new(TrapKind::StackExhausted).into());
    }
    // SAFETY: `code` outlives the invocation (the caller holds it, and
    // callees' code is owned by the store's functions, which are never
    // dropped); `invoke` checked the instance index.
    let mut code: &CompiledFunc = unsafe { &*(code as *const CompiledFunc) };
    let mut inst: &InstanceData = unsafe { instance_at(&store.inner, inst_index) };
    let mut pc: usize = 0;
    let mut sp = match enter(&mut store.inner.stack, code, fp) {
        Ok(sp) => sp,
        Err(k) => return Err(Trap::new(k).into()),
    };

    loop {
        let action = {
            let inner = &mut store.inner;
            // The value stack is moved out of the store while this
            // activation runs, so the loop holds a plain slice (its pointer
            // and length stay in registers); it goes back before anything
            // else can see the store.
            let mut stack_vec = std::mem::take(&mut inner.stack);
            let stack = &mut stack_vec[..];
            // SAFETY (both macros): `enter` checked `fp + max_height <=
            // stack.len()` for this activation, and validation bounds every
            // local index and operand height of the function below
            // `max_height` (translate.rs); branch targets and handler
            // targets stay within those heights.
            macro_rules! get {
                ($i:expr) => {{
                    let i: usize = $i;
                    debug_assert!(i < stack.len());
                    unsafe { *stack.get_unchecked(i) }
                }};
            }
            macro_rules! set {
                ($i:expr, $v:expr) => {{
                    let i: usize = $i;
                    let v: RawVal = $v;
                    debug_assert!(i < stack.len());
                    unsafe { *stack.get_unchecked_mut(i) = v }
                }};
            }
            // Pushes the operands a fused instruction carries (none for a
            // plain operator), then applies the numeric operator.
            macro_rules! apply {
                ($op:expr $(, $operand:expr)*) => {{
                    $(
                        let v: RawVal = $operand;
                        set!(sp, v);
                        sp += 1;
                    )*
                    // SAFETY: validated code has the operator's operands on
                    // the stack (the unfused form pushed the carried ones
                    // too), within this activation's bounds.
                    unsafe { numeric::exec($op, stack, &mut sp) }
                }};
            }
            let mut instrs = &code.code[..];
            let mut mem0 = memory0(inst);
            let action = 'dispatch: loop {
                // Matched in place: copying the whole instruction out first
                // costs more than the dispatch itself.
                debug_assert!(pc < instrs.len());
                // SAFETY: translated code ends with `Return` and every branch
                // target is an index of the same code, so `pc` stays in bounds.
                let instr = unsafe { instrs.get_unchecked(pc) };
                pc += 1;
                // Unwraps an operator's result or leaves the loop with its trap.
                macro_rules! value {
                    ($r:expr) => {
                        match $r {
                            Ok(v) => v,
                            Err(k) => break Action::Trap(k),
                        }
                    };
                }
                // A load (the value) from or a store to memory 0, whose
                // address width the instruction names.
                // SAFETY (both): the translator emits the memory-0 forms
                // only for a module with a memory 0, so `mem0` is its live
                // definition.
                macro_rules! load0 {
                    ($kind:expr, $offset:expr, $memory64:expr, $addr:expr) => {{
                        let arg = MemArg {
                            offset: $offset,
                            mem: 0,
                            memory64: $memory64,
                        };
                        let m = unsafe { &*mem0 };
                        match memory::load(m, $kind, arg, $addr) {
                            Some(v) => v,
                            None => break Action::Trap(TrapKind::MemoryOutOfBounds),
                        }
                    }};
                }
                macro_rules! store0 {
                    ($kind:expr, $offset:expr, $memory64:expr) => {{
                        sp -= 2;
                        let arg = MemArg {
                            offset: $offset,
                            mem: 0,
                            memory64: $memory64,
                        };
                        let m = unsafe { &*mem0 };
                        let (addr, v) = (get!(sp), get!(sp + 1));
                        if memory::store(m, $kind, arg, addr, v).is_none() {
                            break Action::Trap(TrapKind::MemoryOutOfBounds);
                        }
                    }};
                }
                // The dispatch: the arms below plus one handler per
                // specialised numeric instruction (see `with_specialised`).
                macro_rules! dispatch {
                    (
                        { { $($fixed:tt)* } { $($bulk:tt)* } }
                        binary [ $(($op:ident, $s:ident, $si:ident, $sl:ident, $li:ident,
                                    $ll:ident, $lis:ident, $lls:ident))* ]
                        compare [ $(($cop:ident, $bs:ident, $bsi:ident, $bsl:ident,
                                     $bli:ident, $bll:ident))* ]
                        loads [ $(($lk:ident, $l32:ident, $l64:ident, $l32l:ident, $l64l:ident))* ]
                        stores [ $(($sk:ident, $s32:ident, $s64:ident))* ]
                    ) => {
                        match *instr {
                            $($fixed)*
                            $(
                                Instr::$s => {
                                    sp -= 1;
                                    let v = value!(numeric::binary(NumOp::$op, get!(sp - 1), get!(sp)));
                                    set!(sp - 1, v);
                                }
                                Instr::$si { imm } => {
                                    let v = value!(numeric::binary(NumOp::$op, get!(sp - 1), imm));
                                    set!(sp - 1, v);
                                }
                                Instr::$sl { local } => {
                                    let rhs = get!(fp + local as usize);
                                    let v = value!(numeric::binary(NumOp::$op, get!(sp - 1), rhs));
                                    set!(sp - 1, v);
                                }
                                Instr::$li { local, imm } => {
                                    let lhs = get!(fp + local as usize);
                                    let v = value!(numeric::binary(NumOp::$op, lhs, imm as i64 as u64));
                                    set!(sp, v);
                                    sp += 1;
                                }
                                Instr::$ll { a, b } => {
                                    let (lhs, rhs) = (get!(fp + a as usize), get!(fp + b as usize));
                                    let v = value!(numeric::binary(NumOp::$op, lhs, rhs));
                                    set!(sp, v);
                                    sp += 1;
                                }
                                Instr::$lis { local, imm, dst } => {
                                    let lhs = get!(fp + local as usize);
                                    let v = value!(numeric::binary(NumOp::$op, lhs, imm as i64 as u64));
                                    set!(fp + dst as usize, v);
                                }
                                Instr::$lls { a, b, dst } => {
                                    let (lhs, rhs) = (get!(fp + a as usize), get!(fp + b as usize));
                                    let v = value!(numeric::binary(NumOp::$op, lhs, rhs));
                                    set!(fp + dst as usize, v);
                                }
                            )*
                            $(
                                Instr::$bs { target } => {
                                    sp -= 2;
                                    let c = numeric::binary(NumOp::$cop, get!(sp), get!(sp + 1));
                                    if c.unwrap_or(0) != 0 {
                                        pc = branch(stack, &mut sp, fp, target);
                                    }
                                }
                                Instr::$bsi { imm, target } => {
                                    sp -= 1;
                                    let c = numeric::binary(NumOp::$cop, get!(sp), imm);
                                    if c.unwrap_or(0) != 0 {
                                        pc = branch(stack, &mut sp, fp, target);
                                    }
                                }
                                Instr::$bsl { local, target } => {
                                    sp -= 1;
                                    let rhs = get!(fp + local as usize);
                                    let c = numeric::binary(NumOp::$cop, get!(sp), rhs);
                                    if c.unwrap_or(0) != 0 {
                                        pc = branch(stack, &mut sp, fp, target);
                                    }
                                }
                                Instr::$bli { local, imm, target } => {
                                    let lhs = get!(fp + local as usize);
                                    let c = numeric::binary(NumOp::$cop, lhs, imm as i64 as u64);
                                    if c.unwrap_or(0) != 0 {
                                        pc = branch(stack, &mut sp, fp, target);
                                    }
                                }
                                Instr::$bll { a, b, target } => {
                                    let (lhs, rhs) = (get!(fp + a as usize), get!(fp + b as usize));
                                    let c = numeric::binary(NumOp::$cop, lhs, rhs);
                                    if c.unwrap_or(0) != 0 {
                                        pc = branch(stack, &mut sp, fp, target);
                                    }
                                }
                            )*
                            $(
                                Instr::$l32 { offset } => {
                                    let v = load0!(LoadKind::$lk, offset, false, get!(sp - 1));
                                    set!(sp - 1, v);
                                }
                                Instr::$l64 { offset } => {
                                    let v = load0!(LoadKind::$lk, offset, true, get!(sp - 1));
                                    set!(sp - 1, v);
                                }
                                Instr::$l32l { offset, local } => {
                                    let addr = get!(fp + local as usize);
                                    let v = load0!(LoadKind::$lk, offset, false, addr);
                                    set!(sp, v);
                                    sp += 1;
                                }
                                Instr::$l64l { offset, local } => {
                                    let addr = get!(fp + local as usize);
                                    let v = load0!(LoadKind::$lk, offset, true, addr);
                                    set!(sp, v);
                                    sp += 1;
                                }
                            )*
                            $(
                                Instr::$s32 { offset } => store0!(StoreKind::$sk, offset, false),
                                Instr::$s64 { offset } => store0!(StoreKind::$sk, offset, true),
                            )*
                            _ => { $($bulk)* }
                        }
                    };
                }
                with_specialised!(dispatch! {
                {
                    Instr::Unreachable => break Action::Trap(TrapKind::Unreachable),
                    Instr::ConsumeFuel(n) => {
                        let fuel = &mut inner.vm.fuel;
                        if *fuel < u64::from(n) {
                            *fuel = 0;
                            break Action::Trap(TrapKind::OutOfFuel);
                        }
                        *fuel -= u64::from(n);
                    }
                    Instr::CheckEpoch => {
                        if inner.vm.epoch_reached() {
                            break Action::Trap(TrapKind::Interrupted);
                        }
                    }
                    Instr::Br(t) => pc = branch(stack, &mut sp, fp, t),
                    Instr::BrIf(t) => {
                        sp -= 1;
                        if get!(sp) as u32 != 0 {
                            pc = branch(stack, &mut sp, fp, t);
                        }
                    }
                    Instr::BrIfZero(t) => {
                        sp -= 1;
                        if get!(sp) as u32 == 0 {
                            pc = branch(stack, &mut sp, fp, t);
                        }
                    }
                    Instr::BrIfZero64(t) => {
                        sp -= 1;
                        if get!(sp) == 0 {
                            pc = branch(stack, &mut sp, fp, t);
                        }
                    }
                    Instr::BrIfNonZero64(t) => {
                        sp -= 1;
                        if get!(sp) != 0 {
                            pc = branch(stack, &mut sp, fp, t);
                        }
                    }
                    Instr::BrIfEqz(target) => {
                        sp -= 1;
                        if get!(sp) as u32 == 0 {
                            pc = target as usize;
                        }
                    }
                    Instr::Jump(target) => pc = target as usize,
                    Instr::BrTable { first, count } => {
                        sp -= 1;
                        let i = (get!(sp) as u32).min(count);
                        let t = code.br_tables[(first + i) as usize];
                        pc = branch(stack, &mut sp, fp, t);
                    }
                    Instr::BrOnNull(t) => {
                        if get!(sp - 1) == 0 {
                            sp -= 1;
                            pc = branch(stack, &mut sp, fp, t);
                        }
                    }
                    Instr::BrOnNonNull(t) => {
                        if get!(sp - 1) != 0 {
                            pc = branch(stack, &mut sp, fp, t);
                        } else {
                            sp -= 1;
                        }
                    }
                    Instr::Return => {
                        // Return to a caller of this invocation without
                        // leaving the loop (Wasm 3.0 §4.4.10 "return").
                        if inner.frames.len() <= entry_frames {
                            break Action::Return;
                        }
                        let Some(caller) = inner.frames.pop() else {
                            break Action::Return;
                        };
                        let n = code.num_results as usize;
                        if n > 0 {
                            stack.copy_within(sp - n..sp, fp);
                        }
                        sp = fp + n;
                        fp = caller.fp;
                        pc = caller.pc;
                        // SAFETY: see `Frame`.
                        (code, inst) = unsafe { (&*caller.code, &*caller.instance) };
                        inst_index = caller.instance_index;
                        instrs = &code.code[..];
                        mem0 = memory0(inst);
                    }
                    Instr::Call(f) => {
                        // A wasm callee runs in this loop: its frame is a
                        // plain record and its activation starts at its
                        // arguments (Wasm 3.0 §4.4.10 "call").
                        let addr = inst.funcs[f as usize];
                        let Some((callee, callee_index)) = wasm_callee(inner, addr) else {
                            break Action::Call(addr);
                        };
                        if !frame_room(inner, max_depth) {
                            break Action::Call(addr);
                        }
                        // SAFETY: see `Frame`.
                        let callee = unsafe { &*callee };
                        let new_fp = sp - callee.num_params as usize;
                        match enter(stack, callee, new_fp) {
                            Ok(new_sp) => sp = new_sp,
                            // The slow path raises the trap with a backtrace.
                            Err(_) => break Action::Call(addr),
                        }
                        inner.frames.push(Frame {
                            code,
                            instance: inst,
                            instance_index: inst_index,
                            pc,
                            fp,
                        });
                        fp = new_fp;
                        pc = 0;
                        code = callee;
                        // SAFETY: a function's instance index is valid.
                        inst = unsafe { instance_at(inner, callee_index) };
                        inst_index = callee_index;
                        instrs = &code.code[..];
                        mem0 = memory0(inst);
                    }
                    Instr::ReturnCall(f) => break Action::ReturnCall(inst.funcs[f as usize]),
                    Instr::CallIndirect { type_id, table }
                    | Instr::ReturnCallIndirect { type_id, table } => {
                        sp -= 1;
                        let addr = match resolve_indirect(inner, inst, table, type_id, get!(sp)) {
                            Ok(addr) => addr,
                            Err(kind) => break Action::Trap(kind),
                        };
                        if matches!(*instr, Instr::CallIndirect { .. }) {
                            break Action::Call(addr);
                        }
                        break Action::ReturnCall(addr);
                    }
                    Instr::CallRef | Instr::ReturnCallRef => {
                        sp -= 1;
                        let Some(addr) = get!(sp).checked_sub(1) else {
                            break Action::Trap(TrapKind::NullFunctionReference);
                        };
                        if *instr == Instr::CallRef {
                            break Action::Call(addr as u32);
                        }
                        break Action::ReturnCall(addr as u32);
                    }
                    Instr::Throw(tag) => {
                        let tag_addr = inst.tags[tag as usize];
                        let ty = inner.tags[tag_addr as usize].ty;
                        let n = inner
                            .engine
                            .func_type(ty)
                            .map(|f| f.param_cells())
                            .unwrap_or(0);
                        sp -= n;
                        let payload: Box<[RawVal]> = stack[sp..sp + n].into();
                        inner.exns.push(ExnInst {
                            tag: tag_addr,
                            payload,
                            escaped: false,
                        });
                        break Action::Throw(inner.exns.len() as u32 - 1);
                    }
                    Instr::ThrowRef => {
                        sp -= 1;
                        match get!(sp).checked_sub(1) {
                            Some(e) => break Action::Throw(e as u32),
                            None => break Action::Trap(TrapKind::NullExceptionReference),
                        }
                    }
                    Instr::Rethrow(local) => match get!(fp + local as usize).checked_sub(1) {
                        Some(e) => break Action::Throw(e as u32),
                        None => break Action::Trap(TrapKind::NullExceptionReference),
                    },
                    Instr::Drop => sp -= 1,
                    Instr::Select => {
                        sp -= 2;
                        if get!(sp + 1) as u32 == 0 {
                            set!(sp - 1, get!(sp));
                        }
                    }
                    Instr::LocalGet(i) => {
                        set!(sp, get!(fp + i as usize));
                        sp += 1;
                    }
                    Instr::LocalSet(i) => {
                        sp -= 1;
                        set!(fp + i as usize, get!(sp));
                    }
                    Instr::LocalTee(i) => set!(fp + i as usize, get!(sp - 1)),
                    Instr::GlobalGet(g) => {
                        // SAFETY: validation bounds `g` by the global count;
                        // the cell lives as long as the store.
                        let value = unsafe { (*inst.vmctx.global(g)).value };
                        set!(sp, value);
                        sp += 1;
                    }
                    Instr::GlobalSet(g) => {
                        sp -= 1;
                        let value = get!(sp);
                        // SAFETY: as for `GlobalGet`.
                        unsafe { (*inst.vmctx.global(g)).value = value };
                    }
                    Instr::Const(c) => {
                        set!(sp, c);
                        sp += 1;
                    }
                    Instr::NumImm { op, imm } => {
                        if let Err(k) = apply!(op, imm) {
                            break Action::Trap(k);
                        }
                    }
                    Instr::NumLocal { op, local } => {
                        if let Err(k) = apply!(op, get!(fp + local as usize)) {
                            break Action::Trap(k);
                        }
                    }
                    Instr::BrIfNum { op, target } => {
                        if let Err(k) = apply!(op) {
                            break Action::Trap(k);
                        }
                        sp -= 1;
                        if get!(sp) as u32 != 0 {
                            pc = branch(stack, &mut sp, fp, target);
                        }
                    }
                    Instr::NumLocalImm { op, local, imm } => {
                        if let Err(k) = apply!(op, get!(fp + local as usize), imm as i64 as u64) {
                            break Action::Trap(k);
                        }
                    }
                    Instr::NumLocalLocal { op, a, b } => {
                        if let Err(k) = apply!(op, get!(fp + a as usize), get!(fp + b as usize)) {
                            break Action::Trap(k);
                        }
                    }
                    Instr::NumLocalImmSet {
                        op,
                        local,
                        imm,
                        dst,
                    } => {
                        if let Err(k) = apply!(op, get!(fp + local as usize), imm as i64 as u64) {
                            break Action::Trap(k);
                        }
                        sp -= 1;
                        set!(fp + dst as usize, get!(sp));
                    }
                    Instr::NumLocalLocalSet { op, a, b, dst } => {
                        if let Err(k) = apply!(op, get!(fp + a as usize), get!(fp + b as usize)) {
                            break Action::Trap(k);
                        }
                        sp -= 1;
                        set!(fp + dst as usize, get!(sp));
                    }
                    Instr::BrIfLocalImm {
                        op,
                        local,
                        imm,
                        target,
                    } => {
                        if let Err(k) = apply!(op, get!(fp + local as usize), imm as i64 as u64) {
                            break Action::Trap(k);
                        }
                        sp -= 1;
                        if get!(sp) as u32 != 0 {
                            pc = branch(stack, &mut sp, fp, target);
                        }
                    }
                    Instr::BrIfLocalLocal { op, a, b, target } => {
                        if let Err(k) = apply!(op, get!(fp + a as usize), get!(fp + b as usize)) {
                            break Action::Trap(k);
                        }
                        sp -= 1;
                        if get!(sp) as u32 != 0 {
                            pc = branch(stack, &mut sp, fp, target);
                        }
                    }
                    Instr::Num(op) => {
                        if let Err(k) = apply!(op) {
                            break Action::Trap(k);
                        }
                    }
                    Instr::Load(kind, arg) => {
                        // SAFETY: validation bounds `arg.mem` by the memory count.
                        let mem = unsafe { inst.vmctx.memory(arg.mem) };
                        match memory::load(&mem, kind, arg, get!(sp - 1)) {
                            Some(v) => set!(sp - 1, v),
                            None => break Action::Trap(TrapKind::MemoryOutOfBounds),
                        }
                    }
                    Instr::LoadLocal {
                        kind,
                        memory64,
                        mem,
                        local,
                        offset,
                    } => {
                        let arg = MemArg {
                            offset,
                            mem,
                            memory64,
                        };
                        // SAFETY: validation bounds `mem` by the memory count.
                        let mem = unsafe { inst.vmctx.memory(mem) };
                        match memory::load(&mem, kind, arg, get!(fp + local as usize)) {
                            Some(v) => {
                                set!(sp, v);
                                sp += 1;
                            }
                            None => break Action::Trap(TrapKind::MemoryOutOfBounds),
                        }
                    }
                    Instr::Store(kind, arg) => {
                        sp -= 2;
                        // SAFETY: validation bounds `arg.mem` by the memory count.
                        let mem = unsafe { inst.vmctx.memory(arg.mem) };
                        let (addr, value) = (get!(sp), get!(sp + 1));
                        if memory::store(&mem, kind, arg, addr, value).is_none() {
                            break Action::Trap(TrapKind::MemoryOutOfBounds);
                        }
                    }
                    Instr::RefFunc(f) => {
                        set!(sp, u64::from(inst.funcs[f as usize]) + 1);
                        sp += 1;
                    }
                    Instr::RefIsNull => set!(sp - 1, u64::from(get!(sp - 1) == 0)),
                    Instr::RefAsNonNull => {
                        if get!(sp - 1) == 0 {
                            break Action::Trap(TrapKind::NullReference);
                        }
                    }
                    Instr::RefEq => {
                        sp -= 1;
                        set!(sp - 1, u64::from(get!(sp - 1) == get!(sp)));
                    }
                } {
                    // The bulk memory and table operators.
                    if let Err(k) = memory::exec_bulk(inner, stack, inst, instr, &mut sp) {
                        break 'dispatch Action::Trap(k);
                    }
                }
                });
            };
            inner.stack = stack_vec;
            action
        };

        match action {
            Action::Return => {
                let n = code.num_results as usize;
                let Some(caller) = return_from(store, fp, sp - n..sp, entry_frames) else {
                    return Ok(n);
                };
                (code, inst, inst_index, pc, fp, sp) = caller;
            }
            Action::Call(addr) | Action::ReturnCall(addr) => {
                let tail = matches!(action, Action::ReturnCall(_));
                let host = match &store.inner.funcs[addr as usize].kind {
                    FuncKind::Host(h) => Some(*h),
                    FuncKind::Wasm { .. } => None,
                };
                if let Some((callee, callee_index)) = wasm_callee(&store.inner, addr) {
                    // SAFETY: see `Frame`.
                    let callee = unsafe { &*callee };
                    let n = callee.num_params as usize;
                    let new_fp = if tail {
                        store.inner.stack.copy_within(sp - n..sp, fp);
                        fp
                    } else {
                        if !frame_room(&store.inner, max_depth) {
                            let mut t = Trap::new(TrapKind::StackExhausted);
                            t.set_backtrace(backtrace(
                                code,
                                inst,
                                pc,
                                &store.inner.frames[entry_frames..],
                            ));
                            return Err(t.into());
                        }
                        store.inner.frames.push(Frame {
                            code,
                            instance: inst,
                            instance_index: inst_index,
                            pc,
                            fp,
                        });
                        sp - n
                    };
                    code = callee;
                    // SAFETY: a function's instance index is valid.
                    inst = unsafe { instance_at(&store.inner, callee_index) };
                    inst_index = callee_index;
                    fp = new_fp;
                    pc = 0;
                    sp = match enter(&mut store.inner.stack, code, fp) {
                        Ok(sp) => sp,
                        Err(k) => {
                            let mut t = Trap::new(k);
                            t.set_backtrace(backtrace(
                                code,
                                inst,
                                1,
                                &store.inner.frames[entry_frames..],
                            ));
                            return Err(t.into());
                        }
                    };
                    continue;
                }
                let Some(h) = host else {
                    return Err(Error::usage("call of a dangling function"));
                };
                let n = store
                    .host_funcs
                    .get(h as usize)
                    .map(|f| f.ty.param_cells())
                    .unwrap_or(0);
                let args: Vec<RawVal> = store.inner.stack[sp - n..sp].to_vec();
                let base = sp - n;
                store.inner.sp = sp;
                let caller_instance = store.inner.instances[inst_index as usize].clone();
                let outcome = call_host(store, h, Some(caller_instance), &args);
                match outcome {
                    Ok(results) => {
                        if base + results.len() > store.inner.stack.len() {
                            return Err(Trap::new(TrapKind::StackExhausted).into());
                        }
                        store.inner.stack[base..base + results.len()].copy_from_slice(&results);
                        sp = base + results.len();
                        if tail {
                            // The host's results are this function's results.
                            let r = results.len();
                            let Some(caller) = return_from(store, fp, base..base + r, entry_frames)
                            else {
                                return Ok(r);
                            };
                            (code, inst, inst_index, pc, fp, sp) = caller;
                        }
                    }
                    Err(Error::Exception(exn)) => {
                        let at = Activation::new(code, inst, inst_index, fp, pc);
                        let Some((resume, new_sp)) = unwind(store, at, exn.index, entry_frames)
                        else {
                            escape(&mut store.inner, exn.index);
                            return Err(Error::Exception(exn));
                        };
                        (code, inst, inst_index, fp, pc) = resume.parts();
                        sp = new_sp;
                    }
                    Err(Error::Trap(mut t)) => {
                        t.set_backtrace(backtrace(
                            code,
                            inst,
                            pc,
                            &store.inner.frames[entry_frames..],
                        ));
                        return Err(Error::Trap(t));
                    }
                    Err(e) => return Err(e),
                }
            }
            Action::Throw(exn) => {
                let at = Activation::new(code, inst, inst_index, fp, pc);
                match unwind(store, at, exn, entry_frames) {
                    Some((resume, new_sp)) => {
                        (code, inst, inst_index, fp, pc) = resume.parts();
                        sp = new_sp;
                    }
                    None => {
                        escape(&mut store.inner, exn);
                        let tag = store
                            .inner
                            .exns
                            .get(exn as usize)
                            .map(|e| e.tag)
                            .unwrap_or(0);
                        return Err(Error::Exception(Exn {
                            store: store.inner.id,
                            index: exn,
                            tag: crate::Tag {
                                store: store.inner.id,
                                index: tag,
                            },
                        }));
                    }
                }
            }
            Action::Trap(kind) => {
                let mut t = Trap::new(kind);
                t.set_backtrace(backtrace(
                    code,
                    inst,
                    pc,
                    &store.inner.frames[entry_frames..],
                ));
                return Err(t.into());
            }
        }
    }
}

/// Where an activation stands: its code, instance, frame and pc.
struct Activation<'a> {
    code: &'a CompiledFunc,
    inst: &'a InstanceData,
    inst_index: u32,
    fp: usize,
    pc: usize,
}

impl<'a> Activation<'a> {
    fn new(
        code: &'a CompiledFunc,
        inst: &'a InstanceData,
        inst_index: u32,
        fp: usize,
        pc: usize,
    ) -> Activation<'a> {
        Activation {
            code,
            inst,
            inst_index,
            fp,
            pc,
        }
    }

    fn parts(self) -> (&'a CompiledFunc, &'a InstanceData, u32, usize, usize) {
        (self.code, self.inst, self.inst_index, self.fp, self.pc)
    }

    /// The caller a saved frame describes.
    ///
    /// # Safety
    /// See `Frame`: the frame's code and instance outlive the invocation.
    unsafe fn of_frame(f: &Frame) -> Activation<'a> {
        // SAFETY: the caller's contract.
        let (code, inst) = unsafe { (&*f.code, &*f.instance) };
        Activation {
            code,
            inst,
            inst_index: f.instance_index,
            fp: f.fp,
            pc: f.pc,
        }
    }
}

/// Where the caller resumes after a return: its code, instance (and its
/// store index), pc, fp and the stack pointer just above the results.
type Caller<'a> = (&'a CompiledFunc, &'a InstanceData, u32, usize, usize, usize);

/// Returns from the activation at `fp` whose results are at `results`:
/// moves them down to `fp` and pops the caller's frame, or None when the
/// activation was this invocation's entry (results stay at `fp`).
fn return_from<'a, T>(
    store: &mut Store<T>,
    fp: usize,
    results: std::ops::Range<usize>,
    entry_frames: usize,
) -> Option<Caller<'a>> {
    let n = results.len();
    store.inner.stack.copy_within(results, fp);
    if store.inner.frames.len() <= entry_frames {
        return None;
    }
    let caller = store.inner.frames.pop()?;
    // SAFETY: see `Frame`.
    let c = unsafe { Activation::of_frame(&caller) };
    Some((c.code, c.inst, c.inst_index, c.pc, c.fp, fp + n))
}

/// Unwinds frames of this invocation until a handler catches `exn`
/// (Wasm 3.0 §4.4.11 "throw_ref"): returns where to resume and the stack
/// pointer there, or None if the exception leaves the invocation.
fn unwind<'a, T>(
    store: &mut Store<T>,
    mut at: Activation<'a>,
    exn: u32,
    entry_frames: usize,
) -> Option<(Activation<'a>, usize)> {
    loop {
        let mut sp = 0;
        if let Some(target) = find_handler(
            &mut store.inner,
            at.code,
            at.inst,
            at.fp,
            at.pc,
            exn,
            &mut sp,
        ) {
            at.pc = target;
            return Some((at, sp));
        }
        if store.inner.frames.len() <= entry_frames {
            return None;
        }
        let caller = store.inner.frames.pop()?;
        // SAFETY: see `Frame`.
        at = unsafe { Activation::of_frame(&caller) };
    }
}

#[cfg(test)]
mod tests {
    use crate::{Config, Engine, Instance, Module, Store, Strategy, Val};

    /// A loop that throws and catches (without keeping a reference) frees
    /// each exception when it is caught: the store holds none afterwards.
    #[test]
    fn caught_exceptions_are_freed() {
        let mut config = Config::new();
        config.strategy(Strategy::Interp);
        let engine = Engine::new(&config);
        let wat = r#"(module
          (tag $t (param i32))
          (func (export "run") (param $n i32) (result i32) (local $sum i32)
            (loop $l
              (block $caught (result i32)
                (try_table (catch $t $caught)
                  (throw $t (local.get $n)))
                (unreachable))
              (local.set $sum (i32.add (local.get $sum)))
              (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
            (local.get $sum)))"#;
        let module = Module::new(&engine, wat).expect("compile");
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).expect("instantiate");
        let f = instance.get_func(&store, "run").expect("export");
        let mut out = [Val::I32(0)];
        f.call(&mut store, &[Val::I32(100_000)], &mut out)
            .expect("call");
        assert_eq!(out, [Val::I32(705_082_704)]);
        assert_eq!(store.inner.exns.len(), 0);
    }
}
