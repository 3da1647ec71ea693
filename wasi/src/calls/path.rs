//! Operations on paths, each resolved beneath a directory fd through
//! [`crate::sandbox`] and checked against that fd's rights.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use rustix::fs::{AtFlags, Mode, OFlags};

use super::fd::{statx, timestamps, write_filestat};
use super::{Call, CallResult, arg32, arg64};
use crate::ctx::{FdEntry, Handle, WasiCtx};
use crate::sandbox::{self, Split};
use crate::types::{Errno, LOOKUP_SYMLINK_FOLLOW, fdflags, filetype, oflags, rights};

/// The directory behind `fd` and the rights it hands down, after checking
/// the fd has the rights `needed`.
fn dir_of(ctx: &WasiCtx, fd: u32, needed: u64) -> Result<(BorrowedFd<'_>, u64), Errno> {
    let entry = ctx.fds.get(&fd).ok_or(Errno::BADF)?;
    let Handle::Dir { fd: dir, .. } = &entry.handle else {
        return Err(Errno::NOTDIR);
    };
    entry.require(needed)?;
    Ok((dir.as_fd(), entry.inheriting))
}

/// The guest path at `(ptr, len)`.
fn path_arg(call: &Call<'_>, a: &[u64], i: usize) -> Result<Vec<u8>, Errno> {
    call.mem.path(arg64(a, i), arg64(a, i + 1))
}

fn at(split: &Split) -> (BorrowedFd<'_>, &std::ffi::OsStr) {
    (split.parent.as_fd(), sandbox::host_path(&split.name))
}

pub(crate) fn path_create_directory(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let path = path_arg(call, a, 1)?;
    let (dir, _) = dir_of(call.ctx, arg32(a, 0), rights::PATH_CREATE_DIRECTORY)?;
    let split = sandbox::split(dir, &path, Errno::EXIST)?;
    let (parent, name) = at(&split);
    rustix::fs::mkdirat(parent, name, Mode::from_bits_truncate(0o777))?;
    Ok(())
}

/// Opens `path` as an `O_PATH` fd (for metadata), following a last
/// symbolic link if the lookup flags say so.
fn open_path(dir: BorrowedFd<'_>, path: &[u8], lookup: u32) -> Result<OwnedFd, Errno> {
    sandbox::open_beneath(
        dir,
        path,
        OFlags::PATH,
        Mode::empty(),
        lookup & LOOKUP_SYMLINK_FOLLOW != 0,
    )
}

pub(crate) fn path_filestat_get(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let path = path_arg(call, a, 2)?;
    let (dir, _) = dir_of(call.ctx, arg32(a, 0), rights::PATH_FILESTAT_GET)?;
    let target = open_path(dir, &path, arg32(a, 1))?;
    let st = statx(target.as_fd())?;
    write_filestat(&mut call.mem, arg64(a, 4), Some(&st))?;
    Ok(())
}

pub(crate) fn path_filestat_set_times(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let path = path_arg(call, a, 2)?;
    let times = timestamps(arg64(a, 4), arg64(a, 5), arg32(a, 6) as u16)?;
    let (dir, _) = dir_of(call.ctx, arg32(a, 0), rights::PATH_FILESTAT_SET_TIMES)?;
    let target = open_path(dir, &path, arg32(a, 1))?;
    // Set the times of what the O_PATH fd names (the link itself when not
    // following), not of anything reached again by name.
    rustix::fs::utimensat(
        target.as_fd(),
        "",
        &times,
        AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW,
    )?;
    Ok(())
}

pub(crate) fn path_link(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let old_path = path_arg(call, a, 2)?;
    let new_path = path_arg(call, a, 5)?;
    let (old_dir, _) = dir_of(call.ctx, arg32(a, 0), rights::PATH_LINK_SOURCE)?;
    let (new_dir, _) = dir_of(call.ctx, arg32(a, 4), rights::PATH_LINK_TARGET)?;
    // `SYMLINK_FOLLOW` in the old lookup flags would make the kernel follow a
    // link by name outside the sandbox's control; the link itself is linked,
    // as `linkat` does by default.
    let old = sandbox::split(old_dir, &old_path, Errno::PERM)?;
    let new = sandbox::split(new_dir, &new_path, Errno::EXIST)?;
    let (op, on) = at(&old);
    let (np, nn) = at(&new);
    rustix::fs::linkat(op, on, np, nn, AtFlags::empty())?;
    Ok(())
}

