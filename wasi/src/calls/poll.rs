//! `poll_oneoff`: clock timeouts and fd readiness. Files and directories
//! are always ready (as `poll(2)` says of regular files); the host's own
//! standard streams are polled for real; other streams (in-memory buffers)
//! are always ready.

use std::os::fd::BorrowedFd;
use std::time::Duration;

use rustix::event::{PollFd, PollFlags};

use super::clock::now;
use super::{Call, CallResult, Stop, arg64};
use crate::ctx::Handle;
use crate::types::{Errno, SUBCLOCK_ABSTIME, eventtype, rights};

/// Size of a `subscription` (no pointers: the same on wasm32 and wasm64).
const SUBSCRIPTION_BYTES: u64 = 48;
/// The most subscriptions one call takes.
const MAX_SUBSCRIPTIONS: u64 = 4096;
/// Size of an `event`.
const EVENT_BYTES: u64 = 32;
/// The longest a blocked call waits before checking for an interrupt.
const INTERRUPT_CHECK_NS: u64 = 10_000_000;

/// One event to report.
struct Event {
    userdata: u64,
    error: Errno,
    kind: u8,
}

/// A clock subscription: when it fires, in nanoseconds from the call.
struct Timer {
    userdata: u64,
    wait_ns: u64,
}

/// An fd subscription the host must poll.
struct Waiter {
    userdata: u64,
    kind: u8,
    fd: BorrowedFd<'static>,
}

/// Nanoseconds until `deadline` (monotonic; None waits forever), or
/// `Stop::Interrupted` once the embedder has interrupted the guest.
fn time_left(call: &Call<'_>, deadline: Option<u64>) -> Result<u64, Stop> {
    if call.interrupt.is_interrupted() {
        return Err(Stop::Interrupted);
    }
    let now = now(crate::types::clockid::MONOTONIC)?;
    Ok(deadline.map_or(u64::MAX, |d| d.saturating_sub(now)))
}

pub(crate) fn poll_oneoff(call: &mut Call<'_>, a: &[u64]) -> CallResult {
    let (subs, out, count, nevents_ptr) = (arg64(a, 0), arg64(a, 1), arg64(a, 2), arg64(a, 3));
    // Like poll(2) beyond its fd limit: EINVAL, and no allocation sized by
    // the guest.
    if count == 0 || count > MAX_SUBSCRIPTIONS {
        return Err(Errno::INVAL.into());
    }
    call.mem.slice(
        subs,
        count.checked_mul(SUBSCRIPTION_BYTES).ok_or(Errno::FAULT)?,
    )?;
    call.mem
        .slice(out, count.checked_mul(EVENT_BYTES).ok_or(Errno::FAULT)?)?;

    let mut ready = Vec::new();
    let mut timers = Vec::new();
    let mut waiters = Vec::new();
    for i in 0..count {
        let sub = subs + i * SUBSCRIPTION_BYTES;
        let userdata = call.mem.read_u64(sub)?;
        let kind = call.mem.read_u8(sub + 8)?;
        match kind {
            eventtype::CLOCK => {
                let id = call.mem.read_u32(sub + 16)?;
                let timeout = call.mem.read_u64(sub + 24)?;
                let flags = call.mem.read_u16(sub + 40)?;
                let wait_ns = if flags & SUBCLOCK_ABSTIME != 0 {
                    timeout.saturating_sub(now(id)?)
                } else {
                    super::clock::host_clock(id)?;
                    timeout
                };
                timers.push(Timer { userdata, wait_ns });
            }
            eventtype::FD_READ | eventtype::FD_WRITE => {
                let fd = call.mem.read_u32(sub + 16)?;
                let error = match call.ctx.entry(fd) {
                    Err(e) => Some(e),
                    Ok(entry) => match entry.require(rights::POLL_FD_READWRITE) {
                        Err(e) => Some(e),
                        Ok(()) => match &entry.handle {
                            Handle::Stream {
                                host_fd: Some(host),
                                ..
                            } => {
                                waiters.push(Waiter {
                                    userdata,
                                    kind,
                                    fd: *host,
                                });
                                continue;
                            }
                            _ => None,
                        },
                    },
                };
                ready.push(Event {
                    userdata,
                    error: error.unwrap_or(Errno::SUCCESS),
                    kind,
                });
            }
            _ => return Err(Errno::INVAL.into()),
        }
    }

    let shortest = timers.iter().map(|t| t.wait_ns).min();
    let wait = if ready.is_empty() { shortest } else { Some(0) };
    let start = now(crate::types::clockid::MONOTONIC)?;
    // Blocking is done in slices, so an interrupt of the guest is seen
    // even when nothing would ever wake the call.
    let deadline = wait.map(|ns| start.saturating_add(ns));
    if waiters.is_empty() {
        loop {
            let left = time_left(call, deadline)?;
            if left == 0 {
                break;
            }
            std::thread::sleep(Duration::from_nanos(left.min(INTERRUPT_CHECK_NS)));
        }
    } else {
        let mut pollfds: Vec<PollFd<'_>> = waiters
            .iter()
            .map(|w| {
                let flags = if w.kind == eventtype::FD_READ {
                    PollFlags::IN
                } else {
                    PollFlags::OUT
                };
                PollFd::new(&w.fd, flags)
            })
            .collect();
        loop {
            let left = time_left(call, deadline)?;
            let slice = left.min(INTERRUPT_CHECK_NS);
            let timeout = rustix::time::Timespec {
                tv_sec: 0,
                tv_nsec: slice as _,
            };
            match rustix::event::poll(&mut pollfds, Some(&timeout)) {
                Ok(0) if left > slice => {}
                Ok(_) | Err(rustix::io::Errno::INTR) => break,
                Err(e) => return Err(Errno::from_host(e).into()),
            }
        }
        for (w, p) in waiters.iter().zip(&pollfds) {
            if !p.revents().is_empty() {
                ready.push(Event {
                    userdata: w.userdata,
                    error: Errno::SUCCESS,
                    kind: w.kind,
                });
            }
        }
    }
    let elapsed = now(crate::types::clockid::MONOTONIC)?.saturating_sub(start);
    // Nothing else woke us: the shortest timer fired, even if the host
    // clock's granularity makes it look a hair early.
    let woke_by_timer = ready.is_empty();
    for t in &timers {
        if t.wait_ns <= elapsed || (woke_by_timer && Some(t.wait_ns) == shortest) {
            ready.push(Event {
                userdata: t.userdata,
                error: Errno::SUCCESS,
                kind: eventtype::CLOCK,
            });
        }
    }

    for (i, ev) in (0u64..).zip(&ready) {
        let mut bytes = [0u8; EVENT_BYTES as usize];
        bytes[0..8].copy_from_slice(&ev.userdata.to_le_bytes());
        bytes[8..10].copy_from_slice(&ev.error.0.to_le_bytes());
        bytes[10] = ev.kind;
        call.mem.write_bytes(out + i * EVENT_BYTES, &bytes)?;
    }
    call.mem.write_size(nevents_ptr, ready.len() as u64)?;
    Ok(())
}
