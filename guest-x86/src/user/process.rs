//! Processes and threads: clone/clone3/fork/vfork (threads share the
//! address space, descriptors and signal dispositions; a fork copies
//! them), execve (including `#!` scripts and `/proc/self/exe`, how
//! busybox's standalone shell runs applets), exit and exit_group, wait4,
//! SIGCHLD, orphans and process groups.

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::host::errno::*;
use super::host::{Errno, HostOs};
use super::sigframe::SigInfo;
use super::task::{AltStack, Group, Mm, SigAction, SigQueue, Task, Tid, Wait, WaitOn};
use super::{Exit, Process, loader, signal};
use crate::cpu::{Cpu, DecodeCache, SegReg};
use crate::mmu::space::AddressSpace;

/// Most tasks alive at once (a fork bomb gets EAGAIN).
const MAX_TASKS: usize = 512;
/// clone flags (uapi/linux/sched.h).
const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_PIDFD: u64 = 0x1000;
const CLONE_PTRACE: u64 = 0x2000;
const CLONE_VFORK: u64 = 0x4000;
const CLONE_PARENT: u64 = 0x8000;
const CLONE_THREAD: u64 = 0x10000;
const CLONE_SYSVSEM: u64 = 0x40000;
const CLONE_SETTLS: u64 = 0x80000;
const CLONE_PARENT_SETTID: u64 = 0x100000;
const CLONE_CHILD_CLEARTID: u64 = 0x200000;
const CLONE_DETACHED: u64 = 0x400000;
const CLONE_UNTRACED: u64 = 0x800000;
const CLONE_CHILD_SETTID: u64 = 0x1000000;
const CLONE_IO: u64 = 0x8000_0000;
/// The flags this layer implements; namespaces and pidfds are refused.
const CLONE_SUPPORTED: u64 = CLONE_VM
    | CLONE_FS
    | CLONE_FILES
    | CLONE_SIGHAND
    | CLONE_PTRACE
    | CLONE_VFORK
    | CLONE_PARENT
    | CLONE_THREAD
    | CLONE_SYSVSEM
    | CLONE_SETTLS
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_CLEARTID
    | CLONE_DETACHED
    | CLONE_UNTRACED
    | CLONE_CHILD_SETTID
    | CLONE_IO;
/// si_code for SIGCHLD: exited, killed.
const CLD_EXITED: i32 = 1;
const CLD_KILLED: i32 = 2;
/// `#!` interpreters followed before ENOEXEC... ELOOP (binfmt_script nests up to 4).
const MAX_SCRIPT_DEPTH: usize = 4;

/// What clone/clone3 were asked for.
struct CloneArgs {
    flags: u64,
    exit_signal: u64,
    /// The child's stack pointer (0: the parent's).
    stack: u64,
    parent_tid: u64,
    child_tid: u64,
    tls: u64,
}

/// What execve runs: the image and its argv (changed by `#!` lines).
struct ExecImage {
    image: Rc<[u8]>,
    argv: Vec<Vec<u8>>,
    /// The path of the binary finally loaded.
    path: Vec<u8>,
}

/// Linux wait status of an exit (sys/wait.h).
fn wait_status(exit: &Exit) -> i32 {
    match exit {
        Exit::Code(c) => (c & 0xff) << 8,
        Exit::Signal(s, _) => (*s as i32) & 0x7f,
    }
}

impl<H: HostOs> Process<H> {
    /// clone(2): x86_64 argument order (flags, stack, parent_tid, child_tid, tls).
    pub(super) fn sys_clone(
        &mut self,
        t: &mut Task,
        flags: u64,
        stack: u64,
        parent_tid: u64,
        child_tid: u64,
        tls: u64,
    ) -> Result<u64, Errno> {
        let args = CloneArgs {
            flags: flags & !0xff,
            exit_signal: flags & 0xff,
            stack,
            parent_tid,
            child_tid,
            tls,
        };
        self.do_clone(t, args)
    }

