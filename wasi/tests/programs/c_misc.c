/* The process side: arguments, environment, stdin, clocks, sleeping,
 * random bytes and the exit status. Prints only what is deterministic. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static long long ns(struct timespec t) {
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
    printf("argc %d\n", argc);
    for (int i = 0; i < argc; i++) printf("argv[%d] = \"%s\"\n", i, argv[i]);

    int n = 0;
    while (environ[n]) n++;
    char **env = malloc((n + 1) * sizeof *env);
    memcpy(env, environ, n * sizeof *env);
    qsort(env, n, sizeof *env, cmp);
    for (int i = 0; i < n; i++) printf("env: %s\n", env[i]);
    printf("getenv(GREETING) = %s\n", getenv("GREETING") ? getenv("GREETING") : "(null)");
    printf("getenv(ABSENT) = %s\n", getenv("ABSENT") ? getenv("ABSENT") : "(null)");

    struct pollfd pfd = {0, POLLIN, 0};
    int ready = poll(&pfd, 1, 1000);
    printf("poll stdin: %d, readable %d\n", ready, (pfd.revents & POLLIN) != 0);

    char line[256];
    int lines = 0;
    size_t bytes = 0;
    while (fgets(line, sizeof line, stdin)) {
        lines++;
        bytes += strlen(line);
        for (char *p = line; *p; p++)
            if (*p >= 'a' && *p <= 'z') *p -= 32;
        printf("stdin: %s", line);
    }
    printf("stdin: %d lines, %zu bytes, eof %d\n", lines, bytes, feof(stdin));

    struct timespec res, a, b, wall;
    printf("clock_getres monotonic: %d\n", clock_getres(CLOCK_MONOTONIC, &res));
    printf("monotonic resolution under 1ms: %d\n", ns(res) > 0 && ns(res) < 1000000);
    clock_gettime(CLOCK_MONOTONIC, &a);
    struct timespec nap = {0, 20 * 1000 * 1000};
    printf("nanosleep: %d\n", nanosleep(&nap, NULL));
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("slept at least 20ms: %d\n", ns(b) - ns(a) >= 20000000LL);
    printf("slept under 2s: %d\n", ns(b) - ns(a) < 2000000000LL);
    clock_gettime(CLOCK_REALTIME, &wall);
    printf("wall clock after 2020: %d\n", wall.tv_sec > 1577836800);
    printf("time() agrees: %d\n", (long long)time(NULL) - wall.tv_sec <= 1);
    struct timespec cpu;
    printf("process cpu clock: %d\n", clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu));
    printf("usleep: %d\n", usleep(1000));

    unsigned char r1[64], r2[64];
    printf("getentropy: %d %d\n", getentropy(r1, sizeof r1), getentropy(r2, sizeof r2));
    printf("random buffers differ: %d\n", memcmp(r1, r2, sizeof r1) != 0);

    fprintf(stderr, "bye from stderr\n");
    fflush(stdout);
    return argc > 1 ? atoi(argv[1]) : 0;
}
