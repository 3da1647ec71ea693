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
#[cfg(jit)]
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

/// A `return_call` with more than 32 arguments is not compiled: this
/// module runs on the interpreter.
const THROWS: &str = r#"(module
  (tag $e (param i32))
  (func $wide (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32
                     i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)
    (return_call $wide (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)
      (local.get 5) (local.get 6) (local.get 7) (local.get 8) (local.get 9) (local.get 10)
      (local.get 11) (local.get 12) (local.get 13) (local.get 14) (local.get 15) (local.get 16)
      (local.get 17) (local.get 18) (local.get 19) (local.get 20) (local.get 21) (local.get 22)
      (local.get 23) (local.get 24) (local.get 25) (local.get 26) (local.get 27) (local.get 28)
      (local.get 29) (local.get 30) (local.get 31) (local.get 32)))
  (func (export "f") (result i32)
    (block $caught (result i32)
      (try_table (result i32) (catch $e $caught) (throw $e (i32.const 7)))))
  (func (export "boom") (param i32) (result i32)
    (if (i32.eqz (local.get 0)) (then unreachable))
    (i32.mul (local.get 0) (i32.const 3))))"#;

#[test]
fn other_modules_fall_back_to_the_interpreter_and_say_why() {
    let (module, out) = call(&jit_config(), THROWS, "f", &[]);
    assert!(!module.is_compiled());
    let why = module.jit_fallback().unwrap();
    assert!(why.contains("tail call"), "{why}");
    assert_eq!(out.unwrap(), [Val::I32(7)]);

    // The interpreter strategy never asks the JIT; the default is the JIT
    // where wrun has one.
    let mut interp = Config::new();
    interp.strategy(Strategy::Interp);
    let module = Module::new(&Engine::new(&interp), GCD).unwrap();
    assert!(!module.is_compiled());
    assert_eq!(module.jit_fallback(), None);
    let module = Module::new(&Engine::default(), GCD).unwrap();
    assert_eq!(module.is_compiled(), cfg!(jit));
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
#[cfg(jit)]
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

/// A compiled module calls, through its imports and its table, a host
/// function (which calls back into compiled code), a function of an
/// interpreted module and one of another compiled module; results, traps,
/// host errors and exits come back through compiled frames unchanged.
#[test]
#[cfg(jit)]
fn compiled_code_calls_every_kind_of_function() {
    let engine = Engine::new(&jit_config());
    let mut store = Store::new(&engine, 0u32);
    let mut linker = Linker::new(&engine);
    let interpreted = Module::new(&engine, THROWS).unwrap();
    assert!(!interpreted.is_compiled());
    let other = Module::new(&engine, GCD).unwrap();
    assert!(other.is_compiled());
    let i = linker.instantiate(&mut store, &interpreted).unwrap();
    linker.instance(&mut store, "interp", i).unwrap();
    let g = linker.instantiate(&mut store, &other).unwrap();
    linker.instance(&mut store, "jit", g).unwrap();
    linker
        .func_wrap(
            "host",
            "twice",
            |mut caller: wrun_runtime::Caller<'_, u32>, x: i32| -> wrun_runtime::Result<i32> {
                *caller.data_mut() += 1;
                match x {
                    -1 => Err(Error::Exit(3)),
                    -2 => panic!("host function panicked"),
                    // Re-enter compiled code from the host.
                    -3 => {
                        let Some(wrun_runtime::Extern::Func(f)) = caller.get_export("square")
                        else {
                            panic!("no square export")
                        };
                        let mut out = [Val::I32(0)];
                        f.call(&mut caller, &[Val::I32(12)], &mut out)?;
                        match out[0] {
                            Val::I32(v) => Ok(v),
                            other => panic!("square returned {other:?}"),
                        }
                    }
                    x => Ok(2 * x),
                }
            },
        )
        .unwrap();
    let main = Module::new(
        &engine,
        r#"(module
          (import "host" "twice" (func $twice (param i32) (result i32)))
          (import "interp" "boom" (func $boom (param i32) (result i32)))
          (import "jit" "gcd" (func $gcd (param i64 i64) (result i64)))
          (type $unary (func (param i32) (result i32)))
          (table 5 funcref)
          (elem (i32.const 0) func $twice $boom $square $gcd)
          (func $square (export "square") (param i32) (result i32)
            (i32.mul (local.get 0) (local.get 0)))
          (func (export "host") (param i32) (result i32) (call $twice (local.get 0)))
          (func (export "interp") (param i32) (result i32) (call $boom (local.get 0)))
          (func (export "gcd") (param i64 i64) (result i64) (call $gcd (local.get 0) (local.get 1)))
          (func (export "indirect") (param i32 i32) (result i32)
            (call_indirect (type $unary) (local.get 1) (local.get 0))))"#,
    )
    .unwrap();
    assert!(main.is_compiled(), "{:?}", main.jit_fallback());
    let instance = linker.instantiate(&mut store, &main).unwrap();
    let mut call = |name: &str, args: &[Val]| {
        let f = instance.get_func(&store, name).unwrap();
        let mut out = vec![Val::I32(0); f.ty(&store).results().len()];
        f.call(&mut store, args, &mut out).map(|()| out)
    };
    let kind = |r: Result<Vec<Val>, Error>| match r {
        Err(Error::Trap(t)) => t.kind(),
        other => panic!("expected a trap, got {other:?}"),
    };
    assert_eq!(call("host", &[Val::I32(21)]).unwrap(), [Val::I32(42)]);
    assert_eq!(call("host", &[Val::I32(-3)]).unwrap(), [Val::I32(144)]);
    assert!(matches!(call("host", &[Val::I32(-1)]), Err(Error::Exit(3))));
    assert_eq!(call("interp", &[Val::I32(5)]).unwrap(), [Val::I32(15)]);
    assert_eq!(kind(call("interp", &[Val::I32(0)])), TrapKind::Unreachable);
    assert_eq!(
        call("gcd", &[Val::I64(1071), Val::I64(462)]).unwrap(),
        [Val::I64(21)]
    );
    // call_indirect: each callee kind, then the three checks.
    assert_eq!(
        call("indirect", &[Val::I32(0), Val::I32(4)]).unwrap(),
        [Val::I32(8)]
    );
    assert_eq!(
        call("indirect", &[Val::I32(1), Val::I32(4)]).unwrap(),
        [Val::I32(12)]
    );
    assert_eq!(
        call("indirect", &[Val::I32(2), Val::I32(4)]).unwrap(),
        [Val::I32(16)]
    );
    assert_eq!(
        kind(call("indirect", &[Val::I32(3), Val::I32(4)])),
        TrapKind::IndirectCallTypeMismatch
    );
    assert_eq!(
        kind(call("indirect", &[Val::I32(4), Val::I32(4)])),
        TrapKind::UninitializedElement
    );
    assert_eq!(
        kind(call("indirect", &[Val::I32(5), Val::I32(4)])),
        TrapKind::UndefinedElement
    );
    // A host panic crosses no compiled frame: it resumes at the entry.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        call("host", &[Val::I32(-2)])
    }));
    assert!(panicked.is_err());
    assert_eq!(call("host", &[Val::I32(1)]).unwrap(), [Val::I32(2)]);
    assert_eq!(*store.data(), 6);
}

