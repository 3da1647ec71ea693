//! The host side of the Linux syscall layer. Everything the guest asks of
//! the outside world goes through `HostOs`, so the same core can run on a
//! native host (std, `bin/x86emu.rs`) or under WASI in the wasm64 build.

use alloc::vec::Vec;

/// A host file handle, opaque to the syscall layer.
pub type HostFd = u64;

/// Linux errno values (asm-generic/errno-base.h, errno.h).
#[allow(missing_docs)]
pub mod errno {
    pub const EPERM: i64 = 1;
    pub const ENOENT: i64 = 2;
    pub const ESRCH: i64 = 3;
    pub const EINTR: i64 = 4;
    pub const EIO: i64 = 5;
    pub const E2BIG: i64 = 7;
    pub const ENOEXEC: i64 = 8;
    pub const EBADF: i64 = 9;
    pub const ECHILD: i64 = 10;
    pub const EAGAIN: i64 = 11;
    pub const ENOMEM: i64 = 12;
    pub const EACCES: i64 = 13;
    pub const EFAULT: i64 = 14;
    pub const EEXIST: i64 = 17;
    pub const EXDEV: i64 = 18;
    pub const ENOTDIR: i64 = 20;
    pub const EISDIR: i64 = 21;
    pub const EINVAL: i64 = 22;
    pub const EMFILE: i64 = 24;
    pub const ENOTTY: i64 = 25;
    pub const ESPIPE: i64 = 29;
    pub const EPIPE: i64 = 32;
    pub const EFBIG: i64 = 27;
    pub const ERANGE: i64 = 34;
    pub const ENAMETOOLONG: i64 = 36;
    pub const ENOSYS: i64 = 38;
    pub const ENOTEMPTY: i64 = 39;
    pub const ELOOP: i64 = 40;
    pub const ENODATA: i64 = 61;
    pub const EOVERFLOW: i64 = 75;
    pub const EAFNOSUPPORT: i64 = 97;
    pub const ENOTSOCK: i64 = 88;
    pub const ENOTSUP: i64 = 95;
    pub const ETIMEDOUT: i64 = 110;
}

/// A Linux error number (positive).
pub type Errno = i64;

/// How to open a file (the subset of Linux `O_*` flags the host honours).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenOptions {
    /// Open for reading.
    pub read: bool,
    /// Open for writing.
    pub write: bool,
    /// Create if missing (`O_CREAT`).
    pub create: bool,
    /// Fail if it exists (`O_EXCL`).
    pub exclusive: bool,
    /// Truncate (`O_TRUNC`).
    pub truncate: bool,
    /// Append (`O_APPEND`).
    pub append: bool,
    /// Must be a directory (`O_DIRECTORY`).
    pub directory: bool,
    /// Permission bits for a created file.
    pub mode: u32,
}

/// File metadata in Linux terms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileStat {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Type and permission bits (`S_IFMT` | mode).
    pub mode: u32,
    /// Link count.
    pub nlink: u64,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Device number for special files.
    pub rdev: u64,
    /// Size in bytes.
    pub size: u64,
    /// Preferred I/O block size.
    pub blksize: u64,
    /// 512-byte blocks allocated.
    pub blocks: u64,
    /// Access time (seconds, nanoseconds).
    pub atime: (i64, i64),
    /// Modification time.
    pub mtime: (i64, i64),
    /// Status change time.
    pub ctime: (i64, i64),
}

/// One directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// Inode number.
    pub ino: u64,
    /// Linux `DT_*` type.
    pub kind: u8,
    /// File name (no NUL).
    pub name: Vec<u8>,
}

/// File system statistics (the fields of Linux `struct statfs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FsStat {
    /// Magic number of the file system type (`f_type`).
    pub kind: u64,
    /// Optimal transfer block size.
    pub bsize: u64,
    /// Total data blocks.
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Free blocks for unprivileged users.
    pub bavail: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub ffree: u64,
    /// File system id (two 32-bit words).
    pub fsid: u64,
    /// Longest file name.
    pub namelen: u64,
    /// Fragment size.
    pub frsize: u64,
    /// Mount flags (`ST_*`).
    pub flags: u64,
}

/// Which clock `clock_gettime` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// Wall-clock time since the Unix epoch.
    Realtime,
    /// Monotonic time.
    Monotonic,
}

