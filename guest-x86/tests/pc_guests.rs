//! Assembly guests for the PC (`tests/guests/*.asm`, built here with nasm)
//! run under `x86emu` and under QEMU, and their 0xE9 reports compared with
//! `tests/guests/*.expected`. The expected files come from QEMU on this
//! kind of machine (KVM where it can run the guest, TCG otherwise), so the
//! emulator is held to real hardware, not to itself.
//!
//! - `boot_sector`: `x86emu --boot-sector` vs QEMU booting it as a disk (KVM).
//! - `long_mode` built with `-DKVM`: `x86emu --flat` vs QEMU `-kernel`
//!   (multiboot) under KVM; this build leaves out the ring-3 part (on this
//!   machine's nested KVM, SYSCALL from CPL 3 triple-faults and long-mode
//!   INT n cannot be re-injected) and adds the RF-in-fault-frame check
//!   (which TCG does not model).
//! - `long_mode` without `-DKVM`: vs QEMU TCG, ring 3 and LAR/LSL/VERR/VERW
//!   included (nested KVM cannot emulate LAR).
//! - `protected_mode` (32-bit paging, segment faults, far transfers,
//!   32-bit TSS ring switch): vs QEMU TCG (on this machine's nested KVM,
//!   turning on 32-bit non-PAE paging faults).
//! - `ide`: a disk image that boots and checks the ATA disk with PIO
//!   (IDENTIFY, READ/WRITE SECTORS, FLUSH, READ SECTORS EXT, aborted
//!   commands): `x86emu --boot-sector` (its first sector) `--disk` vs QEMU
//!   booting the image as its IDE disk (KVM).
//! - `vga`: a boot sector that writes the text screen and halts; its 4000
//!   bytes at 0xB8000 in the emulator equal QEMU's (KVM, read with the
//!   monitor's `pmemsave`), and `x86emu --vga-dump` shows the same text.
//! - `apic` (local APIC registers, self-IPIs, TPR, the APIC timer in
//!   one-shot, periodic and masked modes, the PIT through I/O APIC pin 2):
//!   vs QEMU TCG (on this machine's nested KVM a self-IPI is not delivered
//!   and the handler's IRET ends in a KVM emulation failure).
//!
//! nasm and qemu-system-x86_64 are required: a missing tool fails the test
//! with the command that installs it. QEMU runs use `-accel tcg` wherever
//! /dev/kvm is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL_HINT: &str =
    "apt-get install -y nasm qemu-system-x86 (or: bash scripts/pc-test-deps.sh)";

/// Exit status of a guest that wrote 0x10 to port 0xF4 (all checks passed).
const PASSED: i32 = (0x10 << 1) | 1;

#[derive(Clone, Copy, Debug)]
enum Kind {
    BootSector,
    Flat,
    /// A disk image whose first sector is the boot sector.
    Disk,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Accel {
    Kvm,
    Tcg,
}

struct Guest {
    source: &'static str,
    defines: &'static [&'static str],
    kind: Kind,
    expected: &'static str,
    /// QEMU accelerator whose run produced (and must keep matching) `expected`.
    accel: Accel,
}

const GUESTS: &[Guest] = &[
    Guest {
        source: "boot_sector.asm",
        defines: &[],
        kind: Kind::BootSector,
        expected: "boot_sector.expected",
        accel: Accel::Kvm,
    },
    Guest {
        source: "long_mode.asm",
        defines: &["-DKVM"],
        kind: Kind::Flat,
        expected: "long_mode_kvm.expected",
        accel: Accel::Kvm,
    },
    Guest {
        source: "long_mode.asm",
        defines: &[],
        kind: Kind::Flat,
        expected: "long_mode_tcg.expected",
        accel: Accel::Tcg,
    },
    Guest {
        source: "protected_mode.asm",
        defines: &[],
        kind: Kind::Flat,
        expected: "protected_mode.expected",
        accel: Accel::Tcg,
    },
    Guest {
        source: "ide.asm",
        defines: &[],
        kind: Kind::Disk,
        expected: "ide.expected",
        accel: Accel::Kvm,
    },
    Guest {
        source: "apic.asm",
        defines: &[],
        kind: Kind::Flat,
        expected: "apic.expected",
        accel: Accel::Tcg,
    },
];

