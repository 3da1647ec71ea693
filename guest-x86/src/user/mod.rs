//! Linux user mode: run x86_64 Linux programs without a kernel (like
//! qemu-x86_64 or Blink). `loader` maps the ELF (and its interpreter) and
//! builds the stack, `syscall` implements the system calls on top of a
//! `HostOs`, `sched` runs the processes and threads the program starts,
//! each with its own CPU, in turns in the one host thread.

pub mod host;
pub mod loader;
#[cfg(feature = "std")]
pub mod std_host;

mod fd;
mod futex;
mod memory;
mod pipe;
mod poll;
mod process;
mod sched;
mod sigframe;
pub mod signal;
mod syscall;
mod task;
mod timer;

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::{RefCell, RefMut};

use crate::cpu::{Cpu, DecodeCache};
use crate::mmu::space::AddressSpace;
use host::{DirEntry, HostFd, HostOs};
use loader::LoadError;
use task::{Backing, Files, Group, Mm, SigHand, SigQueue, Task, Tid};

/// Default ceiling on the guest RAM all processes of a run share (`--mem`).
pub const DEFAULT_MEMORY_LIMIT: u64 = 2 << 30;
/// Smallest and largest `--mem` in user mode, in MiB.
pub const MEMORY_LIMIT_MIB: core::ops::RangeInclusive<u64> = 16..=(1 << 20);

/// Parses a `--mem` value (MiB) into bytes, or says why it is refused.
pub fn parse_memory_limit(mib: &[u8]) -> Result<u64, String> {
    let text = core::str::from_utf8(mib).map_err(|_| String::from("not a number"))?;
    let mib: u64 = text
        .parse()
        .map_err(|_| String::from("not a number of MiB"))?;
    if !MEMORY_LIMIT_MIB.contains(&mib) {
        return Err(alloc::format!(
            "out of range ({} to {} MiB)",
            MEMORY_LIMIT_MIB.start(),
            MEMORY_LIMIT_MIB.end()
        ));
    }
    Ok(mib << 20)
}

/// The first process's id; its parent (not emulated) is one less.
pub const FIRST_PID: u64 = 1000;

/// How a guest process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// `exit_group`/`exit` with this status.
    Code(i32),
    /// Terminated by a signal; the text explains a fault's cause (RIP …)
    /// or a deadlock, and is empty for a signal sent with kill.
    Signal(u8, String),
}

impl Exit {
    /// The shell-style exit status (128 + signal for a signal).
    pub fn status(&self) -> i32 {
        match self {
            Exit::Code(c) => *c & 0xff,
            Exit::Signal(s, _) => 128 + *s as i32,
        }
    }
}

/// An open file as a guest descriptor sees it.
#[derive(Clone, Debug)]
struct GuestFile {
    /// Host handle or pipe end.
    backing: Backing,
    /// Absolute path it was opened with (for `openat` relative to a
    /// directory descriptor, and `fchdir`); empty for pipes.
    path: Vec<u8>,
    /// Linux `O_*` status flags (for `F_GETFL`).
    status_flags: u32,
    close_on_exec: bool,
    /// Directory listing being served by `getdents64`, and the next index.
    listing: Option<(Vec<DirEntry>, usize)>,
}

/// A user-mode run: the program started by `new` and every process and
/// thread it creates, over one host.
pub struct Process<H: HostOs> {
    /// The host services.
    pub host: H,
    /// Print every system call and its result on the host's stderr.
    pub trace_syscalls: bool,
    /// Every live task except the one running at the moment.
    tasks: BTreeMap<Tid, Task>,
    /// Processes, live and zombie.
    groups: BTreeMap<Tid, Group>,
    /// Pipe buffers by id.
    pipes: Vec<Option<pipe::Pipe>>,
    /// Pipes created so far (their inode numbers).
    pipe_serial: u64,
    /// How many guest descriptors share each host handle.
    host_refs: BTreeMap<HostFd, usize>,
    unknown_reported: BTreeSet<u64>,
    /// Next process/thread id.
    next_id: Tid,
    /// Last address-space id handed out.
    next_mm: u64,
    /// Order of blocking (FIFO futex wake-ups).
    wait_seq: u64,
    /// The host's working directory as last set.
    host_cwd: Vec<u8>,
    /// The first process: its end ends the run.
    initial: Tid,
    /// The task that ran last.
    current: Tid,
    /// Its time slice is over: the next task's turn.
    rotate: bool,
    /// How the run ended.
    finished: Option<Exit>,
}

