//! The translator fuses common operator sequences (`local.get; const; op`,
//! `local.get; local.get; op`, `…; local.set`, comparisons into `br_if`).
//! These cases pin the edges: immediates that do not fit 32 bits, labels
//! that fall between the parts, and every fused form against its meaning.

use wrun_runtime::{Engine, Instance, Module, Store, Val};

fn run(wat: &str, name: &str, args: &[Val]) -> Vec<Val> {
    let engine = Engine::default();
    let module = Module::new(&engine, wat).expect("compile");
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).expect("instantiate");
    let f = instance.get_func(&store, name).expect("export");
    let mut out = vec![Val::I32(0); f.ty(&store).results().len()];
    f.call(&mut store, args, &mut out).expect("call");
    out
}

#[test]
fn wide_i64_immediates_are_not_truncated() {
    let wat = r#"(module
      (func (export "add") (param i64) (result i64)
        (i64.add (local.get 0) (i64.const 4294967295)))
      (func (export "and") (param i64) (result i64)
        (i64.and (local.get 0) (i64.const -4294967296)))
      (func (export "neg") (param i64) (result i64)
        (i64.add (local.get 0) (i64.const -1)))
      (func (export "neg32") (param i32) (result i32)
        (i32.add (local.get 0) (i32.const -1))))"#;
    assert_eq!(run(wat, "add", &[Val::I64(1)]), vec![Val::I64(4294967296)]);
    assert_eq!(
        run(wat, "and", &[Val::I64(-1)]),
        vec![Val::I64(-4294967296)]
    );
    assert_eq!(run(wat, "neg", &[Val::I64(0)]), vec![Val::I64(-1)]);
    assert_eq!(run(wat, "neg32", &[Val::I32(0)]), vec![Val::I32(-1)]);
}

#[test]
fn a_label_between_the_parts_prevents_fusion() {
    // The branch to $b lands on the `i32.add` with 10 (not the constant)
    // on the stack above local 0, so the add must stay a separate step.
    let wat = r#"(module
      (func (export "f") (param i32) (result i32)
        (local.get 0)
        (block $b (result i32)
          (br_if $b (i32.const 10) (local.get 0))
          (drop)
          (i32.const 1))
        (i32.add)))"#;
    assert_eq!(run(wat, "f", &[Val::I32(5)]), vec![Val::I32(15)]);
    assert_eq!(run(wat, "f", &[Val::I32(0)]), vec![Val::I32(1)]);
}

#[test]
fn fused_forms_compute_what_they_replace() {
    let wat = r#"(module
      (func (export "count") (param $n i32) (result i32) (local $i i32) (local $acc i32)
        (block $done
          (loop $l
            (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
            (local.set $acc (i32.add (local.get $acc) (local.get $i)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $l (i32.lt_u (local.get $i) (i32.const 1000)))))
        (local.get $acc))
      (func (export "div") (param i32 i32) (result i32)
        (i32.div_s (local.get 0) (local.get 1))))"#;
    assert_eq!(run(wat, "count", &[Val::I32(10)]), vec![Val::I32(45)]);
    assert_eq!(run(wat, "count", &[Val::I32(5000)]), vec![Val::I32(499500)]);
    assert_eq!(
        run(wat, "div", &[Val::I32(-7), Val::I32(2)]),
        vec![Val::I32(-3)]
    );
    // A fused operator still traps, and the trap names the operator.
    let engine = Engine::default();
    let module = Module::new(&engine, wat).expect("compile");
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).expect("instantiate");
    let f = instance.get_func(&store, "div").expect("export");
    let err = f
        .call(&mut store, &[Val::I32(1), Val::I32(0)], &mut [Val::I32(0)])
        .expect_err("divide by zero");
    assert!(err.to_string().contains("integer divide by zero"), "{err}");
}
