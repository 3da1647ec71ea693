//! Running a command natively and under `x86emu --user`, for the tests
//! that compare the two byte for byte (stdout, stderr, exit status).

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a run produced.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    /// Exit code, `None` if killed by a signal (or the deadline).
    pub status: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Longest a single run may take before it is killed.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Runs `cmd` in `dir` with `stdin`, a fixed small environment (C locale,
/// UTC) and a deadline.
pub fn run(mut cmd: Command, dir: &Path, stdin: &[u8]) -> Outcome {
    cmd.current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LC_ALL", "C")
        .env("TZ", "UTC");
    let mut child = cmd.spawn().expect("spawn");
    // A program that exits without reading its input closes the pipe early.
    let _ = child.stdin.take().unwrap().write_all(stdin);
    let deadline = Instant::now() + DEADLINE;
    loop {
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    if child.try_wait().unwrap().is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    Outcome {
        status: out.status.code(),
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

/// `program args…` natively and as `x86emu --user program args…`.
pub fn native_and_emulated(
    program: &Path,
    args: &[&str],
    dir: &Path,
    stdin: &[u8],
) -> (Outcome, Outcome) {
    let mut native = Command::new(program);
    native.args(args);
    let mut emulated = Command::new(env!("CARGO_BIN_EXE_x86emu"));
    emulated.arg("--user").arg(program).args(args);
    (run(native, dir, stdin), run(emulated, dir, stdin))
}

/// The start of a byte string, for failure messages.
pub fn show(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    if s.len() > 400 {
        format!("{}…", &s[..s.floor_char_boundary(400)])
    } else {
        s.into_owned()
    }
}

/// A mismatch report, or `None` if the outcomes are identical.
pub fn difference(name: &str, native: &Outcome, emulated: &Outcome) -> Option<String> {
    if native == emulated {
        return None;
    }
    Some(format!(
        "{name}\n  native:   status {:?} stdout {:?} stderr {:?}\n  emulated: status {:?} stdout {:?} stderr {:?}",
        native.status,
        show(&native.stdout),
        show(&native.stderr),
        emulated.status,
        show(&emulated.stdout),
        show(&emulated.stderr)
    ))
}

/// Builds `tests/programs/<name>.c` with the host's gcc and `flags` into
/// `dir/<output>`; a missing gcc fails with the install hint.
pub fn build_c_program(dir: &Path, name: &str, output: &str, flags: &[&str]) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/programs")
        .join(format!("{name}.c"));
    let binary = dir.join(output);
    let out = Command::new("gcc")
        .args(["-O2", "-Wall", "-pthread"])
        .args(flags)
        .arg("-o")
        .arg(&binary)
        .arg(&source)
        .output()
        .expect(
            "gcc not found: the C test programs need it (`bash scripts/test.sh` installs \
             what the tests need; by hand: apt-get install gcc libc6-dev)",
        );
    assert!(
        out.status.success(),
        "gcc {}: {}",
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    binary
}
