//! C programs built with Debian's clang + wasi-libc, run on wrun and
//! natively (gcc + glibc); outputs must match byte for byte.

mod common;

use common::{Inputs, assert_same, build_c, build_c_wasm_with, programs_dir};

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

/// The same program built with `-O2 -msimd128` (clang vectorises its
/// loops into v128 code) prints byte for byte what its scalar and native
/// builds print, on both tiers.
#[test]
fn simd128_build_matches_scalar_and_native() {
    let (native, scalar) = build_c("c_simd");
    let simd = scalar.with_file_name("c_simd_simd128.wasm");
    build_c_wasm_with(
        &programs_dir().join("c_simd.c"),
        &simd,
        &["-O2", "-msimd128"],
    );
    let engine = wrun_runtime::Engine::default();
    let module = wrun_runtime::Module::from_file(&engine, &simd).expect("compile");
    assert!(
        module.features_used().any(|f| f == "simd"),
        "the -msimd128 build should use v128"
    );
    let inputs = Inputs {
        args: &["c_simd"],
        env: &[],
        stdin: b"",
    };
    let scalar_out = assert_same("c_simd", &native, &scalar, &inputs);
    let simd_out = assert_same("c_simd_simd128", &native, &simd, &inputs);
    assert_eq!(scalar_out, simd_out);
    assert!(simd_out.stdout.lines().count() >= 20);
}
