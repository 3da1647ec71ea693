//! The per-program WASI state: arguments, environment and the fd table, and
//! the builder the embedder (the `wrun` CLI, tests) fills in.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::{Arc, Mutex};

use rustix::fs::{Mode, OFlags};

use crate::types::rights;

/// What a preopened directory lets the guest do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirPerms {
    /// List, stat and read; nothing is created, changed or removed.
    ReadOnly,
    /// Everything, inside the directory.
    ReadWrite,
}

impl DirPerms {
    /// `(base, inheriting)` rights of the preopened directory's fd.
    fn rights(self) -> (u64, u64) {
        match self {
            DirPerms::ReadWrite => (rights::ALL, rights::ALL),
            DirPerms::ReadOnly => (
                rights::ALL & !rights::DIR_MUTATING & !rights::FILE_MUTATING,
                rights::ALL & !rights::DIR_MUTATING & !rights::FILE_MUTATING,
            ),
        }
    }
}

/// A byte stream standing in for a standard stream.
pub(crate) enum Stream {
    /// Reads from a host reader (stdin).
    Reader(Box<dyn Read + Send>),
    /// Writes to a host writer (stdout, stderr).
    Writer(Box<dyn Write + Send>),
}

/// What an fd refers to.
pub(crate) enum Handle {
    /// A standard stream; `host_fd` is the inherited host descriptor, if any
    /// (for `fdstat`, `filestat` and `poll_oneoff`). `nonblocking` is the
    /// guest's `NONBLOCK` flag, emulated: the host's own descriptor is
    /// shared with the host's terminal and is left as it is.
    Stream {
        stream: Stream,
        host_fd: Option<BorrowedFd<'static>>,
        nonblocking: bool,
    },
    /// A file opened through `path_open`.
    File(std::fs::File),
    /// A directory: a preopen (with its guest name) or one opened by the guest.
    Dir {
        fd: OwnedFd,
        preopen: Option<Vec<u8>>,
    },
}

/// One slot of the fd table: the handle and its rights.
pub(crate) struct FdEntry {
    pub handle: Handle,
    /// Rights for operations on this fd.
    pub base: u64,
    /// Rights that fds opened through this one may have.
    pub inheriting: u64,
}

impl FdEntry {
    /// `Ok` when the fd has every right in `needed`. Otherwise the errno
    /// wasmtime answers and POSIX programs expect: `EBADF` for reading or
    /// writing an fd not open for it (as read(2)/write(2) say), `EPERM` for
    /// anything else a grant does not allow.
    pub fn require(&self, needed: u64) -> Result<(), crate::types::Errno> {
        use crate::types::Errno;
        let missing = needed & !self.base;
        if missing == 0 {
            Ok(())
        } else if missing & (rights::FD_READ | rights::FD_WRITE) != 0 {
            Err(Errno::BADF)
        } else {
            Err(Errno::PERM)
        }
    }
}

/// A WASI program's state: build it with [`WasiCtxBuilder`].
#[derive(Default)]
pub struct WasiCtx {
    pub(crate) args: Vec<Vec<u8>>,
    pub(crate) env: Vec<Vec<u8>>,
    pub(crate) fds: BTreeMap<u32, FdEntry>,
}

impl WasiCtx {
    /// The lowest free fd number.
    pub(crate) fn free_fd(&self) -> Option<u32> {
        (0..=u32::MAX).find(|fd| !self.fds.contains_key(fd))
    }

    /// The entry of `fd`, or `EBADF`.
    pub(crate) fn entry(&mut self, fd: u32) -> Result<&mut FdEntry, crate::types::Errno> {
        self.fds.get_mut(&fd).ok_or(crate::types::Errno::BADF)
    }
}

