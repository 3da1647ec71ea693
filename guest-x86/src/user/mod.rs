//! Linux user mode: run a static x86_64 Linux program without a kernel
//! (like qemu-x86_64 or Blink). `loader` maps the ELF and builds the
//! stack, `syscall` implements the system calls on top of a `HostOs`.

pub mod host;
pub mod loader;
mod process;
mod sigframe;
#[cfg(feature = "std")]
pub mod std_host;
mod syscall;

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;

use crate::cpu::{Cpu, DecodeCache, Exception, Stop};
use crate::mmu::space::AddressSpace;
use host::{DirEntry, HostFd, HostOs};
use loader::LoadError;

/// Default ceiling on guest RAM for a user-mode process.
pub const DEFAULT_MEMORY_LIMIT: u64 = 2 << 30;

/// Signal numbers used to report how a process ended (asm/signal.h).
pub mod signal {
    /// Illegal instruction.
    pub const SIGILL: u8 = 4;
    /// Trace trap.
    pub const SIGTRAP: u8 = 5;
    /// Abort.
    pub const SIGABRT: u8 = 6;
    /// Bus error.
    pub const SIGBUS: u8 = 7;
    /// Floating-point exception.
    pub const SIGFPE: u8 = 8;
    /// Killed.
    pub const SIGKILL: u8 = 9;
    /// Segmentation violation.
    pub const SIGSEGV: u8 = 11;
}

/// How a guest process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// `exit_group`/`exit` with this status.
    Code(i32),
    /// Terminated by a signal; the text explains a fault's cause (RIP …)
    /// and is empty for a signal sent with kill.
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

/// An open file description as the guest sees it.
#[derive(Clone, Debug)]
struct GuestFile {
    host: HostFd,
    /// Path it was opened with (for `openat` relative to a directory fd).
    path: Vec<u8>,
    /// Linux `O_*` status flags (for `F_GETFL`).
    status_flags: u32,
    close_on_exec: bool,
    /// Directory listing being served by `getdents64`, and the next index.
    listing: Option<(Vec<DirEntry>, usize)>,
    /// Set for a pipe end (then `host` is unused).
    pipe: Option<process::PipeEnd>,
}

/// A user-mode process: CPU, address space and kernel-side state.
pub struct Process<H: HostOs> {
    /// The processor.
    pub cpu: Cpu,
    /// The address space.
    pub mem: AddressSpace,
    /// The host services.
    pub host: H,
    brk_start: u64,
    brk: u64,
    fds: Vec<Option<GuestFile>>,
    /// How many guest descriptors share each host handle.
    host_refs: BTreeMap<HostFd, usize>,
    signal_actions: BTreeMap<u64, [u8; 32]>,
    signal_mask: u64,
    unknown_reported: BTreeSet<u64>,
    umask: u32,
    exit: Option<Exit>,
    decode_cache: DecodeCache,
    /// Processes, pipes and the executable image (fork/execve/wait4).
    procs: process::ProcessTable,
    /// Print every system call and its result on the host's stderr.
    pub trace_syscalls: bool,
    /// Raised, not yet delivered signals (bit n-1 for signal n).
    pending_signals: u64,
    pending_info: BTreeMap<u64, sigframe::SigInfo>,
}

impl<H: HostOs> Process<H> {
    /// Loads `image` (an x86_64 ELF program, with its interpreter if it is
    /// dynamically linked) with `argv` and `envp`; guest
    /// descriptors 0–2 are host handles 0–2.
    pub fn new(
        mut host: H,
        image: &[u8],
        argv: &[Vec<u8>],
        envp: &[Vec<u8>],
    ) -> Result<Process<H>, LoadError> {
        let mut mem = AddressSpace::new(DEFAULT_MEMORY_LIMIT);
        let start = loader::load_program(&mut host, &mut mem, image, argv, envp)?;
        let mut cpu = Cpu::new_long_mode_user();
        cpu.rip = start.rip;
        cpu.gpr[4] = start.rsp;
        let std_file = |host: HostFd, status_flags: u32| {
            Some(GuestFile {
                host,
                path: Vec::new(),
                status_flags,
                close_on_exec: false,
                listing: None,
                pipe: None,
            })
        };
        let mut host_refs = BTreeMap::new();
        for fd in 0..3 {
            host_refs.insert(fd, 1);
        }
        Ok(Process {
            cpu,
            mem,
            host,
            brk_start: start.brk,
            brk: start.brk,
            fds: alloc::vec![std_file(0, 0), std_file(1, 1), std_file(2, 1)],
            host_refs,
            signal_actions: BTreeMap::new(),
            signal_mask: 0,
            unknown_reported: BTreeSet::new(),
            umask: 0o022,
            exit: None,
            decode_cache: DecodeCache::default(),
            procs: process::ProcessTable::new(image),
            trace_syscalls: false,
            pending_signals: 0,
            pending_info: BTreeMap::new(),
        })
    }