fn guests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests")
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pc_guests");
    std::fs::create_dir_all(&dir).expect("create the test output directory");
    dir
}

/// Assembles a guest into a file of its own for `runner` (the tests run
/// in parallel); a missing nasm fails with the install hint.
fn assemble(guest: &Guest, runner: &str) -> PathBuf {
    let stem = guest.expected.trim_end_matches(".expected");
    let output = out_dir().join(format!("{stem}.{runner}.bin"));
    // `-i`: the guests %include their shared entry (flat32_entry.inc).
    let mut include_dir = guests_dir().into_os_string();
    include_dir.push("/");
    let status = Command::new("nasm")
        .args(["-f", "bin", "-i"])
        .arg(include_dir)
        .args(guest.defines)
        .arg(guests_dir().join(guest.source))
        .arg("-o")
        .arg(&output)
        .status()
        .unwrap_or_else(|e| panic!("cannot run nasm ({e}); install it: {INSTALL_HINT}"));
    assert!(status.success(), "nasm failed on {}", guest.source);
    output
}

/// Runs a command with a time limit; returns (stdout, exit status).
fn run_with_timeout(mut command: Command, limit: Duration, what: &str) -> (String, i32) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what} ({e}); install it: {INSTALL_HINT}"));
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait for the child").is_some() {
            break;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect output");
            panic!(
                "{what} ran longer than {limit:?}; output so far:\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("collect output");
    let status = out.status.code().unwrap_or(-1);
    if status != PASSED {
        eprintln!("{what} stderr:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    (String::from_utf8_lossy(&out.stdout).into_owned(), status)
}

fn run_emulator(guest: &Guest, binary: &Path) -> (String, i32) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_x86emu"));
    match guest.kind {
        Kind::BootSector => command.arg("--boot-sector").arg(binary),
        Kind::Flat => command.arg("--flat").arg(binary),
        Kind::Disk => command
            .arg("--boot-sector")
            .arg(first_sector(binary))
            .arg("--disk")
            .arg(binary),
    };
    command.args(["--max-instructions", "200000000"]);
    run_with_timeout(command, Duration::from_secs(60), "x86emu")
}

/// Writes the first 512 bytes of a disk image to a file of its own.
fn first_sector(image: &Path) -> PathBuf {
    let bytes = std::fs::read(image).expect("read the disk image");
    let path = image.with_extension("sector0");
    std::fs::write(&path, &bytes[..512.min(bytes.len())]).expect("write the boot sector");
    path
}

fn run_qemu(guest: &Guest, binary: &Path) -> (String, i32) {
    let accel = if guest.accel == Accel::Kvm && Path::new("/dev/kvm").exists() {
        "kvm"
    } else {
        "tcg"
    };
    let mut command = Command::new("qemu-system-x86_64");
    command.args([
        "-accel",
        accel,
        "-display",
        "none",
        "-no-reboot",
        "-debugcon",
        "stdio",
    ]);
    command.args(["-device", "isa-debug-exit,iobase=0xf4,iosize=4"]);
    match guest.kind {
        Kind::BootSector | Kind::Disk => {
            command.arg("-drive");
            command.arg(format!("format=raw,file={}", binary.display()));
        }
        Kind::Flat => {
            command.arg("-kernel").arg(binary);
        }
    }
    run_with_timeout(command, Duration::from_secs(120), "qemu-system-x86_64")
}

fn expected(guest: &Guest) -> String {
    std::fs::read_to_string(guests_dir().join(guest.expected)).expect("read the expected report")
}

#[test]
fn guests_pass_in_the_emulator() {
    for guest in GUESTS {
        let binary = assemble(guest, "x86emu");
        let (report, status) = run_emulator(guest, &binary);
        assert_eq!(
            report,
            expected(guest),
            "x86emu report of {} {:?}",
            guest.source,
            guest.defines
        );
        assert_eq!(status, PASSED, "x86emu exit status for {}", guest.source);
    }
}

#[test]
fn guests_pass_under_qemu() {
    for guest in GUESTS {
        let binary = assemble(guest, "qemu");
        let (report, status) = run_qemu(guest, &binary);
        assert_eq!(
            report,
            expected(guest),
            "QEMU ({:?}) report of {} {:?}",
            guest.accel,
            guest.source,
            guest.defines
        );
        assert_eq!(status, PASSED, "QEMU exit status for {}", guest.source);
    }
}

/// `--disk` keeps the guest's writes in memory: the image is unchanged
/// after the `ide` guest wrote its sector 5; with `--disk-writable` the
/// write reaches the file.
#[test]
fn disk_writes_reach_the_file_only_when_writable() {
    let guest = GUESTS
        .iter()
        .find(|g| g.source == "ide.asm")
        .expect("the ide guest");
    let image = assemble(guest, "writes");
    let original = std::fs::read(&image).expect("read the image");
    let (_, status) = run_emulator(guest, &image);
    assert_eq!(status, PASSED);
    assert_eq!(std::fs::read(&image).expect("read the image"), original);
    let mut command = Command::new(env!("CARGO_BIN_EXE_x86emu"));
    command
        .arg("--boot-sector")
        .arg(first_sector(&image))
        .arg("--disk")
        .arg(&image)
        .arg("--disk-writable")
        .args(["--max-instructions", "200000000"]);
    let (_, status) = run_with_timeout(command, Duration::from_secs(60), "x86emu");
    assert_eq!(status, PASSED);
    let written = std::fs::read(&image).expect("read the image");
    // Sector 5 now holds the boot sector; nothing else changed.
    assert_eq!(&written[5 * 512..6 * 512], &original[..512]);
    assert_eq!(&written[..5 * 512], &original[..5 * 512]);
}

/// The `vga` boot sector (it halts instead of exiting, so the screen can
/// be read afterwards).
const VGA_GUEST: Guest = Guest {
    source: "vga.asm",
    defines: &[],
    kind: Kind::BootSector,
    expected: "vga.expected",
    accel: Accel::Kvm,
};
/// Mode 3's text page: 80 × 25 cells of (character, attribute).
const TEXT_PAGE: usize = 80 * 25 * 2;

/// Runs a boot sector in QEMU until `done` appears on its 0xE9 console,
/// then saves the text page with the monitor's `pmemsave`; returns (the
/// console, the page).
fn qemu_screen(binary: &Path, accel: Accel) -> (String, Vec<u8>) {
    use std::io::Write;
    let accel = if accel == Accel::Kvm && Path::new("/dev/kvm").exists() {
        "kvm"
    } else {
        "tcg"
    };
    let console = binary.with_extension("console");
    let page = binary.with_extension("page");
    let _ = std::fs::remove_file(&console);
    let _ = std::fs::remove_file(&page);
    let mut child = Command::new("qemu-system-x86_64")
        .args(["-accel", accel, "-display", "none", "-no-reboot"])
        .arg("-debugcon")
        .arg(format!("file:{}", console.display()))
        .args(["-monitor", "stdio", "-drive"])
        .arg(format!("format=raw,file={}", binary.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run qemu-system-x86_64 ({e}); install it: {INSTALL_HINT}")
        });
    let start = Instant::now();
    let report = loop {
        let text = std::fs::read_to_string(&console).unwrap_or_default();
        if text.contains("done") {
            break text;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("QEMU's console never said done; it said:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut monitor = child.stdin.take().expect("the monitor's stdin");
    // The monitor parses arguments as expressions: the file name is quoted.
    write!(
        monitor,
        "pmemsave 0xb8000 {TEXT_PAGE} \"{}\"\nquit\n",
        page.display()
    )
    .expect("talk to the QEMU monitor");
    drop(monitor);
    child.wait().expect("QEMU quits");
    (
        report,
        std::fs::read(&page).expect("QEMU saved the text page"),
    )
}

#[test]
fn vga_text_screen_matches_qemu() {
    use guest_x86::boot::flat::load_boot_sector;
    use guest_x86::boot::layout::{DEFAULT_RAM, VGA_TEXT_BUFFER};
    use guest_x86::devices::vga::render;
    use guest_x86::pc::{Pc, RunExit};

    let binary = assemble(&VGA_GUEST, "qemu");
    let (qemu_report, qemu_page) = qemu_screen(&binary, VGA_GUEST.accel);
    assert_eq!(qemu_report, expected(&VGA_GUEST), "QEMU's report");

    let image = std::fs::read(&binary).expect("read the boot sector");
    let mut pc = Pc::new(DEFAULT_RAM).expect("RAM");
    load_boot_sector(&mut pc, &image).expect("a boot sector");
    assert!(matches!(pc.run(1_000_000), RunExit::HaltedForever(_)));
    let mut page = vec![0u8; TEXT_PAGE];
    pc.mem.read_physical(VGA_TEXT_BUFFER, &mut page);
    assert_eq!(
        String::from_utf8_lossy(&pc.mem.bus.debug_console),
        expected(&VGA_GUEST),
        "the emulator's report"
    );
    assert!(
        page == qemu_page,
        "text pages differ; emulator:\n{}QEMU:\n{}",
        render(&page),
        render(&qemu_page)
    );

    // x86emu --vga-dump prints the same screen between two rules.
    let out = Command::new(env!("CARGO_BIN_EXE_x86emu"))
        .arg("--boot-sector")
        .arg(&binary)
        .args(["--vga-dump", "--max-instructions", "1000000"])
        .output()
        .expect("run x86emu");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rule = "-".repeat(80);
    let dump = stderr
        .split(&format!("{rule}\n"))
        .nth(1)
        .expect("a screen between two rules");
    assert_eq!(dump, render(&qemu_page));
    assert!(render(&qemu_page).starts_with("wrun guest-x86: VGA text mode\n"));
}

/// The built-in guest (`x86emu --demo`, `emu.wasm` without arguments):
/// its report equals `demo.expected`, which is QEMU's (TCG) for the same
/// disk image; it exits 0; and an image whose real-mode check is broken
/// reports FAIL and exits with the failure value.
#[test]
fn the_built_in_guest_passes_as_under_qemu() {
    use guest_x86::boot::demo::IMAGE;
    let expected =
        std::fs::read_to_string(guests_dir().join("demo.expected")).expect("read demo.expected");
    let mut command = Command::new(env!("CARGO_BIN_EXE_x86emu"));
    command.args(["--demo", "--max-instructions", "10000000"]);
    let (report, status) = run_with_timeout(command, Duration::from_secs(60), "x86emu --demo");
    assert_eq!(report, expected, "x86emu --demo");
    assert_eq!(status, 0, "x86emu --demo exit status");

    let image = out_dir().join("demo.img");
    std::fs::write(&image, IMAGE).expect("write the demo image");
    let mut qemu = Command::new("qemu-system-x86_64");
    qemu.args(["-accel", "tcg", "-display", "none", "-no-reboot"])
        .args(["-serial", "stdio", "-monitor", "none", "-drive"])
        .arg(format!("format=raw,file={}", image.display()))
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=4"]);
    let (report, status) = run_with_timeout(qemu, Duration::from_secs(120), "qemu-system-x86_64");
    assert_eq!(report, expected, "QEMU on the demo image");
    assert_eq!(status, PASSED, "QEMU exit status");

    // Break the real-mode check: the value written is no longer the one
    // compared (`mov word [es:0], 0x5a17` is the first 17 5A).
    let mut broken = IMAGE.to_vec();
    let at = broken
        .windows(2)
        .position(|w| w == [0x17, 0x5a])
        .expect("the real-mode check's constant");
    broken[at] = 0x18;
    let image = out_dir().join("demo-broken.img");
    std::fs::write(&image, &broken).expect("write the broken image");
    let mut command = Command::new(env!("CARGO_BIN_EXE_x86emu"));
    command
        .arg("--boot-sector")
        .arg(first_sector(&image))
        .arg("--disk")
        .arg(&image)
        .args(["--max-instructions", "10000000"]);
    let (report, status) = run_with_timeout(command, Duration::from_secs(60), "x86emu");
    assert!(
        report.contains(
            "real mode: 1000:0000 is 0FFF:0010 ... FAIL\nprotected mode: 32-bit stack ... ok\n"
        ),
        "{report}"
    );
    assert_eq!(status, (0x11 << 1) | 1, "exit status of a failed check");
}