/// `memory.grow` from compiled code: later accesses see the new length
/// (the base never moves), and growing past the maximum gives -1.
#[test]
#[cfg(jit)]
fn compiled_code_sees_memory_grow() {
    let wat = r#"(module (memory 1 3)
      (func (export "f") (result i32)
        (if (i32.ne (memory.grow (i32.const 1)) (i32.const 1)) (then unreachable))
        (i32.store (i32.const 70000) (i32.const 5))
        (memory.fill (i32.const 100) (i32.const 9) (i32.const 4))
        (memory.copy (i32.const 200) (i32.const 100) (i32.const 4))
        (i32.add (i32.add (i32.load (i32.const 70000)) (i32.load (i32.const 200)))
          (i32.add (memory.size) (memory.grow (i32.const 5))))))"#;
    let (module, out) = call(&jit_config(), wat, "f", &[]);
    assert!(module.is_compiled(), "{:?}", module.jit_fallback());
    assert_eq!(out.unwrap(), [Val::I32(5 + 0x0909_0909 + 2 - 1)]);
}

/// Loops, both arms of `if`, `br_if`, calls, and operators in a block
/// opened in dead code (charged to the live segment before it, as the
/// validator deems them reachable).
const FUEL: &str = r#"(module
  (func $f (param i32) (result i32) (local i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get 0)))
        (if (i32.and (local.get 0) (i32.const 1))
          (then (local.set 1 (i32.add (local.get 1) (i32.const 3))))
          (else (local.set 1 (i32.sub (local.get 1) (i32.const 1)))))
        (block (br 0) (block (i32.const 1) (drop)) (nop))
        (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
        (br $l)))
    (local.get 1))
  (func (export "run") (param i32) (result i32) (call $f (local.get 0))))"#;

