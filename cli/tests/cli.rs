//! Runs the built `wrun` binary on small modules written to a temporary
//! folder and checks its output and exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Exit codes documented in `wrun --help`.
const ERROR: i32 = 1;
const USAGE: i32 = 2;
const TRAP: i32 = 134;

/// A fresh folder for one test's files.
fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wrun-cli-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create scratch folder");
    dir
}

/// Writes `contents` to `name` in the test's folder.
fn write(test: &str, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = scratch(test).join(name);
    std::fs::write(&path, contents).expect("write test module");
    path
}

fn wrun(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wrun"))
        .args(args)
        .output()
        .expect("run wrun")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("wrun exited by a signal")
}

const ARITH: &str = r#"
(module $arith
  (func (export "add") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.add)
  (func (export "wide") (param i64) (result i64)
    local.get 0 i64.const 1 i64.add)
  (func (export "halves") (param f64) (result f64 f32)
    local.get 0 f64.const 2 f64.div f32.const 0.5)
  (func (export "fdiv") (param f32 f32) (result f32)
    local.get 0 local.get 1 f32.div)
  (func $divide (param i32) (result i32)
    local.get 0 i32.const 0 i32.div_u)
  (func $outer (export "trap") (result i32)
    i32.const 1 call $divide)
  (func $spin (export "spin") (loop $l (call $tick) (br $l)))
  (func $tick)
  (func $rec (export "rec") (param i32) (result i32)
    local.get 0 i32.const 1 i32.add call $rec)
  (memory 1)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
)
"#;

