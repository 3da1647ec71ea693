//! The public embedding API end to end: host functions, linking, traps
//! and their backtraces, the limits of `Config`, exceptions reaching the
//! host, and host access to linear memory.

use wrun_runtime::{
    Caller, Config, Engine, Error, Extern, Func, FuncType, Instance, Linker, Module, Store, Trap,
    TrapKind, Val, ValType,
};

/// Compiles `wat` with `config`, instantiates it with `linker`'s
/// definitions, and returns the store and instance.
fn instantiate_with<T: 'static>(
    config: &Config,
    data: T,
    wat: &str,
    define: impl FnOnce(&mut Linker<T>),
) -> Result<(Store<T>, Instance), Error> {
    let engine = Engine::new(config);
    let module = Module::new(&engine, wat)?;
    let mut linker = Linker::new(&engine);
    define(&mut linker);
    let mut store = Store::new(&engine, data);
    let instance = linker.instantiate(&mut store, &module)?;
    Ok((store, instance))
}

/// The error instantiation fails with (`Store` has no `Debug`, so
/// `unwrap_err` cannot be used).
fn instantiate_err<T: 'static>(
    config: &Config,
    data: T,
    wat: &str,
    define: impl FnOnce(&mut Linker<T>),
) -> Error {
    match instantiate_with(config, data, wat, define) {
        Ok(_) => panic!("instantiation succeeded"),
        Err(e) => e,
    }
}

/// The interpreter's configuration: backtraces that name every wasm frame
/// with its offset are the interpreter's (compiled frames keep no pc map
/// yet: a trap in compiled code names the function the host called).
fn interpreter() -> Config {
    let mut config = Config::new();
    config.strategy(wrun_runtime::Strategy::Interp);
    config
}

fn instantiate(wat: &str) -> (Store<()>, Instance) {
    instantiate_with(&Config::new(), (), wat, |_| {}).expect("instantiate")
}

/// Calls export `name` and returns its results.
fn call<T: 'static>(
    store: &mut Store<T>,
    instance: Instance,
    name: &str,
    params: &[Val],
) -> Result<Vec<Val>, Error> {
    let func = instance
        .get_func(&*store, name)
        .unwrap_or_else(|| panic!("export `{name}`"));
    let mut results = vec![Val::I32(0); func.ty(&*store).results().len()];
    func.call(&mut *store, params, &mut results)?;
    Ok(results)
}

fn expect_trap(result: Result<Vec<Val>, Error>) -> Trap {
    match result {
        Err(Error::Trap(t)) => t,
        other => panic!("expected a trap, got {other:?}"),
    }
}

/// The function names of a trap's backtrace, innermost first.
fn frame_names(trap: &Trap) -> Vec<String> {
    trap.backtrace()
        .iter()
        .map(|f| f.func_name.clone().unwrap_or_else(|| "?".into()))
        .collect()
}

// ---- typed and untyped host functions ------------------------------------

#[test]
fn func_wrap_without_caller() {
    let wat = r#"(module
        (import "host" "double" (func $double (param i32) (result i32)))
        (import "host" "mix" (func $mix (param i64 f64) (result f64)))
        (func (export "run") (param i32) (result i32)
            local.get 0 call $double call $double)
        (func (export "mix") (result f64)
            i64.const 3 f64.const 0.5 call $mix))"#;
    let (mut store, instance) = instantiate_with(&Config::new(), (), wat, |l| {
        l.func_wrap("host", "double", |x: i32| x * 2).unwrap();
        l.func_wrap("host", "mix", |a: i64, b: f64| a as f64 + b)
            .unwrap();
    })
    .unwrap();
    assert_eq!(
        call(&mut store, instance, "run", &[Val::I32(5)]).unwrap(),
        [Val::I32(20)]
    );
    assert_eq!(
        call(&mut store, instance, "mix", &[]).unwrap(),
        [Val::F64(3.5f64.to_bits())]
    );
}

#[test]
fn func_wrap_with_caller_sees_host_data() {
    let wat = r#"(module
        (import "host" "count" (func $count (param i32)))
        (func (export "run") i32.const 2 call $count i32.const 40 call $count))"#;
    let (mut store, instance) = instantiate_with(&Config::new(), 0i64, wat, |l| {
        l.func_wrap("host", "count", |mut caller: Caller<'_, i64>, n: i32| {
            *caller.data_mut() += i64::from(n);
        })
        .unwrap();
    })
    .unwrap();
    call(&mut store, instance, "run", &[]).unwrap();
    assert_eq!(*store.data(), 42);
}

#[test]
fn func_wrap_returns_tuples() {
    let wat = r#"(module
        (import "host" "split" (func $split (param i64) (result i32 i32)))
        (import "host" "three" (func $three (result i32 i64 f32)))
        (func (export "hi_minus_lo") (param i64) (result i32)
            local.get 0 call $split i32.sub)
        (func (export "three") (result i32 i64 f32) call $three))"#;
    let (mut store, instance) = instantiate_with(&Config::new(), (), wat, |l| {
        l.func_wrap("host", "split", |x: i64| ((x >> 32) as i32, x as i32))
            .unwrap();
        l.func_wrap("host", "three", |_: Caller<'_, ()>| (1i32, 2i64, 3.5f32))
            .unwrap();
    })
    .unwrap();
    let x = (100i64 << 32) | 58;
    assert_eq!(
        call(&mut store, instance, "hi_minus_lo", &[Val::I64(x)]).unwrap(),
        [Val::I32(42)]
    );
    assert_eq!(
        call(&mut store, instance, "three", &[]).unwrap(),
        [Val::I32(1), Val::I64(2), Val::F32(3.5f32.to_bits())]
    );
}

