//! `wrun features`: the one table of what wrun supports. Update
//! [`PROPOSALS`] and [`INTERFACES`] when a tier gains a feature; the names
//! are those `Module::features_used` reports.

use serde_json::{Value, json};

/// How far one tier supports a proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Implemented and run by the official spec tests.
    Supported,
    /// JIT only: some of the proposal compiles; a module using the rest
    /// runs on the interpreter.
    Partly,
    /// JIT only: a module using it runs on the interpreter.
    FallsBack,
    /// Refused with an "unsupported" error.
    NotYet,
}

/// What the JIT column says on an architecture without a JIT backend:
/// every module runs on the interpreter there.
const NO_JIT_HERE: &str = "no JIT on this architecture: interpreter";

/// The JIT column for `status` on the architecture wrun was built for.
fn jit_label(status: Status) -> &'static str {
    if wrun_runtime::JIT_AVAILABLE {
        status.label()
    } else {
        NO_JIT_HERE
    }
}

impl Status {
    /// The wording in the table and in JSON.
    pub fn label(self) -> &'static str {
        match self {
            Status::Supported => "supported",
            Status::Partly => "partly, else interpreter",
            Status::FallsBack => "falls back to the interpreter",
            Status::NotYet => "not yet",
        }
    }
}

/// One WebAssembly proposal and its status in each execution tier.
#[derive(Clone, Copy, Debug)]
pub struct Proposal {
    /// The name `wrun inspect` uses.
    pub name: &'static str,
    /// What it adds, briefly.
    pub summary: &'static str,
    /// The interpreter tier.
    pub interpreter: Status,
    /// The JIT tier.
    pub jit: Status,
}

/// A proposal the JIT does not compile: modules using it fall back to the
/// interpreter (or are refused where the interpreter refuses them too).
const fn interp(name: &'static str, summary: &'static str, interpreter: Status) -> Proposal {
    Proposal {
        name,
        summary,
        interpreter,
        jit: match interpreter {
            Status::Supported => Status::FallsBack,
            other => other,
        },
    }
}

/// A proposal the JIT compiles (`jit`: whole or partly).
const fn both(name: &'static str, summary: &'static str, jit: Status) -> Proposal {
    Proposal {
        name,
        summary,
        interpreter: Status::Supported,
        jit,
    }
}

use Status::{NotYet, Partly, Supported};

/// Every proposal, in the order of the Wasm 3.0 feature list.
pub const PROPOSALS: &[Proposal] = &[
    // The JIT column: what `wrun-jit` compiles (docs/jit.md); a module
    // using anything else runs on the interpreter.
    both("mvp", "WebAssembly 1.0", Supported),
    both(
        "mutable-global",
        "import and export mutable globals",
        Supported,
    ),
    both("sign-extension-ops", "i32.extend8_s and friends", Supported),
    both(
        "nontrapping-float-to-int-conversions",
        "saturating trunc_sat conversions",
        Supported,
    ),
    both(
        "multi-value",
        "several results and block parameters",
        Supported,
    ),
    both(
        "bulk-memory",
        "memory.copy/fill/init, passive segments",
        Supported,
    ),
    both(
        "reference-types",
        "funcref/externref values, table ops",
        Supported,
    ),
    both("memory64", "64-bit memories and tables", Supported),
    both("multi-memory", "several memories per module", Supported),
    both(
        "tail-call",
        "return_call, return_call_indirect, return_call_ref (JIT: all but those of more than 32 arguments)",
        Partly,
    ),
    both(
        "exceptions",
        "tags, try_table, throw_ref, exnref; legacy try/catch/delegate",
        Supported,
    ),
    both(
        "function-references",
        "typed function references, call_ref, br_on_null, non-null types",
        Supported,
    ),
    both(
        "extended-const",
        "arithmetic in constant expressions",
        Supported,
    ),
    both(
        "annotations",
        "custom annotations in the text format",
        Supported,
    ),
    interp(
        "simd",
        "128-bit vectors (interpreter: portable Rust, two cells per v128; JIT: a module using v128 runs on the interpreter)",
        Supported,
    ),
    interp(
        "relaxed-simd",
        "non-deterministic vector operations; wrun's choices are deterministic (docs/simd.md)",
        Supported,
    ),
    interp("gc", "structs, arrays, i31, casts", NotYet),
    interp("threads", "shared memories and atomics", NotYet),
    interp("wide-arithmetic", "128-bit add/sub/mul helpers", NotYet),
    both(
        "custom-page-sizes",
        "1-byte pages; post-3.0, so off by default: its official suite passes with \
         Config::wasm_proposal(CustomPageSizes), the CLI has no switch yet",
        Supported,
    ),
];

/// Host interfaces, with one status (they do not depend on the tier).
pub const INTERFACES: &[(&str, &str, Status)] = &[
    (
        "wasi-preview1 (wasm32)",
        "all 46 wasi_snapshot_preview1 functions; preopened directories only \
         (openat2 RESOLVE_BENEATH), rights per fd; no sockets are handed out \
         (sock_* return EBADF), proc_raise is ENOSYS",
        Supported,
    ),
    (
        "wasi-preview1 (wasm64)",
        "the same functions for a 64-bit memory 0: i64 pointers and sizes, \
         16-byte iovecs, wasi-libc's wasm64 layout",
        Supported,
    ),
];

fn as_json() -> Value {
    let proposals: Vec<Value> = PROPOSALS
        .iter()
        .map(|p| {
            json!({
                "name": p.name,
                "summary": p.summary,
                "interpreter": p.interpreter.label(),
                "jit": jit_label(p.jit),
            })
        })
        .collect();
    let interfaces: Vec<Value> = INTERFACES
        .iter()
        .map(|(name, summary, status)| {
            json!({ "name": name, "summary": summary, "status": status.label() })
        })
        .collect();
    json!({ "proposals": proposals, "interfaces": interfaces })
}

/// Prints the table (or JSON) to stdout.
pub fn print(json: bool) {
    if json {
        // Rendering a `Value` built from strings cannot fail.
        println!(
            "{}",
            serde_json::to_string_pretty(&as_json()).unwrap_or_default()
        );
        return;
    }
    let width = PROPOSALS.iter().map(|p| p.name.len()).max().unwrap_or(0);
    println!(
        "{:<width$}  {:<17}  {:<29}  summary",
        "proposal", "interpreter", "jit"
    );
    for p in PROPOSALS {
        println!(
            "{:<width$}  {:<17}  {:<29}  {}",
            p.name,
            p.interpreter.label(),
            jit_label(p.jit),
            p.summary
        );
    }
    println!();
    println!("{:<width$}  {:<17}  summary", "interface", "status");
    for (name, summary, status) in INTERFACES {
        println!("{:<width$}  {:<17}  {summary}", name, status.label());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = PROPOSALS.iter().map(|p| p.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }

    /// `-W NAME=y|n` points at this table for the names it takes.
    #[test]
    fn every_switchable_proposal_is_listed_under_its_switch_name() {
        use wrun_runtime::Proposal as P;
        for p in P::ALL {
            // The legacy exception instructions are part of "exceptions" here.
            if p != P::LegacyExceptions {
                assert!(
                    PROPOSALS.iter().any(|listed| listed.name == p.name()),
                    "-W {} is not a name `wrun features` lists",
                    p.name()
                );
            }
        }
    }

    #[test]
    fn the_jit_never_claims_more_than_the_interpreter() {
        for p in PROPOSALS {
            if p.interpreter != Status::Supported {
                assert_eq!(p.jit, p.interpreter, "{}", p.name);
            }
        }
    }
}
