//! The WASI preview 1 vocabulary: errno values, rights, flags and the enums
//! the guest passes as integers, with the values of the `witx` definitions
//! (`wasi_snapshot_preview1.witx`, mirrored by wasi-libc's `api.h`).

use std::io;

/// A WASI errno. `Errno::SUCCESS` is 0; every other value is a failure the
/// guest sees as the result of the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub u16);

impl Errno {
    /// No error.
    pub const SUCCESS: Errno = Errno(0);
    /// Argument list too long.
    pub const TOOBIG: Errno = Errno(1);
    /// Permission denied.
    pub const ACCES: Errno = Errno(2);
    /// Resource unavailable, try again.
    pub const AGAIN: Errno = Errno(6);
    /// Bad file descriptor.
    pub const BADF: Errno = Errno(8);
    /// Device or resource busy.
    pub const BUSY: Errno = Errno(10);
    /// File exists.
    pub const EXIST: Errno = Errno(20);
    /// Bad address: a guest pointer outside its memory.
    pub const FAULT: Errno = Errno(21);
    /// File too large.
    pub const FBIG: Errno = Errno(22);
    /// Interrupted function.
    pub const INTR: Errno = Errno(27);
    /// Invalid argument.
    pub const INVAL: Errno = Errno(28);
    /// I/O error.
    pub const IO: Errno = Errno(29);
    /// Is a directory.
    pub const ISDIR: Errno = Errno(31);
    /// Too many levels of symbolic links.
    pub const LOOP: Errno = Errno(32);
    /// File descriptor value too large.
    pub const MFILE: Errno = Errno(33);
    /// Too many links.
    pub const MLINK: Errno = Errno(34);
    /// Filename too long.
    pub const NAMETOOLONG: Errno = Errno(37);
    /// Too many files open in system.
    pub const NFILE: Errno = Errno(41);
    /// No such device.
    pub const NODEV: Errno = Errno(43);
    /// No such file or directory.
    pub const NOENT: Errno = Errno(44);
    /// Not enough space.
    pub const NOMEM: Errno = Errno(48);
    /// No space left on device.
    pub const NOSPC: Errno = Errno(51);
    /// Function not supported.
    pub const NOSYS: Errno = Errno(52);
    /// Not a directory or a symbolic link to a directory.
    pub const NOTDIR: Errno = Errno(54);
    /// Directory not empty.
    pub const NOTEMPTY: Errno = Errno(55);
    /// Not a socket.
    pub const NOTSOCK: Errno = Errno(57);
    /// Not supported.
    pub const NOTSUP: Errno = Errno(58);
    /// Inappropriate I/O control operation.
    pub const NOTTY: Errno = Errno(59);
    /// No such device or address.
    pub const NXIO: Errno = Errno(60);
    /// Value too large to be stored in data type.
    pub const OVERFLOW: Errno = Errno(61);
    /// Operation not permitted.
    pub const PERM: Errno = Errno(63);
    /// Broken pipe.
    pub const PIPE: Errno = Errno(64);
    /// Read-only file system.
    pub const ROFS: Errno = Errno(69);
    /// Invalid seek.
    pub const SPIPE: Errno = Errno(70);
    /// Text file busy.
    pub const TXTBSY: Errno = Errno(74);
    /// Cross-device link.
    pub const XDEV: Errno = Errno(75);
    /// Capabilities insufficient: the fd lacks a right, or the path leaves
    /// the directory it is resolved in (WASI's own errno, no POSIX twin).
    pub const NOTCAPABLE: Errno = Errno(76);

    /// The WASI errno for a host errno.
    pub fn from_host(e: rustix::io::Errno) -> Errno {
        use rustix::io::Errno as H;
        match e {
            H::TOOBIG => Errno::TOOBIG,
            H::ACCESS => Errno::ACCES,
            H::AGAIN => Errno::AGAIN,
            H::BADF => Errno::BADF,
            H::BUSY => Errno::BUSY,
            H::EXIST => Errno::EXIST,
            H::FAULT => Errno::FAULT,
            H::FBIG => Errno::FBIG,
            H::INTR => Errno::INTR,
            H::INVAL => Errno::INVAL,
            H::ISDIR => Errno::ISDIR,
            H::LOOP => Errno::LOOP,
            H::MFILE => Errno::MFILE,
            H::MLINK => Errno::MLINK,
            H::NAMETOOLONG => Errno::NAMETOOLONG,
            H::NFILE => Errno::NFILE,
            H::NODEV => Errno::NODEV,
            H::NOENT => Errno::NOENT,
            H::NOMEM => Errno::NOMEM,
            H::NOSPC => Errno::NOSPC,
            H::NOSYS => Errno::NOSYS,
            H::NOTDIR => Errno::NOTDIR,
            H::NOTEMPTY => Errno::NOTEMPTY,
            H::NOTSOCK => Errno::NOTSOCK,
            H::NOTSUP => Errno::NOTSUP,
            H::NOTTY => Errno::NOTTY,
            H::NXIO => Errno::NXIO,
            H::OVERFLOW => Errno::OVERFLOW,
            H::PERM => Errno::PERM,
            H::PIPE => Errno::PIPE,
            H::ROFS => Errno::ROFS,
            H::SPIPE => Errno::SPIPE,
            H::TXTBSY => Errno::TXTBSY,
            H::XDEV => Errno::XDEV,
            _ => Errno::IO,
        }
    }
}

