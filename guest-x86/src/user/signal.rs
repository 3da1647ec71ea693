//! Signals (signal(7)): numbers, dispositions, per-thread masks, sending
//! (kill, tgkill, tkill and the kernel's own: faults, SIGPIPE, SIGCHLD)
//! and choosing what to deliver. A signal sent to a process is taken by
//! the first of its threads that runs without blocking it; one sent to a
//! thread waits for that thread. Either is delivered when the thread next
//! runs, after a system call or at the start of its time slice, and ends a
//! wait it is blocked in. Stop and continue signals are ignored (there is
//! no job control). Frames are built in `sigframe`.

use alloc::string::String;

use super::host::errno::*;
use super::host::{Errno, HostOs};
use super::sigframe::{self, SigInfo};
use super::task::{SigAction, Task, Tid, WaitOn, bit};
use super::{Exit, Process};
use crate::cpu::Exception;
use crate::mmu::Memory;

/// Hangup.
pub const SIGHUP: u64 = 1;
/// Illegal instruction.
pub const SIGILL: u64 = 4;
/// Trace trap.
pub const SIGTRAP: u64 = 5;
/// Abort.
pub const SIGABRT: u64 = 6;
/// Bus error.
pub const SIGBUS: u64 = 7;
/// Floating-point exception.
pub const SIGFPE: u64 = 8;
/// Killed.
pub const SIGKILL: u64 = 9;
/// Segmentation violation.
pub const SIGSEGV: u64 = 11;
/// Write to a pipe without readers.
pub const SIGPIPE: u64 = 13;
/// Child stopped or exited.
pub const SIGCHLD: u64 = 17;
/// Stop (cannot be caught).
pub const SIGSTOP: u64 = 19;

/// SIGKILL and SIGSTOP cannot be blocked.
pub(super) const UNBLOCKABLE: u64 = (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1));
pub(super) const SIG_DFL: u64 = 0;
pub(super) const SIG_IGN: u64 = 1;
/// Restart system calls interrupted by this handler.
pub(super) const SA_RESTART: u64 = 0x1000_0000;
/// Do not turn exited children into zombies (SIGCHLD only).
pub(super) const SA_NOCLDWAIT: u64 = 2;
/// si_code of kill(2) and of tkill/tgkill.
const SI_USER: i32 = 0;
const SI_TKILL: i32 = -6;
/// si_code SI_KERNEL.
const SI_KERNEL: i32 = 0x80;

/// Whether a signal's default action is to do nothing: ignore, and the
/// stop/continue signals that a run without job control treats alike.
pub(super) fn default_ignored(sig: u64) -> bool {
    matches!(sig, 17..=23 | 28)
}

/// Who a signal is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    /// A process: any of its threads may take it.
    Process(Tid),
    /// One thread.
    Thread(Tid),
}

impl<H: HostOs> Process<H> {
    /// The action of `sig` in process `pid`.
    pub(super) fn action(&self, pid: Tid, sig: u64) -> SigAction {
        self.groups
            .get(&pid)
            .map_or_else(SigAction::default, |g| g.sighand.borrow().get(sig))
    }

    /// The signals every thread of process `pid` blocks (`cur`, the
    /// running task, is not in the table).
    fn blocked_by_all(&self, cur: Option<&Task>, pid: Tid) -> u64 {
        let Some(g) = self.groups.get(&pid) else {
            return 0;
        };
        g.threads
            .iter()
            .filter_map(|tid| match cur {
                Some(c) if c.tid == *tid => Some(c.blocked),
                _ => self.tasks.get(tid).map(|t| t.blocked),
            })
            .fold(u64::MAX, |all, b| all & b)
    }

