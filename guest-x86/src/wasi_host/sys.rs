//! The WASI preview 1 imports the wasm64 build uses, with the 64-bit ABI of
//! wasi-libc's wasm64 build: pointers and `size` are `usize` (8 bytes), so
//! `iovec`/`ciovec` are 16 bytes and `prestat`'s name length is 8 bytes at
//! offset 8. Everything else (fds, rights, filestat, dirent) is as on
//! wasm32. Each wrapper turns the returned errno into a `Result`.

/// A WASI errno (`errno` in the preview 1 witx), nonzero on failure.
pub type WasiErrno = u16;

/// `ciovec`: bytes to write.
#[repr(C)]
pub struct Ciovec {
    /// Start of the bytes.
    pub buf: *const u8,
    /// How many.
    pub len: usize,
}

/// `iovec`: a buffer to read into.
#[repr(C)]
pub struct Iovec {
    /// Start of the buffer.
    pub buf: *mut u8,
    /// Its size.
    pub len: usize,
}

/// `subscription` of `poll_oneoff`: 48 bytes, no pointers, so the same
/// on wasm32 and wasm64 (userdata u64 at 0, `eventtype` u8 at 8, the
/// union at 16: `subscription_clock` {id u32, timeout u64 at 24, precision
/// u64 at 32, flags u16 at 40} or `subscription_fd_readwrite` {fd u32}).
#[repr(C, align(8))]
pub struct Subscription(pub [u8; 48]);

/// `event` of `poll_oneoff`: userdata u64 at 0, errno u16 at 8,
/// `eventtype` u8 at 10, then nbytes u64 and flags u16 for fd events.
#[repr(C, align(8))]
pub struct Event(pub [u8; 32]);

/// `eventtype` values.
pub mod eventtype {
    /// A clock subscription.
    pub const CLOCK: u8 = 0;
    /// An fd ready for reading.
    pub const FD_READ: u8 = 1;
}

impl Subscription {
    /// Fires after `timeout_ns` on the monotonic clock (relative).
    pub fn clock(userdata: u64, timeout_ns: u64) -> Subscription {
        let mut s = [0u8; 48];
        s[..8].copy_from_slice(&userdata.to_le_bytes());
        s[8] = eventtype::CLOCK;
        s[16..20].copy_from_slice(&CLOCK_MONOTONIC.to_le_bytes());
        s[24..32].copy_from_slice(&timeout_ns.to_le_bytes());
        Subscription(s)
    }

    /// Fires when `fd` has bytes to read (or its end).
    pub fn fd_read(userdata: u64, fd: u32) -> Subscription {
        let mut s = [0u8; 48];
        s[..8].copy_from_slice(&userdata.to_le_bytes());
        s[8] = eventtype::FD_READ;
        s[16..20].copy_from_slice(&fd.to_le_bytes());
        Subscription(s)
    }
}

impl Event {
    /// The subscription's userdata.
    pub fn userdata(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.0[..8]);
        u64::from_le_bytes(b)
    }
}

/// `prestat` with the wasm64 layout (tag, then an 8-byte name length).
#[repr(C)]
#[derive(Default)]
pub struct Prestat {
    /// 0: a directory.
    pub tag: u8,
    /// Length of the directory's name.
    pub name_len: usize,
}

/// `filestat` (64 bytes, the same on wasm32 and wasm64).
#[repr(C)]
#[derive(Default)]
pub struct Filestat {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// `filetype`.
    pub filetype: u8,
    /// Link count.
    pub nlink: u64,
    /// Size in bytes.
    pub size: u64,
    /// Access time, nanoseconds since the epoch.
    pub atim: u64,
    /// Modification time.
    pub mtim: u64,
    /// Status change time.
    pub ctim: u64,
}

/// `fdstat` (24 bytes).
#[repr(C)]
#[derive(Default)]
pub struct Fdstat {
    /// `filetype`.
    pub filetype: u8,
    /// `fdflags`.
    pub flags: u16,
    /// Rights of the descriptor.
    pub rights_base: u64,
    /// Rights handed down to descriptors opened through it.
    pub rights_inheriting: u64,
}

