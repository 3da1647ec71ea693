//! poll, ppoll, select and pselect6: which descriptors are ready, waiting
//! (up to a timeout) until one is. Pipes report their real state; a host
//! handle is readable when the host says so (or always, if it cannot
//! tell) and always writable. A waiting call is checked again, from the
//! arguments still in its registers, whenever the scheduler looks for work.

use alloc::vec::Vec;

use super::Process;
use super::host::errno::*;
use super::host::{Errno, HostOs};
use super::task::{Backing, Outcome, Task, Tid, WaitOn};

const POLLIN: u16 = 0x1;
const POLLPRI: u16 = 0x2;
const POLLOUT: u16 = 0x4;
const POLLERR: u16 = 0x8;
const POLLHUP: u16 = 0x10;
const POLLNVAL: u16 = 0x20;
const POLLRDNORM: u16 = 0x40;
const POLLWRNORM: u16 = 0x100;
/// Most descriptors one call may watch (RLIMIT_NOFILE).
const MAX_POLL_FDS: u64 = 1024;

/// How long a poll-like call may wait.
enum Timeout {
    /// Not at all.
    Zero,
    /// Until something is ready.
    Forever,
    /// This many nanoseconds.
    Span(u64),
}

/// The descriptors a select call watches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SelectSets {
    /// Descriptors below this are looked at.
    pub nfds: u64,
    /// fd_set addresses (0 for none): read, write, except.
    pub sets: [u64; 3],
}

impl<H: HostOs> Process<H> {
    /// The events of `events` (plus the ones always reported) that
    /// descriptor `fd` has now.
    fn fd_events(&mut self, t: &Task, fd: i32, events: u16) -> u16 {
        if fd < 0 {
            return 0;
        }
        let Ok(file) = self.file(t, fd as u64) else {
            return POLLNVAL;
        };
        let ready = match file.backing {
            Backing::Pipe(end) => match self.pipes.get(end.id).and_then(|p| p.as_ref()) {
                // fs/pipe.c pipe_poll.
                Some(p) if end.write => {
                    if p.readers == 0 {
                        POLLERR
                    } else if p.writable() {
                        POLLOUT | POLLWRNORM
                    } else {
                        0
                    }
                }
                Some(p) => {
                    let mut r = if p.has_data() { POLLIN | POLLRDNORM } else { 0 };
                    if p.writers == 0 {
                        r |= POLLHUP;
                    }
                    r
                }
                None => POLLNVAL,
            },
            Backing::Host(h) => {
                let input = match self.host.readable(h) {
                    Some(false) => 0,
                    _ => POLLIN | POLLRDNORM,
                };
                input | POLLOUT | POLLWRNORM
            }
        };
        ready & (events | POLLERR | POLLHUP | POLLNVAL)
    }

    /// The pollfd array with revents filled in, and how many are ready.
    fn scan_pollfds(&mut self, t: &Task, fds: u64, nfds: u64) -> Result<(Vec<u8>, u64), Errno> {
        let mut entries = t.read_mem(fds, (nfds * 8) as usize)?;
        let mut ready = 0;
        for e in entries.chunks_exact_mut(8) {
            let fd = i32::from_le_bytes([e[0], e[1], e[2], e[3]]);
            let events = u16::from_le_bytes([e[4], e[5]]);
            let revents = self.fd_events(t, fd, events);
            e[6..8].copy_from_slice(&revents.to_le_bytes());
            if revents != 0 {
                ready += 1;
            }
        }
        Ok((entries, ready))
    }

