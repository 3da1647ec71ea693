//! The benchmark workloads: a `.wat` source exporting `run(n: i32) -> i64`,
//! the sizes to run it at, and a native Rust version that computes the
//! expected result.

/// One benchmark program.
pub struct Workload {
    /// Short name, used in the table and to select workloads.
    pub name: &'static str,
    /// What the workload stresses.
    pub what: &'static str,
    /// The module's text; it exports `run(n: i32) -> i64`.
    pub source: &'static str,
    /// `n` for a measurement run.
    pub full: i32,
    /// `n` for `--quick` (finishes in milliseconds).
    pub quick: i32,
    /// The same computation in Rust, the oracle for the result.
    pub native: fn(i32) -> i64,
}

/// Every workload, in table order.
pub const WORKLOADS: &[Workload] = &[
    Workload {
        name: "fib",
        what: "recursive calls",
        source: include_str!("../workloads/fib.wat"),
        full: 30,
        quick: 15,
        native: fib,
    },
    Workload {
        name: "collatz",
        what: "integer loops and branches",
        source: include_str!("../workloads/collatz.wat"),
        full: 300_000,
        quick: 1_000,
        native: collatz,
    },
    Workload {
        name: "memory",
        what: "byte loads and stores",
        source: include_str!("../workloads/memory.wat"),
        full: 8 << 20,
        quick: 64 << 10,
        native: memory,
    },
];

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
