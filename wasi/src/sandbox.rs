//! Path resolution that never leaves a directory. Every guest path is
//! resolved by the kernel relative to a directory fd with `openat2` and
//! `RESOLVE_BENEATH`: absolute paths, `..` above the directory and symbolic
//! links (absolute, or relative ones that climb out) all fail, atomically,
//! with no window for a rename race. Operations on a last component
//! (`mkdirat`, `unlinkat`, `renameat`, …) run on the parent directory opened
//! this way and a single name, so they cannot reach outside either.

use std::ffi::OsStr;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{Mode, OFlags, ResolveFlags};

use crate::types::Errno;

/// A guest path as the host sees it (bytes, no UTF-8 requirement).
pub fn host_path(path: &[u8]) -> &OsStr {
    OsStr::from_bytes(path)
}

/// Opens `path` beneath `dir`. `follow` says whether a symbolic link in the
/// last component is followed (links earlier in the path always are, as long
/// as they stay beneath `dir`).
pub fn open_beneath(
    dir: BorrowedFd<'_>,
    path: &[u8],
    mut flags: OFlags,
    mut mode: Mode,
    follow: bool,
) -> Result<OwnedFd, Errno> {
    // openat2 refuses a mode when nothing is created.
    if !flags.contains(OFlags::CREATE) {
        mode = Mode::empty();
    }
    if path.is_empty() {
        return Err(Errno::NOENT);
    }
    if path.starts_with(b"/") {
        return Err(Errno::PERM);
    }
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    flags |= OFlags::CLOEXEC;
    // openat2 refuses O_PATH with any flag it ignores, O_NOCTTY included.
    if !flags.contains(OFlags::PATH) {
        flags |= OFlags::NOCTTY;
    }
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    // The kernel answers EAGAIN when a concurrent rename made the walk
    // ambiguous; it asks the caller to retry.
    let mut attempts = 0;
    loop {
        match rustix::fs::openat2(dir, host_path(path), flags, mode, resolve) {
            Ok(fd) => return Ok(fd),
            Err(rustix::io::Errno::AGAIN) if attempts < 16 => attempts += 1,
            // EXDEV is how RESOLVE_BENEATH reports an escape.
            Err(rustix::io::Errno::XDEV) => return Err(Errno::PERM),
            Err(e) => return Err(Errno::from_host(e)),
        }
    }
}

/// A path split into its parent directory, opened beneath the starting
/// directory, and its last component.
pub struct Split {
    /// The parent directory (an `O_PATH` fd).
    pub parent: OwnedFd,
    /// The last component, with any trailing slashes kept (so that the host
    /// call insists on a directory, as POSIX says).
    pub name: Vec<u8>,
}

/// Splits `path` for an operation on its last component. A last component
/// of `.` or `..` names a directory that is not an entry one can create or
/// remove: after checking that the path stays beneath `dir`, the operation
/// fails with `dot_errno` (what Linux answers for it).
pub fn split(dir: BorrowedFd<'_>, path: &[u8], dot_errno: Errno) -> Result<Split, Errno> {
    if path.is_empty() {
        return Err(Errno::NOENT);
    }
    if path.starts_with(b"/") {
        return Err(Errno::PERM);
    }
    let trimmed_len = path.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
    let trimmed = &path[..trimmed_len];
    let start = trimmed
        .iter()
        .rposition(|&b| b == b'/')
        .map_or(0, |i| i + 1);
    let last = &trimmed[start..];
    if last == b"." || last == b".." {
        open_beneath(
            dir,
            path,
            OFlags::PATH | OFlags::DIRECTORY,
            Mode::empty(),
            true,
        )?;
        return Err(dot_errno);
    }
    let parent_path: &[u8] = if start == 0 { b"." } else { &path[..start] };
    let parent = open_beneath(
        dir,
        parent_path,
        OFlags::PATH | OFlags::DIRECTORY,
        Mode::empty(),
        true,
    )?;
    Ok(Split {
        parent,
        name: path[start..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    fn tempdir(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("wrun-wasi-sandbox-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("inside/sub")).unwrap();
        std::fs::write(dir.join("secret"), b"secret").unwrap();
        std::fs::write(dir.join("inside/file"), b"ok").unwrap();
        std::os::unix::fs::symlink("../secret", dir.join("inside/out")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("inside/abs")).unwrap();
        std::os::unix::fs::symlink("file", dir.join("inside/sub/../in")).unwrap();
        dir
    }

    #[test]
    fn escapes_are_not_permitted() {
        let dir = tempdir("escape");
        let root = rustix::fs::open(
            dir.join("inside"),
            OFlags::RDONLY | OFlags::DIRECTORY,
            Mode::empty(),
        )
        .unwrap();
        let open =
            |p: &[u8]| open_beneath(root.as_fd(), p, OFlags::RDONLY, Mode::empty(), true).map(drop);
        assert_eq!(open(b"file"), Ok(()));
        assert_eq!(open(b"sub/../file"), Ok(()));
        assert_eq!(open(b"in"), Ok(()));
        assert_eq!(open(b"../secret"), Err(Errno::PERM));
        assert_eq!(open(b"sub/../../secret"), Err(Errno::PERM));
        assert_eq!(open(b"/etc/passwd"), Err(Errno::PERM));
        assert_eq!(open(b"out"), Err(Errno::PERM));
        assert_eq!(open(b"abs"), Err(Errno::PERM));
        assert_eq!(open(b""), Err(Errno::NOENT));
        assert_eq!(
            split(root.as_fd(), b"..", Errno::INVAL).err(),
            Some(Errno::PERM)
        );
        assert_eq!(
            split(root.as_fd(), b"sub/..", Errno::INVAL).err(),
            Some(Errno::INVAL)
        );
        assert_eq!(
            split(root.as_fd(), b"../x", Errno::INVAL).err(),
            Some(Errno::PERM)
        );
        let s = split(root.as_fd(), b"sub//new/", Errno::INVAL).unwrap();
        assert_eq!(s.name, b"new/");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