    /// Sends `sig` (1–64) from the current task `cur`. Ignored signals are
    /// dropped; an unhandled fatal one ends the whole process at once (as
    /// Linux's complete_signal does); others wait in the target's queue.
    fn send(&mut self, cur: &mut Task, target: Target, sig: u64, info: SigInfo) {
        let (pid, thread) = match target {
            Target::Process(pid) => (pid, None),
            Target::Thread(tid) => {
                let tgid = if tid == cur.tid {
                    cur.tgid
                } else {
                    match self.tasks.get(&tid) {
                        Some(t) => t.tgid,
                        None => return,
                    }
                };
                (tgid, Some(tid))
            }
        };
        if self.groups.get(&pid).is_none_or(|g| g.exiting.is_some()) {
            return; // exiting or a zombie: nothing left to signal
        }
        let action = self.action(pid, sig);
        let blocked = match thread {
            Some(tid) if tid == cur.tid => cur.blocked,
            Some(tid) => self.tasks.get(&tid).map_or(0, |t| t.blocked),
            None => self.blocked_by_all(Some(cur), pid),
        } & bit(sig)
            & !UNBLOCKABLE;
        let ignored =
            action.handler == SIG_IGN || (action.handler == SIG_DFL && default_ignored(sig));
        if sig != SIGKILL && ignored && blocked == 0 {
            return;
        }
        if sig == SIGKILL || (action.handler == SIG_DFL && !ignored && blocked == 0) {
            self.kill_group(pid, Exit::Signal(sig as u8, String::new()));
            return;
        }
        match thread {
            Some(tid) if tid == cur.tid => cur.pending.add(sig, info),
            Some(tid) => {
                if let Some(t) = self.tasks.get_mut(&tid) {
                    t.pending.add(sig, info);
                }
            }
            None => {
                if let Some(g) = self.groups.get_mut(&pid) {
                    g.pending.add(sig, info);
                }
            }
        }
    }

    /// Sends `sig` to the current thread itself (SIGPIPE, raise).
    pub(super) fn send_to_thread(&mut self, t: &mut Task, sig: u64, info: SigInfo) {
        let tid = t.tid;
        self.send(t, Target::Thread(tid), sig, info);
    }

    /// Sends `sig` to process `pid` from the kernel itself (a child's exit
    /// signal, SIGALRM): dropped if ignored, fatal at once if unhandled and
    /// no thread blocks it, queued otherwise. A running task of `pid` (not
    /// in the table) counts as blocking it: it takes the signal when its
    /// system call returns.
    pub(super) fn send_from_kernel(&mut self, pid: Tid, sig: u64, info: SigInfo) {
        if self.groups.get(&pid).is_none_or(|g| g.exiting.is_some()) {
            return;
        }
        let action = self.action(pid, sig);
        let blocked = self.blocked_by_all(None, pid) & bit(sig) != 0;
        match action.handler {
            SIG_IGN => {}
            SIG_DFL if default_ignored(sig) => {}
            SIG_DFL if !blocked => self.kill_group(pid, Exit::Signal(sig as u8, String::new())),
            _ => {
                if let Some(g) = self.groups.get_mut(&pid) {
                    g.pending.add(sig, info);
                }
            }
        }
    }

    /// Sends `sig` to thread `tid` from the kernel itself (a timer with
    /// SIGEV_THREAD_ID): as `send_from_kernel`, for one thread.
    pub(super) fn send_from_kernel_to_thread(&mut self, tid: Tid, sig: u64, info: SigInfo) {
        let Some(t) = self.tasks.get(&tid) else {
            return;
        };
        let (pid, blocked) = (t.tgid, t.blocked & bit(sig) != 0);
        if self.group_exiting(pid) {
            return;
        }
        let action = self.action(pid, sig);
        match action.handler {
            SIG_IGN => {}
            SIG_DFL if default_ignored(sig) => {}
            SIG_DFL if !blocked => self.kill_group(pid, Exit::Signal(sig as u8, String::new())),
            _ => {
                if let Some(t) = self.tasks.get_mut(&tid) {
                    t.pending.add(sig, info);
                }
            }
        }
    }

    /// For a parked task: whether a signal is ready to be delivered to it,
    /// taking one sent to its process if it does not block it.
    pub(super) fn claim_signal(&mut self, tid: Tid) -> bool {
        let Some(t) = self.tasks.get_mut(&tid) else {
            return false;
        };
        let blocked = t.blocked & !UNBLOCKABLE;
        if t.pending.first(blocked).is_some() {
            return true;
        }
        let Some(g) = self.groups.get_mut(&t.tgid) else {
            return false;
        };
        match g.pending.first(blocked) {
            Some(sig) => {
                let info = g.pending.take(sig);
                t.pending.add(sig, info);
                true
            }
            None => false,
        }
    }

