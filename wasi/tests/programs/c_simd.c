/* Loops clang vectorises with -msimd128: the SIMD build must print what the
 * scalar and native builds print. Integer widths 8 to 64 bits, saturating
 * and widening arithmetic, min/max, float arithmetic and conversions,
 * byte shuffles, comparisons and selects. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define N 1027 /* not a multiple of any vector width: remainders run too */

static uint8_t a8[N], b8[N], c8[N];
static int16_t a16[N], b16[N], c16[N];
static int32_t a32[N], b32[N], c32[N];
static int64_t a64[N], c64[N];
static float fa[N], fb[N], fc[N];
static double da[N], dc[N];

static uint32_t seed = 12345;
static uint32_t next(void) {
    seed = seed * 1103515245u + 12345u;
    return seed >> 8;
}

static uint64_t hash(const void *p, size_t n) {
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

#define REPORT(name, arr) printf("%-12s %016llx\n", name, (unsigned long long)hash(arr, sizeof arr))

int main(void) {
    for (int i = 0; i < N; i++) {
        a8[i] = next(); b8[i] = next();
        a16[i] = next(); b16[i] = next();
        a32[i] = next() * 977; b32[i] = next() - (1 << 23);
        a64[i] = ((int64_t)next() << 20) ^ next();
        fa[i] = (float)(int32_t)(next() - (1u << 23)) / 1024.0f;
        fb[i] = (float)(next() % 1000) / 7.0f + 0.5f;
        da[i] = (double)(int32_t)next() / 3.0;
    }
    for (int i = 0; i < N; i++) { int s = a8[i] + b8[i]; c8[i] = s > 255 ? 255 : s; }
    REPORT("u8 addsat", c8);
    for (int i = 0; i < N; i++) c8[i] = (a8[i] + b8[i] + 1) >> 1;
    REPORT("u8 avgr", c8);
    for (int i = 0; i < N; i++) c8[i] = a8[i] < b8[i] ? a8[i] : b8[i];
    REPORT("u8 min", c8);
    for (int i = 0; i < N; i++) c8[i] = (uint8_t)(a8[i] << 3) ^ (b8[i] >> 2);
    REPORT("u8 shifts", c8);
    for (int i = 0; i < N; i++) c8[i] = a8[N - 1 - i];
    REPORT("u8 reverse", c8);
    for (int i = 0; i < N; i++) {
        int s = a16[i] - b16[i];
        c16[i] = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
    }
    REPORT("i16 subsat", c16);
    for (int i = 0; i < N; i++) c16[i] = (int16_t)(a16[i] * b16[i]);
    REPORT("i16 mul", c16);
    for (int i = 0; i < N; i++) c16[i] = (int16_t)a8[i] * (int16_t)(int8_t)b8[i];
    REPORT("i8 extmul", c16);
    for (int i = 0; i < N; i++) c32[i] = a32[i] * b32[i] + (a32[i] >> 7);
    REPORT("i32 mul add", c32);
    for (int i = 0; i < N; i++) c32[i] = a32[i] > b32[i] ? a32[i] : b32[i];
    REPORT("i32 max", c32);
    for (int i = 0; i < N; i++) c32[i] = a16[i] < 0 ? -a16[i] : a16[i];
    REPORT("i16 abs ext", c32);
    int64_t dot = 0;
    for (int i = 0; i < N; i++) dot += (int32_t)a16[i] * b16[i];
    printf("%-12s %lld\n", "i16 dot", (long long)dot);
    uint32_t acc = 0;
    for (int i = 0; i < N; i++) acc += a8[i];
    printf("%-12s %u\n", "u8 sum", acc);
    for (int i = 0; i < N; i++) c64[i] = a64[i] * 3 - (a64[i] >> 5) + (int64_t)a32[i] * b32[i];
    REPORT("i64 arith", c64);
    for (int i = 0; i < N; i++) fc[i] = fa[i] * fb[i] + fa[i] / fb[i] - fb[i];
    REPORT("f32 arith", fc);
    for (int i = 0; i < N; i++) fc[i] = fa[i] < fb[i] ? fa[i] : fb[i];
    REPORT("f32 select", fc);
    for (int i = 0; i < N; i++) c32[i] = (int32_t)(fa[i] * 3.5f);
    REPORT("f32 to i32", c32);
    for (int i = 0; i < N; i++) fc[i] = (float)a32[i] * 0.25f;
    REPORT("i32 to f32", fc);
    for (int i = 0; i < N; i++) dc[i] = da[i] * 1.5 + (double)fa[i];
    REPORT("f64 arith", dc);
    float fsum = 0;
    for (int i = 0; i < N; i++) fsum += fa[i] > 0 ? fa[i] : 0;
    printf("%-12s %.3f\n", "f32 relu sum", fsum);
    int count = 0;
    for (int i = 0; i < N; i++) count += a8[i] == b8[i] || a8[i] > 200;
    printf("%-12s %d\n", "u8 count", count);
    return 0;
}
