//! Timers that send signals: the real-time interval timer of each process
//! (alarm(2), setitimer/getitimer(2) with ITIMER_REAL: SIGALRM) and POSIX
//! timers (timer_create(2) … timer_delete on CLOCK_REALTIME, MONOTONIC or
//! BOOTTIME; SIGEV_SIGNAL, SIGEV_NONE or SIGEV_THREAD_ID). The scheduler
//! fires them as it looks for work and sleeps no longer than the next
//! one. CPU-time timers (ITIMER_VIRTUAL, ITIMER_PROF, the CPU clocks) are
//! not implemented and answer EINVAL. Like Linux, a forked child starts
//! without timers; execve keeps the interval timer and deletes the POSIX
//! ones.

use alloc::vec::Vec;

use super::Process;
use super::host::errno::*;
use super::host::{Clock, Errno, HostOs};
use super::sigframe::SigInfo;
use super::task::{Task, Tid};

/// SIGALRM.
const SIGALRM: u64 = 14;
/// si_code of a signal the kernel sends itself.
const SI_KERNEL: i32 = 0x80;
const ITIMER_REAL: u64 = 0;
const NS_PER_US: u64 = 1000;
const NS_PER_S: u64 = 1_000_000_000;

/// An armed timer: when it expires next, and its period (0: once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ITimer {
    /// Monotonic nanoseconds of the next expiry.
    pub deadline: u64,
    /// Nanoseconds between expiries after the first; 0 for a one-shot timer.
    pub interval: u64,
}

/// si_code of a POSIX timer's signal.
const SI_TIMER: i32 = -2;
/// sigev_notify values (uapi/asm-generic/siginfo.h).
const SIGEV_SIGNAL: u32 = 0;
const SIGEV_NONE: u32 = 1;
const SIGEV_THREAD_ID: u32 = 4;
/// timer_settime: the expiry is an absolute time on the timer's clock.
const TIMER_ABSTIME: u64 = 1;
/// Most POSIX timers one process may have.
const MAX_TIMERS: usize = 64;

/// One POSIX timer (timer_create).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PosixTimer {
    /// Where its expiries are measured (for absolute settings).
    clock: Clock,
    /// Signal to send (0 with SIGEV_NONE).
    signo: u64,
    /// SIGEV_THREAD_ID: the one thread to signal.
    thread: Option<Tid>,
    /// si_value handed to the handler.
    sigval: u64,
    /// When armed.
    armed: Option<ITimer>,
}

/// A `struct timeval` as nanoseconds, checked as setitimer does.
fn timeval_ns(b: &[u8]) -> Result<u64, Errno> {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    let s = i64::from_le_bytes(w);
    w.copy_from_slice(&b[8..16]);
    let us = i64::from_le_bytes(w);
    if s < 0 || !(0..1_000_000).contains(&us) {
        return Err(EINVAL);
    }
    Ok((s as u64)
        .saturating_mul(NS_PER_S)
        .saturating_add(us as u64 * NS_PER_US))
}

fn timeval_bytes(ns: u64) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[..8].copy_from_slice(&(ns / NS_PER_S).to_le_bytes());
    b[8..].copy_from_slice(&((ns % NS_PER_S) / NS_PER_US).to_le_bytes());
    b
}

impl<H: HostOs> Process<H> {
    /// Sends the signal of every timer that has expired by `now`,
    /// re-arming periodic ones (missed periods are not queued).
    pub(super) fn fire_timers(&mut self, now: u64) {
        let due = |t: &Option<ITimer>| t.is_some_and(|t| t.deadline <= now);
        let rearm = |t: Option<ITimer>| {
            t.and_then(|t| {
                (t.interval != 0).then(|| ITimer {
                    deadline: now.saturating_add(t.interval),
                    interval: t.interval,
                })
            })
        };
        let groups: Vec<Tid> = self
            .groups
            .values()
            .filter(|g| g.exiting.is_none())
            .filter(|g| due(&g.itimer) || g.timers.iter().flatten().any(|p| due(&p.armed)))
            .map(|g| g.pid)
            .collect();
        for pid in groups {
            let mut signals = Vec::new();
            if let Some(g) = self.groups.get_mut(&pid) {
                if due(&g.itimer) {
                    g.itimer = rearm(g.itimer);
                    let info = SigInfo {
                        code: SI_KERNEL,
                        ..SigInfo::default()
                    };
                    signals.push((None, SIGALRM, info));
                }
                for (id, timer) in g.timers.iter_mut().enumerate() {
                    let Some(p) = timer.as_mut().filter(|p| due(&p.armed)) else {
                        continue;
                    };
                    p.armed = rearm(p.armed);
                    if p.signo != 0 {
                        let info = SigInfo {
                            code: SI_TIMER,
                            value: id as u64,
                            extra: p.sigval,
                            trapno: 0,
                        };
                        signals.push((p.thread, p.signo, info));
                    }
                }
            }
            for (thread, sig, info) in signals {
                match thread {
                    Some(tid) => self.send_from_kernel_to_thread(tid, sig, info),
                    None => self.send_from_kernel(pid, sig, info),
                }
            }
        }
    }