impl From<rustix::io::Errno> for Errno {
    fn from(e: rustix::io::Errno) -> Errno {
        Errno::from_host(e)
    }
}

impl From<io::Error> for Errno {
    fn from(e: io::Error) -> Errno {
        match e.raw_os_error() {
            Some(raw) => Errno::from_host(rustix::io::Errno::from_raw_os_error(raw)),
            None => match e.kind() {
                io::ErrorKind::NotFound => Errno::NOENT,
                io::ErrorKind::PermissionDenied => Errno::ACCES,
                io::ErrorKind::BrokenPipe => Errno::PIPE,
                io::ErrorKind::InvalidInput => Errno::INVAL,
                io::ErrorKind::WouldBlock => Errno::AGAIN,
                io::ErrorKind::Interrupted => Errno::INTR,
                io::ErrorKind::Unsupported => Errno::NOTSUP,
                _ => Errno::IO,
            },
        }
    }
}

/// The rights an fd carries (`rights` flags, one bit per operation).
pub mod rights {
    /// `fd_datasync`.
    pub const FD_DATASYNC: u64 = 1 << 0;
    /// `fd_read` (and `sock_recv`).
    pub const FD_READ: u64 = 1 << 1;
    /// `fd_seek` (implies `fd_tell`).
    pub const FD_SEEK: u64 = 1 << 2;
    /// `fd_fdstat_set_flags`.
    pub const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    /// `fd_sync`.
    pub const FD_SYNC: u64 = 1 << 4;
    /// `fd_tell`.
    pub const FD_TELL: u64 = 1 << 5;
    /// `fd_write` (and `sock_send`).
    pub const FD_WRITE: u64 = 1 << 6;
    /// `fd_advise`.
    pub const FD_ADVISE: u64 = 1 << 7;
    /// `fd_allocate`.
    pub const FD_ALLOCATE: u64 = 1 << 8;
    /// `path_create_directory`.
    pub const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    /// `path_open` with `oflags::CREAT`.
    pub const PATH_CREATE_FILE: u64 = 1 << 10;
    /// `path_link`, source directory.
    pub const PATH_LINK_SOURCE: u64 = 1 << 11;
    /// `path_link`, target directory.
    pub const PATH_LINK_TARGET: u64 = 1 << 12;
    /// `path_open`.
    pub const PATH_OPEN: u64 = 1 << 13;
    /// `fd_readdir`.
    pub const FD_READDIR: u64 = 1 << 14;
    /// `path_readlink`.
    pub const PATH_READLINK: u64 = 1 << 15;
    /// `path_rename`, source directory.
    pub const PATH_RENAME_SOURCE: u64 = 1 << 16;
    /// `path_rename`, target directory.
    pub const PATH_RENAME_TARGET: u64 = 1 << 17;
    /// `path_filestat_get`.
    pub const PATH_FILESTAT_GET: u64 = 1 << 18;
    /// `path_open` with `oflags::TRUNC`.
    pub const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    /// `path_filestat_set_times`.
    pub const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    /// `fd_filestat_get`.
    pub const FD_FILESTAT_GET: u64 = 1 << 21;
    /// `fd_filestat_set_size`.
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    /// `fd_filestat_set_times`.
    pub const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    /// `path_symlink`.
    pub const PATH_SYMLINK: u64 = 1 << 24;
    /// `path_remove_directory`.
    pub const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    /// `path_unlink_file`.
    pub const PATH_UNLINK_FILE: u64 = 1 << 26;
    /// `poll_oneoff` on the fd.
    pub const POLL_FD_READWRITE: u64 = 1 << 27;
    /// `sock_shutdown`.
    pub const SOCK_SHUTDOWN: u64 = 1 << 28;
    /// `sock_accept`.
    pub const SOCK_ACCEPT: u64 = 1 << 29;

    /// Every right.
    pub const ALL: u64 = (1 << 30) - 1;

    /// What changes a file's contents or metadata.
    pub const FILE_MUTATING: u64 =
        FD_DATASYNC | FD_WRITE | FD_ALLOCATE | FD_FILESTAT_SET_SIZE | FD_FILESTAT_SET_TIMES;

    /// What changes a directory's entries or their metadata.
    pub const DIR_MUTATING: u64 = PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_FILESTAT_SET_SIZE
        | PATH_FILESTAT_SET_TIMES
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE
        | FD_FILESTAT_SET_TIMES;

