//! Starting and running a PC from a command line, the same for the native
//! `x86emu` and the wasm64 `emu.wasm`: parse the flags (`args`), read the
//! files, load the guest, run it with the serial console on the host's
//! terminal, and turn how it ended into an exit status. What differs
//! between the two hosts (files, console, clock, sleeping) is [`PcHost`].
//!
//! Exit status: (V << 1) | 1 when the guest writes V to the isa-debug-exit
//! port 0xF4 (as QEMU's `-device isa-debug-exit,iobase=0xf4,iosize=4`);
//! for `--demo`, 0 when its self-test passed and 1 when not; 2 for a usage
//! or load error, 4 for a guest reset, 6 for a triple fault, 8 for a HLT
//! nothing can wake, 10 when `--max-instructions` ran out.
//!
//! Time: the guest's clock is virtual (one nanosecond per instruction, see
//! `pc`) and runs slower than the host's while the guest computes. When
//! the guest halts until a timer, the host sleeps until the deadline is
//! due in host time, or until console input arrives, instead of skipping
//! ahead and spinning (QEMU's `-icount sleep=on`). How far the virtual
//! clock may lag behind is capped ([`PACING_SLACK_NS`]), so a slow boot
//! never makes an idle shell race through a backlog of timer ticks.

pub mod args;

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::boot::flat::{load_boot_sector, load_flat};
use crate::boot::linux::{BootArgs, BootMode, load_linux, native_mode};
use crate::devices::ide::{Ide, Storage};
use crate::pc::{Pc, RunExit};
pub use args::{ArgError, PcArgs, PcImage, is_pc_command, parse, usage_lines};

/// Exit status for a usage or load error.
pub const EXIT_USAGE: u8 = 2;
/// Exit status after a guest reset.
pub const EXIT_RESET: u8 = 4;
/// Exit status after a triple fault.
pub const EXIT_TRIPLE_FAULT: u8 = 6;
/// Exit status for a HLT nothing can wake.
pub const EXIT_HALTED_FOREVER: u8 = 8;
/// Exit status when `--max-instructions` ran out.
pub const EXIT_INSTRUCTION_LIMIT: u8 = 10;
/// The isa-debug-exit value of a guest whose checks all passed (the
/// project's assembly guests and `--demo`).
pub const GUEST_PASSED: u32 = 0x10;

/// Instructions run between looks at the console.
const SLICE: u64 = 1 << 20;
/// The most the virtual clock may fall behind host time; beyond it the
/// lag is forgotten (see the module comment).
pub const PACING_SLACK_NS: u64 = 250_000_000;

/// What a look at the console input found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// Bytes were appended (or nothing is there yet).
    Open,
    /// The input has ended; it will never deliver more.
    Closed,
}

