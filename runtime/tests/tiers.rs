//! `Config::strategy`: a module the JIT compiles whole runs as machine code
//! with the interpreter's results and traps; any other runs on the
//! interpreter, and says why.

use wrun_runtime::{Config, Engine, Error, Linker, Module, Store, Strategy, TrapKind, Val};

fn jit_config() -> Config {
    let mut config = Config::new();
    config.strategy(Strategy::Jit);
    config
}

fn call(config: &Config, wat: &str, name: &str, args: &[Val]) -> (Module, Result<Vec<Val>, Error>) {
    let engine = Engine::new(config);
    let module = Module::new(&engine, wat).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let f = instance.get_func(&store, name).unwrap();
    let mut results = vec![Val::I32(0); f.ty(&store).results().len()];
    let outcome = f.call(&mut store, args, &mut results).map(|()| results);
    (module, outcome)
}

const GCD: &str = r#"(module $m
  (func $gcd (export "gcd") (param i64 i64) (result i64)
    (if (result i64) (i64.eqz (local.get 1))
      (then (local.get 0))
      (else (call $gcd (local.get 1) (i64.rem_u (local.get 0) (local.get 1))))))
  (func $div (export "div") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1))))"#;

#[test]
#[cfg(target_arch = "x86_64")]
fn a_whole_integer_module_runs_as_machine_code() {
    let (module, out) = call(&jit_config(), GCD, "gcd", &[Val::I64(1071), Val::I64(462)]);
    assert!(module.is_compiled(), "{:?}", module.jit_fallback());
    assert_eq!(module.jit_fallback(), None);
    assert_eq!(out.unwrap(), [Val::I64(21)]);
    let (_, out) = call(&jit_config(), GCD, "div", &[Val::I32(1), Val::I32(0)]);
    match out {
        Err(Error::Trap(t)) => {
            assert_eq!(t.kind(), TrapKind::IntegerDivideByZero);
            assert_eq!(t.backtrace()[0].func_name.as_deref(), Some("div"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn other_modules_fall_back_to_the_interpreter_and_say_why() {
    let wat = r#"(module (memory 1)
        (func (export "f") (result i32) (memory.grow (i32.const 1))))"#;
    let (module, out) = call(&jit_config(), wat, "f", &[]);
    assert!(!module.is_compiled());
    let why = module.jit_fallback().unwrap();
    assert!(why.contains("MemoryGrow"), "{why}");
    assert_eq!(out.unwrap(), [Val::I32(1)]);

    let mut fuel = jit_config();
    fuel.consume_fuel(true);
    let engine = Engine::new(&fuel);
    let module = Module::new(&engine, GCD).unwrap();
    assert!(module.jit_fallback().unwrap().contains("fuel"));

    // The default strategy never asks the JIT.
    let module = Module::new(&Engine::default(), GCD).unwrap();
    assert!(!module.is_compiled());
    assert_eq!(module.jit_fallback(), None);
}

const MEMORY: &str = r#"(module
  (memory 1)
  (memory $wide i64 1)
  (global $count (mut i64) (i64.const 0))
  (global $limit i32 (i32.const 100))
  (data (i32.const 16) "\01\02\03\04\05\06\07\08\ff")
  (func (export "sum") (param i32 i32) (result i64)
    (local i64)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get 0) (local.get 1)))
        (local.set 2 (i64.add (local.get 2) (i64.load8_s (local.get 0))))
        (global.set $count (i64.add (global.get $count) (i64.const 1)))
        (local.set 0 (i32.add (local.get 0) (i32.const 1)))
        (br $l)))
    (local.get 2))
  (func (export "count") (result i64) (global.get $count))
  (func (export "mix") (param i32) (result i64)
    (i32.store16 offset=2 (local.get 0) (i32.const 0xbeef))
    (i64.store $wide (i64.const 65528) (i64.load (local.get 0)))
    (i64.add (i64.load32_u $wide (i64.const 65528))
      (i64.extend_i32_u (i32.add (global.get $limit) (i32.load16_s offset=2 (local.get 0))))))
  (func (export "poke") (param i32 i64) (i64.store (local.get 0) (local.get 1)))
  (func (export "poke_wide") (param i64) (i32.store8 $wide (local.get 0) (i32.const 1))))"#;

/// Memories and globals through the VM context: the JIT and the
/// interpreter see and leave the same state, and trap the same way.
#[test]
#[cfg(target_arch = "x86_64")]
fn memories_and_globals_match_the_interpreter() {
    let run = |config: &Config| {
        let engine = Engine::new(config);
        let module = Module::new(&engine, MEMORY).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine)
            .instantiate(&mut store, &module)
            .unwrap();
        let mut outcomes = Vec::new();
        let calls: &[(&str, Vec<Val>)] = &[
            ("sum", vec![Val::I32(16), Val::I32(25)]),
            ("count", vec![]),
            ("mix", vec![Val::I32(16)]),
            ("mix", vec![Val::I32(65534)]),
            ("poke", vec![Val::I32(65528), Val::I64(-2)]),
            ("poke", vec![Val::I32(65529), Val::I64(7)]),
            ("poke", vec![Val::I32(-1), Val::I64(7)]),
            ("poke_wide", vec![Val::I64(65535)]),
            ("poke_wide", vec![Val::I64(65536)]),
            ("poke_wide", vec![Val::I64(-1)]),
            ("sum", vec![Val::I32(65530), Val::I32(65540)]),
            ("count", vec![]),
        ];
        for (name, args) in calls {
            let f = instance.get_func(&store, name).unwrap();
            let mut results = vec![Val::I32(0); f.ty(&store).results().len()];
            let outcome = match f.call(&mut store, args, &mut results) {
                Ok(()) => format!("{results:?}"),
                Err(Error::Trap(t)) => t.kind().to_string(),
                Err(e) => panic!("{e}"),
            };
            outcomes.push(outcome);
        }
        let memory = instance.get_memory(&store, "missing");
        assert!(memory.is_none());
        (module.is_compiled(), outcomes)
    };
    let (compiled, jit) = run(&jit_config());
    assert!(compiled);
    let (_, interp) = run(&Config::new());
    assert_eq!(jit, interp);
    assert!(
        jit.iter().any(|o| o == "out of bounds memory access"),
        "{jit:?}"
    );
}

/// Engines, modules (with their machine code) and stores can move to
/// other threads, as before the VM layer and the JIT existed.
#[test]
fn handles_stay_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Engine>();
    send_sync::<Module>();
    send::<Store<()>>();
    send_sync::<wrun_runtime::InterruptHandle>();
}
