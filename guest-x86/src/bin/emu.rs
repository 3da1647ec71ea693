//! `emu.wasm`: the emulator as a wasm64 WASI command (build it with
//! `bash scripts/build-emu.sh`). Same command line as `x86emu`:
//!
//! ```text
//! wrun emu.wasm --user PROG [ARGS..]
//! ```
//! Everything lives in `guest_x86::wasi_host`; this file only supplies
//! what a `no_std` wasm program needs: the allocator, the panic handler
//! and the exported `_start`. Built for any other target it only says so.

#![cfg_attr(target_arch = "wasm64", no_std, no_main)]

#[cfg(target_arch = "wasm64")]
mod wasm64 {
    use guest_x86::wasi_host::{self, sys};

    // dlmalloc grows linear memory with `memory.grow` (wasm64 intrinsics).
    #[global_allocator]
    static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        wasi_host::eprint(format_args!("emu: internal error: {info}"));
        // The status a Rust program killed by abort() reports (128 + SIGABRT).
        sys::exit(134)
    }

    /// The WASI command entry point.
    #[unsafe(no_mangle)]
    pub extern "C" fn _start() {
        let status = wasi_host::run();
        sys::exit(status as u32)
    }
}

#[cfg(not(target_arch = "wasm64"))]
fn main() -> std::process::ExitCode {
    eprintln!("emu is the wasm64 build: bash scripts/build-emu.sh makes target/emu/emu.wasm");
    std::process::ExitCode::from(2)
}
