//! Processes without a scheduler: `fork` runs the child to completion
//! before the parent resumes (the parent is suspended as a snapshot), which
//! is enough for shells: pipelines and command substitution write into
//! unbounded in-memory pipes that the next process reads. Also `execve`
//! (including `/proc/self/exe`, how busybox's standalone shell runs
//! applets), `wait4` on finished children, and pipes.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::rc::Rc;
use alloc::vec::Vec;

use super::host::errno::*;
use super::host::{Errno, HostOs};
use super::{DEFAULT_MEMORY_LIMIT, Exit, GuestFile, Process, loader};
use crate::cpu::{Cpu, DecodeCache};
use crate::mmu::Memory;
use crate::mmu::space::AddressSpace;

/// One end of a pipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipeEnd {
    id: usize,
    write: bool,
}

#[derive(Default)]
struct Pipe {
    data: VecDeque<u8>,
    readers: usize,
    writers: usize,
}

/// A process suspended while its forked child runs.
struct Suspended {
    cpu: Cpu,
    mem: AddressSpace,
    fds: Vec<Option<GuestFile>>,
    brk_start: u64,
    brk: u64,
    signal_actions: BTreeMap<u64, [u8; 32]>,
    signal_mask: u64,
    pid: u64,
    ppid: u64,
    exe: Rc<[u8]>,
}

/// Kernel-wide process state shared by every process of one run.
pub struct ProcessTable {
    /// Current process id.
    pub pid: u64,
    /// Its parent's id.
    pub ppid: u64,
    next_pid: u64,
    exe: Rc<[u8]>,
    suspended: Vec<Suspended>,
    /// Finished children: (pid, parent pid, wait status).
    zombies: Vec<(u64, u64, i32)>,
    pipes: Vec<Option<Pipe>>,
}

/// The first process's id.
const FIRST_PID: u64 = 1000;
/// CLONE_VM | CLONE_THREAD | CLONE_VFORK …: sharing memory needs threads.
const CLONE_VM: u64 = 0x100;
const CLONE_THREAD: u64 = 0x10000;
const SIGCHLD: u64 = 17;

impl ProcessTable {
    /// The table for a run starting with `image`.
    pub fn new(image: &[u8]) -> ProcessTable {
        ProcessTable {
            pid: FIRST_PID,
            ppid: FIRST_PID - 1,
            next_pid: FIRST_PID + 1,
            exe: Rc::from(image),
            suspended: Vec::new(),
            zombies: Vec::new(),
            pipes: Vec::new(),
        }
    }
}

/// Linux wait status of an exit (sys/wait.h).
fn wait_status(exit: &Exit) -> i32 {
    match exit {
        Exit::Code(c) => (c & 0xff) << 8,
        Exit::Signal(s, _) => (*s as i32) & 0x7f,
    }
}

impl<H: HostOs> Process<H> {
    /// Counts a new reference to a descriptor's backing object.
    pub(super) fn retain(&mut self, file: &GuestFile) {
        match file.pipe {
            Some(end) => {
                if let Some(Some(p)) = self.procs.pipes.get_mut(end.id) {
                    if end.write {
                        p.writers += 1;
                    } else {
                        p.readers += 1;
                    }
                }
            }
            None => *self.host_refs.entry(file.host).or_insert(0) += 1,
        }
    }

    /// Drops a reference; the last one closes the host handle or pipe end.
    pub(super) fn release(&mut self, file: &GuestFile) -> Result<(), Errno> {
        if let Some(end) = file.pipe {
            if let Some(slot) = self.procs.pipes.get_mut(end.id)
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
            return Ok(());
        }
        let refs = self.host_refs.entry(file.host).or_insert(1);
        *refs -= 1;
        if *refs == 0 {
            self.host_refs.remove(&file.host);
            self.host.close(file.host)?;
        }
        Ok(())
    }

    /// Reads from a pipe. With no data, a pipe whose writers are gone is at
    /// EOF; one whose writers are suspended could only deadlock, so it reads
    /// as EOF too (nothing else can run to fill it).
    pub(super) fn pipe_read(&mut self, end: PipeEnd, max: usize) -> Result<Vec<u8>, Errno> {
        let Some(Some(p)) = self.procs.pipes.get_mut(end.id) else {
            return Err(EBADF);
        };
        if end.write {
            return Err(EBADF);
        }
        let n = max.min(p.data.len());
        Ok(p.data.drain(..n).collect())
    }

