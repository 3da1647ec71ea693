/* Sieve of Eratosthenes below n: byte stores in strided loops, then a
 * counting pass. Returns the prime count and the sum of the primes. */
#include "bench.h"

#define MAX_N (16 << 20)
static u8 composite[MAX_N];

BENCH_RUN(sieve) {
    if (n > MAX_N) n = MAX_N;
    for (i32 i = 0; i < n; i++) composite[i] = 0;
    for (i32 i = 2; (i64)i * i < n; i++)
        if (!composite[i])
            for (i32 j = i * i; j < n; j += i) composite[j] = 1;
    u64 count = 0, sum = 0;
    for (i32 i = 2; i < n; i++)
        if (!composite[i]) {
            count++;
            sum += (u64)i;
        }
    return (i64)((count << 40) ^ sum);
}
