//! Rust programs built for `wasm32-wasip1`, run on wrun and natively;
//! outputs must match byte for byte.

mod common;

use common::{Inputs, assert_same, build_rust};

#[test]
fn files_directories_links_and_times() {
    let (native, wasm) = build_rust("rust_fs");
    assert_same(
        "rust_fs",
        &native,
        &wasm,
        &Inputs {
            args: &["rust_fs"],
            env: &[],
            stdin: b"",
        },
    );
}

#[test]
fn args_env_stdin_clocks_random_and_exit_status() {
    let (native, wasm) = build_rust("rust_misc");
    let out = assert_same(
        "rust_misc",
        &native,
        &wasm,
        &Inputs {
            args: &["rust_misc", "42", "ünïcødé", ""],
            env: &[("GREETING", "hello"), ("PATHLIKE", "/a:/b"), ("EMPTY", "")],
            stdin: "first\nsecond ü\n\nlast".as_bytes(),
        },
    );
    assert_eq!(out.status, 42);
}