#[test]
fn func_wrap_signature_comes_from_the_closure() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let f = Func::wrap(&mut store, |a: u32, b: i64, c: f32| -> (f64, u64) {
        (f64::from(c), b as u64 + u64::from(a))
    })
    .unwrap();
    assert_eq!(
        f.ty(&store),
        FuncType::new(
            [ValType::I32, ValType::I64, ValType::F32],
            [ValType::F64, ValType::I64]
        )
    );
    // Host functions can be called directly from the host too.
    let mut out = [Val::I32(0), Val::I32(0)];
    f.call(
        &mut store,
        &[Val::I32(1), Val::I64(2), Val::F32(0.25f32.to_bits())],
        &mut out,
    )
    .unwrap();
    assert_eq!(out, [Val::F64(0.25f64.to_bits()), Val::I64(3)]);
}

#[test]
fn func_new_with_an_explicit_signature() {
    let wat = r#"(module
        (import "host" "sum" (func $sum (param i32 i32 i32) (result i64)))
        (func (export "run") (result i64) i32.const 1 i32.const 2 i32.const 3 call $sum))"#;
    let (mut store, instance) = instantiate_with(&Config::new(), (), wat, |l| {
        let ty = FuncType::new([ValType::I32; 3], [ValType::I64]);
        l.func_new("host", "sum", ty, |_caller, params, results| {
            let total: i64 = params
                .iter()
                .map(|v| match v {
                    Val::I32(x) => i64::from(*x),
                    _ => 0,
                })
                .sum();
            results[0] = Val::I64(total);
            Ok(())
        })
        .unwrap();
    })
    .unwrap();
    assert_eq!(
        call(&mut store, instance, "run", &[]).unwrap(),
        [Val::I64(6)]
    );
}

#[test]
fn host_error_becomes_a_trap_with_a_wasm_backtrace() {
    let wat = r#"(module $app
        (import "host" "fail" (func $fail (param i32) (result i32)))
        (func $middle (param i32) (result i32) local.get 0 call $fail)
        (func $outer (export "run") (result i32) i32.const 7 call $middle))"#;
    let (mut store, instance) = instantiate_with(&interpreter(), (), wat, |l| {
        l.func_wrap("host", "fail", |x: i32| -> Result<i32, Error> {
            Err(Trap::host(format!("refusing {x}")).into())
        })
        .unwrap();
    })
    .unwrap();
    let trap = expect_trap(call(&mut store, instance, "run", &[]));
    assert_eq!(trap.kind(), TrapKind::Host);
    assert!(trap.to_string().contains("refusing 7"), "{trap}");
    assert_eq!(frame_names(&trap), ["middle", "outer"]);
    assert!(
        trap.backtrace()
            .iter()
            .all(|f| f.module_name.as_deref() == Some("app"))
    );
    // The store stays usable after a trap.
    let trap = expect_trap(call(&mut store, instance, "run", &[]));
    assert_eq!(trap.kind(), TrapKind::Host);
}

#[test]
fn host_result_of_the_wrong_type_traps() {
    let wat = r#"(module
        (import "host" "bad" (func $bad (result i32)))
        (func (export "run") (result i32) call $bad))"#;
    let (mut store, instance) = instantiate_with(&Config::new(), (), wat, |l| {
        let ty = FuncType::new([], [ValType::I32]);
        l.func_new("host", "bad", ty, |_caller, _params, results| {
            results[0] = Val::I64(1);
            Ok(())
        })
        .unwrap();
    })
    .unwrap();
    let trap = expect_trap(call(&mut store, instance, "run", &[]));
    assert_eq!(trap.kind(), TrapKind::Host);
}

// ---- linking ---------------------------------------------------------------

#[test]
fn unknown_import_is_a_link_error_naming_it() {
    let err = instantiate_err(
        &Config::new(),
        (),
        r#"(module (import "env" "nope" (func)))"#,
        |_| {},
    );
    match err {
        Error::Link(msg) => assert!(msg.contains("env::nope"), "{msg}"),
        other => panic!("expected a link error, got {other:?}"),
    }
}

#[test]
fn incompatible_import_type_is_a_link_error() {
    let err = instantiate_err(
        &Config::new(),
        (),
        r#"(module (import "env" "f" (func (param i32))))"#,
        |l| {
            l.func_wrap("env", "f", |_: i64| {}).unwrap();
        },
    );
    match err {
        Error::Link(msg) => {
            assert!(msg.contains("env::f"), "{msg}");
            assert!(msg.contains("incompatible"), "{msg}");
        }
        other => panic!("expected a link error, got {other:?}"),
    }

    // A function where a memory is expected.
    let err = instantiate_err(
        &Config::new(),
        (),
        r#"(module (import "env" "mem" (memory 1)))"#,
        |l| {
            l.func_wrap("env", "mem", || {}).unwrap();
        },
    );
    assert!(matches!(err, Error::Link(_)), "{err:?}");
}

