//! Exceptions in compiled code (Wasm 3.0 §4.4.11 and the legacy
//! `try`/`catch`/`delegate`/`rethrow` form): every scenario runs on the
//! interpreter and on the JIT, which must compile the module and give the
//! same results, traps and uncaught exceptions, including exceptions that
//! cross compiled frames, host functions and interpreted modules.
#![cfg(jit)]

use wrun_runtime::{Caller, Config, Engine, Error, Extern, Linker, Module, Store, Strategy, Val};

/// What a call ended with, comparable across tiers.
#[derive(Debug, PartialEq)]
enum Outcome {
    Values(Vec<String>),
    Trap(String),
    Exception(Vec<String>),
    Other(String),
}

fn show(v: &[Val]) -> Vec<String> {
    v.iter().map(|v| format!("{v:?}")).collect()
}

/// The helpers: `host.reenter(i)` calls the export
/// `inner` of the instance with `i` (so exceptions cross a host frame);
/// `interp.*` is a module that always runs on the interpreter.
const INTERPRETED: &str = r#"(module
  (tag $t (export "t") (param i32))
  (func $wide (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32
                     i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)
    (return_call $wide (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)
      (local.get 5) (local.get 6) (local.get 7) (local.get 8) (local.get 9) (local.get 10)
      (local.get 11) (local.get 12) (local.get 13) (local.get 14) (local.get 15) (local.get 16)
      (local.get 17) (local.get 18) (local.get 19) (local.get 20) (local.get 21) (local.get 22)
      (local.get 23) (local.get 24) (local.get 25) (local.get 26) (local.get 27) (local.get 28)
      (local.get 29) (local.get 30) (local.get 31) (local.get 32)))
  (func (export "throw") (param i32) (throw $t (local.get 0)))
  (func (export "catch") (param (ref null $void)) (result i32)
    (block $h (result i32)
      (try_table (catch $t $h) (call_ref $void (local.get 0)))
      (i32.const -1)))
  (type $void (func)))"#;

fn run(strategy: Strategy, wat: &str, calls: &[(&str, Vec<Val>)]) -> Vec<Outcome> {
    let mut config = Config::new();
    config.strategy(strategy);
    let engine = Engine::new(&config);
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::new(&engine);
    let interp = Module::new(&engine, INTERPRETED).unwrap();
    assert!(
        !interp.is_compiled(),
        "the helper module must stay interpreted"
    );
    let i = linker.instantiate(&mut store, &interp).unwrap();
    linker.instance(&mut store, "interp", i).unwrap();
    linker
        .func_wrap(
            "host",
            "reenter",
            |mut caller: Caller<'_, ()>, x: i32| -> wrun_runtime::Result<i32> {
                let Some(Extern::Func(f)) = caller.get_export("inner") else {
                    panic!("no inner export")
                };
                let mut out = [Val::I32(0)];
                f.call(&mut caller, &[Val::I32(x)], &mut out)?;
                match out[0] {
                    Val::I32(v) => Ok(v + 1000),
                    other => panic!("inner returned {other:?}"),
                }
            },
        )
        .unwrap();
    let module = Module::new(&engine, wat).unwrap();
    if strategy == Strategy::Jit {
        assert!(module.is_compiled(), "{:?}", module.jit_fallback());
    }
    let instance = linker.instantiate(&mut store, &module).unwrap();
    calls
        .iter()
        .map(|(name, args)| {
            let f = instance.get_func(&store, name).unwrap();
            let mut out = vec![Val::I32(0); f.ty(&store).results().len()];
            match f.call(&mut store, args, &mut out) {
                Ok(()) => Outcome::Values(show(&out)),
                Err(Error::Trap(t)) => Outcome::Trap(t.kind().to_string()),
                Err(Error::Exception(e)) => Outcome::Exception(show(&e.payload(&store))),
                Err(e) => Outcome::Other(e.to_string()),
            }
        })
        .collect()
}

/// Runs `calls` on both tiers and checks they agree, and with `expected`.
fn both(wat: &str, calls: &[(&str, Vec<Val>)], expected: &[Outcome]) {
    let interp = run(Strategy::Interp, wat, calls);
    assert_eq!(interp, expected, "the interpreter's outcomes");
    let jit = run(Strategy::Jit, wat, calls);
    assert_eq!(jit, interp, "JIT vs interpreter");
}

