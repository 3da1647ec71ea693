//! Boots the real Linux kernels built by `scripts/build-kernel.sh` (cached
//! under `target/kernels/<arch>/`) and Debian's stock cloud kernel fetched
//! by `scripts/debian-kernel.sh` (`target/kernels/debian-cloud/`) on the
//! emulated PC, serial console on COM1, and checks the boot milestones on
//! the console: `Linux version`, `Run /init`, the initramfs marker, then a
//! shell session. A missing kernel fails the test with the command that
//! builds or fetches it.

use std::path::PathBuf;
use std::time::Instant;

use guest_x86::boot::linux::{BootArgs, BootMode, load_linux};
use guest_x86::pc::{Pc, RunExit};

const BUILD_HINT: &str = "bash scripts/build-kernel.sh";
const RAM: u64 = 128 << 20;
/// Instructions run between looks at the console.
const SLICE: u64 = 1 << 20;

const DEBIAN_HINT: &str = "bash scripts/debian-kernel.sh";
/// Where `scripts/debian-kernel.sh` puts Debian's cloud kernel.
const DEBIAN_DIR: &str = "debian-cloud";

/// `target/kernels/<dir>/<name>`, or a failure naming `hint`.
fn cached_file(dir: &str, name: &str, hint: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/kernels")
        .join(dir)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; get it with `{hint}`", path.display()))
}

fn kernel_file(arch: &str, name: &str) -> Vec<u8> {
    cached_file(arch, name, &format!("{BUILD_HINT} {arch}"))
}

/// A booted PC and everything its serial console printed.
struct Console {
    pc: Pc,
    output: Vec<u8>,
    instructions: u64,
    /// Console position just after the latest shell prompt.
    prompt_at: usize,
    started: Instant,
}

impl Console {
    fn boot(image: &[u8], initrd_arch: &str, mode: BootMode, command_line: &str) -> Console {
        let initrd = kernel_file(initrd_arch, "initramfs.cpio.gz");
        let mut pc = Pc::new(RAM).unwrap();
        let args = BootArgs {
            initrd: Some(&initrd),
            command_line,
        };
        load_linux(&mut pc, image, &args, mode).unwrap();
        Console {
            pc,
            output: Vec::new(),
            instructions: 0,
            prompt_at: 0,
            started: Instant::now(),
        }
    }

    /// Runs until `marker` appears on the console after byte `from`, or
    /// panics with the console's tail once `budget` instructions are spent.
    fn run_until(&mut self, marker: &str, from: usize, budget: u64) -> usize {
        let start = self.instructions;
        loop {
            if let Some(at) = find(&self.output[from..], marker.as_bytes()) {
                return from + at + marker.len();
            }
            if self.instructions - start >= budget {
                panic!(
                    "no {marker:?} on the console after {} instructions; last output:\n{}",
                    self.instructions - start,
                    self.tail()
                );
            }
            let exit = self.pc.run(SLICE);
            self.instructions += SLICE;
            self.output.append(&mut self.pc.mem.bus.com1.output);
            match exit {
                RunExit::Budget | RunExit::Idle => {}
                other => panic!(
                    "the guest stopped: {other:?}; last output:\n{}",
                    self.tail()
                ),
            }
        }
    }

    fn type_line(&mut self, line: &str) {
        self.pc.mem.bus.com1.receive(line.as_bytes());
    }

    fn tail(&self) -> String {
        let from = self.output.len().saturating_sub(3000);
        String::from_utf8_lossy(&self.output[from..]).into_owned()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Budget for each milestone: the x86_64 bzImage reaches the shell prompt
/// in about 176 M instructions (decompression and Linux's APIC timer
/// calibration included), Debian's cloud kernel in about 1.42 G.
const TO_SHELL: u64 = 3_000_000_000;

/// Boots to the initramfs's marker and shell, then types `uname -m` and
/// expects `machine` (as the marker prints it) back.
fn boot_to_shell(arch: &str, kernel: &str, mode: BootMode, machine: &str) {
    let image = kernel_file(arch, kernel);
    let mut console = boot_to_prompt(&image, arch, mode, machine, &format!("{arch} {kernel}"));
    run_command(
        &mut console,
        "uname -m",
        machine,
        &format!("{arch} {kernel}"),
    );
}

/// Boots `image` with `initrd_arch`'s initramfs to the shell prompt,
/// printing the instructions and seconds it took.
fn boot_to_prompt(
    image: &[u8],
    initrd_arch: &str,
    mode: BootMode,
    machine: &str,
    name: &str,
) -> Console {
    let marker = format!("wrun-initramfs: /init reached ({machine})");
    let started = Instant::now();
    let mut console = Console::boot(image, initrd_arch, mode, "console=ttyS0 earlyprintk=serial");
    let at = console.run_until("Linux version", 0, TO_SHELL);
    let at = console.run_until("Run /init", at, TO_SHELL);
    let at = console.run_until(&marker, at, TO_SHELL);
    console.run_until("/ # ", at, TO_SHELL);
    eprintln!(
        "{name}: shell prompt after {} instructions, {:.1?}",
        console.instructions,
        started.elapsed()
    );
    console.prompt_at = console.output.len();
    console.started = started;
    console
}

/// Types `command` at the prompt and expects a line starting with
/// `answer`, then the next prompt.
fn run_command(console: &mut Console, command: &str, answer: &str, name: &str) {
    let at = console.prompt_at;
    console.type_line(&format!("{command}\n"));
    let at = console.run_until(command, at, TO_SHELL);
    let at = console.run_until(&format!("\n{answer}"), at, TO_SHELL);
    console.run_until("/ # ", at, TO_SHELL);
    console.prompt_at = console.output.len();
    eprintln!(
        "{name}: `{command}` answered after {} instructions, {:.1?}",
        console.instructions,
        console.started.elapsed()
    );
}

#[test]
fn x86_64_bzimage_boots_to_the_shell() {
    boot_to_shell("x86_64", "bzImage", BootMode::Bits64, "x86_64");
}

#[test]
fn x86_64_vmlinux_boots_to_the_shell() {
    boot_to_shell("x86_64", "vmlinux", BootMode::Bits64, "x86_64");
}

#[test]
fn i386_bzimage_boots_to_the_shell() {
    boot_to_shell("i386", "bzImage", BootMode::Bits32, "i686");
}

/// Debian's stock `linux-image-*-cloud-amd64` (a distribution kernel: ACPI,
/// KASLR, PTI, retpolines, paravirt hooks) with the project's x86_64
/// busybox initramfs: the shell answers `uname -m` and `uname -r`, the
/// release matching the package the script fetched.
#[test]
fn debian_cloud_kernel_boots_to_the_shell() {
    let image = cached_file(DEBIAN_DIR, "vmlinuz", DEBIAN_HINT);
    let package = String::from_utf8(cached_file(DEBIAN_DIR, "version", DEBIAN_HINT))
        .expect("the package name is text");
    // linux-image-6.1.0-57-cloud-amd64 → 6.1.0-57-cloud-amd64.
    let release = package
        .trim()
        .trim_start_matches("linux-image-")
        .to_string();
    let name = "Debian cloud kernel";
    let mut console = boot_to_prompt(&image, "x86_64", BootMode::Bits64, "x86_64", name);
    run_command(&mut console, "uname -m", "x86_64", name);
    run_command(&mut console, "uname -r", &release, name);
}
