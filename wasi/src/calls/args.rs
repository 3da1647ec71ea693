//! `args_*` and `environ_*`: NUL-terminated strings laid out the C way, an
//! array of pointer-sized entries plus one buffer of bytes.

use super::{Call, CallResult, arg64};
use crate::abi::GuestMemory;

/// Writes `strings` as `char *vec[]` at `vec` and their bytes at `buf`.
fn write_strings(mem: &mut GuestMemory<'_>, strings: &[Vec<u8>], vec: u64, buf: u64) -> CallResult {
    let ptr_bytes = mem.width().pointer_bytes();
    let mut at = buf;
    let mut slot = vec;
    for s in strings {
        mem.write_size(slot, at)?;
        mem.write_bytes(at, s)?;
        let nul = GuestMemory::offset(at, s.len() as u64)?;
        mem.write_u8(nul, 0)?;
        at = GuestMemory::offset(nul, 1)?;
        slot = GuestMemory::offset(slot, ptr_bytes)?;
    }
    Ok(())
}

/// Writes the count of `strings` and the bytes they need with their NULs.
fn write_sizes(
    mem: &mut GuestMemory<'_>,
    strings: &[Vec<u8>],
    count: u64,
    bytes: u64,
) -> CallResult {
    let total: usize = strings.iter().map(|s| s.len() + 1).sum();
    mem.write_size(count, strings.len() as u64)?;
    mem.write_size(bytes, total as u64)?;
    Ok(())
}

pub(crate) fn args_get(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    write_strings(&mut call.mem, &call.ctx.args, arg64(a, 0), arg64(a, 1))
}

pub(crate) fn args_sizes_get(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    write_sizes(&mut call.mem, &call.ctx.args, arg64(a, 0), arg64(a, 1))
}

pub(crate) fn environ_get(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    write_strings(&mut call.mem, &call.ctx.env, arg64(a, 0), arg64(a, 1))
}

pub(crate) fn environ_sizes_get(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    write_sizes(&mut call.mem, &call.ctx.env, arg64(a, 0), arg64(a, 1))
}