    /// Delivers what is pending and not blocked: enters handlers (nested,
    /// lowest signal first) or applies default actions.
    pub(super) fn deliver_signals(&mut self, t: &mut Task) {
        for _ in 0..64 {
            if t.dead {
                return;
            }
            let blocked = t.blocked & !UNBLOCKABLE;
            let (sig, info) = if let Some(sig) = t.pending.first(blocked) {
                (sig, t.pending.take(sig))
            } else if let Some(g) = self.groups.get_mut(&t.tgid)
                && let Some(sig) = g.pending.first(blocked)
            {
                (sig, g.pending.take(sig))
            } else {
                break;
            };
            let action = self.action(t.tgid, sig);
            match action.handler {
                SIG_IGN => {}
                SIG_DFL if default_ignored(sig) => {}
                SIG_DFL => {
                    // A plain signal death: no diagnostic (the native process prints none).
                    self.kill_group(t.tgid, Exit::Signal(sig as u8, String::new()));
                    t.dead = true;
                    return;
                }
                _ => {
                    if self.push_signal_frame(t, sig, info, action).is_err() {
                        let why = alloc::format!("could not deliver signal {sig}: bad stack");
                        self.kill_group(t.tgid, Exit::Signal(SIGSEGV as u8, why));
                        t.dead = true;
                        return;
                    }
                }
            }
        }
        if let Some(mask) = t.suspend_mask.take() {
            t.blocked = mask;
        }
    }

    /// A synchronous signal raised by the thread itself (a fault): its
    /// handler runs if it has one and does not block it; otherwise the
    /// process dies (force_sig_info: blocked or ignored means the default).
    pub(super) fn force_signal(&mut self, t: &mut Task, sig: u64, e: Exception, why: String) {
        let (code, value) = match e {
            // SEGV_MAPERR with the faulting address.
            Exception::PageFault { addr, .. } => (1, addr),
            _ => (SI_KERNEL, 0),
        };
        let info = SigInfo {
            code,
            value,
            extra: 0,
            trapno: e.vector() as u64,
        };
        let action = self.action(t.tgid, sig);
        if action.handler > SIG_IGN
            && t.blocked & bit(sig) == 0
            && self.push_signal_frame(t, sig, info, action).is_ok()
        {
            return;
        }
        self.kill_group(t.tgid, Exit::Signal(sig as u8, why));
        t.dead = true;
    }

    /// A CPU exception in `t`: the signal Linux sends for it.
    pub(super) fn fault(&mut self, t: &mut Task, e: Exception) {
        let rip = t.cpu.rip;
        if matches!(e, Exception::PageFault { .. }) && t.mm.borrow().space.out_of_memory() {
            self.kill_out_of_memory(t);
            return;
        }
        let (sig, what) = match e {
            Exception::InvalidOpcode => {
                let mut bytes = [0u8; 8];
                let n = t.mm.borrow_mut().space.fetch(rip, &mut bytes);
                let hex: alloc::vec::Vec<String> = bytes[..n]
                    .iter()
                    .map(|b| alloc::format!("{b:02x}"))
                    .collect();
                (
                    SIGILL,
                    alloc::format!("invalid or unimplemented opcode (bytes {})", hex.join(" ")),
                )
            }
            Exception::DivideError => (SIGFPE, String::from("divide error")),
            Exception::PageFault { addr, .. } => {
                let kind = if e.is_fetch_fault() {
                    "fetch"
                } else if e.is_write_fault() {
                    "write"
                } else {
                    "read"
                };
                (SIGSEGV, alloc::format!("page fault on {kind} at {addr:#x}"))
            }
            Exception::GeneralProtection(_) => (SIGSEGV, String::from("general protection fault")),
            Exception::StackFault(_) => (SIGBUS, String::from("stack fault")),
            Exception::AlignmentCheck => (SIGBUS, String::from("alignment check")),
            Exception::FloatingPoint | Exception::SimdFloatingPoint => {
                (SIGFPE, String::from("floating-point exception"))
            }
            Exception::Breakpoint | Exception::Debug => (SIGTRAP, String::from("breakpoint")),
            Exception::Overflow | Exception::BoundRange => {
                (SIGSEGV, String::from("overflow or bound check"))
            }
            Exception::DoubleFault | Exception::InvalidTss(_) | Exception::SegmentNotPresent(_) => {
                (SIGSEGV, String::from("segment fault"))
            }
            Exception::DeviceNotAvailable => (SIGSEGV, String::from("device not available")),
        };
        self.force_signal(t, sig, e, alloc::format!("{what} at rip {rip:#x}"));
    }

