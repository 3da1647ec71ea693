//! `x86emu`: runs x86_64 Linux programs, or a bare PC guest, on the
//! guest-x86 emulator.
//!
//! ```text
//! x86emu [--mem MiB] --user PROG [ARGS..]
//! x86emu --boot-sector FILE [--mem MiB] [--max-instructions N]
//! x86emu --flat FILE        [--mem MiB] [--max-instructions N]
//! x86emu --kernel FILE [--initrd FILE] [--append STR] [--boot32]
//!                           [--mem MiB] [--max-instructions N]
//! ```
//! Every PC form also takes `--disk IMAGE [--disk-writable]`: IMAGE becomes
//! the primary ATA master (whole 512-byte sectors). Without
//! `--disk-writable` the guest's writes stay in memory and the file is
//! never written. `--vga-dump` prints the 80×25 VGA text screen on stderr
//! when the run ends.
//! `--kernel` boots a Linux bzImage or ELF vmlinux by the Linux boot
//! protocol (`guest_x86::boot::linux`), in 64-bit mode if the kernel has a
//! 64-bit entry (or 32-bit with `--boot32`); the serial console is stdout.
//! PC mode (`--boot-sector`, `--flat`; see `guest_x86::boot::flat`): the
//! 0xE9 debug console and COM1 print on stdout. Exit status: (V << 1) | 1
//! when the guest writes V to the isa-debug-exit port 0xF4 (as QEMU's
//! `-device isa-debug-exit,iobase=0xf4,iosize=4`), 2 for a usage or load
//! error, 4 for a guest reset, 6 for a triple fault, 8 for a HLT nothing
//! can wake, 10 when `--max-instructions` ran out. Bytes on stdin go to
//! COM1's receiver (read by a separate thread, so the guest never blocks);
//! a guest idling in HLT waits for them.
//!
//! User mode:
//! PROG may be static or dynamically linked (its interpreter, glibc's
//! ld.so, and libraries come from the host's file system). The processes
//! and threads it starts all run inside this one emulator process. The
//! guest sees the host's stdin/stdout/stderr, file system and
//! environment; its exit status becomes ours (128 + N for signal N); the
//! run ends when PROG's process does, and a deadlock (every task waiting
//! for another) ends it with SIGKILL and a report on stderr. `--mem`
//! bounds the guest RAM all its processes share (default 2048 MiB): a
//! process touching a page beyond it is killed with SIGKILL, as by Linux's
//! OOM killer, with a line on stderr.
//! `X86EMU_STRACE=1` prints every system call on stderr.

use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

use guest_x86::user::std_host::StdHost;
use guest_x86::user::{Exit, Process};

fn usage() -> ExitCode {
    eprintln!(
        "usage: x86emu [--mem MiB] --user PROG [ARGS..]\n       x86emu (--boot-sector FILE | --flat FILE) [--mem MiB] [--max-instructions N]\n       x86emu --kernel FILE [--initrd FILE] [--append STR] [--boot32] [--mem MiB] [--max-instructions N]\n       (every PC form: [--disk IMAGE [--disk-writable]] [--vga-dump])"
    );
    ExitCode::from(EXIT_USAGE)
}

/// Exit statuses of PC mode (odd ones belong to the isa-debug-exit port).
const EXIT_USAGE: u8 = 2;
const EXIT_RESET: u8 = 4;
const EXIT_TRIPLE_FAULT: u8 = 6;
const EXIT_HALTED_FOREVER: u8 = 8;
const EXIT_INSTRUCTION_LIMIT: u8 = 10;

/// What to put in the PC.
enum PcImage {
    BootSector,
    Flat,
    Linux,
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.len() >= 2
        && (args[0] == "--boot-sector" || args[0] == "--flat" || args[0] == "--kernel")
    {
        return run_pc(&args);
    }
    // User mode: `[--mem MiB] --user PROG [ARGS..]`.
    let (memory_limit, args) = match args.as_slice() {
        [flag, value, rest @ ..] if flag == "--mem" => {
            match guest_x86::user::parse_memory_limit(value.as_bytes()) {
                Ok(bytes) => (bytes, rest),
                Err(why) => {
                    eprintln!("x86emu: --mem {}: {why}", value.to_string_lossy());
                    return ExitCode::from(EXIT_USAGE);
                }
            }
        }
        _ => (guest_x86::user::DEFAULT_MEMORY_LIMIT, args.as_slice()),
    };
    if args.len() < 2 || args[0] != "--user" {
        return usage();
    }
    let program = &args[1];
    let image = match std::fs::read(program) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("x86emu: cannot read {}: {e}", program.to_string_lossy());
            return ExitCode::from(127);
        }
    };
    let argv: Vec<Vec<u8>> = args[1..].iter().map(|a| a.as_bytes().to_vec()).collect();
    let envp: Vec<Vec<u8>> = std::env::vars_os()
        .map(|(k, v)| {
            let mut e = k.as_bytes().to_vec();
            e.push(b'=');
            e.extend_from_slice(v.as_bytes());
            e
        })
        .collect();
    let mut process =
        match Process::with_memory_limit(StdHost::default(), &image, &argv, &envp, memory_limit) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("x86emu: {}: {e}", program.to_string_lossy());
                return ExitCode::from(126);
            }
        };
    process.trace_syscalls = std::env::var_os("X86EMU_STRACE").is_some();
    process.set_exe_path(program.as_bytes());
    let exit = process.run();
    if let Exit::Signal(sig, why) = &exit
        && !why.is_empty()
    {
        eprintln!(
            "x86emu: {} killed by signal {sig}: {why}",
            program.to_string_lossy()
        );
    }
    if let Exit::Signal(sig, _) = exit {
        die_by_signal(sig as i32);
    }
    ExitCode::from(exit.status() as u8)
}