    /// Runs until the program exits or dies.
    pub fn run(&mut self) -> Exit {
        loop {
            if let Some(exit) = self.step() {
                return exit;
            }
        }
    }

    /// Executes one instruction (and the system call it makes, if any);
    /// returns how the process ended if it did.
    pub fn step(&mut self) -> Option<Exit> {
        match self.cpu.step_cached(&mut self.mem, &mut self.decode_cache) {
            Ok(()) => None,
            Err(Stop::Syscall) => {
                self.syscall();
                self.deliver_pending();
                let exit = self.exit.take()?;
                self.finish(exit)
            }
            Err(Stop::Exception(e)) => {
                let exit = self.fault_exit(e);
                if let Exit::Signal(sig, _) = exit {
                    let (code, value) = match e {
                        // SEGV_MAPERR / SEGV_ACCERR with the faulting address.
                        Exception::PageFault { addr, .. } => (1, addr),
                        _ => (0x80, 0), // SI_KERNEL
                    };
                    let info = sigframe::SigInfo {
                        code,
                        value,
                        trapno: e.vector() as u64,
                    };
                    if self.deliver_fault(sig as u64, info) {
                        return None;
                    }
                }
                self.finish(exit)
            }
            Err(Stop::SoftwareInterrupt(3)) => Some(Exit::Signal(
                signal::SIGTRAP,
                alloc::format!("int3 at rip {:#x}", self.cpu.rip),
            )),
            // Linux delivers SIGSEGV for an INT n the IDT does not allow at CPL 3.
            Err(Stop::SoftwareInterrupt(n)) => Some(Exit::Signal(
                signal::SIGSEGV,
                alloc::format!("int {n:#x} at rip {:#x}", self.cpu.rip),
            )),
            Err(Stop::Halt) => Some(Exit::Signal(
                signal::SIGSEGV,
                alloc::format!("hlt at rip {:#x}", self.cpu.rip),
            )),
        }
    }

    fn fault_exit(&self, e: Exception) -> Exit {
        let rip = self.cpu.rip;
        let (sig, what) = match e {
            Exception::InvalidOpcode => {
                let mut bytes = [0u8; 8];
                let n = crate::mmu::Memory::fetch(&mut AddressSpaceRef(&self.mem), rip, &mut bytes);
                let hex: Vec<String> = bytes[..n]
                    .iter()
                    .map(|b| alloc::format!("{b:02x}"))
                    .collect();
                (
                    signal::SIGILL,
                    alloc::format!("invalid or unimplemented opcode (bytes {})", hex.join(" ")),
                )
            }
            Exception::DivideError => (signal::SIGFPE, String::from("divide error")),
            Exception::PageFault { addr, write, fetch } => {
                let kind = if fetch {
                    "fetch"
                } else if write {
                    "write"
                } else {
                    "read"
                };
                (
                    signal::SIGSEGV,
                    alloc::format!("page fault on {kind} at {addr:#x}"),
                )
            }
            Exception::GeneralProtection(_) => {
                (signal::SIGSEGV, String::from("general protection fault"))
            }
            Exception::StackFault(_) => (signal::SIGBUS, String::from("stack fault")),
            Exception::AlignmentCheck => (signal::SIGBUS, String::from("alignment check")),
            Exception::FloatingPoint | Exception::SimdFloatingPoint => {
                (signal::SIGFPE, String::from("floating-point exception"))
            }
            Exception::Breakpoint => (signal::SIGTRAP, String::from("breakpoint")),
            Exception::DeviceNotAvailable => {
                (signal::SIGSEGV, String::from("device not available"))
            }
        };
        Exit::Signal(sig, alloc::format!("{what} at rip {rip:#x}"))
    }
}

/// Read-only view used to dump instruction bytes in diagnostics.
struct AddressSpaceRef<'a>(&'a AddressSpace);

impl crate::mmu::Memory for AddressSpaceRef<'_> {
    fn read(&mut self, _addr: u64, _buf: &mut [u8]) -> Result<(), Exception> {
        Err(Exception::GeneralProtection(0))
    }
    fn write(&mut self, _addr: u64, _data: &[u8]) -> Result<(), Exception> {
        Err(Exception::GeneralProtection(0))
    }
    fn fetch(&mut self, addr: u64, buf: &mut [u8]) -> usize {
        self.0.peek_fetch(addr, buf)
    }
}
