//! The JIT against the interpreter (the reference tier): the same modules
//! and inputs must give the same results and the same traps.

use wrun_jit::{CallError, CompileError, CompiledModule};
use wrun_runtime::{Engine, Error, Linker, Module, Store, Val};

const PROGRAMS: &str = r#"(module
  (func $fac (export "fac") (param i64) (result i64)
    (if (result i64) (i64.le_u (local.get 0) (i64.const 1))
      (then (i64.const 1))
      (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1)))))))
  (func (export "fib") (param i32) (result i64)
    (local i64 i64 i32)
    (local.set 1 (i64.const 0)) (local.set 2 (i64.const 1))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get 3) (local.get 0)))
        (local.set 2 (i64.add (local.get 1) (local.tee 1 (local.get 2))))
        (local.set 3 (i32.add (local.get 3) (i32.const 1)))
        (br $l)))
    (local.get 1))
  (func (export "collatz") (param i32) (result i32)
    (local i32)
    (block $out
      (loop $l
        (br_if $out (i32.le_u (local.get 0) (i32.const 1)))
        (local.set 0
          (if (result i32) (i32.rem_u (local.get 0) (i32.const 2))
            (then (i32.add (i32.mul (local.get 0) (i32.const 3)) (i32.const 1)))
            (else (i32.div_u (local.get 0) (i32.const 2)))))
        (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (br $l)))
    (local.get 1))
  (func (export "switch") (param i32) (result i32)
    (block $d (block $c (block $b (block $a
      (br_table $a $b $c $d (local.get 0)))
      (return (i32.const 10)))
      (return (i32.const 20)))
      (return (i32.const 30)))
    (i32.const 40))
  (func (export "swap") (param i32 i64) (result i64 i32)
    (local.get 1) (local.get 0))
  (func (export "multi") (param i32) (result i32)
    (local.get 0)
    (block (param i32) (result i32 i32)
      (i32.const 7) (br_if 0 (local.get 0))
      (drop) (drop) (i32.const 1) (i32.const 2))
    (i32.sub))
  (func (export "bits") (param i64) (result i64)
    (i64.add (i64.add (i64.clz (local.get 0)) (i64.ctz (local.get 0)))
      (i64.add (i64.popcnt (local.get 0))
        (i64.extend_i32_u (i32.add (i32.add (i32.clz (i32.wrap_i64 (local.get 0)))
          (i32.ctz (i32.wrap_i64 (local.get 0)))) (i32.popcnt (i32.wrap_i64 (local.get 0))))))))
  (func (export "arith32") (param i32 i32) (result i32)
    (i32.xor
      (i32.add (i32.div_s (local.get 0) (local.get 1)) (i32.rem_s (local.get 0) (local.get 1)))
      (i32.add (i32.rotl (local.get 0) (local.get 1))
        (i32.add (i32.shr_s (local.get 0) (local.get 1))
          (i32.add (i32.shr_u (local.get 0) (local.get 1)) (i32.rotr (local.get 0) (local.get 1)))))))
  (func (export "arith64") (param i64 i64) (result i64)
    (i64.xor
      (i64.add (i64.div_s (local.get 0) (local.get 1)) (i64.rem_s (local.get 0) (local.get 1)))
      (i64.add (i64.div_u (local.get 0) (local.get 1))
        (i64.add (i64.rem_u (local.get 0) (local.get 1)) (i64.shl (local.get 0) (local.get 1))))))
  (func (export "cmp") (param i64 i64) (result i32)
    (i32.or (i32.shl (i64.lt_s (local.get 0) (local.get 1)) (i32.const 1))
      (i32.or (i32.shl (i64.ge_u (local.get 0) (local.get 1)) (i32.const 2))
        (i32.or (i32.shl (i32.gt_s (i32.wrap_i64 (local.get 0)) (i32.wrap_i64 (local.get 1))) (i32.const 3))
          (i32.shl (i64.eqz (local.get 0)) (i32.const 4))))))
  (func (export "ext") (param i64) (result i64)
    (i64.add (i64.extend8_s (local.get 0))
      (i64.add (i64.extend16_s (local.get 0))
        (i64.add (i64.extend32_s (local.get 0))
          (i64.add (i64.extend_i32_s (i32.extend8_s (i32.wrap_i64 (local.get 0))))
            (i64.extend_i32_s (i32.extend16_s (i32.wrap_i64 (local.get 0)))))))))
  (func (export "pick") (param i32 i64 i64) (result i64)
    (select (local.get 1) (local.get 2) (local.get 0)))
  (func (export "trap") (param i32) (result i32)
    (if (i32.eqz (local.get 0)) (then unreachable))
    (local.get 0))
  (func $deep (export "deep") (param i64) (result i64)
    (i64.add (call $deep (i64.add (local.get 0) (i64.const 1))) (i64.const 1)))
  (func (export "dead") (result i32)
    (block (result i32)
      (br 0 (i32.const 5))
      (block (loop (br 1)))
      (i32.const 6)))
)"#;