#[test]
fn linker_rejects_duplicate_definitions_unless_shadowing() {
    let engine = Engine::default();
    let mut linker = Linker::<()>::new(&engine);
    linker.func_wrap("env", "f", || {}).unwrap();
    assert!(matches!(
        linker.func_wrap("env", "f", || {}),
        Err(Error::Link(_))
    ));
    linker.allow_shadowing(true);
    linker.func_wrap("env", "f", || 1i32).unwrap();
}

#[test]
fn linker_instance_exports_feed_another_module() {
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::<()>::new(&engine);
    let lib = Module::new(
        &engine,
        r#"(module (memory (export "memory") 1)
             (func (export "seven") (result i32) i32.const 7))"#,
    )
    .unwrap();
    let lib = linker.instantiate(&mut store, &lib).unwrap();
    linker.instance(&mut store, "lib", lib).unwrap();
    let app = Module::new(
        &engine,
        r#"(module (import "lib" "seven" (func $seven (result i32)))
             (import "lib" "memory" (memory 1))
             (func (export "run") (result i32)
               i32.const 0 call $seven i32.store
               i32.const 0 i32.load))"#,
    )
    .unwrap();
    let app = linker.instantiate(&mut store, &app).unwrap();
    assert_eq!(call(&mut store, app, "run", &[]).unwrap(), [Val::I32(7)]);
    let memory = lib.get_memory(&store, "memory").unwrap();
    assert_eq!(memory.data(&store)[0], 7);
}

// ---- traps ------------------------------------------------------------------

const TRAPS: &str = r#"(module $traps
    (memory 1)
    (type $i2i (func (param i32) (result i32)))
    (table funcref (elem $noargs))
    (func $noargs)
    (func $div (export "div") (param i32) (result i32)
        i32.const 1 local.get 0 i32.div_s)
    (func $load (export "load") (param i32) (result i32)
        local.get 0 i32.load)
    (func $unreachable (export "unreachable") unreachable)
    (func $indirect (export "indirect") (result i32)
        i32.const 1 i32.const 0 call_indirect (type $i2i))
    (func $via (export "via") (param i32) (result i32)
        local.get 0 call $div))"#;

#[test]
fn trap_kinds_and_backtraces() {
    let (mut store, instance) =
        instantiate_with(&interpreter(), (), TRAPS, |_| {}).expect("instantiate");
    let cases: [(&str, Vec<Val>, TrapKind, &[&str]); 5] = [
        (
            "div",
            vec![Val::I32(0)],
            TrapKind::IntegerDivideByZero,
            &["div"],
        ),
        (
            "load",
            vec![Val::I32(65535)],
            TrapKind::MemoryOutOfBounds,
            &["load"],
        ),
        (
            "unreachable",
            vec![],
            TrapKind::Unreachable,
            &["unreachable"],
        ),
        (
            "indirect",
            vec![],
            TrapKind::IndirectCallTypeMismatch,
            &["indirect"],
        ),
        (
            "via",
            vec![Val::I32(0)],
            TrapKind::IntegerDivideByZero,
            &["div", "via"],
        ),
    ];
    for (name, params, kind, frames) in cases {
        let trap = expect_trap(call(&mut store, instance, name, &params));
        assert_eq!(trap.kind(), kind, "{name}");
        assert_eq!(trap.to_string().lines().next(), Some(kind.message()));
        assert_eq!(frame_names(&trap), frames, "{name}");
        assert!(
            trap.backtrace().iter().all(|f| f.module_offset.is_some()),
            "{name}: offsets known"
        );
    }
    // In-bounds calls still work after the traps.
    assert_eq!(
        call(&mut store, instance, "div", &[Val::I32(1)]).unwrap(),
        [Val::I32(1)]
    );
    assert_eq!(
        call(&mut store, instance, "load", &[Val::I32(65532)]).unwrap(),
        [Val::I32(0)]
    );
}

#[test]
fn call_with_wrong_arguments_is_a_usage_error() {
    let (mut store, instance) = instantiate(TRAPS);
    let div = instance.get_func(&store, "div").unwrap();
    let mut out = [Val::I32(0)];
    assert!(matches!(
        div.call(&mut store, &[], &mut out),
        Err(Error::Usage(_))
    ));
    assert!(matches!(
        div.call(&mut store, &[Val::I64(1)], &mut out),
        Err(Error::Usage(_))
    ));
    assert!(matches!(
        div.call(&mut store, &[Val::I32(1)], &mut []),
        Err(Error::Usage(_))
    ));
}

// ---- limits -------------------------------------------------------------------

const GROW: &str = r#"(module
    (memory (export "memory") 1)
    (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
    (func (export "size") (result i32) memory.size))"#;

