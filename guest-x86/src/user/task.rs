//! Tasks and what they share. A task is one thread with its own `Cpu`; a
//! thread group (`Group`) is a process. Like Linux's `clone` flags, the
//! address space (`Mm`, CLONE_VM) and the descriptor table (`Files`,
//! CLONE_FILES) are reference-counted and shared by the tasks created with
//! those flags; the signal dispositions (`SigHand`) belong to the process.

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;

use super::host::errno::*;
use super::host::{Errno, HostFd};
use super::pipe::PipeEnd;
use super::sigframe::SigInfo;
use super::{Exit, GuestFile};
use crate::cpu::{Cpu, DecodeCache};
use crate::mmu::Memory;
use crate::mmu::space::AddressSpace;

/// Length of the SYSCALL instruction (0F 05): how far a parked call's RIP
/// is moved back so that it runs again.
pub const SYSCALL_LEN: u64 = 2;

/// A thread id; a process id is its first thread's id.
pub type Tid = u64;

/// An address space and what belongs to it.
pub struct Mm {
    /// Unique id: futex keys are (mm id, address).
    pub id: u64,
    /// The pages.
    pub space: AddressSpace,
    /// Decoded instructions, valid for this space's code generation.
    pub cache: DecodeCache,
    /// Start of the heap (end of the program image).
    pub brk_start: u64,
    /// Current program break.
    pub brk: u64,
}

/// A descriptor table.
#[derive(Clone, Default)]
pub struct Files {
    /// Open files by descriptor number.
    pub fds: Vec<Option<GuestFile>>,
}

/// One `struct sigaction` (kernel layout: handler, flags, restorer, mask).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    /// SIG_DFL (0), SIG_IGN (1) or the handler's address.
    pub handler: u64,
    /// SA_* flags.
    pub flags: u64,
    /// Where the handler returns to (SA_RESTORER).
    pub restorer: u64,
    /// Signals blocked while the handler runs.
    pub mask: u64,
}

impl SigAction {
    /// Decodes the 32-byte kernel structure.
    pub fn from_bytes(b: &[u8; 32]) -> SigAction {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        SigAction {
            handler: word(0),
            flags: word(1),
            restorer: word(2),
            mask: word(3),
        }
    }

    /// Encodes the 32-byte kernel structure.
    pub fn to_bytes(self) -> [u8; 32] {
        let mut b = [0u8; 32];
        for (i, w) in [self.handler, self.flags, self.restorer, self.mask]
            .iter()
            .enumerate()
        {
            b[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        b
    }
}

/// Signal dispositions, indexed by signal number - 1.
#[derive(Clone)]
pub struct SigHand {
    /// The action of each of the 64 signals.
    pub actions: [SigAction; 64],
}

impl Default for SigHand {
    fn default() -> Self {
        SigHand {
            actions: [SigAction::default(); 64],
        }
    }
}

impl SigHand {
    /// The action for `sig` (1–64).
    pub fn get(&self, sig: u64) -> SigAction {
        self.actions
            .get((sig as usize).wrapping_sub(1))
            .copied()
            .unwrap_or_default()
    }
}

/// Raised, not yet delivered signals (bit n-1 for signal n). Like Linux's
/// standard signals, a signal already pending is not queued twice (real-time
/// signals are coalesced the same way here).
#[derive(Clone, Default)]
pub struct SigQueue {
    /// Pending signals.
    pub bits: u64,
    /// The siginfo of each pending signal.
    pub info: BTreeMap<u64, SigInfo>,
}

impl SigQueue {
    /// Marks `sig` pending (the first siginfo wins).
    pub fn add(&mut self, sig: u64, info: SigInfo) {
        if self.bits & bit(sig) == 0 {
            self.bits |= bit(sig);
            self.info.insert(sig, info);
        }
    }

    /// Removes `sig`, returning its siginfo.
    pub fn take(&mut self, sig: u64) -> SigInfo {
        self.bits &= !bit(sig);
        self.info.remove(&sig).unwrap_or_default()
    }

    /// The lowest pending signal not in `blocked`.
    pub fn first(&self, blocked: u64) -> Option<u64> {
        let ready = self.bits & !blocked;
        (ready != 0).then(|| ready.trailing_zeros() as u64 + 1)
    }
}

/// The mask bit of signal `sig` (1–64).
pub fn bit(sig: u64) -> u64 {
    1u64.checked_shl((sig as u32).wrapping_sub(1)).unwrap_or(0)
}

/// An alternate signal stack (sigaltstack(2)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AltStack {
    /// Lowest address.
    pub sp: u64,
    /// Size in bytes; 0 when disabled.
    pub size: u64,
    /// SS_AUTODISARM: disable while a handler runs on it.
    pub autodisarm: bool,
}

impl AltStack {
    /// Whether `rsp` lies on this stack (Linux's on_sig_stack).
    pub fn contains(&self, rsp: u64) -> bool {
        self.size != 0 && rsp > self.sp && rsp - self.sp <= self.size
    }
}

/// What a blocked task waits for. The system call it is in is restarted
/// (RIP back on the SYSCALL, RAX its number) when the wait may be over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitOn {
    /// Data or end-of-file on a pipe.
    PipeRead(usize),
    /// Room in a pipe, or its readers gone; `done` bytes already written.
    PipeWrite {
        /// The pipe.
        pipe: usize,
        /// Bytes of this write already in the pipe.
        done: u64,
    },
    /// A host read that might block the whole emulator (a terminal or a
    /// host pipe): it runs when the host says data is there or when no
    /// other task can run.
    HostRead(HostFd),
    /// A child to change state (wait4).
    Child,
    /// A FUTEX_WAKE on (mm id, address) matching `bitset`.
    Futex {
        /// (mm id, address).
        key: (u64, u64),
        /// FUTEX_WAIT_BITSET mask.
        bitset: u32,
    },
    /// Only the deadline (nanosleep); where to store the time left if a
    /// signal interrupts (0 for nowhere).
    Sleep {
        /// The `rem` timespec pointer.
        rem: u64,
    },
    /// Any signal (rt_sigsuspend, pause).
    Signal,
    /// One of these signals to be pending (rt_sigtimedwait).
    SigWait(u64),
    /// A descriptor of a pollfd array to be ready (poll, ppoll).
    Poll {
        /// The array.
        fds: u64,
        /// Its length.
        nfds: u64,
    },
    /// A descriptor of fd_sets to be ready (select, pselect6).
    Select(super::poll::SelectSets),
    /// A vfork child to exec or exit.
    Vfork(Tid),
}

