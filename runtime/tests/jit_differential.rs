//! The JIT against the interpreter on generated modules (wasm-smith):
//! integer operators, locals, globals, integer memory accesses and control
//! flow, made to terminate by wasm-smith's fuel global; then the same with
//! every float operator and float memory accesses; then bulk memory,
//! tables, references and `call_indirect`. Every module the JIT
//! compiles whole must give the same results, traps, globals and memory
//! contents as the interpreter.
#![cfg(jit)]

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

/// Memory and table operators that leave compiled code through call-outs:
/// `memory.size/grow/fill/copy/init`, `data.drop`, every `table.*`,
/// `elem.drop`, `ref.null/is_null/func` and `call_indirect` (its checks:
/// out-of-bounds index, null entry, signature mismatch).
fn bulk_table_config() -> wasm_smith::Config {
    wasm_smith::Config {
        allowed_instructions: InstructionKinds::new(&[
            InstructionKind::NumericInt,
            InstructionKind::Parametric,
            InstructionKind::Variable,
            InstructionKind::Memory,
            InstructionKind::Control,
            InstructionKind::Table,
            InstructionKind::Reference,
        ]),
        reference_types_enabled: true,
        bulk_memory_enabled: true,
        max_tables: 2,
        ..smith_config()
    }
}

/// Exceptions and tail calls: `throw`, `throw_ref`, `try_table` with every
/// kind of catch clause, exnref values, `return_call` and
/// `return_call_indirect`, over the bulk and table operators.
fn exceptions_tail_config() -> wasm_smith::Config {
    wasm_smith::Config {
        exceptions_enabled: true,
        tail_call_enabled: true,
        max_tags: 4,
        ..bulk_table_config()
    }
}

fn engine(strategy: Strategy) -> Engine {
    Engine::new(&engine_config(strategy))
}

fn engine_config(strategy: Strategy) -> Config {
    let mut config = Config::new();
    config
        .strategy(strategy)
        .max_memory_bytes(4 << 20)
        .max_host_stack_bytes(16 << 20);
    // Under qemu-user (how aarch64 is tested here) every reserved GiB
    // costs real memory and thousands of default 4 GiB reservations took
    // 24 GB: cap them at the modules' 4 MiB ceiling (both tiers alike).
    #[cfg(target_arch = "aarch64")]
    config.memory_reservation(4 << 20);
    config
}

/// With fuel on, the store starts with this much, and what is left after
/// each call is compared too: both tiers charge the same operators.
const START_FUEL: u64 = 3_000;

/// The census entry counting modules in which a call ran out of fuel.
const RAN_OUT_OF_FUEL: &str = "(ran out of fuel)";

/// Everything observable after calling every export with zero arguments.
fn observe(engine: &Engine, binary: &[u8]) -> Result<(bool, Vec<String>), Error> {
    let module = Module::new(engine, binary)?;
    let mut store = Store::new(engine, ());
    let fuel = store.set_fuel(START_FUEL).is_ok();
    let left = |store: &Store<()>| {
        if fuel {
            format!(" (fuel left {:?})", store.get_fuel().ok())
        } else {
            String::new()
        }
    };
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
        let outcome = match f.call(&mut store, &args, &mut results) {
            Ok(()) => format!("{name}: {results:?}"),
            Err(Error::Trap(t)) => format!("{name}: trap {}", t.kind()),
            Err(e) => format!("{name}: error {e}"),
        };
        seen.push(outcome + &left(&store));
    }
    for (name, export) in instance.exports(&store) {
        match export {
            Extern::Global(g) => seen.push(format!("{name} = {:?}", g.get(&store))),
            Extern::Memory(m) => seen.push(format!("{name}: {:?}", m.data(&store))),
            Extern::Table(t) => {
                let elems: Vec<_> = (0..t.size(&store)).map(|i| t.get(&store, i)).collect();
                seen.push(format!("{name}: {elems:?}"));
            }
            _ => {}
        }
    }
    Ok((
        module.is_compiled(),
        seen.into_iter().map(without_store_ids).collect(),
    ))
}