/// WASI `filetype` values.
pub mod filetype {
    /// Block device.
    pub const BLOCK_DEVICE: u8 = 1;
    /// Character device (terminals among them).
    pub const CHARACTER_DEVICE: u8 = 2;
    /// Directory.
    pub const DIRECTORY: u8 = 3;
    /// Regular file.
    pub const REGULAR_FILE: u8 = 4;
    /// Datagram socket.
    pub const SOCKET_DGRAM: u8 = 5;
    /// Stream socket.
    pub const SOCKET_STREAM: u8 = 6;
    /// Symbolic link.
    pub const SYMBOLIC_LINK: u8 = 7;
}

/// WASI rights bits used here (witx `rights`).
pub mod rights {
    /// `fd_read`.
    pub const FD_READ: u64 = 1 << 1;
    /// `fd_seek`.
    pub const FD_SEEK: u64 = 1 << 2;
    /// `fd_tell`.
    pub const FD_TELL: u64 = 1 << 5;
    /// `fd_write`.
    pub const FD_WRITE: u64 = 1 << 6;
    /// `fd_allocate`.
    pub const FD_ALLOCATE: u64 = 1 << 8;
    /// `fd_filestat_set_size`.
    pub const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    /// Every right preview 1 defines (bits 0–29).
    pub const ALL: u64 = (1 << 30) - 1;
    /// The rights that change a file's contents: asked for only when the
    /// guest opens for writing, so read-only grants still open for reading.
    pub const WRITING: u64 = FD_WRITE | FD_ALLOCATE | FD_FILESTAT_SET_SIZE;
}

/// WASI `oflags`.
pub mod oflags {
    /// Create if missing.
    pub const CREAT: u16 = 1 << 0;
    /// Must be a directory.
    pub const DIRECTORY: u16 = 1 << 1;
    /// Fail if it exists.
    pub const EXCL: u16 = 1 << 2;
    /// Truncate.
    pub const TRUNC: u16 = 1 << 3;
}

/// WASI `fdflags`: append mode.
pub const FDFLAGS_APPEND: u16 = 1 << 0;
/// `lookupflags`: follow a final symbolic link.
pub const LOOKUP_SYMLINK_FOLLOW: u32 = 1;
/// `clockid` realtime.
pub const CLOCK_REALTIME: u32 = 0;
/// `clockid` monotonic.
pub const CLOCK_MONOTONIC: u32 = 1;
/// WASI errno `badf`.
pub const ERRNO_BADF: WasiErrno = 8;

