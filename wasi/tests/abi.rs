//! The two ABIs seen from hand-written modules: signatures per memory
//! width, 16-byte iovecs and 8-byte sizes on wasm64, EFAULT without a
//! memory, fd renumbering and `poll_oneoff` clocks. No toolchain needed.

use wrun_runtime::{Engine, Error, Linker, Module, Store};
use wrun_wasi::{MemoryWidth, SharedBuffer, WasiCtx, WasiCtxBuilder};

/// Runs a text module as a command; (status, stdout, stderr).
fn run(wat: &str, args: &[&str]) -> (i32, String, String) {
    let engine = Engine::default();
    let module = Module::new(&engine, wat).expect("valid module");
    let (out, err) = (SharedBuffer::new(), SharedBuffer::new());
    let ctx = WasiCtxBuilder::new()
        .args(args)
        .stdout(out.clone())
        .stderr(err.clone())
        .build();
    let status = wrun_wasi::run_command(&module, ctx).expect("runs");
    let text = |b: &SharedBuffer| String::from_utf8(b.contents()).expect("utf-8");
    (status, text(&out), text(&err))
}

#[test]
fn wasm32_fd_write_and_sizes() {
    let (status, out, _) = run(
        r#"(module
            (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "args_sizes_get" (func $s (param i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (data (i32.const 100) "hi\n")
            (func (export "_start")
              (i32.store (i32.const 0) (i32.const 100))
              (i32.store (i32.const 4) (i32.const 3))
              (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
              ;; argc and argv bytes are 4-byte sizes on wasm32
              (drop (call $s (i32.const 16) (i32.const 20)))
              (call $exit (i32.add (i32.mul (i32.load (i32.const 16)) (i32.const 100))
                                   (i32.load (i32.const 20))))))"#,
        &["prog", "ab"],
    );
    assert_eq!(out, "hi\n");
    assert_eq!(status, 2 * 100 + 8);
}

#[test]
fn wasm64_uses_i64_pointers_16_byte_iovecs_and_8_byte_sizes() {
    let wat = r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i64 i64 i64) (result i32)))
        (import "wasi_snapshot_preview1" "args_sizes_get" (func $s (param i64 i64) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (memory (export "memory") i64 1)
        (data (i64.const 100) "hello ")
        (data (i64.const 200) "wasm64\n")
        (func (export "_start")
          ;; two iovecs of 16 bytes: (ptr: i64, len: i64)
          (i64.store (i64.const 0) (i64.const 100))
          (i64.store (i64.const 8) (i64.const 6))
          (i64.store (i64.const 16) (i64.const 200))
          (i64.store (i64.const 24) (i64.const 7))
          (i64.store (i64.const 48) (i64.const -1))
          (drop (call $w (i32.const 1) (i64.const 0) (i64.const 2) (i64.const 40)))
          ;; nwritten is 8 bytes: the high half of the -1 there is now zero
          (if (i64.ne (i64.load (i64.const 40)) (i64.const 13)) (then (call $exit (i32.const 90))))
          (i64.store (i64.const 56) (i64.const -1))
          (drop (call $s (i64.const 56) (i64.const 64)))
          (if (i64.ne (i64.load (i64.const 56)) (i64.const 3)) (then (call $exit (i32.const 91))))
          ;; a pointer past 4 GiB is out of bounds, not truncated
          (call $exit (call $w (i32.const 1) (i64.const 0x100000000) (i64.const 1) (i64.const 40)))))"#;
    let module = Module::new(&Engine::default(), wat).expect("valid");
    assert_eq!(wrun_wasi::memory_width(&module), MemoryWidth::W64);
    let (status, out, _) = run(wat, &["a", "b", "c"]);
    assert_eq!(out, "hello wasm64\n");
    assert_eq!(status, 21, "EFAULT");
}

#[test]
fn a_wasm32_module_cannot_import_the_wasm64_signature() {
    let engine = Engine::default();
    let module = Module::new(
        &engine,
        r#"(module
            (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i64 i64 i64) (result i32)))
            (memory (export "memory") 1))"#,
    )
    .expect("valid");
    let mut store = Store::new(&engine, WasiCtx::default());
    let mut linker = Linker::new(&engine);
    wrun_wasi::add_to_linker(&mut linker, &module, |c| c).expect("defines");
    match linker.instantiate(&mut store, &module) {
        Err(Error::Link(msg)) => assert!(msg.contains("fd_write"), "{msg}"),
        other => panic!("expected a link error, got {other:?}"),
    }
}

#[test]
fn no_exported_memory_is_efault_not_a_trap() {
    let (status, _, _) = run(
        r#"(module
            (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory 1)
            (func (export "_start")
              (call $exit (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#,
        &[],
    );
    assert_eq!(status, 21);
}

#[test]
fn renumber_moves_an_fd_over_another() {
    let (status, out, err) = run(
        r#"(module
            (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "fd_renumber" (func $r (param i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (data (i32.const 100) "moved\n")
            (func (export "_start")
              (i32.store (i32.const 0) (i32.const 100))
              (i32.store (i32.const 4) (i32.const 6))
              (if (call $r (i32.const 1) (i32.const 2)) (then (call $exit (i32.const 90))))
              (drop (call $w (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))
              ;; fd 1 is gone now: EBADF; renumbering onto a closed fd too
              (call $exit (i32.add (i32.mul (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))
                                            (i32.const 100))
                                   (call $r (i32.const 2) (i32.const 77))))))"#,
        &[],
    );
    // fd 2 now is what fd 1 was: the guest's stdout.
    assert_eq!((out.as_str(), err.as_str()), ("moved\n", ""));
    assert_eq!(status, 8 * 100 + 8);
}

#[test]
fn poll_oneoff_waits_for_the_shortest_clock() {
    let (status, _, _) = run(
        r#"(module
            (import "wasi_snapshot_preview1" "poll_oneoff" (func $p (param i32 i32 i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "clock_time_get" (func $t (param i32 i64 i32) (result i32)))
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            (memory (export "memory") 1)
            (func (export "_start")
              (local $start i64)
              (drop (call $t (i32.const 1) (i64.const 1) (i32.const 900)))
              (local.set $start (i64.load (i32.const 900)))
              ;; subscription 0: monotonic clock, 5 ms, userdata 7
              (i64.store (i32.const 0) (i64.const 7))
              (i32.store8 (i32.const 8) (i32.const 0))
              (i32.store (i32.const 16) (i32.const 1))
              (i64.store (i32.const 24) (i64.const 5000000))
              ;; subscription 1: monotonic clock, 10 s, userdata 8
              (i64.store (i32.const 48) (i64.const 8))
              (i32.store8 (i32.const 56) (i32.const 0))
              (i32.store (i32.const 64) (i32.const 1))
              (i64.store (i32.const 72) (i64.const 10000000000))
              (if (call $p (i32.const 0) (i32.const 200) (i32.const 2) (i32.const 800))
                (then (call $exit (i32.const 90))))
              (drop (call $t (i32.const 1) (i64.const 1) (i32.const 900)))
              (if (i64.lt_u (i64.sub (i64.load (i32.const 900)) (local.get $start)) (i64.const 5000000))
                (then (call $exit (i32.const 91))))
              ;; one event, for userdata 7, type clock, no error
              (call $exit (i32.add (i32.mul (i32.load (i32.const 800)) (i32.const 100))
                (i32.add (i32.wrap_i64 (i64.load (i32.const 200)))
                         (i32.load16_u (i32.const 208)))))))"#,
        &[],
    );
    assert_eq!(status, 107);
}
