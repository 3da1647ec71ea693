//! A wasm64 WASI command without a libc: console, arguments, environment,
//! preopens, file and directory I/O, clocks, random bytes, stdin and the
//! exit status, all through `wasi_snapshot_preview1` imports whose pointers
//! and sizes are 64-bit (`usize` on wasm64).

#![no_std]

use core::fmt::{self, Write};

/// The WASI preview 1 types and imports, with wasi-libc's wasm64 layout:
/// `size` is `usize`, so `iovec`/`ciovec` are 16 bytes and `prestat`'s
/// name length is 8 bytes at offset 8.
mod wasi {
    #[repr(C)]
    pub struct Ciovec {
        pub buf: *const u8,
        pub len: usize,
    }

    #[repr(C)]
    pub struct Iovec {
        pub buf: *mut u8,
        pub len: usize,
    }

    #[repr(C)]
    pub struct Prestat {
        pub tag: u8,
        pub name_len: usize,
    }

    #[repr(C)]
    #[derive(Default)]
    pub struct Filestat {
        pub dev: u64,
        pub ino: u64,
        pub filetype: u8,
        pub nlink: u64,
        pub size: u64,
        pub atim: u64,
        pub mtim: u64,
        pub ctim: u64,
    }

    pub const RIGHTS_RW: u64 = (1 << 1) | (1 << 2) | (1 << 5) | (1 << 6) | (1 << 21);
    pub const RIGHTS_DIR: u64 = (1 << 13) | (1 << 14);
    pub const OFLAGS_CREAT_TRUNC: u16 = 1 | 8;
    pub const OFLAGS_DIRECTORY: u16 = 2;
    pub const FILETYPE_DIRECTORY: u8 = 3;
    pub const FILETYPE_REGULAR_FILE: u8 = 4;

    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    unsafe extern "C" {
        pub fn args_sizes_get(argc: *mut usize, buf_size: *mut usize) -> u16;
        pub fn args_get(argv: *mut *mut u8, buf: *mut u8) -> u16;
        pub fn environ_sizes_get(count: *mut usize, buf_size: *mut usize) -> u16;
        pub fn environ_get(environ: *mut *mut u8, buf: *mut u8) -> u16;
        pub fn fd_write(fd: u32, iovs: *const Ciovec, len: usize, nwritten: *mut usize) -> u16;
        pub fn fd_read(fd: u32, iovs: *const Iovec, len: usize, nread: *mut usize) -> u16;
        pub fn fd_pread(fd: u32, iovs: *const Iovec, len: usize, at: u64, nread: *mut usize)
        -> u16;
        pub fn fd_prestat_get(fd: u32, out: *mut Prestat) -> u16;
        pub fn fd_prestat_dir_name(fd: u32, path: *mut u8, len: usize) -> u16;
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
        ) -> u16;
        pub fn fd_seek(fd: u32, offset: i64, whence: u8, new_offset: *mut u64) -> u16;
        pub fn fd_filestat_get(fd: u32, out: *mut Filestat) -> u16;
        pub fn fd_readdir(fd: u32, buf: *mut u8, len: usize, cookie: u64, used: *mut usize) -> u16;
        pub fn fd_close(fd: u32) -> u16;
        pub fn path_create_directory(fd: u32, path: *const u8, len: usize) -> u16;
        pub fn path_remove_directory(fd: u32, path: *const u8, len: usize) -> u16;
        pub fn path_unlink_file(fd: u32, path: *const u8, len: usize) -> u16;
        pub fn path_filestat_get(
            fd: u32,
            flags: u32,
            path: *const u8,
            len: usize,
            out: *mut Filestat,
        ) -> u16;
        pub fn clock_time_get(id: u32, precision: u64, out: *mut u64) -> u16;
        pub fn random_get(buf: *mut u8, len: usize) -> u16;
        pub fn proc_exit(code: u32) -> !;
    }
}

/// Console output straight to fd 1.
struct Stdout;

impl Write for Stdout {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s.as_bytes();
        while !rest.is_empty() {
            let iov = wasi::Ciovec {
                buf: rest.as_ptr(),
                len: rest.len(),
            };
            let mut n = 0;
            // SAFETY: the iovec describes live bytes; `n` is a live usize.
            if unsafe { wasi::fd_write(1, &iov, 1, &mut n) } != 0 || n == 0 {
                return Err(fmt::Error);
            }
            rest = &rest[n..];
        }
        Ok(())
    }
}

macro_rules! say {
    ($($t:tt)*) => { let _ = writeln!(Stdout, $($t)*); };
}

fn fail(what: &str, errno: u16) -> ! {
    say!("FAILED {what}: errno {errno}");
    // SAFETY: ends the program.
    unsafe { wasi::proc_exit(1) }
}