/// Operations the syscall layer needs from the host. Paths are raw bytes
/// as the guest passed them; relative paths are relative to the host's
/// working directory, which `chdir` changes.
pub trait HostOs {
    /// Opens a file or directory.
    fn open(&mut self, path: &[u8], options: OpenOptions) -> Result<HostFd, Errno>;
    /// Closes a handle.
    fn close(&mut self, fd: HostFd) -> Result<(), Errno>;
    /// Reads at the current position.
    fn read(&mut self, fd: HostFd, buf: &mut [u8]) -> Result<usize, Errno>;
    /// Writes at the current position.
    fn write(&mut self, fd: HostFd, data: &[u8]) -> Result<usize, Errno>;
    /// Reads at an absolute offset without moving the position.
    fn pread(&mut self, fd: HostFd, buf: &mut [u8], offset: u64) -> Result<usize, Errno>;
    /// Writes at an absolute offset without moving the position. The
    /// default goes through `seek`, for hosts without a positional write.
    fn pwrite(&mut self, fd: HostFd, data: &[u8], offset: u64) -> Result<usize, Errno> {
        let saved = self.seek(fd, 0, 1)?;
        self.seek(fd, offset as i64, 0)?;
        let result = self.write(fd, data);
        self.seek(fd, saved as i64, 0)?;
        result
    }
    /// Moves the position (`whence` as in Linux: 0 set, 1 current, 2 end).
    fn seek(&mut self, fd: HostFd, offset: i64, whence: u32) -> Result<u64, Errno>;
    /// Metadata of an open handle.
    fn fstat(&mut self, fd: HostFd) -> Result<FileStat, Errno>;
    /// Metadata of a path; `follow` false for `lstat`.
    fn stat(&mut self, path: &[u8], follow: bool) -> Result<FileStat, Errno>;
    /// Lists an open directory (without `.` and `..`).
    fn read_dir(&mut self, fd: HostFd) -> Result<Vec<DirEntry>, Errno>;
    /// Target of a symbolic link.
    fn readlink(&mut self, path: &[u8]) -> Result<Vec<u8>, Errno>;
    /// Removes a file (`dir` false) or an empty directory (`dir` true).
    fn remove(&mut self, path: &[u8], dir: bool) -> Result<(), Errno>;
    /// Creates a directory.
    fn mkdir(&mut self, path: &[u8], mode: u32) -> Result<(), Errno>;
    /// Renames a path.
    fn rename(&mut self, from: &[u8], to: &[u8]) -> Result<(), Errno>;
    /// Changes permission bits.
    fn chmod(&mut self, path: &[u8], mode: u32) -> Result<(), Errno>;
    /// Truncates or extends an open file.
    fn truncate(&mut self, fd: HostFd, len: u64) -> Result<(), Errno>;
    /// True if the handle is a terminal.
    fn isatty(&mut self, fd: HostFd) -> bool;
    /// Current working directory.
    fn getcwd(&mut self) -> Result<Vec<u8>, Errno>;
    /// Changes the working directory.
    fn chdir(&mut self, path: &[u8]) -> Result<(), Errno>;
    /// Reads a clock as (seconds, nanoseconds).
    fn clock(&mut self, clock: Clock) -> (i64, i64);
    /// Fills `buf` with random bytes.
    fn random(&mut self, buf: &mut [u8]);
    /// Statistics of the file system holding `path` (statfs), or of an
    /// open handle's (`fd`, fstatfs) when `path` is `None`. Hosts that
    /// cannot tell answer ENOSYS.
    fn statfs(&mut self, path: Option<&[u8]>, fd: HostFd) -> Result<FsStat, Errno> {
        let _ = (path, fd);
        Err(errno::ENOSYS)
    }
    /// Whether a read of `fd` would return at once (data or end of file)
    /// rather than wait; `None` if the host cannot tell. The scheduler uses
    /// it to keep a read of a terminal or a host pipe from stopping every
    /// other guest task.
    fn readable(&mut self, fd: HostFd) -> Option<bool> {
        let _ = fd;
        None
    }
    /// Blocks for the given time (nanosleep). Hosts without a clock to wait
    /// on may return at once.
    fn sleep(&mut self, seconds: u64, nanos: u32) {
        let _ = (seconds, nanos);
    }
}
