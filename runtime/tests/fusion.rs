//! The translator fuses common operator sequences (`local.get; const; op`,
//! `local.get; local.get; op`, `…; local.set`, comparisons into `br_if`).
//! These cases pin the edges: immediates that do not fit 32 bits, labels
//! that fall between the parts, and every fused form against its meaning.

use wrun_runtime::{Config, Engine, Error, Instance, Module, Store, Strategy, Val};

/// The interpreter, whose translator fuses (the default engine on x86_64
/// is the JIT).
fn interpreter() -> Engine {
    let mut config = Config::new();
    config.strategy(Strategy::Interp);
    Engine::new(&config)
}

/// Calls export `name` of `wat` on the interpreter.
fn call(wat: &str, name: &str, args: &[Val]) -> Result<Vec<Val>, Error> {
    let engine = interpreter();
    let module = Module::new(&engine, wat).expect("compile");
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).expect("instantiate");
    let f = instance.get_func(&store, name).expect("export");
    let mut out = vec![Val::I32(0); f.ty(&store).results().len()];
    f.call(&mut store, args, &mut out)?;
    Ok(out)
}

fn run(wat: &str, name: &str, args: &[Val]) -> Vec<Val> {
    call(wat, name, args).expect("call")
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
    let err = call(wat, "div", &[Val::I32(1), Val::I32(0)]).expect_err("divide by zero");
    assert!(err.to_string().contains("integer divide by zero"), "{err}");
}

#[test]
fn conditions_fuse_into_if_and_br_if() {
    // `if` on an integer comparison branches on the negated comparison
    // (with block parameters kept), `if`/`br_if` on `i32.eqz` on the
    // operand itself; float comparisons keep their NaN meaning.
    let wat = r#"(module
      (func (export "sign") (param i32) (result i32)
        (if (result i32) (i32.lt_s (local.get 0) (i32.const 0))
          (then (i32.const -1))
          (else (if (result i32) (i32.eqz (local.get 0))
            (then (i32.const 0)) (else (i32.const 1))))))
      (func (export "params") (param i32 i64) (result i64)
        (i64.const 10)
        (local.get 1)
        (i64.const 5)
        (i64.gt_u)
        (if (param i64) (result i64)
          (then (i64.const 100) (i64.add))
          (else (i64.const 1) (i64.sub))))
      (func (export "nan") (param f64) (result i32)
        (if (result i32) (f64.lt (local.get 0) (f64.const 0))
          (then (i32.const 1)) (else (i32.const 0))))
      (func (export "until_zero") (param i32) (result i32) (local i32)
        (block $done
          (loop $l
            (br_if $done (i32.eqz (local.get 0)))
            (local.set 1 (i32.add (local.get 1) (i32.const 1)))
            (local.set 0 (i32.shr_u (local.get 0) (i32.const 1)))
            (br $l)))
        (local.get 1)))"#;
    assert_eq!(run(wat, "sign", &[Val::I32(-5)]), vec![Val::I32(-1)]);
    assert_eq!(run(wat, "sign", &[Val::I32(0)]), vec![Val::I32(0)]);
    assert_eq!(run(wat, "sign", &[Val::I32(7)]), vec![Val::I32(1)]);
    assert_eq!(
        run(wat, "params", &[Val::I32(0), Val::I64(6)]),
        vec![Val::I64(110)]
    );
    assert_eq!(
        run(wat, "params", &[Val::I32(0), Val::I64(5)]),
        vec![Val::I64(9)]
    );
    assert_eq!(
        run(wat, "nan", &[Val::F64(f64::NAN.to_bits())]),
        vec![Val::I32(0)]
    );
    assert_eq!(
        run(wat, "nan", &[Val::F64((-1.0f64).to_bits())]),
        vec![Val::I32(1)]
    );
    assert_eq!(run(wat, "until_zero", &[Val::I32(0)]), vec![Val::I32(0)]);
    assert_eq!(run(wat, "until_zero", &[Val::I32(37)]), vec![Val::I32(6)]);
}

#[test]
fn tee_and_load_fusions_keep_their_meaning() {
    // `local.tee` of a fused result stores then reads back (the counter
    // feeds its own bound check); a load takes its address from a local
    // and still traps out of bounds.
    let wat = r#"(module
      (memory 1)
      (data (i32.const 8) "\2a\00\00\00\07")
      (func (export "count") (param $n i32) (result i32) (local $i i32)
        (loop $l
          (br_if $l (i32.lt_s (local.tee $i (i32.add (local.get $i) (i32.const 1)))
                              (local.get $n))))
        (local.get $i))
      (func (export "tee_self") (param i32) (result i32)
        (i32.add (local.tee 0 (i32.mul (local.get 0) (local.get 0))) (local.get 0)))
      (func (export "load") (param $p i32) (result i32)
        (i32.add (i32.load (local.get $p)) (i32.load8_u offset=4 (local.get $p)))))"#;
    assert_eq!(run(wat, "count", &[Val::I32(10)]), vec![Val::I32(10)]);
    assert_eq!(run(wat, "tee_self", &[Val::I32(3)]), vec![Val::I32(18)]);
    assert_eq!(run(wat, "load", &[Val::I32(8)]), vec![Val::I32(49)]);
    let err = call(wat, "load", &[Val::I32(65535)]).expect_err("out of bounds");
    assert!(err.to_string().contains("out of bounds"), "{err}");
}

