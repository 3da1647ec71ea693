//! `clock_res_get` and `clock_time_get` over the host's POSIX clocks.

use rustix::time::{ClockId, Timespec};

use super::{Call, CallResult, arg32, arg64};
use crate::types::{Errno, clockid};

/// The host clock for a WASI `clockid`.
pub(crate) fn host_clock(id: u32) -> Result<ClockId, Errno> {
    Ok(match id {
        clockid::REALTIME => ClockId::Realtime,
        clockid::MONOTONIC => ClockId::Monotonic,
        clockid::PROCESS_CPUTIME_ID => ClockId::ProcessCPUTime,
        clockid::THREAD_CPUTIME_ID => ClockId::ThreadCPUTime,
        _ => return Err(Errno::INVAL),
    })
}

/// A timespec in nanoseconds; times before 1970 clamp to 0.
pub(crate) fn nanos(t: Timespec) -> u64 {
    let ns = i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec);
    u64::try_from(ns.max(0)).unwrap_or(u64::MAX)
}

/// The current time of a WASI clock, in nanoseconds.
pub(crate) fn now(id: u32) -> Result<u64, Errno> {
    Ok(nanos(rustix::time::clock_gettime(host_clock(id)?)))
}

pub(crate) fn clock_res_get(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let res = nanos(rustix::time::clock_getres(host_clock(arg32(a, 0))?));
    call.mem.write_u64(arg64(a, 1), res)?;
    Ok(())
}

pub(crate) fn clock_time_get(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    // Argument 1 is the requested precision, which the host clocks already
    // meet or cannot improve on.
    let t = now(arg32(a, 0))?;
    call.mem.write_u64(arg64(a, 2), t)?;
    Ok(())
}