/// Ends this process with the guest's fatal signal, so a parent sees the
/// same wait status as for the native program; falls back to the shell
/// convention 128 + N if the signal does not end us.
fn die_by_signal(sig: i32) {
    unsafe extern "C" {
        fn signal(sig: i32, handler: usize) -> usize;
        fn raise(sig: i32) -> i32;
    }
    const SIG_DFL: usize = 0;
    let _ = std::io::Write::flush(&mut std::io::stdout());
    // SAFETY: restoring the default disposition and raising a signal in our
    // own process; nothing runs afterwards if it is fatal.
    unsafe {
        signal(sig, SIG_DFL);
        raise(sig);
    }
}

/// `--boot-sector` / `--flat`: boots a bare PC guest.
fn run_pc(args: &[std::ffi::OsString]) -> ExitCode {
    use guest_x86::boot::flat::{load_boot_sector, load_flat};
    use guest_x86::pc::{Pc, RunExit};
    use std::io::Write;

    use guest_x86::boot::linux::{BootArgs, BootMode, load_linux, native_mode};
    let kind = if args[0] == "--flat" {
        PcImage::Flat
    } else if args[0] == "--kernel" {
        PcImage::Linux
    } else {
        PcImage::BootSector
    };
    let mut initrd_path: Option<std::ffi::OsString> = None;
    let mut command_line = String::new();
    let mut boot32 = false;
    let path = &args[1];
    let mut mem_mib = guest_x86::boot::layout::DEFAULT_RAM >> 20;
    let mut max_instructions = u64::MAX;
    let mut disk_path: Option<std::ffi::OsString> = None;
    let mut disk_writable = false;
    let mut vga_dump = false;
    let mut rest = args[2..].iter();
    while let Some(flag) = rest.next() {
        match flag.to_str() {
            Some("--disk") => {
                let Some(p) = rest.next() else { return usage() };
                disk_path = Some(p.clone());
                continue;
            }
            Some("--disk-writable") => {
                disk_writable = true;
                continue;
            }
            Some("--vga-dump") => {
                vga_dump = true;
                continue;
            }
            _ => {}
        }
        if matches!(kind, PcImage::Linux) {
            match flag.to_str() {
                Some("--boot32") => {
                    boot32 = true;
                    continue;
                }
                Some("--initrd") => {
                    let Some(p) = rest.next() else { return usage() };
                    initrd_path = Some(p.clone());
                    continue;
                }
                Some("--append") => {
                    let Some(a) = rest.next().and_then(|a| a.to_str()) else {
                        return usage();
                    };
                    command_line = a.to_string();
                    continue;
                }
                _ => {}
            }
        }
        let value = rest
            .next()
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u64>().ok());
        match (flag.to_str(), value) {
            (Some("--mem"), Some(v)) => mem_mib = v,
            (Some("--max-instructions"), Some(v)) => max_instructions = v,
            _ => return usage(),
        }
    }
    let image = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("x86emu: cannot read {}: {e}", path.to_string_lossy());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut pc = match Pc::new(mem_mib.saturating_mul(1 << 20)) {
        Ok(pc) => pc,
        Err(e) => {
            eprintln!(
                "x86emu: --mem {mem_mib}: unsupported RAM size ({} bytes; 2 MiB to 3 GiB)",
                e.0
            );
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        pc.set_wall_clock(now.as_secs());
    }
    if let Some(p) = &disk_path {
        match FileDisk::open(p.as_ref(), disk_writable) {
            Ok(disk) => {
                pc.mem.bus.ide = guest_x86::devices::ide::Ide::new(Some(Box::new(disk)));
            }
            Err(e) => {
                eprintln!("x86emu: --disk {}: {e}", p.to_string_lossy());
                return ExitCode::from(EXIT_USAGE);
            }
        }
    }
    let loaded = match kind {
        PcImage::BootSector => load_boot_sector(&mut pc, &image).map_err(|e| e.to_string()),
        PcImage::Flat => load_flat(&mut pc, &image).map_err(|e| e.to_string()),
        PcImage::Linux => {
            let initrd = match &initrd_path {
                None => None,
                Some(p) => match std::fs::read(p) {
                    Ok(bytes) => Some(bytes),
                    Err(e) => {
                        eprintln!("x86emu: cannot read {}: {e}", p.to_string_lossy());
                        return ExitCode::from(EXIT_USAGE);
                    }
                },
            };
            let mode = if boot32 {
                BootMode::Bits32
            } else {
                native_mode(&image)
            };
            let boot_args = BootArgs {
                initrd: initrd.as_deref(),
                command_line: &command_line,
            };
            load_linux(&mut pc, &image, &boot_args, mode).map_err(|e| e.to_string())
        }
    };
    if let Err(e) = loaded {
        eprintln!("x86emu: {}: {e}", path.to_string_lossy());
        return ExitCode::from(EXIT_USAGE);
    }
    const SLICE: u64 = 1 << 20;
    let mut left = max_instructions;
    let mut stdout = std::io::stdout();
    let input = spawn_stdin_reader();
    let status = loop {
        while let Ok(bytes) = input.try_recv() {
            pc.mem.bus.com1.receive(&bytes);
        }
        let exit = pc.run(SLICE.min(left));
        let bus = &mut pc.mem.bus;
        let _ = stdout.write_all(&bus.debug_console);
        let _ = stdout.write_all(&bus.com1.output);
        let _ = stdout.flush();
        bus.debug_console.clear();
        bus.com1.output.clear();
        match exit {
            RunExit::Budget => {
                left = left.saturating_sub(SLICE);
                if left == 0 {
                    eprintln!("x86emu: instruction limit reached at rip {:#x}", pc.cpu.rip);
                    break EXIT_INSTRUCTION_LIMIT;
                }
            }
            RunExit::DebugExit(v) => break ((v << 1) | 1) as u8,
            RunExit::Reset => {
                eprintln!("x86emu: the guest reset the machine");
                break EXIT_RESET;
            }
            RunExit::TripleFault(rip) => {
                eprintln!("x86emu: triple fault at rip {rip:#x}");
                break EXIT_TRIPLE_FAULT;
            }
            RunExit::HaltedForever(rip) => {
                eprintln!("x86emu: HLT with interrupts off at rip {rip:#x}");
                break EXIT_HALTED_FOREVER;
            }
            RunExit::Idle => {
                // Only serial input can wake the guest: wait for it.
                match input.recv() {
                    Ok(bytes) => pc.mem.bus.com1.receive(&bytes),
                    Err(_) => {
                        eprintln!("x86emu: the guest waits in HLT and stdin is closed");
                        break EXIT_HALTED_FOREVER;
                    }
                }
            }
        }
    };
    if vga_dump {
        let screen = pc.mem.bus.vga.screen_text();
        let rule = "-".repeat(guest_x86::devices::vga::COLUMNS);
        eprint!("{rule}\n{screen}{rule}\n");
    }
    ExitCode::from(status)
}

