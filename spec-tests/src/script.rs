//! Running one `.wast` script: every directive of the official suites
//! against one fresh store, each producing a [`Case`] outcome.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use wast::core::{NanPattern, WastArgCore, WastRetCore};
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat};
use wrun_runtime::{
    CompileErrorKind, Config, Engine, Error, Extern, Func, FuncType, Global, GlobalType, Instance,
    Linker, Memory, MemoryType, Module, RefType, Store, Table, TableType, TrapKind, Val, ValType,
};

/// How one directive fared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The assertion held (or the command succeeded).
    Pass,
    /// It did not; the message says what happened instead.
    Fail(String),
    /// Not run, with the reason (e.g. threads).
    Skip(String),
}

/// One directive of a script, identified by its line.
#[derive(Clone, Debug)]
pub struct Case {
    /// 1-based line of the directive.
    pub line: usize,
    /// The directive's name (`assert_return`, `module`, …).
    pub directive: &'static str,
    /// The result.
    pub outcome: Outcome,
}

/// Runs a whole script on a fresh engine built from `config`; a script that
/// does not parse is one failed case.
pub fn run_script(text: &str, config: &Config) -> Vec<Case> {
    let text = &*crate::legacy_try::unfold(text);
    let mut lexer = wast::lexer::Lexer::new(text);
    lexer.allow_confusing_unicode(true);
    let buf = match wast::parser::ParseBuffer::new_with_lexer(lexer) {
        Ok(b) => b,
        Err(e) => return vec![parse_failure(text, e)],
    };
    let wast: Wast<'_> = match wast::parser::parse(&buf) {
        Ok(w) => w,
        Err(e) => return vec![parse_failure(text, e)],
    };
    let mut runner = ScriptRunner::new(config);
    let mut cases = Vec::with_capacity(wast.directives.len());
    for directive in wast.directives {
        let (line, _) = directive.span().linecol_in(text);
        let name = directive_name(&directive);
        let outcome = match catch_unwind(AssertUnwindSafe(|| runner.run(directive))) {
            Ok(o) => o,
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                Outcome::Fail(format!("PANIC in wrun: {msg}"))
            }
        };
        cases.push(Case {
            line: line + 1,
            directive: name,
            outcome,
        });
    }
    cases
}

fn parse_failure(text: &str, mut e: wast::Error) -> Case {
    e.set_text(text);
    Case {
        line: 0,
        directive: "parse",
        outcome: Outcome::Fail(format!("script does not parse: {e}")),
    }
}