mod imports {
    use super::{Ciovec, Event, Fdstat, Filestat, Iovec, Prestat, Subscription, WasiErrno};

    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    unsafe extern "C" {
        pub fn args_sizes_get(argc: *mut usize, buf_size: *mut usize) -> WasiErrno;
        pub fn args_get(argv: *mut *mut u8, buf: *mut u8) -> WasiErrno;
        pub fn environ_sizes_get(count: *mut usize, buf_size: *mut usize) -> WasiErrno;
        pub fn environ_get(environ: *mut *mut u8, buf: *mut u8) -> WasiErrno;
        pub fn fd_write(fd: u32, iovs: *const Ciovec, len: usize, n: *mut usize) -> WasiErrno;
        pub fn fd_read(fd: u32, iovs: *const Iovec, len: usize, n: *mut usize) -> WasiErrno;
        pub fn fd_pread(
            fd: u32,
            iovs: *const Iovec,
            len: usize,
            at: u64,
            n: *mut usize,
        ) -> WasiErrno;
        pub fn fd_pwrite(
            fd: u32,
            iovs: *const Ciovec,
            len: usize,
            at: u64,
            n: *mut usize,
        ) -> WasiErrno;
        pub fn poll_oneoff(
            subscriptions: *const Subscription,
            events: *mut Event,
            count: usize,
            nevents: *mut usize,
        ) -> WasiErrno;
        pub fn fd_prestat_get(fd: u32, out: *mut Prestat) -> WasiErrno;
        pub fn fd_prestat_dir_name(fd: u32, path: *mut u8, len: usize) -> WasiErrno;
        pub fn fd_fdstat_get(fd: u32, out: *mut Fdstat) -> WasiErrno;
        pub fn path_open(
            fd: u32,
            dirflags: u32,
            path: *const u8,
            path_len: usize,
            oflags: u16,
            base: u64,
            inheriting: u64,
            fdflags: u16,
            opened: *mut u32,
        ) -> WasiErrno;
        pub fn fd_seek(fd: u32, offset: i64, whence: u8, new_offset: *mut u64) -> WasiErrno;
        pub fn fd_filestat_get(fd: u32, out: *mut Filestat) -> WasiErrno;
        pub fn fd_filestat_set_size(fd: u32, size: u64) -> WasiErrno;
        pub fn fd_readdir(
            fd: u32,
            buf: *mut u8,
            len: usize,
            cookie: u64,
            used: *mut usize,
        ) -> WasiErrno;
        pub fn fd_close(fd: u32) -> WasiErrno;
        pub fn path_create_directory(fd: u32, path: *const u8, len: usize) -> WasiErrno;
        pub fn path_remove_directory(fd: u32, path: *const u8, len: usize) -> WasiErrno;
        pub fn path_unlink_file(fd: u32, path: *const u8, len: usize) -> WasiErrno;
        pub fn path_rename(
            fd: u32,
            old: *const u8,
            old_len: usize,
            new_fd: u32,
            new: *const u8,
            new_len: usize,
        ) -> WasiErrno;
        pub fn path_readlink(
            fd: u32,
            path: *const u8,
            len: usize,
            buf: *mut u8,
            buf_len: usize,
            used: *mut usize,
        ) -> WasiErrno;
        pub fn path_filestat_get(
            fd: u32,
            flags: u32,
            path: *const u8,
            len: usize,
            out: *mut Filestat,
        ) -> WasiErrno;
        pub fn clock_time_get(id: u32, precision: u64, out: *mut u64) -> WasiErrno;
        pub fn random_get(buf: *mut u8, len: usize) -> WasiErrno;
        pub fn proc_exit(code: u32) -> !;
    }
}

fn check(errno: WasiErrno) -> Result<(), WasiErrno> {
    if errno == 0 { Ok(()) } else { Err(errno) }
}

/// Number of strings and their total size (with NULs) of argv or environ.
fn sizes(
    get: unsafe extern "C" fn(*mut usize, *mut usize) -> WasiErrno,
) -> Result<(usize, usize), WasiErrno> {
    let (mut count, mut bytes) = (0usize, 0usize);
    // SAFETY: both out-pointers are live locals.
    check(unsafe { get(&mut count, &mut bytes) })?;
    Ok((count, bytes))
}

/// Fetches argv or environ as byte strings (without their NULs).
fn strings(
    sizes_get: unsafe extern "C" fn(*mut usize, *mut usize) -> WasiErrno,
    get: unsafe extern "C" fn(*mut *mut u8, *mut u8) -> WasiErrno,
) -> Result<alloc::vec::Vec<alloc::vec::Vec<u8>>, WasiErrno> {
    let (count, bytes) = sizes(sizes_get)?;
    let mut pointers = alloc::vec![core::ptr::null_mut::<u8>(); count];
    let mut buf = alloc::vec![0u8; bytes];
    // SAFETY: the buffers have the sizes the host just reported.
    check(unsafe { get(pointers.as_mut_ptr(), buf.as_mut_ptr()) })?;
    // The host writes the strings back to back, each NUL-terminated.
    Ok(buf
        .split(|&b| b == 0)
        .take(count)
        .map(|s| s.to_vec())
        .collect())
}

/// The command line, `argv[0]` first.
pub fn args() -> Result<alloc::vec::Vec<alloc::vec::Vec<u8>>, WasiErrno> {
    strings(imports::args_sizes_get, imports::args_get)
}

/// The environment as `KEY=VALUE` strings.
pub fn environ() -> Result<alloc::vec::Vec<alloc::vec::Vec<u8>>, WasiErrno> {
    strings(imports::environ_sizes_get, imports::environ_get)
}

/// Writes some of `data`; returns how much was written.
pub fn write(fd: u32, data: &[u8]) -> Result<usize, WasiErrno> {
    let iov = Ciovec {
        buf: data.as_ptr(),
        len: data.len(),
    };
    let mut n = 0;
    // SAFETY: the iovec describes live bytes; `n` is a live local.
    check(unsafe { imports::fd_write(fd, &iov, 1, &mut n) })?;
    Ok(n)
}

