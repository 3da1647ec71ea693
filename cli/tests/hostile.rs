//! Hostile inputs from issue 10 ("limits the host can trust"): modules that
//! ask for far more memory or table space than any host should give, and
//! inputs without end. Each must end with a clear error and exit status 1
//! (not 134, a trap's), while the host's resident memory stays small.

mod common;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Exit status of an error that is not a trap.
const ERROR: i32 = 1;

/// The most resident memory (KiB) any of these runs may reach: the binary,
/// its 256 MiB main-thread stack reservation (mostly untouched), the value
/// stack and page tables, with room to spare.
const MAX_RSS_KIB: i64 = 200 << 10;

/// What a finished `wrun` run left behind.
struct Run {
    status: i32,
    stderr: String,
    max_rss_kib: i64,
}

/// Runs `wrun ARGS` (under an address-space limit of `as_limit` bytes, if
/// given) and measures its peak resident memory through `wait4`.
#[allow(
    clippy::zombie_processes,
    reason = "reaped by wait4, which also reports the peak RSS"
)]
fn run_measured(args: &[&str], as_limit: Option<u64>) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wrun"));
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::piped());
    if let Some(limit) = as_limit {
        // SAFETY: setrlimit is async-signal-safe and touches only the child.
        unsafe {
            cmd.pre_exec(move || {
                let rl = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &rl) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().expect("start wrun");
    let stderr = common::read_stderr(&mut child);
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, writing into the two locals.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    assert!(
        libc::WIFEXITED(status),
        "wrun died of signal {}: {stderr}",
        libc::WTERMSIG(status)
    );
    Run {
        status: libc::WEXITSTATUS(status),
        stderr,
        max_rss_kib: usage.ru_maxrss,
    }
}

fn module(test: &str, wat: &str) -> PathBuf {
    common::module("hostile", test, wat)
}

fn repeated(item: &str, times: usize) -> String {
    format!("(module {})", vec![item; times].join(" "))
}

fn assert_clear_error(run: &Run, wanted: &str) {
    eprintln!(
        "peak RSS {} KiB: {}",
        run.max_rss_kib,
        run.stderr.trim_end()
    );
    assert_eq!(run.status, ERROR, "{}", run.stderr);
    assert!(run.stderr.contains(wanted), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "one line: {}", run.stderr);
    assert!(
        run.max_rss_kib < MAX_RSS_KIB,
        "peak RSS {} KiB: {}",
        run.max_rss_kib,
        run.stderr
    );
}

#[test]
fn a_hundred_4gib_memories_exhaust_the_store_budget() {
    let path = module("memories", &repeated("(memory 65536)", 100));
    let run = run_measured(&[path.to_str().unwrap()], None);
    assert_clear_error(&run, "memory budget of 6442450944 bytes");
    assert!(
        run.stderr.contains("a memory of 65536 pages"),
        "{}",
        run.stderr
    );
}

#[test]
fn one_4gib_memory_is_committed_lazily() {
    // A full 32-bit memory fits the default budget and costs nothing
    // resident until touched.
    let wat = "(module (memory 65536) (func (export \"f\") (result i32)
        i32.const 0xfffffff0 i32.const 7 i32.store i32.const 0xfffffff0 i32.load))";
    let path = module("one-memory", wat);
    let run = run_measured(&["--invoke", "f", path.to_str().unwrap()], None);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.max_rss_kib < MAX_RSS_KIB,
        "peak RSS {} KiB",
        run.max_rss_kib
    );
}

#[test]
fn the_budget_flag_limits_memories_together() {
    let path = module("budget-flag", &repeated("(memory 16)", 4));
    let file = path.to_str().unwrap();
    let run = run_measured(&["--memory-budget", "3Mi", file], None);
    assert_clear_error(&run, "memory budget of 3145728 bytes");
    let run = run_measured(&["--memory-budget", "4Mi", file], None);
    assert_eq!(run.status, 0, "{}", run.stderr);
}

#[test]
fn a_hundred_tables_of_ten_million_entries_exhaust_the_budget() {
    let path = module("tables", &repeated("(table 10000000 funcref)", 100));
    let run = run_measured(&[path.to_str().unwrap()], None);
    assert_clear_error(&run, "a table of 10000000 elements needs 80000000 bytes");
}

#[test]
fn an_address_space_limit_ends_in_an_error_not_an_abort() {
    // Under `ulimit -v` the reservations fail: an error, never the
    // allocator's abort (status 134, a trap's).
    let path = module("ulimit", &repeated("(table 10000000 funcref)", 100));
    let run = run_measured(&[path.to_str().unwrap()], Some(1 << 30));
    assert_clear_error(&run, "cannot reserve");
    let path = module("ulimit-memory", &repeated("(memory 65536)", 2));
    let run = run_measured(&[path.to_str().unwrap()], Some(1 << 30));
    assert_clear_error(&run, "memory of 65536 pages: cannot reserve");
}

#[test]
fn endless_and_oversized_inputs_are_refused() {
    let run = run_measured(&["/dev/zero"], None);
    assert_clear_error(&run, "is not a WebAssembly module");
    // A file over the cap is refused by its size, before reading it.
    let dir = std::env::temp_dir().join(format!("wrun-hostile-{}-big", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let big = dir.join("big.wasm");
    let file = std::fs::File::create(&big).expect("create");
    file.set_len(300 << 20).expect("sparse file");
    let run = run_measured(&[big.to_str().unwrap()], None);
    assert_clear_error(&run, "is larger than 268435456 bytes");
    let _ = std::fs::remove_file(&big);
}
