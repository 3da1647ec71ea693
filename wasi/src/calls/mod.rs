//! The `wasi_snapshot_preview1` functions. Each is one Rust function over a
//! [`Call`] (guest memory + context) and its arguments as `u64`s; the table
//! [`SYSCALLS`] gives each one's name and parameter kinds, from which the
//! linker derives the wasm signature for the module's memory width.
//!
//! Families, one file each: `args` (arguments, environment), `clock`,
//! `fd` (operations on an open fd), `path` (operations on a path beneath a
//! directory fd), `poll`, `proc` (exit, signals, yield, random), `sock`.

mod args;
mod clock;
mod fd;
mod path;
mod poll;
mod proc;
mod sock;

use crate::abi::GuestMemory;
use crate::ctx::WasiCtx;
use crate::types::Errno;
use wrun_runtime::InterruptProbe;

/// What a call sees: the guest's memory and the WASI state.
pub(crate) struct Call<'a> {
    pub mem: GuestMemory<'a>,
    pub ctx: &'a mut WasiCtx,
    /// Whether the embedder interrupted the guest (its epoch deadline
    /// passed): calls that block keep checking it.
    pub interrupt: InterruptProbe,
}

/// How a call ends other than with an errno.
pub(crate) enum Stop {
    /// Return this errno to the guest.
    Errno(Errno),
    /// `proc_exit`: unwind the guest with this status.
    Exit(i32),
    /// The embedder interrupted the guest while the call blocked: unwind
    /// it with the "interrupted" trap, as running code would.
    Interrupted,
}

impl From<Errno> for Stop {
    fn from(e: Errno) -> Stop {
        Stop::Errno(e)
    }
}

impl From<rustix::io::Errno> for Stop {
    fn from(e: rustix::io::Errno) -> Stop {
        Stop::Errno(Errno::from_host(e))
    }
}

/// The result of a call body.
pub(crate) type CallResult = Result<(), Stop>;

/// The kind of a parameter in the wasm signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Param {
    /// A 32-bit integer whatever the width (fd, flags, enum, `u32` value).
    I32,
    /// A 64-bit integer whatever the width (offsets, rights, timestamps).
    I64,
    /// A pointer or a `size`: `i32` on wasm32, `i64` on wasm64.
    Size,
}