pub(crate) fn path_open(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let lookup = arg32(a, 1);
    let path = path_arg(call, a, 2)?;
    let oflags = arg32(a, 4) as u16;
    let (want_base, want_inheriting) = (arg64(a, 5), arg64(a, 6));
    let fdflags = arg32(a, 7) as u16;
    let opened_ptr = arg64(a, 8);

    let mut needed = rights::PATH_OPEN;
    if oflags & oflags::CREAT != 0 {
        needed |= rights::PATH_CREATE_FILE;
    }
    if oflags & oflags::TRUNC != 0 {
        needed |= rights::PATH_FILESTAT_SET_SIZE;
    }
    let (dir, inheriting) = dir_of(call.ctx, arg32(a, 0), needed)?;
    // Rights beyond what the directory hands down are dropped (wasi-libc and
    // Rust's std ask for more than they use), except writing: asking to
    // write where one may not is refused outright.
    if want_base & rights::NEED_HOST_WRITE & !inheriting != 0 {
        return Err(Errno::PERM.into());
    }
    let base = want_base & inheriting;
    let child_inheriting = want_inheriting & inheriting;

    let read = base & (rights::FD_READ | rights::FD_READDIR) != 0;
    let write = base & rights::NEED_HOST_WRITE != 0;
    let mut flags = match (read, write) {
        (true, true) => OFlags::RDWR,
        (false, true) => OFlags::WRONLY,
        _ => OFlags::RDONLY,
    };
    for (w, h) in [
        (oflags::CREAT, OFlags::CREATE),
        (oflags::DIRECTORY, OFlags::DIRECTORY),
        (oflags::EXCL, OFlags::EXCL),
        (oflags::TRUNC, OFlags::TRUNC),
    ] {
        if oflags & w != 0 {
            flags |= h;
        }
    }
    for (w, h) in [
        (fdflags::APPEND, OFlags::APPEND),
        (fdflags::DSYNC, OFlags::DSYNC),
        (fdflags::NONBLOCK, OFlags::NONBLOCK),
        (fdflags::RSYNC, OFlags::RSYNC),
        (fdflags::SYNC, OFlags::SYNC),
    ] {
        if fdflags & w != 0 {
            flags |= h;
        }
    }
    let fd = sandbox::open_beneath(
        dir,
        &path,
        flags,
        Mode::from_bits_truncate(0o666),
        lookup & LOOKUP_SYMLINK_FOLLOW != 0,
    )?;
    let is_dir = {
        let st = statx(fd.as_fd())?;
        filetype::from_host(rustix::fs::FileType::from_raw_mode(u32::from(st.stx_mode)))
            == filetype::DIRECTORY
    };
    let handle = if is_dir {
        Handle::Dir { fd, preopen: None }
    } else {
        Handle::File(std::fs::File::from(fd))
    };
    let new_fd = call.ctx.free_fd().ok_or(Errno::MFILE)?;
    // Write the result first: a bad pointer must not leave an fd behind.
    call.mem.write_u32(opened_ptr, new_fd)?;
    call.ctx.fds.insert(
        new_fd,
        FdEntry {
            handle,
            base,
            inheriting: child_inheriting,
        },
    );
    Ok(())
}

pub(crate) fn path_readlink(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let path = path_arg(call, a, 1)?;
    let (buf, buf_len) = (arg64(a, 3), arg64(a, 4));
    let (dir, _) = dir_of(call.ctx, arg32(a, 0), rights::PATH_READLINK)?;
    let split = sandbox::split(dir, &path, Errno::INVAL)?;
    let (parent, name) = at(&split);
    let target = rustix::fs::readlinkat(parent, name, Vec::new())?;
    let bytes = target.as_bytes();
    // Like readlink(2): as much as fits, no NUL.
    let n = bytes
        .len()
        .min(usize::try_from(buf_len).unwrap_or(usize::MAX));
    call.mem.write_bytes(buf, &bytes[..n])?;
    call.mem.write_size(arg64(a, 5), n as u64)?;
    Ok(())
}

pub(crate) fn path_remove_directory(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let path = path_arg(call, a, 1)?;
    let (dir, _) = dir_of(call.ctx, arg32(a, 0), rights::PATH_REMOVE_DIRECTORY)?;
    let split = sandbox::split(dir, &path, Errno::INVAL)?;
    let (parent, name) = at(&split);
    rustix::fs::unlinkat(parent, name, AtFlags::REMOVEDIR)?;
    Ok(())
}

pub(crate) fn path_rename(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let old_path = path_arg(call, a, 1)?;
    let new_path = path_arg(call, a, 4)?;
    let (old_dir, _) = dir_of(call.ctx, arg32(a, 0), rights::PATH_RENAME_SOURCE)?;
    let (new_dir, _) = dir_of(call.ctx, arg32(a, 3), rights::PATH_RENAME_TARGET)?;
    let old = sandbox::split(old_dir, &old_path, Errno::BUSY)?;
    let new = sandbox::split(new_dir, &new_path, Errno::BUSY)?;
    let (op, on) = at(&old);
    let (np, nn) = at(&new);
    rustix::fs::renameat(op, on, np, nn)?;
    Ok(())
}

pub(crate) fn path_symlink(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let target = path_arg(call, a, 0)?;
    let path = path_arg(call, a, 3)?;
    let (dir, _) = dir_of(call.ctx, arg32(a, 2), rights::PATH_SYMLINK)?;
    // An absolute target could never be followed inside the sandbox, and
    // would point the host's own tools outside it.
    if target.starts_with(b"/") {
        return Err(Errno::PERM.into());
    }
    let split = sandbox::split(dir, &path, Errno::EXIST)?;
    let (parent, name) = at(&split);
    rustix::fs::symlinkat(sandbox::host_path(&target), parent, name)?;
    Ok(())
}

pub(crate) fn path_unlink_file(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let path = path_arg(call, a, 1)?;
    let (dir, _) = dir_of(call.ctx, arg32(a, 0), rights::PATH_UNLINK_FILE)?;
    let split = sandbox::split(dir, &path, Errno::ISDIR)?;
    let (parent, name) = at(&split);
    rustix::fs::unlinkat(parent, name, AtFlags::empty())?;
    Ok(())
}