/// What a call ended with, in terms both tiers share.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Values(Vec<u64>),
    Trap(String),
}

fn raw(v: &Val) -> u64 {
    match v {
        Val::I32(x) => u64::from(*x as u32),
        Val::I64(x) => *x as u64,
        Val::F32(x) => u64::from(*x),
        Val::F64(x) => *x,
        other => panic!("unexpected value {other:?}"),
    }
}

struct Both {
    store: Store<()>,
    instance: wrun_runtime::Instance,
    jit: CompiledModule,
}

impl Both {
    fn new(wat: &str) -> Both {
        let wasm = wat::parse_str(wat).unwrap();
        let engine = Engine::default();
        let module = Module::from_binary(&engine, &wasm).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine)
            .instantiate(&mut store, &module)
            .unwrap();
        let jit = CompiledModule::new(&wasm, None).unwrap();
        Both {
            store,
            instance,
            jit,
        }
    }

    fn interp(&mut self, name: &str, args: &[Val]) -> Outcome {
        let f = self.instance.get_func(&self.store, name).unwrap();
        let ty = f.ty(&self.store);
        let mut results: Vec<Val> = ty.results().iter().map(|_| Val::I32(0)).collect();
        match f.call(&mut self.store, args, &mut results) {
            Ok(()) => Outcome::Values(results.iter().map(raw).collect()),
            Err(Error::Trap(t)) => Outcome::Trap(t.kind().message().to_string()),
            Err(e) => panic!("{name}: {e}"),
        }
    }

    fn jit(&self, name: &str, args: &[Val]) -> Outcome {
        let index = self.jit.export(name).unwrap();
        let results = self.jit.signature(index).unwrap().results.len();
        let mut cells: Vec<u64> = args.iter().map(raw).collect();
        cells.resize(cells.len().max(results), 0);
        match self.jit.call(index, &mut cells) {
            Ok(()) => Outcome::Values(cells[..results].to_vec()),
            Err(CallError::Trap(t)) => Outcome::Trap(t.message().to_string()),
            Err(e) => panic!("{name}: {e:?}"),
        }
    }

    fn same(&mut self, name: &str, args: &[Val]) -> Outcome {
        let want = self.interp(name, args);
        let got = self.jit(name, args);
        assert_eq!(got, want, "{name}{args:?}");
        got
    }
}

const EDGES32: [i32; 9] = [0, 1, -1, 2, 3, 7, i32::MIN, i32::MAX, -8];
const EDGES64: [i64; 9] = [
    0,
    1,
    -1,
    2,
    5,
    63,
    i64::MIN,
    i64::MAX,
    0x1234_5678_9abc_def0,
];

