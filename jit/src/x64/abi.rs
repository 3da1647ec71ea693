//! The calling conventions of compiled code.
//!
//! - From the host: the entry trampoline at offset 0 of a module's code,
//!   `extern "sysv64" fn(vmctx, cells, code, state) -> u32`. It saves the
//!   callee-saved registers, keeps `vmctx` in r14 and `state` in r15,
//!   records its stack pointer in `state.saved_rsp`, and calls `code` with
//!   `rsi = cells`. It returns 0, or a trap code: a trap stub restores the
//!   saved stack pointer and returns through the trampoline, discarding
//!   every compiled frame (they hold no Rust values, so nothing is skipped
//!   that needed dropping, and no Rust panic ever crosses them).
//! - Between compiled functions: `call` with `rsi` pointing at the caller's
//!   cells holding the arguments; the callee writes its results there.

use std::mem::offset_of;

/// Per-invocation state the trampoline and trap stubs share (r15).
#[repr(C)]
#[derive(Debug, Default)]
pub struct EntryState {
    /// The trampoline's stack pointer after saving registers.
    pub saved_rsp: u64,
    /// The lowest stack address a frame may reach.
    pub stack_limit: u64,
}

/// Offset of [`EntryState::saved_rsp`].
pub const SAVED_RSP: i32 = offset_of!(EntryState, saved_rsp) as i32;
/// Offset of [`EntryState::stack_limit`].
pub const STACK_LIMIT: i32 = offset_of!(EntryState, stack_limit) as i32;

/// The host's view of the entry trampoline.
pub type EntryTrampoline = unsafe extern "sysv64" fn(
    vmctx: *mut u8,
    cells: *mut u64,
    code: *const u8,
    state: *mut EntryState,
) -> u32;

/// Bytes of a frame of `cells` cells plus the saved cells pointer, kept a
/// multiple of 16 so calls see an aligned stack.
pub fn frame_bytes(cells: u32) -> Option<i32> {
    let bytes = (u64::from(cells) + 1) * 8;
    i32::try_from(bytes.div_ceil(16) * 16).ok()
}
