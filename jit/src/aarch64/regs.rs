//! Register roles in compiled code (AAPCS64 numbering: `Reg(n)` is
//! x`n`/w`n`, `Reg(V + n)` is v`n`).
//!
//! | register | role |
//! |---|---|
//! | x0, x1 | on entry to a function: its argument and result cells; the status on return (w0); call arguments |
//! | x2–x4 | call-out arguments |
//! | x9–x15 | scratch of multi-step operators (bounds checks, copies) |
//! | x16 | scratch: right-hand constants that do not encode as immediates |
//! | x17 | scratch: addresses whose offsets do not encode (large frames) |
//! | x18 | the platform register: never touched |
//! | x19–x26 | operands the generator allocates ([`ALLOCATABLE`]) |
//! | x27 | the invocation's [`EntryState`](crate::masm::EntryState) |
//! | x28 | the instance's `VMContext` (set by the entry trampoline or a cross-module tail call, reloaded after each call) |
//! | x29 | frame pointer; the caller's cells pointer is saved at `x29 - 8`, the frame's VM context at `x29 - 16` |
//! | x30 | link register |
//! | sp | cell `c` of the frame is at `sp + 8c` |
//! | v0–v2 | scratch of float operators |
//! | v16–v31 | float operands the generator allocates ([`ALLOCATABLE_FLOAT`]) |
//!
//! Allocatable registers hold nothing across a call (the generator puts
//! every operand in its cell first). x19–x28 are callee-saved in AAPCS64,
//! so the entry trampoline saves them for the host; v16–v31 are
//! caller-saved, and v8–v15 (whose low halves the host expects kept) are
//! never used.

use crate::masm::Reg;

/// Float registers are numbered from here: v`n` is `Reg(V + n)`.
pub const V: u8 = 32;

/// The v number of a float register.
pub fn vreg(r: Reg) -> Option<u8> {
    r.0.checked_sub(V)
}

/// Scratch for constants.
pub const IMM: u8 = 16;
/// Scratch for addresses.
pub const ADDR: u8 = 17;
/// The invocation's entry state.
pub const STATE: u8 = 27;
/// The instance's VM context.
pub const VMCTX: u8 = 28;
/// The stack pointer in `XSP(n)` forms.
pub const SP: u8 = 31;

/// The registers operands are allocated from, in order of preference.
pub const ALLOCATABLE: [Reg; 8] = [
    Reg(19),
    Reg(20),
    Reg(21),
    Reg(22),
    Reg(23),
    Reg(24),
    Reg(25),
    Reg(26),
];

/// The float registers operands are allocated from: v16–v31.
pub const ALLOCATABLE_FLOAT: [Reg; 16] = [
    Reg(V + 16),
    Reg(V + 17),
    Reg(V + 18),
    Reg(V + 19),
    Reg(V + 20),
    Reg(V + 21),
    Reg(V + 22),
    Reg(V + 23),
    Reg(V + 24),
    Reg(V + 25),
    Reg(V + 26),
    Reg(V + 27),
    Reg(V + 28),
    Reg(V + 29),
    Reg(V + 30),
    Reg(V + 31),
];