#[test]
fn programs_match_the_interpreter() {
    let mut both = Both::new(PROGRAMS);
    assert_eq!(
        both.same("fac", &[Val::I64(20)]),
        Outcome::Values(vec![2432902008176640000])
    );
    for n in [0, 1, 2, 10, 90] {
        both.same("fib", &[Val::I32(n)]);
    }
    for n in [1, 6, 27, 97, 871] {
        both.same("collatz", &[Val::I32(n)]);
    }
    for i in [0, 1, 2, 3, 4, -1, 1000] {
        both.same("switch", &[Val::I32(i)]);
    }
    both.same("swap", &[Val::I32(-5), Val::I64(1 << 40)]);
    for i in [0, 3] {
        both.same("multi", &[Val::I32(i)]);
    }
    both.same("dead", &[]);
    for x in EDGES64 {
        both.same("bits", &[Val::I64(x)]);
        both.same("ext", &[Val::I64(x)]);
        both.same(
            "pick",
            &[
                Val::I32(x as i32),
                Val::I64(x),
                Val::I64(-x.wrapping_add(3)),
            ],
        );
        for y in EDGES64 {
            both.same("arith64", &[Val::I64(x), Val::I64(y)]);
            both.same("cmp", &[Val::I64(x), Val::I64(y)]);
        }
    }
    for x in EDGES32 {
        for y in EDGES32 {
            both.same("arith32", &[Val::I32(x), Val::I32(y)]);
        }
    }
}

#[test]
fn traps_match_and_unwind_to_the_entry() {
    let mut both = Both::new(PROGRAMS);
    let trap = |m: &str| Outcome::Trap(m.to_string());
    assert_eq!(both.same("trap", &[Val::I32(0)]), trap("unreachable"));
    assert_eq!(
        both.same("arith32", &[Val::I32(1), Val::I32(0)]),
        trap("integer divide by zero")
    );
    assert_eq!(
        both.same("arith32", &[Val::I32(i32::MIN), Val::I32(-1)]),
        trap("integer overflow")
    );
    assert_eq!(
        both.same("arith64", &[Val::I64(i64::MIN), Val::I64(-1)]),
        trap("integer overflow")
    );
    // Unbounded recursion ends in a trap, not a host stack overflow; the
    // module stays usable afterwards.
    assert_eq!(
        both.same("deep", &[Val::I64(0)]),
        trap("call stack exhausted")
    );
    assert_eq!(both.same("trap", &[Val::I32(9)]), Outcome::Values(vec![9]));
}

