//! futex(2) and robust futex lists (set_robust_list(2)). A futex is keyed
//! by (address space, address): threads and CLONE_VM children share an
//! address space; forked processes never share memory here (fork copies
//! it), so FUTEX_PRIVATE_FLAG changes nothing. Waiters are woken in the
//! order they arrived.

use alloc::vec::Vec;

use super::Process;
use super::host::errno::*;
use super::host::{Clock, Errno, HostOs};
use super::task::{Outcome, Task, Tid, WaitOn};

const FUTEX_WAIT: u64 = 0;
const FUTEX_WAKE: u64 = 1;
const FUTEX_REQUEUE: u64 = 3;
const FUTEX_CMP_REQUEUE: u64 = 4;
const FUTEX_WAKE_OP: u64 = 5;
const FUTEX_WAIT_BITSET: u64 = 9;
const FUTEX_WAKE_BITSET: u64 = 10;
const FUTEX_PRIVATE_FLAG: u64 = 128;
const FUTEX_CLOCK_REALTIME: u64 = 256;
/// Robust futex word bits (uapi/linux/futex.h).
const FUTEX_WAITERS: u32 = 0x8000_0000;
const FUTEX_OWNER_DIED: u32 = 0x4000_0000;
const FUTEX_TID_MASK: u32 = 0x3fff_ffff;
/// Longest robust list walked at exit (ROBUST_LIST_LIMIT).
const ROBUST_LIST_LIMIT: usize = 2048;
/// Size of `struct robust_list_head`.
const ROBUST_HEAD_SIZE: u64 = 24;

/// How many waiters a wake count means: Linux wakes at least one.
fn wake_count(val: u64) -> usize {
    (val as i32).max(1) as usize
}

impl<H: HostOs> Process<H> {
    /// futex(uaddr, op, val, timeout or val2, uaddr2, val3).
    pub(super) fn sys_futex(&mut self, t: &mut Task, a: [u64; 6]) -> Result<u64, Errno> {
        let [uaddr, op, val, timeout, uaddr2, val3] = a;
        let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
        let realtime = op & FUTEX_CLOCK_REALTIME != 0;
        if realtime && !matches!(cmd, FUTEX_WAIT | FUTEX_WAIT_BITSET) {
            return Err(ENOSYS);
        }
        if !uaddr.is_multiple_of(4) {
            return Err(EINVAL);
        }
        let mm = t.mm.borrow().id;
        match cmd {
            FUTEX_WAIT | FUTEX_WAIT_BITSET => {
                let bitset = if cmd == FUTEX_WAIT {
                    u32::MAX
                } else {
                    val3 as u32
                };
                if bitset == 0 {
                    return Err(EINVAL);
                }
                match t.restart.take().map(|r| r.outcome) {
                    Some(Outcome::Woken) => return Ok(0),
                    Some(Outcome::TimedOut) => return Err(ETIMEDOUT),
                    _ => {}
                }
                if t.read_u32(uaddr)? != val as u32 {
                    return Err(EAGAIN);
                }
                let deadline = if timeout == 0 {
                    None
                } else {
                    Some(self.futex_deadline(t, timeout, cmd == FUTEX_WAIT_BITSET, realtime)?)
                };
                self.block(
                    t,
                    WaitOn::Futex {
                        key: (mm, uaddr),
                        bitset,
                    },
                    deadline,
                )
            }
            FUTEX_WAKE | FUTEX_WAKE_BITSET => {
                let bitset = if cmd == FUTEX_WAKE {
                    u32::MAX
                } else {
                    val3 as u32
                };
                if bitset == 0 {
                    return Err(EINVAL);
                }
                Ok(self.futex_wake_key((mm, uaddr), wake_count(val), bitset) as u64)
            }
            FUTEX_REQUEUE | FUTEX_CMP_REQUEUE => {
                if !uaddr2.is_multiple_of(4) || (val as i32) < 0 || (timeout as i32) < 0 {
                    return Err(EINVAL);
                }
                if cmd == FUTEX_CMP_REQUEUE && t.read_u32(uaddr)? != val3 as u32 {
                    return Err(EAGAIN);
                }
                let woken = self.futex_wake_key((mm, uaddr), val as i32 as usize, u32::MAX);
                let moved = self.futex_requeue((mm, uaddr), (mm, uaddr2), timeout as u32 as usize);
                Ok((woken + moved) as u64)
            }
            FUTEX_WAKE_OP => self.futex_wake_op(t, mm, a),
            // The PI and requeue-PI operations are not implemented.
            _ => Err(ENOSYS),
        }
    }

    /// A timeout argument as a monotonic deadline: relative for
    /// FUTEX_WAIT, absolute on the chosen clock for FUTEX_WAIT_BITSET.
    fn futex_deadline(
        &mut self,
        t: &Task,
        addr: u64,
        absolute: bool,
        realtime: bool,
    ) -> Result<u64, Errno> {
        let span = t.read_timespec_ns(addr)?;
        let now = self.now_ns();
        if !absolute {
            return Ok(now.saturating_add(span));
        }
        if !realtime {
            return Ok(span);
        }
        let real_now = self.clock_ns(Clock::Realtime);
        Ok(now.saturating_add(span.saturating_sub(real_now)))
    }

