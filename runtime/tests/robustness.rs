//! Robustness: generated valid modules (wasm-smith) and corrupted binaries
//! must never panic the runtime. Every module is compiled, instantiated and
//! every exported function called under fuel and a call-depth limit; any
//! outcome (results, trap, exception, limit) is fine, a panic is a failure.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

mod common;

use arbitrary::Unstructured;
use common::Rng;
use wrun_runtime::{CompileErrorKind, Config, Engine, Error, Extern, Instance, Module, Store, Val};

fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        exceptions_enabled: true,
        tail_call_enabled: true,
        memory64_enabled: true,
        reference_types_enabled: true,
        bulk_memory_enabled: true,
        multi_value_enabled: true,
        extended_const_enabled: true,
        max_tables: 3,
        canonicalize_nans: false,
        ..common::smith_base()
    }
}

fn engine() -> Engine {
    let mut config = Config::new();
    config
        .consume_fuel(true)
        .max_call_depth(500)
        .max_memory_bytes(4 << 20);
    Engine::new(&config)
}

/// Instantiates and calls every exported function with default arguments.
fn exercise(engine: &Engine, binary: &[u8]) -> Result<(), Error> {
    let module = Module::new(engine, binary)?;
    let mut store = Store::new(engine, ());
    store.set_fuel(50_000)?;
    let instance = Instance::new(&mut store, &module, &[])?;
    for (_, export) in instance.exports(&store) {
        let Extern::Func(f) = export else { continue };
        let ty = f.ty(&store);
        let args: Vec<Val> = ty
            .params()
            .iter()
            .map(|t| Val::default_for(*t).unwrap_or(Val::FuncRef(None)))
            .collect();
        let mut results = vec![Val::I32(0); ty.results().len()];
        store.set_fuel(50_000)?;
        let _ = f.call(&mut store, &args, &mut results);
    }
    Ok(())
}

fn guarded(what: &str, case: usize, f: impl FnOnce()) {
    if let Err(panic) = catch_unwind(AssertUnwindSafe(f)) {
        eprintln!("{what}: case {case} panicked");
        resume_unwind(panic);
    }
}

#[test]
fn generated_modules_never_panic() {
    let engine = engine();
    let mut rng = Rng(0x5eed_0001);
    let mut ran = 0;
    let mut generated = 0;
    for case in 0..1500 {
        let seed = rng.bytes(8192);
        let mut u = Unstructured::new(&seed);
        let Ok(m) = wasm_smith::Module::new(smith_config(), &mut u) else {
            continue;
        };
        generated += 1;
        let binary = m.to_bytes();
        guarded("generated module", case, || {
            match exercise(&engine, &binary) {
                Err(Error::Compile(e)) => {
                    // wasm-smith emits valid modules: only "unsupported" may refuse one.
                    assert_eq!(e.kind, CompileErrorKind::Unsupported, "case {case}: {e}");
                }
                _ => ran += 1,
            }
        });
    }
    assert!(
        ran * 10 > generated * 9,
        "only {ran} of {generated} generated modules ran"
    );
}

#[test]
fn corrupted_binaries_get_clean_errors() {
    let engine = engine();
    let mut rng = Rng(0x5eed_0002);
    let mut rejected = 0;
    for case in 0..1500 {
        let seed = rng.bytes(4096);
        let mut u = Unstructured::new(&seed);
        let Ok(m) = wasm_smith::Module::new(smith_config(), &mut u) else {
            continue;
        };
        let mut binary = m.to_bytes();
        let flips = 1 + rng.next() as usize % 4;
        for _ in 0..flips {
            let i = rng.next() as usize % binary.len();
            binary[i] ^= 1 << (rng.next() % 8);
        }
        if rng.next().is_multiple_of(4) {
            let cut = rng.next() as usize % binary.len();
            binary.truncate(cut);
        }
        guarded("corrupted binary", case, || {
            if let Err(Error::Compile(e)) = exercise(&engine, &binary) {
                assert!(!e.message.is_empty());
                rejected += 1;
            }
        });
    }
    assert!(
        rejected > 400,
        "only {rejected} corrupted binaries were rejected"
    );
}
