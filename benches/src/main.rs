//! `wrun-bench`: runs each workload on wrun's interpreter, on wrun's JIT
//! (only where it compiles the module whole; otherwise its column says
//! "declined" and stderr says why), on wasmi, on wasm3 (PyPI's pywasm3,
//! installed by `scripts/wasm3.sh`), on wasmtime (PyPI's prebuilt
//! wasmtime, installed by `scripts/wasmtime.sh`) and natively, several
//! times, interleaved, checks that every run computes the native result,
//! and prints median times, the ratios to the peers with their geometric
//! means, and how much the timed runs spread.
//!
//! ```text
//! cargo run --release -p wrun-benches              # measurement sizes
//! cargo run --release -p wrun-benches -- --quick   # tiny sizes, seconds
//! ```

mod engines;
mod workloads;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use engines::{ENGINES, Native, Runner};
use workloads::{WORKLOADS, Workload};

#[derive(Parser, Debug)]
#[command(
    name = "wrun-bench",
    about = "wrun's interpreter and JIT against wasmi, wasm3, wasmtime and native, side by side"
)]
struct Args {
    /// Tiny sizes and one repetition: proves the harness works, in seconds.
    #[arg(long)]
    quick: bool,
    /// Timed calls per engine and workload (the median is reported).
    #[arg(long, value_name = "N")]
    reps: Option<usize>,
    /// Run only these workloads (default: all, or none with --module).
    #[arg(value_name = "WORKLOAD")]
    only: Vec<String>,
    /// Also run this module (`.wasm` or `.wat`) exporting `run(n: i32) ->
    /// i64`, checking every engine against wrun's interpreter. Repeatable.
    #[arg(long, value_name = "FILE")]
    module: Vec<std::path::PathBuf>,
    /// The `n` passed to every --module's `run`.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    n: i32,
}

