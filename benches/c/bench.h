/* Shared by the C workloads of wrun-bench (benches/build.rs compiles each
 * file twice: natively with the host's cc into the harness, the reference
 * column, and with clang for wasm32 into the module every engine runs).
 * Freestanding: no libc, so both builds run the same code. Each file
 * defines BENCH_RUN(name), exported to wasm as `run` and to the harness as
 * `bench_<name>_run`. */
#ifndef BENCH_H
#define BENCH_H

typedef unsigned char u8;
typedef unsigned int u32;
typedef int i32;
typedef unsigned long long u64;
typedef long long i64;

#ifdef __wasm__
#define BENCH_RUN(name) __attribute__((export_name("run"))) i64 run(i32 n)
#else
#define BENCH_RUN(name) i64 bench_##name##_run(i32 n)
#endif

/* The same pseudo-random sequence in every workload (a 32-bit LCG). */
static inline u32 lcg(u32 *seed) {
    *seed = *seed * 1103515245u + 12345u;
    return *seed;
}

/* An f64's bits, so float results compare exactly across engines. */
static inline i64 f64_bits(double x) {
    union { double d; i64 i; } u;
    u.d = x;
    return u.i;
}

#endif
