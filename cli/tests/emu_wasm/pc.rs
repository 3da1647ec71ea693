//! emu.wasm as a PC on wrun: the PC's assembly guests
//! (`guest-x86/tests/guests`, built with nasm) print the same report and
//! exit with the same status as under the native x86emu (their
//! `.expected` files, which `guest-x86/tests/pc_guests.rs` holds against
//! x86emu and QEMU); the built-in guest runs with no arguments; bad
//! kernels and flags end with a clear message and status 2, never a trap.
//! A Linux boot to the shell with a console session is `#[ignore]`d (it
//! takes minutes; see the test's comment for its command).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{Outcome, emu_wasm, root, run, show, x86emu};

const NASM_HINT: &str = "apt-get install -y nasm (or: bash scripts/pc-test-deps.sh)";
/// Exit status of a guest that wrote 0x10 to port 0xF4 (all checks passed).
const PASSED: i32 = (0x10 << 1) | 1;

fn guests_dir() -> PathBuf {
    root().join("guest-x86/tests/guests")
}

/// A fresh folder for one test's files.
fn folder(test: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("emu-wasm-pc-{test}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the test folder");
    dir
}

/// Assembles `source` with `defines` into `dir/out`.
fn assemble(dir: &Path, source: &str, defines: &[&str], out: &str) {
    let mut include = guests_dir().into_os_string();
    include.push("/");
    let status = Command::new("nasm")
        .args(["-f", "bin", "-i"])
        .arg(include)
        .args(defines)
        .arg(guests_dir().join(source))
        .arg("-o")
        .arg(dir.join(out))
        .status()
        .unwrap_or_else(|e| panic!("cannot run nasm ({e}); install it: {NASM_HINT}"));
    assert!(status.success(), "nasm failed on {source}");
}

/// `wrun [run --engine E] emu.wasm ARGS` in `dir`, granted as `.`.
fn emu(dir: &Path, engine: &str, args: &[&str], limit: Duration) -> Outcome {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wrun"));
    cmd.args(["run", "--engine", engine, "--no-default-dir"])
        .arg(format!("--dir={}::.", dir.display()))
        .arg(emu_wasm())
        .args(args);
    run(cmd, dir, b"", limit)
}

fn expected(name: &str) -> Vec<u8> {
    std::fs::read(guests_dir().join(name)).expect("read the expected report")
}

/// One assembly guest: its source, nasm defines, how it boots, its report.
struct Guest {
    source: &'static str,
    defines: &'static [&'static str],
    args: &'static [&'static str],
    expected: &'static str,
}

const GUESTS: &[Guest] = &[
    Guest {
        source: "boot_sector.asm",
        defines: &[],
        args: &["--boot-sector", "g.bin"],
        expected: "boot_sector.expected",
    },
    Guest {
        source: "long_mode.asm",
        defines: &["-DKVM"],
        args: &["--flat", "g.bin"],
        expected: "long_mode_kvm.expected",
    },
    Guest {
        source: "long_mode.asm",
        defines: &[],
        args: &["--flat", "g.bin"],
        expected: "long_mode_tcg.expected",
    },
    Guest {
        source: "protected_mode.asm",
        defines: &[],
        args: &["--flat", "g.bin"],
        expected: "protected_mode.expected",
    },
    Guest {
        source: "ide.asm",
        defines: &[],
        args: &["--boot-sector", "g.sector0", "--disk", "g.bin"],
        expected: "ide.expected",
    },
    Guest {
        source: "apic.asm",
        defines: &[],
        args: &["--flat", "g.bin"],
        expected: "apic.expected",
    },
];