    /// The fd_sets with only the ready descriptors left, and how many.
    fn scan_select(&mut self, t: &Task, s: SelectSets) -> Result<([Vec<u64>; 3], u64), Errno> {
        let words = s.nfds.div_ceil(64) as usize;
        let mut sets: [Vec<u64>; 3] = Default::default();
        for (set, &addr) in sets.iter_mut().zip(&s.sets) {
            if addr != 0 {
                let bytes = t.read_mem(addr, words * 8)?;
                *set = bytes
                    .chunks_exact(8)
                    .map(|w| u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]))
                    .collect();
            }
        }
        // select(2): read also on hang-up or error, write also on error.
        let wanted = [
            POLLIN | POLLRDNORM | POLLHUP | POLLERR,
            POLLOUT | POLLWRNORM | POLLERR,
            POLLPRI,
        ];
        let mut ready = 0;
        for fd in 0..s.nfds as usize {
            let asked: Vec<usize> = (0..3)
                .filter(|&k| {
                    sets[k]
                        .get(fd / 64)
                        .is_some_and(|w| w & (1 << (fd % 64)) != 0)
                })
                .collect();
            if asked.is_empty() {
                continue;
            }
            let got = self.fd_events(t, fd as i32, POLLIN | POLLOUT | POLLPRI);
            if got & POLLNVAL != 0 {
                return Err(EBADF);
            }
            for k in asked {
                if got & wanted[k] != 0 {
                    ready += 1;
                } else {
                    sets[k][fd / 64] &= !(1 << (fd % 64));
                }
            }
        }
        Ok((sets, ready))
    }

    /// Whether a parked poll or select of task `tid` would return now.
    pub(super) fn poll_ready(&mut self, tid: Tid) -> bool {
        let Some(t) = self.tasks.remove(&tid) else {
            return false;
        };
        let ready = match t.wait.map(|w| w.on) {
            Some(WaitOn::Poll { fds, nfds }) => self
                .scan_pollfds(&t, fds, nfds)
                .map_or(true, |(_, n)| n > 0),
            Some(WaitOn::Select(s)) => self.scan_select(&t, s).map_or(true, |(_, n)| n > 0),
            _ => false,
        };
        self.tasks.insert(tid, t);
        ready
    }

    /// Whether to wait, and until when: not if `ready` descriptors were
    /// found or the time is up; otherwise until the deadline of `timeout`,
    /// or the one a restarted call already had (`Some(None)`: for ever).
    fn wait_for(
        &mut self,
        t: &mut Task,
        ready: u64,
        timeout: Timeout,
    ) -> Result<Option<Option<u64>>, Errno> {
        if ready > 0 {
            t.restart = None;
            return Ok(None);
        }
        match t.restart.take() {
            Some(r) if r.outcome == Outcome::TimedOut => Ok(None),
            Some(r) => Ok(Some(r.deadline)),
            None => Ok(match timeout {
                Timeout::Zero => None,
                Timeout::Forever => Some(None),
                Timeout::Span(ns) => Some(Some(self.now_ns().saturating_add(ns))),
            }),
        }
    }

    fn do_poll(
        &mut self,
        t: &mut Task,
        fds: u64,
        nfds: u64,
        timeout: Timeout,
    ) -> Result<u64, Errno> {
        if nfds > MAX_POLL_FDS {
            return Err(EINVAL);
        }
        let (entries, ready) = self.scan_pollfds(t, fds, nfds)?;
        match self.wait_for(t, ready, timeout)? {
            None => {
                t.write_mem(fds, &entries)?;
                Ok(ready)
            }
            Some(deadline) => self.block(t, WaitOn::Poll { fds, nfds }, deadline),
        }
    }

    pub(super) fn sys_poll(
        &mut self,
        t: &mut Task,
        fds: u64,
        nfds: u64,
        ms: u64,
    ) -> Result<u64, Errno> {
        let timeout = match ms as i32 {
            0 => Timeout::Zero,
            ms if ms < 0 => Timeout::Forever,
            ms => Timeout::Span(ms as u64 * 1_000_000),
        };
        self.do_poll(t, fds, nfds, timeout)
    }

    /// A `struct timespec` timeout argument (NULL: for ever).
    fn timespec_timeout(&mut self, t: &Task, addr: u64) -> Result<Timeout, Errno> {
        if addr == 0 {
            return Ok(Timeout::Forever);
        }
        let span = t.read_timespec_ns(addr)?;
        Ok(if span == 0 {
            Timeout::Zero
        } else {
            Timeout::Span(span)
        })
    }

    /// Installs a temporary signal mask for ppoll/pselect6 (as sigsuspend
    /// does: restored after the call, or once a handler has been entered).
    fn temporary_mask(&mut self, t: &mut Task, mask: u64, size: u64) -> Result<(), Errno> {
        if mask == 0 || t.suspend_mask.is_some() {
            return Ok(());
        }
        if size != 8 {
            return Err(EINVAL);
        }
        let new = t.read_u64(mask)?;
        t.suspend_mask = Some(t.blocked);
        t.blocked = new & !super::signal::UNBLOCKABLE;
        Ok(())
    }

    /// Restores the mask a ppoll/pselect6 that returned had replaced.
    fn end_temporary_mask(t: &mut Task, result: &Result<u64, Errno>) {
        if !matches!(result, Err(super::sched::BLOCKED) | Err(EINTR))
            && let Some(mask) = t.suspend_mask.take()
        {
            t.blocked = mask;
        }
    }

    pub(super) fn sys_ppoll(&mut self, t: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
        let [fds, nfds, tsp, mask, size, _] = a;
        let timeout = self.timespec_timeout(t, tsp)?;
        self.temporary_mask(t, mask, size)?;
        let result = self.do_poll(t, fds, nfds, timeout);
        Self::end_temporary_mask(t, &result);
        result
    }

    fn do_select(&mut self, t: &mut Task, s: SelectSets, timeout: Timeout) -> Result<u64, Errno> {
        if s.nfds > MAX_POLL_FDS {
            return Err(EINVAL);
        }
        let (sets, ready) = self.scan_select(t, s)?;
        match self.wait_for(t, ready, timeout)? {
            None => {
                for (set, &addr) in sets.iter().zip(&s.sets) {
                    if addr != 0 {
                        let bytes: Vec<u8> = set.iter().flat_map(|w| w.to_le_bytes()).collect();
                        t.write_mem(addr, &bytes)?;
                    }
                }
                Ok(ready)
            }
            Some(deadline) => self.block(t, WaitOn::Select(s), deadline),
        }
    }

    /// select(2) with a `struct timeval` timeout.
    pub(super) fn sys_select(&mut self, t: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
        let [nfds, r, w, e, tv, _] = a;
        let timeout = if tv == 0 {
            Timeout::Forever
        } else {
            let (s, us) = (t.read_u64(tv)? as i64, t.read_u64(tv + 8)? as i64);
            if s < 0 || !(0..1_000_000).contains(&us) {
                return Err(EINVAL);
            }
            match (s as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(us as u64 * 1000)
            {
                0 => Timeout::Zero,
                span => Timeout::Span(span),
            }
        };
        let sets = SelectSets {
            nfds: nfds as u32 as u64,
            sets: [r, w, e],
        };
        self.do_select(t, sets, timeout)
    }

    /// pselect6(2): a timespec timeout and a {mask pointer, size} pair.
    pub(super) fn sys_pselect6(&mut self, t: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
        let [nfds, r, w, e, tsp, sig] = a;
        let timeout = self.timespec_timeout(t, tsp)?;
        if sig != 0 {
            let (mask, size) = (t.read_u64(sig)?, t.read_u64(sig + 8)?);
            self.temporary_mask(t, mask, size)?;
        }
        let sets = SelectSets {
            nfds: nfds as u32 as u64,
            sets: [r, w, e],
        };
        let result = self.do_select(t, sets, timeout);
        Self::end_temporary_mask(t, &result);
        result
    }
}