    /// The earliest armed timer: (deadline, process).
    pub(super) fn next_timer(&self) -> Option<(u64, Tid)> {
        self.groups
            .values()
            .filter(|g| g.exiting.is_none())
            .flat_map(|g| {
                let posix = g.timers.iter().flatten().filter_map(|p| p.armed);
                g.itimer
                    .into_iter()
                    .chain(posix)
                    .map(move |t| (t.deadline, g.pid))
            })
            .min()
    }

    /// Replaces the timer of `t`'s process; returns the old (value, interval).
    fn set_itimer(&mut self, t: &Task, value: u64, interval: u64) -> (u64, u64) {
        let now = self.now_ns();
        let Some(g) = self.groups.get_mut(&t.tgid) else {
            return (0, 0);
        };
        let old = g.itimer.map_or((0, 0), |o| {
            (o.deadline.saturating_sub(now).max(1), o.interval)
        });
        g.itimer = (value != 0).then(|| ITimer {
            deadline: now.saturating_add(value),
            interval,
        });
        old
    }

    /// alarm(2): SIGALRM in `seconds` (0 cancels); returns the seconds
    /// that were left on the previous alarm, rounded as Linux does.
    pub(super) fn sys_alarm(&mut self, t: &mut Task, seconds: u64) -> Result<u64, Errno> {
        let seconds = seconds as u32 as u64;
        let (left, _) = self.set_itimer(t, seconds * NS_PER_S, 0);
        if left == 0 {
            return Ok(0);
        }
        // kernel/time/itimer.c alarm_setitimer: round to the nearest
        // second, but never report 0 for an alarm still pending.
        Ok(((left + NS_PER_S / 2) / NS_PER_S).max(1))
    }

    pub(super) fn sys_setitimer(
        &mut self,
        t: &mut Task,
        which: u64,
        new: u64,
        old: u64,
    ) -> Result<u64, Errno> {
        if which != ITIMER_REAL {
            return Err(EINVAL);
        }
        let (value, interval) = if new == 0 {
            (0, 0)
        } else {
            let b = t.read_mem(new, 32)?;
            (timeval_ns(&b[16..32])?, timeval_ns(&b[..16])?)
        };
        let (left, period) = self.set_itimer(t, value, interval);
        if old != 0 {
            let mut out = [0u8; 32];
            out[..16].copy_from_slice(&timeval_bytes(period));
            out[16..].copy_from_slice(&timeval_bytes(left));
            t.write_mem(old, &out)?;
        }
        Ok(0)
    }

    pub(super) fn sys_getitimer(
        &mut self,
        t: &mut Task,
        which: u64,
        cur: u64,
    ) -> Result<u64, Errno> {
        if which != ITIMER_REAL {
            return Err(EINVAL);
        }
        let now = self.now_ns();
        let timer = self.groups.get(&t.tgid).and_then(|g| g.itimer);
        let (left, period) = timer.map_or((0, 0), |o| {
            (o.deadline.saturating_sub(now).max(1), o.interval)
        });
        let mut out = [0u8; 32];
        out[..16].copy_from_slice(&timeval_bytes(period));
        out[16..].copy_from_slice(&timeval_bytes(left));
        t.write_mem(cur, &out)?;
        Ok(0)
    }