fn check(what: &str, errno: u16) {
    if errno != 0 {
        fail(what, errno);
    }
}

/// The NUL-terminated string at `p`.
fn c_str(p: *const u8) -> &'static str {
    let mut len = 0;
    // SAFETY: the host wrote NUL-terminated strings into our static buffer.
    unsafe {
        while *p.add(len) != 0 {
            len += 1;
        }
        core::str::from_utf8(core::slice::from_raw_parts(p, len)).unwrap_or("<not utf-8>")
    }
}

static mut STRINGS: [u8; 4096] = [0; 4096];
static mut POINTERS: [*mut u8; 64] = [core::ptr::null_mut(); 64];

/// Prints the strings `sizes` and `get` return (arguments or environment).
fn print_strings(
    label: &str,
    sizes: unsafe extern "C" fn(*mut usize, *mut usize) -> u16,
    get: unsafe extern "C" fn(*mut *mut u8, *mut u8) -> u16,
) {
    let (mut count, mut bytes) = (0usize, 0usize);
    // SAFETY: out-pointers to locals; the buffers are large enough (checked).
    unsafe {
        check(label, sizes(&mut count, &mut bytes));
        if count > 64 || bytes > 4096 {
            fail("too many strings", 0);
        }
        let pointers = &raw mut POINTERS;
        let strings = &raw mut STRINGS;
        check(label, get(pointers.cast(), strings.cast()));
        say!("{label}: {count} strings, {bytes} bytes");
        for i in 0..count {
            say!("{label}[{i}] = {:?}", c_str((*pointers)[i]));
        }
    }
}

fn open(dir: u32, path: &str, oflags: u16, rights: u64) -> u32 {
    let mut fd = 0;
    // SAFETY: `path` is live; `fd` is a live u32.
    let e = unsafe {
        wasi::path_open(
            dir,
            0,
            path.as_ptr(),
            path.len(),
            oflags,
            rights,
            rights,
            0,
            &mut fd,
        )
    };
    check(path, e);
    fd
}

fn files(dir: u32) {
    let fd = open(dir, "w64.txt", wasi::OFLAGS_CREAT_TRUNC, wasi::RIGHTS_RW);
    let parts = [b"sixty-four ".as_slice(), b"bit pointers\n".as_slice()];
    let iovs = parts.map(|p| wasi::Ciovec {
        buf: p.as_ptr(),
        len: p.len(),
    });
    let mut n = 0;
    // SAFETY: the iovecs describe live bytes.
    check("fd_write", unsafe {
        wasi::fd_write(fd, iovs.as_ptr(), 2, &mut n)
    });
    say!("wrote {n} bytes through two 16-byte iovecs");
    let mut at = 99;
    // SAFETY: `at` is a live u64.
    check("fd_seek", unsafe { wasi::fd_seek(fd, -13, 1, &mut at) });
    say!("seek back 13: offset {at}");
    let mut a = [0u8; 4];
    let mut b = [0u8; 32];
    let iovs = [
        wasi::Iovec {
            buf: a.as_mut_ptr(),
            len: a.len(),
        },
        wasi::Iovec {
            buf: b.as_mut_ptr(),
            len: b.len(),
        },
    ];
    // SAFETY: the iovecs describe live buffers.
    check("fd_read", unsafe {
        wasi::fd_read(fd, iovs.as_ptr(), 2, &mut n)
    });
    let tail = core::str::from_utf8(&b[..n - 4]).unwrap_or("?");
    say!(
        "read {n} bytes: {:?} + {:?}",
        core::str::from_utf8(&a).unwrap_or("?"),
        tail
    );
    // SAFETY: as above.
    check("fd_pread", unsafe {
        wasi::fd_pread(fd, iovs.as_ptr(), 1, 6, &mut n)
    });
    say!(
        "pread at 6: {:?}",
        core::str::from_utf8(&a[..n]).unwrap_or("?")
    );
    let mut st = wasi::Filestat::default();
    // SAFETY: `st` is a live filestat.
    check("fd_filestat_get", unsafe {
        wasi::fd_filestat_get(fd, &mut st)
    });
    say!(
        "size {} regular file {}",
        st.size,
        st.filetype == wasi::FILETYPE_REGULAR_FILE
    );
    // SAFETY: plain call.
    check("fd_close", unsafe { wasi::fd_close(fd) });
}