    /// Writes to a pipe; without readers the writer gets SIGPIPE (or EPIPE
    /// when it ignores the signal).
    pub(super) fn pipe_write(&mut self, end: PipeEnd, data: &[u8]) -> Result<u64, Errno> {
        let Some(Some(p)) = self.procs.pipes.get_mut(end.id) else {
            return Err(EBADF);
        };
        if !end.write {
            return Err(EBADF);
        }
        if p.readers == 0 {
            const SIGPIPE: u64 = 13;
            let info = super::sigframe::SigInfo {
                code: 0,
                value: self.procs.pid,
                trapno: 0,
            };
            self.raise(SIGPIPE, info);
            return Err(EPIPE);
        }
        p.data.extend(data.iter().copied());
        Ok(data.len() as u64)
    }

    pub(super) fn sys_pipe2(&mut self, fds_addr: u64, flags: u64) -> Result<u64, Errno> {
        const O_CLOEXEC: u64 = 0x80000;
        let id = match self.procs.pipes.iter().position(|p| p.is_none()) {
            Some(i) => i,
            None => {
                self.procs.pipes.push(None);
                self.procs.pipes.len() - 1
            }
        };
        self.procs.pipes[id] = Some(Pipe::default());
        let end = |write| GuestFile {
            host: u64::MAX,
            path: Vec::new(),
            status_flags: if write { 1 } else { 0 },
            close_on_exec: flags & O_CLOEXEC != 0,
            listing: None,
            pipe: Some(PipeEnd { id, write }),
        };
        let r = self.install(end(false), 0)?;
        let w = match self.install(end(true), 0) {
            Ok(w) => w,
            Err(e) => {
                let _ = self.sys_close(r);
                return Err(e);
            }
        };
        let mut out = [0u8; 8];
        out[..4].copy_from_slice(&(r as u32).to_le_bytes());
        out[4..].copy_from_slice(&(w as u32).to_le_bytes());
        if self.mem.write(fds_addr, &out).is_err() {
            // Undo: the descriptors were never handed out.
            let _ = (self.sys_close(r), self.sys_close(w));
            return Err(EFAULT);
        }
        Ok(0)
    }

    /// clone(2) for process creation only (no shared memory or threads).
    pub(super) fn sys_clone(&mut self, flags: u64) -> Result<u64, Errno> {
        if flags & (CLONE_VM | CLONE_THREAD) != 0 || flags & 0xff != SIGCHLD {
            return Err(ENOSYS);
        }
        self.sys_fork()
    }

    /// fork/vfork: suspend the parent (returning the child's pid to it
    /// later) and continue as the child, which sees 0.
    pub(super) fn sys_fork(&mut self) -> Result<u64, Errno> {
        if self.procs.suspended.len() >= 64 {
            return Err(EAGAIN);
        }
        let child = self.procs.next_pid;
        self.procs.next_pid += 1;
        let fds = self.fds.clone();
        for file in fds.iter().flatten() {
            self.retain(file);
        }
        let mut parent_cpu = self.cpu.clone();
        parent_cpu.gpr[0] = child;
        self.procs.suspended.push(Suspended {
            cpu: parent_cpu,
            mem: self.mem.clone(),
            fds,
            brk_start: self.brk_start,
            brk: self.brk,
            signal_actions: self.signal_actions.clone(),
            signal_mask: self.signal_mask,
            pid: self.procs.pid,
            ppid: self.procs.ppid,
            exe: self.procs.exe.clone(),
        });
        self.procs.ppid = self.procs.pid;
        self.procs.pid = child;
        Ok(0)
    }

