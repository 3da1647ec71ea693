//! `x86emu`: runs x86_64 Linux programs, or a bare PC guest, on the
//! guest-x86 emulator.
//!
//! ```text
//! x86emu [--mem MiB] --user PROG [ARGS..]
//! x86emu --boot-sector FILE [--mem MiB] [--max-instructions N]
//! x86emu --flat FILE        [--mem MiB] [--max-instructions N]
//! x86emu --kernel FILE [--initrd FILE] [--append STR] [--boot32]
//!                           [--mem MiB] [--max-instructions N]
//! x86emu --demo             (the built-in self-test guest)
//! ```
//! The PC forms (flags, loading, the run loop, exit statuses) are
//! `guest_x86::launch`, shared with `emu.wasm`; this file supplies their
//! host: files through std, COM1 and the 0xE9 debug console on stdout,
//! stdin to COM1's receiver (read by a separate thread, so the guest never
//! blocks), sleeping on that thread's channel while the guest waits for a
//! timer or for input. Every PC form also takes `--disk IMAGE
//! [--disk-writable]`: IMAGE becomes the primary ATA master (whole
//! 512-byte sectors). Without `--disk-writable` the guest's writes stay in
//! memory and the file is never written. `--vga-dump` prints the 80×25 VGA
//! text screen on stderr when the run ends.
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

use guest_x86::devices::ide::{ImageDisk, ImageFile, Storage};
use guest_x86::launch::{self, Input, PcHost};
use guest_x86::user::std_host::StdHost;
use guest_x86::user::{Exit, Process};

fn usage() -> ExitCode {
    eprintln!(
        "usage: x86emu [--mem MiB] --user PROG [ARGS..]\n       {}",
        launch::usage_lines("x86emu", "       ")
    );
    ExitCode::from(launch::EXIT_USAGE)
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let bytes: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
    if launch::is_pc_command(&bytes) {
        return ExitCode::from(launch::main(&mut StdPcHost::new(), "x86emu", &bytes));
    }
    // User mode: `[--mem MiB] --user PROG [ARGS..]`.
    let (memory_limit, args) = match args.as_slice() {
        [flag, value, rest @ ..] if flag == "--mem" => {
            match guest_x86::user::parse_memory_limit(value.as_bytes()) {
                Ok(bytes) => (bytes, rest),
                Err(why) => {
                    eprintln!("x86emu: --mem {}: {why}", value.to_string_lossy());
                    return ExitCode::from(launch::EXIT_USAGE);
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

/// The PC's host: files through std, the console on stdin/stdout (stdin
/// read by a thread of its own, so the guest never blocks on it).
struct StdPcHost {
    input: std::sync::mpsc::Receiver<Vec<u8>>,
    /// Input that arrived while waiting, not yet handed over.
    pending: Vec<u8>,
    closed: bool,
    start: std::time::Instant,
}

impl StdPcHost {
    fn new() -> StdPcHost {
        StdPcHost {
            input: spawn_stdin_reader(),
            pending: Vec::new(),
            closed: false,
            start: std::time::Instant::now(),
        }
    }
}

impl PcHost for StdPcHost {
    fn read_file(&mut self, path: &[u8], cap: u64) -> Result<Vec<u8>, String> {
        let path = std::path::Path::new(std::ffi::OsStr::from_bytes(path));
        let size = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
        if size > cap {
            return Err(format!(
                "{size} bytes is larger than the guest's RAM ({cap} bytes)"
            ));
        }
        std::fs::read(path).map_err(|e| e.to_string())
    }

    fn open_disk(
        &mut self,
        path: &[u8],
        writable: bool,
    ) -> Result<Box<dyn Storage + Send>, String> {
        let path = std::path::Path::new(std::ffi::OsStr::from_bytes(path));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(writable)
            .open(path)
            .map_err(|e| e.to_string())?;
        let bytes = file.metadata().map_err(|e| e.to_string())?.len();
        let disk = ImageDisk::new(StdImageFile(file), bytes, writable)?;
        Ok(Box::new(disk))
    }

    fn console_output(&mut self, bytes: &[u8]) {
        use std::io::Write;
        let mut stdout = std::io::stdout();
        let _ = stdout.write_all(bytes);
        let _ = stdout.flush();
    }

    fn poll_input(&mut self, buf: &mut Vec<u8>) -> Input {
        buf.append(&mut self.pending);
        loop {
            match self.input.try_recv() {
                Ok(bytes) => buf.extend_from_slice(&bytes),
                Err(std::sync::mpsc::TryRecvError::Empty) => return Input::Open,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    self.closed = true;
                    return Input::Closed;
                }
            }
        }
    }

    fn now_ns(&mut self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn wall_clock(&mut self) -> Option<u64> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        now.ok().map(|d| d.as_secs())
    }

    fn wait(&mut self, timeout_ns: Option<u64>, watch_input: bool) {
        let timeout = timeout_ns.map(std::time::Duration::from_nanos);
        if !watch_input || self.closed || !self.pending.is_empty() {
            if let Some(t) = timeout.filter(|_| self.pending.is_empty()) {
                std::thread::sleep(t);
            }
            return;
        }
        let got = match timeout {
            Some(t) => self
                .input
                .recv_timeout(t)
                .map_err(|e| matches!(e, std::sync::mpsc::RecvTimeoutError::Disconnected)),
            None => self.input.recv().map_err(|_| true),
        };
        match got {
            Ok(bytes) => self.pending.extend_from_slice(&bytes),
            Err(disconnected) => self.closed |= disconnected,
        }
    }

    fn error_line(&mut self, line: std::fmt::Arguments<'_>) {
        eprintln!("{line}");
    }
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

/// The disk image file for `ImageDisk`.
struct StdImageFile(std::fs::File);

impl ImageFile for StdImageFile {
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> bool {
        std::os::unix::fs::FileExt::read_exact_at(&self.0, buf, offset).is_ok()
    }

    fn write_at(&mut self, data: &[u8], offset: u64) -> bool {
        std::os::unix::fs::FileExt::write_all_at(&self.0, data, offset).is_ok()
    }
}
