//! Operations on an open fd: reads and writes (plain, positional, vectored),
//! seeking, metadata, flags and rights, directory listing, preopen queries,
//! renumbering and closing.

use std::io::{Read, Write};
use std::num::NonZeroU64;
use std::os::fd::BorrowedFd;
use std::os::unix::fs::FileExt;

use rustix::event::{PollFd, PollFlags};
use rustix::fs::{
    Advice, AtFlags, FallocateFlags, OFlags, SeekFrom, StatxFlags, Timespec, Timestamps,
};

use super::{Call, CallResult, arg32, arg64};
use crate::abi::GuestMemory;
use crate::ctx::{Handle, Stream};
use crate::types::{Errno, PREOPENTYPE_DIR, fdflags, filetype, fstflags, rights};

/// Size of a `filestat` (the same on wasm32 and wasm64: no pointers).
const FILESTAT_BYTES: u64 = 64;
/// Size of a `dirent` header; the name follows it.
const DIRENT_HEADER_BYTES: usize = 24;

/// Host metadata of an fd (works on `O_PATH` fds too).
pub(crate) fn statx(fd: BorrowedFd<'_>) -> Result<rustix::fs::Statx, Errno> {
    Ok(rustix::fs::statx(
        fd,
        "",
        AtFlags::EMPTY_PATH,
        StatxFlags::BASIC_STATS,
    )?)
}

fn timestamp_nanos(t: rustix::fs::StatxTimestamp) -> u64 {
    let ns = i128::from(t.tv_sec) * 1_000_000_000 + i128::from(t.tv_nsec);
    u64::try_from(ns.max(0)).unwrap_or(u64::MAX)
}

/// Writes a `filestat` at `ptr`: dev, ino, filetype, nlink, size, atim,
/// mtim, ctim.
pub(crate) fn write_filestat(
    mem: &mut GuestMemory<'_>,
    ptr: u64,
    st: Option<&rustix::fs::Statx>,
) -> Result<(), Errno> {
    let mut out = [0u8; FILESTAT_BYTES as usize];
    if let Some(st) = st {
        let dev = rustix::fs::makedev(st.stx_dev_major, st.stx_dev_minor);
        let ftype =
            filetype::from_host(rustix::fs::FileType::from_raw_mode(u32::from(st.stx_mode)));
        out[0..8].copy_from_slice(&dev.to_le_bytes());
        out[8..16].copy_from_slice(&st.stx_ino.to_le_bytes());
        out[16] = ftype;
        out[24..32].copy_from_slice(&u64::from(st.stx_nlink).to_le_bytes());
        out[32..40].copy_from_slice(&st.stx_size.to_le_bytes());
        out[40..48].copy_from_slice(&timestamp_nanos(st.stx_atime).to_le_bytes());
        out[48..56].copy_from_slice(&timestamp_nanos(st.stx_mtime).to_le_bytes());
        out[56..64].copy_from_slice(&timestamp_nanos(st.stx_ctime).to_le_bytes());
    }
    mem.write_bytes(ptr, &out)
}

/// The host `Timestamps` for a `*_set_times` call (`UTIME_OMIT` for a time
/// that is left alone, `UTIME_NOW` for "now").
pub(crate) fn timestamps(atim: u64, mtim: u64, flags: u16) -> Result<Timestamps, Errno> {
    let one = |value: u64, set: u16, now: u16| -> Result<Timespec, Errno> {
        match (flags & set != 0, flags & now != 0) {
            (true, true) => Err(Errno::INVAL),
            (true, false) => Ok(Timespec {
                tv_sec: (value / 1_000_000_000) as i64,
                tv_nsec: (value % 1_000_000_000) as _,
            }),
            (false, true) => Ok(Timespec {
                tv_sec: 0,
                tv_nsec: rustix::fs::UTIME_NOW as _,
            }),
            (false, false) => Ok(Timespec {
                tv_sec: 0,
                tv_nsec: rustix::fs::UTIME_OMIT as _,
            }),
        }
    };
    Ok(Timestamps {
        last_access: one(atim, fstflags::ATIM, fstflags::ATIM_NOW)?,
        last_modification: one(mtim, fstflags::MTIM, fstflags::MTIM_NOW)?,
    })
}