    /// timer_create(2).
    pub(super) fn sys_timer_create(
        &mut self,
        t: &mut Task,
        clock: u64,
        sevp: u64,
        id_ptr: u64,
    ) -> Result<u64, Errno> {
        let clock = match clock {
            0 | 11 => Clock::Realtime,
            1 | 7 => Clock::Monotonic,
            _ => return Err(EINVAL),
        };
        let g = self.groups.get(&t.tgid).ok_or(ESRCH)?;
        let slot = g
            .timers
            .iter()
            .position(Option::is_none)
            .unwrap_or(g.timers.len());
        if slot >= MAX_TIMERS {
            return Err(EAGAIN);
        }
        let (signo, thread, sigval) = if sevp == 0 {
            (SIGALRM, None, slot as u64)
        } else {
            let b = t.read_mem(sevp, 20)?;
            let word = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
            let sigval = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            let (signo, notify) = (word(8) as u64, word(12));
            match notify {
                SIGEV_NONE => (0, None, sigval),
                SIGEV_SIGNAL | SIGEV_THREAD_ID if signo == 0 || signo > 64 => return Err(EINVAL),
                SIGEV_SIGNAL => (signo, None, sigval),
                SIGEV_THREAD_ID => {
                    // The thread must belong to the caller's process.
                    let tid = word(16) as u64;
                    let ours =
                        tid == t.tid || self.tasks.get(&tid).is_some_and(|x| x.tgid == t.tgid);
                    if !ours {
                        return Err(EINVAL);
                    }
                    (signo, Some(tid), sigval)
                }
                _ => return Err(EINVAL),
            }
        };
        t.write_mem(id_ptr, &(slot as u32).to_le_bytes())?;
        let timer = PosixTimer {
            clock,
            signo,
            thread,
            sigval,
            armed: None,
        };
        let g = self.groups.get_mut(&t.tgid).ok_or(ESRCH)?;
        if slot == g.timers.len() {
            g.timers.push(Some(timer));
        } else {
            g.timers[slot] = Some(timer);
        }
        Ok(0)
    }

    /// The timer `id` of `t`'s process.
    fn posix_timer(&mut self, t: &Task, id: u64) -> Result<&mut PosixTimer, Errno> {
        self.groups
            .get_mut(&t.tgid)
            .and_then(|g| g.timers.get_mut(id as u32 as usize))
            .and_then(|p| p.as_mut())
            .ok_or(EINVAL)
    }

    /// An `itimerspec` (interval, value) for the time left on `armed`.
    fn itimerspec(armed: Option<ITimer>, now: u64) -> [u8; 32] {
        let (left, interval) = armed.map_or((0, 0), |a| {
            (a.deadline.saturating_sub(now).max(1), a.interval)
        });
        let mut b = [0u8; 32];
        for (i, ns) in [interval, left].into_iter().enumerate() {
            b[i * 16..i * 16 + 8].copy_from_slice(&(ns / NS_PER_S).to_le_bytes());
            b[i * 16 + 8..i * 16 + 16].copy_from_slice(&(ns % NS_PER_S).to_le_bytes());
        }
        b
    }

    /// timer_settime(2).
    pub(super) fn sys_timer_settime(
        &mut self,
        t: &mut Task,
        id: u64,
        flags: u64,
        new: u64,
        old: u64,
    ) -> Result<u64, Errno> {
        let clock = self.posix_timer(t, id)?.clock;
        let (interval, value) = (
            t.read_timespec_ns(new)?,
            t.read_timespec_ns(new.wrapping_add(16))?,
        );
        let now = self.now_ns();
        let deadline = if flags & TIMER_ABSTIME != 0 {
            now.saturating_add(value.saturating_sub(self.clock_ns(clock)))
        } else {
            now.saturating_add(value)
        };
        let timer = self.posix_timer(t, id)?;
        let before = timer.armed;
        timer.armed = (value != 0).then_some(ITimer { deadline, interval });
        if old != 0 {
            t.write_mem(old, &Self::itimerspec(before, now))?;
        }
        Ok(0)
    }

    /// timer_gettime(2).
    pub(super) fn sys_timer_gettime(
        &mut self,
        t: &mut Task,
        id: u64,
        cur: u64,
    ) -> Result<u64, Errno> {
        let armed = self.posix_timer(t, id)?.armed;
        let now = self.now_ns();
        t.write_mem(cur, &Self::itimerspec(armed, now))?;
        Ok(0)
    }

    /// timer_getoverrun(2): expiries are not counted beyond one signal.
    pub(super) fn sys_timer_getoverrun(&mut self, t: &mut Task, id: u64) -> Result<u64, Errno> {
        self.posix_timer(t, id).map(|_| 0)
    }

    /// timer_delete(2).
    pub(super) fn sys_timer_delete(&mut self, t: &mut Task, id: u64) -> Result<u64, Errno> {
        self.posix_timer(t, id)?;
        if let Some(slot) = self
            .groups
            .get_mut(&t.tgid)
            .and_then(|g| g.timers.get_mut(id as u32 as usize))
        {
            *slot = None;
        }
        Ok(0)
    }
}
