//! Register roles in compiled code (System V numbering for `dynasm`'s
//! `Rq(n)`/`Rd(n)` forms).
//!
//! | register | role |
//! |---|---|
//! | rax | scratch; the first operand and result of operators run on fixed registers |
//! | rcx | scratch; their second operand (and shift counts) |
//! | rdx | scratch; clobbered by division, holds a memory's base during an access |
//! | rsi | on entry to a function: its argument/result cells; scratch after |
//! | rdi | scratch (local zeroing, bounds checks) |
//! | rbx, r8–r13 | operands the generator allocates ([`ALLOCATABLE`]) |
//! | rsp | cell `c` of the frame is at `rsp + 8c` |
//! | rbp | frame pointer; the caller's cells pointer is saved at `rbp - 8`, the frame's VM context at `rbp - 16` |
//! | r14 | the instance's `VMContext` (callee-saved, set by the entry trampoline or a cross-module tail call, reloaded after each call) |
//! | r15 | the invocation's [`EntryState`](super::abi::EntryState) |
//!
//! Allocatable registers hold nothing across a call (the generator puts
//! every operand in its cell first), so whether the System V convention
//! saves them does not matter; the entry trampoline saves rbx, r12 and r13
//! for the host.

use crate::masm::Reg;

pub const RAX: Reg = Reg(0);
pub const RCX: Reg = Reg(1);

/// The registers operands are allocated from, in order of preference.
pub const ALLOCATABLE: [Reg; 7] = [
    Reg(3),  // rbx
    Reg(8),  // r8
    Reg(9),  // r9
    Reg(10), // r10
    Reg(11), // r11
    Reg(12), // r12
    Reg(13), // r13
];