fn directories(dir: u32) {
    let name = "d64";
    // SAFETY: `name` is live.
    check("mkdir", unsafe {
        wasi::path_create_directory(dir, name.as_ptr(), name.len())
    });
    let mut st = wasi::Filestat::default();
    // SAFETY: `name` and `st` are live.
    check("stat", unsafe {
        wasi::path_filestat_get(dir, 0, name.as_ptr(), name.len(), &mut st)
    });
    say!(
        "d64 is a directory: {}",
        st.filetype == wasi::FILETYPE_DIRECTORY
    );
    let dfd = open(dir, ".", wasi::OFLAGS_DIRECTORY, wasi::RIGHTS_DIR);
    let mut buf = [0u8; 1024];
    let mut used = 0;
    // SAFETY: `buf` and `used` are live.
    check("fd_readdir", unsafe {
        wasi::fd_readdir(dfd, buf.as_mut_ptr(), buf.len(), 0, &mut used)
    });
    let (mut entries, mut saw_file, mut saw_dir) = (0, false, false);
    let mut at = 0;
    while at + 24 <= used {
        let namlen =
            u32::from_le_bytes([buf[at + 16], buf[at + 17], buf[at + 18], buf[at + 19]]) as usize;
        let entry = &buf[at + 24..(at + 24 + namlen).min(used)];
        saw_file |= entry == b"w64.txt";
        saw_dir |= entry == b"d64" && buf[at + 20] == wasi::FILETYPE_DIRECTORY;
        entries += 1;
        at += 24 + namlen;
    }
    say!("readdir: {entries} entries, w64.txt {saw_file}, d64/ {saw_dir}");
    // SAFETY: plain calls with live names.
    unsafe {
        check("fd_close", wasi::fd_close(dfd));
        check(
            "rmdir",
            wasi::path_remove_directory(dir, name.as_ptr(), name.len()),
        );
        check("unlink", wasi::path_unlink_file(dir, "w64.txt".as_ptr(), 7));
    }
}

#[unsafe(no_mangle)]
pub extern "C" fn _start() {
    say!(
        "hello from wasm64 ({}-byte pointers)",
        core::mem::size_of::<usize>()
    );
    print_strings("arg", wasi::args_sizes_get, wasi::args_get);
    print_strings("env", wasi::environ_sizes_get, wasi::environ_get);

    let mut pre = wasi::Prestat {
        tag: 9,
        name_len: 0,
    };
    let mut name = [0u8; 16];
    // SAFETY: `pre` and `name` are live and large enough (checked).
    unsafe {
        check("fd_prestat_get", wasi::fd_prestat_get(3, &mut pre));
        if pre.name_len > name.len() {
            fail("preopen name too long", 0);
        }
        check(
            "fd_prestat_dir_name",
            wasi::fd_prestat_dir_name(3, name.as_mut_ptr(), pre.name_len),
        );
    }
    say!(
        "fd 3: tag {} name {:?}",
        pre.tag,
        core::str::from_utf8(&name[..pre.name_len]).unwrap_or("?")
    );
    files(3);
    directories(3);

    let (mut t1, mut t2, mut wall) = (0u64, 0u64, 0u64);
    // SAFETY: out-pointers to locals.
    unsafe {
        check("clock", wasi::clock_time_get(1, 1, &mut t1));
        check("clock", wasi::clock_time_get(1, 1, &mut t2));
        check("clock", wasi::clock_time_get(0, 1, &mut wall));
    }
    say!("monotonic never goes back: {}", t2 >= t1);
    say!(
        "wall clock after 2020: {}",
        wall > 1_577_836_800_000_000_000
    );

    let mut random = [0u8; 32];
    // SAFETY: `random` is live.
    check("random_get", unsafe {
        wasi::random_get(random.as_mut_ptr(), random.len())
    });
    say!(
        "random bytes not all zero: {}",
        random.iter().any(|&b| b != 0)
    );

    let mut input = [0u8; 64];
    let iov = wasi::Iovec {
        buf: input.as_mut_ptr(),
        len: input.len(),
    };
    let mut n = 0;
    // SAFETY: the iovec describes a live buffer.
    check("stdin", unsafe { wasi::fd_read(0, &iov, 1, &mut n) });
    input[..n].make_ascii_uppercase();
    say!(
        "stdin: {:?}",
        core::str::from_utf8(&input[..n]).unwrap_or("?")
    );

    // A pointer past 4 GiB must fault, not wrap to a low address.
    let far = 0x1_0000_0010usize as *const wasi::Ciovec;
    // SAFETY: the host checks the pointer; nothing is dereferenced here.
    let e = unsafe { wasi::fd_write(1, far, 1, &mut n) };
    say!("fd_write with iovs at 4 GiB + 16: errno {e}");

    // SAFETY: ends the program.
    unsafe { wasi::proc_exit(5) }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    say!("panicked");
    // SAFETY: ends the program.
    unsafe { wasi::proc_exit(101) }
}
