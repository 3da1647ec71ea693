//! WASI preview 1 (`wasi_snapshot_preview1`) for wrun, for 32-bit and
//! 64-bit memories alike.
//!
//! A module whose memory 0 is 64-bit gets the wasm64 ABI of wasi-libc's
//! wasm64 build: every pointer and `size` is an `i64`, and structures that
//! hold them (`iovec`, `ciovec`, `prestat`) use 8-byte fields. Import names
//! are the same for both. Each function is written once over
//! [`abi::GuestMemory`], which knows the width.
//!
//! Files are reachable only through preopened directories, and nothing
//! leaves them: paths are resolved by the kernel beneath the directory's fd
//! (`openat2` with `RESOLVE_BENEATH`, in `src/sandbox.rs`). Every fd carries
//! WASI rights, checked on each call; a read-only grant has no rights that
//! change anything. See `README.md` for what the `wrun` CLI passes.
//!
//! ```no_run
//! use wrun_runtime::{Engine, Module};
//! use wrun_wasi::{DirPerms, WasiCtxBuilder};
//!
//! let engine = Engine::default();
//! let module = Module::from_file(&engine, "hello.wasm")?;
//! let ctx = WasiCtxBuilder::new()
//!     .args(["hello.wasm", "world"])
//!     .envs([("HOME", "/")])
//!     .inherit_stdio()
//!     .preopen_dir(".", ".", DirPerms::ReadOnly)?
//!     .build();
//! let status = wrun_wasi::run_command(&module, ctx)?;
//! std::process::exit(status);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod abi;
mod calls;
mod ctx;
mod sandbox;
pub mod types;

use wrun_runtime::{
    Caller, Error, Extern, FuncType, Linker, Module, Result, Store, TrapKind, Val, ValType,
};

pub use abi::MemoryWidth;
pub use ctx::{DirPerms, SharedBuffer, WasiCtx, WasiCtxBuilder};

use calls::{Call, Param, SYSCALLS, Stop};

/// The import module name, for both widths.
pub const MODULE_NAME: &str = "wasi_snapshot_preview1";

/// The ABI a module needs: wasm64 when its memory 0 (imported or defined)
/// is 64-bit, wasm32 otherwise.
pub fn memory_width(module: &Module) -> MemoryWidth {
    match module.memory_types().first() {
        Some(ty) if ty.memory64 => MemoryWidth::W64,
        _ => MemoryWidth::W32,
    }
}

/// Defines every `wasi_snapshot_preview1` function in `linker`, with the
/// signatures of `module`'s memory width. `get_ctx` finds the [`WasiCtx`]
/// in the store's data.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    module: &Module,
    get_ctx: fn(&mut T) -> &mut WasiCtx,
) -> Result<()> {
    add_to_linker_with_width(linker, memory_width(module), get_ctx)
}

/// [`add_to_linker`] for an explicit width.
pub fn add_to_linker_with_width<T: 'static>(
    linker: &mut Linker<T>,
    width: MemoryWidth,
    get_ctx: fn(&mut T) -> &mut WasiCtx,
) -> Result<()> {
    for syscall in SYSCALLS {
        let params = syscall.params.iter().map(|p| match p {
            Param::I32 => ValType::I32,
            Param::I64 => ValType::I64,
            Param::Size => width.valtype(),
        });
        let results = if syscall.returns_errno {
            vec![ValType::I32]
        } else {
            Vec::new()
        };
        let ty = FuncType::new(params, results);
        linker.func_new(
            MODULE_NAME,
            syscall.name,
            ty,
            move |caller: Caller<'_, T>, args: &[Val], results: &mut [Val]| {
                // No allocation per call: path_open, the widest, has 9.
                let mut raw = [0u64; calls::MAX_PARAMS];
                for (slot, v) in raw.iter_mut().zip(args) {
                    *slot = match v {
                        // Pointers, sizes and flags are unsigned.
                        Val::I32(x) => u64::from(*x as u32),
                        Val::I64(x) => *x as u64,
                        _ => 0,
                    };
                }
                let args = &raw[..args.len().min(calls::MAX_PARAMS)];
                let outcome = dispatch(caller, width, get_ctx, syscall.run, args);
                if tracing() {
                    trace(syscall.name, args, &outcome);
                }
                match outcome {
                    Ok(()) => set_errno(results, 0),
                    Err(Stop::Errno(e)) => set_errno(results, e.0),
                    Err(Stop::Exit(code)) => return Err(Error::Exit(code)),
                    Err(Stop::Interrupted) => return Err(TrapKind::Interrupted.into()),
                }
                Ok(())
            },
        )?;
    }
    Ok(())
}

/// Whether `WRUN_WASI_TRACE` is set: then every call is logged to stderr.
fn tracing() -> bool {
    static TRACING: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACING.get_or_init(|| std::env::var_os("WRUN_WASI_TRACE").is_some())
}

fn trace(name: &str, args: &[u64], outcome: &std::result::Result<(), Stop>) {
    let args: Vec<String> = args.iter().map(|a| format!("{a:#x}")).collect();
    let result = match outcome {
        Ok(()) => "ok".to_string(),
        Err(Stop::Errno(e)) => format!("errno {}", e.0),
        Err(Stop::Exit(code)) => format!("exit {code}"),
        Err(Stop::Interrupted) => "interrupted".to_string(),
    };
    eprintln!("wasi: {name}({}) -> {result}", args.join(", "));
}

fn set_errno(results: &mut [Val], errno: u16) {
    if let Some(slot) = results.first_mut() {
        *slot = Val::I32(i32::from(errno));
    }
}

/// Runs one call with the guest's memory and the context side by side. The
/// context is moved out of the store's data for the call (both live in the
/// store, and the memory borrows it whole), then put back.
fn dispatch<T>(
    mut caller: Caller<'_, T>,
    width: MemoryWidth,
    get_ctx: fn(&mut T) -> &mut WasiCtx,
    run: fn(&mut Call<'_>, &[u64]) -> calls::CallResult,
    args: &[u64],
) -> std::result::Result<(), Stop> {
    let memory = caller.get_export("memory").and_then(Extern::into_memory);
    let interrupt = caller.interrupt_probe();
    let mut ctx = std::mem::take(get_ctx(caller.data_mut()));
    let outcome = {
        let mut no_memory: [u8; 0] = [];
        let bytes: &mut [u8] = match memory {
            Some(m) => m.data_mut(&mut caller),
            // No exported memory: every pointer is out of bounds (EFAULT).
            None => &mut no_memory,
        };
        let mut call = Call {
            mem: abi::GuestMemory::new(bytes, width),
            ctx: &mut ctx,
            interrupt,
        };
        run(&mut call, args)
    };
    *get_ctx(caller.data_mut()) = ctx;
    outcome
}

/// Runs a WASI command: instantiates `module` with WASI (and nothing else),
/// calls `_start`, and returns the exit status — 0 when `_start` returns,
/// the `proc_exit` status otherwise. Traps and other failures are errors.
pub fn run_command(module: &Module, ctx: WasiCtx) -> Result<i32> {
    let mut store = Store::new(module.engine(), ctx);
    let mut linker = Linker::new(module.engine());
    add_to_linker(&mut linker, module, |ctx| ctx)?;
    let outcome = linker.instantiate(&mut store, module).and_then(|instance| {
        let start = instance
            .get_func(&store, "_start")
            .ok_or_else(|| Error::Link("the module exports no `_start` function".into()))?;
        start.call(&mut store, &[], &mut [])
    });
    match outcome {
        Ok(()) => Ok(0),
        Err(Error::Exit(code)) => Ok(code),
        Err(e) => Err(e),
    }
}
