//! Signal delivery to guest handlers (Linux x86_64 rt_sigframe: a return
//! address, a ucontext with the saved registers and mask, a siginfo, and an
//! FXSAVE image for the FPU/SSE state), and rt_sigreturn. Synchronous
//! signals come from faults, kill/tgkill to oneself and pipes; pending
//! signals are delivered after a system call returns, lowest number first.
//! Alternate signal stacks (SA_ONSTACK) are not implemented: handlers run
//! on the current stack.

use super::host::errno::*;
use super::host::{Errno, HostOs};
use super::{Exit, Process};
use crate::cpu::flags;
use crate::mmu::Memory;

/// Offsets in `struct rt_sigframe` (arch/x86/include/asm/sigframe.h).
const UCONTEXT: u64 = 8;
const UC_MCONTEXT: u64 = 40;
const UC_SIGMASK: u64 = 296;
const SIGINFO: u64 = UCONTEXT + 304;
const FRAME_SIZE: u64 = SIGINFO + 128;
/// sigcontext field offsets (in u64 slots) for r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp.
const GPR_SLOTS: [usize; 16] = [13, 14, 12, 11, 15, 10, 9, 8, 0, 1, 2, 3, 4, 5, 6, 7];
const SC_RIP: u64 = 16 * 8;
const SC_EFLAGS: u64 = 17 * 8;
const SC_ERR: u64 = 19 * 8;
const SC_TRAPNO: u64 = 20 * 8;
const SC_OLDMASK: u64 = 21 * 8;
const SC_CR2: u64 = 22 * 8;
const SC_FPSTATE: u64 = 23 * 8;

const SIG_DFL: u64 = 0;
const SIG_IGN: u64 = 1;
const SA_NODEFER: u64 = 0x4000_0000;
const SA_RESETHAND: u64 = 0x8000_0000;
/// RFLAGS bits a signal handler's saved context may change on return.
const SIGRETURN_FLAGS: u64 = flags::STATUS | flags::TF | flags::DF | flags::AC;

/// Details of one signal for its siginfo.
#[derive(Clone, Copy, Debug, Default)]
pub struct SigInfo {
    /// si_code (SI_USER 0, SEGV_MAPERR 1, …).
    pub code: i32,
    /// si_addr for faults, or si_pid/si_uid packed for kill.
    pub value: u64,
    /// Exception vector for sigcontext.trapno.
    pub trapno: u64,
}

/// Whether a signal's default action is to be ignored (or stop, which a
/// single-process run treats the same way).
fn default_ignored(sig: u64) -> bool {
    matches!(sig, 17 | 18 | 19 | 20 | 21 | 22 | 23 | 28)
}

