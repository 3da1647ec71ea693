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
//! | xmm0–xmm2 | scratch of float operators |
//! | xmm3–xmm15 | float operands the generator allocates ([`ALLOCATABLE_FLOAT`]) |
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
/// Float registers are numbered from here: xmm`n` is `Reg(XMM + n)`.
pub const XMM: u8 = 16;

/// The xmm number of a float register.
pub fn xmm(r: Reg) -> Option<u8> {
    r.0.checked_sub(XMM)
}
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

/// The float registers operands are allocated from: xmm3–xmm15 (xmm0–2
/// are the float operators' scratch).
pub const ALLOCATABLE_FLOAT: [Reg; 13] = [
    Reg(XMM + 3),
    Reg(XMM + 4),
    Reg(XMM + 5),
    Reg(XMM + 6),
    Reg(XMM + 7),
    Reg(XMM + 8),
    Reg(XMM + 9),
    Reg(XMM + 10),
    Reg(XMM + 11),
    Reg(XMM + 12),
    Reg(XMM + 13),
    Reg(XMM + 14),
    Reg(XMM + 15),
];