/// Reads into `dst` from a handle; `Ok(n)` bytes.
fn read_handle(handle: &mut Handle, dst: &mut [u8]) -> Result<usize, Errno> {
    match handle {
        Handle::Stream {
            stream: Stream::Reader(r),
            host_fd,
            nonblocking,
        } => {
            if *nonblocking && let Some(fd) = host_fd {
                let mut probe = [PollFd::new(fd, PollFlags::IN)];
                let zero = rustix::time::Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                };
                if rustix::event::poll(&mut probe, Some(&zero))? == 0 {
                    return Err(Errno::AGAIN);
                }
            }
            Ok(r.read(dst)?)
        }
        Handle::Stream { .. } => Err(Errno::BADF),
        Handle::File(f) => Ok(f.read(dst)?),
        Handle::Dir { .. } => Err(Errno::ISDIR),
    }
}

/// Writes `src` to a handle; `Ok(n)` bytes.
fn write_handle(handle: &mut Handle, src: &[u8]) -> Result<usize, Errno> {
    match handle {
        Handle::Stream {
            stream: Stream::Writer(w),
            ..
        } => {
            // A stream takes everything (a pipe may take it in pieces).
            w.write_all(src)?;
            w.flush()?;
            Ok(src.len())
        }
        Handle::Stream { .. } => Err(Errno::BADF),
        Handle::File(f) => Ok(f.write(src)?),
        Handle::Dir { .. } => Err(Errno::ISDIR),
    }
}

/// Transfers over each `(buf, len)` iovec in turn with `op`, which returns
/// the bytes moved, as `readv`/`writev` do: a short transfer ends the call
/// (so does any data when `first_data_ends`, for streams that would block
/// waiting for more), and an error after some data is a short transfer.
fn each_iovec(
    iovs: &[(u64, u64)],
    first_data_ends: bool,
    mut op: impl FnMut(u64, u64) -> Result<u64, Errno>,
) -> Result<u64, Errno> {
    let mut total = 0u64;
    for &(buf, len) in iovs {
        let moved = match op(buf, len) {
            Ok(n) => n,
            Err(_) if total > 0 => break,
            Err(e) => return Err(e),
        };
        total += moved;
        if moved < len || (first_data_ends && moved > 0) {
            break;
        }
    }
    Ok(total)
}

pub(crate) fn fd_read(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let iovs = call.mem.iovecs(arg64(a, 1), arg64(a, 2))?;
    let entry = call.ctx.entry(arg32(a, 0))?;
    entry.require(rights::FD_READ)?;
    let is_stream = matches!(entry.handle, Handle::Stream { .. });
    let mem = &mut call.mem;
    let total = each_iovec(&iovs, is_stream, |buf, len| {
        read_handle(&mut entry.handle, mem.slice_mut(buf, len)?).map(|n| n as u64)
    })?;
    call.mem.write_size(arg64(a, 3), total)?;
    Ok(())
}

pub(crate) fn fd_write(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let iovs = call.mem.iovecs(arg64(a, 1), arg64(a, 2))?;
    let entry = call.ctx.entry(arg32(a, 0))?;
    entry.require(rights::FD_WRITE)?;
    let mem = &call.mem;
    let total = each_iovec(&iovs, false, |buf, len| {
        write_handle(&mut entry.handle, mem.slice(buf, len)?).map(|n| n as u64)
    })?;
    call.mem.write_size(arg64(a, 3), total)?;
    Ok(())
}

/// The file behind a positional call: streams cannot seek, directories are
/// not files.
fn positional(handle: &Handle) -> Result<&std::fs::File, Errno> {
    match handle {
        Handle::File(f) => Ok(f),
        Handle::Stream { .. } => Err(Errno::SPIPE),
        Handle::Dir { .. } => Err(Errno::ISDIR),
    }
}

