//! `emu.wasm` (guest-x86 built for wasm64, `scripts/build-emu.sh`) on wrun:
//! the module's shape (memory64, a 64-bit table, only WASI imports), and
//! Debian's `busybox-static` run three ways — natively, under the native
//! emulator (`x86emu --user`) and under `wrun emu.wasm --user` — with
//! stdout, stderr and exit status compared byte for byte; and the
//! emulator's native and wasm64 builds on random x86 programs (`blocks.rs`).
//!
//! wrun interprets, so the emulator inside it is slow: the CI subset is
//! small inputs (run it in release: `cargo test -p wrun-cli --release --test
//! emu_wasm`, about 15 s; a debug build runs only its first three cases).
//! The long run, `cargo test -p wrun-cli --release --test emu_wasm --
//! --ignored`, adds 29 cases (shell loops and scripts, gzip, 64 KiB
//! sha256sum …), about a minute. `BUSYBOX` overrides `/bin/busybox`.
//!
//! Needs nightly with rust-src (the script installs it) and busybox-static
//! (`scripts/guest-x86-ci.sh` installs it).

mod blocks;
mod pc;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Runs a build command once, naming what failed.
fn build(cmd: &mut Command, what: &str) {
    let out = cmd
        .current_dir(root())
        // The outer `cargo test` sets these for its own build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTC")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .unwrap_or_else(|e| panic!("cannot start the build of {what}: {e}"));
    assert!(
        out.status.success(),
        "building {what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `target/emu/emu.wasm`, built (or brought up to date) once per run.
fn emu_wasm() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("emu.wasm");
        build(
            Command::new("bash")
                .arg("scripts/build-emu.sh")
                .env("EMU_OUT", &out),
            "emu.wasm (bash scripts/build-emu.sh; needs nightly + rust-src)",
        );
        out
    })
}

/// The native `x86emu`, built in its own target folder (the outer cargo
/// holds the lock on ours).
fn x86emu() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = root().join("target/emu/host");
        build(
            Command::new("cargo")
                .args(["build", "--quiet", "--release", "-p", "guest-x86"])
                .args(["--bin", "x86emu", "--target-dir"])
                .arg(&dir),
            "x86emu",
        );
        dir.join("release/x86emu")
    })
}

fn busybox() -> PathBuf {
    let path = PathBuf::from(std::env::var("BUSYBOX").unwrap_or_else(|_| "/bin/busybox".into()));
    assert!(
        path.is_file(),
        "{} not found: install Debian's busybox-static (scripts/guest-x86-ci.sh does)",
        path.display()
    );
    path
}

/// The guest's environment, the same for all three runs.
const ENV: &[(&str, &str)] = &[("PATH", "/usr/bin:/bin"), ("LC_ALL", "C"), ("TZ", "UTC")];

/// One busybox invocation.
struct Case {
    name: &'static str,
    args: &'static [&'static str],
    stdin: &'static [u8],
}

const fn case(name: &'static str, args: &'static [&'static str]) -> Case {
    Case {
        name,
        args,
        stdin: b"",
    }
}

const LINES: &str = "foo 3\nbar 10\nbaz 7\nqux 1\nfoo 3\nhello world 42\nbanana 5\napple 12\n";
const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:User,,,:/home/user:/bin/bash\n";
const SCRIPT: &str = r#"
f() { echo "f got $# args: $*"; }
f a b c
i=0; total=0
while [ $i -lt 10 ]; do total=$((total + i * i)); i=$((i + 1)); done
echo "sum of squares: $total"
for w in alpha beta gamma; do
  case $w in
    a*) echo "$w starts with a" ;;
    *) echo "$w: ${#w} letters" ;;
  esac
done
x="hello world"; echo "${x%world}there ${x#hello }"
"#;

