//! `WasiHost`: the syscall layer's `HostOs` on WASI preview 1 (wasm64 ABI).
//! Host handles are WASI descriptors; 0–2 are the standard streams and are
//! never closed (as in `StdHost`). WASI has no devices, so `/dev/null`,
//! which shells and tools open on their own (`2>/dev/null`), is provided
//! here: a handle no WASI descriptor can equal.

use alloc::vec::Vec;

use super::linux_errno;
use super::paths::{NormalPath, Preopen, resolve};
use super::sys::{self, Filestat, filetype, oflags, rights};
use crate::user::host::errno::{EBADF, ENOENT, ENOTDIR};
use crate::user::host::{Clock, DirEntry, Errno, FileStat, HostFd, HostOs, OpenOptions};

/// Size of `dirent`'s fixed part (d_next u64, d_ino u64, d_namlen u32,
/// d_type u8, padding).
const DIRENT_HEADER: usize = 24;
/// Longest symbolic link target read back.
const READLINK_MAX: usize = 4096;

/// `HostOs` over WASI: paths go through the preopened directories.
pub struct WasiHost {
    preopens: Vec<Preopen>,
    /// The working directory, normalized; starts as `.` (the `.` preopen).
    cwd: NormalPath,
}

fn err(e: sys::WasiErrno) -> Errno {
    linux_errno(e)
}

/// The handle of `/dev/null`: above every 32-bit WASI descriptor.
const DEV_NULL: HostFd = 1 << 32;

/// `/dev/null`'s status as Linux reports it: a character device 1:3,
/// readable and writable by everyone.
fn dev_null_stat() -> FileStat {
    FileStat {
        dev: 5,
        ino: 4,
        mode: 0o020_666,
        nlink: 1,
        uid: 0,
        gid: 0,
        rdev: (1 << 8) | 3,
        size: 0,
        blksize: 4096,
        blocks: 0,
        atime: (0, 0),
        mtime: (0, 0),
        ctime: (0, 0),
    }
}

fn to_handle(fd: HostFd) -> Result<u32, Errno> {
    u32::try_from(fd).map_err(|_| EBADF)
}

/// `(seconds, nanoseconds)` of a WASI timestamp.
fn split_ns(ns: u64) -> (i64, i64) {
    ((ns / 1_000_000_000) as i64, (ns % 1_000_000_000) as i64)
}

/// Linux `stat` from WASI's: type bits from `filetype`, fixed permissions.
fn to_stat(st: &Filestat) -> FileStat {
    // Linux S_IF* (sys/stat.h); WASI has no mode bits.
    let mode = match st.filetype {
        filetype::BLOCK_DEVICE => 0o060_644,
        filetype::CHARACTER_DEVICE => 0o020_620,
        filetype::DIRECTORY => 0o040_755,
        filetype::REGULAR_FILE => 0o100_644,
        filetype::SOCKET_DGRAM | filetype::SOCKET_STREAM => 0o140_755,
        filetype::SYMBOLIC_LINK => 0o120_777,
        // Pipes and anything else WASI cannot name.
        _ => 0o010_600,
    };
    FileStat {
        dev: st.dev,
        ino: st.ino,
        mode,
        nlink: st.nlink,
        uid: 0,
        gid: 0,
        rdev: 0,
        size: st.size,
        blksize: 4096,
        blocks: st.size.div_ceil(512),
        atime: split_ns(st.atim),
        mtime: split_ns(st.mtim),
        ctime: split_ns(st.ctim),
    }
}

