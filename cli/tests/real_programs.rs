//! Real programs nobody here wrote, on wrun and on wasmtime: well-known
//! crates.io programs built for wasm32-wasip1 by `scripts/corpus-build.sh`
//! (a markdown renderer, a search tool), each run through a set of invocations on both
//! engines in fresh copies of one working folder. stdout, stderr, the exit
//! status and every file left in the folder must be identical.
//!
//! wasmtime is the reference (PyPI's prebuilt wasmtime, driven by
//! `scripts/wasmtime-run.py`; `scripts/wasmtime.sh` installs it). The CI
//! slice (`bash scripts/corpus-build.sh ci`) runs by default; the rest of
//! the corpus is `#[ignore]`d here and run, with the timings, by
//! `bash scripts/corpus.sh`. A program that is not built fails its test
//! with the command that builds it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The python that has wasmtime installed.
fn wasmtime_python() -> PathBuf {
    let python = root().join("target/tools/wasmtime-py/bin/python");
    assert!(
        python.is_file(),
        "wasmtime is not installed: run `bash scripts/wasmtime.sh` (scripts/test.sh does)"
    );
    python
}

/// A corpus program's .wasm; missing, it fails with the build command.
fn program(file: &str) -> PathBuf {
    let path = root().join("target/corpus/bin").join(file);
    assert!(
        path.is_file(),
        "{} is missing: run `bash scripts/corpus-build.sh` (`ci` for the CI slice)",
        path.display()
    );
    path
}

/// The working folder every invocation starts from.
fn fixture(dir: &Path) {
    let w = |name: &str, data: &str| {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, data).unwrap();
    };
    w("doc.md", DOC_MD);
    w(
        "src/lib.rs",
        "pub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n",
    );
    w(
        "src/main.rs",
        "fn main() {\n    println!(\"{}\", lib::add(2, 2));\n}\n// TODO: more\n",
    );
    w(
        "notes/todo.txt",
        "TODO buy milk\ndone: laundry\nTODO call Bob\n",
    );
    w("notes/empty.txt", "");
}

const DOC_MD: &str = "# Title\n\nSome *emphasis*, **strong** and `code`.\n\n\
- one\n- two\n  - nested\n\n1. first\n2. second\n\n\
| a | b |\n|---|:-:|\n| 1 | 2 |\n\n\
A footnote[^1].\n\n[^1]: The note.\n\n\
```rust\nfn main() {}\n```\n\n> quoted <html> & entities &amp;\n\n\
[link](http://example.com \"t\") ![img](a.png)\n";

/// What one run left behind.
#[derive(Debug, PartialEq)]
struct Outcome {
    status: Option<i32>,
    stdout: String,
    /// The program's stderr, without the engine's own trap report.
    stderr: String,
    /// The engine reported a trap (each in its own words, not compared).
    trapped: bool,
    /// Every file and folder left in the working folder, with a digest of
    /// its contents.
    files: BTreeMap<String, String>,
}

/// A short, stable digest of file contents for comparisons and reports.
fn digest(bytes: &[u8]) -> String {
    // FNV-1a: enough to tell two files apart in a report.
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{} bytes, fnv {hash:016x}", bytes.len())
}

/// Splits the engine's trap report (its lines start with `marker`) off
/// the program's stderr.
fn split_trap_report(stderr: &str, marker: &str) -> (String, bool) {
    match stderr.find(marker) {
        Some(at) if at == 0 || stderr[..at].ends_with('\n') => (stderr[..at].to_string(), true),
        _ => (stderr.to_string(), false),
    }
}