/// Writes, truncates, appends, overwrites shorter and longer, writes in the
/// middle and reads from the end (lseek SEEK_END, O_TRUNC, O_APPEND,
/// ftruncate), then removes its file. Reads go through `od`, not `cat`:
/// natively, busybox `cat` splices the file into the stdout pipe, and the
/// pipe then shows the file as it is when the reader gets to it, after
/// later commands changed it.
const FILE_WRITES: &str = "echo 0123456789abcdef > t.tmp; tail -c 5 t.tmp | od -c; \
    echo a long first line > t.tmp; echo short > t.tmp; od -c t.tmp; \
    echo appended >> t.tmp; od -c t.tmp; \
    printf XY | dd of=t.tmp bs=1 seek=2 conv=notrunc 2>/dev/null; od -c t.tmp; \
    printf 'much longer than before\\n' > t.tmp; od -c t.tmp; \
    truncate -s 4 t.tmp; od -c t.tmp; truncate -s 7 t.tmp; od -c t.tmp; \
    tail -c 3 t.tmp | od -c; rm t.tmp";

/// Small inputs: each runs in well under a second under wrun (release).
/// The first three are the debug-build subset.
fn ci_cases() -> Vec<Case> {
    vec![
        case("echo", &["echo", "hello", "world"]),
        case("sha256sum", &["sha256sum", "lines.txt", "data.bin"]),
        case("false", &["false"]),
        case("printf", &["printf", "%s=%d|%x\\n", "a", "1", "b", "255"]),
        // WASI has no devices: emu.wasm provides /dev/null itself.
        case(
            "dev-null",
            &[
                "sh",
                "-c",
                "echo hidden > /dev/null; cat /dev/null; ls /nonexistent 2>/dev/null; \
                 echo status $?; wc -c < /dev/null; [ -c /dev/null ] && echo char device",
            ],
        ),
        case("seq", &["seq", "-s", ",", "2", "3", "20"]),
        case("expr", &["expr", "7", "*", "6"]),
        case("wc", &["wc", "lines.txt"]),
        Case {
            name: "wc-stdin",
            args: &["wc", "-l"],
            stdin: b"a\nb\nc\n",
        },
        case("sort-n", &["sort", "-n", "-k", "2", "lines.txt"]),
        case("uniq", &["sh", "-c", "sort lines.txt | uniq -c"]),
        Case {
            name: "tr",
            args: &["tr", "a-z", "A-Z"],
            stdin: b"Hello, World!\n",
        },
        case("cut", &["cut", "-c2-5", "lines.txt"]),
        case(
            "head-tail",
            &["sh", "-c", "head -n 3 lines.txt; tail -n 2 lines.txt"],
        ),
        case("md5sum", &["md5sum", "lines.txt", "data.bin"]),
        case("sha1sum", &["sha1sum", "data.bin"]),
        case("base64", &["base64", "data.bin"]),
        case("od", &["od", "-A", "x", "-t", "x1z", "data.bin"]),
        case("grep-E", &["grep", "-E", "fo+|ba[rz]", "lines.txt"]),
        case("sed", &["sed", "-e", "s/o/0/g", "-e", "/^b/d", "lines.txt"]),
        case(
            "awk",
            &["awk", "{ s += $NF } END { print s, s / NR }", "lines.txt"],
        ),
        case("cat-missing", &["cat", "lines.txt", "no-such-file"]),
        case("ls", &["ls", "-1", "dir"]),
        case("stat", &["stat", "-c", "%s %F", "lines.txt", "dir"]),
        case(
            "sh-pipe",
            &["sh", "-c", "printf '3\\n1\\n2\\n' | sort -n | head -n 2"],
        ),
        case(
            "sh-cd",
            &[
                "sh",
                "-c",
                "(cd dir && ls); cd dir/ && cat a; cd .. && wc -c lines.txt",
            ],
        ),
        case(
            "sh-files",
            &[
                "sh",
                "-c",
                "mkdir -p out/sub && echo made > out/sub/f && mv out/sub/f out/g \
                 && cat out/g && rm -r out && ls",
            ],
        ),
        case("sh-status", &["sh", "-c", "exit 7"]),
    ]
}

