//! The JIT against the interpreter on generated modules (wasm-smith):
//! integer operators, locals, globals, integer memory accesses and control
//! flow, made to terminate by wasm-smith's fuel global; then the same with
//! every float operator and float memory accesses. Every module the JIT
//! compiles whole must give the same results, traps, globals and memory
//! contents as the interpreter.
#![cfg(target_arch = "x86_64")]

mod common;

use arbitrary::Unstructured;
use common::Rng;
use wasm_smith::{InstructionKind, InstructionKinds};
use wrun_runtime::{Config, Engine, Error, Extern, Instance, Module, Store, Strategy, Val};

fn smith_config() -> wasm_smith::Config {
    wasm_smith::Config {
        allow_floats: false,
        allowed_instructions: InstructionKinds::new(&[
            InstructionKind::NumericInt,
            InstructionKind::Parametric,
            InstructionKind::Variable,
            InstructionKind::MemoryInt,
            InstructionKind::Control,
        ]),
        exceptions_enabled: false,
        tail_call_enabled: false,
        reference_types_enabled: false,
        bulk_memory_enabled: false,
        memory64_enabled: true,
        multi_value_enabled: true,
        max_tables: 0,
        ..common::smith_base()
    }
}

/// Float-heavy modules: all numeric operators (float ones included),
/// float locals, globals, parameters, results and memory accesses. NaNs
/// are canonicalized where they become visible: which of two NaN operands
/// an operator returns is not deterministic (Wasm 3.0 §4.3.3).
fn float_config() -> wasm_smith::Config {
    wasm_smith::Config {
        allow_floats: true,
        canonicalize_nans: true,
        allowed_instructions: InstructionKinds::new(&[
            InstructionKind::Numeric,
            InstructionKind::Parametric,
            InstructionKind::Variable,
            InstructionKind::Memory,
            InstructionKind::Control,
        ]),
        saturating_float_to_int_enabled: true,
        bulk_memory_enabled: false,
        ..smith_config()
    }
}

fn engine(strategy: Strategy) -> Engine {
    let mut config = Config::new();
    config
        .strategy(strategy)
        .max_memory_bytes(4 << 20)
        .max_host_stack_bytes(16 << 20);
    Engine::new(&config)
}

/// Everything observable after calling every export with zero arguments.
fn observe(engine: &Engine, binary: &[u8]) -> Result<(bool, Vec<String>), Error> {
    let module = Module::new(engine, binary)?;
    let mut store = Store::new(engine, ());
    let instance = match Instance::new(&mut store, &module, &[]) {
        Ok(i) => i,
        // Compiled frames carry no backtrace yet: compare the trap kinds.
        Err(Error::Trap(t)) => {
            return Ok((
                module.is_compiled(),
                vec![format!("start: trap {}", t.kind())],
            ));
        }
        Err(e) => return Ok((module.is_compiled(), vec![format!("instantiate: {e}")])),
    };
    let mut seen = Vec::new();
    for (name, export) in instance.exports(&store) {
        let Extern::Func(f) = export else { continue };
        let ty = f.ty(&store);
        let args: Vec<Val> = ty
            .params()
            .iter()
            .map(|t| Val::default_for(*t).unwrap_or(Val::I32(0)))
            .collect();
        let mut results = vec![Val::I32(0); ty.results().len()];
        seen.push(match f.call(&mut store, &args, &mut results) {
            Ok(()) => format!("{name}: {results:?}"),
            Err(Error::Trap(t)) => format!("{name}: trap {}", t.kind()),
            Err(e) => format!("{name}: error {e}"),
        });
    }
    for (name, export) in instance.exports(&store) {
        match export {
            Extern::Global(g) => seen.push(format!("{name} = {:?}", g.get(&store))),
            Extern::Memory(m) => seen.push(format!("{name}: {:?}", m.data(&store))),
            _ => {}
        }
    }
    Ok((module.is_compiled(), seen))
}

#[test]
fn generated_modules_match_the_interpreter() {
    // Compiled code may recurse as deep as wasm-smith's fuel lets it: give
    // it a thread stack larger than the 16 MiB budget.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| compare_generated(smith_config, 0x5eed_0003, 300))
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn generated_float_modules_match_the_interpreter() {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(|| compare_generated(float_config, 0x5eed_f10a, 300))
        .unwrap()
        .join()
        .unwrap();
}

fn compare_generated(config: fn() -> wasm_smith::Config, seed: u64, at_least: u32) {
    let (jit, interp) = (engine(Strategy::Jit), engine(Strategy::Interp));
    let mut rng = Rng(seed);
    let (mut compiled, mut generated) = (0, 0);
    for case in 0..1000 {
        let seed = rng.bytes(4096);
        let mut u = Unstructured::new(&seed);
        let Ok(mut m) = wasm_smith::Module::new(config(), &mut u) else {
            continue;
        };
        if m.ensure_termination(1_000).is_err() {
            continue;
        }
        generated += 1;
        let binary = m.to_bytes();
        let (is_compiled, got) = observe(&jit, &binary).unwrap();
        if !is_compiled {
            continue;
        }
        compiled += 1;
        let (_, want) = observe(&interp, &binary).unwrap();
        assert_eq!(got, want, "case {case}");
    }
    eprintln!("{compiled} of {generated} generated modules compiled and matched");
    assert!(
        compiled >= at_least,
        "only {compiled} generated modules were compiled"
    );
}
