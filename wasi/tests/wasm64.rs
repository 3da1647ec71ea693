//! A `no_std` Rust guest for `wasm64-unknown-unknown` (memory64) using WASI
//! with 64-bit pointers and sizes: console, args, env, preopens, files,
//! directories, clocks, random bytes, stdin and its exit status.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Inputs, build, run_wasm, scratch};
use wrun_runtime::{Engine, Module};
use wrun_wasi::MemoryWidth;

const EXPECTED: &str = "\
hello from wasm64 (8-byte pointers)
arg: 3 strings, 27 bytes
arg[0] = \"guest64\"
arg[1] = \"--flag\"
arg[2] = \"ünïcødé\"
env: 2 strings, 18 bytes
env[0] = \"HOME=/home\"
env[1] = \"EMPTY=\"
fd 3: tag 0 name \".\"
wrote 24 bytes through two 16-byte iovecs
seek back 13: offset 11
read 13 bytes: \"bit \" + \"pointers\\n\"
pread at 6: \"four\"
size 24 regular file true
d64 is a directory: true
readdir: 4 entries, w64.txt true, d64/ true
monotonic never goes back: true
wall clock after 2020: true
random bytes not all zero: true
stdin: \"TYPED INPUT\\n\"
fd_write with iovs at 4 GiB + 16: errno 21
";

/// Builds the guest with nightly's `-Zbuild-std`; the target is tier 3.
fn build_guest() -> std::path::PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/wasm64/Cargo.toml");
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wasm64-guest");
    build(
        Command::new("cargo")
            .args(["+nightly", "build", "--release", "--quiet"])
            .args([
                "--target",
                "wasm64-unknown-unknown",
                "-Zbuild-std=core,alloc",
            ])
            .arg("--manifest-path")
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target_dir)
            // The outer `cargo test` sets these for its own build.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTC")
            .env_remove("RUSTC_WRAPPER")
            .env_remove("RUSTUP_TOOLCHAIN"),
        "the wasm64 guest (nightly toolchain with rust-src)",
    );
    target_dir.join("wasm64-unknown-unknown/release/wasi_wasm64_guest.wasm")
}

#[test]
fn wasm64_guest_uses_64_bit_wasi() {
    let wasm = build_guest();
    let module = Module::from_file(&Engine::default(), &wasm).expect("compile wasm64 guest");
    assert_eq!(wrun_wasi::memory_width(&module), MemoryWidth::W64);

    let dir = scratch("wasm64");
    let out = run_wasm(
        &wasm,
        &dir,
        &Inputs {
            args: &["guest64", "--flag", "ünïcødé"],
            env: &[("HOME", "/home"), ("EMPTY", "")],
            stdin: b"typed input\n",
        },
        &[],
    );
    assert_eq!(out.stdout, EXPECTED);
    assert_eq!(out.stderr, "");
    assert_eq!(out.status, 5);
    assert!(common::listing(&dir).is_empty(), "the guest cleans up");
}