pub(crate) fn fd_pread(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let iovs = call.mem.iovecs(arg64(a, 1), arg64(a, 2))?;
    let mut offset = arg64(a, 3);
    let entry = call.ctx.entry(arg32(a, 0))?;
    entry.require(rights::FD_READ | rights::FD_SEEK)?;
    let file = positional(&entry.handle)?;
    let mem = &mut call.mem;
    let total = each_iovec(&iovs, false, |buf, len| {
        let n = file.read_at(mem.slice_mut(buf, len)?, offset)? as u64;
        offset = offset.saturating_add(n);
        Ok(n)
    })?;
    call.mem.write_size(arg64(a, 4), total)?;
    Ok(())
}

pub(crate) fn fd_pwrite(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let iovs = call.mem.iovecs(arg64(a, 1), arg64(a, 2))?;
    let mut offset = arg64(a, 3);
    let entry = call.ctx.entry(arg32(a, 0))?;
    entry.require(rights::FD_WRITE | rights::FD_SEEK)?;
    let file = positional(&entry.handle)?;
    let mem = &call.mem;
    let total = each_iovec(&iovs, false, |buf, len| {
        let n = file.write_at(mem.slice(buf, len)?, offset)? as u64;
        offset = offset.saturating_add(n);
        Ok(n)
    })?;
    call.mem.write_size(arg64(a, 4), total)?;
    Ok(())
}

/// Seeks a file or directory fd; streams cannot seek.
fn seek(handle: &Handle, pos: SeekFrom) -> Result<u64, Errno> {
    match handle {
        Handle::Stream { .. } => Err(Errno::SPIPE),
        Handle::File(_) | Handle::Dir { .. } => {
            let fd = handle.host_fd().ok_or(Errno::BADF)?;
            Ok(rustix::fs::seek(fd, pos)?)
        }
    }
}

pub(crate) fn fd_seek(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let offset = arg64(a, 1) as i64;
    let whence = arg32(a, 2);
    let pos = match whence {
        0 => SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::INVAL)?),
        1 => SeekFrom::Current(offset),
        2 => SeekFrom::End(offset),
        _ => return Err(Errno::INVAL.into()),
    };
    let entry = call.ctx.entry(arg32(a, 0))?;
    // Asking where one is (`lseek(fd, 0, SEEK_CUR)`) needs only `fd_tell`.
    let needed = if whence == 1 && offset == 0 {
        rights::FD_TELL
    } else {
        rights::FD_SEEK
    };
    entry.require(needed)?;
    let new = seek(&entry.handle, pos)?;
    call.mem.write_u64(arg64(a, 3), new)?;
    Ok(())
}

pub(crate) fn fd_tell(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let entry = call.ctx.entry(arg32(a, 0))?;
    entry.require(rights::FD_TELL)?;
    let at = seek(&entry.handle, SeekFrom::Current(0))?;
    call.mem.write_u64(arg64(a, 1), at)?;
    Ok(())
}

/// The WASI file type of a handle.
fn handle_filetype(handle: &Handle) -> Result<u8, Errno> {
    match handle.host_fd() {
        Some(fd) => {
            let st = statx(fd)?;
            Ok(filetype::from_host(rustix::fs::FileType::from_raw_mode(
                u32::from(st.stx_mode),
            )))
        }
        None => Ok(filetype::UNKNOWN),
    }
}