fn directive_name(d: &WastDirective<'_>) -> &'static str {
    match d {
        WastDirective::Module(_) => "module",
        WastDirective::ModuleDefinition(_) => "module definition",
        WastDirective::ModuleInstance { .. } => "module instance",
        WastDirective::AssertMalformed { .. } => "assert_malformed",
        WastDirective::AssertInvalid { .. } => "assert_invalid",
        WastDirective::AssertInvalidCustom { .. } => "assert_invalid_custom",
        WastDirective::AssertMalformedCustom { .. } => "assert_malformed_custom",
        WastDirective::Register { .. } => "register",
        WastDirective::Invoke(_) => "invoke",
        WastDirective::AssertTrap { .. } => "assert_trap",
        WastDirective::AssertReturn { .. } => "assert_return",
        WastDirective::AssertExhaustion { .. } => "assert_exhaustion",
        WastDirective::AssertUnlinkable { .. } => "assert_unlinkable",
        WastDirective::AssertException { .. } => "assert_exception",
        WastDirective::AssertSuspension { .. } => "assert_suspension",
        WastDirective::Thread(_) => "thread",
        WastDirective::Wait { .. } => "wait",
    }
}

struct ScriptRunner {
    engine: Engine,
    store: Store<()>,
    linker: Linker<()>,
    current: Option<Instance>,
    instances: HashMap<String, Instance>,
    definitions: HashMap<String, Module>,
    last_definition: Option<Module>,
}

/// The result of executing an invoke/get/module action.
type ExecResult = Result<Vec<Val>, Error>;

impl ScriptRunner {
    fn new(config: &Config) -> ScriptRunner {
        let engine = Engine::new(config);
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        linker.allow_shadowing(true);
        if let Err(e) = define_spectest(&mut store, &mut linker) {
            // Defining the host module cannot fail on valid types; if it
            // does, every case that imports from it reports the link error.
            eprintln!("wrun spec: cannot define spectest: {e}");
        }
        ScriptRunner {
            engine,
            store,
            linker,
            current: None,
            instances: HashMap::new(),
            definitions: HashMap::new(),
            last_definition: None,
        }
    }

    fn run(&mut self, directive: WastDirective<'_>) -> Outcome {
        match directive {
            WastDirective::Module(mut quote) => {
                let id = quote_id(&quote);
                match self.compile(&mut quote).and_then(|m| self.instantiate(&m)) {
                    Ok(inst) => {
                        self.current = Some(inst);
                        if let Some(id) = id {
                            self.instances.insert(id, inst);
                        }
                        Outcome::Pass
                    }
                    Err(e) => {
                        self.current = None;
                        Outcome::Fail(format!("module failed: {e}"))
                    }
                }
            }
            WastDirective::ModuleDefinition(mut quote) => {
                let id = quote_id(&quote);
                match self.compile(&mut quote) {
                    Ok(m) => {
                        if let Some(id) = id {
                            self.definitions.insert(id, m.clone());
                        }
                        self.last_definition = Some(m);
                        Outcome::Pass
                    }
                    Err(e) => Outcome::Fail(format!("module definition failed: {e}")),
                }
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                let def = match module {
                    Some(id) => self.definitions.get(id.name()).cloned(),
                    None => self.last_definition.clone(),
                };
                let Some(def) = def else {
                    return Outcome::Fail("no such module definition".into());
                };
                match self.instantiate(&def) {
                    Ok(inst) => {
                        self.current = Some(inst);
                        if let Some(id) = instance {
                            self.instances.insert(id.name().to_string(), inst);
                        }
                        Outcome::Pass
                    }
                    Err(e) => Outcome::Fail(format!("module instance failed: {e}")),
                }
            }
            WastDirective::Register { name, module, .. } => {
                let inst = match module {
                    Some(id) => self.instances.get(id.name()).copied(),
                    None => self.current,
                };
                let Some(inst) = inst else {
                    return Outcome::Fail("register: no such instance".into());
                };
                match self.linker.instance(&mut self.store, name, inst) {
                    Ok(_) => Outcome::Pass,
                    Err(e) => Outcome::Fail(format!("register failed: {e}")),
                }
            }
            WastDirective::Invoke(invoke) => match self.invoke(&invoke) {
                Ok(_) => Outcome::Pass,
                Err(e) => Outcome::Fail(format!("invoke failed: {e}")),
            },
            WastDirective::AssertReturn { exec, results, .. } => match self.execute(exec) {
                Ok(values) => check_results(&values, &results),
                Err(e) => Outcome::Fail(format!("expected results, got error: {e}")),
            },
            WastDirective::AssertTrap { exec, message, .. } => match self.execute(exec) {
                Ok(values) => Outcome::Fail(format!("expected trap `{message}`, got {values:?}")),
                Err(Error::Trap(t)) => {
                    let ours = t.kind().message();
                    if message.contains(ours) || ours.contains(message) {
                        Outcome::Pass
                    } else {
                        Outcome::Fail(format!("expected trap `{message}`, got `{ours}`"))
                    }
                }
                Err(e) => Outcome::Fail(format!("expected trap `{message}`, got error: {e}")),
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call) {
                Err(Error::Trap(t)) if t.kind() == TrapKind::StackExhausted => Outcome::Pass,
                Ok(v) => Outcome::Fail(format!("expected `{message}`, got {v:?}")),
                Err(e) => Outcome::Fail(format!("expected `{message}`, got: {e}")),
            },
            WastDirective::AssertException { exec, .. } => match self.execute(exec) {
                Err(Error::Exception(_)) => Outcome::Pass,
                Ok(v) => Outcome::Fail(format!("expected an exception, got {v:?}")),
                Err(e) => Outcome::Fail(format!("expected an exception, got: {e}")),
            },
            WastDirective::AssertInvalid {
                mut module,
                message,
                ..
            }
            | WastDirective::AssertMalformed {
                mut module,
                message,
                ..
            } => match module.encode() {
                // The text could not be encoded: rejected as the test wants.
                Err(_) => Outcome::Pass,
                Ok(binary) => match counted(Module::new(&self.engine, &binary)) {
                    Ok(_) => Outcome::Fail(format!("module accepted; expected `{message}`")),
                    Err(Error::Compile(c)) if c.kind != CompileErrorKind::Unsupported => {
                        Outcome::Pass
                    }
                    Err(e) => Outcome::Fail(format!("expected `{message}`, got: {e}")),
                },
            },
            WastDirective::AssertUnlinkable {
                mut module,
                message,
                ..
            } => match module.encode() {
                Err(e) => Outcome::Fail(format!("cannot encode module: {e}")),
                Ok(binary) => match counted(Module::new(&self.engine, &binary)) {
                    Err(e) => Outcome::Fail(format!("module did not compile: {e}")),
                    Ok(m) => match self.instantiate(&m) {
                        Err(Error::Link(_)) => Outcome::Pass,
                        Ok(_) => Outcome::Fail(format!("module linked; expected `{message}`")),
                        Err(e) => Outcome::Fail(format!("expected `{message}`, got: {e}")),
                    },
                },
            },
            WastDirective::AssertInvalidCustom { .. }
            | WastDirective::AssertMalformedCustom { .. } => {
                Outcome::Skip("custom sections are not interpreted by wrun".into())
            }
            WastDirective::AssertSuspension { .. } => {
                Outcome::Skip("stack switching is not a Wasm 3.0 feature".into())
            }
            WastDirective::Thread(_) | WastDirective::Wait { .. } => {
                Outcome::Skip("threads are not supported".into())
            }
        }
    }

    fn compile(&self, quote: &mut QuoteWat<'_>) -> Result<Module, Error> {
        if matches!(
            quote,
            QuoteWat::QuoteComponent(..) | QuoteWat::Wat(Wat::Component(_))
        ) {
            return Err(Error::Usage("components are not supported".into()));
        }
        let binary = quote
            .encode()
            .map_err(|e| Error::Usage(format!("cannot encode module: {e}")))?;
        counted(Module::new(&self.engine, &binary))
    }

    fn instantiate(&mut self, module: &Module) -> Result<Instance, Error> {
        self.linker.instantiate(&mut self.store, module)
    }

    fn instance(&self, id: Option<wast::token::Id<'_>>) -> Result<Instance, Error> {
        match id {
            Some(id) => self
                .instances
                .get(id.name())
                .copied()
                .ok_or_else(|| Error::Usage(format!("unknown module ${}", id.name()))),
            None => self
                .current
                .ok_or_else(|| Error::Usage("no current module".into())),
        }
    }

    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> ExecResult {
        let inst = self.instance(invoke.module)?;
        let func: Func = inst
            .get_func(&self.store, invoke.name)
            .ok_or_else(|| Error::Usage(format!("no exported function `{}`", invoke.name)))?;
        let args = invoke
            .args
            .iter()
            .map(arg_value)
            .collect::<Result<Vec<_>, _>>()?;
        let n = func.ty(&self.store).results().len();
        let mut results = vec![Val::I32(0); n];
        func.call(&mut self.store, &args, &mut results)?;
        Ok(results)
    }

    fn execute(&mut self, exec: WastExecute<'_>) -> ExecResult {
        match exec {
            WastExecute::Invoke(invoke) => self.invoke(&invoke),
            WastExecute::Wat(mut wat) => {
                let binary = wat
                    .encode()
                    .map_err(|e| Error::Usage(format!("cannot encode module: {e}")))?;
                let module = counted(Module::new(&self.engine, &binary))?;
                self.instantiate(&module).map(|_| Vec::new())
            }
            WastExecute::Get { module, global, .. } => {
                let inst = self.instance(module)?;
                let g = inst
                    .get_global(&self.store, global)
                    .ok_or_else(|| Error::Usage(format!("no exported global `{global}`")))?;
                Ok(vec![g.get(&self.store)])
            }
        }
    }
}

fn quote_id(q: &QuoteWat<'_>) -> Option<String> {
    match q {
        QuoteWat::Wat(Wat::Module(m)) => m.id.map(|id| id.name().to_string()),
        _ => None,
    }
}

fn null_of_heap(h: &wast::core::HeapType<'_>) -> Val {
    use wast::core::AbstractHeapType as A;
    match h {
        wast::core::HeapType::Abstract { ty, .. } => match ty {
            A::Func | A::NoFunc => Val::FuncRef(None),
            A::Extern | A::NoExtern => Val::ExternRef(None),
            A::Exn | A::NoExn => Val::ExnRef(None),
            _ => Val::AnyRef(None),
        },
        _ => Val::FuncRef(None),
    }
}

fn arg_value(arg: &WastArg<'_>) -> Result<Val, Error> {
    let WastArg::Core(core) = arg else {
        return Err(Error::Usage("component values are not supported".into()));
    };
    Ok(match core {
        WastArgCore::I32(x) => Val::I32(*x),
        WastArgCore::I64(x) => Val::I64(*x),
        WastArgCore::F32(x) => Val::F32(x.bits),
        WastArgCore::F64(x) => Val::F64(x.bits),
        WastArgCore::V128(v) => Val::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(h) => null_of_heap(h),
        WastArgCore::RefExtern(n) | WastArgCore::RefHost(n) => Val::ExternRef(Some(u64::from(*n))),
    })
}

fn check_results(values: &[Val], expected: &[WastRet<'_>]) -> Outcome {
    if values.len() != expected.len() {
        return Outcome::Fail(format!(
            "expected {} results, got {}: {values:?}",
            expected.len(),
            values.len()
        ));
    }
    for (i, (v, e)) in values.iter().zip(expected).enumerate() {
        let WastRet::Core(e) = e else {
            return Outcome::Fail("component results are not supported".into());
        };
        if !matches_ret(v, e) {
            return Outcome::Fail(format!("result {i}: expected {e:?}, got {v:?}"));
        }
    }
    Outcome::Pass
}

fn f32_matches(bits: u32, p: &NanPattern<wast::token::F32>) -> bool {
    match p {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff == 0x7fc0_0000,
        NanPattern::ArithmeticNan => bits & 0x7fc0_0000 == 0x7fc0_0000,
        NanPattern::Value(v) => bits == v.bits,
    }
}

fn f64_matches(bits: u64, p: &NanPattern<wast::token::F64>) -> bool {
    match p {
        NanPattern::CanonicalNan => bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000,
        NanPattern::ArithmeticNan => bits & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000,
        NanPattern::Value(v) => bits == v.bits,
    }
}

/// A `v128` result against a lane pattern (lane 0 in the low bits); float
/// lanes may be NaN patterns.
fn v128_matches(v: u128, p: &wast::core::V128Pattern) -> bool {
    use wast::core::V128Pattern as P;
    let lane = |bits: u32, i: usize| (v >> (bits as usize * i)) as u64;
    match p {
        P::I8x16(l) => l
            .iter()
            .enumerate()
            .all(|(i, x)| lane(8, i) as u8 == *x as u8),
        P::I16x8(l) => l
            .iter()
            .enumerate()
            .all(|(i, x)| lane(16, i) as u16 == *x as u16),
        P::I32x4(l) => l
            .iter()
            .enumerate()
            .all(|(i, x)| lane(32, i) as u32 == *x as u32),
        P::I64x2(l) => l.iter().enumerate().all(|(i, x)| lane(64, i) == *x as u64),
        P::F32x4(l) => l
            .iter()
            .enumerate()
            .all(|(i, p)| f32_matches(lane(32, i) as u32, p)),
        P::F64x2(l) => l
            .iter()
            .enumerate()
            .all(|(i, p)| f64_matches(lane(64, i), p)),
    }
}

fn matches_ret(v: &Val, e: &WastRetCore<'_>) -> bool {
    match (e, v) {
        (WastRetCore::I32(x), Val::I32(y)) => x == y,
        (WastRetCore::I64(x), Val::I64(y)) => x == y,
        (WastRetCore::F32(p), Val::F32(bits)) => f32_matches(*bits, p),
        (WastRetCore::F64(p), Val::F64(bits)) => f64_matches(*bits, p),
        (WastRetCore::V128(p), Val::V128(v)) => v128_matches(*v, p),
        (WastRetCore::RefNull(_), v) => v.is_null_ref(),
        (WastRetCore::RefExtern(None), Val::ExternRef(Some(_))) => true,
        (WastRetCore::RefExtern(Some(n)), Val::ExternRef(Some(m)))
        | (WastRetCore::RefHost(n), Val::ExternRef(Some(m))) => u64::from(*n) == *m,
        (WastRetCore::RefFunc(_), Val::FuncRef(Some(_))) => true,
        (
            WastRetCore::RefAny
            | WastRetCore::RefEq
            | WastRetCore::RefArray
            | WastRetCore::RefStruct
            | WastRetCore::RefI31,
            Val::AnyRef(Some(_)),
        ) => true,
        (WastRetCore::Either(options), v) => options.iter().any(|o| matches_ret(v, o)),
        _ => false,
    }
}

/// The `spectest` host module every suite imports from.
fn define_spectest(store: &mut Store<()>, linker: &mut Linker<()>) -> Result<(), Error> {
    let prints: [(&str, Vec<ValType>); 7] = [
        ("print", vec![]),
        ("print_i32", vec![ValType::I32]),
        ("print_i64", vec![ValType::I64]),
        ("print_f32", vec![ValType::F32]),
        ("print_f64", vec![ValType::F64]),
        ("print_i32_f32", vec![ValType::I32, ValType::F32]),
        ("print_f64_f64", vec![ValType::F64, ValType::F64]),
    ];
    for (name, params) in prints {
        linker.func_new(
            "spectest",
            name,
            FuncType::new(params, []),
            |_, _, _| Ok(()),
        )?;
    }
    let globals = [
        ("global_i32", ValType::I32, Val::I32(666)),
        ("global_i64", ValType::I64, Val::I64(666)),
        ("global_f32", ValType::F32, Val::F32(666.6f32.to_bits())),
        ("global_f64", ValType::F64, Val::F64(666.6f64.to_bits())),
    ];
    for (name, ty, v) in globals {
        let g = Global::new(
            &mut *store,
            GlobalType {
                content: ty,
                mutable: false,
            },
            v,
        )?;
        linker.define("spectest", name, g)?;
    }
    let table = Table::new(
        &mut *store,
        TableType {
            element: RefType::FUNCREF,
            min: 10,
            max: Some(20),
            table64: false,
        },
        Val::FuncRef(None),
    )?;
    linker.define("spectest", "table", Extern::Table(table))?;
    let table64 = Table::new(
        &mut *store,
        TableType {
            element: RefType::FUNCREF,
            min: 10,
            max: Some(20),
            table64: true,
        },
        Val::FuncRef(None),
    )?;
    linker.define("spectest", "table64", Extern::Table(table64))?;
    let memory = Memory::new(&mut *store, MemoryType::new(1, Some(2)))?;
    linker.define("spectest", "memory", Extern::Memory(memory))?;
    Ok(())
}

/// Modules created, and how many of them the JIT compiled whole (counted
/// for `wrun spec --engine jit`'s last line).
pub(crate) static MODULES: [std::sync::atomic::AtomicUsize; 2] = [
    std::sync::atomic::AtomicUsize::new(0),
    std::sync::atomic::AtomicUsize::new(0),
];

fn counted(module: Result<Module, Error>) -> Result<Module, Error> {
    use std::sync::atomic::Ordering::Relaxed;
    if let Ok(m) = &module {
        MODULES[0].fetch_add(1, Relaxed);
        if m.is_compiled() {
            MODULES[1].fetch_add(1, Relaxed);
        } else if let Some(why) = m.jit_fallback()
            && std::env::var("WRUN_LOG").is_ok_and(|v| v.split(',').any(|t| t.trim() == "jit"))
        {
            // Which modules fall back, and why (`WRUN_LOG=jit wrun spec`).
            eprintln!("jit: interpreter for a module: {why}");
        }
    }
    module
}
