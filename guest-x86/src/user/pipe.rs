//! Pipes (pipe(7)): a bounded buffer between processes. A read of an empty
//! pipe blocks while a writer exists; a write blocks while the pipe is
//! full, and writes of at most PIPE_BUF bytes are atomic; writing with no
//! reader left raises SIGPIPE and fails with EPIPE.

use alloc::collections::VecDeque;

use super::Process;
use super::host::errno::*;
use super::host::{Errno, HostOs};
use super::sigframe::SigInfo;
use super::task::{Backing, Outcome, Task, WaitOn};

/// Capacity of a pipe (Linux's default, 16 pages).
pub const PIPE_CAPACITY: usize = 64 << 10;
/// Writes up to this size are not interleaved with other writers' (pipe(7)).
pub const PIPE_BUF: usize = 4096;
/// Device number reported for pipes (Linux's pipefs is an anonymous
/// superblock, major 0).
pub const PIPEFS_DEV: u64 = 0xc;
/// SIGPIPE.
const SIGPIPE: u64 = 13;

/// One end of a pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipeEnd {
    /// Index in the pipe table.
    pub id: usize,
    /// The write end.
    pub write: bool,
}

/// A pipe's buffer and how many descriptors hold each end.
#[derive(Default)]
pub struct Pipe {
    data: VecDeque<u8>,
    /// Open read ends.
    pub readers: usize,
    /// Open write ends.
    pub writers: usize,
    /// Inode number in the (emulated) pipe file system, unique per pipe.
    pub ino: u64,
}

impl Pipe {
    /// Bytes are waiting to be read.
    pub fn has_data(&self) -> bool {
        !self.data.is_empty()
    }

    /// A read would not block: data or end-of-file.
    pub fn readable(&self) -> bool {
        !self.data.is_empty() || self.writers == 0
    }

    /// A write would not block: room, or no reader (EPIPE).
    pub fn writable(&self) -> bool {
        self.data.len() < PIPE_CAPACITY || self.readers == 0
    }
}

impl<H: HostOs> Process<H> {
    pub(super) fn pipe(&mut self, id: usize) -> Result<&mut Pipe, Errno> {
        self.pipes.get_mut(id).and_then(|p| p.as_mut()).ok_or(EBADF)
    }

    /// Counts a new descriptor for a pipe end.
    pub(super) fn pipe_retain(&mut self, end: PipeEnd) {
        if let Ok(p) = self.pipe(end.id) {
            if end.write {
                p.writers += 1;
            } else {
                p.readers += 1;
            }
        }
    }

    /// Drops a descriptor of a pipe end; the pipe goes with its last one.
    pub(super) fn pipe_release(&mut self, end: PipeEnd) {
        if let Some(slot) = self.pipes.get_mut(end.id)
            && let Some(p) = slot
        {
            if end.write {
                p.writers = p.writers.saturating_sub(1);
            } else {
                p.readers = p.readers.saturating_sub(1);
            }
            if p.readers == 0 && p.writers == 0 {
                *slot = None;
            }
        }
    }

    /// Reads up to `max` bytes; blocks on an empty pipe that still has a
    /// writer unless `nonblock`.
    pub(super) fn pipe_read(
        &mut self,
        t: &mut Task,
        end: PipeEnd,
        max: usize,
        nonblock: bool,
    ) -> Result<alloc::vec::Vec<u8>, Errno> {
        let p = self.pipe(end.id)?;
        if end.write {
            return Err(EBADF);
        }
        if p.data.is_empty() {
            if p.writers == 0 || max == 0 {
                return Ok(alloc::vec::Vec::new());
            }
            if nonblock {
                return Err(EAGAIN);
            }
            return self.block(t, WaitOn::PipeRead(end.id), None);
        }
        let n = max.min(p.data.len());
        Ok(p.data.drain(..n).collect())
    }

    /// Writes `data` (all of it, blocking while the pipe is full, unless
    /// `nonblock`). A restarted write carries on after the bytes it had
    /// already written.
    pub(super) fn pipe_write(
        &mut self,
        t: &mut Task,
        end: PipeEnd,
        data: &[u8],
        nonblock: bool,
    ) -> Result<u64, Errno> {
        let done = match t.restart.take() {
            Some(r) if r.outcome == Outcome::Ready => match r.on {
                WaitOn::PipeWrite { done, .. } => done,
                _ => 0,
            },
            _ => 0,
        };
        if !end.write {
            return Err(EBADF);
        }
        let tid = t.tid;
        let p = self.pipe(end.id)?;
        if p.readers == 0 {
            // pipe(7): SIGPIPE, and EPIPE unless some bytes already went in.
            let info = SigInfo::user(tid, 0);
            self.send_to_thread(t, SIGPIPE, info);
            return if done > 0 { Ok(done) } else { Err(EPIPE) };
        }
        let rest = data.get(done as usize..).unwrap_or_default();
        let room = PIPE_CAPACITY - p.data.len();
        let n = if data.len() <= PIPE_BUF {
            // Atomic: all or nothing.
            if room >= rest.len() { rest.len() } else { 0 }
        } else {
            room.min(rest.len())
        };
        p.data.extend(rest[..n].iter().copied());
        let done = done + n as u64;
        if n == rest.len() {
            return Ok(done);
        }
        if nonblock {
            return if done > 0 { Ok(done) } else { Err(EAGAIN) };
        }
        self.block(t, WaitOn::PipeWrite { pipe: end.id, done }, None)
    }

    pub(super) fn sys_pipe2(
        &mut self,
        t: &mut Task,
        fds_addr: u64,
        flags: u64,
    ) -> Result<u64, Errno> {
        const O_NONBLOCK: u64 = 0x800;
        const O_CLOEXEC: u64 = 0x80000;
        if flags & !(O_NONBLOCK | O_CLOEXEC) != 0 {
            return Err(EINVAL);
        }
        let id = match self.pipes.iter().position(|p| p.is_none()) {
            Some(i) => i,
            None => {
                self.pipes.push(None);
                self.pipes.len() - 1
            }
        };
        self.pipe_serial += 1;
        self.pipes[id] = Some(Pipe {
            ino: self.pipe_serial,
            ..Pipe::default()
        });
        let end = |write: bool| super::GuestFile {
            backing: Backing::Pipe(PipeEnd { id, write }),
            path: alloc::vec::Vec::new(),
            status_flags: write as u32 | (flags & O_NONBLOCK) as u32,
            close_on_exec: flags & O_CLOEXEC != 0,
            listing: None,
        };
        let r = self.install(t, end(false), 0)?;
        let w = match self.install(t, end(true), 0) {
            Ok(w) => w,
            Err(e) => {
                let _ = self.close_fd(t, r);
                return Err(e);
            }
        };
        let mut out = [0u8; 8];
        out[..4].copy_from_slice(&(r as u32).to_le_bytes());
        out[4..].copy_from_slice(&(w as u32).to_le_bytes());
        if t.write_mem(fds_addr, &out).is_err() {
            // Undo: the descriptors were never handed out.
            let _ = (self.close_fd(t, r), self.close_fd(t, w));
            return Err(EFAULT);
        }
        Ok(0)
    }
}