    /// Handles the end of the current process: the first process's exit
    /// ends the run; a child's exit wakes its suspended parent.
    pub(super) fn finish(&mut self, exit: Exit) -> Option<Exit> {
        let Some(parent) = self.procs.suspended.pop() else {
            return Some(exit);
        };
        for fd in 0..self.fds.len() {
            let _ = self.close_fd(fd as u64);
        }
        self.procs
            .zombies
            .push((self.procs.pid, self.procs.ppid, wait_status(&exit)));
        self.cpu = parent.cpu;
        self.mem = parent.mem;
        self.fds = parent.fds;
        self.brk_start = parent.brk_start;
        self.brk = parent.brk;
        self.signal_actions = parent.signal_actions;
        self.signal_mask = parent.signal_mask;
        self.procs.pid = parent.pid;
        self.procs.ppid = parent.ppid;
        self.procs.exe = parent.exe;
        self.decode_cache = DecodeCache::default();
        None
    }

    pub(super) fn sys_wait4(
        &mut self,
        pid: u64,
        status_addr: u64,
        rusage: u64,
    ) -> Result<u64, Errno> {
        let me = self.procs.pid;
        // pid_t is a C int: the upper half of the register is not part of it.
        let wanted = pid as i32 as i64;
        let found = self.procs.zombies.iter().position(|&(z, parent, _)| {
            parent == me && (wanted == -1 || wanted == 0 || wanted < -1 || wanted as u64 == z)
        });
        // Children always finish before the parent runs again, so with no
        // zombie left there is nothing to wait for, WNOHANG or not.
        let Some(index) = found else {
            return Err(ECHILD);
        };
        let (zpid, _, status) = self.procs.zombies.remove(index);
        if status_addr != 0 {
            self.mem
                .write(status_addr, &status.to_le_bytes())
                .map_err(|_| EFAULT)?;
        }
        if rusage != 0 {
            self.mem.write(rusage, &[0u8; 144]).map_err(|_| EFAULT)?;
        }
        Ok(zpid)
    }

    /// Reads a NULL-terminated array of string pointers (argv, envp).
    fn read_string_array(&mut self, mut addr: u64) -> Result<Vec<Vec<u8>>, Errno> {
        let mut out = Vec::new();
        if addr == 0 {
            return Ok(out);
        }
        loop {
            let mut p = [0u8; 8];
            self.mem.read(addr, &mut p).map_err(|_| EFAULT)?;
            let ptr = u64::from_le_bytes(p);
            if ptr == 0 {
                return Ok(out);
            }
            out.push(self.read_cstr(ptr)?);
            if out.len() > 4096 {
                return Err(E2BIG);
            }
            addr += 8;
        }
    }

    /// execve: replaces the image; descriptors stay except close-on-exec
    /// ones, caught signals return to their default action.
    pub(super) fn sys_execve(&mut self, path: u64, argv: u64, envp: u64) -> Result<u64, Errno> {
        let path = self.read_cstr(path)?;
        let argv = self.read_string_array(argv)?;
        let envp = self.read_string_array(envp)?;
        let image: Rc<[u8]> = if path == b"/proc/self/exe" {
            self.procs.exe.clone()
        } else {
            Rc::from(loader::read_host_file(&mut self.host, &path)?)
        };
        let mut mem = AddressSpace::new(DEFAULT_MEMORY_LIMIT);
        let start =
            loader::load_program(&mut self.host, &mut mem, &image, &argv, &envp).map_err(|e| {
                match e {
                    loader::LoadError::OutOfMemory => ENOMEM,
                    // Linux reports a missing interpreter as ENOENT.
                    loader::LoadError::Interpreter(_) => ENOENT,
                    _ => ENOEXEC,
                }
            })?;
        let mut cpu = Cpu::new_long_mode_user();
        cpu.rip = start.rip;
        cpu.gpr[4] = start.rsp;
        self.cpu = cpu;
        self.mem = mem;
        self.brk_start = start.brk;
        self.brk = start.brk;
        self.procs.exe = image;
        self.decode_cache = DecodeCache::default();
        for fd in 0..self.fds.len() {
            if self.fds[fd].as_ref().is_some_and(|f| f.close_on_exec) {
                let _ = self.close_fd(fd as u64);
            }
        }
        // Handlers do not survive exec; ignored signals stay ignored.
        self.signal_actions
            .retain(|_, a| a[0] == 1 && a[1..8] == [0; 7]);
        Ok(0)
    }
}
