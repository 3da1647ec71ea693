//! The PC's host under WASI (`emu.wasm --kernel …`, `--demo` …): files
//! through the preopened directories, COM1 on fd 1, fd 0 polled without
//! blocking through `poll_oneoff`, host time from `clock_time_get`, and a
//! guest waiting for a timer or input asleep in `poll_oneoff`.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::host::WasiHost;
use super::strerror;
use super::sys::{self, Subscription};
use crate::devices::ide::{ImageDisk, ImageFile, Storage};
use crate::launch::{Input, PcHost};
use crate::user::host::{HostOs, OpenOptions};

const STDIN: u32 = 0;
const STDOUT: u32 = 1;
/// Userdata of the input subscription.
const INPUT_READY: u64 = 1;
/// Bytes taken from stdin per read.
const INPUT_CHUNK: usize = 4096;

/// `PcHost` over WASI preview 1.
pub struct WasiPcHost {
    files: WasiHost,
}

impl WasiPcHost {
    /// Finds the preopened directories.
    pub fn new() -> WasiPcHost {
        WasiPcHost {
            files: WasiHost::new(),
        }
    }

    fn open(&mut self, path: &[u8], write: bool) -> Result<u32, String> {
        let options = OpenOptions {
            read: true,
            write,
            ..OpenOptions::default()
        };
        let fd = self
            .files
            .open(path, options)
            .map_err(|e| String::from(strerror(e)))?;
        u32::try_from(fd).map_err(|_| String::from("bad descriptor"))
    }

    /// Reads what stdin holds now (one read); `Closed` at its end.
    fn read_input(&mut self, buf: &mut Vec<u8>) -> Input {
        let mut chunk = [0u8; INPUT_CHUNK];
        match sys::read(STDIN, &mut chunk) {
            Ok(0) | Err(_) => Input::Closed,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                Input::Open
            }
        }
    }
}

impl Default for WasiPcHost {
    fn default() -> Self {
        WasiPcHost::new()
    }
}

impl PcHost for WasiPcHost {
    fn read_file(&mut self, path: &[u8], cap: u64) -> Result<Vec<u8>, String> {
        let fd = self.open(path, false)?;
        let result = read_whole(fd, cap);
        let _ = sys::close(fd);
        result
    }

    fn open_disk(
        &mut self,
        path: &[u8],
        writable: bool,
    ) -> Result<Box<dyn Storage + Send>, String> {
        let fd = self.open(path, writable)?;
        let bytes = sys::fd_filestat(fd).map_or(0, |st| st.size);
        match ImageDisk::new(WasiImageFile(fd), bytes, writable) {
            Ok(disk) => Ok(Box::new(disk)),
            Err(e) => {
                let _ = sys::close(fd);
                Err(String::from(e))
            }
        }
    }

    fn console_output(&mut self, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            match sys::write(STDOUT, rest) {
                Ok(n) if n > 0 => rest = &rest[n..],
                _ => return, // stdout is gone: the guest runs on unseen
            }
        }
    }

    fn poll_input(&mut self, buf: &mut Vec<u8>) -> Input {
        // A zero timeout beside the input makes the poll non-blocking.
        let subscriptions = [
            Subscription::fd_read(INPUT_READY, STDIN),
            Subscription::clock(0, 0),
        ];
        match sys::poll(&subscriptions) {
            Ok(fired) if fired.contains(&INPUT_READY) => self.read_input(buf),
            Ok(_) => Input::Open,
            Err(_) => Input::Closed,
        }
    }

    fn now_ns(&mut self) -> u64 {
        sys::clock(sys::CLOCK_MONOTONIC).unwrap_or(0)
    }

    fn wall_clock(&mut self) -> Option<u64> {
        sys::clock(sys::CLOCK_REALTIME)
            .ok()
            .map(|ns| ns / 1_000_000_000)
    }

    fn wait(&mut self, timeout_ns: Option<u64>, watch_input: bool) {
        let mut subscriptions = Vec::new();
        if watch_input {
            subscriptions.push(Subscription::fd_read(INPUT_READY, STDIN));
        }
        if let Some(ns) = timeout_ns {
            subscriptions.push(Subscription::clock(0, ns));
        }
        if !subscriptions.is_empty() {
            // Input is read by the next `poll_input`.
            let _ = sys::poll(&subscriptions);
        }
    }

    fn error_line(&mut self, line: fmt::Arguments<'_>) {
        super::eprint(line);
    }
}

/// Reads an open file whole, refusing one over `cap` bytes before reading.
fn read_whole(fd: u32, cap: u64) -> Result<Vec<u8>, String> {
    let size = sys::fd_filestat(fd)
        .map_err(|e| String::from(strerror(super::linux_errno(e))))?
        .size;
    if size > cap {
        return Err(alloc::format!(
            "{size} bytes is larger than the guest's RAM ({cap} bytes)"
        ));
    }
    // The host may not have the memory: say so rather than abort.
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(size as usize)
        .map_err(|_| alloc::format!("cannot allocate {size} bytes to read it"))?;
    bytes.resize(size as usize, 0);
    let mut at = 0;
    while at < bytes.len() {
        match sys::read(fd, &mut bytes[at..]) {
            Ok(0) => break, // shrank while being read
            Ok(n) => at += n,
            Err(e) => return Err(String::from(strerror(super::linux_errno(e)))),
        }
    }
    bytes.truncate(at);
    Ok(bytes)
}

/// A disk image file under WASI, for `ImageDisk`.
struct WasiImageFile(u32);

impl ImageFile for WasiImageFile {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> bool {
        sys::pread(self.0, buf, offset).is_ok_and(|n| n == buf.len())
    }

    fn write_at(&mut self, data: &[u8], offset: u64) -> bool {
        sys::pwrite(self.0, data, offset).is_ok_and(|n| n == data.len())
    }
}