#[test]
fn stack_operand_conditions_fuse_into_if_and_br_if() {
    // The left operand is computed (not a local), so the comparison takes
    // it from the stack and its right one from a constant or a local; the
    // fused `br_if` and the negated `if` must agree with the plain forms
    // at the signed/unsigned edges, for wide i64 constants, for NaN and
    // for `i64.eqz` (zero in the high half only is not zero).
    let wat = r#"(module
      (memory 1)
      (func (export "lt_s_imm") (param i32 i32) (result i32)
        (block $yes
          (br_if $yes (i32.lt_s (i32.add (local.get 0) (local.get 1)) (i32.const 0)))
          (return (i32.const 0)))
        (i32.const 1))
      (func (export "ge_u_local") (param i32 i32) (result i32)
        (if (result i32) (i32.ge_u (i32.add (local.get 0) (i32.const 0)) (local.get 1))
          (then (i32.const 1)) (else (i32.const 0))))
      (func (export "i64_gt_s_wide") (param i64) (result i32)
        (if (result i32) (i64.gt_s (i64.sub (local.get 0) (i64.const 0))
                                   (i64.const 0x1_0000_0000))
          (then (i32.const 1)) (else (i32.const 0))))
      (func (export "i64_lt_u_local") (param i64 i64) (result i32)
        (block $yes
          (br_if $yes (i64.lt_u (i64.add (local.get 0) (i64.const 0)) (local.get 1)))
          (return (i32.const 0)))
        (i32.const 1))
      (func (export "f64_lt_imm") (param f64) (result i32)
        (block $yes
          (br_if $yes (f64.lt (f64.add (local.get 0) (f64.const 0)) (f64.const 1)))
          (return (i32.const 0)))
        (i32.const 1))
      (func (export "f32_ge_local") (param f32 f32) (result i32)
        (if (result i32) (f32.ge (f32.mul (local.get 0) (f32.const 1)) (local.get 1))
          (then (i32.const 1)) (else (i32.const 0))))
      (func (export "eqz64_br_if") (param i64) (result i32)
        (block $zero
          (br_if $zero (i64.eqz (i64.add (local.get 0) (i64.const 0))))
          (return (i32.const 0)))
        (i32.const 1))
      (func (export "eqz64_if") (param i64) (result i32)
        (if (result i32) (i64.eqz (local.get 0))
          (then (i32.const 1)) (else (i32.const 0))))
      (func (export "div_then_compare") (param i32 i32) (result i32)
        (block $yes
          (br_if $yes (i32.eq (i32.div_s (local.get 0) (local.get 1)) (i32.const 1)))
          (return (i32.const 0)))
        (i32.const 1)))"#;
    let i32s = |a: i32, b: i32| [Val::I32(a), Val::I32(b)];
    let i64s = |a: i64, b: i64| [Val::I64(a), Val::I64(b)];
    let yes = vec![Val::I32(1)];
    let no = vec![Val::I32(0)];
    assert_eq!(run(wat, "lt_s_imm", &i32s(i32::MIN, 0)), yes);
    assert_eq!(run(wat, "lt_s_imm", &i32s(i32::MAX, 1)), yes);
    assert_eq!(run(wat, "lt_s_imm", &i32s(0, 0)), no);
    assert_eq!(run(wat, "ge_u_local", &i32s(i32::MIN, i32::MAX)), yes);
    assert_eq!(run(wat, "ge_u_local", &i32s(0, -1)), no);
    assert_eq!(run(wat, "ge_u_local", &i32s(5, 5)), yes);
    assert_eq!(run(wat, "i64_gt_s_wide", &[Val::I64(0x1_0000_0001)]), yes);
    assert_eq!(run(wat, "i64_gt_s_wide", &[Val::I64(0x1_0000_0000)]), no);
    assert_eq!(run(wat, "i64_gt_s_wide", &[Val::I64(i64::MIN)]), no);
    assert_eq!(run(wat, "i64_lt_u_local", &i64s(0, i64::MIN)), yes);
    assert_eq!(run(wat, "i64_lt_u_local", &i64s(i64::MIN, 0)), no);
    let f64v = |x: f64| [Val::F64(x.to_bits())];
    assert_eq!(run(wat, "f64_lt_imm", &f64v(0.5)), yes);
    assert_eq!(run(wat, "f64_lt_imm", &f64v(f64::NAN)), no);
    assert_eq!(run(wat, "f64_lt_imm", &f64v(1.0)), no);
    let f32s = |a: f32, b: f32| [Val::F32(a.to_bits()), Val::F32(b.to_bits())];
    assert_eq!(run(wat, "f32_ge_local", &f32s(2.0, 1.0)), yes);
    assert_eq!(run(wat, "f32_ge_local", &f32s(f32::NAN, 1.0)), no);
    assert_eq!(run(wat, "f32_ge_local", &f32s(1.0, f32::NAN)), no);
    assert_eq!(run(wat, "eqz64_br_if", &[Val::I64(0)]), yes);
    assert_eq!(run(wat, "eqz64_br_if", &[Val::I64(1 << 32)]), no);
    assert_eq!(run(wat, "eqz64_br_if", &[Val::I64(i64::MIN)]), no);
    assert_eq!(run(wat, "eqz64_if", &[Val::I64(0)]), yes);
    assert_eq!(run(wat, "eqz64_if", &[Val::I64(1 << 32)]), no);
    assert_eq!(run(wat, "div_then_compare", &i32s(7, 7)), yes);
    assert_eq!(run(wat, "div_then_compare", &i32s(7, 2)), no);
    for trap in [i32s(1, 0), i32s(i32::MIN, -1)] {
        let err = call(wat, "div_then_compare", &trap).expect_err("traps");
        assert!(matches!(err, Error::Trap(_)), "{err:?}");
    }
}
