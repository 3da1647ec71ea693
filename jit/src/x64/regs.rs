//! Register roles in compiled code (System V numbering for `dynasm`'s
//! `Rq(n)`/`Rd(n)` forms where used).
//!
//! | register | role |
//! |---|---|
//! | rax | operand A and results |
//! | rcx | operand B (and shift counts) |
//! | rdx | operand C; clobbered by division |
//! | rsi | on entry to a function: its argument/result cells |
//! | rdi | scratch (local zeroing) |
//! | rsp | cell `c` of the frame is at `rsp + 8c` |
//! | rbp | frame pointer; the caller's cells pointer is saved at `rbp - 8`, the frame's VM context at `rbp - 16` |
//! | r14 | the instance's `VMContext` (callee-saved, set by the entry trampoline or a cross-module tail call, reloaded after each call) |
//! | r15 | the invocation's [`EntryState`](super::abi::EntryState) |