/// Heavier cases for the long run.
fn long_cases() -> Vec<Case> {
    vec![
        case(
            "gzip-roundtrip",
            &["sh", "-c", "gzip -c data.bin | gunzip -c | md5sum"],
        ),
        case("sha512sum", &["sha512sum", "lines.txt", "data.bin"]),
        case("find", &["sh", "-c", "find dir -type f | sort"]),
        case(
            "sh-loop",
            &[
                "sh",
                "-c",
                "i=0; t=0; while [ $i -lt 200 ]; do t=$((t + i * i)); i=$((i + 1)); done; echo $t",
            ],
        ),
        case("xargs", &["sh", "-c", "echo a b c | xargs -n1 echo item"]),
        case(
            "date",
            &["date", "-u", "-d", "@86400", "+%Y-%m-%d %H:%M:%S"],
        ),
        case("factor", &["factor", "360", "97", "1001"]),
        case("sha256sum-64k", &["sha256sum", "big.bin"]),
        case("sort", &["sh", "-c", "sort lines.txt; sort -r lines.txt"]),
        Case {
            name: "tr-d",
            args: &["tr", "-d", "aeiou"],
            stdin: b"the quick brown fox\n",
        },
        case("cut-fields", &["cut", "-d:", "-f1,3", "passwd.txt"]),
        case(
            "grep",
            &["sh", "-c", "grep -c a lines.txt; grep -v -n o lines.txt"],
        ),
        case("sed-range", &["sed", "-n", "2,4p", "lines.txt"]),
        case(
            "awk-fields",
            &["awk", "-F:", "{ print $1, NF }", "passwd.txt"],
        ),
        case(
            "awk-float",
            &["awk", "BEGIN { printf \"%.3f %d\\n\", 3.14159 * 2, 2^10 }"],
        ),
        case(
            "printf-float",
            &["printf", "%.3f %e %g\\n", "3.14159", "12345.678", "0.0001"],
        ),
        case("gunzip", &["gunzip", "-c", "lines.txt.gz"]),
        case(
            "dd",
            &["dd", "if=data.bin", "bs=16", "count=2", "status=none"],
        ),
        case("xxd", &["xxd", "data.bin"]),
        case("hexdump", &["hexdump", "-C", "data.bin"]),
        case(
            "base64-d",
            &["sh", "-c", "base64 data.bin | base64 -d | md5sum"],
        ),
        case(
            "names",
            &["sh", "-c", "basename /a/b/c.txt .txt; dirname /a/b/c.txt"],
        ),
        case(
            "test",
            &["sh", "-c", "test 3 -lt 4 && [ -f lines.txt ] && [ -d dir ]"],
        ),
        case("sh-script", &["sh", "script.sh"]),
        case("file-writes", &["sh", "-c", FILE_WRITES]),
        case("fold-rev", &["sh", "-c", "fold -w 5 lines.txt | rev"]),
        case("nl-tac", &["sh", "-c", "nl lines.txt; tac lines.txt"]),
        case("uname", &["uname", "-s", "-m"]),
        case("heredoc", &["sh", "-c", "cat <<EOF\nhello $((1 + 2))\nEOF"]),
        case(
            "sh-subst",
            &["sh", "-c", "n=$(wc -l < lines.txt); echo \"lines: $n\""],
        ),
    ]
}

