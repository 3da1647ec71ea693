/* Dense f64 matrix product of two n×n matrices (n at most 512), i-k-j
 * order: floating-point multiply-adds streaming through memory. Returns
 * the bits of a weighted sum of the result. */
#include "bench.h"

#define MAX_DIM 512
static double a[MAX_DIM * MAX_DIM], b[MAX_DIM * MAX_DIM], c[MAX_DIM * MAX_DIM];

BENCH_RUN(matmul) {
    if (n < 1) n = 1;
    if (n > MAX_DIM) n = MAX_DIM;
    u32 seed = 99;
    for (i32 i = 0; i < n * n; i++) {
        a[i] = (double)(lcg(&seed) >> 8) / 16777216.0 - 0.5;
        b[i] = (double)(lcg(&seed) >> 8) / 16777216.0 - 0.5;
        c[i] = 0;
    }
    for (i32 i = 0; i < n; i++)
        for (i32 k = 0; k < n; k++) {
            double aik = a[i * n + k];
            for (i32 j = 0; j < n; j++) c[i * n + j] += aik * b[k * n + j];
        }
    double sum = 0;
    for (i32 i = 0; i < n * n; i++) sum += c[i] * (double)(i % 7 + 1);
    return f64_bits(sum);
}
