//! `wrun run --raw-console`: the terminal in raw mode while the program
//! runs, for a guest console such as emu.wasm's serial port: every key,
//! Ctrl-C included, reaches the program as a byte. Ctrl-A X quits wrun
//! (status 0) and Ctrl-A Ctrl-A sends one Ctrl-A, as QEMU's `-serial
//! mon:stdio` does. Output keeps `\n` → `\r\n` so text stays readable.
//!
//! The program's fd 0 becomes a pipe fed by a thread reading the terminal
//! (which filters the Ctrl-A sequences); WASI polls and reads the pipe as
//! it would the terminal. The saved settings come back when the run ends
//! or on Ctrl-A X. Without a terminal on stdin the flag does nothing.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Ctrl-A, the escape key.
const ESCAPE: u8 = 0x01;

/// The terminal's saved settings, restored on drop.
pub struct RawConsole {
    tty: OwnedFd,
    saved: libc::termios,
}

fn os_error(what: &str) -> String {
    format!("--raw-console: {what}: {}", std::io::Error::last_os_error())
}

/// Puts the terminal on stdin in raw mode; `None` when stdin is no terminal.
pub fn enter() -> Result<Option<RawConsole>, String> {
    // SAFETY: isatty only inspects the descriptor.
    if unsafe { libc::isatty(0) } != 1 {
        return Ok(None);
    }
    // SAFETY: a zeroed termios is a valid out-parameter for tcgetattr.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd 0 is a terminal; `saved` is a live termios.
    if unsafe { libc::tcgetattr(0, &mut saved) } != 0 {
        return Err(os_error("reading the terminal settings"));
    }
    // SAFETY: dup of an open descriptor; the result is owned below.
    let tty = unsafe { libc::dup(0) };
    if tty < 0 {
        return Err(os_error("dup"));
    }
    // SAFETY: `tty` is a fresh descriptor nobody else owns.
    let tty = unsafe { OwnedFd::from_raw_fd(tty) };
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two ends.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(os_error("pipe"));
    }
    // SAFETY: both ends are fresh descriptors owned from here on.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: replaces fd 0 with the pipe's read end (the terminal stays
    // reachable through `tty`).
    if unsafe { libc::dup2(read_end.as_raw_fd(), 0) } < 0 {
        return Err(os_error("dup2"));
    }
    drop(read_end);
    let mut raw = saved;
    // SAFETY: `raw` is a live termios.
    unsafe { libc::cfmakeraw(&mut raw) };
    raw.c_oflag |= libc::OPOST | libc::ONLCR;
    // SAFETY: `tty` is the terminal; `raw` a valid termios.
    if unsafe { libc::tcsetattr(tty.as_raw_fd(), libc::TCSANOW, &raw) } != 0 {
        return Err(os_error("setting raw mode"));
    }
    let console = RawConsole { tty, saved };
    let reader = console
        .tty
        .try_clone()
        .map_err(|e| format!("--raw-console: {e}"))?;
    std::thread::Builder::new()
        .name("raw-console".into())
        .spawn(move || forward(reader, write_end, saved))
        .map_err(|e| format!("--raw-console: {e}"))?;
    Ok(Some(console))
}

/// Copies keys from the terminal to the program's pipe until either ends,
/// acting on Ctrl-A sequences.
fn forward(tty: OwnedFd, pipe: OwnedFd, saved: libc::termios) {
    let mut file = std::fs::File::from(tty);
    let mut out = std::fs::File::from(pipe);
    let mut buf = [0u8; 256];
    let mut escaped = false;
    loop {
        let n = match std::io::Read::read(&mut file, &mut buf) {
            Ok(0) | Err(_) => return, // the terminal is gone: EOF for the program
            Ok(n) => n,
        };
        let mut keys = Vec::with_capacity(n);
        for &key in &buf[..n] {
            match (escaped, key) {
                (false, ESCAPE) => escaped = true,
                (false, _) => keys.push(key),
                (true, b'x' | b'X') => {
                    let _ = std::io::Write::write_all(&mut out, &keys);
                    // SAFETY: restores the settings saved at entry on the
                    // terminal this thread reads.
                    unsafe { libc::tcsetattr(file.as_raw_fd(), libc::TCSANOW, &saved) };
                    eprintln!("\nwrun: Ctrl-A X: quit");
                    std::process::exit(0);
                }
                (true, ESCAPE) => {
                    keys.push(ESCAPE);
                    escaped = false;
                }
                (true, _) => escaped = false, // unknown sequence: dropped
            }
        }
        if std::io::Write::write_all(&mut out, &keys).is_err() {
            return; // the program closed its stdin
        }
    }
}

impl Drop for RawConsole {
    fn drop(&mut self) {
        // SAFETY: restores the settings saved at entry on the same terminal.
        unsafe { libc::tcsetattr(self.tty.as_raw_fd(), libc::TCSANOW, &self.saved) };
    }
}