    /// A mapped page the shared frame pool cannot back: the process dies
    /// with SIGKILL, as under Linux's OOM killer (mm/oom_kill.c), and the
    /// run's stderr says why (a child's death would otherwise be silent).
    fn kill_out_of_memory(&mut self, t: &mut Task) {
        let (_, limit) = t.mm.borrow().space.pool_usage();
        let comm = t.comm.split(|&b| b == 0).next().unwrap_or_default();
        let why = alloc::format!(
            "out of memory: the guest RAM limit of {} MiB (--mem) is used up; killed process {} ({})",
            limit >> 20,
            t.tgid,
            String::from_utf8_lossy(comm)
        );
        if t.tgid != self.initial {
            let line = alloc::format!("guest-x86: {why}\n");
            let _ = self.host.write(2, line.as_bytes());
        }
        self.kill_group(t.tgid, Exit::Signal(SIGKILL as u8, why));
        t.dead = true;
    }

    /// kill(2): pid > 0 one process, 0 the caller's process group, -1 every
    /// process but the caller, < -1 process group -pid.
    pub(super) fn sys_kill(&mut self, t: &mut Task, pid: u64, sig: u64) -> Result<u64, Errno> {
        if sig > 64 {
            return Err(EINVAL);
        }
        let pid = pid as i32 as i64;
        let my_pgid = self.groups.get(&t.tgid).map_or(t.tgid, |g| g.pgid);
        let targets: alloc::vec::Vec<Tid> = self
            .groups
            .values()
            .filter(|g| match pid {
                p if p > 0 => g.pid == p as u64,
                0 => g.pgid == my_pgid,
                -1 => g.pid != t.tgid,
                p => g.pgid == p.unsigned_abs(),
            })
            .map(|g| g.pid)
            .collect();
        if targets.is_empty() {
            return Err(ESRCH);
        }
        if sig == 0 {
            return Ok(0);
        }
        let info = SigInfo::user(t.tgid, SI_USER);
        for pid in targets {
            self.send(t, Target::Process(pid), sig, info);
        }
        Ok(0)
    }

    /// tgkill(2) (`tgid` Some) and tkill(2).
    pub(super) fn sys_tgkill(
        &mut self,
        t: &mut Task,
        tgid: Option<u64>,
        tid: u64,
        sig: u64,
    ) -> Result<u64, Errno> {
        let tid = tid as i32 as i64;
        if sig > 64 || tid <= 0 || tgid.is_some_and(|g| g as i32 <= 0) {
            return Err(EINVAL);
        }
        let tid = tid as u64;
        let owner = if tid == t.tid {
            Some(t.tgid)
        } else {
            self.tasks.get(&tid).map(|x| x.tgid)
        };
        match owner {
            Some(owner) if tgid.is_none_or(|g| g as u32 as u64 == owner) => {}
            _ => return Err(ESRCH),
        }
        if sig != 0 {
            let info = SigInfo::user(t.tgid, SI_TKILL);
            self.send(t, Target::Thread(tid), sig, info);
        }
        Ok(0)
    }

    pub(super) fn sys_rt_sigaction(
        &mut self,
        t: &mut Task,
        sig: u64,
        act: u64,
        old: u64,
        setsize: u64,
    ) -> Result<u64, Errno> {
        if setsize != 8 || sig == 0 || sig > 64 || ((sig == SIGKILL || sig == SIGSTOP) && act != 0)
        {
            return Err(EINVAL);
        }
        let new = if act != 0 {
            let bytes = t.read_mem(act, 32)?;
            let mut raw = [0u8; 32];
            raw.copy_from_slice(&bytes);
            Some(SigAction::from_bytes(&raw))
        } else {
            None
        };
        if old != 0 {
            t.write_mem(old, &self.action(t.tgid, sig).to_bytes())?;
        }
        if let Some(mut action) = new {
            action.mask &= !UNBLOCKABLE;
            if let Some(g) = self.groups.get(&t.tgid) {
                g.sighand.borrow_mut().actions[sig as usize - 1] = action;
            }
            // Ignoring a signal discards it where it is pending (signal(7)).
            if action.handler == SIG_IGN || (action.handler == SIG_DFL && default_ignored(sig)) {
                t.pending.take(sig);
                if let Some(g) = self.groups.get_mut(&t.tgid) {
                    g.pending.take(sig);
                    for tid in g.threads.clone() {
                        if let Some(other) = self.tasks.get_mut(&tid) {
                            other.pending.take(sig);
                        }
                    }
                }
            }
        }
        Ok(0)
    }

    pub(super) fn sys_rt_sigprocmask(
        &mut self,
        t: &mut Task,
        how: u64,
        set: u64,
        old: u64,
        setsize: u64,
    ) -> Result<u64, Errno> {
        if setsize != 8 {
            return Err(EINVAL);
        }
        let new = if set != 0 {
            Some(t.read_u64(set)?)
        } else {
            None
        };
        if new.is_some() && how > 2 {
            return Err(EINVAL);
        }
        if old != 0 {
            t.write_mem(old, &t.blocked.to_le_bytes())?;
        }
        if let Some(s) = new {
            t.blocked = match how {
                0 => t.blocked | s,
                1 => t.blocked & !s,
                _ => s,
            } & !UNBLOCKABLE;
        }
        Ok(0)
    }

