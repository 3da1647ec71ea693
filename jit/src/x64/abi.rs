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
//! - Between compiled functions: `call` with `rdi` pointing at the
//!   arguments and `rsi` at the cells the callee writes its results to
//!   (both the caller's argument cells for a `call`; for a `return_call`,
//!   `rdi` is the state's `tail_args` buffer and `rsi` the results pointer
//!   the tail-calling function itself received).

use std::mem::offset_of;

use crate::masm::MAX_TAIL_CALL_ARGS;

/// Per-invocation state the trampoline and trap stubs share (r15).
#[repr(C)]
#[derive(Debug)]
pub struct EntryState {
    /// The trampoline's stack pointer after saving registers.
    pub saved_rsp: u64,
    /// The lowest stack address a frame may reach.
    pub stack_limit: u64,
    /// Where `return_call` leaves its arguments for the callee.
    pub tail_args: [u64; MAX_TAIL_CALL_ARGS as usize],
}

impl EntryState {
    /// The state of an invocation whose frames may reach `stack_limit`.
    pub fn new(stack_limit: u64) -> EntryState {
        EntryState {
            saved_rsp: 0,
            stack_limit,
            tail_args: [0; MAX_TAIL_CALL_ARGS as usize],
        }
    }
}

/// Offset of [`EntryState::saved_rsp`].
pub const SAVED_RSP: i32 = offset_of!(EntryState, saved_rsp) as i32;
/// Offset of [`EntryState::stack_limit`].
pub const STACK_LIMIT: i32 = offset_of!(EntryState, stack_limit) as i32;
/// Offset of [`EntryState::tail_args`].
pub const TAIL_ARGS: i32 = offset_of!(EntryState, tail_args) as i32;

/// The host's view of the entry trampoline.
pub type EntryTrampoline = unsafe extern "sysv64" fn(
    vmctx: *mut u8,
    cells: *mut u64,
    code: *const u8,
    state: *mut EntryState,
) -> u32;

/// Bytes of a frame of `cells` cells plus the saved cells pointer and
/// VM context (`rbp - 8`, `rbp - 16`), kept a multiple of 16 so calls see
/// an aligned stack.
pub fn frame_bytes(cells: u32) -> Option<i32> {
    let bytes = (u64::from(cells) + 2) * 8;
    i32::try_from(bytes.div_ceil(16) * 16).ok()
}
