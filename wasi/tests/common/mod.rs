//! Shared test helpers: build the programs in `tests/programs/` natively
//! and for WASI, run them both ways, and compare.
//!
//! Toolchains are not optional: when one is missing the test fails and
//! names the script that installs it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use wrun_runtime::{Config, Engine, Module, Strategy};
use wrun_wasi::{DirPerms, SharedBuffer, WasiCtxBuilder};

const INSTALL_HINT: &str = "run scripts/wasi-test-deps.sh (as root or with sudo) to install it";

/// The program sources.
pub fn programs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs")
}

/// A fresh empty directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("wasi-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch directory");
    dir
}

/// Runs a build command; a missing tool or a failed build fails the test.
pub fn build(cmd: &mut Command, what: &str) {
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => panic!(
            "cannot run {:?} to build {what}: {e}; {INSTALL_HINT}",
            cmd.get_program()
        ),
    };
    assert!(
        out.status.success(),
        "building {what} failed ({:?}); if a toolchain part is missing, {INSTALL_HINT}\n{}",
        cmd,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds a Rust program natively and for `wasm32-wasip1`: (native, wasm).
pub fn build_rust(name: &str) -> (PathBuf, PathBuf) {
    let src = programs_dir().join(format!("{name}.rs"));
    let out = scratch(&format!("build-{name}"));
    let native = out.join(name);
    let wasm = out.join(format!("{name}.wasm"));
    build(
        Command::new("rustc")
            .args(["--edition", "2021", "-O"])
            .arg(&src)
            .arg("-o")
            .arg(&native),
        &format!("{name}.rs natively"),
    );
    build(
        Command::new("rustc")
            .args(["--edition", "2021", "-O", "--target", "wasm32-wasip1"])
            .arg(&src)
            .arg("-o")
            .arg(&wasm),
        &format!("{name}.rs for wasm32-wasip1 (rustup target add wasm32-wasip1)"),
    );
    (native, wasm)
}

/// Builds a C program natively (gcc) and for wasm32-wasi (clang with
/// Debian's wasi-libc): (native, wasm).
pub fn build_c(name: &str) -> (PathBuf, PathBuf) {
    let src = programs_dir().join(format!("{name}.c"));
    let out = scratch(&format!("build-{name}"));
    let native = out.join(name);
    let wasm = out.join(format!("{name}.wasm"));
    build(
        Command::new("gcc")
            .args(["-O1", "-Wall", "-D_GNU_SOURCE"])
            .arg(&src)
            .arg("-o")
            .arg(&native),
        &format!("{name}.c natively"),
    );
    build_c_wasm(&src, &wasm);
    (native, wasm)
}

/// Builds one C source for wasm32-wasi.
pub fn build_c_wasm(src: &Path, wasm: &Path) {
    build_c_wasm_with(src, wasm, &["-O1"]);
}

/// Builds one C source for wasm32-wasi with extra compiler flags.
pub fn build_c_wasm_with(src: &Path, wasm: &Path, flags: &[&str]) {
    build(
        Command::new("clang")
            .args(["--target=wasm32-wasi", "-Wall", "-D_GNU_SOURCE"])
            .args(flags)
            .arg(src)
            .arg("-o")
            .arg(wasm),
        &format!("{} for wasm32-wasi (clang, lld, wasi-libc)", src.display()),
    );
}

/// What a run produced.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Arguments, environment and stdin shared by both runs.
pub struct Inputs<'a> {
    pub args: &'a [&'a str],
    pub env: &'a [(&'a str, &'a str)],
    pub stdin: &'a [u8],
}

