//! The calling conventions of compiled code on aarch64 (AAPCS64).
//!
//! - From the host: the entry trampoline at offset 0 of a module's code,
//!   `extern "C" fn(vmctx, cells, code, state) -> u32`. It saves x19–x30,
//!   keeps `vmctx` in x28 and `state` in x27, records its stack pointer in
//!   `state.saved_sp`, and calls `code` with `x0 = x1 = cells`. It returns
//!   0, or a trap code: a trap stub restores the saved stack pointer and
//!   returns through the trampoline, discarding every compiled frame (as
//!   on x64: they hold no Rust values).
//! - Between compiled functions: `bl` with `x0` pointing at the arguments
//!   and `x1` at the cells the callee writes its results to (for a
//!   `return_call`, `x0` is the state's `tail_args` buffer and `x1` the
//!   results pointer the tail-calling function itself received); the
//!   status comes back in w0.
//! - The call-out entry is an `extern "C"` function (x0–x4 in, w0 out).

pub use crate::masm::{EntryState, SAVED_SP, STACK_LIMIT, TAIL_ARGS, frame_bytes};

/// The host's view of the entry trampoline.
pub type EntryTrampoline = unsafe extern "C" fn(
    vmctx: *mut u8,
    cells: *mut u64,
    code: *const u8,
    state: *mut EntryState,
) -> u32;