impl<H: HostOs> Process<H> {
    fn action(&self, sig: u64) -> (u64, u64, u64, u64) {
        let a = self.signal_actions.get(&sig).copied().unwrap_or([0; 32]);
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&a[i * 8..i * 8 + 8]);
            u64::from_le_bytes(b)
        };
        (word(0), word(1), word(2), word(3))
    }

    /// Marks `sig` pending unless it is ignored.
    pub(super) fn raise(&mut self, sig: u64, info: SigInfo) {
        let (handler, ..) = self.action(sig);
        if handler == SIG_IGN || (handler == SIG_DFL && default_ignored(sig)) {
            return;
        }
        self.pending_signals |= 1 << (sig - 1);
        self.pending_info.insert(sig, info);
    }

    /// Delivers the lowest pending, unblocked signal, if any: runs its
    /// handler or applies the default action (termination).
    pub(super) fn deliver_pending(&mut self) {
        // SIGKILL and SIGSTOP cannot be blocked.
        let deliverable = self.pending_signals & !(self.signal_mask & !(1 << 8 | 1 << 18));
        if deliverable == 0 || self.exit.is_some() {
            return;
        }
        let sig = deliverable.trailing_zeros() as u64 + 1;
        self.pending_signals &= !(1 << (sig - 1));
        let info = self.pending_info.remove(&sig).unwrap_or_default();
        let (handler, ..) = self.action(sig);
        if handler == SIG_DFL {
            // A plain signal death: no diagnostic (the native process prints none).
            self.exit = Some(Exit::Signal(sig as u8, alloc::string::String::new()));
            return;
        }
        if self.push_signal_frame(sig, info).is_err() {
            // No room for the frame: the kernel kills with SIGSEGV.
            self.exit = Some(Exit::Signal(
                11,
                alloc::format!("could not deliver signal {sig}: bad stack"),
            ));
        }
    }

    /// A fault that a handler may take: returns false if no handler exists.
    pub(super) fn deliver_fault(&mut self, sig: u64, info: SigInfo) -> bool {
        let (handler, ..) = self.action(sig);
        if handler == SIG_DFL || handler == SIG_IGN || self.signal_mask & (1 << (sig - 1)) != 0 {
            return false;
        }
        self.push_signal_frame(sig, info).is_ok()
    }

    fn push_signal_frame(&mut self, sig: u64, info: SigInfo) -> Result<(), Errno> {
        let (handler, flags_, restorer, mask) = self.action(sig);
        let cpu = &self.cpu;
        // Skip the red zone, then the FPU image (64-aligned), then the frame.
        let mut sp = cpu.gpr[4].wrapping_sub(128);
        sp = sp.wrapping_sub(512) & !63;
        let fpstate = sp;
        sp = ((sp.wrapping_sub(FRAME_SIZE)) & !15).wrapping_sub(8);
        let mut frame = alloc::vec![0u8; FRAME_SIZE as usize];
        let put = |frame: &mut [u8], off: u64, v: u64| {
            frame[off as usize..off as usize + 8].copy_from_slice(&v.to_le_bytes())
        };
        put(&mut frame, 0, restorer);
        let mc = UCONTEXT + UC_MCONTEXT;
        for (reg, slot) in GPR_SLOTS.iter().enumerate() {
            put(&mut frame, mc + *slot as u64 * 8, cpu.gpr[reg]);
        }
        put(&mut frame, mc + SC_RIP, cpu.rip);
        put(&mut frame, mc + SC_EFLAGS, cpu.rflags);
        put(&mut frame, mc + SC_ERR, 0);
        put(&mut frame, mc + SC_TRAPNO, info.trapno);
        put(&mut frame, mc + SC_OLDMASK, self.signal_mask);
        put(&mut frame, mc + SC_CR2, cpu.cr2);
        put(&mut frame, mc + SC_FPSTATE, fpstate);
        put(&mut frame, UCONTEXT + UC_SIGMASK, self.signal_mask);
        frame[SIGINFO as usize..SIGINFO as usize + 4].copy_from_slice(&(sig as i32).to_le_bytes());
        frame[SIGINFO as usize + 8..SIGINFO as usize + 12]
            .copy_from_slice(&info.code.to_le_bytes());
        put(&mut frame, SIGINFO + 16, info.value);
        crate::cpu::fxsave(&mut self.cpu, &mut self.mem, fpstate).map_err(|_| EFAULT)?;
        self.mem.write(sp, &frame).map_err(|_| EFAULT)?;
        // Enter the handler: rdi = signal, rsi = &siginfo, rdx = &ucontext.
        let cpu = &mut self.cpu;
        cpu.gpr[7] = sig;
        cpu.gpr[6] = sp + SIGINFO;
        cpu.gpr[2] = sp + UCONTEXT;
        cpu.gpr[0] = 0;
        cpu.gpr[4] = sp;
        cpu.rip = handler;
        cpu.rflags &= !(flags::DF | flags::TF);
        self.signal_mask |= mask;
        if flags_ & SA_NODEFER == 0 {
            self.signal_mask |= 1 << (sig - 1);
        }
        if flags_ & SA_RESETHAND != 0 {
            self.signal_actions.remove(&sig);
        }
        Ok(())
    }

    /// rt_sigreturn: restores the context saved by `push_signal_frame`; the
    /// ucontext sits at the stack pointer (the return address was popped).
    pub(super) fn sys_rt_sigreturn(&mut self) -> Result<u64, Errno> {
        let uc = self.cpu.gpr[4];
        let mut buf = alloc::vec![0u8; 304];
        self.mem.read(uc, &mut buf).map_err(|_| EFAULT)?;
        let get = |off: u64| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[off as usize..off as usize + 8]);
            u64::from_le_bytes(b)
        };
        let mc = UC_MCONTEXT;
        let fpstate = get(mc + SC_FPSTATE);
        if fpstate != 0 {
            crate::cpu::fxrstor(&mut self.cpu, &mut self.mem, fpstate).map_err(|_| EFAULT)?;
        }
        for (reg, slot) in GPR_SLOTS.iter().enumerate() {
            self.cpu.gpr[reg] = get(mc + *slot as u64 * 8);
        }
        self.cpu.rip = get(mc + SC_RIP);
        let saved = get(mc + SC_EFLAGS);
        self.cpu.rflags = (self.cpu.rflags & !SIGRETURN_FLAGS) | (saved & SIGRETURN_FLAGS);
        self.signal_mask = get(UC_SIGMASK) & !(1 << 8 | 1 << 18);
        // The syscall result must not clobber the restored RAX.
        Ok(self.cpu.gpr[0])
    }
}