#[test]
fn max_memory_bytes_refuses_large_memories_at_instantiation() {
    let mut config = Config::new();
    config.max_memory_bytes(1 << 16);
    let err = instantiate_err(&config, (), r#"(module (memory 2))"#, |_| {});
    assert!(matches!(err, Error::Limit(_)), "{err:?}");
    // Exactly at the limit is fine.
    instantiate_with(&config, (), r#"(module (memory 1))"#, |_| {}).unwrap();
}

#[test]
fn max_memory_bytes_makes_memory_grow_fail() {
    let mut config = Config::new();
    config.max_memory_bytes(3 << 16);
    let (mut store, instance) = instantiate_with(&config, (), GROW, |_| {}).unwrap();
    assert_eq!(
        call(&mut store, instance, "grow", &[Val::I32(2)]).unwrap(),
        [Val::I32(1)]
    );
    assert_eq!(
        call(&mut store, instance, "grow", &[Val::I32(1)]).unwrap(),
        [Val::I32(-1)]
    );
    assert_eq!(
        call(&mut store, instance, "size", &[]).unwrap(),
        [Val::I32(3)]
    );
    let memory = instance.get_memory(&store, "memory").unwrap();
    assert!(matches!(memory.grow(&mut store, 1), Err(Error::Limit(_))));
    assert_eq!(memory.grow(&mut store, 0).unwrap(), 3);
}

const DEEP: &str = r#"(module $deep
    (func $down (export "down") (param i64) (result i64)
        local.get 0 i64.eqz
        if (result i64)
            i64.const 0
        else
            local.get 0 i64.const 1 i64.sub call $down i64.const 1 i64.add
        end))"#;

#[test]
fn max_call_depth_traps_with_stack_exhausted() {
    let mut config = Config::new();
    config.max_call_depth(100);
    let (mut store, instance) = instantiate_with(&config, (), DEEP, |_| {}).unwrap();
    assert_eq!(
        call(&mut store, instance, "down", &[Val::I64(50)]).unwrap(),
        [Val::I64(50)]
    );
    let trap = expect_trap(call(&mut store, instance, "down", &[Val::I64(1000)]));
    assert_eq!(trap.kind(), TrapKind::StackExhausted);
    assert!(trap.to_string().starts_with("call stack exhausted"));
    assert!(frame_names(&trap).iter().all(|n| n == "down"));
}

/// A million nested wasm calls on the test thread's small native stack:
/// the interpreter must not recurse on the host stack, with the default
/// limits (which trap) and with limits raised (which complete).
#[test]
fn million_deep_recursion_never_overflows_the_host_stack() {
    let (mut store, instance) = instantiate(DEEP);
    let trap = expect_trap(call(&mut store, instance, "down", &[Val::I64(1_000_000)]));
    assert_eq!(trap.kind(), TrapKind::StackExhausted);

    let mut config = Config::new();
    config.max_call_depth(2_000_000).max_stack_cells(16 << 20);
    let (mut store, instance) = instantiate_with(&config, (), DEEP, |_| {}).unwrap();
    assert_eq!(
        call(&mut store, instance, "down", &[Val::I64(1_000_000)]).unwrap(),
        [Val::I64(1_000_000)]
    );
}

#[test]
fn value_stack_limit_traps_too() {
    let mut config = Config::new();
    config.max_call_depth(u32::MAX).max_stack_cells(4096);
    let (mut store, instance) = instantiate_with(&config, (), DEEP, |_| {}).unwrap();
    let trap = expect_trap(call(&mut store, instance, "down", &[Val::I64(100_000)]));
    assert_eq!(trap.kind(), TrapKind::StackExhausted);
}

/// A recursive function with no parameters, locals or operands uses no
/// value-stack cells: the frame records themselves must still be bounded
/// (by the stack's cells), whatever the configured depth (issue 12).
#[test]
fn local_free_recursion_is_bounded_without_a_depth_limit() {
    let mut config = interpreter();
    config.max_call_depth(u32::MAX).max_stack_cells(4096);
    let wat = r#"(module (func $f (export "f") call $f))"#;
    let (mut store, instance) = instantiate_with(&config, (), wat, |_| {}).unwrap();
    let trap = expect_trap(call(&mut store, instance, "f", &[]));
    assert_eq!(trap.kind(), TrapKind::StackExhausted);
}

fn fuel_config() -> Config {
    let mut config = Config::new();
    config.consume_fuel(true);
    config
}

#[test]
fn fuel_is_consumed_and_runs_out() {
    let wat = r#"(module
        (func $tick)
        (func (export "spin") (loop $l (call $tick) (br $l)))
        (func (export "work") (result i32) i32.const 1 i32.const 2 i32.add))"#;
    let (mut store, instance) = instantiate_with(&fuel_config(), (), wat, |_| {}).unwrap();
    store.set_fuel(1000).unwrap();
    call(&mut store, instance, "work", &[]).unwrap();
    let left = store.get_fuel().unwrap();
    assert!(left < 1000, "fuel was consumed: {left}");
    let trap = expect_trap(call(&mut store, instance, "spin", &[]));
    assert_eq!(trap.kind(), TrapKind::OutOfFuel);
    assert_eq!(store.get_fuel().unwrap(), 0);
    // With no fuel, nothing runs; refuelled, it does.
    let trap = expect_trap(call(&mut store, instance, "work", &[]));
    assert_eq!(trap.kind(), TrapKind::OutOfFuel);
    store.set_fuel(100).unwrap();
    assert_eq!(
        call(&mut store, instance, "work", &[]).unwrap(),
        [Val::I32(3)]
    );
}

