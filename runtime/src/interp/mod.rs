//! The interpreter: the reference execution tier. Each function is
//! translated once (`translate`) into internal code (`code`), which the
//! dispatch loop (`exec`) runs; operator families live in `numeric`,
//! `memory` and `simd`.

pub(crate) mod code;
pub(crate) mod exec;
pub(crate) mod memory;
pub(crate) mod numeric;
pub(crate) mod simd;
pub(crate) mod translate;
