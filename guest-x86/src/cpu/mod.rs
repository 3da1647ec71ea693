//! The x86 processor: architectural state, the decoder and execution,
//! grouped by instruction family (one file per family, like wasmi's
//! `executor/instrs/`).

mod alu;
mod bits;
mod control;
pub mod cpuid;
pub mod decode;
mod exec;
mod far;
mod fast;
pub mod fault;
pub mod flags;
pub mod interrupt;
mod io;
mod mmx;
pub mod msr;
mod muldiv;
mod operand;
mod privileged;
pub mod segment;
mod shift;
pub mod softfloat;
mod sse;
mod sse41;
mod sse42;
mod sse_float;
mod ssse3;
mod stack;
pub mod state;
mod string;
mod syscall;
mod system;
pub mod table;
mod x87;

pub use decode::{Insn, decode};
pub use exec::{DecodeCache, RunLimits};
pub use fault::{Exception, Stop};
pub use interrupt::EventSource;
pub use sse::{fxrstor, fxsave};
pub use state::{Cpu, CpuMode, Platform, Reg, SegReg};
