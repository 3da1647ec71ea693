//! Exceptions (SDM Vol.3A §6.15) and the other reasons `Cpu::step` stops.

/// An architectural exception raised by an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exception {
    /// #DE: divide error (DIV/IDIV by zero or quotient overflow).
    DivideError,
    /// #BP: INT3.
    Breakpoint,
    /// #UD: invalid or unimplemented opcode.
    InvalidOpcode,
    /// #NM: device not available.
    DeviceNotAvailable,
    /// #GP with its error code (non-canonical address, bad alignment of SSE operands …).
    GeneralProtection(u32),
    /// #SS: stack fault.
    StackFault(u32),
    /// #PF: page fault at `addr`; `write` tells a store from a load or fetch.
    PageFault {
        /// Faulting linear address (CR2).
        addr: u64,
        /// True for a write access.
        write: bool,
        /// True for an instruction fetch.
        fetch: bool,
    },
    /// #MF: x87 floating-point error.
    FloatingPoint,
    /// #AC: alignment check.
    AlignmentCheck,
    /// #XM: unmasked SIMD floating-point exception.
    SimdFloatingPoint,
}

impl Exception {
    /// The vector number (SDM Vol.3A Table 6-1).
    pub fn vector(self) -> u8 {
        match self {
            Exception::DivideError => 0,
            Exception::Breakpoint => 3,
            Exception::InvalidOpcode => 6,
            Exception::DeviceNotAvailable => 7,
            Exception::StackFault(_) => 12,
            Exception::GeneralProtection(_) => 13,
            Exception::PageFault { .. } => 14,
            Exception::FloatingPoint => 16,
            Exception::AlignmentCheck => 17,
            Exception::SimdFloatingPoint => 19,
        }
    }
}

/// Why `Cpu::step` returned without completing an ordinary instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// The instruction raised an exception; RIP still points at it.
    Exception(Exception),
    /// SYSCALL executed in user mode: RIP is past it, RCX/R11 set as the
    /// hardware does (SDM Vol.2B SYSCALL); the OS layer takes over.
    Syscall,
    /// HLT.
    Halt,
    /// INT n (software interrupt) with its vector; RIP is past it.
    SoftwareInterrupt(u8),
}

impl From<Exception> for Stop {
    fn from(e: Exception) -> Self {
        Stop::Exception(e)
    }
}