/// A blocked task's wait.
#[derive(Clone, Copy, Debug)]
pub struct Wait {
    /// The event.
    pub on: WaitOn,
    /// Monotonic nanoseconds at which the wait times out.
    pub deadline: Option<u64>,
    /// Order of arrival (FIFO wake-ups for futexes).
    pub seq: u64,
}

/// Why a blocked system call runs again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The awaited condition may hold now: try again.
    Ready,
    /// The deadline passed.
    TimedOut,
    /// Woken explicitly (FUTEX_WAKE, a vfork child's exec or exit).
    Woken,
}

/// Handed to a restarted system call: what happened while it was blocked.
#[derive(Clone, Copy, Debug)]
pub struct Restart {
    /// Why it runs again.
    pub outcome: Outcome,
    /// The original deadline, so that a retry does not start a new timeout.
    pub deadline: Option<u64>,
    /// The wait it was in.
    pub on: WaitOn,
    /// The emulator may block on the host now (no other task can run).
    pub may_block: bool,
}

/// One thread.
pub struct Task {
    /// Thread id.
    pub tid: Tid,
    /// Thread group (process) id.
    pub tgid: Tid,
    /// The processor state.
    pub cpu: Cpu,
    /// The address space (shared with CLONE_VM).
    pub mm: Rc<RefCell<Mm>>,
    /// The descriptor table (shared with CLONE_FILES).
    pub files: Rc<RefCell<Files>>,
    /// Blocked signals.
    pub blocked: u64,
    /// Signals sent to this thread (tgkill, faults).
    pub pending: SigQueue,
    /// The alternate signal stack.
    pub altstack: AltStack,
    /// CLONE_CHILD_CLEARTID / set_tid_address: zeroed and woken at exit.
    pub clear_child_tid: u64,
    /// set_robust_list: the head of the robust futex list.
    pub robust_list: u64,
    /// Set while blocked.
    pub wait: Option<Wait>,
    /// Set when a blocked system call is restarted.
    pub restart: Option<Restart>,
    /// rt_sigsuspend: the mask to restore once a handler has been entered.
    pub suspend_mask: Option<u64>,
    /// The vfork parent waiting for this task to exec or exit.
    pub vfork_parent: Option<Tid>,
    /// The thread has ended (exit, or its group is exiting).
    pub dead: bool,
    /// Status given to `exit` (the group's status if it is the last thread).
    pub exit_code: i32,
    /// sched_yield: end the time slice.
    pub yielded: bool,
    /// The thread's name (prctl PR_SET_NAME; the program's name at exec).
    pub comm: [u8; 16],
}

/// The name a thread gets from the program it runs: the file name's last
/// component, cut to 15 bytes (fs/exec.c __set_task_comm).
pub fn comm_of(path: &[u8]) -> [u8; 16] {
    let base = path.rsplit(|&b| b == b'/').next().unwrap_or_default();
    let mut comm = [0u8; 16];
    let n = base.len().min(15);
    comm[..n].copy_from_slice(&base[..n]);
    comm
}

impl Task {
    /// Whether the task can execute instructions now.
    pub fn runnable(&self) -> bool {
        self.wait.is_none() && !self.dead
    }

    /// Finishes a parked system call from outside (a signal interrupted
    /// it): RIP past the SYSCALL, the result in RAX.
    pub fn complete_syscall(&mut self, result: Result<u64, Errno>) {
        self.cpu.rip = self.cpu.rip.wrapping_add(SYSCALL_LEN);
        self.cpu.gpr[0] = match result {
            Ok(v) => v,
            Err(e) => (-e) as u64,
        };
        self.wait = None;
        self.restart = None;
    }

