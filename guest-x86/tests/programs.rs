//! C programs under `guest-x86/tests/programs/`, built here with the
//! host's gcc (static, and dynamic for the threads program) and compared
//! byte for byte with their native runs: threads (mutexes, condition
//! variables, atomics, barriers, semaphores, join, exit), signals between
//! processes and threads, poll/select over pipes, sigaltstack. Without gcc
//! (or glibc's static libc.a) they fail with the install hint: no test
//! passes by skipping.

mod compare;

use std::process::Command;

use compare::{build_c_program, difference, native_and_emulated};

fn have_gcc() -> bool {
    Command::new("gcc")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Builds and compares one program, natively and under x86emu.
fn compare_program(name: &str, output: &str, flags: &[&str]) {
    assert!(
        have_gcc(),
        "gcc not found: the C test programs need it (`bash scripts/test.sh` installs what the tests need; by hand: apt-get install gcc libc6-dev)"
    );
    let dir = std::env::temp_dir().join(format!(
        "guest-x86-programs-{}-{output}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let binary = build_c_program(&dir, name, output, flags);
    let (native, emulated) = native_and_emulated(&binary, &[], &dir, b"");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        !native.stdout.is_empty() && native.status.is_some(),
        "{output} produced nothing natively: {native:?}"
    );
    if let Some(report) = difference(output, &native, &emulated) {
        panic!("{report}");
    }
}

#[test]
fn threads_static() {
    compare_program("threads", "threads-static", &["-static"]);
}

#[test]
fn threads_dynamic() {
    compare_program("threads", "threads-dynamic", &[]);
}

#[test]
fn signals_between_processes_and_threads() {
    compare_program("signals", "signals", &["-static"]);
}

#[test]
fn poll_and_select_over_pipes() {
    compare_program("poll", "poll", &["-static"]);
}

#[test]
fn sigaltstack() {
    compare_program("sigaltstack", "sigaltstack", &["-static"]);
}

/// The same program as a static PIE (ET_DYN without an interpreter, placed
/// at Linux's base) and as a dynamically linked non-PIE (ET_EXEC with one).
#[test]
fn static_pie_and_dynamic_non_pie() {
    compare_program("sigaltstack", "sigaltstack-static-pie", &["-static-pie"]);
    compare_program("sigaltstack", "sigaltstack-no-pie", &["-no-pie"]);
}
