//! `wrun`, the command line of the wrun WebAssembly runtime.
//!
//! `wrun [run] FILE [ARGS..]` runs a module; `validate`, `inspect`,
//! `features` and `spec` are the other subcommands. Every failure is one
//! line on stderr and a documented exit code (see [`exit`]), never a panic.

mod console;
mod features;
mod inspect;
mod load;
mod run;
mod vals;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// The process exit codes `wrun` uses.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// The module is malformed or invalid, a file is missing, an import is
    /// unknown, a limit was exceeded, or another error that is not a trap.
    pub const ERROR: i32 = 1;
    /// The command line itself is wrong (unknown flag, missing argument).
    pub const USAGE: i32 = 2;
    /// The wasm program trapped or let an exception escape. 134 (128 +
    /// SIGABRT) is what wasmtime reports for a trap on Unix.
    pub const TRAP: i32 = 134;
}

/// The stack of the thread that runs the command: deep enough that neither
/// the interpreter's host frames nor module translation ever overflow it.
const MAIN_STACK_BYTES: usize = 256 << 20;

const AFTER_HELP: &str = "\
`wrun FILE [ARGS..]` is short for `wrun run FILE [ARGS..]`.

Exit codes: 0 success; 1 error (bad file, malformed or invalid module,
link error, limit exceeded); 2 bad command line; 134 the program trapped
or an exception escaped to the host.";

const RUN_AFTER_HELP: &str = "\
Exit codes: 0 success; 1 error (bad file, malformed or invalid module,
unknown import, limit exceeded); 134 the program trapped (the message and
its wasm backtrace go to stderr) or an exception escaped.";

#[derive(Parser, Debug)]
#[command(name = "wrun", version, about = "A WebAssembly 3.0 runtime", after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a module's `_start`, or call one export with `--invoke`.
    #[command(after_help = RUN_AFTER_HELP)]
    Run(RunArgs),
    /// Check that a module is well formed and valid.
    Validate {
        /// The module (`.wasm` binary or `.wat` text).
        file: PathBuf,
    },
    /// List a module's imports, exports, sections and the proposals it uses.
    Inspect {
        /// The module (`.wasm` binary or `.wat` text).
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List every WebAssembly proposal and how far wrun supports it.
    Features {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run `.wast` spec scripts (by default every embedded official suite).
    Spec {
        /// `.wast` files or folders.
        paths: Vec<PathBuf>,
        /// Only suites whose name contains this string (e.g. `memory64`).
        #[arg(long)]
        suite: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// After a full run, write the known-failures list it implies to
        /// FILE (reasons kept; new failures marked UNEXPLAINED).
        #[arg(long, value_name = "FILE")]
        write_known_failures: Option<PathBuf>,
        /// The engine's tier, limits and proposals, applied over each
        /// suite's own configuration (the proposals its folder tests).
        #[command(flatten)]
        engine: EngineOptions,
    },
}

/// `--engine`: which tier runs the module.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineChoice {
    /// The interpreter (the default where there is no JIT).
    Interp,
    /// The JIT for a module it can compile whole, else the interpreter
    /// (set WRUN_LOG=jit to see which and why); the default on x86_64 and aarch64.
    Jit,
}

impl EngineChoice {
    /// The JIT where wrun has one (x86_64, aarch64), else the interpreter: the
    /// runtime's default strategy.
    pub fn platform_default() -> EngineChoice {
        match wrun_runtime::Strategy::default() {
            wrun_runtime::Strategy::Jit => EngineChoice::Jit,
            wrun_runtime::Strategy::Interp => EngineChoice::Interp,
        }
    }

    /// The runtime's strategy for this choice.
    pub fn strategy(self) -> wrun_runtime::Strategy {
        match self {
            EngineChoice::Interp => wrun_runtime::Strategy::Interp,
            EngineChoice::Jit => wrun_runtime::Strategy::Jit,
        }
    }
}