/// One WASI function.
pub(crate) struct Syscall {
    /// The import name.
    pub name: &'static str,
    /// Parameter kinds, in order.
    pub params: &'static [Param],
    /// Whether the function returns an errno (all but `proc_exit`).
    pub returns_errno: bool,
    /// The body.
    pub run: fn(&mut Call<'_>, &[u64]) -> CallResult,
}

use Param::{I32, I64, Size};

macro_rules! syscall {
    ($name:ident, $run:path, [$($p:ident),*]) => {
        Syscall { name: stringify!($name), params: &[$($p),*], returns_errno: true, run: $run }
    };
}

/// Every function of `wasi_snapshot_preview1`, with the `witx` parameter
/// lists (pointers and `size`s as [`Param::Size`]).
pub(crate) static SYSCALLS: &[Syscall] = &[
    syscall!(args_get, args::args_get, [Size, Size]),
    syscall!(args_sizes_get, args::args_sizes_get, [Size, Size]),
    syscall!(environ_get, args::environ_get, [Size, Size]),
    syscall!(environ_sizes_get, args::environ_sizes_get, [Size, Size]),
    syscall!(clock_res_get, clock::clock_res_get, [I32, Size]),
    syscall!(clock_time_get, clock::clock_time_get, [I32, I64, Size]),
    syscall!(fd_advise, fd::fd_advise, [I32, I64, I64, I32]),
    syscall!(fd_allocate, fd::fd_allocate, [I32, I64, I64]),
    syscall!(fd_close, fd::fd_close, [I32]),
    syscall!(fd_datasync, fd::fd_datasync, [I32]),
    syscall!(fd_fdstat_get, fd::fd_fdstat_get, [I32, Size]),
    syscall!(fd_fdstat_set_flags, fd::fd_fdstat_set_flags, [I32, I32]),
    syscall!(
        fd_fdstat_set_rights,
        fd::fd_fdstat_set_rights,
        [I32, I64, I64]
    ),
    syscall!(fd_filestat_get, fd::fd_filestat_get, [I32, Size]),
    syscall!(fd_filestat_set_size, fd::fd_filestat_set_size, [I32, I64]),
    syscall!(
        fd_filestat_set_times,
        fd::fd_filestat_set_times,
        [I32, I64, I64, I32]
    ),
    syscall!(fd_pread, fd::fd_pread, [I32, Size, Size, I64, Size]),
    syscall!(fd_prestat_get, fd::fd_prestat_get, [I32, Size]),
    syscall!(
        fd_prestat_dir_name,
        fd::fd_prestat_dir_name,
        [I32, Size, Size]
    ),
    syscall!(fd_pwrite, fd::fd_pwrite, [I32, Size, Size, I64, Size]),
    syscall!(fd_read, fd::fd_read, [I32, Size, Size, Size]),
    syscall!(fd_readdir, fd::fd_readdir, [I32, Size, Size, I64, Size]),
    syscall!(fd_renumber, fd::fd_renumber, [I32, I32]),
    syscall!(fd_seek, fd::fd_seek, [I32, I64, I32, Size]),
    syscall!(fd_sync, fd::fd_sync, [I32]),
    syscall!(fd_tell, fd::fd_tell, [I32, Size]),
    syscall!(fd_write, fd::fd_write, [I32, Size, Size, Size]),
    syscall!(
        path_create_directory,
        path::path_create_directory,
        [I32, Size, Size]
    ),
    syscall!(
        path_filestat_get,
        path::path_filestat_get,
        [I32, I32, Size, Size, Size]
    ),
    syscall!(
        path_filestat_set_times,
        path::path_filestat_set_times,
        [I32, I32, Size, Size, I64, I64, I32]
    ),
    syscall!(
        path_link,
        path::path_link,
        [I32, I32, Size, Size, I32, Size, Size]
    ),
    syscall!(
        path_open,
        path::path_open,
        [I32, I32, Size, Size, I32, I64, I64, I32, Size]
    ),
    syscall!(
        path_readlink,
        path::path_readlink,
        [I32, Size, Size, Size, Size, Size]
    ),
    syscall!(
        path_remove_directory,
        path::path_remove_directory,
        [I32, Size, Size]
    ),
    syscall!(
        path_rename,
        path::path_rename,
        [I32, Size, Size, I32, Size, Size]
    ),
    syscall!(
        path_symlink,
        path::path_symlink,
        [Size, Size, I32, Size, Size]
    ),
    syscall!(path_unlink_file, path::path_unlink_file, [I32, Size, Size]),
    syscall!(poll_oneoff, poll::poll_oneoff, [Size, Size, Size, Size]),
    Syscall {
        name: "proc_exit",
        params: &[I32],
        returns_errno: false,
        run: proc::proc_exit,
    },
    syscall!(proc_raise, proc::proc_raise, [I32]),
    syscall!(sched_yield, proc::sched_yield, []),
    syscall!(random_get, proc::random_get, [Size, Size]),
    syscall!(sock_accept, sock::sock_accept, [I32, I32, Size]),
    syscall!(
        sock_recv,
        sock::sock_recv,
        [I32, Size, Size, I32, Size, Size]
    ),
    syscall!(sock_send, sock::sock_send, [I32, Size, Size, I32, Size]),
    syscall!(sock_shutdown, sock::sock_shutdown, [I32, I32]),
];

/// The most parameters a function has (`path_open`).
pub(crate) const MAX_PARAMS: usize = 9;

/// An `I32` argument as the `u32` it is.
pub(crate) fn arg32(args: &[u64], i: usize) -> u32 {
    args.get(i).copied().unwrap_or(0) as u32
}

/// An `I64` or `Size` argument.
pub(crate) fn arg64(args: &[u64], i: usize) -> u64 {
    args.get(i).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preview1_function_is_listed_once() {
        let mut names: Vec<&str> = SYSCALLS.iter().map(|s| s.name).collect();
        assert_eq!(names.len(), 46);
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 46);
        assert_eq!(
            SYSCALLS.iter().map(|s| s.params.len()).max(),
            Some(MAX_PARAMS)
        );
    }
}