    /// clone3(2): `struct clone_args` (at least CLONE_ARGS_SIZE_VER0, 64 bytes).
    pub(super) fn sys_clone3(&mut self, t: &mut Task, addr: u64, size: u64) -> Result<u64, Errno> {
        if !(64..=4096).contains(&size) {
            return Err(EINVAL);
        }
        let raw = t.read_mem(addr, size as usize)?;
        let word = |i: usize| {
            raw.get(i * 8..i * 8 + 8).map_or(0, |b| {
                let mut w = [0u8; 8];
                w.copy_from_slice(b);
                u64::from_le_bytes(w)
            })
        };
        // Fields past those known must be zero (kernel/fork.c copy_clone_args_from_user).
        if raw
            .get(88..)
            .is_some_and(|rest| rest.iter().any(|&b| b != 0))
        {
            return Err(E2BIG);
        }
        let (flags, exit_signal, stack, stack_size) = (word(0), word(4), word(5), word(6));
        if exit_signal > 64 || word(9) != 0 || (stack == 0) != (stack_size == 0) {
            // set_tid (choosing pids) and a half-given stack are refused.
            return Err(EINVAL);
        }
        let args = CloneArgs {
            flags,
            exit_signal,
            stack: stack.wrapping_add(stack_size),
            parent_tid: word(3),
            child_tid: word(2),
            tls: word(7),
        };
        self.do_clone(t, args)
    }

    /// fork(2) and vfork(2).
    pub(super) fn sys_fork(&mut self, t: &mut Task, vfork: bool) -> Result<u64, Errno> {
        let flags = if vfork { CLONE_VM | CLONE_VFORK } else { 0 };
        let args = CloneArgs {
            flags,
            exit_signal: signal::SIGCHLD,
            stack: 0,
            parent_tid: 0,
            child_tid: 0,
            tls: 0,
        };
        self.do_clone(t, args)
    }

    fn do_clone(&mut self, t: &mut Task, a: CloneArgs) -> Result<u64, Errno> {
        let f = a.flags;
        // kernel/fork.c copy_process: the flag combinations Linux refuses.
        if f & !CLONE_SUPPORTED != 0
            || (f & CLONE_THREAD != 0 && f & CLONE_SIGHAND == 0)
            || (f & CLONE_SIGHAND != 0 && f & CLONE_VM == 0)
            || f & CLONE_PIDFD != 0
            || a.exit_signal > 64
        {
            return Err(EINVAL);
        }
        if self.tasks.len() + 1 >= MAX_TASKS {
            return Err(EAGAIN);
        }
        let tid = self.next_id;
        self.next_id += 1;
        let mm = if f & CLONE_VM != 0 {
            t.mm.clone()
        } else {
            let mut parent = t.mm.borrow_mut();
            self.next_mm += 1;
            Rc::new(RefCell::new(Mm {
                id: self.next_mm,
                space: parent.space.fork(),
                cache: DecodeCache::default(),
                brk_start: parent.brk_start,
                brk: parent.brk,
            }))
        };
        let files = if f & CLONE_FILES != 0 {
            t.files.clone()
        } else {
            let copy = t.files.borrow().clone();
            for file in copy.fds.iter().flatten() {
                self.retain(file);
            }
            Rc::new(RefCell::new(copy))
        };
        let tgid = if f & CLONE_THREAD != 0 {
            let g = self.groups.get_mut(&t.tgid).ok_or(ESRCH)?;
            g.threads.push(tid);
            t.tgid
        } else {
            let parent = self.groups.get(&t.tgid).ok_or(ESRCH)?;
            let sighand = if f & CLONE_SIGHAND != 0 {
                parent.sighand.clone()
            } else {
                Rc::new(RefCell::new(parent.sighand.borrow().clone()))
            };
            let group = Group {
                pid: tid,
                ppid: if f & CLONE_PARENT != 0 {
                    parent.ppid
                } else {
                    parent.pid
                },
                pgid: parent.pgid,
                sid: parent.sid,
                threads: alloc::vec![tid],
                sighand,
                pending: SigQueue::default(),
                exe: parent.exe.clone(),
                exe_path: parent.exe_path.clone(),
                cwd: parent.cwd.clone(),
                umask: parent.umask,
                exit_signal: a.exit_signal,
                itimer: None,
                timers: Vec::new(),
                exiting: None,
                zombie: false,
            };
            self.groups.insert(tid, group);
            tid
        };
        let mut cpu = t.cpu.clone();
        cpu.gpr[0] = 0;
        if a.stack != 0 {
            cpu.gpr[4] = a.stack;
        }
        if f & CLONE_SETTLS != 0 {
            cpu.segs[SegReg::Fs as usize].base = a.tls;
        }
        let child = Task {
            tid,
            tgid,
            cpu,
            mm,
            files,
            blocked: t.blocked,
            pending: SigQueue::default(),
            // A thread sharing memory starts without the alternate stack (clone(2)).
            altstack: if f & (CLONE_VM | CLONE_VFORK) == CLONE_VM {
                AltStack::default()
            } else {
                t.altstack
            },
            clear_child_tid: if f & CLONE_CHILD_CLEARTID != 0 {
                a.child_tid
            } else {
                0
            },
            robust_list: 0,
            wait: None,
            restart: None,
            suspend_mask: None,
            vfork_parent: (f & CLONE_VFORK != 0).then_some(t.tid),
            dead: false,
            exit_code: 0,
            yielded: false,
            comm: t.comm,
        };
        if f & CLONE_CHILD_SETTID != 0 {
            let _ = child.write_mem(a.child_tid, &(tid as u32).to_le_bytes());
        }
        if f & CLONE_PARENT_SETTID != 0 {
            let _ = t.write_mem(a.parent_tid, &(tid as u32).to_le_bytes());
        }
        self.tasks.insert(tid, child);
        if f & CLONE_VFORK != 0 {
            // The parent returns the child's pid once the child execs or exits.
            self.wait_seq += 1;
            t.wait = Some(Wait {
                on: WaitOn::Vfork(tid),
                deadline: None,
                seq: self.wait_seq,
            });
        }
        Ok(tid)
    }