impl<H: HostOs> Process<H> {
    /// Loads `image` (an x86_64 ELF program, with its interpreter if it is
    /// dynamically linked) with `argv` and `envp`; guest descriptors 0–2
    /// are host handles 0–2. Guest RAM is bounded by [`DEFAULT_MEMORY_LIMIT`].
    pub fn new(
        host: H,
        image: &[u8],
        argv: &[Vec<u8>],
        envp: &[Vec<u8>],
    ) -> Result<Process<H>, LoadError> {
        Process::with_memory_limit(host, image, argv, envp, DEFAULT_MEMORY_LIMIT)
    }

    /// As [`Process::new`], with at most `memory_limit` bytes of guest RAM
    /// shared by every process and thread of the run: a page the limit
    /// cannot back ends its process as Linux's OOM killer would.
    pub fn with_memory_limit(
        mut host: H,
        image: &[u8],
        argv: &[Vec<u8>],
        envp: &[Vec<u8>],
        memory_limit: u64,
    ) -> Result<Process<H>, LoadError> {
        let mut space = AddressSpace::new(memory_limit);
        let start = loader::load_program(&mut host, &mut space, image, argv, envp)?;
        let mut cpu = Cpu::new_long_mode_user();
        cpu.rip = start.rip;
        cpu.gpr[4] = start.rsp;
        let std_file = |h: HostFd, status_flags: u32| {
            Some(GuestFile {
                backing: Backing::Host(h),
                path: Vec::new(),
                status_flags,
                close_on_exec: false,
                listing: None,
            })
        };
        let mut host_refs = BTreeMap::new();
        for fd in 0..3 {
            host_refs.insert(fd, 1);
        }
        let cwd = host.getcwd().unwrap_or_default();
        let pid = FIRST_PID;
        let task = Task {
            tid: pid,
            tgid: pid,
            cpu,
            mm: Rc::new(RefCell::new(Mm {
                id: 1,
                space,
                cache: DecodeCache::default(),
                brk_start: start.brk,
                brk: start.brk,
            })),
            files: Rc::new(RefCell::new(Files {
                fds: alloc::vec![std_file(0, 0), std_file(1, 1), std_file(2, 1)],
            })),
            blocked: 0,
            pending: SigQueue::default(),
            altstack: task::AltStack::default(),
            clear_child_tid: 0,
            robust_list: 0,
            wait: None,
            restart: None,
            suspend_mask: None,
            vfork_parent: None,
            dead: false,
            exit_code: 0,
            yielded: false,
            comm: task::comm_of(argv.first().map_or(&b""[..], |a| a.as_slice())),
        };
        // Started by a non-interactive parent: in its process group and
        // session, not leading one (so setsid succeeds, as it would).
        let group = Group {
            pid,
            ppid: pid - 1,
            pgid: pid - 1,
            sid: pid - 1,
            threads: alloc::vec![pid],
            sighand: Rc::new(RefCell::new(SigHand::default())),
            pending: SigQueue::default(),
            exe: Rc::from(image),
            exe_path: Vec::new(),
            cwd: cwd.clone(),
            umask: 0o022,
            exit_signal: signal::SIGCHLD,
            itimer: None,
            timers: Vec::new(),
            exiting: None,
            zombie: false,
        };
        Ok(Process {
            host,
            trace_syscalls: false,
            tasks: BTreeMap::from([(pid, task)]),
            groups: BTreeMap::from([(pid, group)]),
            pipes: Vec::new(),
            pipe_serial: 0,
            host_refs,
            unknown_reported: BTreeSet::new(),
            next_id: pid + 1,
            next_mm: 1,
            wait_seq: 0,
            host_cwd: cwd,
            initial: pid,
            current: pid,
            rotate: false,
            finished: None,
        })
    }

    /// The processor of the task that runs next (the first thread, until
    /// others exist), if it is alive.
    pub fn cpu(&self) -> Option<&Cpu> {
        self.tasks.get(&self.current).map(|t| &t.cpu)
    }

    /// The processor of the task that runs next, to change its registers.
    pub fn cpu_mut(&mut self) -> Option<&mut Cpu> {
        self.tasks.get_mut(&self.current).map(|t| &mut t.cpu)
    }

    /// The address space of the task that runs next.
    pub fn memory(&self) -> Option<RefMut<'_, AddressSpace>> {
        let t = self.tasks.get(&self.current)?;
        Some(RefMut::map(t.mm.borrow_mut(), |mm| &mut mm.space))
    }

    /// Says where the first program's image came from (made absolute
    /// against the working directory), for readlink of /proc/self/exe.
    pub fn set_exe_path(&mut self, path: &[u8]) {
        let full = if path.first() == Some(&b'/') {
            path.to_vec()
        } else {
            fd::join_path(self.host.getcwd().unwrap_or_default(), path)
        };
        if let Some(g) = self.groups.get_mut(&self.initial) {
            g.exe_path = full;
        }
    }

    /// Number of live tasks (threads of every process).
    pub fn task_count(&self) -> usize {
        self.tasks.len()
    }
}