fn listing(dir: &Path, base: &Path, out: &mut BTreeMap<String, String>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = path.strip_prefix(base).unwrap().display().to_string();
        if path.is_dir() {
            out.insert(format!("{name}/"), String::new());
            listing(&path, base, out);
        } else {
            out.insert(name, digest(&std::fs::read(&path).unwrap_or_default()));
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Engine {
    Wrun,
    Wasmtime,
}

/// How the working folder is granted.
#[derive(Clone, Copy, PartialEq)]
enum Grant {
    ReadWrite,
    ReadOnly,
}

/// Runs `wasm ARGS` with `stdin` on one engine in a fresh copy of the
/// fixture, granted as `.`.
fn run(
    engine: Engine,
    test: &str,
    wasm: &Path,
    args: &[&str],
    stdin: &str,
    grant: Grant,
) -> Outcome {
    let tag = if engine == Engine::Wrun {
        "wrun"
    } else {
        "wasmtime"
    };
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("corpus-{test}-{tag}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    fixture(&dir);
    let mut cmd = match engine {
        Engine::Wrun => {
            let mut c = Command::new(env!("CARGO_BIN_EXE_wrun"));
            c.arg("run");
            if grant == Grant::ReadWrite {
                c.arg("--dir=.::.");
            }
            c
        }
        Engine::Wasmtime => {
            let mut c = Command::new(wasmtime_python());
            c.arg(root().join("scripts/wasmtime-run.py"));
            c.arg(if grant == Grant::ReadWrite {
                "--dir"
            } else {
                "--dir-ro"
            });
            c.arg(".::.");
            c
        }
    };
    cmd.arg(wasm)
        .args(args)
        .current_dir(&dir)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start the engine");
    let mut input = child.stdin.take().unwrap();
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let out = child.wait_with_output().expect("wait for the engine");
    let mut files = BTreeMap::new();
    listing(&dir, &dir, &mut files);
    let _ = std::fs::remove_dir_all(&dir);
    let marker = match engine {
        Engine::Wrun => "wrun: ",
        Engine::Wasmtime => "wasmtime-run: ",
    };
    let (stderr, trapped) = split_trap_report(&String::from_utf8_lossy(&out.stderr), marker);
    Outcome {
        status: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
        trapped,
        files,
    }
}

/// One invocation: its name, arguments and stdin.
struct Case {
    name: &'static str,
    args: &'static [&'static str],
    stdin: &'static str,
    grant: Grant,
}

const fn case(name: &'static str, args: &'static [&'static str], stdin: &'static str) -> Case {
    Case {
        name,
        args,
        stdin,
        grant: Grant::ReadWrite,
    }
}

/// Runs every case on both engines; returns the differences found.
fn compare(program: &str, wasm: &Path, cases: &[Case]) -> Vec<String> {
    let mut differences = Vec::new();
    for c in cases {
        let test = format!("{program}-{}", c.name);
        let ours = run(Engine::Wrun, &test, wasm, c.args, c.stdin, c.grant);
        let reference = run(Engine::Wasmtime, &test, wasm, c.args, c.stdin, c.grant);
        if ours != reference {
            differences.push(format!(
                "{test} ({:?}):\n  wrun:     {ours:?}\n  wasmtime: {reference:?}",
                c.args
            ));
        } else {
            eprintln!("same on both: {test} (status {:?})", ours.status);
        }
    }
    differences
}

fn assert_same(program: &str, wasm: &Path, cases: &[Case]) {
    let differences = compare(program, wasm, cases);
    assert!(
        differences.is_empty(),
        "{} of {} {program} invocations differ:\n{}",
        differences.len(),
        cases.len(),
        differences.join("\n")
    );
}

#[test]
fn pulldown_cmark_renders_markdown_as_wasmtime_does() {
    let wasm = program("pulldown-cmark.wasm");
    assert_same(
        "pulldown-cmark",
        &wasm,
        &[
            case("stdin", &[], DOC_MD),
            case("tables-footnotes", &["-T", "-F"], DOC_MD),
            case("file-argument", &["doc.md"], ""),
            case("missing-file", &["no-such.md"], ""),
            case("help", &["--help"], ""),
            Case {
                grant: Grant::ReadOnly,
                ..case("read-only", &["doc.md"], "")
            },
        ],
    );
}

#[test]
#[ignore = "full corpus: bash scripts/corpus.sh"]
fn ripgrep_searches_as_wasmtime_does() {
    let wasm = program("rg.wasm");
    assert_same(
        "ripgrep",
        &wasm,
        &[
            case("line-numbers", &["-n", "--sort", "path", "TODO"], ""),
            case("count", &["-c", "--sort", "path", "a"], ""),
            case("files", &["--files", "--sort", "path"], ""),
            // (--json is left out: it reports elapsed times.)
            case("vimgrep", &["--vimgrep", "--sort", "path", "add"], ""),
            case("no-match", &["zzzz-nothing"], ""),
            case("stdin", &["-i", "wasm"], "WASM one\nnothing\nwasm two\n"),
            case("bad-regex", &["("], ""),
            case("help", &["--help"], ""),
        ],
    );
}