    /// Wakes up to `n` waiters on `key` whose bitset meets `bitset`,
    /// oldest first; returns how many.
    pub(super) fn futex_wake_key(&mut self, key: (u64, u64), n: usize, bitset: u32) -> usize {
        let mut waiters: Vec<(u64, Tid)> = self
            .tasks
            .values()
            .filter_map(|t| {
                let w = t.wait?;
                match w.on {
                    WaitOn::Futex { key: k, bitset: b } if k == key && b & bitset != 0 => {
                        Some((w.seq, t.tid))
                    }
                    _ => None,
                }
            })
            .collect();
        waiters.sort_unstable();
        waiters.truncate(n);
        for &(_, tid) in &waiters {
            self.wake(tid, Outcome::Woken, false);
        }
        waiters.len()
    }

    /// Moves up to `n` waiters from `from` to `to`, keeping their order.
    fn futex_requeue(&mut self, from: (u64, u64), to: (u64, u64), n: usize) -> usize {
        let mut waiters: Vec<(u64, Tid)> = self
            .tasks
            .values()
            .filter_map(|t| match t.wait?.on {
                WaitOn::Futex { key, .. } if key == from => Some((t.wait?.seq, t.tid)),
                _ => None,
            })
            .collect();
        waiters.sort_unstable();
        waiters.truncate(n);
        for &(_, tid) in &waiters {
            if let Some(w) = self.tasks.get_mut(&tid).and_then(|t| t.wait.as_mut())
                && let WaitOn::Futex { key, .. } = &mut w.on
            {
                *key = to;
            }
        }
        waiters.len()
    }

    /// FUTEX_WAKE_OP: update the word at `uaddr2`, wake on `uaddr`, and on
    /// `uaddr2` too if the old value passes the comparison (futex(2)).
    fn futex_wake_op(&mut self, t: &mut Task, mm: u64, a: [u64; 6]) -> Result<u64, Errno> {
        let [uaddr, _, val, val2, uaddr2, val3] = a;
        let encoded = val3 as u32;
        let sign12 = |v: u32| ((v << 20) as i32) >> 20;
        let op = (encoded >> 28) & 7;
        let shift = encoded & (8 << 28) != 0;
        let cmp = (encoded >> 24) & 15;
        let mut oparg = sign12((encoded >> 12) & 0xfff);
        let cmparg = sign12(encoded & 0xfff);
        if shift {
            oparg = 1i32.checked_shl(oparg as u32).unwrap_or(0);
        }
        if !uaddr2.is_multiple_of(4) || op > 4 || cmp > 5 {
            return Err(ENOSYS);
        }
        let old = t.read_u32(uaddr2)? as i32;
        let new = match op {
            0 => oparg,
            1 => old.wrapping_add(oparg),
            2 => old | oparg,
            3 => old & !oparg,
            _ => old ^ oparg,
        };
        t.write_mem(uaddr2, &new.to_le_bytes())?;
        let mut woken = self.futex_wake_key((mm, uaddr), wake_count(val), u32::MAX);
        let pass = match cmp {
            0 => old == cmparg,
            1 => old != cmparg,
            2 => old < cmparg,
            3 => old <= cmparg,
            4 => old > cmparg,
            _ => old >= cmparg,
        };
        if pass {
            woken += self.futex_wake_key((mm, uaddr2), wake_count(val2), u32::MAX);
        }
        Ok(woken as u64)
    }

    pub(super) fn sys_set_robust_list(
        &mut self,
        t: &mut Task,
        head: u64,
        len: u64,
    ) -> Result<u64, Errno> {
        if len != ROBUST_HEAD_SIZE {
            return Err(EINVAL);
        }
        t.robust_list = head;
        Ok(0)
    }

    pub(super) fn sys_get_robust_list(
        &mut self,
        t: &mut Task,
        tid: u64,
        head_ptr: u64,
        len_ptr: u64,
    ) -> Result<u64, Errno> {
        let head = match tid as i32 {
            0 => t.robust_list,
            x if x as u64 == t.tid => t.robust_list,
            x => self.tasks.get(&(x as u64)).ok_or(ESRCH)?.robust_list,
        };
        t.write_mem(head_ptr, &head.to_le_bytes())?;
        t.write_mem(len_ptr, &ROBUST_HEAD_SIZE.to_le_bytes())?;
        Ok(0)
    }

    /// At thread exit: marks the robust mutexes the thread still holds as
    /// owner-dead and wakes a waiter of each (kernel/futex/core.c
    /// exit_robust_list). Faults end the walk quietly.
    pub(super) fn exit_robust_list(&mut self, t: &Task) {
        let head = t.robust_list;
        if head == 0 {
            return;
        }
        let (Ok(mut entry), Ok(offset), Ok(pending)) = (
            t.read_u64(head),
            t.read_u64(head + 8),
            t.read_u64(head + 16),
        ) else {
            return;
        };
        let mm = t.mm.borrow().id;
        let mut words = Vec::new();
        for _ in 0..ROBUST_LIST_LIMIT {
            entry &= !1; // bit 0 marks a PI futex
            if entry == head || entry == 0 {
                break;
            }
            if entry != pending & !1 {
                words.push(entry.wrapping_add(offset));
            }
            match t.read_u64(entry) {
                Ok(next) => entry = next,
                Err(_) => break,
            }
        }
        if pending & !1 != 0 {
            words.push((pending & !1).wrapping_add(offset));
        }
        for addr in words {
            let Ok(val) = t.read_u32(addr) else {
                continue;
            };
            if (val & FUTEX_TID_MASK) as u64 != t.tid {
                continue;
            }
            let new = (val & FUTEX_WAITERS) | FUTEX_OWNER_DIED;
            if t.write_mem(addr, &new.to_le_bytes()).is_ok() && val & FUTEX_WAITERS != 0 {
                self.futex_wake_key((mm, addr), 1, u32::MAX);
            }
        }
    }
}