/// Linux `DT_*` for a WASI filetype.
fn dirent_type(t: u8) -> u8 {
    match t {
        filetype::BLOCK_DEVICE => 6,
        filetype::CHARACTER_DEVICE => 2,
        filetype::DIRECTORY => 4,
        filetype::REGULAR_FILE => 8,
        filetype::SOCKET_DGRAM | filetype::SOCKET_STREAM => 12,
        filetype::SYMBOLIC_LINK => 10,
        _ => 0,
    }
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

impl WasiHost {
    /// Collects the preopened directories from fd 3 on, until the first
    /// descriptor that is not one (as wasi-libc does at startup).
    pub fn new() -> WasiHost {
        let mut preopens = Vec::new();
        let mut fd = 3u32;
        while let Ok(name) = sys::prestat_dir_name(fd) {
            // Some hosts count a trailing NUL in the length.
            let name = name.split(|&b| b == 0).next().unwrap_or_default();
            preopens.push(Preopen {
                fd,
                name: NormalPath::new(name),
            });
            fd += 1;
        }
        WasiHost {
            preopens,
            cwd: NormalPath::new(b"."),
        }
    }

    /// Whether `path` names `/dev/null` (after the working directory).
    fn is_dev_null(&self, path: &[u8]) -> bool {
        let p = self.cwd.join(path);
        p.absolute && p.parts == [b"dev".to_vec(), b"null".to_vec()]
    }

    /// The preopen holding `path` and the path relative to it.
    fn locate(&self, path: &[u8]) -> Result<(u32, Vec<u8>), Errno> {
        if path.is_empty() {
            return Err(ENOENT);
        }
        resolve(&self.preopens, &self.cwd.join(path)).ok_or(ENOENT)
    }
}

impl Default for WasiHost {
    fn default() -> Self {
        WasiHost::new()
    }
}

impl HostOs for WasiHost {
    fn open(&mut self, path: &[u8], o: OpenOptions) -> Result<HostFd, Errno> {
        if self.is_dev_null(path) {
            return if o.directory {
                Err(ENOTDIR)
            } else {
                Ok(DEV_NULL)
            };
        }
        let (dir, rel) = self.locate(path)?;
        let mut flags = 0;
        for (on, bit) in [
            (o.create, oflags::CREAT),
            (o.directory, oflags::DIRECTORY),
            (o.create && o.exclusive, oflags::EXCL),
            (o.truncate, oflags::TRUNC),
        ] {
            if on {
                flags |= bit;
            }
        }
        // Ask for everything but writing unless the guest writes: the host
        // drops what the directory does not hand down, and a read-only
        // grant still opens for reading.
        let wanted = if o.write || o.truncate {
            rights::ALL
        } else {
            rights::ALL & !rights::WRITING
        };
        let fdflags = if o.append { sys::FDFLAGS_APPEND } else { 0 };
        let fd = sys::open(dir, &rel, flags, wanted, wanted, fdflags).map_err(err)?;
        Ok(HostFd::from(fd))
    }

    fn close(&mut self, fd: HostFd) -> Result<(), Errno> {
        if fd < 3 || fd == DEV_NULL {
            return Ok(());
        }
        sys::close(to_handle(fd)?).map_err(err)
    }

    fn read(&mut self, fd: HostFd, buf: &mut [u8]) -> Result<usize, Errno> {
        if fd == DEV_NULL {
            return Ok(0);
        }
        sys::read(to_handle(fd)?, buf).map_err(err)
    }

    fn write(&mut self, fd: HostFd, data: &[u8]) -> Result<usize, Errno> {
        if fd == DEV_NULL {
            return Ok(data.len());
        }
        sys::write(to_handle(fd)?, data).map_err(err)
    }

    fn pread(&mut self, fd: HostFd, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        if fd == DEV_NULL {
            return Ok(0);
        }
        sys::pread(to_handle(fd)?, buf, offset).map_err(err)
    }

    fn seek(&mut self, fd: HostFd, offset: i64, whence: u32) -> Result<u64, Errno> {
        if fd == DEV_NULL {
            return Ok(0); // Linux: seeking /dev/null always gives 0
        }
        // WASI's whence values (set 0, cur 1, end 2) are Linux's.
        let whence = u8::try_from(whence).map_err(|_| crate::user::host::errno::EINVAL)?;
        sys::seek(to_handle(fd)?, offset, whence).map_err(err)
    }

    fn fstat(&mut self, fd: HostFd) -> Result<FileStat, Errno> {
        if fd == DEV_NULL {
            return Ok(dev_null_stat());
        }
        sys::fd_filestat(to_handle(fd)?)
            .map(|st| to_stat(&st))
            .map_err(err)
    }

    fn stat(&mut self, path: &[u8], follow: bool) -> Result<FileStat, Errno> {
        if self.is_dev_null(path) {
            return Ok(dev_null_stat());
        }
        let (dir, rel) = self.locate(path)?;
        sys::path_filestat(dir, &rel, follow)
            .map(|st| to_stat(&st))
            .map_err(err)
    }

    fn read_dir(&mut self, fd: HostFd) -> Result<Vec<DirEntry>, Errno> {
        let fd = to_handle(fd)?;
        let mut out = Vec::new();
        let mut buf = alloc::vec![0u8; 4096];
        let mut cookie = 0u64;
        loop {
            let used = sys::readdir(fd, &mut buf, cookie).map_err(err)?;
            let mut at = 0;
            let mut progressed = false;
            while at + DIRENT_HEADER <= used {
                let header = &buf[at..at + DIRENT_HEADER];
                let next = le_u64(&header[0..]);
                let ino = le_u64(&header[8..]);
                let name_len = u32::from_le_bytes([header[16], header[17], header[18], header[19]]);
                let kind = header[20];
                let end = at + DIRENT_HEADER + name_len as usize;
                if end > used {
                    break; // cut off: fetch again from its cookie
                }
                let name = &buf[at + DIRENT_HEADER..end];
                if name != b"." && name != b".." {
                    out.push(DirEntry {
                        ino,
                        kind: dirent_type(kind),
                        name: name.to_vec(),
                    });
                }
                cookie = next;
                at = end;
                progressed = true;
            }
            // A buffer the host did not fill means the listing is complete.
            if used < buf.len() {
                return Ok(out);
            }
            if !progressed {
                // One entry larger than the buffer.
                let bigger = buf.len() * 2;
                buf.resize(bigger, 0);
            }
        }
    }

    fn readlink(&mut self, path: &[u8]) -> Result<Vec<u8>, Errno> {
        let (dir, rel) = self.locate(path)?;
        let mut buf = alloc::vec![0u8; READLINK_MAX];
        let n = sys::readlink(dir, &rel, &mut buf).map_err(err)?;
        buf.truncate(n);
        Ok(buf)
    }

    fn remove(&mut self, path: &[u8], dir: bool) -> Result<(), Errno> {
        let (base, rel) = self.locate(path)?;
        if dir {
            sys::remove_directory(base, &rel)
        } else {
            sys::unlink_file(base, &rel)
        }
        .map_err(err)
    }

    fn mkdir(&mut self, path: &[u8], _mode: u32) -> Result<(), Errno> {
        let (dir, rel) = self.locate(path)?;
        sys::create_directory(dir, &rel).map_err(err)
    }

    fn rename(&mut self, from: &[u8], to: &[u8]) -> Result<(), Errno> {
        let (from_dir, from_rel) = self.locate(from)?;
        let (to_dir, to_rel) = self.locate(to)?;
        sys::rename(from_dir, &from_rel, to_dir, &to_rel).map_err(err)
    }

    fn chmod(&mut self, path: &[u8], _mode: u32) -> Result<(), Errno> {
        // WASI has no permission bits: succeed on a path that exists.
        self.stat(path, true).map(|_| ())
    }

    fn truncate(&mut self, fd: HostFd, len: u64) -> Result<(), Errno> {
        if fd == DEV_NULL {
            return Ok(()); // as Linux: O_TRUNC and ftruncate on /dev/null succeed
        }
        sys::set_size(to_handle(fd)?, len).map_err(err)
    }

    fn isatty(&mut self, fd: HostFd) -> bool {
        // wasi-libc's rule: a character device without seek or tell.
        let Ok(fd) = to_handle(fd) else { return false };
        sys::fdstat(fd).is_ok_and(|st| {
            st.filetype == filetype::CHARACTER_DEVICE
                && st.rights_base & (rights::FD_SEEK | rights::FD_TELL) == 0
        })
    }

    fn getcwd(&mut self) -> Result<Vec<u8>, Errno> {
        // A relative working directory lives under the `.` preopen, which
        // has no absolute name: it is `/` (see `paths`), as in wasi-libc.
        let mut shown = self.cwd.clone();
        shown.absolute = true;
        Ok(shown.to_bytes())
    }

    fn chdir(&mut self, path: &[u8]) -> Result<(), Errno> {
        let st = self.stat(path, true)?;
        if st.mode & 0o170_000 != 0o040_000 {
            return Err(ENOTDIR);
        }
        self.cwd = self.cwd.join(path);
        Ok(())
    }

    fn clock(&mut self, clock: Clock) -> (i64, i64) {
        let id = match clock {
            Clock::Realtime => sys::CLOCK_REALTIME,
            Clock::Monotonic => sys::CLOCK_MONOTONIC,
        };
        split_ns(sys::clock(id).unwrap_or(0))
    }

    fn random(&mut self, buf: &mut [u8]) {
        if sys::random(buf).is_err() {
            // No entropy source: a fixed pattern keeps the guest running.
            for (i, b) in buf.iter_mut().enumerate() {
                *b = (i as u8).wrapping_mul(151).wrapping_add(7);
            }
        }
    }
}
