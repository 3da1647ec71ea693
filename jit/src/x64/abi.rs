//! The calling conventions of compiled code.
//!
//! - From the host: the entry trampoline at offset 0 of a module's code,
//!   `extern "sysv64" fn(vmctx, cells, code, state) -> u32`. It saves the
//!   callee-saved registers, keeps `vmctx` in r14 and `state` in r15,
//!   records its stack pointer in `state.saved_sp`, and calls `code` with
//!   `rsi = cells`. It returns 0, or a trap code: a trap stub restores the
//!   saved stack pointer and returns through the trampoline, discarding
//!   every compiled frame (they hold no Rust values, so nothing is skipped
//!   that needed dropping, and no Rust panic ever crosses them).
//! - Between compiled functions: `call` with `rdi` pointing at the
//!   arguments and `rsi` at the cells the callee writes its results to
//!   (both the caller's argument cells for a `call`; for a `return_call`,
//!   `rdi` is the state's `tail_args` buffer and `rsi` the results pointer
//!   the tail-calling function itself received).

pub use crate::masm::{EntryState, SAVED_SP, STACK_LIMIT, TAIL_ARGS, frame_bytes};

/// The host's view of the entry trampoline.
pub type EntryTrampoline = unsafe extern "sysv64" fn(
    vmctx: *mut u8,
    cells: *mut u64,
    code: *const u8,
    state: *mut EntryState,
) -> u32;
