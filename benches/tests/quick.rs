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
