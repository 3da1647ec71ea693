//! Interrupting a running guest from another thread, with wasmtime's epochs
//! as the model: the engine owns a counter any thread may increment; each
//! store has a deadline; with `Config::epoch_interruption` on, every tier
//! checks `counter >= deadline` at function entry and loop headers and
//! traps with "interrupted". Host calls that block (WASI `poll_oneoff`)
//! check the same condition through an [`InterruptProbe`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A handle that interrupts every store of one engine whose deadline it
/// reaches; cheap to clone and to send to another thread.
#[derive(Clone, Debug)]
pub struct InterruptHandle {
    pub(crate) epoch: Arc<AtomicU64>,
}

impl InterruptHandle {
    /// Advances the engine's epoch by one tick (`Engine::increment_epoch`).
    pub fn increment_epoch(&self) {
        self.epoch.fetch_add(1, Ordering::Release);
    }
}

/// Whether one store's deadline has passed, checkable without the store
/// (a host function holding its memory can still ask).
#[derive(Clone, Debug)]
pub struct InterruptProbe {
    pub(crate) epoch: Option<Arc<AtomicU64>>,
    pub(crate) deadline: u64,
}

impl InterruptProbe {
    /// Whether the guest should stop now.
    pub fn is_interrupted(&self) -> bool {
        self.epoch
            .as_ref()
            .is_some_and(|e| e.load(Ordering::Acquire) >= self.deadline)
    }
}
