//! C programs built with Debian's clang + wasi-libc, run on wrun and
//! natively (gcc + glibc); outputs must match byte for byte.

mod common;

use common::{Inputs, assert_same, build_c};

#[test]
fn hello() {
    let (native, wasm) = build_c("c_hello");
    let out = assert_same(
        "c_hello",
        &native,
        &wasm,
        &Inputs {
            args: &["hello", "a", "b"],
            env: &[],
            stdin: b"",
        },
    );
    assert_eq!(out.status, 3);
}

#[test]
fn files_directories_links_and_times() {
    let (native, wasm) = build_c("c_fs");
    assert_same(
        "c_fs",
        &native,
        &wasm,
        &Inputs {
            args: &["c_fs"],
            env: &[],
            stdin: b"",
        },
    );
}

#[test]
fn args_env_stdin_clocks_random_and_exit_status() {
    let (native, wasm) = build_c("c_misc");
    let out = assert_same(
        "c_misc",
        &native,
        &wasm,
        &Inputs {
            args: &["c_misc", "7", "two words", ""],
            env: &[("GREETING", "hi"), ("A", "b=c"), ("EMPTY", "")],
            stdin: b"one\ntwo\nlast without newline",
        },
    );
    assert_eq!(out.status, 7);
}