/// Reads into `buf`; returns how much was read (0 at the end).
pub fn read(fd: u32, buf: &mut [u8]) -> Result<usize, WasiErrno> {
    let iov = Iovec {
        buf: buf.as_mut_ptr(),
        len: buf.len(),
    };
    let mut n = 0;
    // SAFETY: the iovec describes a live buffer; `n` is a live local.
    check(unsafe { imports::fd_read(fd, &iov, 1, &mut n) })?;
    Ok(n)
}

/// Reads at `offset` without moving the position.
pub fn pread(fd: u32, buf: &mut [u8], offset: u64) -> Result<usize, WasiErrno> {
    let iov = Iovec {
        buf: buf.as_mut_ptr(),
        len: buf.len(),
    };
    let mut n = 0;
    // SAFETY: as in `read`.
    check(unsafe { imports::fd_pread(fd, &iov, 1, offset, &mut n) })?;
    Ok(n)
}

/// Writes at `offset` without moving the position.
pub fn pwrite(fd: u32, data: &[u8], offset: u64) -> Result<usize, WasiErrno> {
    let iov = Ciovec {
        buf: data.as_ptr(),
        len: data.len(),
    };
    let mut n = 0;
    // SAFETY: the iovec describes live bytes; `n` is a live local.
    check(unsafe { imports::fd_pwrite(fd, &iov, 1, offset, &mut n) })?;
    Ok(n)
}

/// `poll_oneoff`: waits until one of `subscriptions` fires; returns the
/// userdata of those that did.
pub fn poll(subscriptions: &[Subscription]) -> Result<alloc::vec::Vec<u64>, WasiErrno> {
    let mut events: alloc::vec::Vec<Event> = subscriptions.iter().map(|_| Event([0; 32])).collect();
    let mut n = 0;
    // SAFETY: `events` has room for one event per subscription, as the
    // call requires; `n` is a live local.
    check(unsafe {
        imports::poll_oneoff(
            subscriptions.as_ptr(),
            events.as_mut_ptr(),
            subscriptions.len(),
            &mut n,
        )
    })?;
    Ok(events.iter().take(n).map(Event::userdata).collect())
}

/// The preopened directory's name at `fd`, or `Err(badf)` past the last.
pub fn prestat_dir_name(fd: u32) -> Result<alloc::vec::Vec<u8>, WasiErrno> {
    let mut stat = Prestat::default();
    // SAFETY: `stat` is a live prestat with the wasm64 layout.
    check(unsafe { imports::fd_prestat_get(fd, &mut stat) })?;
    let mut name = alloc::vec![0u8; stat.name_len];
    // SAFETY: `name` holds exactly `name_len` bytes.
    check(unsafe { imports::fd_prestat_dir_name(fd, name.as_mut_ptr(), name.len()) })?;
    Ok(name)
}

/// Type, flags and rights of `fd`.
pub fn fdstat(fd: u32) -> Result<Fdstat, WasiErrno> {
    let mut stat = Fdstat::default();
    // SAFETY: `stat` is a live fdstat.
    check(unsafe { imports::fd_fdstat_get(fd, &mut stat) })?;
    Ok(stat)
}

/// `path_open` relative to directory `dir`.
pub fn open(
    dir: u32,
    path: &[u8],
    oflags: u16,
    rights: u64,
    inheriting: u64,
    fdflags: u16,
) -> Result<u32, WasiErrno> {
    let mut fd = 0;
    // SAFETY: `path` is live; `fd` is a live local.
    check(unsafe {
        imports::path_open(
            dir,
            LOOKUP_SYMLINK_FOLLOW,
            path.as_ptr(),
            path.len(),
            oflags,
            rights,
            inheriting,
            fdflags,
            &mut fd,
        )
    })?;
    Ok(fd)
}

/// Moves the position; `whence` 0 set, 1 current, 2 end (as in Linux).
pub fn seek(fd: u32, offset: i64, whence: u8) -> Result<u64, WasiErrno> {
    let mut at = 0;
    // SAFETY: `at` is a live local.
    check(unsafe { imports::fd_seek(fd, offset, whence, &mut at) })?;
    Ok(at)
}