    pub(super) fn sys_rt_sigpending(
        &mut self,
        t: &mut Task,
        set: u64,
        setsize: u64,
    ) -> Result<u64, Errno> {
        if setsize > 8 {
            return Err(EINVAL);
        }
        let group = self.groups.get(&t.tgid).map_or(0, |g| g.pending.bits);
        let pending = (t.pending.bits | group) & t.blocked;
        t.write_mem(set, &pending.to_le_bytes()[..setsize as usize])?;
        Ok(0)
    }

    /// rt_sigsuspend(2) (`set` Some) and pause(2): wait for a signal that
    /// runs a handler, with the mask replaced meanwhile; always EINTR.
    pub(super) fn sys_sigsuspend(
        &mut self,
        t: &mut Task,
        set: Option<(u64, u64)>,
    ) -> Result<u64, Errno> {
        if let Some((addr, size)) = set {
            if size != 8 {
                return Err(EINVAL);
            }
            let mask = t.read_u64(addr)?;
            t.suspend_mask = Some(t.blocked);
            t.blocked = mask & !UNBLOCKABLE;
        }
        let blocked = t.blocked & !UNBLOCKABLE;
        let group = self.groups.get(&t.tgid).map_or(0, |g| g.pending.bits);
        if (t.pending.bits | group) & !blocked != 0 {
            return Err(EINTR);
        }
        self.block(t, WaitOn::Signal, None)
    }

    /// rt_sigtimedwait(2) (sigwaitinfo, sigtimedwait, sigwait): takes a
    /// pending signal of `set` without running its handler, waiting for
    /// one up to the timeout (NULL: for ever); EAGAIN when it expires.
    pub(super) fn sys_rt_sigtimedwait(
        &mut self,
        t: &mut Task,
        set: u64,
        info: u64,
        timeout: u64,
        setsize: u64,
    ) -> Result<u64, Errno> {
        if setsize != 8 {
            return Err(EINVAL);
        }
        let set = t.read_u64(set)? & !UNBLOCKABLE;
        let restart = t.restart.take();
        let group = self.groups.get(&t.tgid).map_or(0, |g| g.pending.bits);
        let ready = (t.pending.bits | group) & set;
        if ready != 0 {
            let sig = ready.trailing_zeros() as u64 + 1;
            let si = if t.pending.bits & bit(sig) != 0 {
                t.pending.take(sig)
            } else {
                self.groups
                    .get_mut(&t.tgid)
                    .map(|g| g.pending.take(sig))
                    .unwrap_or_default()
            };
            if info != 0 {
                t.write_mem(info, &sigframe::siginfo_bytes(sig, &si))?;
            }
            return Ok(sig);
        }
        let deadline = match restart {
            Some(r) if r.outcome == super::task::Outcome::TimedOut => return Err(EAGAIN),
            Some(r) => r.deadline,
            None if timeout == 0 => None,
            None => match t.read_timespec_ns(timeout)? {
                0 => return Err(EAGAIN),
                span => Some(self.now_ns().saturating_add(span)),
            },
        };
        self.block(t, WaitOn::SigWait(set), deadline)
    }

    /// sigaltstack(2).
    pub(super) fn sys_sigaltstack(
        &mut self,
        t: &mut Task,
        ss: u64,
        old: u64,
    ) -> Result<u64, Errno> {
        let rsp = t.cpu.gpr[4];
        let before = t.altstack;
        if ss != 0 {
            let raw = t.read_mem(ss, 24)?;
            let word = |i: usize| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&raw[i..i + 8]);
                u64::from_le_bytes(b)
            };
            sigframe::set_altstack(&mut t.altstack, rsp, word(0), word(8) as u32, word(16))?;
        }
        if old != 0 {
            let mut out = [0u8; 24];
            out[..8].copy_from_slice(&before.sp.to_le_bytes());
            out[8..12].copy_from_slice(&sigframe::altstack_flags(&before, rsp).to_le_bytes());
            out[16..].copy_from_slice(&before.size.to_le_bytes());
            if let Err(e) = t.write_mem(old, &out) {
                t.altstack = before;
                return Err(e);
            }
        }
        Ok(0)
    }
}