#[test]
fn invoke_prints_each_result() {
    let file = write("invoke", "arith.wat", ARITH);
    let file = file.to_str().unwrap();
    let o = wrun(&["run", "--invoke", "add", file, "2", "40"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "42\n");

    // The shorthand without `run`, hex and unsigned-range arguments.
    let o = wrun(&["--invoke", "add", file, "0x10", "4294967295"]);
    assert_eq!(stdout(&o), "15\n");
    let o = wrun(&["--invoke", "wide", file, "-0x8000000000000000"]);
    assert_eq!(stdout(&o), "-9223372036854775807\n");

    // Floats print like wasmtime: shortest round trip, `inf`, `NaN`.
    let o = wrun(&["--invoke", "halves", file, "3"]);
    assert_eq!(stdout(&o), "1.5\n0.5\n");
    let o = wrun(&["--invoke", "fdiv", file, "1", "0"]);
    assert_eq!(stdout(&o), "inf\n");
    let o = wrun(&["--invoke", "fdiv", file, "nan", "2"]);
    assert_eq!(stdout(&o), "NaN\n");
}

#[test]
fn invoke_argument_errors_name_the_argument() {
    let file = write("invoke-errors", "arith.wat", ARITH);
    let file = file.to_str().unwrap();
    let o = wrun(&["--invoke", "add", file, "1", "x"]);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains("argument 2: `x` is not a valid i32"),
        "{}",
        stderr(&o)
    );
    let o = wrun(&["--invoke", "add", file, "1"]);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains("takes 2 argument(s), 1 given"),
        "{}",
        stderr(&o)
    );
    let o = wrun(&["--invoke", "missing", file]);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains("no exported function `missing`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_calls_start() {
    let ok = write(
        "start",
        "ok.wat",
        r#"(module (func (export "_start") nop))"#,
    );
    let o = wrun(&[ok.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let bad = write(
        "start",
        "bad.wat",
        r#"(module (func $main (export "_start") unreachable))"#,
    );
    let o = wrun(&["run", bad.to_str().unwrap()]);
    assert_eq!(code(&o), TRAP);
    assert!(stderr(&o).contains("unreachable"), "{}", stderr(&o));
    assert!(stderr(&o).contains("main"), "{}", stderr(&o));
}

#[test]
fn trap_in_the_start_function_is_reported_like_any_trap() {
    let file = write(
        "start-trap",
        "st.wat",
        "(module $s (func $init unreachable) (start $init))",
    );
    let o = wrun(&["validate", file.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "valid, it only traps when run");
    let o = wrun(&[file.to_str().unwrap()]);
    assert_eq!(code(&o), TRAP);
    let err = stderr(&o);
    assert!(err.contains("instantiating: trap: unreachable"), "{err}");
    assert!(err.contains("0: s!init"), "{err}");
}

#[test]
fn trap_reports_message_and_backtrace() {
    let file = write("trap", "arith.wat", ARITH);
    // Every frame is named by the interpreter; compiled frames keep no pc
    // map yet (a trap there names the function called from the host).
    let o = wrun(&[
        "--engine",
        "interp",
        "--invoke",
        "trap",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), TRAP);
    let err = stderr(&o);
    assert!(err.contains("integer divide by zero"), "{err}");
    assert!(err.contains("wasm backtrace:"), "{err}");
    let divide = err.find("arith!divide").expect("inner frame named");
    let outer = err.find("arith!outer").expect("outer frame named");
    assert!(divide < outer, "innermost frame first: {err}");
}

#[test]
fn limits_from_the_command_line() {
    let file = write("limits", "arith.wat", ARITH);
    let file = file.to_str().unwrap();
    let o = wrun(&["--fuel", "10000", "--invoke", "spin", file]);
    assert_eq!(code(&o), TRAP);
    assert!(stderr(&o).contains("all fuel consumed"), "{}", stderr(&o));

    let o = wrun(&["--max-call-depth", "100", "--invoke", "rec", file, "0"]);
    assert_eq!(code(&o), TRAP);
    let err = stderr(&o);
    assert!(err.contains("call stack exhausted"), "{err}");
    assert!(
        err.contains("frames omitted"),
        "long backtraces are elided: {err}"
    );

    let o = wrun(&["--max-memory", "128Ki", "--invoke", "grow", file, "1"]);
    assert_eq!(stdout(&o), "1\n");
    let o = wrun(&["--max-memory", "128Ki", "--invoke", "grow", file, "2"]);
    assert_eq!(stdout(&o), "-1\n");
    let o = wrun(&["--max-memory", "1000", "--invoke", "grow", file, "0"]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("limit exceeded"), "{}", stderr(&o));
}

/// `-W NAME=y|n` switches a proposal for `wrun run` and `wrun spec` alike,
/// and `wrun spec` takes the run's limits: a memory64 script growing past
/// the default 4 GiB ceiling passes with `--max-memory`.
#[test]
fn proposal_switches_and_limits_reach_run_and_spec() {
    let module = write(
        "switches",
        "pages.wat",
        "(module (memory 1 (pagesize 1)) (func (export \"size\") (result i32) memory.size))",
    );
    let module = module.to_str().unwrap();
    let o = wrun(&["--invoke", "size", module]);
    assert_eq!(code(&o), ERROR, "custom page sizes are off by default");
    assert!(stderr(&o).contains("custom page sizes"), "{}", stderr(&o));
    let o = wrun(&["-W", "custom-page-sizes=y", "--invoke", "size", module]);
    assert_eq!(
        (code(&o), stdout(&o).as_str()),
        (0, "1\n"),
        "{}",
        stderr(&o)
    );
    let o = wrun(&["-W", "gc=n,custom-page-sizes", "--invoke", "size", module]);
    assert_eq!(stdout(&o), "1\n", "{}", stderr(&o));
    let o = wrun(&["-W", "custom-pages=y", module]);
    assert_eq!(code(&o), USAGE);
    assert!(
        stderr(&o).contains("unknown proposal `custom-pages`"),
        "{}",
        stderr(&o)
    );

    let script = write(
        "switches",
        "big.wast",
        "(module (memory i64 0)\n\
           (func (export \"grow\") (param i64) (result i64) (memory.grow (local.get 0))))\n\
         (assert_return (invoke \"grow\" (i64.const 0x10001)) (i64.const 0))\n",
    );
    let script = script.to_str().unwrap();
    let o = wrun(&["spec", script]);
    assert_eq!(code(&o), 1, "4 GiB + 64 KiB is past the default ceiling");
    let o = wrun(&[
        "spec",
        "--max-memory",
        "5Gi",
        "--memory-budget",
        "8Gi",
        script,
    ]);
    assert_eq!(code(&o), 0, "{}{}", stdout(&o), stderr(&o));
}

#[test]
fn unknown_import_is_named() {
    let file = write(
        "import",
        "imp.wat",
        r#"(module (import "env" "missing" (func)))"#,
    );
    let o = wrun(&[file.to_str().unwrap()]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("`env::missing`"), "{}", stderr(&o));
}

#[test]
fn validate_reports_validity_and_offsets() {
    let good = write("validate", "good.wat", ARITH);
    let o = wrun(&["validate", good.to_str().unwrap()]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).ends_with("good.wat: valid\n"), "{}", stdout(&o));

    // A type section that ends early.
    let truncated = write(
        "validate",
        "trunc.wasm",
        b"\0asm\x01\0\0\0\x01\x05\x01\x60\0",
    );
    let o = wrun(&["validate", truncated.to_str().unwrap()]);
    assert_eq!(code(&o), ERROR);
    let err = stderr(&o);
    assert!(err.contains("trunc.wasm"), "{err}");
    assert!(err.contains("malformed"), "{err}");
    assert!(err.contains("at offset 0x"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");

    let invalid = write(
        "validate",
        "invalid.wat",
        "(module (func (result i32) i64.const 1))",
    );
    let o = wrun(&["validate", invalid.to_str().unwrap()]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("type mismatch"), "{}", stderr(&o));

    let text = write("validate", "broken.wat", "(module (func)");
    let o = wrun(&["validate", text.to_str().unwrap()]);
    assert_eq!(code(&o), ERROR);
    assert!(stderr(&o).contains("broken.wat:1:"), "{}", stderr(&o));
}

#[test]
fn missing_file_is_an_error_not_a_panic() {
    let o = wrun(&["validate", "/nonexistent/x.wasm"]);
    assert_eq!(code(&o), ERROR);
    assert!(
        stderr(&o).contains("cannot read `/nonexistent/x.wasm`"),
        "{}",
        stderr(&o)
    );
    let o = wrun(&["/nonexistent/y.wat"]);
    assert_eq!(code(&o), ERROR);
}

#[test]
fn inspect_json_lists_everything() {
    let file = write(
        "inspect",
        "mod.wat",
        r#"(module $demo
             (import "env" "log" (func (param i64)))
             (memory (export "mem") i64 1)
             (func (export "main") (result i32 i32) i32.const 1 i32.const 2))"#,
    );
    let o = wrun(&["inspect", "--json", file.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    assert_eq!(v["name"], "demo");
    assert_eq!(v["imports"][0]["module"], "env");
    assert_eq!(v["imports"][0]["name"], "log");
    assert_eq!(v["imports"][0]["type"], "(func (param i64))");
    assert_eq!(v["exports"][0]["name"], "mem");
    assert_eq!(v["exports"][0]["kind"], "memory");
    assert_eq!(v["exports"][1]["type"], "(func (result i32 i32))");
    let sections: Vec<&str> = v["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(sections.contains(&"code"), "{sections:?}");
    assert!(v["sections"][0]["offset"].as_u64().unwrap() >= 8);
    let features = v["features"].as_array().unwrap();
    assert!(features.iter().any(|f| f == "memory64"), "{features:?}");

    let o = wrun(&["inspect", file.to_str().unwrap()]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("env::log"), "{}", stdout(&o));
}

#[test]
fn features_json_is_honest() {
    let o = wrun(&["features", "--json"]);
    assert_eq!(code(&o), 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    let status = |name: &str| {
        v["proposals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| (p["interpreter"].clone(), p["jit"].clone()))
            .unwrap_or_else(|| panic!("{name} listed"))
    };
    assert_eq!(status("memory64").0, "supported");
    assert_eq!(status("tail-call").0, "supported");
    assert_eq!(status("simd").0, "supported");
    assert_eq!(status("relaxed-simd").0, "supported");
    assert_eq!(status("gc").0, "not yet");
    assert_eq!(status("custom-page-sizes").0, "supported");
    assert_eq!(status("mvp").1, "supported");
    assert_eq!(
        status("nontrapping-float-to-int-conversions").1,
        "supported"
    );
    assert_eq!(status("tail-call").1, "partly, else interpreter");
    assert_eq!(status("exceptions").1, "supported");
    assert_eq!(status("simd").1, "falls back to the interpreter");
    assert_eq!(v["interfaces"][0]["name"], "wasi-preview1 (wasm32)");
    assert_eq!(v["interfaces"][0]["status"], "supported");
    assert_eq!(v["interfaces"][1]["name"], "wasi-preview1 (wasm64)");
    assert_eq!(v["interfaces"][1]["status"], "supported");
}

#[test]
fn bad_flags_are_usage_errors() {
    let o = wrun(&["inspect", "--frobnicate", "x.wasm"]);
    assert_eq!(code(&o), USAGE);
    assert!(stderr(&o).contains("--frobnicate"), "{}", stderr(&o));
    let o = wrun(&["--fuel", "lots", "x.wasm"]);
    assert_eq!(code(&o), USAGE);
    assert!(stderr(&o).contains("lots"), "{}", stderr(&o));
    let o = wrun(&[]);
    assert_eq!(code(&o), USAGE);
    let o = wrun(&["spec", "--frobnicate"]);
    assert_eq!(code(&o), USAGE);
    let o = wrun(&["run", "--max-memory", "12Q", "x.wasm"]);
    assert_eq!(code(&o), USAGE);
    assert!(stderr(&o).contains("unknown size suffix"), "{}", stderr(&o));
    let o = wrun(&["--help"]);
    assert_eq!(code(&o), 0);
    assert!(stdout(&o).contains("Exit codes"), "{}", stdout(&o));
}

/// A WASI program that creates `out.txt` in its first preopened directory
/// (fd 3), writes "hi" to stdout and the value of `$V` … and exits with the
/// errno of `path_open` (0 on success).
const CREATE_FILE: &str = r#"(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "out.txt")
  (data (i32.const 80) "hi\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 80)) (i32.store (i32.const 4) (i32.const 3))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    ;; oflags: O_CREAT (1); rights: fd_write (1 << 6)
    (call $exit (call $path_open (i32.const 3) (i32.const 0) (i32.const 64) (i32.const 7)
                  (i32.const 1) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 16)))))"#;

/// WASI errnos (wasi_snapshot_preview1 `errno`).
const EBADF: i32 = 8;
const EPERM: i32 = 63;

#[test]
fn wasi_current_directory_is_read_only_by_default() {
    let module = write("wasi-default", "create.wat", CREATE_FILE);
    let dir = scratch("wasi-default");
    let out = Command::new(env!("CARGO_BIN_EXE_wrun"))
        .arg(&module)
        .current_dir(&dir)
        .output()
        .expect("run wrun");
    assert_eq!(stdout(&out), "hi\n");
    assert_eq!(code(&out), EPERM, "{}", stderr(&out));
    assert!(!dir.join("out.txt").exists());
}

#[test]
fn wasi_dir_grants_writes() {
    let module = write("wasi-dir", "create.wat", CREATE_FILE);
    let granted = scratch("wasi-dir").join("granted");
    std::fs::create_dir_all(&granted).expect("mkdir");
    let spec = format!("{}::data", granted.display());
    let out = wrun(&["run", "--dir", &spec, module.to_str().expect("utf-8 path")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(granted.join("out.txt").exists());
}

#[test]
fn wasi_no_default_dir_leaves_no_preopen() {
    let module = write("wasi-none", "create.wat", CREATE_FILE);
    let out = wrun(&[
        "run",
        "--no-default-dir",
        module.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(code(&out), EBADF, "{}", stderr(&out));
}

#[test]
fn wasi_bad_dir_and_env_flags_are_clear_errors() {
    let module = write("wasi-flags", "create.wat", CREATE_FILE);
    let m = module.to_str().expect("utf-8 path");
    let out = wrun(&["run", "--dir", "/no/such/dir", m]);
    assert_eq!(code(&out), ERROR);
    assert!(stderr(&out).contains("/no/such/dir"), "{}", stderr(&out));
    let out = wrun(&["run", "--env", "NOEQUALS", m]);
    assert_eq!(code(&out), USAGE);
    assert!(stderr(&out).contains("NOEQUALS"), "{}", stderr(&out));
}

#[test]
fn inspect_describes_modules_wrun_cannot_run_yet() {
    let module = write(
        "inspect-gc",
        "gc.wat",
        r#"(module (type $s (struct (field i32)))
             (func (export "f") (result i32)
               (struct.get $s 0 (struct.new $s (i32.const 1)))))"#,
    );
    let out = wrun(&["inspect", "--json", module.to_str().expect("utf-8 path")]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(v["runnable"], false);
    assert!(v["unsupported"].as_str().unwrap_or("").contains("GC"));
    assert!(
        v["features"]
            .as_array()
            .expect("features")
            .iter()
            .any(|f| f == "gc")
    );
    let out = wrun(&["run", "--invoke", "f", module.to_str().expect("utf-8 path")]);
    assert_eq!(code(&out), ERROR);
    assert!(stderr(&out).contains("unsupported: GC"), "{}", stderr(&out));
}

#[test]
fn simd_modules_run_and_take_v128_arguments() {
    let module = write(
        "run-simd",
        "simd.wat",
        r#"(module
             (func (export "f") (result i32)
               (i32x4.extract_lane 2 (v128.const i32x4 1 2 3 4)))
             (func (export "add") (param v128 v128) (result v128)
               (i32x4.add (local.get 0) (local.get 1))))"#,
    );
    let m = module.to_str().expect("utf-8 path");
    let out = wrun(&["run", "--invoke", "f", m]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "3");
    let out = wrun(&["run", "--invoke", "add", m, "0x100000002", "0x300000004"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), (0x4_0000_0006u128).to_string());
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    use std::io::Read;
    let module = write("pipe", "m.wat", ARITH);
    let mut child = Command::new(env!("CARGO_BIN_EXE_wrun"))
        .args(["inspect", module.to_str().expect("utf-8 path")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn wrun");
    // Close our end of stdout at once: every print of wrun hits EPIPE.
    drop(child.stdout.take());
    let mut err = String::new();
    let _ = child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err);
    let _ = child.wait().expect("wait");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn engine_jit_runs_what_it_compiles_and_says_what_it_does_not() {
    let file = write("engine", "arith.wat", ARITH);
    let file = file.to_str().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wrun"))
            .args(args)
            .env("WRUN_LOG", "jit")
            .output()
            .expect("run wrun")
    };
    // A tail call of 33 arguments is not compiled: the whole module stays
    // on the interpreter.
    let params = "i32 ".repeat(33);
    let args = (0..33)
        .map(|i| format!("(local.get {i}) "))
        .collect::<String>();
    let throws = write(
        "engine",
        "throws.wat",
        format!(
            r#"(module (func $wide (param {params}) (return_call $wide {args}))
            (func (export "add") (param i32 i32) (result i32)
              (i32.add (local.get 0) (local.get 1))))"#
        ),
    );
    let o = run(&[
        "--engine",
        "jit",
        "--invoke",
        "add",
        throws.to_str().unwrap(),
        "2",
        "3",
    ]);
    assert_eq!(stdout(&o), "5\n");
    assert!(
        stderr(&o).contains("runs on the interpreter: the JIT cannot compile"),
        "{}",
        stderr(&o)
    );
    let pure = write(
        "engine",
        "pure.wat",
        r#"(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))"#,
    );
    let o = run(&[
        "--engine",
        "jit",
        "--invoke",
        "add",
        pure.to_str().unwrap(),
        "2",
        "-3",
    ]);
    assert_eq!(stdout(&o), "-1\n");
    assert!(
        stderr(&o).contains("runs as machine code"),
        "{}",
        stderr(&o)
    );
    let o = wrun(&["--engine", "warp", file]);
    assert_eq!(code(&o), USAGE);
}