    /// Ends thread `t` (which is not in the task table): clear_child_tid,
    /// the robust futex list, its share of descriptors; the process ends
    /// with its last thread.
    pub(super) fn exit_thread(&mut self, t: Task) {
        // kernel/fork.c mm_release: zero the tid word and wake a joiner.
        if t.clear_child_tid != 0 && t.write_mem(t.clear_child_tid, &0u32.to_le_bytes()).is_ok() {
            let id = t.mm.borrow().id;
            self.futex_wake_key((id, t.clear_child_tid), 1, u32::MAX);
        }
        self.exit_robust_list(&t);
        let Task {
            tid,
            tgid,
            files,
            exit_code,
            ..
        } = t;
        self.release_files(files);
        let Some(g) = self.groups.get_mut(&tgid) else {
            return;
        };
        g.threads.retain(|&x| x != tid);
        if g.threads.is_empty() {
            g.exiting.get_or_insert(Exit::Code(exit_code));
            self.group_finished(tgid);
        }
    }

    /// Makes every thread of process `pid` exit with `exit` (exit_group, a
    /// fatal signal). The current task, not in the table, is ended by its caller.
    pub(super) fn kill_group(&mut self, pid: Tid, exit: Exit) {
        let Some(g) = self.groups.get_mut(&pid) else {
            return;
        };
        if g.exiting.is_some() {
            return;
        }
        g.exiting = Some(exit);
        for tid in g.threads.clone() {
            if let Some(t) = self.tasks.remove(&tid) {
                self.exit_thread(t);
            }
        }
    }