/// The engine options `wrun run` and `wrun spec` share: which tier runs
/// the code, the limits, and the proposals (`-W NAME=y|n`, wasmtime's
/// spelling).
#[derive(Args, Debug, Clone)]
pub struct EngineOptions {
    /// The tier to run on: `jit` (the default on x86_64 and aarch64: the JIT for a
    /// module it can compile whole, else the interpreter; set WRUN_LOG=jit
    /// to see which and why) or `interp`.
    #[arg(long, value_enum, default_value_t = EngineChoice::platform_default())]
    pub engine: EngineChoice,
    /// The most bytes one linear memory may hold (suffixes K, M, G, Ki, Mi,
    /// Gi); default 4Gi.
    #[arg(long, value_name = "BYTES", value_parser = parse_byte_size)]
    pub max_memory: Option<u64>,
    /// The most bytes all memories and tables of a store may hold together
    /// (a table element counts 8 bytes); default 6Gi. A module asking for
    /// more at start fails with an error, `memory.grow` beyond it returns -1.
    #[arg(long, value_name = "BYTES", value_parser = parse_byte_size)]
    pub memory_budget: Option<u64>,
    /// The deepest wasm call nesting before a "call stack exhausted" trap
    /// (a module then runs on the interpreter, which counts frames).
    #[arg(long, value_name = "N")]
    pub max_call_depth: Option<u32>,
    /// Reserve at most this much address space per memory up front (by
    /// default a 32-bit memory reserves 4 GiB plus guard pages); a memory
    /// that outgrows its reservation moves. For hosts where reserving is
    /// costly, such as qemu-user (about 6 MB of real memory per GiB).
    #[arg(long, value_name = "BYTES", value_parser = parse_byte_size)]
    pub memory_reservation: Option<u64>,
    /// Turn a proposal on or off, e.g. `-W custom-page-sizes=y`, `-W
    /// gc=n,tail-call=n` (a bare NAME means `=y`). Repeatable. Names: see
    /// `wrun features`.
    #[arg(short = 'W', long = "wasm", value_name = "NAME[=y|n]", value_parser = parse_wasm_switch, value_delimiter = ',')]
    pub wasm: Vec<(wrun_runtime::Proposal, bool)>,
}

impl EngineOptions {
    /// The settings these options name, in the order to apply them.
    pub fn settings(&self) -> Vec<wrun_runtime::Setting> {
        use wrun_runtime::Setting;
        let mut settings = vec![Setting::Strategy(self.engine.strategy())];
        settings.extend(self.max_memory.map(Setting::MaxMemoryBytes));
        settings.extend(self.memory_budget.map(Setting::StoreMemoryBudget));
        settings.extend(self.max_call_depth.map(Setting::MaxCallDepth));
        settings.extend(self.memory_reservation.map(Setting::MemoryReservation));
        settings.extend(self.wasm.iter().map(|&(p, on)| Setting::Proposal(p, on)));
        settings
    }
}

/// Parses `NAME`, `NAME=y` or `NAME=n` for `-W`.
fn parse_wasm_switch(text: &str) -> Result<(wrun_runtime::Proposal, bool), String> {
    use wrun_runtime::Proposal;
    let (name, value) = text.split_once('=').unwrap_or((text, "y"));
    let on = match value {
        "y" | "yes" | "true" => true,
        "n" | "no" | "false" => false,
        _ => return Err(format!("`{text}`: the value is y or n")),
    };
    let proposal = Proposal::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Proposal::ALL.iter().map(|p| p.name()).collect();
        format!("unknown proposal `{name}` (known: {})", names.join(", "))
    })?;
    Ok((proposal, on))
}

/// Options of `wrun run`.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Call this export instead of `_start`; ARGS are its arguments, parsed by
    /// its parameter types (integers in decimal or 0x hex, floats in
    /// decimal, `nan` or `inf`), and each result is printed on its own line.
    #[arg(long, value_name = "NAME")]
    pub invoke: Option<String>,
    /// Stop the program with a trap after this much fuel (about one unit per
    /// instruction).
    #[arg(long, value_name = "N")]
    pub fuel: Option<u64>,
    /// Stop the program with a trap once this much wall-clock time has
    /// passed, even while it waits in a host call (`poll_oneoff`): e.g.
    /// `500ms`, `2s`, `1m`, `1h`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// The engine's tier, limits and proposals.
    #[command(flatten)]
    pub engine: EngineOptions,
    /// Grant the program read-write access to host directory HOST, seen as
    /// GUEST (default: the same path). Repeatable.
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    pub dirs: Vec<String>,
    /// Set an environment variable for the program (nothing from the host
    /// environment is passed unless given here). Repeatable.
    #[arg(long = "env", value_name = "K=V", value_parser = parse_env)]
    pub envs: Vec<(String, String)>,
    /// Do not grant the default read-only access to the current directory.
    #[arg(long)]
    pub no_default_dir: bool,
    /// Put the terminal in raw mode while the program runs, so every key
    /// (Ctrl-C too) reaches it, e.g. a guest console in emu.wasm; Ctrl-A X
    /// quits wrun, Ctrl-A Ctrl-A sends Ctrl-A. Nothing happens when stdin is
    /// not a terminal.
    #[arg(long)]
    pub raw_console: bool,
    /// The module (`.wasm` binary or `.wat` text).
    pub file: PathBuf,
    /// Arguments for the program, or for the `--invoke`d function.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// Parses `K=V` for `--env`.
fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{text}` is not K=V")),
    }
}

/// Parses `500ms`, `2s`, `1.5s`, `3m`, `1h` (a bare number is seconds).
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = || format!("`{text}` is not a duration (e.g. 500ms, 2s, 1.5m, 1h)");
    let number: f64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "" | "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return Err(bad()),
    };
    std::time::Duration::try_from_secs_f64(seconds).map_err(|_| bad())
}

/// Parses `4096`, `64K`, `16Mi`, `4G` … into a byte count.
fn parse_byte_size(text: &str) -> Result<u64, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a byte count (e.g. 65536, 64Ki, 16M)"))?;
    let scale: u64 = match suffix.trim_end_matches(['B', 'b']) {
        "" => 1,
        "K" | "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        _ => {
            return Err(format!(
                "unknown size suffix in `{text}` (K, M, G, Ki, Mi, Gi)"
            ));
        }
    };
    number
        .checked_mul(scale)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// A failed command: what to print and the exit code.
#[derive(Debug)]
pub struct Failure {
    /// One line, without the `wrun: ` prefix; empty when the program chose
    /// its own exit status.
    pub message: String,
    /// One of the [`exit`] codes.
    pub code: i32,
}

impl Failure {
    /// A bad command line.
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: exit::USAGE,
        }
    }

    /// An error that is not a trap.
    pub fn error(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: exit::ERROR,
        }
    }
}

/// The words that name subcommands; any other first word is a file to run.
const SUBCOMMANDS: &[&str] = &["run", "validate", "inspect", "features", "spec", "help"];

/// Rewrites `wrun FILE ..` and `wrun --flag .. FILE ..` into `wrun run ..`.
fn with_implicit_run(mut args: Vec<String>) -> Vec<String> {
    if let Some(first) = args.get(1) {
        let is_top_level_flag = matches!(first.as_str(), "-h" | "--help" | "-V" | "--version");
        if !SUBCOMMANDS.contains(&first.as_str()) && !is_top_level_flag {
            args.insert(1, "run".to_string());
        }
    }
    args
}

/// In `wrun run [OPTIONS] FILE ARGS..`, everything after FILE belongs to
/// the program (as with wasmtime): `wrun prog.wasm --help` passes `--help`
/// to `prog.wasm`. Marks the end of wrun's options with `--` right after
/// FILE; which options take a value is read from the `run` definition, so
/// new options need no change here.
fn with_guest_args_separated(mut args: Vec<String>) -> Vec<String> {
    use clap::CommandFactory;
    if args.get(1).map(String::as_str) != Some("run") {
        return args;
    }
    let cli = Cli::command();
    let Some(run) = cli.find_subcommand("run") else {
        return args;
    };
    let takes_value = |word: &str| {
        run.get_arguments().any(|a| {
            let named = match word.strip_prefix("--") {
                Some(long) => a.get_long() == Some(long),
                None => word.len() == 2 && a.get_short() == word.chars().nth(1),
            };
            named && a.get_action().takes_values()
        })
    };
    let mut i = 2;
    while let Some(word) = args.get(i) {
        if word == "--" {
            return args;
        }
        if word.starts_with('-') && word.len() > 1 {
            let inline_value = word.starts_with("--") && word.contains('=');
            i += if !inline_value && takes_value(word) {
                2
            } else {
                1
            };
            continue;
        }
        args.insert(i + 1, "--".to_string());
        return args;
    }
    args
}

fn dispatch(cli: Cli) -> Result<i32, Failure> {
    match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Validate { file } => load::validate(&file),
        Command::Inspect { file, json } => inspect::inspect(&file, json),
        Command::Features { json } => {
            features::print(json);
            Ok(exit::OK)
        }
        Command::Spec {
            paths,
            suite,
            json,
            write_known_failures,
            engine,
        } => {
            let opts = wrun_spec::SpecOptions {
                paths,
                suite,
                json,
                settings: engine.settings(),
                progress: std::io::stderr().is_terminal(),
                write_known_failures,
            };
            Ok(wrun_spec::run_cli(&opts))
        }
    }
}

fn main() -> ExitCode {
    // Rust ignores SIGPIPE, which turns `wrun inspect m.wasm | head` into a
    // panic on the next print. A command-line tool should end quietly, as
    // `cat` does: restore the default action.
    // SAFETY: called first thing, before any thread exists; SIG_DFL is a
    // valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let args = with_guest_args_separated(with_implicit_run(std::env::args().collect()));
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with success; the rest is a usage error.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE as u8 } else { 0 });
        }
    };
    let worker = std::thread::Builder::new()
        .name("wrun".into())
        .stack_size(MAIN_STACK_BYTES)
        .spawn(move || dispatch(cli));
    let outcome = match worker {
        Ok(handle) => handle.join().unwrap_or_else(|_| {
            Err(Failure::error(
                "internal error: the runtime panicked (please report this)",
            ))
        }),
        Err(e) => Err(Failure::error(format!("cannot start the wasm thread: {e}"))),
    };
    let code = match outcome {
        Ok(code) => code,
        Err(failure) => {
            if !failure.message.is_empty() {
                eprintln!("wrun: {}", failure.message);
            }
            failure.code
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn a_file_as_first_word_means_run() {
        assert_eq!(
            with_implicit_run(words("wrun a.wasm 1")),
            words("wrun run a.wasm 1")
        );
        assert_eq!(
            with_implicit_run(words("wrun --invoke f a.wat")),
            words("wrun run --invoke f a.wat")
        );
        assert_eq!(
            with_implicit_run(words("wrun inspect a.wasm")),
            words("wrun inspect a.wasm")
        );
        assert_eq!(
            with_implicit_run(words("wrun --help")),
            words("wrun --help")
        );
    }

    #[test]
    fn everything_after_the_file_is_the_programs() {
        let split = |s: &str| with_guest_args_separated(with_implicit_run(words(s)));
        assert_eq!(
            split("wrun prog.wasm --help -x"),
            words("wrun run prog.wasm -- --help -x")
        );
        assert_eq!(
            split("wrun run --dir /tmp --env A=B --fuel=9 prog.wasm --fuel 3"),
            words("wrun run --dir /tmp --env A=B --fuel=9 prog.wasm -- --fuel 3")
        );
        assert_eq!(
            split("wrun --no-default-dir prog.wasm"),
            words("wrun run --no-default-dir prog.wasm --")
        );
        // wrun's own options before FILE, and an explicit `--`, stay as given.
        assert_eq!(split("wrun --help"), words("wrun --help"));
        assert_eq!(split("wrun run --help"), words("wrun run --help"));
        assert_eq!(
            split("wrun run -- prog.wasm --help"),
            words("wrun run -- prog.wasm --help")
        );
        assert_eq!(split("wrun spec --json"), words("wrun spec --json"));
        // The parsed result: the program sees its flags.
        let cli = Cli::try_parse_from(split("wrun prog.wasm --invoke x")).unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not a run")
        };
        assert_eq!(run.invoke, None);
        assert_eq!(run.args, words("--invoke x"));
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("65536"), Ok(65536));
        assert_eq!(parse_byte_size("64Ki"), Ok(65536));
        assert_eq!(parse_byte_size("2M"), Ok(2_000_000));
        assert_eq!(parse_byte_size("1GiB"), Ok(1 << 30));
        assert!(parse_byte_size("lots").is_err());
        assert!(parse_byte_size("5Q").is_err());
        assert!(parse_byte_size("99999999999999999999G").is_err());
    }

    #[test]
    fn durations() {
        use std::time::Duration;
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("2d").is_err());
        assert!(parse_duration("1e400s").is_err());
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
