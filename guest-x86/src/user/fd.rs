//! Descriptor tables: installing, looking up and closing guest
//! descriptors, and counting how many descriptors (in every process) hold
//! each host handle and pipe end, so that the last close releases it.
//! Each descriptor carries its own status flags; dup'd descriptors do not
//! share them (nor a directory listing position) as Linux's shared open
//! file descriptions would.

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::host::errno::*;
use super::host::{Errno, HostFd, HostOs};
use super::task::{Backing, Files, Task};
use super::{GuestFile, Process};

/// Highest descriptor number + 1 (RLIMIT_NOFILE).
pub const MAX_FDS: usize = 1024;
/// `AT_FDCWD`: relative to the working directory.
pub const AT_FDCWD: i64 = -100;

/// What a descriptor refers to, copied out of the table.
#[derive(Clone, Copy, Debug)]
pub struct FileRef {
    /// Host handle or pipe end.
    pub backing: Backing,
    /// Linux `O_*` status flags.
    pub status_flags: u32,
    /// FD_CLOEXEC.
    pub close_on_exec: bool,
}

/// The guest descriptor that `/dev/fd/N`, `/proc/self/fd/N` or
/// `/dev/std{in,out,err}` names. These belong to the emulated kernel: the
/// host's show the emulator's own descriptors.
pub fn own_fd_path(path: &[u8]) -> Option<u64> {
    match path {
        b"/dev/stdin" => Some(0),
        b"/dev/stdout" => Some(1),
        b"/dev/stderr" => Some(2),
        _ => {
            let n = path
                .strip_prefix(b"/dev/fd/")
                .or_else(|| path.strip_prefix(b"/proc/self/fd/"))?;
            if n.is_empty() || n.len() > 9 || !n.iter().all(u8::is_ascii_digit) {
                return None;
            }
            Some(n.iter().fold(0, |v, d| v * 10 + (d - b'0') as u64))
        }
    }
}

/// `base/rel` (one slash also when `base` is the root).
pub fn join_path(mut base: Vec<u8>, rel: &[u8]) -> Vec<u8> {
    if base.last() != Some(&b'/') {
        base.push(b'/');
    }
    base.extend_from_slice(rel);
    base
}

impl<H: HostOs> Process<H> {
    /// Counts a new descriptor for a file's host handle or pipe end.
    pub(super) fn retain(&mut self, file: &GuestFile) {
        match file.backing {
            Backing::Pipe(end) => self.pipe_retain(end),
            Backing::Host(h) => *self.host_refs.entry(h).or_insert(0) += 1,
        }
    }

    /// Drops a descriptor; the last one closes the host handle or pipe end.
    pub(super) fn release(&mut self, file: &GuestFile) -> Result<(), Errno> {
        match file.backing {
            Backing::Pipe(end) => {
                self.pipe_release(end);
                Ok(())
            }
            Backing::Host(h) => {
                let refs = self.host_refs.entry(h).or_insert(1);
                *refs -= 1;
                if *refs == 0 {
                    self.host_refs.remove(&h);
                    self.host.close(h)?;
                }
                Ok(())
            }
        }
    }

    /// Drops a task's reference to a descriptor table, closing everything
    /// in it if it was the last.
    pub(super) fn release_files(&mut self, files: Rc<RefCell<Files>>) {
        if let Ok(table) = Rc::try_unwrap(files) {
            for file in table.into_inner().fds.into_iter().flatten() {
                let _ = self.release(&file);
            }
        }
    }

    /// Looks at the open file behind `fd` (a C int: only the low 32 bits count).
    pub(super) fn with_fd<R>(
        &self,
        t: &Task,
        fd: u64,
        f: impl FnOnce(&GuestFile) -> R,
    ) -> Result<R, Errno> {
        let files = t.files.borrow();
        let file = files
            .fds
            .get(fd as u32 as usize)
            .and_then(|f| f.as_ref())
            .ok_or(EBADF)?;
        Ok(f(file))
    }

    /// What `fd` refers to.
    pub(super) fn file(&self, t: &Task, fd: u64) -> Result<FileRef, Errno> {
        self.with_fd(t, fd, |f| FileRef {
            backing: f.backing,
            status_flags: f.status_flags,
            close_on_exec: f.close_on_exec,
        })
    }

