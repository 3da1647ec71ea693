//! User mode under hostile memory use: every process of a run takes its
//! RAM from one pool bounded by `--mem`, lazily mapped ranges cost one map
//! entry rather than one per page, and fork shares frames copy-on-write.
//! Each attack in `programs/memory_hogs.c` runs under x86emu while this
//! test samples the emulator's peak resident size (VmHWM); the guest must
//! get ENOMEM or be killed with a clear out-of-memory line, and the host
//! must stay within the limit plus a fixed overhead. A crafted ELF with
//! 20,000 large bss segments is refused as Linux refuses it, and one with
//! 1,000 segments of 1 GiB loads without committing them.

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

/// The peak resident size of a live process, from /proc.
fn peak_rss_mib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// Runs x86emu with `args`, sampling its peak RSS until it exits.
fn run_x86emu(args: &[&str]) -> Outcome {
    let mut child = Command::new(env!("CARGO_BIN_EXE_x86emu"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start x86emu");
    let pid = child.id();
    let start = Instant::now();
    let mut peak = 0;
    let status = loop {
        if let Some(mib) = peak_rss_mib(pid) {
            peak = peak.max(mib);
        }
        if let Some(status) = child.try_wait().expect("wait for x86emu") {
            break status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("x86emu {args:?} still running after {DEADLINE:?} (peak RSS {peak} MiB)");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    Outcome {
        status,
        stdout,
        stderr,
        peak_rss_mib: peak,
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

fn assert_within_bound(what: &str, mem_mib: u64, out: &Outcome) {
    assert!(
        out.peak_rss_mib <= mem_mib + HOST_OVERHEAD_MIB,
        "{what}: x86emu peaked at {} MiB resident with --mem {mem_mib}",
        out.peak_rss_mib
    );
    eprintln!(
        "{what}: --mem {mem_mib} MiB, x86emu peak RSS {} MiB",
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