    /// Reads guest memory with user permissions.
    pub fn read_mem(&self, addr: u64, len: usize) -> Result<Vec<u8>, Errno> {
        let mut buf = alloc::vec![0u8; len];
        self.mm
            .borrow_mut()
            .space
            .read(addr, &mut buf)
            .map_err(|_| EFAULT)?;
        Ok(buf)
    }

    /// Writes guest memory with user permissions.
    pub fn write_mem(&self, addr: u64, data: &[u8]) -> Result<(), Errno> {
        self.mm
            .borrow_mut()
            .space
            .write(addr, data)
            .map_err(|_| EFAULT)
    }

    /// Reads a little-endian u64.
    pub fn read_u64(&self, addr: u64) -> Result<u64, Errno> {
        let mut b = [0u8; 8];
        self.mm
            .borrow_mut()
            .space
            .read(addr, &mut b)
            .map_err(|_| EFAULT)?;
        Ok(u64::from_le_bytes(b))
    }

    /// Reads a little-endian u32.
    pub fn read_u32(&self, addr: u64) -> Result<u32, Errno> {
        let mut b = [0u8; 4];
        self.mm
            .borrow_mut()
            .space
            .read(addr, &mut b)
            .map_err(|_| EFAULT)?;
        Ok(u32::from_le_bytes(b))
    }

    /// A `struct timespec` as nanoseconds (saturating); EINVAL for a
    /// negative time or nanoseconds out of range, as Linux checks.
    pub fn read_timespec_ns(&self, addr: u64) -> Result<u64, Errno> {
        let (s, ns) = (
            self.read_u64(addr)? as i64,
            self.read_u64(addr.wrapping_add(8))? as i64,
        );
        if s < 0 || !(0..1_000_000_000).contains(&ns) {
            return Err(EINVAL);
        }
        Ok((s as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(ns as u64))
    }

    /// A NUL-terminated string (at most PATH_MAX bytes).
    pub fn read_cstr(&self, addr: u64) -> Result<Vec<u8>, Errno> {
        let mut mm = self.mm.borrow_mut();
        let mut out = Vec::new();
        loop {
            let mut b = [0u8];
            mm.space
                .read(addr.wrapping_add(out.len() as u64), &mut b)
                .map_err(|_| EFAULT)?;
            if b[0] == 0 {
                return Ok(out);
            }
            out.push(b[0]);
            if out.len() >= 4096 {
                return Err(ENAMETOOLONG);
            }
        }
    }
}

/// A thread group: one process.
pub struct Group {
    /// Process id.
    pub pid: Tid,
    /// Parent's process id (1 once orphaned, as if init had adopted it).
    pub ppid: Tid,
    /// Process group.
    pub pgid: Tid,
    /// Session.
    pub sid: Tid,
    /// Live threads.
    pub threads: Vec<Tid>,
    /// Signal dispositions (shared by the threads; CLONE_SIGHAND).
    pub sighand: Rc<RefCell<SigHand>>,
    /// Signals sent to the process (kill), taken by any thread not blocking them.
    pub pending: SigQueue,
    /// The running image (for execve of /proc/self/exe).
    pub exe: Rc<[u8]>,
    /// Where it came from, absolute (readlink of /proc/self/exe); empty if unknown.
    pub exe_path: Vec<u8>,
    /// Working directory (the host has one; it is switched with the process).
    pub cwd: Vec<u8>,
    /// File creation mask.
    pub umask: u32,
    /// Signal sent to the parent at exit (SIGCHLD for fork; 0 for none).
    pub exit_signal: u64,
    /// The ITIMER_REAL timer (alarm, setitimer), if armed.
    pub itimer: Option<super::timer::ITimer>,
    /// POSIX timers by id (timer_create).
    pub timers: Vec<Option<super::timer::PosixTimer>>,
    /// Set once the process is exiting; its status.
    pub exiting: Option<Exit>,
    /// Every thread has ended: waiting for the parent's wait4.
    pub zombie: bool,
}

/// One end of a pipe, or a host file: what a descriptor refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backing {
    /// A host file handle.
    Host(HostFd),
    /// A pipe end.
    Pipe(PipeEnd),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_queue_coalesces_and_respects_the_mask() {
        let mut q = SigQueue::default();
        q.add(10, SigInfo::user(5, 0));
        q.add(10, SigInfo::user(6, 0)); // already pending: not queued twice
        q.add(2, SigInfo::default());
        assert_eq!(q.first(0), Some(2));
        assert_eq!(q.first(bit(2)), Some(10));
        assert_eq!(q.take(10).value, 5, "the first siginfo is kept");
        assert_eq!(q.first(bit(2)), None);
        assert_eq!(bit(0), 0);
        assert_eq!(bit(64), 1 << 63);
        assert_eq!(bit(65), 0);
    }

    #[test]
    fn sigaction_round_trips() {
        let a = SigAction {
            handler: 0x401000,
            flags: 0x0400_0000,
            restorer: 0x402000,
            mask: 1 << 9,
        };
        assert_eq!(SigAction::from_bytes(&a.to_bytes()), a);
    }
}
