//! `HostOs` on top of the Rust standard library (native builds only).
//! Guest descriptors 0–2 map to the process's own stdin/stdout/stderr,
//! unbuffered, so output interleaves exactly as the guest wrote it.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, IsTerminal, Read, Seek, SeekFrom, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, DirEntryExt, FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};
use std::vec::Vec;

use super::host::errno::{EBADF, EIO, ENOTDIR};
use super::host::{Clock, DirEntry, Errno, FileStat, FsStat, HostFd, HostOs, OpenOptions};

struct Handle {
    file: File,
    path: PathBuf,
}

/// The native host: real files, the real clock, /dev/urandom.
pub struct StdHost {
    handles: BTreeMap<HostFd, Handle>,
    next: HostFd,
    started: Instant,
}

impl Default for StdHost {
    fn default() -> Self {
        StdHost {
            handles: BTreeMap::new(),
            next: 3,
            started: Instant::now(),
        }
    }
}

fn os_error(e: io::Error) -> Errno {
    e.raw_os_error().map(|c| c as Errno).unwrap_or(EIO)
}

fn path_of(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

/// One of the inherited standard streams, borrowed without taking ownership.
fn std_stream(fd: HostFd) -> ManuallyDrop<File> {
    // SAFETY: 0, 1 and 2 stay open for the whole process; ManuallyDrop
    // keeps this borrowed File from closing them.
    ManuallyDrop::new(unsafe { File::from_raw_fd(fd as i32) })
}

fn to_stat(m: &fs::Metadata) -> FileStat {
    FileStat {
        dev: m.dev(),
        ino: m.ino(),
        mode: m.mode(),
        nlink: m.nlink(),
        uid: m.uid(),
        gid: m.gid(),
        rdev: m.rdev(),
        size: m.size(),
        blksize: m.blksize(),
        blocks: m.blocks(),
        atime: (m.atime(), m.atime_nsec()),
        mtime: (m.mtime(), m.mtime_nsec()),
        ctime: (m.ctime(), m.ctime_nsec()),
    }
}

/// statfs(2)/fstatfs(2) through the C library: `struct statfs` on Linux's
/// 64-bit ABIs is 15 words (f_type … f_flags, f_spare[4]).
#[cfg(target_os = "linux")]
fn host_statfs(path: Option<&Path>, fd: i32) -> Result<FsStat, Errno> {
    use std::ffi::CString;
    unsafe extern "C" {
        fn statfs(path: *const std::ffi::c_char, buf: *mut u64) -> i32;
        fn fstatfs(fd: i32, buf: *mut u64) -> i32;
    }
    let mut w = [0u64; 16];
    let rc = match path {
        Some(p) => {
            let c =
                CString::new(p.as_os_str().as_bytes()).map_err(|_| super::host::errno::EINVAL)?;
            // SAFETY: a NUL-terminated path and a buffer larger than struct statfs.
            unsafe { statfs(c.as_ptr(), w.as_mut_ptr()) }
        }
        // SAFETY: as above; a bad descriptor is an error return, not UB.
        None => unsafe { fstatfs(fd, w.as_mut_ptr()) },
    };
    if rc != 0 {
        return Err(os_error(io::Error::last_os_error()));
    }
    Ok(FsStat {
        kind: w[0],
        bsize: w[1],
        blocks: w[2],
        bfree: w[3],
        bavail: w[4],
        files: w[5],
        ffree: w[6],
        fsid: w[7],
        namelen: w[8],
        frsize: w[9],
        flags: w[10],
    })
}

/// poll(2) with a zero timeout: whether a read of `fd` returns at once
/// (data, end of file or an error all do).
#[cfg(unix)]
fn poll_readable(fd: i32) -> Option<bool> {
    #[repr(C)]
    struct PollFd {
        fd: i32,
        events: i16,
        revents: i16,
    }
    unsafe extern "C" {
        fn poll(fds: *mut PollFd, nfds: u64, timeout: i32) -> i32;
    }
    const POLLIN: i16 = 1;
    let mut p = PollFd {
        fd,
        events: POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; a zero timeout never blocks.
    let n = unsafe { poll(&mut p, 1, 0) };
    (n >= 0).then_some(n > 0 && p.revents != 0)
}

impl StdHost {
    fn with_file<T>(
        &mut self,
        fd: HostFd,
        f: impl FnOnce(&mut File) -> io::Result<T>,
    ) -> Result<T, Errno> {
        if fd < 3 {
            let mut stream = std_stream(fd);
            return f(&mut stream).map_err(os_error);
        }
        let handle = self.handles.get_mut(&fd).ok_or(EBADF)?;
        f(&mut handle.file).map_err(os_error)
    }
}

impl HostOs for StdHost {
    fn open(&mut self, path: &[u8], o: OpenOptions) -> Result<HostFd, Errno> {
        let p = path_of(path);
        let mut opts = fs::OpenOptions::new();
        opts.read(o.read || !o.write)
            .write(o.write)
            .append(o.append)
            .truncate(o.truncate);
        if o.create {
            if o.exclusive {
                opts.create_new(true);
            } else {
                opts.create(true);
            }
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, o.mode);
        }
        let file = opts.open(p).map_err(os_error)?;
        if o.directory && !file.metadata().map_err(os_error)?.is_dir() {
            return Err(ENOTDIR);
        }
        let fd = self.next;
        self.next += 1;
        self.handles.insert(
            fd,
            Handle {
                file,
                path: p.to_path_buf(),
            },
        );
        Ok(fd)
    }

    fn close(&mut self, fd: HostFd) -> Result<(), Errno> {
        if fd < 3 {
            return Ok(());
        }
        self.handles.remove(&fd).map(|_| ()).ok_or(EBADF)
    }

    fn read(&mut self, fd: HostFd, buf: &mut [u8]) -> Result<usize, Errno> {
        self.with_file(fd, |f| f.read(buf))
    }

    fn write(&mut self, fd: HostFd, data: &[u8]) -> Result<usize, Errno> {
        self.with_file(fd, |f| f.write(data))
    }

    fn pread(&mut self, fd: HostFd, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        self.with_file(fd, |f| f.read_at(buf, offset))
    }

    fn pwrite(&mut self, fd: HostFd, data: &[u8], offset: u64) -> Result<usize, Errno> {
        self.with_file(fd, |f| f.write_at(data, offset))
    }

    #[cfg(target_os = "linux")]
    fn statfs(&mut self, path: Option<&[u8]>, fd: HostFd) -> Result<FsStat, Errno> {
        use std::os::fd::AsRawFd;
        match path {
            Some(p) => host_statfs(Some(path_of(p)), -1),
            None => self
                .with_file(fd, |f| Ok(f.as_raw_fd()))
                .and_then(|raw| host_statfs(None, raw)),
        }
    }

    fn seek(&mut self, fd: HostFd, offset: i64, whence: u32) -> Result<u64, Errno> {
        let pos = match whence {
            0 => SeekFrom::Start(offset as u64),
            1 => SeekFrom::Current(offset),
            _ => SeekFrom::End(offset),
        };
        self.with_file(fd, |f| f.seek(pos))
    }

    fn fstat(&mut self, fd: HostFd) -> Result<FileStat, Errno> {
        self.with_file(fd, |f| f.metadata()).map(|m| to_stat(&m))
    }

    fn stat(&mut self, path: &[u8], follow: bool) -> Result<FileStat, Errno> {
        let p = path_of(path);
        let m = if follow {
            fs::metadata(p)
        } else {
            fs::symlink_metadata(p)
        };
        m.map(|m| to_stat(&m)).map_err(os_error)
    }

    fn read_dir(&mut self, fd: HostFd) -> Result<Vec<DirEntry>, Errno> {
        let path = self.handles.get(&fd).ok_or(EBADF)?.path.clone();
        let mut out = Vec::new();
        for entry in fs::read_dir(&path).map_err(os_error)? {
            let entry = entry.map_err(os_error)?;
            let t = entry.file_type().map_err(os_error)?;
            use std::os::unix::fs::FileTypeExt;
            // Linux DT_* values.
            let kind = if t.is_dir() {
                4
            } else if t.is_symlink() {
                10
            } else if t.is_file() {
                8
            } else if t.is_char_device() {
                2
            } else if t.is_block_device() {
                6
            } else if t.is_fifo() {
                1
            } else if t.is_socket() {
                12
            } else {
                0
            };
            out.push(DirEntry {
                ino: entry.ino(),
                kind,
                name: entry.file_name().as_bytes().to_vec(),
            });
        }
        Ok(out)
    }

    fn readlink(&mut self, path: &[u8]) -> Result<Vec<u8>, Errno> {
        fs::read_link(path_of(path))
            .map(|t| t.as_os_str().as_bytes().to_vec())
            .map_err(os_error)
    }

    fn remove(&mut self, path: &[u8], dir: bool) -> Result<(), Errno> {
        let p = path_of(path);
        if dir {
            fs::remove_dir(p)
        } else {
            fs::remove_file(p)
        }
        .map_err(os_error)
    }

    fn mkdir(&mut self, path: &[u8], mode: u32) -> Result<(), Errno> {
        fs::DirBuilder::new()
            .mode(mode)
            .create(path_of(path))
            .map_err(os_error)
    }

    fn rename(&mut self, from: &[u8], to: &[u8]) -> Result<(), Errno> {
        fs::rename(path_of(from), path_of(to)).map_err(os_error)
    }

    fn chmod(&mut self, path: &[u8], mode: u32) -> Result<(), Errno> {
        fs::set_permissions(path_of(path), fs::Permissions::from_mode(mode)).map_err(os_error)
    }

    fn truncate(&mut self, fd: HostFd, len: u64) -> Result<(), Errno> {
        self.with_file(fd, |f| f.set_len(len))
    }

    #[cfg(unix)]
    fn readable(&mut self, fd: HostFd) -> Option<bool> {
        use std::os::fd::AsRawFd;
        let raw = self.with_file(fd, |f| Ok(f.as_raw_fd())).ok()?;
        poll_readable(raw)
    }

    fn isatty(&mut self, fd: HostFd) -> bool {
        if fd < 3 {
            return std_stream(fd).is_terminal();
        }
        self.handles.get(&fd).is_some_and(|h| h.file.is_terminal())
    }

    fn getcwd(&mut self) -> Result<Vec<u8>, Errno> {
        std::env::current_dir()
            .map(|p| p.as_os_str().as_bytes().to_vec())
            .map_err(os_error)
    }

    fn chdir(&mut self, path: &[u8]) -> Result<(), Errno> {
        std::env::set_current_dir(path_of(path)).map_err(os_error)
    }

    fn clock(&mut self, clock: Clock) -> (i64, i64) {
        match clock {
            Clock::Realtime => {
                let d = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                (d.as_secs() as i64, d.subsec_nanos() as i64)
            }
            Clock::Monotonic => {
                let d = self.started.elapsed();
                (d.as_secs() as i64 + 1000, d.subsec_nanos() as i64)
            }
        }
    }

    fn sleep(&mut self, seconds: u64, nanos: u32) {
        std::thread::sleep(std::time::Duration::new(seconds, nanos.min(999_999_999)));
    }

    fn random(&mut self, buf: &mut [u8]) {
        if let Ok(mut f) = File::open("/dev/urandom")
            && f.read_exact(buf).is_ok()
        {
            return;
        }
        // No entropy source: a fixed pattern keeps the guest running.
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(151).wrapping_add(7);
        }
    }
}