/// The same fuel stops both tiers at the same point: for every budget
/// from 0 to past what the call needs, the outcome and the fuel left agree.
#[test]
#[cfg(jit)]
fn fuel_runs_out_at_the_same_operator_on_both_tiers() {
    let run = |strategy: Strategy, fuel: u64| {
        let mut config = Config::new();
        config.strategy(strategy).consume_fuel(true);
        let engine = Engine::new(&config);
        let module = Module::new(&engine, FUEL).unwrap();
        assert_eq!(module.is_compiled(), strategy == Strategy::Jit);
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine)
            .instantiate(&mut store, &module)
            .unwrap();
        store.set_fuel(fuel).unwrap();
        let f = instance.get_func(&store, "run").unwrap();
        let mut out = [Val::I32(0)];
        let outcome = match f.call(&mut store, &[Val::I32(10)], &mut out) {
            Ok(()) => format!("{out:?}"),
            Err(Error::Trap(t)) => t.kind().to_string(),
            Err(e) => panic!("{e}"),
        };
        (outcome, store.get_fuel().unwrap())
    };
    let mut completed = 0;
    for fuel in 0..400 {
        let interp = run(Strategy::Interp, fuel);
        assert_eq!(run(Strategy::Jit, fuel), interp, "with {fuel} fuel");
        completed += usize::from(interp.0 != "all fuel consumed");
    }
    assert!(completed > 0 && completed < 400, "{completed}");
}

/// An endless compiled loop is stopped by the engine's epoch from another
/// thread (checked at loop headers).
#[test]
#[cfg(jit)]
fn an_interrupt_stops_an_endless_compiled_loop() {
    let mut config = jit_config();
    config.epoch_interruption(true);
    let engine = Engine::new(&config);
    let module = Module::new(
        &engine,
        r#"(module (func (export "spin") (loop $l (br $l))))"#,
    )
    .unwrap();
    assert!(module.is_compiled(), "{:?}", module.jit_fallback());
    let mut store = Store::new(&engine, ());
    store.set_epoch_deadline(1);
    let instance = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let handle = engine.interrupt_handle();
    let ticker = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        handle.increment_epoch();
    });
    let f = instance.get_func(&store, "spin").unwrap();
    match f.call(&mut store, &[], &mut []) {
        Err(Error::Trap(t)) => assert_eq!(t.kind(), TrapKind::Interrupted),
        other => panic!("{other:?}"),
    }
    ticker.join().unwrap();
}

/// `return_call` between compiled functions runs in constant stack: ten
/// million mutually recursive tail calls fit a 64 KiB stack budget that
/// the same recursion without tail calls exhausts.
#[test]
#[cfg(jit)]
fn compiled_tail_calls_run_in_constant_stack() {
    let wat = r#"(module
      (func $even (export "even") (param i64) (result i32)
        (if (result i32) (i64.eqz (local.get 0))
          (then (i32.const 1))
          (else (return_call $odd (i64.sub (local.get 0) (i64.const 1))))))
      (func $odd (param i64) (result i32)
        (if (result i32) (i64.eqz (local.get 0))
          (then (i32.const 0))
          (else (return_call $even (i64.sub (local.get 0) (i64.const 1))))))
      (func $deep (export "deep") (param i64) (result i32)
        (if (result i32) (i64.eqz (local.get 0))
          (then (i32.const 1))
          (else (call $deep (i64.sub (local.get 0) (i64.const 1)))))))"#;
    let mut config = jit_config();
    config.max_host_stack_bytes(64 << 10);
    let (module, out) = call(&config, wat, "even", &[Val::I64(10_000_001)]);
    assert!(module.is_compiled(), "{:?}", module.jit_fallback());
    assert_eq!(out.unwrap(), [Val::I32(0)]);
    let (_, out) = call(&config, wat, "deep", &[Val::I64(10_000_000)]);
    match out {
        Err(Error::Trap(t)) => assert_eq!(t.kind(), TrapKind::StackExhausted),
        other => panic!("{other:?}"),
    }
}

