//! The scheduler. Every task (thread) has its own `Cpu`; they all run in
//! the one host thread (the wasm64 build has no others), round-robin, each
//! for a slice of `SLICE` instructions or until it blocks, yields or exits.
//!
//! A system call that must wait parks its task (`Task::wait`) with RIP
//! back on the SYSCALL and RAX its number, as Linux does for
//! -ERESTARTSYS; when the awaited event may have happened the call simply
//! runs again, told why (`Task::restart`). Pipes, children and host
//! readiness are polled when the scheduler looks for work; futex wake-ups,
//! deadlines and signals end a wait directly.
//!
//! When nothing can run: a task waiting for a host read that may block
//! (a terminal or a host pipe) gets to block the whole emulator — nothing
//! else could make progress anyway, except sleepers; with sleepers and a
//! host that can tell whether input is there, the scheduler sleeps in
//! short steps and looks again. Otherwise it sleeps until the earliest
//! deadline (a timed wait's or a timer's). With no deadline either, every
//! task waits for another: a deadlock, reported as the run's end (SIGKILL)
//! with each task's wait.

use alloc::string::String;
use alloc::vec::Vec;

use super::host::errno::*;
use super::host::{Clock, HostOs};
use super::task::{Mm, Outcome, Restart, Task, Tid, WaitOn};
use super::{Exit, Process, signal};
use crate::cpu::{Exception, Stop};

/// Instructions a task runs before the next one gets its turn.
pub const SLICE: u64 = 20_000;
/// How long the scheduler sleeps before looking at host input again when
/// tasks are also sleeping.
const POLL_STEP_NS: u64 = 10_000_000;

impl<H: HostOs> Process<H> {
    /// Runs until the first process ends (its last thread exits or it is
    /// killed), and returns how. Processes still running then are dropped.
    pub fn run(&mut self) -> Exit {
        loop {
            if let Some(exit) = self.run_for(SLICE) {
                return exit;
            }
            self.rotate = true;
        }
    }

    /// Executes one instruction of the current task (another one if it
    /// cannot run), and the system call it makes if any; returns how the
    /// run ended if it did.
    pub fn step(&mut self) -> Option<Exit> {
        self.run_for(1)
    }

    fn run_for(&mut self, budget: u64) -> Option<Exit> {
        if self.finished.is_none() {
            match self.pick() {
                Ok(tid) => {
                    if let Some(mut t) = self.tasks.remove(&tid) {
                        self.enter_cwd(t.tgid);
                        self.execute(&mut t, budget);
                        self.put_back(t);
                    }
                }
                Err(exit) => self.finished = Some(exit),
            }
        }
        self.finished.clone()
    }

    /// Monotonic host time in nanoseconds: the scheduler's clock.
    pub(super) fn now_ns(&mut self) -> u64 {
        self.clock_ns(Clock::Monotonic)
    }