    /// A copy of descriptor `fd` for dup (the listing position is not shared).
    pub(super) fn dup_file(&self, t: &Task, fd: u64) -> Result<GuestFile, Errno> {
        self.with_fd(t, fd, |f| GuestFile {
            listing: None,
            ..f.clone()
        })
    }

    /// The file creation mask of `t`'s process.
    pub(super) fn umask_of(&self, t: &Task) -> u32 {
        self.groups.get(&t.tgid).map_or(0o022, |g| g.umask)
    }

    /// The host handle behind `fd`; pipes have none (ESPIPE).
    pub(super) fn host_fd(&self, t: &Task, fd: u64) -> Result<HostFd, Errno> {
        match self.file(t, fd)?.backing {
            Backing::Host(h) => Ok(h),
            Backing::Pipe(_) => Err(ESPIPE),
        }
    }

    /// The path `fd` was opened with (absolute; empty for pipes).
    pub(super) fn file_path(&self, t: &Task, fd: u64) -> Result<Vec<u8>, Errno> {
        self.with_fd(t, fd, |f| f.path.clone())
    }

    /// Changes the descriptor-local state of `fd`.
    pub(super) fn update_file(
        &self,
        t: &Task,
        fd: u64,
        f: impl FnOnce(&mut GuestFile),
    ) -> Result<(), Errno> {
        let mut files = t.files.borrow_mut();
        let file = files
            .fds
            .get_mut(fd as u32 as usize)
            .and_then(|f| f.as_mut())
            .ok_or(EBADF)?;
        f(file);
        Ok(())
    }

    /// Puts `file` at the lowest free descriptor at or above `min`.
    pub(super) fn install(&mut self, t: &Task, file: GuestFile, min: usize) -> Result<u64, Errno> {
        let slot = {
            let files = t.files.borrow();
            (min..MAX_FDS)
                .find(|&i| files.fds.get(i).is_none_or(|f| f.is_none()))
                .ok_or(EMFILE)?
        };
        self.retain(&file);
        let mut files = t.files.borrow_mut();
        if slot >= files.fds.len() {
            files.fds.resize(slot + 1, None);
        }
        files.fds[slot] = Some(file);
        Ok(slot as u64)
    }

    pub(super) fn close_fd(&mut self, t: &Task, fd: u64) -> Result<(), Errno> {
        let file = t
            .files
            .borrow_mut()
            .fds
            .get_mut(fd as u32 as usize)
            .and_then(|f| f.take())
            .ok_or(EBADF)?;
        self.release(&file)
    }

    /// Resolves `path` relative to directory descriptor `dirfd`.
    pub(super) fn resolve_at(&self, t: &Task, dirfd: u64, path: Vec<u8>) -> Result<Vec<u8>, Errno> {
        if path.first() == Some(&b'/') || dirfd as i32 == AT_FDCWD as i32 {
            return Ok(path);
        }
        let dir = self.file_path(t, dirfd)?;
        if dir.is_empty() {
            return Err(ENOTDIR);
        }
        Ok(join_path(dir, &path))
    }

    /// A path argument relative to `dirfd` (empty paths are ENOENT).
    pub(super) fn path_at(&self, t: &Task, dirfd: u64, path_addr: u64) -> Result<Vec<u8>, Errno> {
        let path = t.read_cstr(path_addr)?;
        if path.is_empty() {
            return Err(ENOENT);
        }
        self.resolve_at(t, dirfd, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_naming_guest_descriptors() {
        assert_eq!(own_fd_path(b"/dev/fd/63"), Some(63));
        assert_eq!(own_fd_path(b"/proc/self/fd/0"), Some(0));
        assert_eq!(own_fd_path(b"/dev/stderr"), Some(2));
        assert_eq!(own_fd_path(b"/dev/fd/"), None);
        assert_eq!(own_fd_path(b"/dev/fd/1x"), None);
        assert_eq!(own_fd_path(b"/dev/fd/99999999999"), None);
        assert_eq!(own_fd_path(b"/dev/null"), None);
        assert_eq!(join_path(b"/a".to_vec(), b"b"), b"/a/b");
        assert_eq!(join_path(b"/".to_vec(), b"b"), b"/b");
    }
}