fn values(v: &[&str]) -> Outcome {
    Outcome::Values(v.iter().map(|s| s.to_string()).collect())
}

const TRY_TABLE: &str = r#"(module
  (import "interp" "t" (tag $imported (param i32)))
  (import "interp" "throw" (func $interp_throw (param i32)))
  (import "interp" "catch" (func $interp_catch (param (ref null $void)) (result i32)))
  (import "host" "reenter" (func $reenter (param i32) (result i32)))
  (tag $pair (param i32 i64))
  (tag $none)
  (type $void (func))
  (elem declare func $throw_imported)
  (func $throw_pair (param i32) (throw $pair (local.get 0) (i64.const 77)))
  (func $deep (param i32) (result i32)
    (if (i32.eqz (local.get 0)) (then (call $throw_pair (i32.const 5))))
    (i32.add (i32.const 1) (call $deep (i32.sub (local.get 0) (i32.const 1)))))
  (func $throw_imported (throw $imported (i32.const 9)))
  ;; 0: pair caught with payload; 1: none caught by catch_all; 2: imported
  ;; tag caught with its exnref, rethrown by throw_ref and caught again;
  ;; 3 and beyond: a trap, which no catch_all catches.
  (func (export "kinds") (param i32) (result i64) (local $x exnref)
    (block $p (result i32 i64)
      (block $all
        (block $r (result i32 exnref)
          (try_table (catch $pair $p) (catch_ref $imported $r) (catch_all $all)
            (block
              (block
                (block
                  (block (br_table 0 1 2 3 (local.get 0)))
                  (throw $pair (i32.const 1) (i64.const 2)))
                (throw $none))
              (throw $imported (i32.const 3)))
            (unreachable))
          (return (i64.const -1)))
        (local.set $x)
        (drop)
        (block $again (result i32)
          (try_table (catch $imported $again) (throw_ref (local.get $x)))
          (return (i64.const -2)))
        (return (i64.extend_i32_u)))
      (return (i64.const 100)))
    (return))
  ;; An exception from compiled callees several frames down.
  (func (export "deep") (param i32) (result i32)
    (block $h (result i32 i64)
      (try_table (catch $pair $h) (return (call $deep (local.get 0))))
      (unreachable))
    (drop))
  ;; Caught into a loop label: counts throws until 3.
  (func (export "loop") (result i32) (local $n i32)
    (i32.const 0) (i64.const 0)
    (loop $again (param i32 i64)
      (drop) (drop)
      (if (i32.ge_u (local.get $n) (i32.const 3)) (then (return (local.get $n))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (try_table (catch $pair $again) (throw $pair (local.get $n) (i64.const 0))))
    (unreachable))
  ;; A catch to the function label returns the payload.
  (func (export "to_function") (result i32 i64)
    (try_table (catch $pair 0) (call $throw_pair (i32.const 8)))
    (i32.const 0) (i64.const 0))
  ;; Thrown by the interpreted module, caught here.
  (func (export "from_interp") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $imported $h) (call $interp_throw (local.get 0)))
      (i32.const -1)))
  ;; Thrown here, caught by the interpreted module.
  (func (export "to_interp") (result i32)
    (call $interp_catch (ref.func $throw_imported)))
  ;; Through a host frame: host → "inner" (which throws for 0) → back here.
  (func (export "inner") (param i32) (result i32)
    (if (i32.eqz (local.get 0)) (then (throw $imported (i32.const 42))))
    (local.get 0))
  (func (export "through_host") (param i32) (result i32)
    (block $h (result i32)
      (try_table (catch $imported $h) (return (call $reenter (local.get 0))))
      (unreachable)))
  ;; Uncaught: the host gets the exception with its payload.
  (func (export "uncaught") (param i32) (call $throw_pair (local.get 0)))
  ;; throw_ref of null traps.
  (func (export "null") (throw_ref (ref.null exn))))"#;

