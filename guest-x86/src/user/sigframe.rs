//! Signal frames (Linux x86_64 rt_sigframe: a return address, a ucontext
//! with the alternate-stack settings, the saved registers and mask, a
//! siginfo, and an FXSAVE image for the FPU/SSE state), and rt_sigreturn.
//! A handler installed with SA_ONSTACK runs on the thread's alternate
//! stack (sigaltstack(2)) unless it is already on it.

use super::host::errno::*;
use super::host::{Errno, HostOs};
use super::task::{AltStack, SigAction, Task};
use super::{Process, signal};
use crate::cpu::flags;

/// Offsets in `struct rt_sigframe` (arch/x86/include/asm/sigframe.h).
const UCONTEXT: u64 = 8;
const UC_STACK: u64 = 16;
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

const SA_ONSTACK: u64 = 0x0800_0000;
const SA_NODEFER: u64 = 0x4000_0000;
const SA_RESETHAND: u64 = 0x8000_0000;
/// sigaltstack flags (uapi/linux/signal.h).
pub const SS_ONSTACK: u32 = 1;
/// The alternate stack is disabled.
pub const SS_DISABLE: u32 = 2;
/// Disarm the stack while a handler runs on it.
pub const SS_AUTODISARM: u32 = 1 << 31;
/// Smallest alternate stack accepted (MINSIGSTKSZ).
pub const MINSIGSTKSZ: u64 = 2048;
/// RFLAGS bits a signal handler's saved context may change on return.
const SIGRETURN_FLAGS: u64 = flags::STATUS | flags::TF | flags::DF | flags::AC;

/// Details of one signal for its siginfo.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigInfo {
    /// si_code (SI_USER 0, SI_TKILL -6, SEGV_MAPERR 1, CLD_EXITED 1, …).
    pub code: i32,
    /// The union's first word: si_addr for faults, si_pid | si_uid << 32
    /// for kill and SIGCHLD, si_tid | si_overrun << 32 for timers.
    pub value: u64,
    /// Its second word: si_status for SIGCHLD, si_value for timers.
    pub extra: u64,
    /// Exception vector for sigcontext.trapno.
    pub trapno: u64,
}

impl SigInfo {
    /// A signal sent by process `pid` (uid 0) with si_code `code`.
    pub fn user(pid: u64, code: i32) -> SigInfo {
        SigInfo {
            code,
            value: pid & 0xffff_ffff,
            ..SigInfo::default()
        }
    }
}

/// A `siginfo_t` (128 bytes): signo, errno, code, then the union
/// (uapi/asm-generic/siginfo.h) at offset 16.
pub fn siginfo_bytes(sig: u64, info: &SigInfo) -> [u8; 128] {
    let mut b = [0u8; 128];
    b[..4].copy_from_slice(&(sig as i32).to_le_bytes());
    b[8..12].copy_from_slice(&info.code.to_le_bytes());
    b[16..24].copy_from_slice(&info.value.to_le_bytes());
    b[24..32].copy_from_slice(&info.extra.to_le_bytes());
    b
}

/// The ss_flags sigaltstack reports for a thread at `rsp` (Linux's sas_ss_flags).
pub fn altstack_flags(stack: &AltStack, rsp: u64) -> u32 {
    let state = if stack.size == 0 {
        SS_DISABLE
    } else if stack.contains(rsp) {
        SS_ONSTACK
    } else {
        0
    };
    state | if stack.autodisarm { SS_AUTODISARM } else { 0 }
}

/// Changes the alternate stack as sigaltstack(2) does for a thread at `rsp`.
pub fn set_altstack(
    stack: &mut AltStack,
    rsp: u64,
    sp: u64,
    flags: u32,
    size: u64,
) -> Result<(), Errno> {
    if stack.contains(rsp) {
        return Err(EPERM);
    }
    let autodisarm = flags & SS_AUTODISARM != 0;
    match flags & !SS_AUTODISARM {
        SS_DISABLE => *stack = AltStack::default(),
        // SS_ONSTACK is accepted as 0 for old programs (kernel/signal.c).
        0 | SS_ONSTACK => {
            if size < MINSIGSTKSZ {
                return Err(ENOMEM);
            }
            *stack = AltStack {
                sp,
                size,
                autodisarm,
            };
        }
        _ => return Err(EINVAL),
    }
    Ok(())
}