/// Metadata of an open descriptor.
pub fn fd_filestat(fd: u32) -> Result<Filestat, WasiErrno> {
    let mut st = Filestat::default();
    // SAFETY: `st` is a live filestat.
    check(unsafe { imports::fd_filestat_get(fd, &mut st) })?;
    Ok(st)
}

/// Truncates or extends.
pub fn set_size(fd: u32, size: u64) -> Result<(), WasiErrno> {
    // SAFETY: plain call.
    check(unsafe { imports::fd_filestat_set_size(fd, size) })
}

/// One `fd_readdir` call: fills `buf` with dirents from `cookie` on.
pub fn readdir(fd: u32, buf: &mut [u8], cookie: u64) -> Result<usize, WasiErrno> {
    let mut used = 0;
    // SAFETY: `buf` is live and writable; `used` is a live local.
    check(unsafe { imports::fd_readdir(fd, buf.as_mut_ptr(), buf.len(), cookie, &mut used) })?;
    Ok(used)
}

/// Closes a descriptor.
pub fn close(fd: u32) -> Result<(), WasiErrno> {
    // SAFETY: plain call.
    check(unsafe { imports::fd_close(fd) })
}

/// Creates a directory.
pub fn create_directory(dir: u32, path: &[u8]) -> Result<(), WasiErrno> {
    // SAFETY: `path` is live.
    check(unsafe { imports::path_create_directory(dir, path.as_ptr(), path.len()) })
}

/// Removes an empty directory.
pub fn remove_directory(dir: u32, path: &[u8]) -> Result<(), WasiErrno> {
    // SAFETY: `path` is live.
    check(unsafe { imports::path_remove_directory(dir, path.as_ptr(), path.len()) })
}

/// Removes a file.
pub fn unlink_file(dir: u32, path: &[u8]) -> Result<(), WasiErrno> {
    // SAFETY: `path` is live.
    check(unsafe { imports::path_unlink_file(dir, path.as_ptr(), path.len()) })
}

/// Renames `old` (under `dir`) to `new` (under `new_dir`).
pub fn rename(dir: u32, old: &[u8], new_dir: u32, new: &[u8]) -> Result<(), WasiErrno> {
    // SAFETY: both paths are live.
    check(unsafe {
        imports::path_rename(
            dir,
            old.as_ptr(),
            old.len(),
            new_dir,
            new.as_ptr(),
            new.len(),
        )
    })
}

/// Reads a symbolic link into `buf`; returns how many bytes it holds.
pub fn readlink(dir: u32, path: &[u8], buf: &mut [u8]) -> Result<usize, WasiErrno> {
    let mut used = 0;
    // SAFETY: `path` and `buf` are live; `used` is a live local.
    check(unsafe {
        imports::path_readlink(
            dir,
            path.as_ptr(),
            path.len(),
            buf.as_mut_ptr(),
            buf.len(),
            &mut used,
        )
    })?;
    Ok(used)
}

/// Metadata of a path, following a final link if `follow`.
pub fn path_filestat(dir: u32, path: &[u8], follow: bool) -> Result<Filestat, WasiErrno> {
    let mut st = Filestat::default();
    let flags = if follow { LOOKUP_SYMLINK_FOLLOW } else { 0 };
    // SAFETY: `path` is live; `st` is a live filestat.
    check(unsafe { imports::path_filestat_get(dir, flags, path.as_ptr(), path.len(), &mut st) })?;
    Ok(st)
}

/// Reads a clock in nanoseconds.
pub fn clock(id: u32) -> Result<u64, WasiErrno> {
    let mut ns = 0;
    // SAFETY: `ns` is a live local.
    check(unsafe { imports::clock_time_get(id, 1, &mut ns) })?;
    Ok(ns)
}

/// Fills `buf` with random bytes.
pub fn random(buf: &mut [u8]) -> Result<(), WasiErrno> {
    // SAFETY: `buf` is live and writable.
    check(unsafe { imports::random_get(buf.as_mut_ptr(), buf.len()) })
}

/// Ends the program with `code`.
pub fn exit(code: u32) -> ! {
    // SAFETY: plain call; it does not return.
    unsafe { imports::proc_exit(code) }
}