    /// The last thread of `pid` is gone: it becomes a zombie for its parent
    /// (or is reaped at once), its children are orphaned, the parent gets
    /// its exit signal; the first process's end ends the run.
    fn group_finished(&mut self, pid: Tid) {
        let Some(g) = self.groups.get_mut(&pid) else {
            return;
        };
        g.zombie = true;
        let exit = g.exiting.clone().unwrap_or(Exit::Code(0));
        let (ppid, exit_signal) = (g.ppid, g.exit_signal);
        // Orphans: adopted by "init" (pid 1, not emulated), which reaps them.
        let orphans: Vec<Tid> = self
            .groups
            .values()
            .filter(|c| c.ppid == pid)
            .map(|c| c.pid)
            .collect();
        for c in orphans {
            if self.groups.get(&c).is_some_and(|c| c.zombie) {
                self.groups.remove(&c);
            } else if let Some(c) = self.groups.get_mut(&c) {
                c.ppid = 1;
            }
        }
        if pid == self.initial {
            self.finished = Some(exit.clone());
        }
        // kernel/signal.c do_notify_parent: a parent ignoring SIGCHLD (or
        // with SA_NOCLDWAIT) leaves no zombie.
        let parent_alive = self.groups.get(&ppid).is_some_and(|p| p.exiting.is_none());
        let chld = self.action(ppid, signal::SIGCHLD);
        let auto_reap = !parent_alive
            || (exit_signal == signal::SIGCHLD
                && (chld.handler == signal::SIG_IGN || chld.flags & signal::SA_NOCLDWAIT != 0));
        if parent_alive && exit_signal != 0 {
            let (code, status) = match &exit {
                Exit::Code(c) => (CLD_EXITED, c & 0xff),
                Exit::Signal(s, _) => (CLD_KILLED, *s as i32),
            };
            let info = SigInfo {
                code,
                value: pid,
                extra: status as u32 as u64,
                trapno: 0,
            };
            self.send_from_kernel(ppid, exit_signal, info);
        }
        if auto_reap {
            self.groups.remove(&pid);
        }
    }

    /// Whether a wait4 in process `pid` could return now: a zombie child, or
    /// no child left (ECHILD).
    pub(super) fn child_changed(&self, pid: Tid) -> bool {
        let mut children = self.groups.values().filter(|g| g.ppid == pid);
        let mut any = false;
        let zombie = children.any(|g| {
            any = true;
            g.zombie
        });
        zombie || !any
    }

    pub(super) fn sys_wait4(
        &mut self,
        t: &mut Task,
        pid: u64,
        status_addr: u64,
        options: u64,
        rusage: u64,
    ) -> Result<u64, Errno> {
        const WNOHANG: u64 = 1;
        const KNOWN: u64 = WNOHANG | 2 | 8 | 0x2000_0000 | 0x4000_0000 | 0x8000_0000;
        if options & !KNOWN != 0 {
            return Err(EINVAL);
        }
        let me = t.tgid;
        let my_pgid = self.groups.get(&me).map_or(me, |g| g.pgid);
        // pid_t is a C int: the upper half of the register is not part of it.
        let wanted = pid as i32 as i64;
        let matches = |g: &Group| {
            g.ppid == me
                && match wanted {
                    -1 => true,
                    0 => g.pgid == my_pgid,
                    w if w > 0 => g.pid == w as u64,
                    w => g.pgid == w.unsigned_abs(),
                }
        };
        if !self.groups.values().any(matches) {
            return Err(ECHILD);
        }
        let Some(zombie) = self
            .groups
            .values()
            .find(|g| matches(g) && g.zombie)
            .map(|g| g.pid)
        else {
            if options & WNOHANG != 0 {
                return Ok(0);
            }
            return self.block(t, WaitOn::Child, None);
        };
        let status = self
            .groups
            .get(&zombie)
            .and_then(|g| g.exiting.as_ref())
            .map_or(0, wait_status);
        if status_addr != 0 {
            t.write_mem(status_addr, &status.to_le_bytes())?;
        }
        if rusage != 0 {
            t.write_mem(rusage, &[0u8; 144])?;
        }
        self.groups.remove(&zombie);
        Ok(zombie)
    }

    /// exit(2): this thread only.
    pub(super) fn sys_exit(&mut self, t: &mut Task, code: u64) -> Result<u64, Errno> {
        t.dead = true;
        t.exit_code = code as i32;
        Ok(0)
    }

