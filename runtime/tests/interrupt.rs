//! Interrupting a running guest from another thread through the engine's
//! epoch (wasmtime's model), and fuel totals that do not depend on it.

use std::time::{Duration, Instant};

use wrun_runtime::{Config, Engine, Error, Instance, Linker, Module, Store, TrapKind, Val};

const SPIN: &str = r#"(module
    (func $tick)
    (func (export "spin") (loop $l (br $l)))
    (func (export "spin_calls") (loop $l (call $tick) (br $l)))
    (func (export "work") (result i32)
        (local i32)
        (loop $l
            (local.set 0 (i32.add (local.get 0) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get 0) (i32.const 10))))
        local.get 0))"#;

fn setup(config: &Config) -> (Engine, Store<()>, Instance) {
    let engine = Engine::new(config);
    let module = Module::new(&engine, SPIN).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    (engine, store, instance)
}

fn call(store: &mut Store<()>, instance: Instance, name: &str) -> Result<Vec<Val>, Error> {
    let f = instance.get_func(&*store, name).unwrap();
    let mut results = vec![Val::I32(0); f.ty(&*store).results().len()];
    f.call(&mut *store, &[], &mut results)?;
    Ok(results)
}

fn interrupted(outcome: Result<Vec<Val>, Error>) {
    match outcome {
        Err(Error::Trap(t)) => assert_eq!(t.kind(), TrapKind::Interrupted, "{t}"),
        other => panic!("expected an interrupt, got {other:?}"),
    }
}

#[test]
fn another_thread_stops_an_endless_loop() {
    let mut config = Config::new();
    config.epoch_interruption(true);
    let (engine, mut store, instance) = setup(&config);
    store.set_epoch_deadline(1);
    for name in ["spin", "spin_calls"] {
        let handle = engine.interrupt_handle();
        let started = Instant::now();
        let watchdog = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            handle.increment_epoch();
        });
        interrupted(call(&mut store, instance, name));
        assert!(started.elapsed() < Duration::from_secs(10));
        watchdog.join().unwrap();
        // The deadline has passed: the next call stops at its first check,
        // until the deadline is moved on.
        interrupted(call(&mut store, instance, "work"));
        store.set_epoch_deadline(1);
        assert_eq!(call(&mut store, instance, "work").unwrap(), [Val::I32(10)]);
    }
}

#[test]
fn without_a_deadline_or_the_option_nothing_is_interrupted() {
    let mut config = Config::new();
    config.epoch_interruption(true);
    let (engine, mut store, instance) = setup(&config);
    engine.increment_epoch();
    assert_eq!(call(&mut store, instance, "work").unwrap(), [Val::I32(10)]);
    let (engine, mut store, instance) = setup(&Config::new());
    store.set_epoch_deadline(0);
    engine.increment_epoch();
    assert_eq!(call(&mut store, instance, "work").unwrap(), [Val::I32(10)]);
    assert!(!store.interrupt_probe().is_interrupted());
}

#[test]
fn fuel_is_counted_per_operator_with_or_without_epoch_checks() {
    // One unit per wasm operator executed; epoch checks are not operators.
    let mut totals = Vec::new();
    for epochs in [false, true] {
        let mut config = Config::new();
        config.consume_fuel(true).epoch_interruption(epochs);
        let (_engine, mut store, instance) = setup(&config);
        store.set_fuel(1_000_000).unwrap();
        call(&mut store, instance, "work").unwrap();
        totals.push(1_000_000 - store.get_fuel().unwrap());
    }
    assert_eq!(totals[0], totals[1]);
    assert_eq!(totals[0], FUEL_FOR_WORK, "fuel per operator changed");
}

/// Operators `work` executes: `loop` once, then ten iterations of the
/// loop body's 8 operators (local.get, i32.const, i32.add, local.set,
/// local.get, i32.const, i32.lt_u, br_if),
/// then the loop's `end`, `local.get` and the function's `end`: 84.
const FUEL_FOR_WORK: u64 = 84;