/// The host services the PC's run loop needs.
pub trait PcHost {
    /// Reads the whole file at `path`; a file over `cap` bytes is refused
    /// before it is read. The error says what went wrong (not the path).
    fn read_file(&mut self, path: &[u8], cap: u64) -> Result<Vec<u8>, String>;
    /// Opens a disk image for the ATA disk; without `writable` the guest's
    /// writes must stay in memory.
    fn open_disk(&mut self, path: &[u8], writable: bool)
    -> Result<Box<dyn Storage + Send>, String>;
    /// Writes guest console output to the terminal.
    fn console_output(&mut self, bytes: &[u8]);
    /// Appends console input that is ready to `buf`, without blocking.
    fn poll_input(&mut self, buf: &mut Vec<u8>) -> Input;
    /// Monotonic host time in nanoseconds.
    fn now_ns(&mut self) -> u64;
    /// The host's time of day in Unix seconds, if it has one.
    fn wall_clock(&mut self) -> Option<u64>;
    /// Sleeps until `timeout_ns` has passed (`None`: no limit) or, with
    /// `watch_input`, until console input is ready, whichever is first.
    fn wait(&mut self, timeout_ns: Option<u64>, watch_input: bool);
    /// Prints one diagnostic line (stderr).
    fn error_line(&mut self, line: fmt::Arguments<'_>);
}

/// Parses `args` (without the program name), runs the PC and returns the
/// exit status; `name` prefixes diagnostics (`x86emu`, `emu`).
pub fn main<H: PcHost>(host: &mut H, name: &str, args: &[Vec<u8>]) -> u8 {
    match parse(args) {
        Ok(parsed) => run(host, name, &parsed),
        Err(e) => {
            host.error_line(format_args!("{name}: {e}"));
            host.error_line(format_args!("usage: {}", usage_lines(name, "       ")));
            EXIT_USAGE
        }
    }
}

fn show(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

/// Builds and loads the PC `args` describes; the error is the line to print.
fn load<H: PcHost>(host: &mut H, args: &PcArgs) -> Result<Pc, String> {
    let ram = args.mem_mib.saturating_mul(1 << 20);
    let mut pc = Pc::new(ram).map_err(|e| {
        if (2 << 20..=crate::mmu::ram::MAX_RAM).contains(&ram) {
            // A valid size the host's allocator refused.
            alloc::format!(
                "--mem {}: the host cannot provide that much RAM",
                args.mem_mib
            )
        } else {
            alloc::format!(
                "--mem {}: unsupported RAM size ({} bytes; 2 MiB to 3 GiB)",
                args.mem_mib,
                e.0
            )
        }
    })?;
    if let Some(now) = host.wall_clock() {
        pc.set_wall_clock(now);
    }
    if let Some(path) = &args.disk {
        let disk = host
            .open_disk(path, args.disk_writable)
            .map_err(|e| alloc::format!("--disk {}: {e}", show(path)))?;
        pc.mem.bus.ide = Ide::new(Some(disk));
    }
    // Nothing larger than the guest's RAM can be loaded into it.
    let mut read = |path: &Vec<u8>| {
        host.read_file(path, ram)
            .map_err(|e| alloc::format!("cannot read {}: {e}", show(path)))
    };
    let failed = |what: &[u8], e: String| alloc::format!("{}: {e}", show(what));
    match &args.image {
        PcImage::BootSector(path) => {
            load_boot_sector(&mut pc, &read(path)?).map_err(|e| failed(path, e.to_string()))?
        }
        PcImage::Flat(path) => {
            load_flat(&mut pc, &read(path)?).map_err(|e| failed(path, e.to_string()))?
        }
        PcImage::Demo => {
            if args.disk.is_some() {
                return Err(String::from("--demo brings its own disk: leave out --disk"));
            }
            crate::boot::demo::load(&mut pc)
                .map_err(|e| failed(b"the built-in guest", e.to_string()))?
        }
        PcImage::Linux(path) => {
            let image = read(path)?;
            let initrd = match &args.initrd {
                Some(p) => Some(read(p)?),
                None => None,
            };
            let mode = if args.boot32 {
                BootMode::Bits32
            } else {
                native_mode(&image)
            };
            let boot_args = BootArgs {
                initrd: initrd.as_deref(),
                command_line: &args.append,
            };
            load_linux(&mut pc, &image, &boot_args, mode)
                .map_err(|e| failed(path, e.to_string()))?
        }
    }
    Ok(pc)
}

/// Runs the PC `args` describes to its end; returns the exit status.
pub fn run<H: PcHost>(host: &mut H, name: &str, args: &PcArgs) -> u8 {
    let mut pc = match load(host, args) {
        Ok(pc) => pc,
        Err(e) => {
            host.error_line(format_args!("{name}: {e}"));
            return EXIT_USAGE;
        }
    };
    let status = run_loaded(host, name, &mut pc, args.max_instructions);
    if args.vga_dump {
        let screen = pc.mem.bus.vga.screen_text();
        let rule = "-".repeat(crate::devices::vga::COLUMNS);
        host.error_line(format_args!("{rule}\n{screen}{rule}"));
    }
    if args.image == PcImage::Demo && status & 1 == 1 {
        // The built-in guest reports through the isa-debug-exit port.
        return if status == ((GUEST_PASSED << 1) | 1) as u8 {
            0
        } else {
            host.error_line(format_args!(
                "{name}: the built-in guest's self-test failed"
            ));
            1
        };
    }
    status
}

/// The run loop: slices of instructions, console output after each,
/// console input before each, host sleep while the guest waits for a timer.
fn run_loaded<H: PcHost>(host: &mut H, name: &str, pc: &mut Pc, max_instructions: u64) -> u8 {
    pc.set_idle_exits(true);
    let mut left = max_instructions;
    let mut input = Vec::new();
    let mut input_open = true;
    // Host time at which the virtual clock read 0 (moved forward when the
    // guest lags more than the slack).
    let mut host_base = host.now_ns().saturating_sub(pc.cpu.tsc);
    loop {
        if input_open {
            input_open = host.poll_input(&mut input) == Input::Open;
        }
        if !input.is_empty() {
            pc.mem.bus.com1.receive(&input);
            input.clear();
        }
        let steps = pc.steps();
        let exit = pc.run(SLICE.min(left));
        left = left.saturating_sub(pc.steps() - steps);
        let bus = &mut pc.mem.bus;
        if !bus.debug_console.is_empty() {
            host.console_output(&bus.debug_console);
            bus.debug_console.clear();
        }
        if !bus.com1.output.is_empty() {
            host.console_output(&bus.com1.output);
            bus.com1.output.clear();
        }
        let now = host.now_ns();
        let tsc = pc.cpu.tsc;
        if now.saturating_sub(host_base) > tsc.saturating_add(PACING_SLACK_NS) {
            host_base = now - tsc - PACING_SLACK_NS;
        }
        match exit {
            RunExit::Budget => {
                if left == 0 {
                    host.error_line(format_args!(
                        "{name}: instruction limit reached at rip {:#x}",
                        pc.cpu.rip
                    ));
                    return EXIT_INSTRUCTION_LIMIT;
                }
            }
            RunExit::Waiting(deadline) => {
                let due = host_base.saturating_add(deadline);
                if due > now {
                    host.wait(Some(due - now), input_open);
                }
                // Virtual time moves as far as host time did, up to the
                // deadline (less if input woke us first).
                let reached = host.now_ns().saturating_sub(host_base);
                pc.advance_clock(reached.max(tsc).min(deadline));
            }
            RunExit::DebugExit(v) => return ((v << 1) | 1) as u8,
            RunExit::Reset => {
                host.error_line(format_args!("{name}: the guest reset the machine"));
                return EXIT_RESET;
            }
            RunExit::TripleFault(rip) => {
                host.error_line(format_args!("{name}: triple fault at rip {rip:#x}"));
                return EXIT_TRIPLE_FAULT;
            }
            RunExit::HaltedForever(rip) => {
                host.error_line(format_args!(
                    "{name}: HLT with interrupts off at rip {rip:#x}"
                ));
                return EXIT_HALTED_FOREVER;
            }
            RunExit::Idle => {
                // Only serial input can wake the guest: wait for it.
                if !input_open {
                    host.error_line(format_args!(
                        "{name}: the guest waits in HLT and stdin is closed"
                    ));
                    return EXIT_HALTED_FOREVER;
                }
                host.wait(None, true);
                // The clock stood still meanwhile: forget that host time.
                host_base = host.now_ns().saturating_sub(pc.cpu.tsc);
            }
        }
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    /// A boot sector: the PIT at 100 Hz on IRQ0 (vector 0: the PIC is not
    /// initialized), HLT until 50 ticks (500 ms) were counted, then 0x10
    /// to port 0xF4.
    const FIFTY_TICKS: [u8; 55] = [
        0x31, 0xc0, // xor ax, ax
        0x8e, 0xd8, // mov ds, ax
        0xc7, 0x06, 0x00, 0x00, 0x2d, 0x7c, // mov word [0], handler
        0xc7, 0x06, 0x02, 0x00, 0x00, 0x00, // mov word [2], 0
        0xb0, 0x34, 0xe6, 0x43, // PIT channel 0, mode 2, LSB then MSB
        0xb0, 0x9c, 0xe6, 0x40, 0xb0, 0x2e, 0xe6, 0x40, // divisor 11932: 100 Hz
        0xb0, 0xfe, 0xe6, 0x21, // unmask IRQ0
        0xfb, // sti
        0xf4, // loop: hlt
        0x80, 0x3e, 0x36, 0x7c, 0x32, // cmp byte [count], 50
        0x72, 0xf8, // jb loop
        0xb0, 0x10, 0xe6, 0xf4, // out 0xf4, 0x10
        0xfe, 0x06, 0x36, 0x7c, // handler: inc byte [count]
        0xb0, 0x20, 0xe6, 0x20, // EOI
        0xcf, // iret
        0x00, // count
    ];

    /// A host whose clock moves only when the loop sleeps, and by `step`
    /// at each of its first `fast_looks` looks (a slow boot).
    struct FakeHost {
        now: u64,
        step: u64,
        fast_looks: u32,
        slept: Vec<u64>,
    }

    impl PcHost for FakeHost {
        fn read_file(&mut self, _: &[u8], _: u64) -> Result<Vec<u8>, String> {
            let mut sector = FIFTY_TICKS.to_vec();
            sector.resize(510, 0);
            sector.extend_from_slice(&[0x55, 0xaa]);
            Ok(sector)
        }
        fn open_disk(&mut self, _: &[u8], _: bool) -> Result<Box<dyn Storage + Send>, String> {
            Err(String::from("no disks here"))
        }
        fn console_output(&mut self, _: &[u8]) {}
        fn poll_input(&mut self, _: &mut Vec<u8>) -> Input {
            Input::Open
        }
        fn now_ns(&mut self) -> u64 {
            if self.fast_looks > 0 {
                self.fast_looks -= 1;
                self.now += self.step;
            }
            self.now
        }
        fn wall_clock(&mut self) -> Option<u64> {
            None
        }
        fn wait(&mut self, timeout_ns: Option<u64>, _: bool) {
            let ns = timeout_ns.expect("a timer is armed");
            self.slept.push(ns);
            self.now += ns;
        }
        fn error_line(&mut self, line: fmt::Arguments<'_>) {
            panic!("unexpected diagnostic: {line}");
        }
    }

    /// Runs the guest; returns how long the host slept in all.
    fn run_fifty_ticks(step: u64, fast_looks: u32) -> u64 {
        let mut host = FakeHost {
            now: 0,
            step,
            fast_looks,
            slept: Vec::new(),
        };
        let args = parse(&[b"--boot-sector".to_vec(), b"ticks".to_vec()]).unwrap();
        assert_eq!(
            run(&mut host, "test", &args),
            ((GUEST_PASSED << 1) | 1) as u8
        );
        assert!(host.slept.len() <= 51, "one sleep per tick at most");
        host.slept.iter().sum()
    }

    /// A guest halted between timer ticks makes the host sleep the ticks'
    /// time (500 ms, less what the guest ran) instead of skipping ahead.
    #[test]
    fn an_idle_guest_sleeps_until_its_timer() {
        let slept = run_fifty_ticks(0, 0);
        assert!((495_000_000..=500_500_000).contains(&slept), "{slept} ns");
    }

    /// After host time ran far ahead of the guest's clock (a slow boot),
    /// only the slack's worth of ticks runs without sleeping: the rest of
    /// the 500 ms is slept, not raced through.
    #[test]
    fn a_lagging_clock_catches_up_by_the_slack_only() {
        let slept = run_fifty_ticks(1_000_000_000, 3);
        // Up to one tick (10 ms) of the slack's edge falls either way.
        let expected = 500_000_000 - PACING_SLACK_NS;
        assert!(
            (expected - 11_000_000..=expected + 500_000).contains(&slept),
            "{slept} ns"
        );
    }
}