#[test]
fn try_table_on_both_tiers() {
    use Val::I32;
    both(
        TRY_TABLE,
        &[
            ("kinds", vec![I32(0)]),
            ("kinds", vec![I32(1)]),
            ("kinds", vec![I32(2)]),
            ("kinds", vec![I32(3)]),
            ("kinds", vec![I32(4)]),
            ("deep", vec![I32(50)]),
            ("loop", vec![]),
            ("to_function", vec![]),
            ("from_interp", vec![I32(6)]),
            ("to_interp", vec![]),
            ("through_host", vec![I32(0)]),
            ("through_host", vec![I32(4)]),
            ("uncaught", vec![I32(13)]),
            ("null", vec![]),
        ],
        &[
            values(&["I64(2)"]),
            values(&["I64(100)"]),
            values(&["I64(3)"]),
            Outcome::Trap("unreachable".into()),
            Outcome::Trap("unreachable".into()),
            values(&["I32(5)"]),
            values(&["I32(3)"]),
            values(&["I32(8)", "I64(77)"]),
            values(&["I32(6)"]),
            values(&["I32(9)"]),
            values(&["I32(42)"]),
            values(&["I32(1004)"]),
            Outcome::Exception(vec!["I32(13)".into(), "I64(77)".into()]),
            Outcome::Trap("null exception reference".into()),
        ],
    );
}

const LEGACY: &str = r#"(module
  (tag $a (param i32))
  (tag $b (param i32))
  (func $throw_a (param i32) (throw $a (local.get 0)))
  ;; catch by tag, catch_all, and none matching.
  (func (export "catch") (param i32) (result i32)
    try (result i32)
      (if (i32.eq (local.get 0) (i32.const 1)) (then (call $throw_a (i32.const 10))))
      (if (i32.eq (local.get 0) (i32.const 2)) (then (throw $b (i32.const 20))))
      (i32.const 0)
    catch $a
      (i32.add (i32.const 1))
    catch_all
      (i32.const 99)
    end)
  ;; rethrow from a catch body goes to the enclosing try.
  (func (export "rethrow") (param i32) (result i32)
    try (result i32)
      try (result i32)
        (call $throw_a (local.get 0))
        (i32.const 0)
      catch $a
        (drop)
        (rethrow 0)
      end
    catch $a
      (i32.mul (i32.const 2))
    end)
  ;; delegate skips the try it sits in and lands on the outer one.
  (func (export "delegate") (param i32) (result i32)
    try $outer (result i32)
      try (result i32)
        try (result i32)
          (call $throw_a (local.get 0))
          (i32.const 0)
        delegate $outer
      catch $a
        (drop)
        (i32.const -1)
      end
    catch $a
      (i32.add (i32.const 1000))
    end)
  ;; delegate to the function label: the exception leaves the function.
  (func (export "delegate_out") (param i32) (result i32)
    try (result i32)
      (call $throw_a (local.get 0))
      (i32.const 0)
    delegate 0)
  ;; An exception in a catch body is not caught by its own try.
  (func (export "in_catch") (result i32)
    try (result i32)
      try (result i32)
        (throw $b (i32.const 1))
      catch $b
        (drop)
        (throw $a (i32.const 7))
      catch $a
        (drop)
        (i32.const -7)
      end
    catch $a
    end)
  ;; A try with no clause passes the exception on.
  (func (export "no_clause") (result i32)
    try (result i32)
      try
        (call $throw_a (i32.const 3))
      end
      (i32.const 0)
    catch $a
    end))"#;

#[test]
fn legacy_exceptions_on_both_tiers() {
    use Val::I32;
    both(
        LEGACY,
        &[
            ("catch", vec![I32(0)]),
            ("catch", vec![I32(1)]),
            ("catch", vec![I32(2)]),
            ("rethrow", vec![I32(21)]),
            ("delegate", vec![I32(5)]),
            ("delegate_out", vec![I32(6)]),
            ("in_catch", vec![]),
            ("no_clause", vec![]),
        ],
        &[
            values(&["I32(0)"]),
            values(&["I32(11)"]),
            values(&["I32(99)"]),
            values(&["I32(42)"]),
            values(&["I32(1005)"]),
            Outcome::Exception(vec!["I32(6)".into()]),
            values(&["I32(7)"]),
            values(&["I32(3)"]),
        ],
    );
}