/// Reads stdin on its own thread; each read arrives as one message, and
/// the channel closes at end of input.
fn spawn_stdin_reader() -> std::sync::mpsc::Receiver<Vec<u8>> {
    use std::io::Read;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || sender.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    receiver
}

/// A disk image file behind the ATA disk. Read-only unless opened
/// writable: then the guest's writes land in the file; otherwise they are
/// kept in memory, sector by sector, over the unchanged file.
struct FileDisk {
    file: std::fs::File,
    sectors: u64,
    writable: bool,
    overlay: std::collections::BTreeMap<u64, Box<[u8; SECTOR]>>,
}

use guest_x86::devices::ide::SECTOR;

impl FileDisk {
    fn open(path: &std::path::Path, writable: bool) -> std::io::Result<FileDisk> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)?;
        let sectors = file.metadata()?.len() / SECTOR as u64;
        if sectors == 0 {
            return Err(std::io::Error::other(
                "the image holds no whole 512-byte sector",
            ));
        }
        Ok(FileDisk {
            file,
            sectors,
            writable,
            overlay: Default::default(),
        })
    }
}

impl guest_x86::devices::ide::Storage for FileDisk {
    fn sectors(&self) -> u64 {
        self.sectors
    }

    fn read(&mut self, lba: u64, buf: &mut [u8; SECTOR]) -> bool {
        use std::os::unix::fs::FileExt;
        if let Some(sector) = self.overlay.get(&lba) {
            buf.copy_from_slice(&sector[..]);
            return true;
        }
        lba < self.sectors && self.file.read_exact_at(buf, lba * SECTOR as u64).is_ok()
    }

    fn write(&mut self, lba: u64, data: &[u8; SECTOR]) -> bool {
        use std::os::unix::fs::FileExt;
        if lba >= self.sectors {
            return false;
        }
        if self.writable {
            return self.file.write_all_at(data, lba * SECTOR as u64).is_ok();
        }
        self.overlay.insert(lba, Box::new(*data));
        true
    }
}
