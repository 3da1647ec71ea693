//! User mode under hostile memory use: every process of a run takes its
//! RAM from one pool bounded by `--mem`, lazily mapped ranges cost one map
//! entry rather than one per page, and fork shares frames copy-on-write.
//! Each attack in `programs/memory_hogs.c` runs under x86emu, whose peak
//! resident size the kernel reports when the test reaps it; the guest must
//! get ENOMEM or be killed with a clear out-of-memory line, and the host
//! must stay within the limit plus a fixed overhead. A crafted ELF with
//! 20,000 large bss segments is refused as Linux refuses it, and one with
//! 1,000 segments of 1 GiB loads without committing them. A PC's RAM, too,
//! costs only the pages its guest touches.

mod common;
mod compare;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// What x86emu may use beyond `--mem`: its code, decode caches, page maps.
const HOST_OVERHEAD_MIB: u64 = 160;
/// No attack may take longer than this.
const DEADLINE: Duration = Duration::from_secs(120);

struct Outcome {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    peak_rss_mib: u64,
}

/// `struct rusage` on x86_64 Linux, as far as `ru_maxrss` (KiB).
#[repr(C)]
#[derive(Default)]
struct Rusage {
    times: [i64; 4],
    max_rss_kib: i64,
    rest: [i64; 13],
}

unsafe extern "C" {
    fn wait4(pid: i32, status: *mut i32, options: i32, usage: *mut Rusage) -> i32;
}

const WNOHANG: i32 = 1;

/// Runs x86emu with `args` and reaps it with wait4(2), whose rusage gives
/// the kernel's exact peak resident size however short the run.
// The child is reaped by wait4, which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run_x86emu(args: &[&str]) -> Outcome {
    use std::os::unix::process::ExitStatusExt;
    let mut child = Command::new(env!("CARGO_BIN_EXE_x86emu"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start x86emu");
    // Drained while it runs, so a chatty guest never blocks on a pipe.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let pid = child.id() as i32;
    let start = Instant::now();
    let mut raw_status = 0;
    let mut usage = Rusage::default();
    loop {
        // SAFETY: `pid` is our own child, not reaped by anyone else (the
        // `Child` is never waited on); both pointers are to live locals.
        let reaped = unsafe { wait4(pid, &mut raw_status, WNOHANG, &mut usage) };
        if reaped == pid {
            break;
        }
        assert!(reaped == 0, "wait4 failed for x86emu {args:?}");
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("x86emu {args:?} still running after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Outcome {
        status: ExitStatus::from_raw(raw_status),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        peak_rss_mib: (usage.max_rss_kib.max(0) as u64).div_ceil(1024),
    }
}

/// Builds `programs/memory_hogs.c` once per test binary run.
fn hogs() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("guest-x86-hogs-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            compare::build_c_program(&dir, "memory_hogs", "memory_hogs", &["-static"])
        })
        .clone()
}

/// Asserts the guest was killed for want of memory, with the bound kept.
fn assert_killed_out_of_memory(what: &str, mem_mib: u64, out: &Outcome) {
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(9),
        "{what}: expected death by SIGKILL, got {:?}; stdout {:?} stderr {:?}",
        out.status,
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr.contains("out of memory")
            && out.stderr.contains(&format!("{mem_mib} MiB (--mem)")),
        "{what}: no out-of-memory report on stderr: {:?}",
        out.stderr
    );
    assert_within_bound(what, mem_mib, out);
}

/// Asserts x86emu stayed within `budget_mib` of guest memory plus its own
/// fixed overhead.
fn assert_within_bound(what: &str, budget_mib: u64, out: &Outcome) {
    assert!(
        out.peak_rss_mib > 0,
        "{what}: the kernel reported no resident size for x86emu"
    );
    assert!(
        out.peak_rss_mib <= budget_mib + HOST_OVERHEAD_MIB,
        "{what}: x86emu peaked at {} MiB resident; the budget is {budget_mib} MiB + {HOST_OVERHEAD_MIB} MiB",
        out.peak_rss_mib
    );
    eprintln!(
        "{what}: x86emu peak RSS {} MiB (budget {budget_mib} MiB + {HOST_OVERHEAD_MIB} MiB)",
        out.peak_rss_mib
    );
}