/// One engine's figures for one workload.
struct Measured {
    engine: &'static str,
    /// `None` when the engine declined the workload.
    median: Option<Duration>,
    /// (slowest − fastest) ÷ median of the timed calls: how steady the
    /// figure is (0 for a declined engine).
    spread: f64,
    /// Compiling the module (`None` for native and declined engines).
    compile: Option<Duration>,
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn spread(times: &[Duration]) -> f64 {
    let (Some(fastest), Some(slowest)) = (times.iter().min(), times.iter().max()) else {
        return 0.0;
    };
    (*slowest - *fastest).as_secs_f64() / median(times.to_vec()).as_secs_f64().max(1e-9)
}

/// The main table's time columns: header and engine.
const TIME_COLUMNS: [(&str, &str); 6] = [
    ("wrun ms", "wrun"),
    ("jit ms", "wrun-jit"),
    ("wasmi ms", "wasmi"),
    ("wasm3 ms", "wasm3"),
    ("wasmtime ms", "wasmtime"),
    ("native ms", "native"),
];

/// The main table's ratio columns: header, engine, peer. The last row
/// gives each one's geometric mean over the workloads.
const RATIO_COLUMNS: [(&str, &str, &str); 6] = [
    ("wrun/wasmi", "wrun", "wasmi"),
    ("wrun/wasm3", "wrun", "wasm3"),
    ("jit/wasmi", "wrun-jit", "wasmi"),
    ("wrun/wasmtime", "wrun", "wasmtime"),
    ("jit/wasmtime", "wrun-jit", "wasmtime"),
    ("jit/native", "wrun-jit", "native"),
];

/// The geometric mean of `ratios` (`None` if there are none).
fn geomean(ratios: &[f64]) -> Option<f64> {
    if ratios.is_empty() {
        return None;
    }
    let log_sum: f64 = ratios.iter().map(|r| r.ln()).sum();
    Some((log_sum / ratios.len() as f64).exp())
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

/// Prepares the workload on every engine, then calls `run(n)` `reps`
/// times on each, round-robin so that a change in machine load affects
/// all engines alike, checking every result against the native one (or,
/// for a user's module, against wrun's interpreter).
fn run_workload(w: &Workload, n: i32, reps: usize) -> Result<Vec<Measured>, String> {
    if w.source.is_empty() {
        return Err(format!(
            "{}: its module was not built (no clang when wrun-benches was built): \
             run `bash scripts/wasi-test-deps.sh`, then `touch benches/c/bench.h` and rebuild",
            w.name
        ));
    }
    // Every engine compiles the same binary (text parsing is not timed).
    let binary = wat::parse_bytes(w.source).map_err(|e| format!("{}: {e}", w.name))?;
    let mut native = w.native.map(Native);
    let mut expected = match &mut native {
        Some(native) => Some(native.call(n)?.0),
        None => None,
    };
    let oracle = if native.is_some() { "native" } else { "wrun" };
    let mut runners: Vec<(&'static str, Box<dyn Runner>)> = Vec::new();
    let mut declined = Vec::new();
    for e in ENGINES {
        match (e.prepare)(&binary) {
            Ok(runner) => runners.push((e.name, runner)),
            Err(why) if e.may_decline => {
                eprintln!("wrun-bench: {} on {}: {why}", w.name, e.name);
                declined.push(e.name);
            }
            Err(why) => return Err(format!("{} on {}: {why}", w.name, e.name)),
        }
    }
    if let Some(native) = native {
        runners.push(("native", Box::new(native)));
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(reps); runners.len()];
    for _ in 0..reps {
        for ((engine, runner), times) in runners.iter_mut().zip(&mut times) {
            let (result, elapsed) = runner
                .call(n)
                .map_err(|e| format!("{} on {engine}: {e}", w.name))?;
            let expected = *expected.get_or_insert(result);
            if result != expected {
                return Err(format!(
                    "{} on {engine}: result {result} differs from the {oracle} result {expected}",
                    w.name
                ));
            }
            times.push(elapsed);
        }
    }
    let mut rows: Vec<Measured> = runners
        .iter()
        .zip(times)
        .map(|((engine, runner), times)| Measured {
            engine,
            spread: spread(&times),
            median: Some(median(times)),
            compile: (*engine != "native").then(|| runner.compile_time()),
        })
        .collect();
    rows.extend(declined.into_iter().map(|engine| Measured {
        engine,
        median: None,
        spread: 0.0,
        compile: None,
    }));
    Ok(rows)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut workloads: Vec<Workload> = Vec::new();
    for path in &args.module {
        match workloads::user_module(path, args.n) {
            Ok(w) => workloads.push(w),
            Err(e) => {
                eprintln!("wrun-bench: --module {e}");
                return ExitCode::from(2);
            }
        }
    }
    let builtin = args.module.is_empty() || !args.only.is_empty();
    let reps = args.reps.unwrap_or(if args.quick { 1 } else { 5 }).max(1);
    if let Some(unknown) = args
        .only
        .iter()
        .find(|name| !WORKLOADS.iter().any(|w| w.name == name.as_str()))
    {
        let known: Vec<&str> = WORKLOADS.iter().map(|w| w.name).collect();
        eprintln!(
            "wrun-bench: unknown workload `{unknown}` (known: {})",
            known.join(", ")
        );
        return ExitCode::from(2);
    }
    if cfg!(debug_assertions) {
        eprintln!("wrun-bench: debug build; for meaningful figures use `cargo run --release`");
    }
    let mut header = format!("{:<8} {:>9}", "workload", "n");
    for (title, _) in TIME_COLUMNS {
        header += &format!(" {title:>11}");
    }
    for (title, _, _) in RATIO_COLUMNS {
        header += &format!(" {title:>13}");
    }
    println!("{header}  stresses");
    let mut compile_rows = Vec::new();
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); RATIO_COLUMNS.len()];
    let mut worst_spread: Vec<(&str, f64)> = Vec::new();
    let selected = WORKLOADS
        .iter()
        .filter(|w| builtin && (args.only.is_empty() || args.only.iter().any(|o| o == w.name)));
    for w in selected.chain(&workloads) {
        let n = if args.quick { w.quick } else { w.full };
        let rows = match run_workload(w, n, reps) {
            Ok(rows) => rows,
            Err(e) => {
                eprintln!("wrun-bench: {e}");
                return ExitCode::FAILURE;
            }
        };
        let time = |engine: &str| rows.iter().find(|m| m.engine == engine)?.median;
        let mut line = format!("{:<8} {:>9}", w.name, n);
        for (_, engine) in TIME_COLUMNS {
            let cell = match time(engine) {
                Some(t) => ms(t),
                None if engine == "native" => "-".into(),
                None => "declined".into(),
            };
            line += &format!(" {cell:>11}");
        }
        for ((_, engine, peer), column) in RATIO_COLUMNS.iter().zip(&mut ratios) {
            let cell = match (time(engine), time(peer)) {
                (Some(a), Some(b)) => {
                    let ratio = a.as_secs_f64() / b.as_secs_f64().max(1e-9);
                    column.push(ratio);
                    format!("{ratio:.2}x")
                }
                _ => "-".into(),
            };
            line += &format!(" {cell:>13}");
        }
        println!("{line}  {}", w.what);
        for m in &rows {
            match worst_spread.iter_mut().find(|(e, _)| *e == m.engine) {
                Some((_, worst)) => *worst = worst.max(m.spread),
                None => worst_spread.push((m.engine, m.spread)),
            }
        }
        compile_rows.push((w.name, rows));
    }
    let mut line = format!("{:<8} {:>9}", "geomean", "");
    for _ in TIME_COLUMNS {
        line += &format!(" {:>11}", "");
    }
    for column in &ratios {
        let cell = geomean(column).map_or_else(|| "-".into(), |g| format!("{g:.2}x"));
        line += &format!(" {cell:>13}");
    }
    println!("{line}");
    let spreads: Vec<String> = worst_spread
        .iter()
        .map(|(engine, s)| format!("{engine} {:.0}%", s * 100.0))
        .collect();
    println!(
        "run-to-run spread ((slowest - fastest) / median), worst workload per engine: {}",
        spreads.join(", ")
    );
    println!(
        "median of {reps} run(s) each; every result matched the native one (a --module's: wrun's interpreter's)"
    );
    print_compile_times(&compile_rows);
    ExitCode::SUCCESS
}

/// The second table: how long each engine took to compile each module.
/// wasmi compiles function bodies lazily on first call by default, so its
/// figure is validation and translation setup only.
fn print_compile_times(rows: &[(&str, Vec<Measured>)]) {
    println!();
    println!(
        "{:<10} {:>14} {:>14} {:>14} {:>14} {:>16} {:>14}",
        "compile", "wrun ms", "jit ms", "wasmi ms", "wasm3 ms", "wasmtime ms", "jit/wasmtime"
    );
    let cell = |d: Option<Duration>| {
        d.map(|d| format!("{:.3}", d.as_secs_f64() * 1e3))
            .unwrap_or_else(|| "-".into())
    };
    for (name, measured) in rows {
        let time = |engine: &str| measured.iter().find(|m| m.engine == engine)?.compile;
        let ratio = match (time("wrun-jit"), time("wasmtime")) {
            (Some(a), Some(b)) => format!("{:.3}x", a.as_secs_f64() / b.as_secs_f64().max(1e-9)),
            _ => "-".into(),
        };
        println!(
            "{:<10} {:>14} {:>14} {:>14} {:>14} {:>16} {:>14}",
            name,
            cell(time("wrun")),
            cell(time("wrun-jit")),
            cell(time("wasmi")),
            cell(time("wasm3")),
            cell(time("wasmtime")),
            ratio
        );
    }
    println!(
        "module compile times (wasmi and wasm3 compile function bodies lazily, \
         on first call: validation and loading only)"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_that_differs_from_native_is_an_error() {
        let wrong = Workload {
            native: Some(|_| 12345),
            ..WORKLOADS[0]
        };
        let err = run_workload(&wrong, 10, 1)
            .err()
            .expect("mismatch reported");
        assert!(
            err.contains("differs from the native result 12345"),
            "{err}"
        );
    }

    #[test]
    fn every_engine_and_native_are_measured() {
        let rows = run_workload(&WORKLOADS[0], 10, 3).expect("fib(10) agrees");
        let engines: Vec<&str> = rows.iter().map(|m| m.engine).collect();
        assert_eq!(
            engines,
            ["wrun", "wrun-jit", "wasmi", "wasm3", "wasmtime", "native"]
        );
    }
}
