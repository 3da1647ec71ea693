//! `args_*` and `environ_*`: NUL-terminated strings laid out the C way, an
//! array of pointer-sized entries plus one buffer of bytes.

use super::{Call, CallResult, arg64};
use crate::abi::GuestMemory;

/// Writes `strings` as `char *vec[]` at `vec` and their bytes at `buf`.
fn write_strings(call: &mut Call<'_>, strings: &[Vec<u8>], vec: u64, buf: u64) -> CallResult {
    let ptr_bytes = call.mem.width().pointer_bytes();
    let mut at = buf;
    let mut slot = vec;
    for s in strings {
        call.mem.write_size(slot, at)?;
        call.mem.write_bytes(at, s)?;
        let nul = GuestMemory::offset(at, s.len() as u64)?;
        call.mem.write_u8(nul, 0)?;
        at = GuestMemory::offset(nul, 1)?;
        slot = GuestMemory::offset(slot, ptr_bytes)?;
    }
    Ok(())
}

/// Writes the count of `strings` and the bytes they need with their NULs.
fn write_sizes(call: &mut Call<'_>, strings: &[Vec<u8>], count: u64, bytes: u64) -> CallResult {
    let total: usize = strings.iter().map(|s| s.len() + 1).sum();
    call.mem.write_size(count, strings.len() as u64)?;
    call.mem.write_size(bytes, total as u64)?;
    Ok(())
}

pub(crate) fn args_get(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let strings = std::mem::take(&mut call.ctx.args);
    let r = write_strings(call, &strings, arg64(a, 0), arg64(a, 1));
    call.ctx.args = strings;
    r
}

pub(crate) fn args_sizes_get(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let strings = std::mem::take(&mut call.ctx.args);
    let r = write_sizes(call, &strings, arg64(a, 0), arg64(a, 1));
    call.ctx.args = strings;
    r
}

pub(crate) fn environ_get(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let strings = std::mem::take(&mut call.ctx.env);
    let r = write_strings(call, &strings, arg64(a, 0), arg64(a, 1));
    call.ctx.env = strings;
    r
}

pub(crate) fn environ_sizes_get(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let strings = std::mem::take(&mut call.ctx.env);
    let r = write_sizes(call, &strings, arg64(a, 0), arg64(a, 1));
    call.ctx.env = strings;
    r
}