pub(crate) fn fd_fdstat_get(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let entry = call.ctx.entry(arg32(a, 0))?;
    let ftype = handle_filetype(&entry.handle)?;
    let mut flags = 0u16;
    if let Handle::Stream {
        nonblocking: true, ..
    } = entry.handle
    {
        flags |= fdflags::NONBLOCK;
    }
    if let Handle::File(_) = entry.handle {
        let host = rustix::fs::fcntl_getfl(entry.handle.host_fd().ok_or(Errno::BADF)?)?;
        for (h, w) in [
            (OFlags::APPEND, fdflags::APPEND),
            (OFlags::NONBLOCK, fdflags::NONBLOCK),
            (OFlags::DSYNC, fdflags::DSYNC),
            (OFlags::SYNC, fdflags::SYNC),
        ] {
            if host.contains(h) {
                flags |= w;
            }
        }
    }
    let mut out = [0u8; 24];
    out[0] = ftype;
    out[2..4].copy_from_slice(&flags.to_le_bytes());
    out[8..16].copy_from_slice(&entry.base.to_le_bytes());
    // A directory reports the write rights it does not hand down as
    // inheritable (as wasmtime does): wasi-libc and Rust's std mask the
    // rights they ask `path_open` for with this field, so a program opening
    // for writing under a read-only grant must ask, and be refused with
    // EPERM at open time, rather than get a read-only fd whose first write
    // fails (SQLite then reports "disk I/O error" instead of falling back
    // to read-only).
    let reported_inheriting = match entry.handle {
        Handle::Dir { .. } => entry.inheriting | rights::NEED_HOST_WRITE,
        _ => entry.inheriting,
    };
    out[16..24].copy_from_slice(&reported_inheriting.to_le_bytes());
    call.mem.write_bytes(arg64(a, 1), &out)?;
    Ok(())
}

pub(crate) fn fd_fdstat_set_flags(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let wanted = arg32(a, 1) as u16;
    let entry = call.ctx.entry(arg32(a, 0))?;
    entry.require(rights::FD_FDSTAT_SET_FLAGS)?;
    match &mut entry.handle {
        Handle::File(f) => {
            // Linux changes only O_APPEND and O_NONBLOCK on an open file.
            if wanted & (fdflags::DSYNC | fdflags::SYNC | fdflags::RSYNC) != 0 {
                return Err(Errno::NOTSUP.into());
            }
            let mut host = rustix::fs::fcntl_getfl(&*f)?;
            host.set(OFlags::APPEND, wanted & fdflags::APPEND != 0);
            host.set(OFlags::NONBLOCK, wanted & fdflags::NONBLOCK != 0);
            rustix::fs::fcntl_setfl(&*f, host)?;
            Ok(())
        }
        // Only NONBLOCK means something on a stream (APPEND is moot, as on
        // a pipe); it is emulated so the host's descriptor stays blocking.
        Handle::Stream { nonblocking, .. } => {
            if wanted & !(fdflags::NONBLOCK | fdflags::APPEND) != 0 {
                return Err(Errno::NOTSUP.into());
            }
            *nonblocking = wanted & fdflags::NONBLOCK != 0;
            Ok(())
        }
        Handle::Dir { .. } if wanted == 0 => Ok(()),
        Handle::Dir { .. } => Err(Errno::NOTSUP.into()),
    }
}

pub(crate) fn fd_fdstat_set_rights(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let (base, inheriting) = (arg64(a, 1), arg64(a, 2));
    let entry = call.ctx.entry(arg32(a, 0))?;
    // Rights can only be dropped, never gained.
    if base & !entry.base != 0 || inheriting & !entry.inheriting != 0 {
        return Err(Errno::NOTCAPABLE.into());
    }
    entry.base = base;
    entry.inheriting = inheriting;
    Ok(())
}

pub(crate) fn fd_filestat_get(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let entry = call.ctx.entry(arg32(a, 0))?;
    entry.require(rights::FD_FILESTAT_GET)?;
    let st = match entry.handle.host_fd() {
        Some(fd) => Some(statx(fd)?),
        None => None,
    };
    write_filestat(&mut call.mem, arg64(a, 1), st.as_ref())?;
    Ok(())
}

/// The host fd of a file or directory; streams have none to change.
fn file_fd(handle: &Handle, stream_errno: Errno) -> Result<BorrowedFd<'_>, Errno> {
    match handle {
        Handle::Stream { .. } => Err(stream_errno),
        _ => handle.host_fd().ok_or(Errno::BADF),
    }
}

