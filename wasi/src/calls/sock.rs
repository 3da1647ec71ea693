//! `sock_*`. wrun hands the guest no sockets (there is no way to preopen
//! one yet), so every fd is either closed (`EBADF`) or not a socket
//! (`ENOTSOCK`), which is what a real system answers for those.

use super::{Call, CallResult, arg32};
use crate::types::Errno;

fn not_a_socket(call: &mut Call<'_>, fd: u32) -> CallResult {
    call.ctx.entry(fd)?;
    Err(Errno::NOTSOCK.into())
}

pub(crate) fn sock_accept(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    not_a_socket(call, arg32(a, 0))
}

pub(crate) fn sock_recv(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    not_a_socket(call, arg32(a, 0))
}

pub(crate) fn sock_send(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    not_a_socket(call, arg32(a, 0))
}

pub(crate) fn sock_shutdown(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    not_a_socket(call, arg32(a, 0))
}