/// A function reference prints its store's id, which differs between the
/// two runs by construction: only the function index is compared.
fn without_store_ids(mut line: String) -> String {
    while let Some(start) = line.find("store: StoreId(") {
        let Some(len) = line[start..].find("), ") else {
            break;
        };
        line.replace_range(start..start + len + 3, "");
    }
    line
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

/// Compares the tiers on `config`'s modules (on a large stack: compiled
/// code may recurse as deep as wasm-smith's fuel lets it) and checks that
/// each of `operators` was in some compiled module: the comparison means
/// something only if the generator wrote the operators under test.
fn compare_with_census(config: fn() -> wasm_smith::Config, seed: u64, operators: &'static [&str]) {
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            let seen = compare_generated(config, seed, 300);
            for op in operators {
                let n = seen.get(*op).copied().unwrap_or(0);
                eprintln!("{op}: in {n} compiled modules");
                assert!(n > 0, "no compiled module has {op}");
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn generated_bulk_memory_and_table_modules_match_the_interpreter() {
    compare_with_census(bulk_table_config, 0x5eed_7ab1, &CALL_OUT_OPERATORS);
}

#[test]
fn generated_exception_and_tail_call_modules_match_the_interpreter() {
    compare_with_census(
        exceptions_tail_config,
        0x5eed_e8c4,
        &[
            "TryTable",
            "Throw",
            "ThrowRef",
            "ReturnCall",
            "ReturnCallIndirect",
        ],
    );
}

/// The operators compiled code runs through call-outs, by wasmparser's
/// operator names.
const CALL_OUT_OPERATORS: [&str; 14] = [
    "MemorySize",
    "MemoryGrow",
    "MemoryFill",
    "MemoryCopy",
    "MemoryInit",
    "DataDrop",
    "TableGet",
    "TableSet",
    "TableSize",
    "TableGrow",
    "TableFill",
    "TableCopy",
    "CallIndirect",
    "RefFunc",
];

/// The names of the operators in a module's code.
fn operator_names(binary: &[u8]) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for payload in wasmparser::Parser::new(0).parse_all(binary) {
        let Ok(wasmparser::Payload::CodeSectionEntry(body)) = payload else {
            continue;
        };
        let Ok(mut ops) = body.get_operators_reader() else {
            continue;
        };
        while let Ok(op) = ops.read() {
            let name = format!("{op:?}");
            let end = name.find([' ', '{', '(']).unwrap_or(name.len());
            names.insert(name[..end].to_string());
        }
    }
    names
}

/// Compares the tiers on 1000 generated modules; returns in how many
/// compiled modules each operator appears.
fn compare_generated(
    config: fn() -> wasm_smith::Config,
    seed: u64,
    at_least: u32,
) -> std::collections::BTreeMap<String, u32> {
    compare_generated_on(config, seed, at_least, engine)
}

/// Fuel: the same generated modules on engines that count it; results,
/// traps (running out included) and the fuel left must all agree.
#[test]
fn generated_modules_spend_the_same_fuel() {
    let with_fuel = |strategy| {
        let mut config = engine_config(strategy);
        config.consume_fuel(true);
        Engine::new(&config)
    };
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || {
            for (config, seed) in [
                (smith_config as fn() -> wasm_smith::Config, 0x5eed_f0e1),
                (bulk_table_config, 0x5eed_f0e2),
                (exceptions_tail_config, 0x5eed_f0e3),
            ] {
                let seen = compare_generated_on(config, seed, 300, with_fuel);
                let ran_out = seen.get(RAN_OUT_OF_FUEL).copied().unwrap_or(0);
                eprintln!("{ran_out} compiled modules ran out of fuel");
                assert!(
                    ran_out > 0,
                    "no module ran out of fuel: the limit is untested"
                );
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

fn compare_generated_on(
    config: fn() -> wasm_smith::Config,
    seed: u64,
    at_least: u32,
    engine: impl Fn(Strategy) -> Engine,
) -> std::collections::BTreeMap<String, u32> {
    let mut census = std::collections::BTreeMap::new();
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
        for name in operator_names(&binary) {
            *census.entry(name).or_insert(0) += 1;
        }
        if got.iter().any(|line| line.contains("all fuel consumed")) {
            *census.entry(RAN_OUT_OF_FUEL.to_string()).or_insert(0) += 1;
        }
        let (_, want) = observe(&interp, &binary).unwrap();
        assert_eq!(got, want, "case {case}");
    }
    eprintln!("{compiled} of {generated} generated modules compiled and matched");
    assert!(
        compiled >= at_least,
        "only {compiled} generated modules were compiled"
    );
    census
}
