/* Recursive quicksort of n pseudo-random 32-bit integers: calls, compares,
 * swaps through memory. Returns a position-weighted checksum. */
#include "bench.h"

#define MAX_N (4 << 20)
static u32 values[MAX_N];

static void sort(u32 *a, i32 lo, i32 hi) {
    while (lo < hi) {
        u32 pivot = a[lo + (hi - lo) / 2];
        i32 i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                u32 t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        /* Recurse into the smaller side, loop on the larger: bounded depth. */
        if (j - lo < hi - i) {
            sort(a, lo, j);
            lo = i;
        } else {
            sort(a, i, hi);
            hi = j;
        }
    }
}

BENCH_RUN(quicksort) {
    if (n > MAX_N) n = MAX_N;
    u32 seed = 42;
    for (i32 i = 0; i < n; i++) values[i] = lcg(&seed);
    sort(values, 0, n - 1);
    u64 check = 0;
    for (i32 i = 0; i < n; i++) {
        if (i > 0 && values[i - 1] > values[i]) return -1;
        check = check * 31 + values[i];
    }
    return (i64)check;
}