/// A loop whose body makes no call must still be charged on every
/// iteration.
#[test]
fn fuel_stops_a_loop_without_calls() {
    let wat = r#"(module (func (export "spin") (loop $l (br $l))))"#;
    let (mut store, instance) = instantiate_with(&fuel_config(), (), wat, |_| {}).unwrap();
    store.set_fuel(10_000).unwrap();
    let trap = expect_trap(call(&mut store, instance, "spin", &[]));
    assert_eq!(trap.kind(), TrapKind::OutOfFuel);
}

#[test]
fn fuel_needs_the_config_switch() {
    let mut store = Store::new(&Engine::default(), ());
    assert!(matches!(store.set_fuel(10), Err(Error::Usage(_))));
    assert!(matches!(store.get_fuel(), Err(Error::Usage(_))));
}

// ---- exceptions -----------------------------------------------------------------

#[test]
fn uncaught_exception_reaches_the_host() {
    let wat = r#"(module
        (tag $oops (export "oops") (param i32))
        (tag $other (export "other"))
        (func $thrower (export "throw") (param i32)
            local.get 0 throw $oops)
        (func (export "caught") (result i32)
            (block $h (result i32)
                (try_table (catch $oops $h)
                    i32.const 9 call $thrower)
                i32.const -1)))"#;
    let (mut store, instance) = instantiate(wat);
    let oops = instance
        .get_export(&store, "oops")
        .and_then(Extern::into_tag)
        .unwrap();
    let other = instance
        .get_export(&store, "other")
        .and_then(Extern::into_tag)
        .unwrap();
    match call(&mut store, instance, "throw", &[Val::I32(3)]) {
        Err(Error::Exception(exn)) => {
            assert_eq!(exn.tag(), oops);
            assert_ne!(exn.tag(), other);
        }
        other => panic!("expected an exception, got {other:?}"),
    }
    // Caught inside wasm, it never reaches the host.
    assert_eq!(
        call(&mut store, instance, "caught", &[]).unwrap(),
        [Val::I32(9)]
    );
}

#[test]
fn traps_are_not_caught_by_catch_all() {
    let wat = r#"(module
        (func $boom unreachable)
        (func (export "run") (result i32)
            (block $h
                (try_table (catch_all $h) call $boom))
            i32.const 1))"#;
    let (mut store, instance) = instantiate(wat);
    let trap = expect_trap(call(&mut store, instance, "run", &[]));
    assert_eq!(trap.kind(), TrapKind::Unreachable);
}

// ---- memory access from the host ---------------------------------------------------

#[test]
fn host_reads_and_writes_memory_through_caller() {
    let wat = r#"(module
        (import "host" "fill" (func $fill (param i32 i32)))
        (import "host" "log" (func $log (param i32 i32)))
        (memory (export "memory") 1)
        (data (i32.const 100) "hello, host")
        (func (export "run") (result i32) (local $i i32) (local $sum i32)
            i32.const 100 i32.const 11 call $log
            i32.const 0 i32.const 16 call $fill
            (loop $l
                local.get $sum local.get $i i32.load8_u i32.add local.set $sum
                local.get $i i32.const 1 i32.add local.tee $i
                i32.const 16 i32.lt_u br_if $l)
            local.get $sum))"#;
    let (mut store, instance) = instantiate_with(&Config::new(), Vec::<String>::new(), wat, |l| {
        l.func_wrap(
            "host",
            "fill",
            |mut caller: Caller<'_, Vec<String>>, ptr: u32, len: u32| -> Result<(), Error> {
                let memory = caller
                    .get_export("memory")
                    .and_then(Extern::into_memory)
                    .ok_or_else(|| Error::from(Trap::host("no memory export")))?;
                let bytes = memory.data_mut(&mut caller);
                let range = ptr as usize..(ptr + len) as usize;
                let slice = bytes
                    .get_mut(range)
                    .ok_or_else(|| Error::from(Trap::host("out of bounds")))?;
                for (i, b) in slice.iter_mut().enumerate() {
                    *b = i as u8 + 1;
                }
                Ok(())
            },
        )
        .unwrap();
        l.func_wrap(
            "host",
            "log",
            |mut caller: Caller<'_, Vec<String>>, ptr: u32, len: u32| {
                let memory = caller
                    .get_export("memory")
                    .and_then(Extern::into_memory)
                    .expect("memory export");
                let text = String::from_utf8_lossy(
                    &memory.data(&caller)[ptr as usize..(ptr + len) as usize],
                )
                .into_owned();
                caller.data_mut().push(text);
            },
        )
        .unwrap();
    })
    .unwrap();
    assert_eq!(
        call(&mut store, instance, "run", &[]).unwrap(),
        [Val::I32((1..=16).sum())]
    );
    assert_eq!(store.data(), &["hello, host".to_string()]);

    // The embedder sees the same bytes through the instance's export.
    let memory = instance.get_memory(&store, "memory").unwrap();
    assert_eq!(&memory.data(&store)[0..4], &[1, 2, 3, 4]);
    memory.data_mut(&mut store)[0] = 200;
    assert_eq!(
        call(&mut store, instance, "run", &[]).unwrap(),
        [Val::I32((1..=16).sum())],
        "wasm refilled the memory before summing"
    );
}