    /// Rights that need the host file opened for writing.
    pub const NEED_HOST_WRITE: u64 = FD_WRITE | FD_ALLOCATE | FD_FILESTAT_SET_SIZE;

    /// A standard stream: read or write, poll, and nothing positional.
    pub const STREAM: u64 =
        FD_READ | FD_WRITE | FD_FDSTAT_SET_FLAGS | FD_FILESTAT_GET | POLL_FD_READWRITE;
}

/// `filetype`.
pub mod filetype {
    /// Unknown or other (FIFO, …).
    pub const UNKNOWN: u8 = 0;
    /// Block device.
    pub const BLOCK_DEVICE: u8 = 1;
    /// Character device.
    pub const CHARACTER_DEVICE: u8 = 2;
    /// Directory.
    pub const DIRECTORY: u8 = 3;
    /// Regular file.
    pub const REGULAR_FILE: u8 = 4;
    /// Stream socket.
    pub const SOCKET_STREAM: u8 = 6;
    /// Symbolic link.
    pub const SYMBOLIC_LINK: u8 = 7;

    /// The WASI file type of a host file type.
    pub fn from_host(t: rustix::fs::FileType) -> u8 {
        use rustix::fs::FileType as H;
        match t {
            H::RegularFile => REGULAR_FILE,
            H::Directory => DIRECTORY,
            H::Symlink => SYMBOLIC_LINK,
            H::CharacterDevice => CHARACTER_DEVICE,
            H::BlockDevice => BLOCK_DEVICE,
            H::Socket => SOCKET_STREAM,
            _ => UNKNOWN,
        }
    }
}

/// `fdflags`.
pub mod fdflags {
    /// Writes go to the end of the file.
    pub const APPEND: u16 = 1 << 0;
    /// Synchronized data integrity writes.
    pub const DSYNC: u16 = 1 << 1;
    /// Non-blocking mode.
    pub const NONBLOCK: u16 = 1 << 2;
    /// Synchronized read I/O.
    pub const RSYNC: u16 = 1 << 3;
    /// Synchronized file integrity writes.
    pub const SYNC: u16 = 1 << 4;
}

/// `oflags` of `path_open`.
pub mod oflags {
    /// Create the file if it does not exist.
    pub const CREAT: u16 = 1 << 0;
    /// Fail unless it is a directory.
    pub const DIRECTORY: u16 = 1 << 1;
    /// Fail if it already exists.
    pub const EXCL: u16 = 1 << 2;
    /// Truncate to size 0.
    pub const TRUNC: u16 = 1 << 3;
}

/// `lookupflags`: follow a symbolic link in the last path component.
pub const LOOKUP_SYMLINK_FOLLOW: u32 = 1;

/// `fstflags` of the `*_set_times` calls.
pub mod fstflags {
    /// Set the access time to the given value.
    pub const ATIM: u16 = 1 << 0;
    /// Set the access time to now.
    pub const ATIM_NOW: u16 = 1 << 1;
    /// Set the modification time to the given value.
    pub const MTIM: u16 = 1 << 2;
    /// Set the modification time to now.
    pub const MTIM_NOW: u16 = 1 << 3;
}

/// `clockid`.
pub mod clockid {
    /// Wall clock.
    pub const REALTIME: u32 = 0;
    /// Monotonic clock.
    pub const MONOTONIC: u32 = 1;
    /// CPU time of the process.
    pub const PROCESS_CPUTIME_ID: u32 = 2;
    /// CPU time of the thread.
    pub const THREAD_CPUTIME_ID: u32 = 3;
}

/// `eventtype` of `poll_oneoff` subscriptions and events.
pub mod eventtype {
    /// A clock timeout.
    pub const CLOCK: u8 = 0;
    /// An fd has data to read.
    pub const FD_READ: u8 = 1;
    /// An fd can take data.
    pub const FD_WRITE: u8 = 2;
}

/// `subclockflags::subscription_clock_abstime`: the timeout is absolute.
pub const SUBCLOCK_ABSTIME: u16 = 1;

/// `preopentype::dir`, the tag of a `prestat`.
pub const PREOPENTYPE_DIR: u8 = 0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_errors_map_to_wasi_errnos() {
        assert_eq!(Errno::from_host(rustix::io::Errno::NOENT), Errno::NOENT);
        assert_eq!(Errno::from_host(rustix::io::Errno::NOTEMPTY), Errno(55));
        assert_eq!(Errno::from(io::Error::from_raw_os_error(13)), Errno::ACCES);
        assert_eq!(Errno::from(io::Error::other("x")), Errno::IO);
        assert_eq!(Errno::NOTCAPABLE.0, 76);
    }

    #[test]
    fn rights_sets_are_within_all() {
        for set in [rights::FILE_MUTATING, rights::DIR_MUTATING, rights::STREAM] {
            assert_eq!(set & !rights::ALL, 0);
        }
        assert_eq!(rights::ALL, (1 << 30) - 1);
    }
}
