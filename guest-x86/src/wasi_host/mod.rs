//! The emulator's host under WASI: a `HostOs` over WASI preview 1 with
//! 64-bit pointers (the wasm64 build, `emu.wasm`), a `PcHost` for the PC
//! (`pc`), and the entry point that takes the native `x86emu`'s command
//! line (`--user PROG [ARGS..]`, the PC forms) and, given none, runs the
//! built-in self-test guest.
//!
//! Files are reached through the preopened directories (see `paths`); the
//! guest's descriptors 0–2 are WASI's 0–2; the exit status goes out through
//! `proc_exit`. WASI has no permission bits, owners or chmod: `stat` reports
//! 0644 for files and 0755 for directories, owner 0, and `chmod` succeeds
//! without effect once the path is known to exist.

#[cfg(target_arch = "wasm64")]
mod entry;
#[cfg(target_arch = "wasm64")]
mod host;
pub mod paths;
#[cfg(target_arch = "wasm64")]
mod pc;
#[cfg(target_arch = "wasm64")]
pub mod sys;

#[cfg(target_arch = "wasm64")]
pub use entry::{eprint, run};
#[cfg(target_arch = "wasm64")]
pub use host::WasiHost;
#[cfg(target_arch = "wasm64")]
pub use pc::WasiPcHost;

/// Linux errno for a WASI errno (witx `errno` order vs asm-generic/errno.h).
/// A missing capability reads as "permission denied".
pub fn linux_errno(wasi: u16) -> i64 {
    const TABLE: &[(u16, i64)] = &[
        (1, 7),    // 2big → E2BIG
        (2, 13),   // acces → EACCES
        (6, 11),   // again → EAGAIN
        (8, 9),    // badf → EBADF
        (10, 16),  // busy → EBUSY
        (12, 10),  // child → ECHILD
        (16, 35),  // deadlk → EDEADLK
        (18, 33),  // dom → EDOM
        (19, 122), // dquot → EDQUOT
        (20, 17),  // exist → EEXIST
        (21, 14),  // fault → EFAULT
        (22, 27),  // fbig → EFBIG
        (25, 84),  // ilseq → EILSEQ
        (27, 4),   // intr → EINTR
        (28, 22),  // inval → EINVAL
        (29, 5),   // io → EIO
        (31, 21),  // isdir → EISDIR
        (32, 40),  // loop → ELOOP
        (33, 24),  // mfile → EMFILE
        (34, 31),  // mlink → EMLINK
        (37, 36),  // nametoolong → ENAMETOOLONG
        (41, 23),  // nfile → ENFILE
        (43, 19),  // nodev → ENODEV
        (44, 2),   // noent → ENOENT
        (45, 8),   // noexec → ENOEXEC
        (48, 12),  // nomem → ENOMEM
        (51, 28),  // nospc → ENOSPC
        (52, 38),  // nosys → ENOSYS
        (54, 20),  // notdir → ENOTDIR
        (55, 39),  // notempty → ENOTEMPTY
        (57, 88),  // notsock → ENOTSOCK
        (58, 95),  // notsup → ENOTSUP
        (59, 25),  // notty → ENOTTY
        (60, 6),   // nxio → ENXIO
        (61, 75),  // overflow → EOVERFLOW
        (63, 1),   // perm → EPERM
        (64, 32),  // pipe → EPIPE
        (68, 34),  // range → ERANGE
        (69, 30),  // rofs → EROFS
        (70, 29),  // spipe → ESPIPE
        (71, 3),   // srch → ESRCH
        (73, 110), // timedout → ETIMEDOUT
        (74, 26),  // txtbsy → ETXTBSY
        (75, 18),  // xdev → EXDEV
        (76, 13),  // notcapable → EACCES
    ];
    TABLE
        .iter()
        .find(|(w, _)| *w == wasi)
        .map(|(_, l)| *l)
        .unwrap_or(5) // anything else → EIO
}

/// The C library's message for a Linux errno, for the entry's own errors.
pub fn strerror(errno: i64) -> &'static str {
    match errno {
        1 => "Operation not permitted",
        2 => "No such file or directory",
        5 => "Input/output error",
        9 => "Bad file descriptor",
        12 => "Cannot allocate memory",
        13 => "Permission denied",
        20 => "Not a directory",
        21 => "Is a directory",
        22 => "Invalid argument",
        27 => "File too large",
        36 => "File name too long",
        40 => "Too many levels of symbolic links",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_mapping() {
        assert_eq!(linux_errno(44), 2);
        assert_eq!(linux_errno(76), 13);
        assert_eq!(linux_errno(2), 13);
        assert_eq!(linux_errno(54), 20);
        assert_eq!(linux_errno(999), 5);
        assert_eq!(strerror(linux_errno(44)), "No such file or directory");
    }
}