#[test]
fn globals_are_shared_between_host_and_wasm() {
    let wat = r#"(module
        (global $g (export "g") (mut i64) (i64.const 5))
        (func (export "bump") global.get $g i64.const 1 i64.add global.set $g))"#;
    let (mut store, instance) = instantiate(wat);
    let g = instance.get_global(&store, "g").unwrap();
    assert_eq!(g.get(&store), Val::I64(5));
    call(&mut store, instance, "bump", &[]).unwrap();
    assert_eq!(g.get(&store), Val::I64(6));
    g.set(&mut store, Val::I64(100)).unwrap();
    call(&mut store, instance, "bump", &[]).unwrap();
    assert_eq!(g.get(&store), Val::I64(101));
    assert!(matches!(
        g.set(&mut store, Val::I32(1)),
        Err(Error::Usage(_))
    ));
}

#[test]
fn compile_errors_carry_kind_and_offset() {
    let engine = Engine::default();
    match Module::new(&engine, b"\0asm\x01\0\0\0\x01\x05\x01\x60\0") {
        Err(Error::Compile(e)) => {
            assert_eq!(e.kind, wrun_runtime::CompileErrorKind::Malformed);
            assert!(e.offset.is_some());
        }
        other => panic!("expected a compile error, got {other:?}"),
    }
    match Module::new(&engine, "(module (func (result i32) i64.const 0))") {
        Err(Error::Compile(e)) => {
            assert_eq!(e.kind, wrun_runtime::CompileErrorKind::Invalid);
            assert!(e.offset.is_some());
        }
        other => panic!("expected a compile error, got {other:?}"),
    }
    match Module::new(&engine, "(module (func") {
        Err(Error::Compile(e)) => {
            assert_eq!(e.kind, wrun_runtime::CompileErrorKind::Malformed)
        }
        other => panic!("expected a compile error, got {other:?}"),
    }
}

// ---- re-entrancy ----------------------------------------------------------------------

#[test]
fn host_function_calls_back_into_wasm() {
    let wat = r#"(module $reenter
        (import "host" "twice" (func $twice (param i32) (result i32)))
        (func $inc (export "inc") (param i32) (result i32)
            local.get 0 i32.const 1 i32.add)
        (func $boom (export "boom") (param i32) (result i32) unreachable)
        (func (export "run") (param i32) (result i32)
            local.get 0 call $twice))"#;
    let (mut store, instance) = instantiate_with(&Config::new(), "inc", wat, |l| {
        l.func_wrap(
            "host",
            "twice",
            |mut caller: Caller<'_, &'static str>, x: i32| -> Result<i32, Error> {
                let name = *caller.data();
                let f = caller
                    .get_export(name)
                    .and_then(Extern::into_func)
                    .ok_or_else(|| Error::from(Trap::host("no such export")))?;
                let mut out = [Val::I32(0)];
                f.call(&mut caller, &[Val::I32(x)], &mut out)?;
                f.call(&mut caller, &[out[0]], &mut out)?;
                match out[0] {
                    Val::I32(r) => Ok(r),
                    _ => Err(Trap::host("bad result").into()),
                }
            },
        )
        .unwrap();
    })
    .unwrap();
    assert_eq!(
        call(&mut store, instance, "run", &[Val::I32(40)]).unwrap(),
        [Val::I32(42)]
    );
    // A trap in the inner wasm call propagates through the host function.
    *store.data_mut() = "boom";
    let trap = expect_trap(call(&mut store, instance, "run", &[Val::I32(0)]));
    assert_eq!(trap.kind(), TrapKind::Unreachable);
    assert_eq!(frame_names(&trap).first().map(String::as_str), Some("boom"));
    // And the store still works afterwards.
    *store.data_mut() = "inc";
    assert_eq!(
        call(&mut store, instance, "run", &[Val::I32(1)]).unwrap(),
        [Val::I32(3)]
    );
}

#[test]
fn exception_thrown_through_a_host_function_is_caught_by_wasm() {
    let wat = r#"(module
        (import "host" "call" (func $call))
        (tag $t (export "t") (param i32))
        (func (export "thrower") i32.const 11 throw $t)
        (func (export "run") (result i32)
            (block $h (result i32)
                (try_table (catch $t $h) call $call)
                i32.const -1)))"#;
    let (mut store, instance) = instantiate_with(&Config::new(), (), wat, |l| {
        l.func_wrap(
            "host",
            "call",
            |mut caller: Caller<'_, ()>| -> Result<(), Error> {
                let f = caller
                    .get_export("thrower")
                    .and_then(Extern::into_func)
                    .ok_or_else(|| Error::from(Trap::host("no thrower")))?;
                f.call(&mut caller, &[], &mut [])
            },
        )
        .unwrap();
    })
    .unwrap();
    assert_eq!(
        call(&mut store, instance, "run", &[]).unwrap(),
        [Val::I32(11)]
    );
}

#[test]
fn tail_calls_run_in_constant_stack() {
    let wat = r#"(module
        (func $count (export "count") (param i64 i64) (result i64)
            local.get 0 i64.eqz
            if (result i64)
                local.get 1
            else
                local.get 0 i64.const 1 i64.sub
                local.get 1 i64.const 1 i64.add
                return_call $count
            end))"#;
    let mut config = Config::new();
    config.max_call_depth(1000);
    let (mut store, instance) = instantiate_with(&config, (), wat, |_| {}).unwrap();
    assert_eq!(
        call(
            &mut store,
            instance,
            "count",
            &[Val::I64(1_000_000), Val::I64(0)]
        )
        .unwrap(),
        [Val::I64(1_000_000)]
    );
}

