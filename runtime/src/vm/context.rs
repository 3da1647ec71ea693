//! The state every tier reads at the same addresses: per instance a
//! `VMContext` (laid out by `offsets.rs`) pointing at the definitions of
//! its memories, tables, globals and functions; per store a
//! `VMStoreContext` (fuel, the epoch deadline, the engine's epoch counter).
//! Everything here is `repr(C)` so compiled code can load the fields at the
//! offsets given here.

use std::ptr::NonNull;
use std::sync::atomic::AtomicU64;

use super::offsets::{INSTANCE_INDEX, STORE_CONTEXT, VMOffsets};
use crate::values::RawVal;

/// A linear memory as code sees it; owned by the memory, at a stable
/// address, updated when it grows.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct VMMemoryDefinition {
    /// The first byte (never moves).
    pub base: *mut u8,
    /// The accessible length in bytes.
    pub length: u64,
}

/// A table as code sees it; owned by the table, at a stable address.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct VMTableDefinition {
    /// The first element (never moves).
    pub base: *mut RawVal,
    /// The size in elements.
    pub length: u64,
}

/// A global's value cell; owned by the global, at a stable address.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct VMGlobalDefinition {
    /// The value's cell; a `v128`'s low half.
    pub value: RawVal,
    /// A `v128`'s high half (unused by other types).
    pub hi: RawVal,
}

/// A function reference machine code can call: where its code is, the
/// context it closes over and its canonical type for `call_indirect`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct VMFuncRef {
    /// Compiled entry point; null while the function only has interpreter code.
    pub code: *const u8,
    /// The owning instance's `VMContext` (null for host functions).
    pub vmctx: *mut u8,
    /// The canonical type id.
    pub type_id: u32,
    /// The function's index in the store.
    pub store_index: u32,
}

/// The store-wide VM state; boxed in the store so its address is stable.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct VMStoreContext {
    /// Fuel left (counted only when the engine consumes fuel).
    pub fuel: u64,
    /// The epoch at or beyond which the guest is interrupted.
    pub epoch_deadline: u64,
    /// The engine's epoch counter (lives as long as the engine, which the
    /// store holds).
    pub epoch: *const AtomicU64,
    /// The `Store<T>` whose compiled code is running, for call-outs (set
    /// at each entry into compiled code; null when none ran yet).
    pub callout_store: *mut u8,
    /// Runs a call-out on `callout_store`: the store's `T` is known only
    /// where compiled code is entered, so the entry leaves this here.
    pub callout_dispatch: Option<CallOutDispatch>,
    /// Where a call-out leaves a compiled callee's code address and VM
    /// context for the caller to call or jump to
    /// (`wrun_jit::CALLEE_COMPILED`).
    pub tail_code: *const u8,
    pub tail_vmctx: *mut u8,
}

/// `dispatch(store, vmctx, cells, op, a, b) -> trap code or 0`, see
/// `tier::callout`.
pub(crate) type CallOutDispatch = unsafe fn(*mut u8, *mut u8, *mut u64, u32, u32, u32) -> u32;

// SAFETY: `epoch` points into an `Arc` the store keeps alive through its
// engine, and the counter is atomic.
unsafe impl Send for VMStoreContext {}
// SAFETY: as above; the other fields are plain data behind `&`.
unsafe impl Sync for VMStoreContext {}

/// An instance's VM context: one allocation laid out by [`VMOffsets`],
/// filled at instantiation and never moved.
pub(crate) struct VMContext {
    words: NonNull<u64>,
    len_words: usize,
    offsets: VMOffsets,
}

// SAFETY: the context owns its allocation; the pointers it stores refer to
// store-owned definitions and are only followed by the store's owner.
unsafe impl Send for VMContext {}
// SAFETY: shared access only reads.
unsafe impl Sync for VMContext {}

