//! `wrun run`: compile, link, instantiate, then run `_start` or the
//! `--invoke`d export.

use std::path::Path;
use std::time::Duration;

use wrun_runtime::{
    Config, Engine, Error, Extern, Func, Instance, Linker, Module, Store, Tag, Trap, TrapKind, Val,
};
use wrun_wasi::{DirPerms, WasiCtx, WasiCtxBuilder};

use crate::load::{compile, file_error};
use crate::{EngineChoice, Failure, RunArgs, exit, vals};

/// The engine configuration the run options ask for.
fn config(args: &RunArgs) -> Config {
    let mut config = Config::new();
    for setting in args.engine.settings() {
        config.apply(setting);
    }
    if args.fuel.is_some() {
        config.consume_fuel(true);
    }
    if args.timeout.is_some() {
        config.epoch_interruption(true);
    }
    config
}

/// What host functions see: the program's WASI context.
pub struct Host {
    wasi: WasiCtx,
}

/// The WASI context the options grant: argv, `--env` variables, the
/// standard streams, `--dir` grants (read-write) and, unless
/// `--no-default-dir` or a `--dir` already maps `.`, the current directory
/// read-only.
fn wasi_ctx(args: &RunArgs) -> Result<WasiCtx, Failure> {
    let argv0 = args.file.display().to_string();
    let mut builder = WasiCtxBuilder::new()
        .args(std::iter::once(argv0).chain(args.args.iter().cloned()))
        .envs(args.envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .inherit_stdio();
    let mut guests = Vec::new();
    for spec in &args.dirs {
        let (host, guest) = spec.split_once("::").unwrap_or((spec, spec));
        if host.is_empty() || guest.is_empty() {
            return Err(Failure::usage(format!(
                "--dir `{spec}`: expected HOST[::GUEST]"
            )));
        }
        builder = builder
            .preopen_dir(host, guest, DirPerms::ReadWrite)
            .map_err(|e| Failure::error(format!("--dir `{spec}`: {e}")))?;
        guests.push(guest.to_string());
    }
    if !args.no_default_dir && !guests.iter().any(|g| g == ".") {
        builder = builder
            .preopen_dir(".", ".", DirPerms::ReadOnly)
            .map_err(|e| Failure::error(format!("current directory: {e}")))?;
    }
    Ok(builder.build())
}

fn imports_wasi(module: &Module) -> bool {
    module.imports().any(|i| i.module == wrun_wasi::MODULE_NAME)
}

/// Runs the module; returns the exit code.
pub fn run(args: &RunArgs) -> Result<i32, Failure> {
    let path = &args.file;
    let engine = Engine::new(&config(args));
    let started = std::time::Instant::now();
    let module = compile(&engine, path)?;
    let compiled = std::time::Instant::now();
    if log_enabled("jit") && args.engine.engine == EngineChoice::Jit {
        match module.jit_fallback() {
            None => eprintln!("wrun: jit: {} runs as machine code", path.display()),
            Some(why) => eprintln!(
                "wrun: jit: {} runs on the interpreter: {why}",
                path.display()
            ),
        }
    }
    // Before the WASI context takes fd 0: raw mode swaps in a pipe there.
    // The guard restores the terminal when the run ends.
    let _raw_console = match args.raw_console {
        true => crate::console::enter().map_err(Failure::error)?,
        false => None,
    };
    let mut store = Store::new(
        &engine,
        Host {
            wasi: wasi_ctx(args)?,
        },
    );
    if let Some(fuel) = args.fuel {
        store
            .set_fuel(fuel)
            .map_err(|e| Failure::error(format!("--fuel: {e}")))?;
    }
    if let Some(timeout) = args.timeout {
        start_watchdog(&engine, &mut store, timeout)?;
    }
    // WASI is the one host module; any other import is reported by the
    // linker as unknown, naming it.
    let mut linker = Linker::<Host>::new(&engine);
    if imports_wasi(&module) {
        wrun_wasi::add_to_linker(&mut linker, &module, |h: &mut Host| &mut h.wasi)
            .map_err(|e| file_error(path, &e))?;
    }
    let instance = linker
        .instantiate(&mut store, &module)
        .map_err(|e| run_failure(path, "instantiating", &e, None))?;

    let Some(name) = &args.invoke else {
        // A module without `_start` has done its work by instantiating (its
        // start function ran), as with wasmtime.
        if let Some(start) = instance.get_func(&store, "_start") {
            let outcome = call(&mut store, instance, path, "_start", start, &[]);
            if log_enabled("time") {
                // The corpus timings (scripts/corpus.sh) read this line.
                eprintln!(
                    "wrun: time: compile {:.6} s, run {:.6} s",
                    (compiled - started).as_secs_f64(),
                    compiled.elapsed().as_secs_f64()
                );
            }
            outcome?;
        }
        return Ok(exit::OK);
    };

    let func = instance.get_func(&store, name).ok_or_else(|| {
        let funcs: Vec<String> = module
            .exports()
            .filter(|e| e.ty.kind_name() == "func")
            .map(|e| format!("`{}`", e.name))
            .collect();
        let available = if funcs.is_empty() {
            "it exports no functions".to_string()
        } else {
            format!("exported functions: {}", funcs.join(", "))
        };
        Failure::error(format!(
            "{}: no exported function `{name}` ({available})",
            path.display()
        ))
    })?;
    let ty = func.ty(&store);
    if args.args.len() != ty.params().len() {
        return Err(Failure::error(format!(
            "`{name}` {ty} takes {} argument(s), {} given",
            ty.params().len(),
            args.args.len()
        )));
    }
    let params = args
        .args
        .iter()
        .zip(ty.params())
        .enumerate()
        .map(|(i, (text, t))| {
            vals::parse(text, *t)
                .map_err(|e| Failure::error(format!("`{name}` argument {}: {e}", i + 1)))
        })
        .collect::<Result<Vec<Val>, Failure>>()?;
    let results = call(&mut store, instance, path, name, func, &params)?;
    for v in &results {
        println!("{}", vals::format(v));
    }
    Ok(exit::OK)
}

/// Whether `WRUN_LOG` (comma-separated) names `topic`.
fn log_enabled(topic: &str) -> bool {
    std::env::var("WRUN_LOG").is_ok_and(|v| v.split(',').any(|t| t.trim() == topic))
}

/// `--timeout`: the store is interrupted at the next epoch, which a
/// detached thread advances once `timeout` has passed (the process ends
/// with the program, so the thread never outlives it in a way that matters).
fn start_watchdog(
    engine: &Engine,
    store: &mut Store<Host>,
    timeout: Duration,
) -> Result<(), Failure> {
    store.set_epoch_deadline(1);
    let handle = engine.interrupt_handle();
    std::thread::Builder::new()
        .name("wrun-timeout".into())
        .spawn(move || {
            std::thread::sleep(timeout);
            handle.increment_epoch();
        })
        .map(drop)
        .map_err(|e| Failure::error(format!("--timeout: cannot start the timer thread: {e}")))
}

/// Calls `func`, reporting a trap with its wasm backtrace.
fn call(
    store: &mut Store<Host>,
    instance: Instance,
    path: &Path,
    name: &str,
    func: Func,
    params: &[Val],
) -> Result<Vec<Val>, Failure> {
    let ty = func.ty(&*store);
    let mut results: Vec<Val> = ty
        .results()
        .iter()
        .map(|t| Val::default_for(*t).unwrap_or(Val::FuncRef(None)))
        .collect();
    func.call(&mut *store, params, &mut results).map_err(|e| {
        let tag = match &e {
            Error::Exception(exn) => exported_tag_name(store, instance, exn.tag()),
            _ => None,
        };
        run_failure(path, &format!("calling `{name}`"), &e, tag)
    })?;
    Ok(results)
}

/// The failure for an error raised while wasm code ran (`during` says
/// what was running): traps with their backtrace, exceptions with the
/// name their tag is exported under, if any.
fn run_failure(path: &Path, during: &str, e: &Error, tag_name: Option<String>) -> Failure {
    let mut failure = file_error(path, e);
    let what = match e {
        Error::Exit(_) => return failure,
        Error::Trap(trap) if trap.kind() == TrapKind::Interrupted => {
            format!("trap: {} (the --timeout elapsed)", describe_trap(trap))
        }
        Error::Trap(trap) => format!("trap: {}", describe_trap(trap)),
        Error::Exception(_) => match tag_name {
            Some(name) => format!("uncaught wasm exception with tag `{name}`"),
            None => "uncaught wasm exception".to_string(),
        },
        other => other.to_string(),
    };
    failure.message = format!("{}: {during}: {what}", path.display());
    failure
}

/// Frames printed from each end of a long backtrace (deep recursion makes
/// tens of thousands).
const BACKTRACE_ENDS: usize = 16;

/// The trap's message and its wasm backtrace, innermost frame first, with
/// the middle of very long backtraces elided.
fn describe_trap(trap: &Trap) -> String {
    let rendered = trap.to_string();
    let message = rendered
        .split("\nwasm backtrace:")
        .next()
        .unwrap_or_default();
    let frames = trap.backtrace();
    let mut out = message.to_string();
    if frames.is_empty() {
        return out;
    }
    out.push_str("\nwasm backtrace:");
    for (i, frame) in frames.iter().enumerate() {
        if frames.len() > 2 * BACKTRACE_ENDS && i == BACKTRACE_ENDS {
            let hidden = frames.len() - 2 * BACKTRACE_ENDS;
            out.push_str(&format!("\n  ... {hidden} frames omitted ..."));
        }
        if frames.len() > 2 * BACKTRACE_ENDS
            && (BACKTRACE_ENDS..frames.len() - BACKTRACE_ENDS).contains(&i)
        {
            continue;
        }
        out.push_str(&format!("\n  {i}: {frame}"));
    }
    out
}

/// The name under which the instance exports `tag`, if it does.
fn exported_tag_name(store: &Store<Host>, instance: Instance, tag: Tag) -> Option<String> {
    instance
        .exports(store)
        .into_iter()
        .find(|(_, ext)| matches!(ext, Extern::Tag(t) if *t == tag))
        .map(|(name, _)| name)
}
