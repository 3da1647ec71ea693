//! `x86emu`: runs x86_64 Linux programs on the guest-x86 emulator.
//!
//! ```text
//! x86emu --user PROG [ARGS..]
//! ```
//! PROG may be static or dynamically linked (its interpreter, glibc's
//! ld.so, and libraries come from the host's file system). The processes
//! and threads it starts all run inside this one emulator process. The
//! guest sees the host's stdin/stdout/stderr, file system and
//! environment; its exit status becomes ours (128 + N for signal N); the
//! run ends when PROG's process does, and a deadlock (every task waiting
//! for another) ends it with SIGKILL and a report on stderr.
//! `X86EMU_STRACE=1` prints every system call on stderr.

use std::os::unix::ffi::OsStrExt;
use std::process::ExitCode;

use guest_x86::user::std_host::StdHost;
use guest_x86::user::{Exit, Process};

fn usage() -> ExitCode {
    eprintln!("usage: x86emu --user PROG [ARGS..]");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
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
    let mut process = match Process::new(StdHost::default(), &image, &argv, &envp) {
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
