//! `proc_exit`, `proc_raise`, `sched_yield` and `random_get`.

use super::{Call, CallResult, Stop, arg32, arg64};
use crate::types::Errno;

pub(crate) fn proc_exit(_call: &mut Call<'_>, a: &[u64]) -> CallResult {
    // The status is a `u32`; hosts report it as the process' exit status.
    Err(Stop::Exit(arg32(a, 0) as i32))
}

pub(crate) fn proc_raise(_call: &mut Call<'_>, _a: &[u64]) -> CallResult {
    // Signals do not exist for a wasm guest: no handler can run and no
    // default action applies. wasi-libc's `abort` traps instead of raising.
    Err(Errno::NOSYS.into())
}

pub(crate) fn sched_yield(_call: &mut Call<'_>, _a: &[u64]) -> CallResult {
    std::thread::yield_now();
    Ok(())
}

pub(crate) fn random_get(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let buf = call.mem.slice_mut(arg64(a, 0), arg64(a, 1))?;
    let mut filled = 0;
    while filled < buf.len() {
        match rustix::rand::getrandom(&mut buf[filled..], rustix::rand::GetRandomFlags::empty()) {
            Ok(n) => filled += n,
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(Errno::from_host(e).into()),
        }
    }
    Ok(())
}
