//! The engines a workload runs on, behind one small interface: compile and
//! instantiate once, then call `run(n)` as often as needed.

use std::time::{Duration, Instant};

/// A workload instantiated on one engine.
pub trait Runner {
    /// Calls `run(n)`; returns the result and the time the call took.
    fn call(&mut self, n: i32) -> Result<(i64, Duration), String>;
    /// How long compiling the module took (validation and code generation;
    /// not instantiation).
    fn compile_time(&self) -> Duration;
}

/// Compiles and instantiates a workload's source on one engine.
pub type Prepare = fn(&[u8]) -> Result<Box<dyn Runner>, String>;

/// An engine of the table: its column name, how it prepares a workload,
/// and whether it may decline one (then its column says why).
pub struct EngineEntry {
    pub name: &'static str,
    pub prepare: Prepare,
    pub may_decline: bool,
}

/// The engines in table order.
pub const ENGINES: &[EngineEntry] = &[
    EngineEntry {
        name: "wrun",
        prepare: Wrun::prepare_interp,
        may_decline: false,
    },
    EngineEntry {
        name: "wrun-jit",
        prepare: Wrun::prepare_jit,
        may_decline: true,
    },
    EngineEntry {
        name: "wasmi",
        prepare: Wasmi::prepare,
        may_decline: false,
    },
    EngineEntry {
        name: "wasm3",
        prepare: ScriptEngine::prepare_wasm3,
        may_decline: false,
    },
    EngineEntry {
        name: "wasmtime",
        prepare: ScriptEngine::prepare_wasmtime,
        may_decline: false,
    },
];

/// wrun with its interpreter or its JIT.
struct Wrun {
    store: wrun_runtime::Store<()>,
    run: wrun_runtime::Func,
    compiled_in: Duration,
}

impl Wrun {
    fn prepare_interp(source: &[u8]) -> Result<Box<dyn Runner>, String> {
        Wrun::prepare(source, wrun_runtime::Strategy::Interp)
    }

    /// Declines a module the JIT does not compile whole (it would run on
    /// the interpreter and be measured under the wrong name).
    fn prepare_jit(source: &[u8]) -> Result<Box<dyn Runner>, String> {
        Wrun::prepare(source, wrun_runtime::Strategy::Jit)
    }

    fn prepare(source: &[u8], strategy: wrun_runtime::Strategy) -> Result<Box<dyn Runner>, String> {
        use wrun_runtime::{Config, Engine, Linker, Module, Store, Strategy};
        let mut config = Config::default();
        config.strategy(strategy);
        let engine = Engine::new(&config);
        let start = Instant::now();
        let module = Module::new(&engine, source).map_err(|e| e.to_string())?;
        let compiled_in = start.elapsed();
        if strategy == Strategy::Jit && !module.is_compiled() {
            return Err(format!(
                "not compiled: {}",
                module.jit_fallback().unwrap_or("the JIT declined it")
            ));
        }
        let mut store = Store::new(&engine, ());
        let instance = Linker::new(&engine)
            .instantiate(&mut store, &module)
            .map_err(|e| e.to_string())?;
        let run = instance.get_func(&store, "run").ok_or("no `run` export")?;
        Ok(Box::new(Wrun {
            store,
            run,
            compiled_in,
        }))
    }
}

impl Runner for Wrun {
    fn call(&mut self, n: i32) -> Result<(i64, Duration), String> {
        use wrun_runtime::Val;
        let mut out = [Val::I64(0)];
        let start = Instant::now();
        self.run
            .call(&mut self.store, &[Val::I32(n)], &mut out)
            .map_err(|e| e.to_string())?;
        let elapsed = start.elapsed();
        match out {
            [Val::I64(x)] => Ok((x, elapsed)),
            other => Err(format!("`run` returned {other:?}")),
        }
    }

    fn compile_time(&self) -> Duration {
        self.compiled_in
    }
}

/// wasmi with its default configuration.
struct Wasmi {
    store: wasmi::Store<()>,
    run: wasmi::TypedFunc<i32, i64>,
    compiled_in: Duration,
}

impl Wasmi {
    fn prepare(source: &[u8]) -> Result<Box<dyn Runner>, String> {
        use wasmi::{Engine, Linker, Module, Store};
        let engine = Engine::default();
        let start = Instant::now();
        let module = Module::new(&engine, source).map_err(|e| e.to_string())?;
        let compiled_in = start.elapsed();
        let mut store = Store::new(&engine, ());
        let instance = Linker::<()>::new(&engine)
            .instantiate_and_start(&mut store, &module)
            .map_err(|e| e.to_string())?;
        let run = instance
            .get_typed_func::<i32, i64>(&store, "run")
            .map_err(|e| e.to_string())?;
        Ok(Box::new(Wasmi {
            store,
            run,
            compiled_in,
        }))
    }
}

impl Runner for Wasmi {
    fn call(&mut self, n: i32) -> Result<(i64, Duration), String> {
        let start = Instant::now();
        let x = self
            .run
            .call(&mut self.store, n)
            .map_err(|e| e.to_string())?;
        Ok((x, start.elapsed()))
    }