impl VMContext {
    /// A zeroed context for `offsets` whose header points at `store` and
    /// names instance `instance` of it.
    pub fn new(offsets: VMOffsets, store: *const VMStoreContext, instance: u32) -> VMContext {
        let len_words = (offsets.size as usize).div_ceil(8);
        let words: Box<[u64]> = vec![0; len_words].into_boxed_slice();
        let words = NonNull::from(Box::leak(words)).cast::<u64>();
        let mut ctx = VMContext {
            words,
            len_words,
            offsets,
        };
        ctx.write(STORE_CONTEXT, store);
        ctx.write(INSTANCE_INDEX, u64::from(instance));
        ctx
    }

    /// The store index of the instance whose context is at `vmctx`.
    #[cfg_attr(not(jit), allow(dead_code, reason = "JIT tier only"))]
    ///
    /// # Safety
    /// `vmctx` must be a live context's [`as_ptr`](Self::as_ptr).
    pub unsafe fn instance_index(vmctx: *const u8) -> u32 {
        // SAFETY: the header slot written by `new`, 8-aligned.
        unsafe { vmctx.add(INSTANCE_INDEX as usize).cast::<u64>().read() as u32 }
    }

    /// The store context of the context at `vmctx`.
    #[cfg_attr(not(jit), allow(dead_code, reason = "JIT tier only"))]
    ///
    /// # Safety
    /// `vmctx` must be a live context's [`as_ptr`](Self::as_ptr).
    pub unsafe fn store_context(vmctx: *const u8) -> *mut VMStoreContext {
        // SAFETY: the header slot written by `new`, 8-aligned.
        unsafe {
            vmctx
                .add(STORE_CONTEXT as usize)
                .cast::<*mut VMStoreContext>()
                .read()
        }
    }

    /// The context's address, as compiled code receives it.
    pub fn as_ptr(&self) -> *mut u8 {
        self.words.as_ptr().cast()
    }

    fn write<T>(&mut self, offset: u32, value: T) {
        assert!(offset as usize + std::mem::size_of::<T>() <= self.len_words * 8);
        // SAFETY: in bounds (checked above) and aligned: every slot's offset
        // is a multiple of its size, and the allocation is 8-aligned.
        unsafe { self.as_ptr().add(offset as usize).cast::<T>().write(value) }
    }

    /// Points slot `i` of each array at its definition.
    pub fn set_memory(&mut self, i: u32, def: *mut VMMemoryDefinition) {
        self.write(self.offsets.memory(i), def);
    }

    pub fn set_table(&mut self, i: u32, def: *mut VMTableDefinition) {
        self.write(self.offsets.table(i), def);
    }

    pub fn set_global(&mut self, i: u32, def: *mut VMGlobalDefinition) {
        self.write(self.offsets.global(i), def);
    }

    pub fn set_func(&mut self, i: u32, func: *const VMFuncRef) {
        self.write(self.offsets.func(i), func);
    }

    pub fn set_type_id(&mut self, i: u32, id: u32) {
        self.write(self.offsets.type_id(i), id);
    }

    /// Memory `i`'s current definition.
    ///
    /// # Safety
    /// `i` must be below the module's memory count (validation guarantees
    /// it for every memory index in a function body).
    #[inline(always)]
    pub unsafe fn memory(&self, i: u32) -> VMMemoryDefinition {
        // SAFETY: the caller's contract, and the definition is live.
        unsafe { self.memory_definition(i).read() }
    }

    /// Where memory `i`'s base and current length live (the memory owns
    /// the definition at a stable address, so a tier may hold the pointer
    /// and read the length after every `memory.grow`).
    ///
    /// # Safety
    /// As for [`VMContext::memory`].
    #[inline(always)]
    pub unsafe fn memory_definition(&self, i: u32) -> *const VMMemoryDefinition {
        let slot = self.offsets.memories_start as usize + i as usize * 8;
        // SAFETY: the caller keeps `i` in bounds; instantiation filled the
        // slot with a definition owned by a memory the store keeps alive.
        unsafe {
            self.as_ptr()
                .add(slot)
                .cast::<*const VMMemoryDefinition>()
                .read()
        }
    }