impl<H: HostOs> Process<H> {
    /// Enters the handler of `sig`: builds the frame on the thread's stack
    /// (or its alternate stack) and points RIP at the handler.
    pub(super) fn push_signal_frame(
        &mut self,
        t: &mut Task,
        sig: u64,
        info: SigInfo,
        action: SigAction,
    ) -> Result<(), Errno> {
        let rsp = t.cpu.gpr[4];
        let stack_flags = altstack_flags(&t.altstack, rsp);
        let saved_stack = t.altstack;
        let switch = action.flags & SA_ONSTACK != 0 && stack_flags & (SS_DISABLE | SS_ONSTACK) == 0;
        let mut sp = if switch {
            t.altstack.sp.wrapping_add(t.altstack.size)
        } else {
            rsp.wrapping_sub(128) // below the red zone
        };
        // The FPU image (64-aligned), then the frame.
        sp = sp.wrapping_sub(512) & !63;
        let fpstate = sp;
        sp = ((sp.wrapping_sub(FRAME_SIZE)) & !15).wrapping_sub(8);
        let mask = t.suspend_mask.take().unwrap_or(t.blocked);
        let mut frame = alloc::vec![0u8; FRAME_SIZE as usize];
        let put = |frame: &mut [u8], off: u64, v: u64| {
            frame[off as usize..off as usize + 8].copy_from_slice(&v.to_le_bytes())
        };
        put(&mut frame, 0, action.restorer);
        put(&mut frame, UCONTEXT + UC_STACK, saved_stack.sp);
        put(&mut frame, UCONTEXT + UC_STACK + 8, stack_flags as u64);
        put(&mut frame, UCONTEXT + UC_STACK + 16, saved_stack.size);
        let mc = UCONTEXT + UC_MCONTEXT;
        let cpu = &t.cpu;
        for (reg, slot) in GPR_SLOTS.iter().enumerate() {
            put(&mut frame, mc + *slot as u64 * 8, cpu.gpr[reg]);
        }
        put(&mut frame, mc + SC_RIP, cpu.rip);
        put(&mut frame, mc + SC_EFLAGS, cpu.rflags);
        put(&mut frame, mc + SC_ERR, 0);
        put(&mut frame, mc + SC_TRAPNO, info.trapno);
        put(&mut frame, mc + SC_OLDMASK, mask);
        put(&mut frame, mc + SC_CR2, cpu.cr2);
        put(&mut frame, mc + SC_FPSTATE, fpstate);
        put(&mut frame, UCONTEXT + UC_SIGMASK, mask);
        let si = SIGINFO as usize;
        frame[si..si + 128].copy_from_slice(&siginfo_bytes(sig, &info));
        {
            let mut mm = t.mm.borrow_mut();
            crate::cpu::fxsave(&mut t.cpu, &mut mm.space, fpstate).map_err(|_| EFAULT)?;
        }
        t.write_mem(sp, &frame)?;
        if switch && t.altstack.autodisarm {
            t.altstack = AltStack::default();
        }
        // Enter the handler: rdi = signal, rsi = &siginfo, rdx = &ucontext.
        let cpu = &mut t.cpu;
        cpu.gpr[7] = sig;
        cpu.gpr[6] = sp + SIGINFO;
        cpu.gpr[2] = sp + UCONTEXT;
        cpu.gpr[0] = 0;
        cpu.gpr[4] = sp;
        cpu.rip = action.handler;
        cpu.rflags &= !(flags::DF | flags::TF);
        t.blocked = mask | action.mask;
        if action.flags & SA_NODEFER == 0 {
            t.blocked |= super::task::bit(sig);
        }
        t.blocked &= !signal::UNBLOCKABLE;
        t.restart = None;
        if action.flags & SA_RESETHAND != 0
            && let Some(g) = self.groups.get(&t.tgid)
        {
            g.sighand.borrow_mut().actions[sig as usize - 1] = SigAction::default();
        }
        Ok(())
    }

