/* An open-addressing hash table (linear probing, 2^20 slots) counting n
 * pseudo-random keys drawn from a smaller range, then looking up another
 * n: data-dependent branches and scattered memory accesses. Returns the
 * number of distinct keys and a checksum of the counts found. */
#include "bench.h"

#define SLOTS (1 << 20)
static u32 keys[SLOTS];
static u32 counts[SLOTS];

static inline u32 hash(u32 k) {
    k ^= k >> 16;
    k *= 0x7feb352d;
    k ^= k >> 15;
    k *= 0x846ca68b;
    return k ^ (k >> 16);
}

BENCH_RUN(hashmap) {
    for (i32 i = 0; i < SLOTS; i++) keys[i] = counts[i] = 0;
    u32 seed = 2024, range = SLOTS / 2;
    u64 distinct = 0;
    for (i32 i = 0; i < n; i++) {
        u32 key = lcg(&seed) % range + 1; /* 0 marks an empty slot */
        u32 slot = hash(key) & (SLOTS - 1);
        while (keys[slot] != 0 && keys[slot] != key) slot = (slot + 1) & (SLOTS - 1);
        if (keys[slot] == 0) {
            keys[slot] = key;
            distinct++;
        }
        counts[slot]++;
    }
    u64 check = 0;
    for (i32 i = 0; i < n; i++) {
        u32 key = lcg(&seed) % range + 1;
        u32 slot = hash(key) & (SLOTS - 1);
        while (keys[slot] != 0 && keys[slot] != key) slot = (slot + 1) & (SLOTS - 1);
        check = check * 3 + (keys[slot] == key ? counts[slot] : 0);
    }
    return (i64)((distinct << 40) ^ check);
}
