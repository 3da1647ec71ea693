//! `emu.wasm` (guest-x86 built for wasm64, `scripts/build-emu.sh`) on wrun:
//! the module's shape (memory64, a 64-bit table, only WASI imports), and
//! Debian's `busybox-static` run three ways — natively, under the native
//! emulator (`x86emu --user`) and under `wrun emu.wasm --user` — with
//! stdout, stderr and exit status compared byte for byte.
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

/// Small inputs: each runs in well under a second under wrun (release).
/// The first three are the debug-build subset.
fn ci_cases() -> Vec<Case> {
    vec![
        case("echo", &["echo", "hello", "world"]),
        case("sha256sum", &["sha256sum", "lines.txt", "data.bin"]),
        case("false", &["false"]),
        case("printf", &["printf", "%s=%d|%x\\n", "a", "1", "b", "255"]),
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

/// `wrun [--dir …] emu.wasm --user PROG ARGS`, granting the working folder
/// as `.` and busybox's folder under its own name.
fn wrun_emu(dir: &Path, busybox: &Path) -> Command {
    let bin_dir = busybox.parent().expect("busybox has a folder");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wrun"));
    cmd.arg("--no-default-dir")
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

/// Runs every case three ways; returns the mismatches.
fn three_ways(test: &str, cases: &[Case], limit: Duration) -> Vec<String> {
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
        let mut wasm = wrun_emu(&dir, &bb);
        wasm.env_clear().args(c.args);
        let wasm = run(wasm, &dir, c.stdin, limit);
        eprintln!("{:<16} {:>8.2?} under wrun", c.name, started.elapsed());
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
    let failures = three_ways("ci", &cases, Duration::from_secs(120));
    eprintln!(
        "emu.wasm: {} of {} busybox invocations byte-identical",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
#[ignore = "long run: heavier cases, about a minute under the interpreter"]
fn busybox_long_run_matches_native_and_x86emu() {
    let cases = long_cases();
    let failures = three_ways("long", &cases, Duration::from_secs(900));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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

#[test]
fn missing_or_non_elf_program_is_an_error_not_a_trap() {
    let dir = workdir("errors");
    let wasm = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_wrun"));
        cmd.arg("--no-default-dir")
            .arg(format!("--dir={}::.", dir.display()))
            .arg(emu_wasm())
            .args(args);
        run(cmd, &dir, b"", Duration::from_secs(60))
    };
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
    let usage = wasm(&[]);
    assert_eq!(usage.status, Some(2));
    assert_eq!(
        text(&usage.stderr),
        "usage: emu.wasm --user PROG [ARGS..]\n"
    );
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
    // The default grant is read-only: creating a file is refused.
    let denied = wasm(&["sh", "-c", "echo x > new.txt"]);
    assert_eq!(denied.status, Some(1));
    assert_eq!(
        String::from_utf8_lossy(&denied.stderr),
        "sh: can't create new.txt: Permission denied\n"
    );
    assert!(!dir.join("new.txt").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Differential run of the emulator's two builds: random instruction
/// blocks (integer, SSE/SSE2, x87, rounding controls) in a static ELF, each
/// followed by a dump of RFLAGS, the GPRs and FXSAVE (x87, MXCSR, XMM0–15)
/// to stdout. `x86emu` (native) and emu.wasm
/// (the same Rust compiled to wasm64, on wrun's interpreter) must print the
/// same bytes: any difference is a miscompiled or mis-interpreted wasm
/// instruction, not an x86 question. `EMU_DIFF_SEED` and `EMU_DIFF_BLOCKS`
/// (default 400 blocks of 24 instructions) change the run.
mod differential {
    /// Load address of the generated program.
    const BASE: u64 = 0x40_0000;
    /// ELF header plus one program header.
    const HEADERS: usize = 64 + 56;
    /// Bytes dumped per block: FXSAVE (512) + 16 GPR slots (slot 4, RSP's,
    /// holds RFLAGS).
    pub const DUMP: usize = 512 + 128;
    /// Instructions per block.
    const BLOCK: usize = 24;

    /// xorshift64*: deterministic and seedable.
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Rng {
            Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
        }
        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        pub fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn pick<T: Copy>(&mut self, items: &[T]) -> T {
            items[self.below(items.len() as u64) as usize]
        }
        /// A general register other than RSP.
        fn gpr(&mut self) -> u8 {
            self.pick(&[0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
        }
    }

    /// REX prefix (always present, so byte registers 4–7 are SPL…DIL).
    fn rex(w: bool, reg: u8, rm: u8) -> u8 {
        0x40 | (u8::from(w) << 3) | ((reg >> 3) << 2) | (rm >> 3)
    }

    fn modrm_rr(reg: u8, rm: u8) -> u8 {
        0xc0 | ((reg & 7) << 3) | (rm & 7)
    }

    /// `[prefix] REX opcode.. ModRM(reg, rm)` with register operands.
    fn rr(out: &mut Vec<u8>, prefix: Option<u8>, w: bool, op: &[u8], reg: u8, rm: u8) {
        out.extend(prefix);
        out.push(rex(w, reg, rm));
        out.extend_from_slice(op);
        out.push(modrm_rr(reg, rm));
    }

    /// `mov r64, imm64`.
    fn mov_imm64(out: &mut Vec<u8>, reg: u8, value: u64) {
        out.push(rex(true, 0, reg));
        out.push(0xb8 + (reg & 7));
        out.extend_from_slice(&value.to_le_bytes());
    }

    /// Random values in every GPR but RSP and in every XMM register.
    fn randomize(out: &mut Vec<u8>, rng: &mut Rng) {
        if rng.below(2) == 0 {
            out.extend_from_slice(&[0xdb, 0xe3]); // fninit: an empty x87 stack
        }
        // XMM15 carries each high half in: movq + punpcklqdq (SSE2 only).
        for x in 0..16u8 {
            mov_imm64(out, 0, interesting(rng));
            rr(out, Some(0x66), true, &[0x0f, 0x6e], x, 0); // movq xmm, rax
            // XMM15's own high half comes from XMM0's low half.
            let high = if x == 15 { 0 } else { 15 };
            if x != 15 {
                mov_imm64(out, 0, interesting(rng));
                rr(out, Some(0x66), true, &[0x0f, 0x6e], 15, 0);
            }
            rr(out, Some(0x66), false, &[0x0f, 0x6c], x, high); // punpcklqdq
        }
        for r in [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] {
            mov_imm64(out, r, interesting(rng));
        }
    }

    /// Mostly random bits, sometimes edge values (zero, signs, float
    /// specials) so the arithmetic meets its corner cases.
    fn interesting(rng: &mut Rng) -> u64 {
        match rng.below(8) {
            0 => rng.pick(&[
                0,
                1,
                u64::MAX,
                1 << 63,
                (1 << 63) - 1,
                0x7ff0_0000_0000_0000, // +inf (f64)
                0x7ff8_0000_0000_0001, // NaN
                0x0000_0000_0000_0001, // smallest denormal
                0x7f80_0000_ff80_0000, // +inf, -inf (f32 pair)
                0x3f80_0000_4000_0000, // 1.0, 2.0 (f32 pair)
            ]),
            1 => rng.below(256),
            2 => 0x3ff0_0000_0000_0000 | rng.below(1 << 52), // f64 in [1, 2)
            3 => (rng.next() & 0x807f_ffff_807f_ffff) | 0x3f00_0000_3f00_0000, // f32 pairs
            _ => rng.next(),
        }
    }

    /// One random instruction on registers only.
    fn instruction(out: &mut Vec<u8>, rng: &mut Rng) {
        let (a, b) = (rng.gpr(), rng.gpr());
        let (xa, xb) = (rng.below(16) as u8, rng.below(16) as u8);
        match rng.below(15) {
            12 | 13 => x87(out, rng, a),
            14 => control_words(out, rng),
            // ALU r/m, r in 8/16/32/64 bits.
            0 | 1 => {
                let op = rng.pick(&[
                    0x01, 0x09, 0x11, 0x19, 0x21, 0x29, 0x31, 0x39, 0x85, 0x87, 0x89,
                ]);
                match rng.below(4) {
                    0 => rr(out, None, false, &[op - 1], a, b), // 8-bit form
                    1 => rr(out, Some(0x66), false, &[op], a, b),
                    2 => rr(out, None, false, &[op], a, b),
                    _ => rr(out, None, true, &[op], a, b),
                }
            }
            // r, r/m forms: IMUL, BSF, BSR, CMOVcc, MOVZX/MOVSX, BT*, SHLD/SHRD,
            // CMPXCHG, XADD, POPCNT/TZCNT/LZCNT, MOVSXD.
            2 | 3 => {
                let w = rng.below(3) != 0;
                let cc = 0x40 + rng.below(16) as u8;
                let (prefix, op): (Option<u8>, &[u8]) = rng.pick(&[
                    (None, &[0x0f, 0xaf][..]),
                    (None, &[0x0f, 0xbc][..]),
                    (None, &[0x0f, 0xbd][..]),
                    (None, &[0x0f, 0xb6][..]),
                    (None, &[0x0f, 0xb7][..]),
                    (None, &[0x0f, 0xbe][..]),
                    (None, &[0x0f, 0xbf][..]),
                    (None, &[0x0f, 0xa3][..]),
                    (None, &[0x0f, 0xab][..]),
                    (None, &[0x0f, 0xb3][..]),
                    (None, &[0x0f, 0xbb][..]),
                    (None, &[0x0f, 0xa5][..]),
                    (None, &[0x0f, 0xad][..]),
                    (None, &[0x0f, 0xb1][..]),
                    (None, &[0x0f, 0xc1][..]),
                    (Some(0xf3), &[0x0f, 0xb8][..]),
                    (Some(0xf3), &[0x0f, 0xbc][..]),
                    (Some(0xf3), &[0x0f, 0xbd][..]),
                    (None, &[0x63][..]),
                    (None, &[0x0f, 0x40][..]), // replaced by a random CMOVcc below
                ]);
                let op: Vec<u8> = if op == [0x0f, 0x40] {
                    vec![0x0f, cc]
                } else {
                    op.to_vec()
                };
                // BT*/SHxD/CMPXCHG/XADD take r/m first; the others reg first:
                // either way both operands are registers.
                rr(out, prefix, w, &op, a, b);
            }
            // Unary and shift groups: NOT/NEG/MUL/IMUL, INC/DEC, shifts and
            // rotates by 1, CL and imm8, SETcc, BSWAP.
            4 | 5 => {
                let w = rng.below(3) != 0;
                match rng.below(6) {
                    0 => rr(out, None, w, &[0xf7], rng.pick(&[2, 3, 4, 5]), a),
                    1 => rr(out, None, w, &[0xff], rng.pick(&[0, 1]), a),
                    2 => rr(out, None, w, &[0xd1], rng.pick(&[0, 1, 2, 3, 4, 5, 7]), a),
                    3 => rr(out, None, w, &[0xd3], rng.pick(&[0, 1, 2, 3, 4, 5, 7]), a),
                    4 => {
                        rr(out, None, w, &[0xc1], rng.pick(&[0, 1, 2, 3, 4, 5, 7]), a);
                        out.push(rng.below(256) as u8);
                    }
                    _ => {
                        if rng.below(2) == 0 {
                            rr(out, None, false, &[0x0f, 0x90 + rng.below(16) as u8], 0, a);
                        } else {
                            out.push(rex(w, 0, a));
                            out.extend_from_slice(&[0x0f, 0xc8 + (a & 7)]);
                        }
                    }
                }
            }
            // ALU with immediates.
            6 => {
                let w = rng.below(3) != 0;
                if rng.below(2) == 0 {
                    rr(out, None, w, &[0x81], rng.below(8) as u8, a);
                    out.extend_from_slice(&(rng.next() as u32).to_le_bytes());
                } else {
                    rr(out, None, w, &[0x83], rng.below(8) as u8, a);
                    out.push(rng.below(256) as u8);
                }
            }
            // DIV/IDIV by a positive nonzero RCX, dividend sign- or
            // zero-extended, so it never faults.
            7 => {
                let w = rng.below(2) == 0;
                rr(out, None, w, &[0xd1], 5, 1); // shr rcx, 1
                rr(out, None, w, &[0x83], 1, 1); // or rcx, 1
                out.push(1);
                if rng.below(2) == 0 {
                    rr(out, None, false, &[0x31], 2, 2); // xor edx, edx
                    rr(out, None, w, &[0xf7], 6, 1); // div rcx
                } else {
                    out.extend_from_slice(if w { &[0x48, 0x99][..] } else { &[0x99][..] }); // cqo/cdq
                    rr(out, None, w, &[0xf7], 7, 1); // idiv rcx
                }
            }
            // Packed integer SSE2.
            8 => {
                let op = rng.pick(&[
                    0xfe, 0xfb, 0xef, 0xdb, 0xf4, 0xd4, 0x74, 0x64, 0x60, 0x67, 0xf5, 0xe5, 0xd5,
                    0xda, 0xde, 0xe0, 0xf6, 0x6d, 0xe8, 0xdc, 0x63, 0xd1, 0xe2, 0xf3,
                ]);
                rr(out, Some(0x66), false, &[0x0f, op], xa, xb);
            }
            // Packed and scalar float SSE/SSE2 (softfloat in the emulator).
            9 | 10 => {
                let prefix = rng.pick(&[None, Some(0x66), Some(0xf3), Some(0xf2)]);
                let op = rng.pick(&[0x58, 0x59, 0x5c, 0x5e, 0x5d, 0x5f, 0x51, 0x5a]);
                rr(out, prefix, false, &[0x0f, op], xa, xb);
            }
            // Conversions and compares between XMM and GPRs.
            _ => match rng.below(6) {
                0 => rr(out, Some(0xf2), true, &[0x0f, 0x2d], a, xb), // cvtsd2si r64
                1 => rr(out, Some(0xf3), false, &[0x0f, 0x2c], a, xb), // cvttss2si r32
                2 => rr(out, Some(0xf2), true, &[0x0f, 0x2a], xa, b), // cvtsi2sd
                3 => rr(
                    out,
                    rng.pick(&[None, Some(0x66)]),
                    false,
                    &[0x0f, 0x2f],
                    xa,
                    xb,
                ), // comis
                4 => rr(out, Some(0x66), false, &[0x0f, 0x5b], xa, xb), // cvtps2dq
                _ => {
                    rr(
                        out,
                        rng.pick(&[None, Some(0x66)]),
                        false,
                        &[0x0f, 0xc2],
                        xa,
                        xb,
                    ); // cmpps/pd
                    out.push(rng.below(8) as u8);
                }
            },
        }
    }

    /// `[rsp - 8]` ModRM/SIB/disp8 with `reg`: the scratch slot below the
    /// stack pointer that x87 loads and stores go through.
    fn scratch(out: &mut Vec<u8>, reg: u8) {
        out.extend_from_slice(&[0x44 | ((reg & 7) << 3), 0x24, 0xf8]);
    }

    /// One x87 instruction: loads from a GPR (through memory), stores back
    /// into one, or register-stack arithmetic, compares and constants.
    fn x87(out: &mut Vec<u8>, rng: &mut Rng, gpr: u8) {
        let i = rng.below(8) as u8;
        match rng.below(4) {
            0 => {
                out.extend_from_slice(&[rex(true, gpr, 0), 0x89]); // mov [rsp-8], gpr
                scratch(out, gpr);
                let (op, reg) = rng.pick(&[(0xdd, 0), (0xdf, 5), (0xd9, 0), (0xdb, 0)]);
                out.push(op); // fld m64 / fild m64 / fld m32 / fild m32
                scratch(out, reg);
            }
            1 => {
                let (op, reg) = rng.pick(&[(0xdd, 3), (0xdf, 7), (0xd9, 3), (0xdd, 2)]);
                out.push(op); // fstp m64 / fistp m64 / fstp m32 / fst m64
                scratch(out, reg);
                out.extend_from_slice(&[rex(true, gpr, 0), 0x8b]); // mov gpr, [rsp-8]
                scratch(out, gpr);
            }
            2 => {
                let (a, b) = rng.pick(&[
                    (0xd8, 0xc0), // fadd st, st(i)
                    (0xd8, 0xc8), // fmul
                    (0xd8, 0xe0), // fsub
                    (0xd8, 0xe8), // fsubr
                    (0xd8, 0xf0), // fdiv
                    (0xd8, 0xf8), // fdivr
                    (0xdc, 0xc0), // fadd st(i), st
                    (0xde, 0xc0), // faddp
                    (0xde, 0xc8), // fmulp
                    (0xd9, 0xc8), // fxch
                    (0xdd, 0xd8), // fstp st(i)
                    (0xd9, 0xc0), // fld st(i)
                    (0xdb, 0xe8), // fucomi
                    (0xdb, 0xf0), // fcomi
                    (0xda, 0xc0), // fcmovb
                    (0xdb, 0xc8), // fcmovne
                    (0xdd, 0xe0), // fucom
                    (0xd8, 0xd0), // fcom
                ]);
                out.extend_from_slice(&[a, b + i]);
            }
            _ => {
                let op = rng.pick(&[
                    0xe0, // fchs
                    0xe1, // fabs
                    0xfa, // fsqrt
                    0xfc, // frndint
                    0xfd, // fscale
                    0xf8, // fprem
                    0xf4, // fxtract
                    0xe8, // fld1
                    0xeb, // fldpi
                    0xee, // fldz
                    0xe4, // ftst
                    0xe5, // fxam
                ]);
                out.extend_from_slice(&[0xd9, op]);
                if rng.below(4) == 0 {
                    out.extend_from_slice(&[0xdf, 0xe0]); // fnstsw ax
                }
            }
        }
    }

    /// New rounding and precision controls (exceptions stay masked): x87
    /// control word and MXCSR with random RC, PC, FTZ and DAZ.
    fn control_words(out: &mut Vec<u8>, rng: &mut Rng) {
        let (word, op, reg) = if rng.below(2) == 0 {
            let pc = rng.pick(&[0u32, 2, 3]);
            (0x037f | (rng.below(4) as u32) << 10 | pc << 8, 0xd9, 5) // fldcw
        } else {
            let daz_ftz = rng.below(4) as u32;
            let mxcsr = 0x1f80 | (rng.below(4) as u32) << 13 | (daz_ftz & 1) << 6;
            (mxcsr | (daz_ftz >> 1) << 15, 0xae, 2) // ldmxcsr
        };
        out.push(0xc7); // mov dword [rsp-8], word
        scratch(out, 0);
        out.extend_from_slice(&word.to_le_bytes());
        if op == 0xae {
            out.push(0x0f);
        }
        out.push(op);
        scratch(out, reg);
    }

    /// `[rsp + disp32]` ModRM/SIB with `reg`.
    fn rsp_mem(out: &mut Vec<u8>, reg: u8, disp: u32) {
        out.push(0x80 | ((reg & 7) << 3) | 4);
        out.push(0x24);
        out.extend_from_slice(&disp.to_le_bytes());
    }

    /// Writes RFLAGS, the GPRs and FXSAVE to stdout, leaving RSP as it was.
    fn dump(out: &mut Vec<u8>) {
        const FRAME: u32 = DUMP as u32 + 8; // keeps FXSAVE 16-byte aligned
        out.push(0x9c); // pushfq
        out.extend_from_slice(&[0x48, 0x8d]); // lea rsp, [rsp - FRAME]
        rsp_mem(out, 4, FRAME.wrapping_neg());
        out.extend_from_slice(&[0x0f, 0xae]); // fxsave [rsp + 0]
        rsp_mem(out, 0, 0);
        for r in [0u8, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15] {
            out.extend_from_slice(&[rex(true, r, 0), 0x89]); // mov [rsp+..], r
            rsp_mem(out, r, 512 + 8 * u32::from(r));
        }
        out.extend_from_slice(&[0x48, 0x8b]); // mov rax, [rsp + FRAME] (flags)
        rsp_mem(out, 0, FRAME);
        out.extend_from_slice(&[0x48, 0x89]); // mov [rsp + 512 + 32], rax
        rsp_mem(out, 0, 512 + 32);
        out.extend_from_slice(&[0xb8, 1, 0, 0, 0]); // mov eax, 1 (write)
        out.extend_from_slice(&[0xbf, 1, 0, 0, 0]); // mov edi, 1
        out.extend_from_slice(&[0x48, 0x89, 0xe6]); // mov rsi, rsp
        out.push(0xba); // mov edx, DUMP
        out.extend_from_slice(&(DUMP as u32).to_le_bytes());
        out.extend_from_slice(&[0x0f, 0x05]); // syscall
        out.extend_from_slice(&[0x48, 0x8d]); // lea rsp, [rsp + FRAME + 8]
        rsp_mem(out, 4, FRAME + 8);
    }

    /// The program and each block's code (for reporting a divergence).
    pub fn program(seed: u64, blocks: usize) -> (Vec<u8>, Vec<Vec<u8>>) {
        let mut rng = Rng::new(seed);
        let mut code = Vec::new();
        let mut listing = Vec::new();
        for _ in 0..blocks {
            randomize(&mut code, &mut rng);
            let start = code.len();
            for _ in 0..BLOCK {
                instruction(&mut code, &mut rng);
            }
            listing.push(code[start..].to_vec());
            dump(&mut code);
        }
        code.extend_from_slice(&[0xb8, 60, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05]); // exit(0)
        (elf(&code), listing)
    }

    /// A static x86_64 ET_EXEC with one R+X PT_LOAD; entry at `code`.
    fn elf(code: &[u8]) -> Vec<u8> {
        let total = (HEADERS + code.len()) as u64;
        let mut e = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        e.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        e.extend_from_slice(&62u16.to_le_bytes()); // EM_X86_64
        e.extend_from_slice(&1u32.to_le_bytes()); // EV_CURRENT
        e.extend_from_slice(&(BASE + HEADERS as u64).to_le_bytes()); // e_entry
        e.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
        e.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
        e.extend_from_slice(&0u32.to_le_bytes()); // e_flags
        e.extend_from_slice(&64u16.to_le_bytes()); // e_ehsize
        e.extend_from_slice(&56u16.to_le_bytes()); // e_phentsize
        e.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
        e.extend_from_slice(&[0; 6]); // no sections
        e.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        e.extend_from_slice(&5u32.to_le_bytes()); // R + X
        e.extend_from_slice(&0u64.to_le_bytes()); // p_offset
        e.extend_from_slice(&BASE.to_le_bytes()); // p_vaddr
        e.extend_from_slice(&BASE.to_le_bytes()); // p_paddr
        e.extend_from_slice(&total.to_le_bytes()); // p_filesz
        e.extend_from_slice(&total.to_le_bytes()); // p_memsz
        e.extend_from_slice(&0x1000u64.to_le_bytes()); // p_align
        e.extend_from_slice(code);
        e
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn random_blocks_run_the_same_in_both_builds_of_the_emulator() {
    let seed = env_number("EMU_DIFF_SEED", 1);
    let blocks = env_number(
        "EMU_DIFF_BLOCKS",
        if cfg!(debug_assertions) { 40 } else { 400 },
    );
    let (image, listing) = differential::program(seed, blocks as usize);
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
    assert_eq!(native.stdout.len(), blocks as usize * differential::DUMP);
    // The dumps carry real state: the GPR areas of the first two blocks
    // differ, and not every XMM byte is zero.
    let gprs = |b: usize| &native.stdout[b * differential::DUMP + 512..][..128];
    assert!(blocks < 2 || gprs(0) != gprs(1));
    assert!(native.stdout[160..416].iter().any(|&b| b != 0));
    let first_diff = native
        .stdout
        .chunks(differential::DUMP)
        .zip(wasm.stdout.chunks(differential::DUMP))
        .position(|(n, w)| n != w);
    if let Some(block) = first_diff {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let n = &native.stdout[block * differential::DUMP..][..differential::DUMP];
        let w = &wasm.stdout[block * differential::DUMP..][..differential::DUMP];
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