    /// exit_group(2): every thread of the process.
    pub(super) fn sys_exit_group(&mut self, t: &mut Task, code: u64) -> Result<u64, Errno> {
        self.kill_group(t.tgid, Exit::Code(code as i32));
        t.dead = true;
        Ok(0)
    }

    pub(super) fn sys_set_tid_address(&mut self, t: &mut Task, addr: u64) -> Result<u64, Errno> {
        t.clear_child_tid = addr;
        Ok(t.tid)
    }

    /// setpgid(2): the caller or one of its children.
    pub(super) fn sys_setpgid(&mut self, t: &mut Task, pid: u64, pgid: u64) -> Result<u64, Errno> {
        let (pid, pgid) = (pid as i32 as i64, pgid as i32 as i64);
        if pid < 0 || pgid < 0 {
            return Err(EINVAL);
        }
        let pid = if pid == 0 { t.tgid } else { pid as u64 };
        let pgid = if pgid == 0 { pid } else { pgid as u64 };
        let me = t.tgid;
        let my_sid = self.groups.get(&me).map_or(0, |g| g.sid);
        let g = self.groups.get_mut(&pid).ok_or(ESRCH)?;
        if g.pid != me && g.ppid != me {
            return Err(ESRCH);
        }
        if g.sid != my_sid || g.sid == g.pid {
            return Err(EPERM);
        }
        g.pgid = pgid;
        Ok(0)
    }

    /// getpgid(2) (`sid` false) and getsid(2).
    pub(super) fn sys_getpgid(&mut self, t: &mut Task, pid: u64, sid: bool) -> Result<u64, Errno> {
        let pid = match pid as i32 {
            0 => t.tgid,
            p if p < 0 => return Err(ESRCH),
            p => p as u64,
        };
        let g = self.groups.get(&pid).ok_or(ESRCH)?;
        Ok(if sid { g.sid } else { g.pgid })
    }

    /// setsid(2): a new session and process group, unless already a group leader.
    pub(super) fn sys_setsid(&mut self, t: &mut Task) -> Result<u64, Errno> {
        let pid = t.tgid;
        if self.groups.values().any(|g| g.pgid == pid) {
            return Err(EPERM);
        }
        let g = self.groups.get_mut(&pid).ok_or(ESRCH)?;
        g.pgid = pid;
        g.sid = pid;
        Ok(pid)
    }

    /// Reads a NULL-terminated array of string pointers (argv, envp).
    fn read_string_array(&mut self, t: &Task, mut addr: u64) -> Result<Vec<Vec<u8>>, Errno> {
        let mut out = Vec::new();
        if addr == 0 {
            return Ok(out);
        }
        loop {
            let ptr = t.read_u64(addr)?;
            if ptr == 0 {
                return Ok(out);
            }
            out.push(t.read_cstr(ptr)?);
            if out.len() > 4096 {
                return Err(E2BIG);
            }
            addr += 8;
        }
    }

    /// The image at `path` for execve, following `#!` lines: returns it
    /// and the argv to start it with.
    fn exec_image(
        &mut self,
        tgid: Tid,
        mut path: Vec<u8>,
        mut argv: Vec<Vec<u8>>,
    ) -> Result<ExecImage, Errno> {
        for _ in 0..=MAX_SCRIPT_DEPTH {
            let image: Rc<[u8]> = if path == b"/proc/self/exe" {
                self.groups.get(&tgid).ok_or(ESRCH)?.exe.clone()
            } else {
                Rc::from(loader::read_host_file(&mut self.host, &path)?)
            };
            let Some(line) = image.strip_prefix(b"#!") else {
                return Ok(ExecImage { image, argv, path });
            };
            // binfmt_script: "#!interpreter [one argument]" on the first line.
            let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
            let line: Vec<u8> = line
                .iter()
                .copied()
                .map(|b| if b == b'\t' { b' ' } else { b })
                .collect();
            let line = line.trim_ascii();
            let (interp, arg) = match line.iter().position(|&b| b == b' ') {
                Some(i) => (&line[..i], Some(line[i..].trim_ascii())),
                None => (line, None),
            };
            if interp.is_empty() {
                return Err(ENOEXEC);
            }
            let mut new_argv = alloc::vec![interp.to_vec()];
            if let Some(arg) = arg.filter(|a| !a.is_empty()) {
                new_argv.push(arg.to_vec());
            }
            new_argv.push(path.clone());
            new_argv.extend(argv.into_iter().skip(1));
            argv = new_argv;
            path = interp.to_vec();
        }
        Err(ELOOP)
    }

