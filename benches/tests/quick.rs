//! `wrun-bench --quick` finishes and agrees with the native results.

use std::process::Command;

#[test]
fn quick_mode_runs_every_workload() {
    let out = Command::new(env!("CARGO_BIN_EXE_wrun-bench"))
        .arg("--quick")
        .output()
        .expect("run wrun-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in [
        "fib",
        "collatz",
        "memory",
        "sieve",
        "quicksort",
        "nbody",
        "sha256",
        "matmul",
        "hashmap",
    ] {
        assert!(
            stdout.lines().any(|l| l.starts_with(name)),
            "{name} row: {stdout}"
        );
    }
    assert!(stdout.contains("every result matched"), "{stdout}");
}

#[test]
fn unknown_workload_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_wrun-bench"))
        .args(["--quick", "nonesuch"])
        .output()
        .expect("run wrun-bench");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nonesuch"));
}

#[test]
fn a_users_module_runs_on_every_engine_against_the_interpreter() {
    let fib = concat!(env!("CARGO_MANIFEST_DIR"), "/workloads/fib.wat");
    let out = Command::new(env!("CARGO_BIN_EXE_wrun-bench"))
        .args(["--reps", "1", "--n", "20", "--module", fib])
        .output()
        .expect("run wrun-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("fib "))
        .unwrap_or_else(|| panic!("no fib row: {stdout}"));
    assert!(row.contains(" 20 ") && row.ends_with("--module"), "{row}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("fib ")).count(),
        2,
        "only the module's row and its compile row: {stdout}"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_wrun-bench"))
        .args(["--module", "/nonexistent.wasm"])
        .output()
        .expect("run wrun-bench");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.wasm"));
}
