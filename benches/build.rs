//! Builds the C workloads (`c/*.c`) twice: natively with the host's C
//! compiler into a static library the harness links (the reference
//! column), and with clang for wasm32 into the modules every engine runs.
//! Without clang (a fresh machine before `scripts/wasi-test-deps.sh`) the
//! harness still builds; each C workload then fails at run time with the
//! install hint instead of being skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The C workloads, by file stem; `src/workloads.rs` lists the same names.
const C_WORKLOADS: &[&str] = &["sieve", "quicksort", "nbody", "sha256", "matmul", "hashmap"];

/// Flags both builds share: the same optimisation, no contraction of
/// multiply-adds (every engine rounds each operation, so must native), no
/// errno from sqrt, no libc.
const COMMON: &[&str] = &[
    "-O2",
    "-ffp-contract=off",
    "-fno-math-errno",
    "-ffreestanding",
];

fn run(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    match cmd.output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "{shown} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(e) => Err(format!("{shown}: {e}")),
    }
}

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let src = Path::new("c");
    println!("cargo:rerun-if-changed=c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());

    let mut objects = Vec::new();
    for name in C_WORKLOADS {
        let file = src.join(format!("{name}.c"));
        let object = out.join(format!("{name}.o"));
        if let Err(e) = run(Command::new(&cc)
            .args(COMMON)
            .args(["-fPIC", "-c"])
            .arg(&file)
            .arg("-o")
            .arg(&object))
        {
            panic!("native build of a benchmark workload: {e}");
        }
        objects.push(object);

        let wasm = out.join(format!("{name}.wasm"));
        let built = run(Command::new("clang")
            .args(["--target=wasm32", "-nostdlib", "-mbulk-memory"])
            .args(COMMON)
            .args(["-Wl,--no-entry", "-o"])
            .arg(&wasm)
            .arg(&file));
        if let Err(e) = built {
            println!("cargo:warning=wasm build of {name}.c: {e}");
            // An empty module: the harness reports the missing compiler.
            std::fs::write(&wasm, b"").expect("OUT_DIR is writable");
        }
    }
    let lib = out.join("libbenchc.a");
    let _ = std::fs::remove_file(&lib);
    if let Err(e) = run(Command::new("ar").arg("crs").arg(&lib).args(&objects)) {
        panic!("archiving the native benchmark workloads: {e}");
    }
    println!("cargo:rustc-link-search=native={}", out.display());
    println!("cargo:rustc-link-lib=static=benchc");
}