#[test]
fn trap_in_start_function_fails_instantiation() {
    let err = instantiate_err(
        &Config::new(),
        (),
        r#"(module $s (func $init unreachable) (start $init))"#,
        |_| {},
    );
    match err {
        Error::Trap(t) => {
            assert_eq!(t.kind(), TrapKind::Unreachable);
            assert_eq!(frame_names(&t), ["init"]);
        }
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn handles_from_another_store_are_usage_errors() {
    let (mut store_a, instance_a) = instantiate(GROW);
    let (mut store_b, _instance_b) = instantiate(GROW);
    let grow = instance_a.get_func(&store_a, "grow").unwrap();
    let mut out = [Val::I32(0)];
    assert!(matches!(
        grow.call(&mut store_b, &[Val::I32(0)], &mut out),
        Err(Error::Usage(_))
    ));
    assert!(instance_a.get_export(&store_b, "grow").is_none());
    // The handle still works in its own store.
    grow.call(&mut store_a, &[Val::I32(0)], &mut out).unwrap();
    assert_eq!(out, [Val::I32(1)]);
}

// ---- host-created entities ---------------------------------------------------------------

#[test]
fn host_created_memory_global_table_and_tag_are_importable() {
    use wrun_runtime::{Global, GlobalType, Memory, MemoryType, RefType, Table, TableType, Tag};
    let engine = Engine::default();
    let mut store = Store::new(&engine, ());
    let memory = Memory::new(&mut store, MemoryType::new(1, Some(2))).unwrap();
    let counter = Global::new(
        &mut store,
        GlobalType {
            content: ValType::I32,
            mutable: true,
        },
        Val::I32(10),
    )
    .unwrap();
    let table = Table::new(
        &mut store,
        TableType {
            element: RefType::FUNCREF,
            min: 2,
            max: None,
            table64: false,
        },
        Val::FuncRef(None),
    )
    .unwrap();
    let tag = Tag::new(&mut store, &FuncType::new([ValType::I32], [])).unwrap();
    let answer = Func::wrap(&mut store, || 42i32).unwrap();
    table
        .set(&mut store, 1, Val::FuncRef(Some(answer)))
        .unwrap();

    let mut linker = Linker::new(&engine);
    linker
        .define("env", "memory", memory)
        .unwrap()
        .define("env", "counter", counter)
        .unwrap()
        .define("env", "table", table)
        .unwrap()
        .define("env", "oops", tag)
        .unwrap();
    let module = Module::new(
        &engine,
        r#"(module
            (import "env" "memory" (memory 1))
            (import "env" "counter" (global $c (mut i32)))
            (import "env" "table" (table 2 funcref))
            (import "env" "oops" (tag $oops (param i32)))
            (type $answer (func (result i32)))
            (func (export "run") (result i32)
                global.get $c i32.const 1 i32.add global.set $c
                i32.const 8 i32.const 1 call_indirect (type $answer) i32.store
                i32.const 8 i32.load)
            (func (export "throw") i32.const 1 throw $oops)
            (func (export "grow") (result i32) i32.const 5 memory.grow))"#,
    )
    .unwrap();
    let instance = linker.instantiate(&mut store, &module).unwrap();
    assert_eq!(
        call(&mut store, instance, "run", &[]).unwrap(),
        [Val::I32(42)]
    );
    assert_eq!(counter.get(&store), Val::I32(11));
    assert_eq!(&memory.data(&store)[8..12], &42i32.to_le_bytes());
    // The memory's own maximum (2 pages) bounds memory.grow.
    assert_eq!(
        call(&mut store, instance, "grow", &[]).unwrap(),
        [Val::I32(-1)]
    );
    match call(&mut store, instance, "throw", &[]) {
        Err(Error::Exception(exn)) => assert_eq!(exn.tag(), tag),
        other => panic!("expected an exception, got {other:?}"),
    }
    // An immutable import of a mutable global does not link (Wasm 3.0 §3.4.2).
    let wants_const = Module::new(&engine, r#"(module (import "env" "g" (global i32)))"#).unwrap();
    let err = Instance::new(&mut store, &wants_const, &[counter.into()]).unwrap_err();
    assert!(matches!(err, Error::Link(_)), "{err:?}");
    // Entities of another store are refused.
    let mut other = Store::new(&engine, ());
    let err = Instance::new(&mut other, &wants_const, &[counter.into()]).unwrap_err();
    assert!(matches!(err, Error::Usage(_)), "{err:?}");
}

#[test]
fn table_api_grows_and_bounds_checks() {
    let (mut store, instance) = instantiate(
        r#"(module (table (export "t") 1 3 funcref)
             (func (export "size") (result i32) table.size 0))"#,
    );
    let table = instance.get_table(&store, "t").unwrap();
    assert_eq!(table.size(&store), 1);
    assert_eq!(table.grow(&mut store, 2, Val::FuncRef(None)).unwrap(), 1);
    assert_eq!(
        call(&mut store, instance, "size", &[]).unwrap(),
        [Val::I32(3)]
    );
    assert!(table.grow(&mut store, 1, Val::FuncRef(None)).is_err());
    assert_eq!(table.get(&store, 2), Some(Val::FuncRef(None)));
    assert_eq!(table.get(&store, 3), None);
    assert!(table.set(&mut store, 3, Val::FuncRef(None)).is_err());
    assert!(table.set(&mut store, 0, Val::ExternRef(None)).is_err());
}

/// A host function that calls back into wasm nests interpreter invocations
/// on the host stack; endless re-entry must end in a trap, not a host stack
/// overflow, and each nesting counts toward `max_call_depth`.
#[test]
fn host_reentry_is_bounded() {
    let wat = r#"(module
        (import "host" "again" (func $again))
        (func (export "f") (call $again)))"#;
    let define = |l: &mut Linker<()>| {
        l.func_wrap(
            "host",
            "again",
            |caller: Caller<'_, ()>| -> Result<(), Error> {
                let f = caller
                    .get_export("f")
                    .and_then(Extern::into_func)
                    .ok_or_else(|| Error::Usage("no export f".into()))?;
                let mut caller = caller;
                f.call(&mut caller, &[], &mut [])
            },
        )
        .expect("define");
    };
    for depth in [10, 1_000_000] {
        let mut config = Config::new();
        config.max_call_depth(depth);
        let (mut store, instance) =
            instantiate_with(&config, (), wat, define).expect("instantiate");
        let trap = expect_trap(call(&mut store, instance, "f", &[]));
        assert_eq!(trap.kind(), TrapKind::StackExhausted);
    }
}