/// Runs a native build in `dir` (its working directory).
pub fn run_native(exe: &Path, dir: &Path, inputs: &Inputs<'_>) -> Outcome {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let mut child = Command::new(exe)
        .arg0(inputs.args[0])
        .args(&inputs.args[1..])
        .env_clear()
        .envs(inputs.env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn native program");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(inputs.stdin)
        .expect("feed stdin");
    let out = child.wait_with_output().expect("native program");
    Outcome {
        status: out
            .status
            .code()
            .expect("native program killed by a signal"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a wasm build on wrun with `dir` preopened read-write as `.`, plus
/// any `extra` preopens.
pub fn run_wasm(
    wasm: &Path,
    dir: &Path,
    inputs: &Inputs<'_>,
    extra: &[(&Path, &str, DirPerms)],
) -> Outcome {
    run_wasm_on(Strategy::Interp, wasm, dir, inputs, extra)
}

/// [`run_wasm`] on the engine `strategy` names. On the JIT the program
/// must run as machine code (WASI calls leave it through call-outs): a
/// fallback to the interpreter fails the test with the JIT's reason.
pub fn run_wasm_on(
    strategy: Strategy,
    wasm: &Path,
    dir: &Path,
    inputs: &Inputs<'_>,
    extra: &[(&Path, &str, DirPerms)],
) -> Outcome {
    let engine = Engine::new(Config::new().strategy(strategy));
    let module = Module::from_file(&engine, wasm).expect("compile wasm program");
    if strategy == Strategy::Jit {
        // The JIT does not compile v128 yet: such a module runs on the
        // interpreter as a whole (docs/simd.md).
        let simd = module.features_used().any(|f| f == "simd");
        assert_eq!(
            module.jit_fallback().is_some(),
            simd,
            "{} should run compiled by the JIT unless it uses SIMD",
            wasm.display()
        );
    }
    let stdout = SharedBuffer::new();
    let stderr = SharedBuffer::new();
    let mut builder = WasiCtxBuilder::new()
        .args(inputs.args)
        .envs(inputs.env.iter().copied())
        .stdin(std::io::Cursor::new(inputs.stdin.to_vec()))
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .preopen_dir(dir, ".", DirPerms::ReadWrite)
        .expect("preopen scratch directory");
    for (host, guest, perms) in extra {
        builder = builder
            .preopen_dir(host, guest, *perms)
            .expect("preopen extra directory");
    }
    let status = match wrun_wasi::run_command(&module, builder.build()) {
        Ok(status) => status,
        Err(e) => panic!(
            "{} failed on wrun: {e}\nstdout so far:\n{}\nstderr so far:\n{}",
            wasm.display(),
            String::from_utf8_lossy(&stdout.contents()),
            String::from_utf8_lossy(&stderr.contents())
        ),
    };
    Outcome {
        status,
        stdout: String::from_utf8_lossy(&stdout.contents()).into_owned(),
        stderr: String::from_utf8_lossy(&stderr.contents()).into_owned(),
    }
}

/// Builds nothing; runs `native`, and `wasm` on the interpreter and on the
/// JIT, on the same inputs, each in its own scratch directory, and asserts
/// identical status, stdout and stderr.
pub fn assert_same(name: &str, native: &Path, wasm: &Path, inputs: &Inputs<'_>) -> Outcome {
    let native_dir = scratch(&format!("{name}-native"));
    let n = run_native(native, &native_dir, inputs);
    let mut outcomes = Vec::new();
    for strategy in [Strategy::Interp, Strategy::Jit] {
        let wasm_dir = scratch(&format!("{name}-wasm-{strategy:?}"));
        let w = run_wasm_on(strategy, wasm, &wasm_dir, inputs, &[]);
        assert_eq!(
            n.stdout, w.stdout,
            "{name}: stdout differs (left native, right wasm on {strategy:?})"
        );
        assert_eq!(
            n.stderr, w.stderr,
            "{name}: stderr differs (left native, right wasm on {strategy:?})"
        );
        assert_eq!(
            n.status, w.status,
            "{name}: exit status differs on {strategy:?}"
        );
        // The programs clean up after themselves; leftovers would differ too.
        assert_eq!(
            listing(&native_dir),
            listing(&wasm_dir),
            "{name}: files left behind differ on {strategy:?}"
        );
        outcomes.push(w);
    }
    outcomes.swap_remove(0)
}

/// The sorted names under `dir`, recursively.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.strip_prefix(base).unwrap_or(&p).display().to_string());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                walk(base, &p, out);
            }
        }
    }
    walk(dir, dir, &mut out);
    out.sort();
    out
}