    /// A host clock in nanoseconds.
    pub(super) fn clock_ns(&mut self, clock: Clock) -> u64 {
        let (s, ns) = self.host.clock(clock);
        (s.max(0) as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(ns.max(0) as u64)
    }

    /// Parks `t` until `on` (or `deadline`, monotonic ns): the system call
    /// in progress will run again. Returns the marker the dispatcher sees.
    pub(super) fn block<T>(
        &mut self,
        t: &mut Task,
        on: WaitOn,
        deadline: Option<u64>,
    ) -> Result<T, i64> {
        self.wait_seq += 1;
        t.wait = Some(super::task::Wait {
            on,
            deadline,
            seq: self.wait_seq,
        });
        Err(BLOCKED)
    }

    /// Marks a parked task runnable; its system call runs again.
    pub(super) fn wake(&mut self, tid: Tid, outcome: Outcome, may_block: bool) {
        if let Some(t) = self.tasks.get_mut(&tid)
            && let Some(w) = t.wait.take()
        {
            if let WaitOn::Vfork(_) = w.on {
                return; // vfork already returned the child's pid
            }
            t.restart = Some(Restart {
                outcome,
                deadline: w.deadline,
                on: w.on,
                may_block,
            });
        }
    }

    /// The next task to run: the current one unless its slice is over,
    /// then the others in tid order. Waits (or fails) when none can run.
    fn pick(&mut self) -> Result<Tid, Exit> {
        loop {
            let now = self.now_ns();
            self.fire_timers(now);
            let start = self.current;
            let after = if core::mem::take(&mut self.rotate) {
                start + 1
            } else {
                start
            };
            let order: Vec<Tid> = self
                .tasks
                .range(after..)
                .chain(self.tasks.range(..after))
                .map(|(&tid, _)| tid)
                .collect();
            for tid in order {
                if self.make_ready(tid, now) {
                    self.current = tid;
                    return Ok(tid);
                }
            }
            self.idle(now)?;
        }
    }

    /// Whether task `tid` can run, ending its wait if it is over.
    fn make_ready(&mut self, tid: Tid, now: u64) -> bool {
        let Some(t) = self.tasks.get(&tid) else {
            return false;
        };
        let Some(wait) = t.wait else {
            return !t.dead;
        };
        let tgid = t.tgid;
        if !matches!(wait.on, WaitOn::Vfork(_)) && self.claim_signal(tid) {
            self.interrupt(tid, now);
            return true;
        }
        let ready = match wait.on {
            WaitOn::PipeRead(id) => self
                .pipes
                .get(id)
                .and_then(|p| p.as_ref())
                .is_none_or(|p| p.readable()),
            WaitOn::PipeWrite { pipe, .. } => self
                .pipes
                .get(pipe)
                .and_then(|p| p.as_ref())
                .is_none_or(|p| p.writable()),
            WaitOn::HostRead(fd) => self.host.readable(fd) == Some(true),
            WaitOn::Child => self.child_changed(tgid),
            WaitOn::Vfork(child) => self
                .tasks
                .get(&child)
                .is_none_or(|c| c.vfork_parent != Some(tid)),
            WaitOn::SigWait(set) => {
                let group = self.groups.get(&tgid).map_or(0, |g| g.pending.bits);
                let mine = self.tasks.get(&tid).map_or(0, |t| t.pending.bits);
                (mine | group) & set != 0
            }
            WaitOn::Poll { .. } | WaitOn::Select(_) => self.poll_ready(tid),
            WaitOn::Futex { .. } | WaitOn::Sleep { .. } | WaitOn::Signal => false,
        };
        if ready {
            self.wake(tid, Outcome::Ready, false);
            return true;
        }
        if wait.deadline.is_some_and(|d| now >= d) {
            self.wake(tid, Outcome::TimedOut, false);
            return true;
        }
        false
    }

    /// Ends the wait of parked task `tid` because a signal is to be
    /// delivered: calls interrupted by a handler installed with SA_RESTART
    /// run again after it (read, write, wait4), the others fail with EINTR
    /// (signal(7), "Interruption of system calls and library functions").
    fn interrupt(&mut self, tid: Tid, now: u64) {
        let flags = match self.tasks.get(&tid) {
            Some(t) => {
                let sig = t
                    .pending
                    .first(t.blocked & !signal::UNBLOCKABLE)
                    .unwrap_or(0);
                self.action(t.tgid, sig).flags
            }
            None => return,
        };
        let Some(t) = self.tasks.get_mut(&tid) else {
            return;
        };
        let Some(wait) = t.wait.take() else {
            return;
        };
        let restartable = matches!(
            wait.on,
            WaitOn::PipeRead(_)
                | WaitOn::HostRead(_)
                | WaitOn::Child
                | WaitOn::PipeWrite { done: 0, .. }
        );
        if restartable && flags & signal::SA_RESTART != 0 {
            t.restart = None; // RIP is on the SYSCALL: it runs again after the handler
            return;
        }
        let result = match wait.on {
            WaitOn::PipeWrite { done, .. } if done > 0 => Ok(done),
            WaitOn::Sleep { rem } => {
                if rem != 0 {
                    let left = wait.deadline.unwrap_or(now).saturating_sub(now);
                    let mut ts = [0u8; 16];
                    ts[..8].copy_from_slice(&(left / 1_000_000_000).to_le_bytes());
                    ts[8..].copy_from_slice(&(left % 1_000_000_000).to_le_bytes());
                    let _ = t.write_mem(rem, &ts);
                }
                Err(EINTR)
            }
            _ => Err(EINTR),
        };
        t.complete_syscall(result);
    }

    /// Nothing can run: let a host read block, sleep until a deadline, or
    /// report a deadlock.
    fn idle(&mut self, now: u64) -> Result<(), Exit> {
        if self.tasks.is_empty() {
            return Err(Exit::Signal(
                signal::SIGKILL as u8,
                String::from("no task left to run"),
            ));
        }
        let task_deadline = self
            .tasks
            .values()
            .filter_map(|t| t.wait.and_then(|w| w.deadline).map(|d| (d, t.tid)))
            .min();
        let timer = self.next_timer();
        let earliest = match (task_deadline, timer) {
            (Some(d), Some(a)) => Some(d.min(a)),
            (d, a) => d.or(a),
        };
        let reader = self.tasks.values().find_map(|t| match t.wait?.on {
            WaitOn::HostRead(fd) => Some((t.tid, fd)),
            _ => None,
        });
        if let Some((tid, fd)) = reader {
            let known = self.host.readable(fd).is_some();
            if !(known && earliest.is_some()) {
                self.wake(tid, Outcome::Ready, true);
                return Ok(());
            }
        }
        let Some((deadline, _)) = earliest else {
            return Err(self.deadlock());
        };
        let mut delta = deadline.saturating_sub(now);
        if reader.is_some() {
            delta = delta.min(POLL_STEP_NS);
        }
        self.host
            .sleep(delta / 1_000_000_000, (delta % 1_000_000_000) as u32);
        if self.now_ns() == now {
            // A host whose clock does not move cannot wait: the time is up.
            if let Some((_, tid)) = task_deadline.filter(|&d| Some(d) == earliest)
                && let Some(w) = self.tasks.get_mut(&tid).and_then(|t| t.wait.as_mut())
            {
                w.deadline = Some(0);
            } else if let Some((deadline, _)) = timer {
                self.fire_timers(deadline);
            }
        }
        Ok(())
    }

    /// The end of a run where every task waits for another.
    fn deadlock(&self) -> Exit {
        let waits: Vec<String> = self
            .tasks
            .values()
            .map(|t| {
                let what = match t.wait.map(|w| w.on) {
                    Some(WaitOn::PipeRead(_)) => String::from("read from an empty pipe"),
                    Some(WaitOn::PipeWrite { .. }) => String::from("write to a full pipe"),
                    Some(WaitOn::HostRead(_)) => String::from("host read"),
                    Some(WaitOn::Child) => String::from("wait4"),
                    Some(WaitOn::Futex { key, .. }) => alloc::format!("futex wait at {:#x}", key.1),
                    Some(WaitOn::Sleep { .. }) => String::from("sleep"),
                    Some(WaitOn::Signal) => String::from("waiting for a signal"),
                    Some(WaitOn::SigWait(_)) => String::from("sigtimedwait"),
                    Some(WaitOn::Poll { .. }) => String::from("poll"),
                    Some(WaitOn::Select(_)) => String::from("select"),
                    Some(WaitOn::Vfork(c)) => alloc::format!("vfork child {c}"),
                    None => String::from("running"),
                };
                alloc::format!("tid {} ({what})", t.tid)
            })
            .collect();
        Exit::Signal(
            signal::SIGKILL as u8,
            alloc::format!("deadlock: every task is blocked: {}", waits.join(", ")),
        )
    }

    /// Runs `t` for up to `budget` instructions.
    fn execute(&mut self, t: &mut Task, budget: u64) {
        // A restarted call completes before signals are delivered.
        if t.restart.is_none() {
            self.deliver_signals(t);
        }
        let mut left = budget;
        while left > 0 && t.runnable() {
            let stop = {
                let mut mm = t.mm.borrow_mut();
                let Mm { space, cache, .. } = &mut *mm;
                t.cpu.run_cached(space, cache, &mut left).err()
            };
            match stop {
                None => break,
                Some(Stop::Syscall) => {
                    self.syscall(t);
                    if self.group_exiting(t.tgid) {
                        t.dead = true;
                    }
                    if !t.runnable() {
                        break;
                    }
                    self.deliver_signals(t);
                    if core::mem::take(&mut t.yielded) {
                        self.rotate = true;
                        break;
                    }
                }
                Some(Stop::Exception(e)) => self.fault(t, e),
                Some(Stop::SoftwareInterrupt(3)) => {
                    let why = alloc::format!("int3 at rip {:#x}", t.cpu.rip);
                    self.force_signal(t, signal::SIGTRAP, Exception::Breakpoint, why);
                }
                // Linux delivers SIGSEGV for an INT n the IDT does not allow at CPL 3.
                Some(Stop::SoftwareInterrupt(n)) => {
                    let why = alloc::format!("int {n:#x} at rip {:#x}", t.cpu.rip);
                    self.force_signal(t, signal::SIGSEGV, Exception::GeneralProtection(0), why);
                }
                // Only a PC delivers faults through an IDT; user mode never shuts down.
                Some(Stop::Halt | Stop::TripleFault) => {
                    let why = alloc::format!("hlt at rip {:#x}", t.cpu.rip);
                    self.force_signal(t, signal::SIGSEGV, Exception::GeneralProtection(0), why);
                }
            }
            if self.group_exiting(t.tgid) {
                t.dead = true;
            }
        }
    }

    /// Returns a task to the table after its turn, or ends it.
    fn put_back(&mut self, t: Task) {
        if t.dead || self.group_exiting(t.tgid) {
            self.exit_thread(t);
        } else {
            self.tasks.insert(t.tid, t);
        }
    }

    /// Whether the process `pid` is exiting (or gone).
    pub(super) fn group_exiting(&self, pid: Tid) -> bool {
        self.groups.get(&pid).is_none_or(|g| g.exiting.is_some())
    }

    /// Makes the host's working directory that of process `pid`.
    fn enter_cwd(&mut self, pid: Tid) {
        if let Some(g) = self.groups.get(&pid)
            && g.cwd != self.host_cwd
            && !g.cwd.is_empty()
        {
            let cwd = g.cwd.clone();
            if self.host.chdir(&cwd).is_ok() {
                self.host_cwd = cwd;
            }
        }
    }
}

/// What a system call handler returns to park its task: not an errno the
/// guest ever sees (Linux's ERESTARTSYS plays this part).
pub(super) const BLOCKED: i64 = 512;