/// Runs every guest on `engine`; returns the mismatches.
fn guests_on(engine: &str, guests: &[&Guest]) -> Vec<String> {
    let mut failures = Vec::new();
    for guest in guests {
        let dir = folder(&format!("{engine}-{}", guest.expected));
        assemble(&dir, guest.source, guest.defines, "g.bin");
        let image = std::fs::read(dir.join("g.bin")).expect("the guest");
        std::fs::write(dir.join("g.sector0"), &image[..512.min(image.len())])
            .expect("write the boot sector");
        let started = std::time::Instant::now();
        let out = emu(&dir, engine, guest.args, Duration::from_secs(600));
        eprintln!(
            "{engine:<6} {:<24} {:>8.2?}",
            guest.expected,
            started.elapsed()
        );
        if out.stdout != expected(guest.expected) || out.status != Some(PASSED) {
            failures.push(format!("{} on {engine}: {}", guest.expected, show(&out)));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    failures
}

#[test]
fn assembly_guests_pass_in_emu_wasm_on_the_jit() {
    let all: Vec<&Guest> = GUESTS.iter().collect();
    let failures = guests_on("jit", &all);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The interpreter runs the short guests (the APIC guest's timer waits
/// take about 30 s there in release, minutes in a debug build: release only).
#[test]
fn assembly_guests_pass_in_emu_wasm_on_the_interpreter() {
    let guests: Vec<&Guest> = GUESTS
        .iter()
        .filter(|g| !cfg!(debug_assertions) || g.source != "apic.asm")
        .collect();
    let failures = guests_on("interp", &guests);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The VGA guest halts for good; `--vga-dump` prints its screen. Stdout,
/// stderr (the emulator's name aside) and status equal x86emu's.
#[test]
fn vga_dump_matches_x86emu() {
    let dir = folder("vga");
    assemble(&dir, "vga.asm", &[], "g.bin");
    let args = ["--boot-sector", "g.bin", "--vga-dump"];
    let wasm = emu(&dir, "jit", &args, Duration::from_secs(120));
    let mut native = Command::new(x86emu());
    native.args(args);
    let native = run(native, &dir, b"", Duration::from_secs(60));
    assert_eq!(native.status, Some(8), "x86emu: {}", show(&native));
    assert_eq!(wasm.status, native.status, "emu.wasm: {}", show(&wasm));
    assert_eq!(wasm.stdout, native.stdout);
    let native_err = String::from_utf8_lossy(&native.stderr).replace("x86emu: ", "emu: ");
    assert_eq!(String::from_utf8_lossy(&wasm.stderr), native_err);
    assert!(native_err.contains("wrun guest-x86: VGA text mode"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `wrun emu.wasm` alone: the built-in guest's report (the same as QEMU's,
/// `demo.expected`) and status 0, on both engines.
#[test]
fn no_arguments_run_the_built_in_guest() {
    for engine in ["interp", "jit"] {
        let dir = folder(&format!("demo-{engine}"));
        let out = emu(&dir, engine, &[], Duration::from_secs(120));
        assert_eq!(
            out.stdout,
            expected("demo.expected"),
            "{engine}: {}",
            show(&out)
        );
        assert_eq!(out.status, Some(0), "{engine}: {}", show(&out));
        assert_eq!(out.stderr, b"", "{engine}");
    }
    // And through `wrun FILE` with wrun's default grant.
    let out = run(
        {
            let mut c = Command::new(env!("CARGO_BIN_EXE_wrun"));
            c.arg(emu_wasm());
            c
        },
        &folder("demo-default"),
        b"",
        Duration::from_secs(120),
    );
    assert_eq!(out.status, Some(0), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .starts_with("guest-x86 built-in guest: real -> protected -> long mode\n")
    );
}

/// Missing, empty, garbage, truncated and oversized kernels, a directory,
/// bad flags: one line naming the file (or flag) and the problem, status 2.
#[test]
fn bad_kernels_and_flags_are_refused_clearly() {
    let dir = folder("bad");
    std::fs::write(dir.join("empty"), b"").unwrap();
    std::fs::write(dir.join("garbage"), b"this is not a kernel\n".repeat(100)).unwrap();
    // A bzImage header that promises more than the file holds: boot flag
    // 55 AA at 0x1FE, "HdrS" at 0x202, protocol 2.15, loaded high, one
    // setup sector, syssize 1000 paragraphs, 3 KiB of code after setup.
    let mut truncated = vec![0u8; 4096];
    truncated[0x1f1] = 1;
    truncated[0x1f4..0x1f8].copy_from_slice(&1000u32.to_le_bytes());
    truncated[0x1fe..0x200].copy_from_slice(&[0x55, 0xaa]);
    truncated[0x202..0x206].copy_from_slice(b"HdrS");
    truncated[0x206..0x208].copy_from_slice(&0x020fu16.to_le_bytes());
    truncated[0x211] = 1;
    truncated[0x236] = 1; // xloadflags: a 64-bit entry
    std::fs::write(dir.join("truncated"), &truncated).unwrap();
    std::fs::write(dir.join("big"), vec![0u8; 3 << 20]).unwrap();
    std::fs::create_dir_all(dir.join("folder")).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--kernel", "missing"],
            "emu: cannot read missing: No such file or directory\n",
        ),
        (&["--kernel", "empty"], "emu: empty: "),
        (&["--kernel", "garbage"], "emu: garbage: not a Linux kernel"),
        (
            &["--kernel", "truncated"],
            "emu: truncated: truncated kernel image: the protected-mode part is shorter than the header's syssize\n",
        ),
        (
            &["--kernel", "big", "--mem", "2"],
            "emu: cannot read big: 3145728 bytes is larger than the guest's RAM (2097152 bytes)\n",
        ),
        (&["--kernel", "folder"], "emu: cannot read folder: "),
        (
            &["--kernel", "garbage", "--initrd", "missing"],
            "emu: cannot read missing: ",
        ),
        (
            &["--kernel", "garbage", "--mem", "lots"],
            "emu: --mem lots: not a number\n",
        ),
        (
            &["--kernel", "garbage", "--mem", "1"],
            "emu: --mem 1: unsupported RAM size",
        ),
        (&["--kernel"], "emu: --kernel needs a file name\n"),
        (
            &["--flat", "garbage", "--append", "x"],
            "emu: --initrd, --append and --boot32 go with --kernel only\n",
        ),
        (
            &["--boot-sector", "garbage"],
            "emu: garbage: a boot sector is 512 bytes, this file is 2100\n",
        ),
        (
            &["--demo", "--disk", "garbage"],
            "emu: --demo brings its own disk: leave out --disk\n",
        ),
    ];
    let mut failures = Vec::new();
    for (args, message) in cases {
        let out = emu(&dir, "interp", args, Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or_default();
        if out.status != Some(2)
            || !stderr.starts_with(message)
            || stderr.contains("internal error")
            || !out.stdout.is_empty()
        {
            failures.push(format!(
                "{args:?}: expected {message:?}; got {}",
                show(&out)
            ));
        }
        eprintln!("{args:?} -> {first}");
    }
    // A valid --mem the host cannot provide (wrun's memory budget).
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wrun"));
    cmd.args(["run", "--memory-budget", "20Mi"])
        .arg(emu_wasm())
        .args(["--kernel", "garbage", "--mem", "64"]);
    let out = run(cmd, &dir, b"", Duration::from_secs(60));
    if out.status != Some(2)
        || out.stderr != b"emu: --mem 64: the host cannot provide that much RAM\n"
    {
        failures.push(format!("--mem beyond the host: {}", show(&out)));
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The console of a guest running under a child process: stdout read on a
/// thread of its own, stdin written on demand.
struct LiveConsole {
    child: std::process::Child,
    output: std::sync::mpsc::Receiver<Vec<u8>>,
    seen: Vec<u8>,
    started: std::time::Instant,
}

impl LiveConsole {
    fn start(mut cmd: Command) -> LiveConsole {
        use std::process::Stdio;
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start wrun");
        let mut stdout = child.stdout.take().expect("stdout");
        let (send, output) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut stdout, &mut buf) {
                if n == 0 || send.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        LiveConsole {
            child,
            output,
            seen: Vec::new(),
            started: std::time::Instant::now(),
        }
    }

    /// Waits for `marker` after byte `from`; returns the position past it.
    fn wait_for(&mut self, marker: &str, from: usize, limit: Duration) -> usize {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(at) = self.seen[from.min(self.seen.len())..]
                .windows(marker.len())
                .position(|w| w == marker.as_bytes())
            {
                eprintln!("{:>8.1?}  {marker:?}", self.started.elapsed());
                return from + at + marker.len();
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.output.recv_timeout(left.min(Duration::from_secs(1))) {
                Ok(bytes) => self.seen.extend_from_slice(&bytes),
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) if !left.is_zero() => {}
                Err(_) => {
                    let _ = self.child.kill();
                    let tail = self.seen.len().saturating_sub(3000);
                    panic!(
                        "no {marker:?} after {:.1?}; console tail:\n{}",
                        self.started.elapsed(),
                        String::from_utf8_lossy(&self.seen[tail..])
                    );
                }
            }
        }
    }

    fn type_line(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin
            .write_all(line.as_bytes())
            .expect("type on the console");
        stdin.flush().expect("flush the console");
    }
}

/// Boots the project's x86_64 kernel (`bash scripts/build-kernel.sh
/// x86_64`) in emu.wasm on wrun to the busybox shell, then types `uname
/// -m`, an `echo` and a pipeline and checks the answers. 2 to 5 minutes
/// on the JIT, over 20 on the interpreter, hence ignored in CI; run it
/// with `bash scripts/emu-wasm-linux.sh [jit|interp]` (the engine comes
/// from `EMU_LINUX_ENGINE`, default `jit`).
#[test]
#[ignore = "minutes: bash scripts/emu-wasm-linux.sh [jit|interp]"]
fn linux_boots_to_the_shell_in_emu_wasm() {
    let engine = std::env::var("EMU_LINUX_ENGINE").unwrap_or_else(|_| "jit".into());
    let kernels = root().join("target/kernels/x86_64");
    for file in ["bzImage", "initramfs.cpio.gz"] {
        assert!(
            kernels.join(file).is_file(),
            "{} missing: build it with `bash scripts/build-kernel.sh x86_64`",
            kernels.join(file).display()
        );
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wrun"));
    cmd.args(["run", "--engine", &engine, "--no-default-dir"])
        .arg(format!("--dir={}::.", kernels.display()))
        .arg(emu_wasm())
        .args(["--kernel", "bzImage", "--initrd", "initramfs.cpio.gz"])
        .args(["--append", "console=ttyS0 earlyprintk=serial"])
        .current_dir(&kernels);
    let limit = Duration::from_secs(3 * 3600);
    let mut console = LiveConsole::start(cmd);
    let at = console.wait_for("Linux version", 0, limit);
    let at = console.wait_for("Run /init", at, limit);
    let at = console.wait_for("wrun-initramfs: /init reached (x86_64)", at, limit);
    let mut at = console.wait_for("/ # ", at, limit);
    for (command, answer) in [
        ("uname -m", "\nx86_64"),
        ("echo hello from emu.wasm", "\nhello from emu.wasm"),
        ("echo one two three | wc -w", "\n3"),
    ] {
        console.type_line(&format!("{command}\n"));
        let after = console.wait_for(command, at, limit);
        let after = console.wait_for(answer, after, limit);
        at = console.wait_for("/ # ", after, limit);
    }
    console.type_line("poweroff -f\n");
    console.wait_for("reboot: System halted", at, limit);
    let status = console.child.wait().expect("wrun ends");
    // x86emu's status for a HLT nothing can wake (Linux halted).
    assert_eq!(status.code(), Some(8), "{engine}");
    eprintln!("{engine}: whole session {:.1?}", console.started.elapsed());
}
