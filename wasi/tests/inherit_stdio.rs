//! `inherit_stdio`: the guest reads the host's stdin and writes the host's
//! stdout and stderr. The test runs itself as a child process with pipes
//! as its standard streams.

use std::io::Write;
use std::process::{Command, Stdio};

use wrun_runtime::{Engine, Module};
use wrun_wasi::WasiCtxBuilder;

/// Reads up to 64 bytes of stdin, writes them to stdout and stderr, and
/// exits with 40 + the WASI file type of its stdin.
const ECHO: &str = r#"(module
    (import "wasi_snapshot_preview1" "fd_read" (func $r (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $st (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
    (memory (export "memory") 1)
    (func (export "_start")
      (i32.store (i32.const 0) (i32.const 100))
      (i32.store (i32.const 4) (i32.const 64))
      (drop (call $r (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
      (i32.store (i32.const 4) (i32.load (i32.const 8)))
      (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
      (drop (call $w (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
      (drop (call $st (i32.const 0) (i32.const 200)))
      (call $exit (i32.add (i32.const 40) (i32.load8_u (i32.const 200))))))"#;

/// Sets NONBLOCK on stdin and reads it while it is empty but open: exits
/// with 10 × (the flags fdstat reports) + the errno of the read.
const NONBLOCKING_READ: &str = r#"(module
    (import "wasi_snapshot_preview1" "fd_read" (func $r (param i32 i32 i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_fdstat_set_flags" (func $set (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $st (param i32 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
    (memory (export "memory") 1)
    (func (export "_start")
      (local $errno i32)
      (if (call $set (i32.const 0) (i32.const 4)) (then (call $exit (i32.const 1))))
      (drop (call $st (i32.const 0) (i32.const 200)))
      (i32.store (i32.const 0) (i32.const 100))
      (i32.store (i32.const 4) (i32.const 64))
      (local.set $errno (call $r (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
      (call $exit (i32.add (i32.mul (i32.load16_u (i32.const 202)) (i32.const 10)) (local.get $errno)))))"#;

const CHILD_VAR: &str = "WRUN_WASI_INHERIT_STDIO_CHILD";

#[test]
fn child_runs_the_guest_on_inherited_stdio() {
    if std::env::var_os(CHILD_VAR).is_none() {
        return;
    }
    let wat = if std::env::var_os(CHILD_VAR).is_some_and(|v| v == "nonblocking") {
        NONBLOCKING_READ
    } else {
        ECHO
    };
    let module = Module::new(&Engine::default(), wat).expect("valid");
    let ctx = WasiCtxBuilder::new().inherit_stdio().build();
    let status = wrun_wasi::run_command(&module, ctx).expect("runs");
    // Leave before the test harness prints anything more.
    std::process::exit(status);
}

#[test]
fn guest_uses_the_hosts_stdin_stdout_and_stderr() {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_runs_the_guest_on_inherited_stdio",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_VAR, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the test binary");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"ping through pipes\n")
        .expect("feed");
    let out = child.wait_with_output().expect("child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("ping through pipes\n"), "stdout: {stdout}");
    assert!(stderr.contains("ping through pipes\n"), "stderr: {stderr}");
    // A pipe is a FIFO, which WASI calls `unknown` (0).
    assert_eq!(
        out.status.code(),
        Some(40),
        "stdout: {stdout}\nstderr: {stderr}"
    );
}

#[test]
fn nonblocking_stdin_is_emulated_without_touching_the_host_fd() {
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "child_runs_the_guest_on_inherited_stdio",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_VAR, "nonblocking")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn the test binary");
    // Held open and empty while the guest reads.
    let stdin = child.stdin.take().expect("stdin");
    let status = child.wait().expect("child");
    drop(stdin);
    // fdstat says NONBLOCK (4); the read is EAGAIN (6) instead of blocking.
    assert_eq!(status.code(), Some(4 * 10 + 6));
}