/// `return_call_indirect`, `return_call_ref` and `return_call` of an
/// import run in constant stack too, across modules (each tail call leaves
/// its frame before the callee's is built, and a callee in another
/// compiled module runs on its own context), and a tail call of a host
/// function returns the host's results.
#[test]
#[cfg(jit)]
fn compiled_tail_calls_through_tables_refs_and_imports_run_in_constant_stack() {
    let mut config = jit_config();
    config.max_host_stack_bytes(64 << 10);
    let engine = Engine::new(&config);
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    linker
        .func_wrap("host", "plus", |x: i64| -> i64 { x + 1_000_000 })
        .unwrap();
    let a = Module::new(
        &engine,
        r#"(module
          (import "host" "plus" (func $plus (param i64) (result i64)))
          (type $t (func (param i64) (result i64)))
          (table (export "table") 4 funcref)
          (global $calls (export "calls") (mut i64) (i64.const 0))
          (elem (i32.const 0) func $ping $self $plus)
          ;; Through the shared table: slot 1 is the other module's pong.
          (func $ping (export "ping") (param i64) (result i64)
            (global.set $calls (i64.add (global.get $calls) (i64.const 1)))
            (if (result i64) (i64.eqz (local.get 0))
              (then (global.get $calls))
              (else (return_call_indirect (type $t)
                (i64.sub (local.get 0) (i64.const 1)) (i32.const 3)))))
          ;; Through this table, then a tail call of the host at the end.
          (func $self (export "self") (param i64) (result i64)
            (if (result i64) (i64.eqz (local.get 0))
              (then (return_call $plus (i64.const 7)))
              (else (return_call_indirect (type $t)
                (i64.sub (local.get 0) (i64.const 1)) (i32.const 1)))))
          (elem declare func $by_ref)
          (func $by_ref (export "by_ref") (param i64) (result i64)
            (if (result i64) (i64.eqz (local.get 0))
              (then (i64.const 42))
              (else (return_call_ref $t
                (i64.sub (local.get 0) (i64.const 1)) (ref.func $by_ref))))))"#,
    )
    .unwrap();
    assert!(a.is_compiled(), "{:?}", a.jit_fallback());
    let ai = linker.instantiate(&mut store, &a).unwrap();
    linker.instance(&mut store, "a", ai).unwrap();
    let b = Module::new(
        &engine,
        r#"(module
          (import "a" "ping" (func $ping (param i64) (result i64)))
          (import "a" "table" (table 4 funcref))
          (elem (i32.const 3) func $pong)
          ;; A return_call of an import that is another module's function.
          (func $pong (param i64) (result i64) (return_call $ping (local.get 0))))"#,
    )
    .unwrap();
    assert!(b.is_compiled(), "{:?}", b.jit_fallback());
    linker.instantiate(&mut store, &b).unwrap();
    let mut call = |name: &str, n: i64| {
        let f = ai.get_func(&store, name).unwrap();
        let mut out = [Val::I64(0)];
        f.call(&mut store, &[Val::I64(n)], &mut out)
            .map(|()| out[0])
    };
    // Ten million calls alternate between the modules' code.
    assert_eq!(call("ping", 10_000_000).unwrap(), Val::I64(10_000_001));
    assert_eq!(call("self", 10_000_000).unwrap(), Val::I64(1_000_007));
    assert_eq!(call("by_ref", 10_000_000).unwrap(), Val::I64(42));
}