#[test]
fn what_cannot_be_compiled_is_refused_by_name() {
    let wasm = wat::parse_str(
        r#"(module (memory 1) (func (export "f") (result i32) (i32.load (i32.const 0))))"#,
    )
    .unwrap();
    match CompiledModule::new(&wasm, None) {
        Err(CompileError::Unsupported { what, offset }) => {
            assert!(
                what.contains("memory access without a VM context"),
                "{what}"
            );
            assert!(offset > 0);
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("compiled a memory load"),
    }
    let wasm = wat::parse_str(r#"(module (import "m" "f" (func)))"#).unwrap();
    assert!(matches!(
        CompiledModule::new(&wasm, None),
        Err(CompileError::Unsupported { .. })
    ));
    assert!(matches!(
        CompiledModule::new(b"\0asm\x01\0\0\0\x01", None),
        Err(CompileError::Invalid(_))
    ));
}

#[test]
fn wrong_calls_are_errors() {
    let jit = CompiledModule::new(&wat::parse_str(PROGRAMS).unwrap(), None).unwrap();
    let f = jit.export("swap").unwrap();
    assert!(matches!(jit.call(f, &mut [1]), Err(CallError::Usage(_))));
    assert!(matches!(jit.call(9999, &mut [1]), Err(CallError::Usage(_))));
}

/// One exported function per float operator, named after it.
fn float_module() -> String {
    let mut m = String::from("(module\n");
    for t in ["f32", "f64"] {
        for op in ["add", "sub", "mul", "div", "min", "max", "copysign"] {
            m += &format!(
                "(func (export \"{t}.{op}\") (param {t} {t}) (result {t}) ({t}.{op} (local.get 0) (local.get 1)))\n"
            );
        }
        for op in ["abs", "neg", "sqrt", "ceil", "floor", "trunc", "nearest"] {
            m += &format!(
                "(func (export \"{t}.{op}\") (param {t}) (result {t}) ({t}.{op} (local.get 0)))\n"
            );
        }
        for op in ["eq", "ne", "lt", "gt", "le", "ge"] {
            m += &format!(
                "(func (export \"{t}.{op}\") (param {t} {t}) (result i32) ({t}.{op} (local.get 0) (local.get 1)))\n"
            );
        }
        for i in ["i32", "i64"] {
            for s in ["s", "u"] {
                for sat in ["", "_sat"] {
                    m += &format!(
                        "(func (export \"{i}.trunc{sat}_{t}_{s}\") (param {t}) (result {i}) ({i}.trunc{sat}_{t}_{s} (local.get 0)))\n"
                    );
                }
                m += &format!(
                    "(func (export \"{t}.convert_{i}_{s}\") (param {i}) (result {t}) ({t}.convert_{i}_{s} (local.get 0)))\n"
                );
            }
        }
    }
    m += r#"(func (export "demote") (param f64) (result f32) (f32.demote_f64 (local.get 0)))
(func (export "promote") (param f32) (result f64) (f64.promote_f32 (local.get 0)))
(func (export "bits32") (param f32) (result i32) (i32.reinterpret_f32 (local.get 0)))
(func (export "bits64") (param f64) (result i64) (i64.reinterpret_f64 (local.get 0)))
(func (export "from32") (param i32) (result f32) (f32.reinterpret_i32 (local.get 0)))
(func (export "from64") (param i64) (result f64) (f64.reinterpret_i64 (local.get 0)))
(func (export "consts") (result f32 f64 f32) (f32.const -0x1.5p3) (f64.const nan:0x4) (f32.const -inf))
(func (export "poly") (param f64) (result f64) (local f64 i32)
  (loop $l
    (local.set 1 (f64.add (f64.mul (local.get 1) (local.get 0)) (f64.convert_i32_s (local.get 2))))
    (br_if $l (i32.lt_s (local.tee 2 (i32.add (local.get 2) (i32.const 1))) (i32.const 5))))
  (select (local.get 1) (f64.neg (local.get 1)) (f64.ge (local.get 1) (f64.const 0))))
)"#;
    m
}

const F32_EDGES: [u32; 20] = [
    0,
    0x8000_0000,
    0x3f80_0000, // 1
    0xbf00_0000, // -0.5
    0x3fc0_0000, // 1.5
    0x4020_0000, // 2.5
    0x4f00_0000, // 2^31
    0xcf00_0000, // -2^31
    0x4f80_0000, // 2^32
    0x5f00_0000, // 2^63
    0x5f80_0000, // 2^64
    0x7f7f_ffff, // max
    0x0000_0001, // smallest subnormal
    0x7f80_0000, // inf
    0xff80_0000, // -inf
    0x7fc0_0000, // canonical NaN
    0xffc0_0000, // negative NaN
    0x7f80_0001, // signalling NaN
    0x7fa0_1234, // signalling NaN with payload
    0x4effffff,  // just below 2^31
];

const F64_EDGES: [u64; 20] = [
    0,
    0x8000_0000_0000_0000,
    0x3ff0_0000_0000_0000, // 1
    0xbfe0_0000_0000_0000, // -0.5
    0x3ff8_0000_0000_0000, // 1.5
    0x4004_0000_0000_0000, // 2.5
    0x41df_ffff_ffc0_0000, // 2^31 - 1
    0x41df_ffff_ffe0_0000, // 2^31 - 0.5
    0xc1e0_0000_0020_0000, // -2^31 - 1
    0xc1e0_0000_0010_0000, // -2^31 - 0.5
    0x41ef_ffff_ffff_ffff, // just below 2^32
    0x43e0_0000_0000_0000, // 2^63
    0x43ef_ffff_ffff_ffff, // just below 2^64
    0x43f0_0000_0000_0000, // 2^64
    0x0000_0000_0000_0001, // smallest subnormal
    0x7ff0_0000_0000_0000, // inf
    0xfff0_0000_0000_0000, // -inf
    0x7ff8_0000_0000_0000, // canonical NaN
    0xfff8_0000_0000_1234, // negative NaN with payload
    0x7ff0_0000_0000_0001, // signalling NaN
];

const INT_EDGES: [u64; 10] = [
    0,
    1,
    u64::MAX,
    0x8000_0000,
    0xffff_ffff,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    0xffff_ffff_ffff_fc01, // rounds differently with and without the sticky bit
    0x8000_0000_0000_0401,
    0x0020_0000_0000_0001, // 2^53 + 1
];

fn is_nan_bits(v: u64, f32: bool) -> bool {
    if f32 {
        f32::from_bits(v as u32).is_nan()
    } else {
        f64::from_bits(v).is_nan()
    }
}

#[test]
fn float_operators_match_the_interpreter_bit_for_bit() {
    let mut both = Both::new(&float_module());
    let mut checked = 0;
    for (t, edges) in [
        (
            "f32",
            F32_EDGES.iter().map(|&b| u64::from(b)).collect::<Vec<_>>(),
        ),
        ("f64", F64_EDGES.to_vec()),
    ] {
        let f32 = t == "f32";
        let val = |b: u64| if f32 { Val::F32(b as u32) } else { Val::F64(b) };
        for &x in &edges {
            for op in ["abs", "neg", "sqrt", "ceil", "floor", "trunc", "nearest"] {
                both.same(&format!("{t}.{op}"), &[val(x)]);
            }
            for i in ["i32", "i64"] {
                for s in ["s", "u"] {
                    for sat in ["", "_sat"] {
                        both.same(&format!("{i}.trunc{sat}_{t}_{s}"), &[val(x)]);
                    }
                }
            }
            for &y in &edges {
                for op in ["eq", "ne", "lt", "gt", "le", "ge", "min", "max", "copysign"] {
                    both.same(&format!("{t}.{op}"), &[val(x), val(y)]);
                }
                for op in ["add", "sub", "mul", "div"] {
                    let name = format!("{t}.{op}");
                    if is_nan_bits(x, f32) && is_nan_bits(y, f32) {
                        // Which of two NaN operands comes back is not
                        // deterministic (Wasm 3.0 §4.3.3): both must give
                        // an arithmetic NaN.
                        let quiet = if f32 { 0x0040_0000 } else { 1 << 51 };
                        for o in [
                            both.interp(&name, &[val(x), val(y)]),
                            both.jit(&name, &[val(x), val(y)]),
                        ] {
                            let Outcome::Values(v) = o else {
                                panic!("{name} trapped")
                            };
                            assert!(is_nan_bits(v[0], f32) && v[0] & quiet != 0, "{name}");
                        }
                    } else {
                        both.same(&name, &[val(x), val(y)]);
                    }
                    checked += 1;
                }
            }
        }
        for &n in &INT_EDGES {
            for s in ["s", "u"] {
                both.same(
                    &format!("{t}.convert_i32_{s}"),
                    &[Val::I32(n as u32 as i32)],
                );
                both.same(&format!("{t}.convert_i64_{s}"), &[Val::I64(n as i64)]);
            }
        }
    }
    for &x in &F64_EDGES {
        both.same("demote", &[Val::F64(x)]);
        both.same("bits64", &[Val::F64(x)]);
        both.same("from64", &[Val::I64(x as i64)]);
        both.same("poly", &[Val::F64(x)]);
    }
    for &x in &F32_EDGES {
        both.same("promote", &[Val::F32(x)]);
        both.same("bits32", &[Val::F32(x)]);
        both.same("from32", &[Val::I32(x as i32)]);
    }
    both.same("consts", &[]);
    assert!(checked > 0);
}

#[test]
fn float_conversion_traps_are_named() {
    let mut both = Both::new(&float_module());
    let trap = |m: &str| Outcome::Trap(m.to_string());
    assert_eq!(
        both.same("i32.trunc_f64_s", &[Val::F64(f64::NAN.to_bits())]),
        trap("invalid conversion to integer")
    );
    assert_eq!(
        both.same("i64.trunc_f32_u", &[Val::F32((-1.0f32).to_bits())]),
        trap("integer overflow")
    );
    assert_eq!(
        both.same("i32.trunc_f64_s", &[Val::F64((-2147483648.9f64).to_bits())]),
        Outcome::Values(vec![0x8000_0000])
    );
}
