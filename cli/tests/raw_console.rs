//! `wrun run --raw-console` with a pseudo-terminal as stdin: the terminal
//! is raw while the program runs (keys arrive unbuffered, Ctrl-C as a
//! byte), Ctrl-A Ctrl-A passes one Ctrl-A, Ctrl-A X ends wrun with status
//! 0, and the terminal's settings are back afterwards.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Echoes stdin to stdout until end of input.
const ECHO: &str = r#"(module
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $again
      (i32.store (i32.const 0) (i32.const 64))
      (i32.store (i32.const 4) (i32.const 64))
      (drop (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 16)))
      (if (i32.eqz (i32.load (i32.const 16))) (then (return)))
      (i32.store (i32.const 4) (i32.load (i32.const 16)))
      (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 20)))
      (br $again))))"#;

/// A pseudo-terminal: (master, slave).
fn pty() -> (OwnedFd, OwnedFd) {
    // SAFETY: plain libc calls on descriptors owned right away.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
        assert!(
            master >= 0,
            "posix_openpt: {}",
            std::io::Error::last_os_error()
        );
        let master = OwnedFd::from_raw_fd(master);
        assert_eq!(libc::grantpt(master.as_raw_fd()), 0);
        assert_eq!(libc::unlockpt(master.as_raw_fd()), 0);
        let name = libc::ptsname(master.as_raw_fd());
        assert!(!name.is_null());
        let slave = libc::open(name, libc::O_RDWR | libc::O_NOCTTY);
        assert!(slave >= 0, "open the pty slave");
        (master, OwnedFd::from_raw_fd(slave))
    }
}

fn lflag(fd: &OwnedFd) -> libc::tcflag_t {
    // SAFETY: a zeroed termios is a valid out-parameter.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: `fd` is the pty slave.
    assert_eq!(unsafe { libc::tcgetattr(fd.as_raw_fd(), &mut t) }, 0);
    t.c_lflag
}

#[test]
fn raw_console_passes_keys_and_ctrl_a_x_quits() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("raw-console");
    std::fs::create_dir_all(&dir).unwrap();
    let program = dir.join("echo.wat");
    std::fs::write(&program, ECHO).unwrap();
    let (master, slave) = pty();
    assert_ne!(lflag(&slave) & libc::ICANON, 0, "a fresh pty is canonical");
    let mut child = Command::new(env!("CARGO_BIN_EXE_wrun"))
        .args(["run", "--raw-console"])
        .arg(&program)
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wrun");
    // Wait until wrun has made the terminal raw.
    let start = Instant::now();
    while lflag(&slave) & libc::ICANON != 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the terminal never went raw"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        lflag(&slave) & (libc::ECHO | libc::ISIG),
        0,
        "raw: no echo, no signals"
    );
    let mut stdout = child.stdout.take().unwrap();
    let (send, echoed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 || send.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut keys = std::fs::File::from(master);
    // Ctrl-C is a byte now; Ctrl-A Ctrl-A is one Ctrl-A.
    keys.write_all(b"hi\x03\x01\x01!").unwrap();
    let mut out = Vec::new();
    while out.len() < 5 {
        match echoed.recv_timeout(Duration::from_secs(30)) {
            Ok(bytes) => out.extend_from_slice(&bytes),
            Err(_) => panic!("the program echoed only {out:?}"),
        }
    }
    assert_eq!(out, b"hi\x03\x01!");
    // Ctrl-A X quits.
    keys.write_all(b"\x01x").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("Ctrl-A X did not end wrun");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert!(err.contains("Ctrl-A X: quit"), "{err}");
    assert_ne!(lflag(&slave) & libc::ICANON, 0, "the settings are back");
    assert_ne!(lflag(&slave) & libc::ECHO, 0, "the settings are back");
}

/// Without a terminal on stdin the flag changes nothing: a pipe's bytes,
/// Ctrl-A included, reach the program as they are.
#[test]
fn raw_console_without_a_terminal_changes_nothing() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("raw-console-pipe");
    std::fs::create_dir_all(&dir).unwrap();
    let program = dir.join("echo.wat");
    std::fs::write(&program, ECHO).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wrun"))
        .args(["run", "--raw-console"])
        .arg(&program)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wrun");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a\x01x b\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"a\x01x b\n");
    assert_eq!(out.stderr, b"");
}