#[test]
fn a_growing_heap_is_killed_at_the_limit() {
    let hogs = hogs();
    let out = run_x86emu(&["--mem", "128", "--user", hogs.to_str().unwrap(), "sbrk"]);
    assert_killed_out_of_memory("sbrk loop", 128, &out);
}

#[test]
fn lazily_mapped_gigabytes_cost_nothing_until_touched() {
    let hogs = hogs();
    // 200 GiB of mappings, one page of each touched.
    let out = run_x86emu(&[
        "--mem",
        "2048",
        "--user",
        hogs.to_str().unwrap(),
        "mmap-lazy",
    ]);
    assert!(
        out.status.success() && out.stdout == "200 mappings of 1 GiB\n",
        "mmap-lazy: {:?} {:?} {:?}",
        out.status,
        out.stdout,
        out.stderr
    );
    // 200 touched pages: far below the limit.
    assert_within_bound("mmap-lazy", 64, &out);
}

#[test]
fn touched_mappings_are_killed_at_the_limit() {
    let hogs = hogs();
    let out = run_x86emu(&[
        "--mem",
        "256",
        "--user",
        hogs.to_str().unwrap(),
        "mmap-touch",
    ]);
    assert_killed_out_of_memory("mmap-touch", 256, &out);
}

#[test]
fn a_fork_bomb_shares_one_limit() {
    let hogs = hogs();
    let out = run_x86emu(&[
        "--mem",
        "512",
        "--user",
        hogs.to_str().unwrap(),
        "fork-bomb",
    ]);
    assert_killed_out_of_memory("fork bomb", 512, &out);
}

#[test]
fn memory_limit_flag_is_checked() {
    for bad in ["0", "abc", "99999999999"] {
        let out = run_x86emu(&["--mem", bad, "--user", "/bin/true"]);
        assert_eq!(out.status.code(), Some(2), "--mem {bad}: {:?}", out.status);
        assert!(
            out.stderr.starts_with(&format!("x86emu: --mem {bad}: ")),
            "--mem {bad}: {:?}",
            out.stderr
        );
    }
}

/// A static x86_64 ELF that exits 0, with `bss_segments` extra PT_LOAD
/// segments of `bss_size` bytes each (no file bytes, read-write).
fn elf_with_bss_segments(bss_segments: u64, bss_size: u64) -> Vec<u8> {
    const BSS_BASE: u64 = 0x100_0000_0000;
    // mov eax, 60 (exit); xor edi, edi; syscall
    let exit0 = [0xb8, 60, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05];
    let bss: Vec<(u64, u64)> = (0..bss_segments)
        .map(|i| (BSS_BASE + i * bss_size, bss_size))
        .collect();
    common::elf_with_bss(2, common::BASE, &exit0, None, &bss)
}

fn write_temp(name: &str, bytes: &[u8]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::temp_dir().join(format!("guest-x86-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn twenty_thousand_bss_segments_are_refused_as_linux_does() {
    let path = write_temp("bss20000", &elf_with_bss_segments(20_000, 1 << 30));
    let out = run_x86emu(&["--mem", "256", "--user", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        out.status.code(),
        Some(126),
        "{:?} {:?}",
        out.status,
        out.stderr
    );
    assert!(
        out.stderr.contains("20001 program headers"),
        "{:?}",
        out.stderr
    );
    assert_within_bound("20,000 bss segments", 64, &out);
}

#[test]
fn a_thousand_gigabyte_bss_segments_load_lazily() {
    let path = write_temp("bss1000", &elf_with_bss_segments(1000, 1 << 30));
    let out = run_x86emu(&["--mem", "2048", "--user", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "{:?} {:?}", out.status, out.stderr);
    assert_within_bound("1,000 bss segments of 1 GiB", 64, &out);
}

#[test]
fn pc_ram_costs_only_what_the_guest_touches() {
    // 32-bit flat code: mov al, 0; out 0xf4, al (leave through the
    // isa-debug-exit port at once).
    let code = [0xb0, 0x00, 0xe6, 0xf4];
    let path = write_temp("exit.flat", &code);
    let out = run_x86emu(&["--flat", path.to_str().unwrap(), "--mem", "2048"]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{:?} {:?}",
        out.status,
        out.stderr
    );
    // 2 GiB of guest RAM, a few pages touched.
    assert_within_bound("a PC with --mem 2048 that exits at once", 32, &out);
}
