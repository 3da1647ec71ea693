//! Exceptions (SDM Vol.3A §6.15) and the other reasons `Cpu::step` stops.

/// Page-fault error code bits (SDM Vol.3A §4.7, Figure 4-12).
pub mod pf {
    /// The fault was a protection violation on a present page (else: not present).
    pub const PRESENT: u32 = 1 << 0;
    /// The access was a write.
    pub const WRITE: u32 = 1 << 1;
    /// The access was a user-mode access (CPL 3, not an implicit supervisor access).
    pub const USER: u32 = 1 << 2;
    /// A reserved bit was set in some paging-structure entry.
    pub const RESERVED: u32 = 1 << 3;
    /// The access was an instruction fetch (reported when NX is in use).
    pub const FETCH: u32 = 1 << 4;
}

/// An architectural exception raised by an instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exception {
    /// #DE: divide error (DIV/IDIV by zero or quotient overflow).
    DivideError,
    /// #DB: debug exception (INT1).
    Debug,
    /// #BP: INT3.
    Breakpoint,
    /// #OF: INTO with OF set.
    Overflow,
    /// #BR: BOUND range exceeded.
    BoundRange,
    /// #UD: invalid or unimplemented opcode.
    InvalidOpcode,
    /// #NM: device not available.
    DeviceNotAvailable,
    /// #DF: a fault while delivering a fault (SDM Vol.3A §6.15, Table 6-5).
    DoubleFault,
    /// #TS with its selector error code: invalid TSS.
    InvalidTss(u32),
    /// #NP with its selector error code: segment not present.
    SegmentNotPresent(u32),
    /// #GP with its error code (non-canonical address, bad alignment of SSE operands …).
    GeneralProtection(u32),
    /// #SS: stack fault.
    StackFault(u32),
    /// #PF: page fault at `addr` (CR2) with its error code (bits in [`pf`]).
    PageFault {
        /// Faulting linear address (CR2).
        addr: u64,
        /// Error code: [`pf::PRESENT`], [`pf::WRITE`], [`pf::USER`] ….
        code: u32,
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
            Exception::Debug => 1,
            Exception::Breakpoint => 3,
            Exception::Overflow => 4,
            Exception::BoundRange => 5,
            Exception::InvalidOpcode => 6,
            Exception::DeviceNotAvailable => 7,
            Exception::DoubleFault => 8,
            Exception::InvalidTss(_) => 10,
            Exception::SegmentNotPresent(_) => 11,
            Exception::StackFault(_) => 12,
            Exception::GeneralProtection(_) => 13,
            Exception::PageFault { .. } => 14,
            Exception::FloatingPoint => 16,
            Exception::AlignmentCheck => 17,
            Exception::SimdFloatingPoint => 19,
        }
    }

    /// The error code pushed with the exception, if it has one (SDM Vol.3A §6.13).
    pub fn error_code(self) -> Option<u32> {
        match self {
            Exception::DoubleFault | Exception::AlignmentCheck => Some(0),
            Exception::InvalidTss(c)
            | Exception::SegmentNotPresent(c)
            | Exception::GeneralProtection(c)
            | Exception::StackFault(c) => Some(c),
            Exception::PageFault { code, .. } => Some(code),
            _ => None,
        }
    }

    /// A #PF for a write access.
    pub fn is_write_fault(self) -> bool {
        matches!(self, Exception::PageFault { code, .. } if code & pf::WRITE != 0)
    }

    /// A #PF for an instruction fetch.
    pub fn is_fetch_fault(self) -> bool {
        matches!(self, Exception::PageFault { code, .. } if code & pf::FETCH != 0)
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
    /// A fault while delivering a double fault: the processor shuts down
    /// (SDM Vol.3A §6.15, interrupt 8).
    TripleFault,
}

impl From<Exception> for Stop {
    fn from(e: Exception) -> Self {
        Stop::Exception(e)
    }
}
