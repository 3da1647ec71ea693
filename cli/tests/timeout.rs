//! `wrun run --timeout`: a guest that loops forever, or sleeps forever in
//! WASI `poll_oneoff` (on a clock or on stdin), is stopped with the
//! "interrupted" trap once the time has passed.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Exit status of a trap.
const TRAP: i32 = 134;

fn module(test: &str, wat: &str) -> PathBuf {
    common::module("timeout", test, wat)
}

/// Runs `wrun --engine ENGINE --timeout 300ms FILE` with stdin an open
/// pipe nobody writes to; returns the exit status, stderr (with the JIT's
/// log) and how long it took.
fn run_with_timeout(path: &Path, engine: &str) -> (i32, String, Duration) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_wrun"))
        .args(["run", "--engine", engine, "--timeout", "300ms"])
        .arg(path)
        .env("WRUN_LOG", "jit")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start wrun");
    let stdin = child.stdin.take();
    let stderr = common::read_stderr(&mut child);
    let status = child.wait().expect("wait for wrun");
    drop(stdin);
    let code = status.code().expect("wrun exited by a signal");
    (code, stderr, started.elapsed())
}

/// On both engines; on the JIT the guest runs as machine code (epoch
/// checks at function entry and loop headers, host calls through
/// call-outs).
fn assert_interrupted(test: &str, wat: &str) {
    for engine in ["interp", "jit"] {
        let (code, stderr, took) = run_with_timeout(&module(test, wat), engine);
        assert_eq!(code, TRAP, "{engine}: {stderr}");
        assert!(
            stderr.contains("trap: interrupted") && stderr.contains("--timeout"),
            "{engine}: {stderr}"
        );
        if engine == "jit" {
            assert!(stderr.contains("runs as machine code"), "{stderr}");
        }
        assert!(took < Duration::from_secs(10), "{engine}: took {took:?}");
    }
}

#[test]
fn an_endless_loop_is_stopped() {
    assert_interrupted(
        "loop",
        r#"(module (func (export "_start") (loop $l (br $l))))"#,
    );
}

#[test]
fn an_endless_start_function_is_stopped() {
    assert_interrupted(
        "start",
        r#"(module (func $f (loop $l (br $l))) (start $f))"#,
    );
}

/// `poll_oneoff` with one subscription written at address 0 by `init`,
/// results at 64, the event count at 200.
fn sleeper(init: &str) -> String {
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    {init}
    (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 200)))))"#
    )
}

#[test]
fn sleeping_forever_on_a_clock_is_stopped() {
    // subscription: userdata 0, tag 0 (clock), clock id 1 (monotonic),
    // timeout u64::MAX ns, relative.
    let init = "(i32.store8 (i32.const 8) (i32.const 0))
                (i32.store (i32.const 16) (i32.const 1))
                (i64.store (i32.const 24) (i64.const -1))";
    assert_interrupted("clock", &sleeper(init));
}

#[test]
fn waiting_forever_on_stdin_is_stopped() {
    // subscription: tag 1 (fd_read) on fd 0, which is a pipe nobody writes.
    let init = "(i32.store8 (i32.const 8) (i32.const 1))
                (i32.store (i32.const 16) (i32.const 0))";
    assert_interrupted("stdin", &sleeper(init));
}