    fn compile_time(&self) -> Duration {
        self.compiled_in
    }
}

/// An engine served by a Python script of `scripts/` over a pipe: the
/// script compiles the module, prints `ready NANOSECONDS`, then answers
/// each line `n` with `result nanoseconds`, timing the call itself, so
/// neither the pipe nor Python is counted.
struct ScriptEngine {
    /// The column name.
    name: &'static str,
    /// The virtualenv (under the workspace root) whose python runs it.
    venv: &'static str,
    /// The script under `scripts/`.
    script: &'static str,
    /// The script that installs the engine.
    install: &'static str,
}

/// wasmtime (Cranelift, default configuration) through PyPI's prebuilt
/// wasmtime C API (`scripts/wasmtime-bench.py`; `scripts/wasmtime.sh`
/// installs it, `scripts/test.sh` does).
const WASMTIME: ScriptEngine = ScriptEngine {
    name: "wasmtime",
    venv: "target/tools/wasmtime-py",
    script: "wasmtime-bench.py",
    install: "scripts/wasmtime.sh",
};

/// wasm3 through its project's Python binding, PyPI's `pywasm3`, whose
/// C sources pip compiles with -O3 (`scripts/wasm3-bench.py`;
/// `scripts/wasm3.sh` installs it, `scripts/test.sh` does).
const WASM3: ScriptEngine = ScriptEngine {
    name: "wasm3",
    venv: "target/tools/wasm3-py",
    script: "wasm3-bench.py",
    install: "scripts/wasm3.sh",
};

/// A workload compiled and instantiated by a [`ScriptEngine`].
struct ScriptRunner {
    engine: &'static ScriptEngine,
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::BufReader<std::process::ChildStdout>,
    /// The module's file, removed when the runner goes.
    source_file: std::path::PathBuf,
    /// As timed by the script.
    compiled_in: Duration,
}

impl ScriptEngine {
    fn prepare_wasmtime(binary: &[u8]) -> Result<Box<dyn Runner>, String> {
        WASMTIME.prepare(binary)
    }

    fn prepare_wasm3(binary: &[u8]) -> Result<Box<dyn Runner>, String> {
        WASM3.prepare(binary)
    }

    fn prepare(&'static self, binary: &[u8]) -> Result<Box<dyn Runner>, String> {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .ok_or("no workspace root")?;
        let python = root.join(self.venv).join("bin/python");
        if !python.is_file() {
            return Err(format!(
                "{} is not installed: run `bash {}`",
                self.name, self.install
            ));
        }
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let source_file = std::env::temp_dir().join(format!(
            "wrun-bench-{}-{}.wasm",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        ));
        std::fs::write(&source_file, binary).map_err(|e| e.to_string())?;
        let mut child = Command::new(python)
            .arg(root.join("scripts").join(self.script))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.script))?;
        let mut input = child.stdin.take().ok_or("no stdin")?;
        let output = std::io::BufReader::new(child.stdout.take().ok_or("no stdout")?);
        writeln!(input, "{}", source_file.display()).map_err(|e| e.to_string())?;
        let mut runner = ScriptRunner {
            engine: self,
            child,
            input,
            output,
            source_file,
            compiled_in: Duration::ZERO,
        };
        let reply = runner.reply()?;
        match reply.split_once(' ') {
            Some(("ready", nanos)) => {
                let nanos = nanos.parse().map_err(|_| reply.clone())?;
                runner.compiled_in = Duration::from_nanos(nanos);
                Ok(Box::new(runner))
            }
            _ => Err(reply),
        }
    }
}

impl ScriptRunner {
    fn reply(&mut self) -> Result<String, String> {
        use std::io::BufRead;
        let mut line = String::new();
        self.output
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        if line.is_empty() {
            return Err(format!("{} ended", self.engine.script));
        }
        Ok(line.trim_end().to_string())
    }
}

impl Runner for ScriptRunner {
    fn call(&mut self, n: i32) -> Result<(i64, Duration), String> {
        use std::io::Write;
        writeln!(self.input, "{n}").map_err(|e| e.to_string())?;
        let line = self.reply()?;
        let parsed = line
            .split_once(' ')
            .and_then(|(r, ns)| Some((r.parse::<i64>().ok()?, ns.parse::<u64>().ok()?)));
        match parsed {
            Some((result, nanos)) => Ok((result, Duration::from_nanos(nanos))),
            None => Err(line),
        }
    }

    fn compile_time(&self) -> Duration {
        self.compiled_in
    }
}

impl Drop for ScriptRunner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.source_file);
    }
}

/// The workload's native version, as a reference point.
pub struct Native(pub fn(i32) -> i64);

impl Runner for Native {
    fn call(&mut self, n: i32) -> Result<(i64, Duration), String> {
        let start = Instant::now();
        let x = (self.0)(std::hint::black_box(n));
        Ok((std::hint::black_box(x), start.elapsed()))
    }

    /// Compiled ahead of time with the harness.
    fn compile_time(&self) -> Duration {
        Duration::ZERO
    }
}
