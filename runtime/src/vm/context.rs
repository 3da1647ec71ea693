//! Store-wide state every tier reads at the same address: fuel, the epoch
//! deadline and where the engine's epoch counter lives. It is `repr(C)` so
//! compiled code can load its fields at the offsets given here.

use std::sync::atomic::AtomicU64;

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
}

// SAFETY: `epoch` points into an `Arc` the store keeps alive through its
// engine, and the counter is atomic.
unsafe impl Send for VMStoreContext {}
// SAFETY: as above; the other fields are plain data behind `&`.
unsafe impl Sync for VMStoreContext {}

/// Byte offsets of [`VMStoreContext`]'s fields, for compiled code.
#[cfg_attr(not(test), allow(dead_code, reason = "read by the JIT tier"))]
pub(crate) mod store_offsets {
    use super::VMStoreContext;
    use std::mem::offset_of;

    pub const FUEL: usize = offset_of!(VMStoreContext, fuel);
    pub const EPOCH_DEADLINE: usize = offset_of!(VMStoreContext, epoch_deadline);
    pub const EPOCH: usize = offset_of!(VMStoreContext, epoch);
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

    #[test]
    fn offsets_follow_the_c_layout() {
        assert_eq!(store_offsets::FUEL, 0);
        assert_eq!(store_offsets::EPOCH_DEADLINE, 8);
        assert_eq!(store_offsets::EPOCH, 16);
    }
}