/// A fresh working folder with the inputs the cases read.
fn workdir(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("emu-wasm-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("dir")).expect("create workdir");
    let w = |name: &str, data: &[u8]| std::fs::write(dir.join(name), data).expect("write input");
    w("lines.txt", LINES.as_bytes());
    w("passwd.txt", PASSWD.as_bytes());
    w("script.sh", SCRIPT.as_bytes());
    let gz = Command::new(busybox())
        .args(["gzip", "-c", "lines.txt"])
        .current_dir(&dir)
        .output()
        .expect("native gzip");
    w("lines.txt.gz", &gz.stdout);
    let data: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
    w("data.bin", &data);
    let big: Vec<u8> = (0..65536u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    w("big.bin", &big);
    for f in ["b", "a", "c.txt"] {
        w(&format!("dir/{f}"), b"x");
    }
    dir
}

#[derive(Debug, PartialEq)]
struct Outcome {
    status: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs `cmd` in `dir` with `stdin`, killing it after `limit`. Output is
/// drained while it runs, so a chatty program never blocks on a full pipe.
fn run(mut cmd: Command, dir: &Path, stdin: &[u8], limit: Duration) -> Outcome {
    cmd.current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
    let mut input = child.stdin.take().expect("stdin");
    // A program may exit without reading its input: ignore EPIPE.
    let _ = input.write_all(stdin);
    drop(input);
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    if child.try_wait().expect("wait").is_none() {
        let _ = child.kill();
    }
    let status = child.wait().expect("wait");
    Outcome {
        status: status.code(),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// `wrun --engine ENGINE [--dir …] emu.wasm --user PROG ARGS`, granting
/// the working folder as `.` and busybox's folder under its own name.
fn wrun_emu(dir: &Path, busybox: &Path, engine: &str) -> Command {
    let bin_dir = busybox.parent().expect("busybox has a folder");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wrun"));
    cmd.args(["--engine", engine])
        .arg("--no-default-dir")
        .arg(format!("--dir={}::.", dir.display()))
        .arg(format!("--dir={}", bin_dir.display()));
    for (k, v) in ENV {
        cmd.arg(format!("--env={k}={v}"));
    }
    cmd.arg(emu_wasm()).arg("--user").arg(busybox);
    cmd
}

fn show(o: &Outcome) -> String {
    let cut = |b: &[u8]| {
        let s = String::from_utf8_lossy(b);
        s.chars().take(300).collect::<String>()
    };
    format!(
        "status {:?} stdout {:?} stderr {:?}",
        o.status,
        cut(&o.stdout),
        cut(&o.stderr)
    )
}

/// Runs every case three ways, emu.wasm on `engine`; returns the
/// mismatches.
fn three_ways(test: &str, cases: &[Case], limit: Duration, engine: &str) -> Vec<String> {
    let bb = busybox();
    let dir = workdir(test);
    let mut failures = Vec::new();
    for c in cases {
        let mut native = Command::new(&bb);
        native.env_clear().envs(ENV.iter().copied()).args(c.args);
        let native = run(native, &dir, c.stdin, limit);
        let mut emulated = Command::new(x86emu());
        emulated
            .env_clear()
            .envs(ENV.iter().copied())
            .arg("--user")
            .arg(&bb)
            .args(c.args);
        let emulated = run(emulated, &dir, c.stdin, limit);
        let started = Instant::now();
        let mut wasm = wrun_emu(&dir, &bb, engine);
        wasm.env_clear().args(c.args);
        let wasm = run(wasm, &dir, c.stdin, limit);
        eprintln!(
            "{:<16} {:>8.2?} under wrun ({engine})",
            c.name,
            started.elapsed()
        );
        if native != emulated || emulated != wasm {
            failures.push(format!(
                "{}: {:?}\n  native:    {}\n  x86emu:    {}\n  emu.wasm:  {}",
                c.name,
                c.args,
                show(&native),
                show(&emulated),
                show(&wasm)
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    failures
}

#[test]
fn busybox_subset_matches_native_and_x86emu() {
    let mut cases = ci_cases();
    if cfg!(debug_assertions) {
        cases.truncate(3); // the interpreter is much slower unoptimized
    }
    check_cases("ci", &cases, Duration::from_secs(120), "interp");
}

/// Runs `cases` three ways (emu.wasm on `engine`) and fails on any
/// mismatch, after saying how many matched.
fn check_cases(test: &str, cases: &[Case], limit: Duration, engine: &str) {
    let failures = three_ways(test, cases, limit, engine);
    eprintln!(
        "emu.wasm ({engine}): {} of {} busybox invocations byte-identical",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
#[ignore = "long run: heavier cases, about a minute under the interpreter"]
fn busybox_long_run_matches_native_and_x86emu() {
    check_cases("long", &long_cases(), Duration::from_secs(900), "interp");
}

/// The same corpus with emu.wasm as machine code: the JIT must compile
/// the whole module (`WRUN_LOG=jit` says so), and every invocation must
/// match native busybox and x86emu byte for byte.
#[test]
fn busybox_subset_on_the_jit_matches_native_and_x86emu() {
    let bb = busybox();
    let dir = workdir("jit-compiles");
    let mut probe = wrun_emu(&dir, &bb, "jit");
    probe.env_clear().env("WRUN_LOG", "jit").arg("true");
    let probe = run(probe, &dir, b"", Duration::from_secs(60));
    let log = String::from_utf8_lossy(&probe.stderr).into_owned();
    assert!(log.contains("runs as machine code"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);

    check_cases("jit", &ci_cases(), Duration::from_secs(120), "jit");
}

#[test]
#[ignore = "long run: heavier cases"]
fn busybox_long_run_on_the_jit_matches_native_and_x86emu() {
    check_cases("jit-long", &long_cases(), Duration::from_secs(900), "jit");
}

#[test]
fn emu_wasm_is_memory64_with_a_64_bit_table_and_only_wasi_imports() {
    let out = Command::new(env!("CARGO_BIN_EXE_wrun"))
        .args(["inspect", "--json"])
        .arg(emu_wasm())
        .output()
        .expect("run wrun inspect");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("inspect's JSON");
    let imports = json["imports"].as_array().expect("imports");
    assert!(!imports.is_empty());
    for import in imports {
        assert_eq!(import["module"], "wasi_snapshot_preview1", "{import}");
        assert_eq!(import["kind"], "func", "{import}");
    }
    let exports = json["exports"].as_array().expect("exports");
    let export = |kind: &str| {
        exports
            .iter()
            .filter(|e| e["kind"] == kind)
            .map(|e| {
                (
                    e["name"].as_str().unwrap_or(""),
                    e["type"].as_str().unwrap_or(""),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(export("func"), [("_start", "(func)")]);
    let memories = export("memory");
    assert_eq!(memories.len(), 1);
    assert!(memories[0].1.starts_with("(memory i64 "), "{memories:?}");
    let tables = export("table");
    assert_eq!(tables.len(), 1);
    assert!(tables[0].1.starts_with("(table i64 "), "{tables:?}");
    let features = json["features"].as_array().expect("features");
    assert!(features.iter().any(|f| f == "memory64"), "{features:?}");
}

/// `wrun emu.wasm ARGS` with only `dir` granted (as `.`), no input.
fn emu_in(dir: &Path, args: &[&str], limit: Duration) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wrun"));
    cmd.arg("--no-default-dir")
        .arg(format!("--dir={}::.", dir.display()))
        .arg(emu_wasm())
        .args(args);
    run(cmd, dir, b"", limit)
}

#[test]
fn missing_or_non_elf_program_is_an_error_not_a_trap() {
    let dir = workdir("errors");
    let wasm = |args: &[&str]| emu_in(&dir, args, Duration::from_secs(60));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();

    let missing = wasm(&["--user", "no-such-program"]);
    assert_eq!(missing.status, Some(127));
    assert_eq!(
        text(&missing.stderr),
        "emu: cannot read no-such-program: No such file or directory\n"
    );
    let not_elf = wasm(&["--user", "lines.txt"]);
    assert_eq!(not_elf.status, Some(126));
    assert!(
        text(&not_elf.stderr).starts_with("emu: lines.txt: "),
        "{}",
        text(&not_elf.stderr)
    );
    // Outside every preopen: the same message as a missing file.
    let outside = wasm(&["--user", "/etc/passwd"]);
    assert_eq!(outside.status, Some(127));
    // (No arguments at all run the built-in guest: see pc.rs.)
    let usage = wasm(&["--frob"]);
    assert_eq!(usage.status, Some(2));
    let usage = text(&usage.stderr);
    assert!(
        usage.starts_with("usage: emu.wasm [--mem MiB] --user PROG [ARGS..]\n")
            && usage.contains("\n       emu.wasm --kernel FILE [--initrd FILE]"),
        "{usage}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// emu.wasm's processes share one RAM bounded by `--mem`, as x86emu's
/// (guest-x86/tests/memory_limits.rs has the other attacks): a heap grown
/// past it ends with SIGKILL and the out-of-memory line, and a bad value
/// is a usage error.
#[test]
fn memory_limit_kills_a_growing_heap_with_a_clear_message() {
    let dir = workdir("memory-limit");
    let source = root().join("guest-x86/tests/programs/memory_hogs.c");
    build(
        Command::new("gcc")
            .args(["-O2", "-static", "-o"])
            .arg(dir.join("hogs"))
            .arg(&source),
        "memory_hogs.c (gcc and libc6-dev; scripts/test.sh installs them)",
    );
    let wasm = |args: &[&str]| emu_in(&dir, args, Duration::from_secs(120));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let hog = wasm(&["--mem", "32", "--user", "hogs", "sbrk"]);
    assert_eq!(hog.status, Some(128 + 9), "{}", show(&hog));
    assert_eq!(
        text(&hog.stderr),
        "emu: hogs killed by signal 9: out of memory: the guest RAM limit of 32 MiB (--mem) is used up; killed process 1000 (hogs)\n"
    );
    let bad = wasm(&["--mem", "lots", "--user", "hogs", "sbrk"]);
    assert_eq!(bad.status, Some(2));
    assert_eq!(text(&bad.stderr), "emu: --mem lots: not a number of MiB\n");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sha256sum_with_busybox_in_the_working_folder_and_the_default_grant() {
    // The issue's command as typed: `wrun emu.wasm --user busybox sha256sum
    // FILE` in a folder holding busybox, with wrun's default read-only `.`.
    let dir = workdir("default-grant");
    std::fs::copy(busybox(), dir.join("busybox")).expect("copy busybox");
    let native = run(
        {
            let mut c = Command::new(dir.join("busybox"));
            c.args(["sha256sum", "lines.txt", "data.bin"]);
            c
        },
        &dir,
        b"",
        Duration::from_secs(60),
    );
    let wasm = |args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_wrun"));
        c.arg(emu_wasm()).args(["--user", "busybox"]).args(args);
        run(c, &dir, b"", Duration::from_secs(120))
    };
    let emulated = wasm(&["sha256sum", "lines.txt", "data.bin"]);
    assert_eq!(native.status, Some(0));
    assert_eq!(emulated, native, "{}", show(&emulated));
    // The default grant is read-only: creating a file is refused (EPERM,
    // what wrun answers as wasmtime does).
    let denied = wasm(&["sh", "-c", "echo x > new.txt"]);
    assert_eq!(denied.status, Some(1));
    assert_eq!(
        String::from_utf8_lossy(&denied.stderr),
        "sh: can't create new.txt: Operation not permitted\n"
    );
    assert!(!dir.join("new.txt").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Differential run of the emulator's two builds on random programs
/// (`blocks.rs`): `x86emu` (native) and emu.wasm (the same Rust compiled to
/// wasm64, on wrun's interpreter) must print the same bytes: any difference is a miscompiled or mis-interpreted wasm
/// instruction, not an x86 question. `EMU_DIFF_SEED` and `EMU_DIFF_BLOCKS`
/// (default 400 blocks of 24 instructions) change the run.
#[test]
fn random_blocks_run_the_same_in_both_builds_of_the_emulator() {
    let seed = env_number("EMU_DIFF_SEED", 1);
    let count = env_number(
        "EMU_DIFF_BLOCKS",
        if cfg!(debug_assertions) { 40 } else { 400 },
    );
    let (image, listing) = blocks::program(seed, count as usize);
    let dir = workdir("differential");
    std::fs::write(dir.join("blocks.elf"), &image).expect("write program");

    let mut native = Command::new(x86emu());
    native.env_clear().args(["--user", "blocks.elf"]);
    let native = run(native, &dir, b"", Duration::from_secs(120));
    let mut wasm = Command::new(env!("CARGO_BIN_EXE_wrun"));
    wasm.arg(format!("--dir={}::.", dir.display()))
        .arg(emu_wasm())
        .args(["--user", "blocks.elf"]);
    let wasm = run(wasm, &dir, b"", Duration::from_secs(600));
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(native.status, Some(0), "x86emu: {}", show(&native));
    assert_eq!(native.stderr, b"", "x86emu: {}", show(&native));
    assert_eq!(native.stdout.len(), count as usize * blocks::DUMP);
    // The dumps carry real state: the GPR areas of the first two blocks
    // differ, and not every XMM byte is zero.
    let gprs = |b: usize| &native.stdout[b * blocks::DUMP + 512..][..128];
    assert!(count < 2 || gprs(0) != gprs(1));
    assert!(native.stdout[160..416].iter().any(|&b| b != 0));
    let first_diff = native
        .stdout
        .chunks(blocks::DUMP)
        .zip(wasm.stdout.chunks(blocks::DUMP))
        .position(|(n, w)| n != w);
    if let Some(block) = first_diff {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let n = &native.stdout[block * blocks::DUMP..][..blocks::DUMP];
        let w = &wasm.stdout[block * blocks::DUMP..][..blocks::DUMP];
        let offsets: Vec<usize> = (0..n.len()).filter(|&i| n[i] != w[i]).collect();
        panic!(
            "seed {seed}: block {block} differs at dump offsets {offsets:?}\ncode {}\nnative {}\nwasm   {}",
            hex(&listing[block]),
            hex(n),
            hex(w)
        );
    }
    assert_eq!(wasm, native, "emu.wasm: {}", show(&wasm));
}