    /// execve: replaces the image; other threads end; descriptors stay
    /// except close-on-exec ones; caught signals return to their default
    /// action (ignored ones stay ignored); the mask and pending signals stay.
    pub(super) fn sys_execve(
        &mut self,
        t: &mut Task,
        path: u64,
        argv: u64,
        envp: u64,
    ) -> Result<u64, Errno> {
        let path = t.read_cstr(path)?;
        let argv = self.read_string_array(t, argv)?;
        let envp = self.read_string_array(t, envp)?;
        // Linux names the thread after the file execve was given (fs/exec.c).
        let comm = super::task::comm_of(&path);
        let ExecImage { image, argv, path } = self.exec_image(t.tgid, path, argv)?;
        let exe_path = match path.as_slice() {
            b"/proc/self/exe" => None,
            p if p.first() == Some(&b'/') => Some(path),
            p => Some(super::fd::join_path(
                self.host.getcwd().unwrap_or_default(),
                p,
            )),
        };
        let pool = t.mm.borrow().space.pool().clone();
        let mut space = AddressSpace::in_pool(pool);
        let start = loader::load_program(&mut self.host, &mut space, &image, &argv, &envp)
            .map_err(|e| match e {
                loader::LoadError::OutOfMemory => ENOMEM,
                // Linux reports a missing interpreter as ENOENT.
                loader::LoadError::Interpreter(_) => ENOENT,
                _ => ENOEXEC,
            })?;
        // The point of no return: the other threads go (fs/exec.c de_thread).
        let others: Vec<Tid> = self
            .groups
            .get(&t.tgid)
            .map(|g| g.threads.iter().copied().filter(|&x| x != t.tid).collect())
            .unwrap_or_default();
        for tid in others {
            if let Some(mut other) = self.tasks.remove(&tid) {
                other.dead = true;
                self.exit_thread(other);
            }
        }
        if t.tid != t.tgid {
            // The exec'ing thread takes over the process id.
            if let Some(g) = self.groups.get_mut(&t.tgid) {
                g.threads = alloc::vec![t.tgid];
            }
            t.tid = t.tgid;
        }
        let mut cpu = Cpu::new_long_mode_user();
        cpu.rip = start.rip;
        cpu.gpr[4] = start.rsp;
        t.cpu = cpu;
        self.next_mm += 1;
        t.mm = Rc::new(RefCell::new(Mm {
            id: self.next_mm,
            space,
            cache: DecodeCache::default(),
            brk_start: start.brk,
            brk: start.brk,
        }));
        if Rc::strong_count(&t.files) > 1 {
            let copy = t.files.borrow().clone();
            for file in copy.fds.iter().flatten() {
                self.retain(file);
            }
            t.files = Rc::new(RefCell::new(copy));
        }
        let fds = t.files.borrow().fds.len();
        for fd in 0..fds {
            if t.files.borrow().fds[fd]
                .as_ref()
                .is_some_and(|f| f.close_on_exec)
            {
                let _ = self.close_fd(t, fd as u64);
            }
        }
        if let Some(g) = self.groups.get_mut(&t.tgid) {
            let mut actions = g.sighand.borrow().clone();
            for a in actions.actions.iter_mut() {
                if a.handler != signal::SIG_IGN {
                    *a = SigAction::default();
                }
            }
            g.sighand = Rc::new(RefCell::new(actions));
            g.timers.clear();
            g.exe = image;
            if let Some(p) = exe_path {
                g.exe_path = p;
            }
        }
        t.comm = comm;
        t.altstack = AltStack::default();
        t.clear_child_tid = 0;
        t.robust_list = 0;
        t.vfork_parent = None;
        Ok(0)
    }
}