    /// rt_sigreturn: restores the context saved by `push_signal_frame`; the
    /// ucontext sits at the stack pointer (the return address was popped).
    pub(super) fn sys_rt_sigreturn(&mut self, t: &mut Task) -> Result<u64, Errno> {
        let uc = t.cpu.gpr[4];
        let buf = t.read_mem(uc, 304)?;
        let get = |off: u64| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[off as usize..off as usize + 8]);
            u64::from_le_bytes(b)
        };
        let mc = UC_MCONTEXT;
        let fpstate = get(mc + SC_FPSTATE);
        if fpstate != 0 {
            let mut mm = t.mm.borrow_mut();
            crate::cpu::fxrstor(&mut t.cpu, &mut mm.space, fpstate).map_err(|_| EFAULT)?;
        }
        let rsp_now = t.cpu.gpr[4];
        for (reg, slot) in GPR_SLOTS.iter().enumerate() {
            t.cpu.gpr[reg] = get(mc + *slot as u64 * 8);
        }
        t.cpu.rip = get(mc + SC_RIP);
        let saved = get(mc + SC_EFLAGS);
        t.cpu.rflags = (t.cpu.rflags & !SIGRETURN_FLAGS) | (saved & SIGRETURN_FLAGS);
        t.blocked = get(UC_SIGMASK) & !signal::UNBLOCKABLE;
        // restore_altstack (kernel/signal.c): as sigaltstack from the
        // handler's stack, errors ignored; it matters for SS_AUTODISARM.
        let _ = set_altstack(
            &mut t.altstack,
            rsp_now,
            get(UC_STACK),
            get(UC_STACK + 8) as u32,
            get(UC_STACK + 16),
        );
        // The syscall result must not clobber the restored RAX.
        Ok(t.cpu.gpr[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigaltstack_rules() {
        let mut s = AltStack::default();
        assert_eq!(altstack_flags(&s, 0x1000), SS_DISABLE);
        assert_eq!(set_altstack(&mut s, 0, 0x10000, 0, 1024), Err(ENOMEM));
        assert_eq!(set_altstack(&mut s, 0, 0x10000, 7, 8192), Err(EINVAL));
        assert_eq!(set_altstack(&mut s, 0, 0x10000, 0, 8192), Ok(()));
        assert_eq!(
            altstack_flags(&s, 0x10000 + 8192),
            SS_ONSTACK,
            "top inclusive"
        );
        assert_eq!(altstack_flags(&s, 0x10000), 0, "bottom exclusive");
        // Changing it while running on it (sigaltstack(2) EPERM).
        assert_eq!(set_altstack(&mut s, 0x10100, 0, SS_DISABLE, 0), Err(EPERM));
        assert_eq!(set_altstack(&mut s, 0x90000, 0, SS_DISABLE, 0), Ok(()));
        assert_eq!(s, AltStack::default());
        set_altstack(&mut s, 0, 0x10000, SS_AUTODISARM, 8192).unwrap();
        assert_eq!(altstack_flags(&s, 0), SS_AUTODISARM);
    }

    #[test]
    fn siginfo_layout() {
        let info = SigInfo {
            code: 1,
            value: 0x1234,
            extra: 7,
            trapno: 14,
        };
        let b = siginfo_bytes(17, &info);
        assert_eq!(&b[..4], &17i32.to_le_bytes());
        assert_eq!(&b[8..12], &1i32.to_le_bytes());
        assert_eq!(&b[16..24], &0x1234u64.to_le_bytes());
        assert_eq!(&b[24..32], &7u64.to_le_bytes());
    }
}
