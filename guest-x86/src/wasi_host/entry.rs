//! The wasm64 program's main, the same command line as the native
//! `x86emu`: `emu.wasm [--mem MiB] --user PROG [ARGS..]` (the guest gets
//! WASI's environment; `X86EMU_STRACE=1` in it traces system calls on
//! stderr), or a PC (`--kernel`, `--boot-sector`, `--flat`, `--demo`, see
//! `launch`). Without arguments it runs `--demo`.

use core::fmt::{self, Write};

use super::host::WasiHost;
use super::pc::WasiPcHost;
use super::strerror;
use super::sys;
use crate::user::loader::read_host_file;
use crate::user::{Exit, Process};

/// Unbuffered writes to WASI's fd 2.
struct Stderr;

impl Write for Stderr {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut rest = s.as_bytes();
        while !rest.is_empty() {
            match sys::write(2, rest) {
                Ok(n) if n > 0 => rest = &rest[n..],
                _ => return Err(fmt::Error),
            }
        }
        Ok(())
    }
}

/// Prints one line on stderr.
pub fn eprint(args: fmt::Arguments<'_>) {
    let _ = Stderr.write_fmt(args);
    let _ = Stderr.write_str("\n");
}

/// Runs the command line WASI hands over and returns the exit status.
pub fn run() -> i32 {
    let mut args = sys::args().unwrap_or_default();
    if args.len() <= 1 {
        let demo = [b"--demo".to_vec()];
        return crate::launch::main(&mut WasiPcHost::new(), "emu", &demo).into();
    }
    if crate::launch::is_pc_command(&args[1..]) {
        return crate::launch::main(&mut WasiPcHost::new(), "emu", &args[1..]).into();
    }
    // `[--mem MiB] --user PROG [ARGS..]`, as x86emu.
    let mut memory_limit = crate::user::DEFAULT_MEMORY_LIMIT;
    if args.len() >= 3 && args[1] == b"--mem" {
        match crate::user::parse_memory_limit(&args[2]) {
            Ok(bytes) => memory_limit = bytes,
            Err(why) => {
                let value = alloc::string::String::from_utf8_lossy(&args[2]);
                eprint(format_args!("emu: --mem {value}: {why}"));
                return 2;
            }
        }
        args.drain(1..3);
    }
    if args.len() < 3 || args[1] != b"--user" {
        eprint(format_args!(
            "usage: emu.wasm [--mem MiB] --user PROG [ARGS..]\n       {}\n       (no arguments: --demo)",
            crate::launch::usage_lines("emu.wasm", "       ")
        ));
        return 2;
    }
    let program = &args[2];
    let name = alloc::string::String::from_utf8_lossy(program);
    let mut host = WasiHost::new();
    let image = match read_host_file(&mut host, program) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprint(format_args!("emu: cannot read {name}: {}", strerror(e)));
            return 127;
        }
    };
    let envp = sys::environ().unwrap_or_default();
    let trace = envp.iter().any(|e| e.starts_with(b"X86EMU_STRACE="));
    let mut process =
        match Process::with_memory_limit(host, &image, &args[2..], &envp, memory_limit) {
            Ok(p) => p,
            Err(e) => {
                eprint(format_args!("emu: {name}: {e}"));
                return 126;
            }
        };
    process.trace_syscalls = trace;
    process.set_exe_path(program);
    let exit = process.run();
    // As x86emu: only an emulator-detected reason is worth a line (a guest
    // killed by an ordinary signal reports it through its status).
    if let Exit::Signal(sig, why) = &exit
        && !why.is_empty()
    {
        eprint(format_args!("emu: {name} killed by signal {sig}: {why}"));
    }
    exit.status()
}