pub(crate) fn fd_filestat_set_size(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let entry = call.ctx.entry(arg32(a, 0))?;
    entry.require(rights::FD_FILESTAT_SET_SIZE)?;
    rustix::fs::ftruncate(file_fd(&entry.handle, Errno::INVAL)?, arg64(a, 1))?;
    Ok(())
}

pub(crate) fn fd_filestat_set_times(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let times = timestamps(arg64(a, 1), arg64(a, 2), arg32(a, 3) as u16)?;
    let entry = call.ctx.entry(arg32(a, 0))?;
    entry.require(rights::FD_FILESTAT_SET_TIMES)?;
    rustix::fs::futimens(file_fd(&entry.handle, Errno::BADF)?, &times)?;
    Ok(())
}

pub(crate) fn fd_advise(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let advice = match arg32(a, 3) {
        0 => Advice::Normal,
        1 => Advice::Sequential,
        2 => Advice::Random,
        3 => Advice::WillNeed,
        4 => Advice::DontNeed,
        5 => Advice::NoReuse,
        _ => return Err(Errno::INVAL.into()),
    };
    let entry = call.ctx.entry(arg32(a, 0))?;
    entry.require(rights::FD_ADVISE)?;
    let fd = file_fd(&entry.handle, Errno::SPIPE)?;
    rustix::fs::fadvise(fd, arg64(a, 1), NonZeroU64::new(arg64(a, 2)), advice)?;
    Ok(())
}

pub(crate) fn fd_allocate(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let entry = call.ctx.entry(arg32(a, 0))?;
    entry.require(rights::FD_ALLOCATE)?;
    let fd = file_fd(&entry.handle, Errno::SPIPE)?;
    // posix_fallocate: mode 0 allocates and extends the size if needed.
    rustix::fs::fallocate(fd, FallocateFlags::empty(), arg64(a, 1), arg64(a, 2))?;
    Ok(())
}

pub(crate) fn fd_datasync(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let entry = call.ctx.entry(arg32(a, 0))?;
    entry.require(rights::FD_DATASYNC)?;
    rustix::fs::fdatasync(file_fd(&entry.handle, Errno::INVAL)?)?;
    Ok(())
}

pub(crate) fn fd_sync(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let entry = call.ctx.entry(arg32(a, 0))?;
    entry.require(rights::FD_SYNC)?;
    rustix::fs::fsync(file_fd(&entry.handle, Errno::INVAL)?)?;
    Ok(())
}

pub(crate) fn fd_close(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    call.ctx
        .fds
        .remove(&arg32(a, 0))
        .map(drop)
        .ok_or(Errno::BADF.into())
}

pub(crate) fn fd_renumber(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let (from, to) = (arg32(a, 0), arg32(a, 1));
    if !call.ctx.fds.contains_key(&from) || !call.ctx.fds.contains_key(&to) {
        return Err(Errno::BADF.into());
    }
    if from != to
        && let Some(entry) = call.ctx.fds.remove(&from)
    {
        call.ctx.fds.insert(to, entry);
    }
    Ok(())
}

/// The guest name of a preopened directory.
fn preopen_name(call: &mut Call<'_>, fd: u32) -> Result<Vec<u8>, Errno> {
    match &call.ctx.entry(fd)?.handle {
        Handle::Dir {
            preopen: Some(name),
            ..
        } => Ok(name.clone()),
        _ => Err(Errno::BADF),
    }
}

pub(crate) fn fd_prestat_get(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let name = preopen_name(call, arg32(a, 0))?;
    let ptr = arg64(a, 1);
    // `prestat` is a tag byte and a `size`, aligned like a `size`: 8 bytes on
    // wasm32, 16 on wasm64.
    let len_at = GuestMemory::offset(ptr, call.mem.width().pointer_bytes())?;
    call.mem.write_u8(ptr, PREOPENTYPE_DIR)?;
    call.mem.write_size(len_at, name.len() as u64)?;
    Ok(())
}

