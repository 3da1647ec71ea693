//! The benchmark workloads: a module exporting `run(n: i32) -> i64` (a
//! hand-written `.wat`, or a C program in `c/` that `build.rs` compiles
//! with clang), the sizes to run it at, and a native version that computes
//! the expected result (Rust for the `.wat` ones, the same C compiled by the
//! host's compiler for the others).

/// One benchmark program.
pub struct Workload {
    /// Short name, used in the table and to select workloads.
    pub name: &'static str,
    /// What the workload stresses.
    pub what: &'static str,
    /// The module (WAT text or a binary); it exports `run(n: i32) -> i64`.
    /// Empty when `build.rs` found no clang to compile it.
    pub source: &'static [u8],
    /// `n` for a measurement run.
    pub full: i32,
    /// `n` for `--quick` (finishes in milliseconds).
    pub quick: i32,
    /// The same computation natively, the oracle for the result; `None`
    /// for a user's `--module` (then wrun's interpreter is the oracle).
    pub native: Option<fn(i32) -> i64>,
}

/// Every workload, in table order.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "fib",
        what: "recursive calls",
        source: include_bytes!("../workloads/fib.wat"),
        full: 30,
        quick: 15,
        native: Some(fib),
    },
    Workload {
        name: "collatz",
        what: "integer loops and branches",
        source: include_bytes!("../workloads/collatz.wat"),
        full: 300_000,
        quick: 1_000,
        native: Some(collatz),
    },
    Workload {
        name: "memory",
        what: "byte loads and stores",
        source: include_bytes!("../workloads/memory.wat"),
        full: 8 << 20,
        quick: 64 << 10,
        native: Some(memory),
    },
    c_workload!(sieve, "byte stores in strided loops", 4_000_000, 10_000),
    c_workload!(quicksort, "recursion, compares, swaps", 500_000, 1_000),
    c_workload!(nbody, "f64 arithmetic and sqrt", 200_000, 100),
    c_workload!(sha256, "32-bit rotates and shifts", 4_000_000, 10_000),
    c_workload!(matmul, "f64 multiply-adds over arrays", 256, 8),
    c_workload!(
        hashmap,
        "scattered loads, data-dependent branches",
        1_000_000,
        1_000
    ),
];

/// A user's module (`--module FILE`), run at `n` with every engine's
/// result checked against the interpreter's.
pub fn user_module(path: &std::path::Path, n: i32) -> Result<Workload, String> {
    let source = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.file_stem().map_or_else(
        || path.display().to_string(),
        |s| s.to_string_lossy().into(),
    );
    Ok(Workload {
        // Leaked: a workload lives for the whole run.
        name: Box::leak(name.into_boxed_str()),
        what: "--module",
        source: Box::leak(source.into_boxed_slice()),
        full: n,
        quick: n,
        native: None,
    })
}

/// A C workload of `c/NAME.c`: its wasm build from `build.rs`, its native
/// build linked into this binary as `bench_NAME_run`.
macro_rules! c_workload {
    ($name:ident, $what:expr, $full:expr, $quick:expr) => {
        Workload {
            name: stringify!($name),
            what: $what,
            source: include_bytes!(concat!(env!("OUT_DIR"), "/", stringify!($name), ".wasm")),
            full: $full,
            quick: $quick,
            native: {
                fn native(n: i32) -> i64 {
                    unsafe extern "C" {
                        #[link_name = concat!("bench_", stringify!($name), "_run")]
                        fn run(n: i32) -> i64;
                    }
                    // SAFETY: the C function takes and returns plain
                    // integers and touches only its own static arrays.
                    unsafe { run(n) }
                }
                Some(native)
            },
        }
    };
}
use c_workload;

fn fib(n: i32) -> i64 {
    fn go(n: u32) -> i64 {
        if n < 2 {
            i64::from(n)
        } else {
            go(n - 1) + go(n - 2)
        }
    }
    go(n as u32)
}

fn collatz(n: i32) -> i64 {
    let (mut steps, mut peak) = (0u64, 0u64);
    for start in 1..=n as u32 {
        let mut x = u64::from(start);
        while x > 1 {
            x = if x & 1 == 0 {
                x >> 1
            } else {
                x.wrapping_mul(3).wrapping_add(1)
            };
            peak = peak.max(x);
            steps += 1;
        }
    }
    ((steps << 32) ^ peak) as i64
}

fn memory(n: i32) -> i64 {
    let n = n as u32 as usize;
    let mut mem = vec![0u8; 2 * n];
    let mut seed: u32 = 12345;
    for byte in &mut mem[..n] {
        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *byte = (seed >> 16) as u8;
    }
    mem.copy_within(..n, n);
    let (mut a, mut b) = (1u64, 0u64);
    for &byte in &mem[n..] {
        a = (a + u64::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    ((b << 32) | a) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_versions_are_right() {
        assert_eq!(fib(20), 6765);
        // 1 takes 0 steps, 2 one, 3 seven (peak 16).
        assert_eq!(collatz(3), (8 << 32) ^ 16);
        // Adler-32 of nothing.
        assert_eq!(memory(0), 1);
    }
}
