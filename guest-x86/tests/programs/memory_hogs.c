/* Hostile memory use, one attack per mode (argv[1]); guest-x86's
 * tests/memory_limits.rs runs each under x86emu with a small --mem and
 * checks that the emulator's own memory stays bounded and that the guest
 * gets ENOMEM or is killed with a clear out-of-memory message.
 *
 *   sbrk        grow the heap 16 MiB at a time and touch every page
 *   mmap-lazy   map 200 x 1 GiB, touch one page of each, report success
 *   mmap-touch  map 128 MiB at a time and touch every page, forever
 *   fork-bomb   touch 64 MiB, fork, and repeat in parent and child
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1024UL * 1024UL)

static void touch(char *p, size_t len) {
    for (size_t i = 0; i < len; i += 4096)
        p[i] = 1;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "sbrk")) {
        for (;;) {
            char *p = sbrk(16 * MIB);
            if (p == (char *)-1) {
                printf("sbrk failed\n");
                return 3;
            }
            touch(p, 16 * MIB);
        }
    }
    if (!strcmp(mode, "mmap-lazy")) {
        int mapped = 0;
        for (int i = 0; i < 200; i++) {
            char *p = mmap(0, 1024 * MIB, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (p == MAP_FAILED)
                break;
            p[i * 4096] = 1;
            mapped++;
        }
        printf("%d mappings of 1 GiB\n", mapped);
        return mapped == 200 ? 0 : 1;
    }
    if (!strcmp(mode, "mmap-touch")) {
        for (;;) {
            char *p = mmap(0, 128 * MIB, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) {
                printf("mmap failed\n");
                return 3;
            }
            touch(p, 128 * MIB);
        }
    }
    if (!strcmp(mode, "fork-bomb")) {
        for (;;) {
            char *p = malloc(64 * MIB);
            if (p)
                touch(p, 64 * MIB);
            fork();
        }
    }
    fprintf(stderr, "usage: memory_hogs sbrk|mmap-lazy|mmap-touch|fork-bomb\n");
    return 2;
}
