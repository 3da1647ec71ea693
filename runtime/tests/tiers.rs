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
        (func (export "f") (result i32) (i32.load (i32.const 0))))"#;
    let (module, out) = call(&jit_config(), wat, "f", &[]);
    assert!(!module.is_compiled());
    let why = module.jit_fallback().unwrap();
    assert!(why.contains("I32Load"), "{why}");
    assert_eq!(out.unwrap(), [Val::I32(0)]);

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