/// A `Write` sink whose contents can be read back, shared between clones:
/// give one clone to [`WasiCtxBuilder::stdout`], keep the other.
#[derive(Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl SharedBuffer {
    /// An empty buffer.
    pub fn new() -> SharedBuffer {
        SharedBuffer::default()
    }

    /// A copy of everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.0.lock().map(|b| b.clone()).unwrap_or_default()
    }
}

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("shared buffer poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes to the host's stdout or stderr unbuffered, so the guest's output
/// interleaves with the host's as it would natively.
struct HostOut(BorrowedFd<'static>);

impl Write for HostOut {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(rustix::io::write(self.0, buf)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Reads the host's stdin without buffering (the guest buffers for itself).
struct HostIn;

impl Read for HostIn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(rustix::io::read(rustix::stdio::stdin(), buf)?)
    }
}

/// Builds a [`WasiCtx`]: arguments, environment, standard streams and
/// preopened directories. Standard streams default to an empty stdin and
/// discarded output.
pub struct WasiCtxBuilder {
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
    stdio: [FdEntry; 3],
    preopens: Vec<FdEntry>,
}

impl Default for WasiCtxBuilder {
    fn default() -> Self {
        WasiCtxBuilder::new()
    }
}

fn stream_entry(stream: Stream, host_fd: Option<BorrowedFd<'static>>) -> FdEntry {
    FdEntry {
        handle: Handle::Stream {
            stream,
            host_fd,
            nonblocking: false,
        },
        base: rights::STREAM,
        inheriting: 0,
    }
}

impl WasiCtxBuilder {
    /// A builder with no arguments, no environment and no directories.
    pub fn new() -> WasiCtxBuilder {
        WasiCtxBuilder {
            args: Vec::new(),
            env: Vec::new(),
            stdio: [
                stream_entry(Stream::Reader(Box::new(io::empty())), None),
                stream_entry(Stream::Writer(Box::new(io::sink())), None),
                stream_entry(Stream::Writer(Box::new(io::sink())), None),
            ],
            preopens: Vec::new(),
        }
    }

    /// Appends one argument (the first is the program name, `argv[0]`).
    pub fn arg(mut self, arg: impl AsRef<[u8]>) -> Self {
        self.args.push(arg.as_ref().to_vec());
        self
    }

    /// Appends arguments.
    pub fn args<I: IntoIterator<Item = A>, A: AsRef<[u8]>>(mut self, args: I) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_vec()));
        self
    }

    /// Adds the environment variable `key=value`.
    pub fn env(mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        let mut kv = key.as_ref().to_vec();
        kv.push(b'=');
        kv.extend_from_slice(value.as_ref());
        self.env.push(kv);
        self
    }

    /// Adds environment variables.
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }

    /// Gives the guest the host's stdin, stdout and stderr.
    pub fn inherit_stdio(mut self) -> Self {
        self.stdio = [
            stream_entry(
                Stream::Reader(Box::new(HostIn)),
                Some(rustix::stdio::stdin()),
            ),
            stream_entry(
                Stream::Writer(Box::new(HostOut(rustix::stdio::stdout()))),
                Some(rustix::stdio::stdout()),
            ),
            stream_entry(
                Stream::Writer(Box::new(HostOut(rustix::stdio::stderr()))),
                Some(rustix::stdio::stderr()),
            ),
        ];
        self
    }

    /// The guest's stdin reads from `r`.
    pub fn stdin(mut self, r: impl Read + Send + 'static) -> Self {
        self.stdio[0] = stream_entry(Stream::Reader(Box::new(r)), None);
        self
    }

    /// The guest's stdout writes to `w`.
    pub fn stdout(mut self, w: impl Write + Send + 'static) -> Self {
        self.stdio[1] = stream_entry(Stream::Writer(Box::new(w)), None);
        self
    }

    /// The guest's stderr writes to `w`.
    pub fn stderr(mut self, w: impl Write + Send + 'static) -> Self {
        self.stdio[2] = stream_entry(Stream::Writer(Box::new(w)), None);
        self
    }

    /// Grants the guest the host directory `host_path`, which it sees as
    /// `guest_path` (the preopen's name: `.`, `/data`, …). Everything the
    /// guest reaches through it stays inside it.
    pub fn preopen_dir(
        mut self,
        host_path: impl AsRef<Path>,
        guest_path: impl AsRef<str>,
        perms: DirPerms,
    ) -> io::Result<Self> {
        let host_path = host_path.as_ref();
        let fd = rustix::fs::open(
            host_path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            io::Error::new(
                io::Error::from(e).kind(),
                format!("cannot open directory {}: {e}", host_path.display()),
            )
        })?;
        let (base, inheriting) = perms.rights();
        self.preopens.push(FdEntry {
            handle: Handle::Dir {
                fd,
                preopen: Some(guest_path.as_ref().as_bytes().to_vec()),
            },
            base,
            inheriting,
        });
        Ok(self)
    }

    /// The context: fds 0–2 are the standard streams, preopens follow from 3
    /// in the order they were added.
    pub fn build(self) -> WasiCtx {
        let mut fds = BTreeMap::new();
        for (fd, entry) in (0u32..).zip(self.stdio.into_iter().chain(self.preopens)) {
            fds.insert(fd, entry);
        }
        WasiCtx {
            args: self.args,
            env: self.env,
            fds,
        }
    }
}

impl Handle {
    /// The host descriptor behind the handle, if there is one.
    pub(crate) fn host_fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Handle::Stream { host_fd, .. } => *host_fd,
            Handle::File(f) => Some(f.as_fd()),
            Handle::Dir { fd, .. } => Some(fd.as_fd()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_grants_hold_and_hand_down_no_mutating_right() {
        let (base, inheriting) = DirPerms::ReadOnly.rights();
        for rights in [base, inheriting] {
            assert_eq!(rights & (rights::DIR_MUTATING | rights::FILE_MUTATING), 0);
            assert_ne!(rights & rights::PATH_OPEN, 0);
            assert_ne!(rights & rights::FD_READ, 0);
        }
        assert_eq!(DirPerms::ReadWrite.rights(), (rights::ALL, rights::ALL));
    }

    #[test]
    fn fds_are_stdio_then_preopens_in_order() {
        let dir = std::env::temp_dir();
        let ctx = WasiCtxBuilder::new()
            .preopen_dir(&dir, "/a", DirPerms::ReadOnly)
            .and_then(|b| b.preopen_dir(&dir, "/b", DirPerms::ReadWrite))
            .expect("temp dir opens")
            .build();
        assert_eq!(ctx.fds.keys().copied().collect::<Vec<_>>(), [0, 1, 2, 3, 4]);
        assert!(matches!(&ctx.fds[&4].handle, Handle::Dir { preopen: Some(n), .. } if n == b"/b"));
        assert_eq!(ctx.free_fd(), Some(5));
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let err = WasiCtxBuilder::new()
            .preopen_dir("/no/such/dir", ".", DirPerms::ReadOnly)
            .err()
            .expect("fails");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
        assert!(err.to_string().contains("/no/such/dir"), "{err}");
    }
}
