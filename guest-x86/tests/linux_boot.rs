//! Boots the real Linux kernels built by `scripts/build-kernel.sh` (cached
//! under `target/kernels/<arch>/`) on the emulated PC, serial console on
//! COM1, and checks the boot milestones on the console: `Linux version`,
//! `Run /init`, the initramfs marker, then a shell session. A missing
//! kernel fails the test with the command that builds it.

use std::path::PathBuf;
use std::time::Instant;

use guest_x86::boot::linux::{BootArgs, BootMode, load_linux};
use guest_x86::pc::{Pc, RunExit};

const BUILD_HINT: &str = "bash scripts/build-kernel.sh";
const RAM: u64 = 128 << 20;
/// Instructions run between looks at the console.
const SLICE: u64 = 1 << 20;

fn kernel_file(arch: &str, name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../target/kernels")
        .join(arch)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build it with `{BUILD_HINT} {arch}`",
            path.display()
        )
    })
}

/// A booted PC and everything its serial console printed.
struct Console {
    pc: Pc,
    output: Vec<u8>,
    instructions: u64,
}

impl Console {
    fn boot(arch: &str, kernel: &str, mode: BootMode, command_line: &str) -> Console {
        let image = kernel_file(arch, kernel);
        let initrd = kernel_file(arch, "initramfs.cpio.gz");
        let mut pc = Pc::new(RAM).unwrap();
        let args = BootArgs {
            initrd: Some(&initrd),
            command_line,
        };
        load_linux(&mut pc, &image, &args, mode).unwrap();
        Console {
            pc,
            output: Vec::new(),
            instructions: 0,
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
/// in about 170 M instructions (decompression included).
const TO_SHELL: u64 = 1_000_000_000;

/// Boots to the initramfs's marker and shell, then types `uname -m` and
/// expects `machine` (as the marker prints it) back.
fn boot_to_shell(arch: &str, kernel: &str, mode: BootMode, machine: &str) {
    let marker = format!("wrun-initramfs: /init reached ({machine})");
    let started = Instant::now();
    let mut console = Console::boot(arch, kernel, mode, "console=ttyS0 earlyprintk=serial");
    let at = console.run_until("Linux version", 0, TO_SHELL);
    let at = console.run_until("Run /init", at, TO_SHELL);
    let at = console.run_until(&marker, at, TO_SHELL);
    let at = console.run_until("/ # ", at, TO_SHELL);
    eprintln!(
        "{arch} {kernel}: shell prompt after {} instructions, {:.1?}",
        console.instructions,
        started.elapsed()
    );
    console.type_line("uname -m\n");
    let at = console.run_until("uname -m", at, TO_SHELL);
    let at = console.run_until(&format!("\n{machine}"), at, TO_SHELL);
    console.run_until("/ # ", at, TO_SHELL);
    eprintln!(
        "{arch} {kernel}: `uname -m` answered after {} instructions, {:.1?}",
        console.instructions,
        started.elapsed()
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