pub(crate) fn fd_prestat_dir_name(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let name = preopen_name(call, arg32(a, 0))?;
    if arg64(a, 2) < name.len() as u64 {
        return Err(Errno::NAMETOOLONG.into());
    }
    call.mem.write_bytes(arg64(a, 1), &name)?;
    Ok(())
}

pub(crate) fn fd_readdir(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let (buf, buf_len, cookie) = (arg64(a, 1), arg64(a, 2), arg64(a, 3));
    call.mem.slice(buf, buf_len)?;
    let entry = call.ctx.entry(arg32(a, 0))?;
    entry.require(rights::FD_READDIR)?;
    let Handle::Dir { fd, .. } = &entry.handle else {
        return Err(Errno::NOTDIR.into());
    };
    // A fresh listing each call: the cookie is the index of the next entry,
    // stable as long as the directory is not changed meanwhile (like a
    // `telldir` offset).
    let dir = rustix::fs::Dir::read_from(fd)?;
    let limit = usize::try_from(buf_len).unwrap_or(usize::MAX);
    let mut out = Vec::new();
    for (index, item) in (0u64..).zip(dir) {
        if out.len() >= limit {
            break;
        }
        let item = item?;
        if index < cookie {
            continue;
        }
        let name = item.file_name().to_bytes();
        let mut ftype = filetype::from_host(item.file_type());
        if item.file_type() == rustix::fs::FileType::Unknown
            && let Ok(st) = rustix::fs::statat(fd, item.file_name(), AtFlags::SYMLINK_NOFOLLOW)
        {
            ftype = filetype::from_host(rustix::fs::FileType::from_raw_mode(st.st_mode));
        }
        let mut header = [0u8; DIRENT_HEADER_BYTES];
        header[0..8].copy_from_slice(&(index + 1).to_le_bytes());
        header[8..16].copy_from_slice(&item.ino().to_le_bytes());
        header[16..20].copy_from_slice(&(name.len() as u32).to_le_bytes());
        header[20] = ftype;
        out.extend_from_slice(&header);
        out.extend_from_slice(name);
    }
    // A full buffer tells the guest to ask again from the last cookie.
    out.truncate(limit);
    call.mem.write_bytes(buf, &out)?;
    call.mem.write_size(arg64(a, 4), out.len() as u64)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_times_flags() {
        let t = timestamps(
            1_500_000_000_000_000_007,
            0,
            fstflags::ATIM | fstflags::MTIM_NOW,
        )
        .expect("valid");
        assert_eq!(
            (t.last_access.tv_sec, t.last_access.tv_nsec),
            (1_500_000_000, 7)
        );
        assert_eq!(t.last_modification.tv_nsec, rustix::fs::UTIME_NOW as _);
        let t = timestamps(0, 0, 0).expect("valid");
        assert_eq!(t.last_access.tv_nsec, rustix::fs::UTIME_OMIT as _);
        assert_eq!(
            timestamps(0, 0, fstflags::MTIM | fstflags::MTIM_NOW).err(),
            Some(Errno::INVAL)
        );
    }

    #[test]
    fn a_short_transfer_ends_the_iovec_loop() {
        let iovs = [(0, 4), (8, 4), (16, 4)];
        let mut seen = Vec::new();
        let total = each_iovec(&iovs, false, |buf, _| {
            seen.push(buf);
            Ok(if buf == 8 { 2 } else { 4 })
        });
        assert_eq!((total, seen), (Ok(6), vec![0, 8]));
        // An error after data is a short transfer; an error first is the error.
        let after = each_iovec(
            &iovs,
            false,
            |buf, _| if buf == 0 { Ok(4) } else { Err(Errno::IO) },
        );
        assert_eq!(after, Ok(4));
        assert_eq!(
            each_iovec(&iovs, false, |_, _| Err(Errno::IO)),
            Err(Errno::IO)
        );
        // A stream stops after the first data.
        assert_eq!(each_iovec(&iovs, true, |_, _| Ok(1)), Ok(1));
    }
}