/// `max_call_depth(n)` allows exactly `n` live activations.
#[test]
fn call_depth_limit_is_exact() {
    let wat = r#"(module
        (func $down (export "down") (param i32)
          (if (local.get 0) (then (call $down (i32.sub (local.get 0) (i32.const 1)))))))"#;
    let mut config = Config::new();
    config.max_call_depth(5);
    let (mut store, instance) = instantiate_with(&config, (), wat, |_| {}).expect("instantiate");
    // down(4) has activations 4,3,2,1,0: five.
    assert!(call(&mut store, instance, "down", &[Val::I32(4)]).is_ok());
    let trap = expect_trap(call(&mut store, instance, "down", &[Val::I32(5)]));
    assert_eq!(trap.kind(), TrapKind::StackExhausted);
}

/// `v128` values cross the host boundary whole, in both directions and
/// mixed with scalars (two cells each inside): arguments and results of
/// exports and of host functions, globals, and exception payloads.
#[test]
fn v128_values_cross_the_host_boundary() {
    let x: u128 = 0x0f0e_0d0c_0b0a_0908_0706_0504_0302_0100;
    let y: u128 = 0xffee_ddcc_bbaa_9988_7766_5544_3322_1100;
    let wat = r#"(module
        (import "host" "swap" (func $swap (param v128 i32 v128) (result v128 i64 v128)))
        (global $g (export "g") (mut v128) (v128.const i64x2 7 8))
        (tag $t (export "t") (param i32 v128))
        (func (export "mix") (param $a v128) (param $n i32) (param $b v128)
            (result v128 i64 v128)
            (local $tmp v128)
            (local.set $tmp (i8x16.add (local.get $a) (local.get $b)))
            (global.set $g (local.get $tmp))
            (call $swap (local.get $a) (local.get $n) (local.get $b)))
        (func (export "throw") (param v128)
            (throw $t (i32.const 5) (local.get 0))))"#;
    // The JIT leaves a v128 module to the interpreter: the same on both.
    for config in [interpreter(), Config::new()] {
        let (mut store, instance) = instantiate_with(&config, (), wat, |l| {
            let ty = FuncType::new(
                [ValType::V128, ValType::I32, ValType::V128],
                [ValType::V128, ValType::I64, ValType::V128],
            );
            l.func_new("host", "swap", ty, |_caller, params, results| {
                results[0] = params[2];
                if let Val::I32(n) = params[1] {
                    results[1] = Val::I64(i64::from(n) * 2);
                }
                results[2] = params[0];
                Ok(())
            })
            .expect("define");
        })
        .expect("instantiate");
        let out = call(
            &mut store,
            instance,
            "mix",
            &[Val::V128(x), Val::I32(21), Val::V128(y)],
        )
        .expect("call");
        assert_eq!(out, vec![Val::V128(y), Val::I64(42), Val::V128(x)]);
        // i8x16.add lane by lane, wrapping.
        let sum = (0..16).fold(0u128, |v, i| {
            let lane = |w: u128| (w >> (8 * i)) as u8;
            v | (u128::from(lane(x).wrapping_add(lane(y))) << (8 * i))
        });
        let g = instance.get_global(&store, "g").expect("global");
        assert_eq!(g.get(&store), Val::V128(sum));
        g.set(&mut store, Val::V128(x)).expect("set");
        assert_eq!(g.get(&store), Val::V128(x));
        match call(&mut store, instance, "throw", &[Val::V128(y)]) {
            Err(Error::Exception(exn)) => {
                assert_eq!(exn.payload(&store), vec![Val::I32(5), Val::V128(y)]);
            }
            other => panic!("expected an exception, got {other:?}"),
        }
    }
}
