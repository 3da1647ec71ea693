//! `VmBox<T>`: a heap cell at a stable address that both Rust and machine
//! code read and write. Unlike `Box`, it never hands out a long-lived
//! reference, so a write through the raw address by compiled code does not
//! alias a Rust borrow.

use std::ptr::NonNull;

/// An owned heap cell accessed by copy, with a stable raw address.
pub(crate) struct VmBox<T: Copy> {
    ptr: NonNull<T>,
}

// SAFETY: a `VmBox` owns its cell like a `Box`; the `T`s kept in it are
// plain data (raw pointers into store-owned memory are only dereferenced
// by the store's owner thread).
unsafe impl<T: Copy> Send for VmBox<T> {}
// SAFETY: shared access only copies the value out.
unsafe impl<T: Copy> Sync for VmBox<T> {}

impl<T: Copy> VmBox<T> {
    pub fn new(value: T) -> VmBox<T> {
        VmBox {
            ptr: NonNull::from(Box::leak(Box::new(value))),
        }
    }

    /// The cell's address, stable for the box's life.
    pub fn as_ptr(&self) -> *mut T {
        self.ptr.as_ptr()
    }

    /// The current value.
    #[inline(always)]
    pub fn get(&self) -> T {
        // SAFETY: the cell is live and initialized while `self` is.
        unsafe { self.ptr.as_ptr().read() }
    }

    /// Replaces the value.
    #[inline(always)]
    pub fn set(&mut self, value: T) {
        // SAFETY: as in `get`; `&mut self` orders this write after Rust's
        // other accesses.
        unsafe { self.ptr.as_ptr().write(value) }
    }
}

impl<T: Copy> Drop for VmBox<T> {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `Box::leak` in `new` and is freed once.
        drop(unsafe { Box::from_raw(self.ptr.as_ptr()) });
    }
}
