//! The real-time interval timer of each process: alarm(2) and
//! setitimer/getitimer(2) with ITIMER_REAL, which send SIGALRM when they
//! expire. The scheduler fires them as it looks for work and sleeps no
//! longer than the next one. The CPU-time timers (ITIMER_VIRTUAL,
//! ITIMER_PROF) are not implemented and answer EINVAL. Like Linux, a
//! forked child starts without a timer and execve keeps it.

use alloc::vec::Vec;

use super::Process;
use super::host::errno::*;
use super::host::{Errno, HostOs};
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
    /// Sends SIGALRM for every timer that has expired by `now`, re-arming
    /// periodic ones.
    pub(super) fn fire_timers(&mut self, now: u64) {
        let due: Vec<Tid> = self
            .groups
            .values()
            .filter(|g| g.exiting.is_none() && g.itimer.is_some_and(|t| t.deadline <= now))
            .map(|g| g.pid)
            .collect();
        for pid in due {
            if let Some(g) = self.groups.get_mut(&pid) {
                g.itimer = g.itimer.and_then(|t| {
                    (t.interval != 0).then(|| ITimer {
                        // Missed periods are not queued (one signal per expiry check).
                        deadline: now.saturating_add(t.interval),
                        interval: t.interval,
                    })
                });
            }
            let info = SigInfo {
                code: SI_KERNEL,
                ..SigInfo::default()
            };
            self.send_from_kernel(pid, SIGALRM, info);
        }
    }

    /// The earliest armed timer: (deadline, process).
    pub(super) fn next_timer(&self) -> Option<(u64, Tid)> {
        self.groups
            .values()
            .filter(|g| g.exiting.is_none())
            .filter_map(|g| g.itimer.map(|t| (t.deadline, g.pid)))
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
}