    /// Global `i`'s value cell.
    ///
    /// # Safety
    /// `i` must be below the module's global count (validation guarantees
    /// it for every global index in a function body).
    #[inline(always)]
    pub unsafe fn global(&self, i: u32) -> *mut VMGlobalDefinition {
        let slot = self.offsets.globals_start as usize + i as usize * 8;
        // SAFETY: as in `memory`.
        unsafe {
            self.as_ptr()
                .add(slot)
                .cast::<*mut VMGlobalDefinition>()
                .read()
        }
    }
}

impl Drop for VMContext {
    fn drop(&mut self) {
        let slice = std::ptr::slice_from_raw_parts_mut(self.words.as_ptr(), self.len_words);
        // SAFETY: the allocation came from `Box::leak` of this length in `new`.
        drop(unsafe { Box::from_raw(slice) });
    }
}

/// Byte offsets of [`VMStoreContext`]'s fields, for compiled code.
#[cfg_attr(not(test), allow(dead_code, reason = "read by the JIT tier"))]
pub(crate) mod store_offsets {
    use super::VMStoreContext;
    use std::mem::offset_of;

    pub const FUEL: usize = offset_of!(VMStoreContext, fuel);
    pub const EPOCH_DEADLINE: usize = offset_of!(VMStoreContext, epoch_deadline);
    pub const EPOCH: usize = offset_of!(VMStoreContext, epoch);
    pub const TAIL_CODE: usize = offset_of!(VMStoreContext, tail_code);
    pub const TAIL_VMCTX: usize = offset_of!(VMStoreContext, tail_vmctx);
}

impl VMStoreContext {
    /// Whether the epoch reached the deadline (Acquire pairs with the
    /// Release increment of [`InterruptHandle`](super::InterruptHandle)).
    #[inline(always)]
    pub fn epoch_reached(&self) -> bool {
        // SAFETY: `epoch` outlives the store (see the field's comment).
        let epoch = unsafe { &*self.epoch };
        epoch.load(std::sync::atomic::Ordering::Acquire) >= self.epoch_deadline
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The context of an instance, read the way compiled code will: raw
    /// loads at the offsets `VMOffsets` computed.
    #[test]
    fn an_instance_context_points_at_its_entities() {
        use crate::{Engine, Linker, Module, Store};
        let engine = Engine::default();
        let wat = r#"(module (memory 2) (memory 0) (global (mut i64) (i64.const 42))
            (func (export "grow") (drop (memory.grow 1 (i32.const 3))))
            (func (export "set") (global.set 0 (i64.const 7))))"#;
        let module = Module::new(&engine, wat).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine)
            .instantiate(&mut store, &module)
            .unwrap();
        let read = |store: &Store<()>, offset: u32| -> *const u8 {
            let ctx = &store.inner.instances[0].vmctx;
            // SAFETY: a pointer slot of the live context.
            unsafe { ctx.as_ptr().add(offset as usize).cast::<*const u8>().read() }
        };
        let offsets = store.inner.instances[0].vmctx.offsets;
        let store_ctx = read(&store, STORE_CONTEXT);
        assert_eq!(
            store_ctx,
            (&*store.inner.vm as *const VMStoreContext).cast()
        );
        let mem1 = read(&store, offsets.memory(1)).cast::<VMMemoryDefinition>();
        let global = read(&store, offsets.global(0)).cast::<VMGlobalDefinition>();
        // SAFETY: definitions owned by the live store.
        unsafe {
            assert_eq!((*mem1).length, 0);
            assert_eq!((*global).value, 42);
        }
        let base = store.inner.memories[1].base();
        for name in ["grow", "set"] {
            let f = instance.get_func(&store, name).unwrap();
            f.call(&mut store, &[], &mut []).unwrap();
        }
        // SAFETY: as above.
        unsafe {
            assert_eq!((*mem1).length, 3 << 16, "grown in place");
            assert_eq!((*mem1).base, base, "the base never moves");
            assert_eq!((*global).value, 7);
        }
    }

    #[test]
    fn offsets_follow_the_c_layout() {
        assert_eq!(store_offsets::FUEL, 0);
        assert_eq!(store_offsets::EPOCH_DEADLINE, 8);
        assert_eq!(store_offsets::EPOCH, 16);
    }
}
