/* poll, ppoll and select over pipes between processes: a child writes
 * more than a pipe holds to two pipes in turn and the parent drains both
 * as they become ready (reading only one would deadlock); timeouts with
 * nothing ready; POLLHUP once the writer is gone; a select with a write
 * set; a ppoll interrupted by a signal its mask lets through. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 4096
#define CHUNKS 40 /* 160 KiB per pipe: more than a pipe holds */

static void on_usr1(int sig) { (void)sig; }

int main(void) {
    int out[2], err[2];
    pipe(out);
    pipe(err);
    pid_t child = fork();
    if (child == 0) {
        static char buf[CHUNK];
        close(out[0]);
        close(err[0]);
        for (int i = 0; i < CHUNKS; i++) {
            memset(buf, 'a' + i % 26, sizeof buf);
            write(out[1], buf, sizeof buf);
            memset(buf, 'A' + i % 26, sizeof buf);
            write(err[1], buf, sizeof buf);
        }
        _exit(0);
    }
    close(out[1]);
    close(err[1]);
    struct pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
    long got[2] = {0, 0}, sum[2] = {0, 0};
    int open_fds = 2, hups = 0;
    static char buf[CHUNK];
    while (open_fds > 0) {
        int n = poll(fds, 2, -1);
        if (n <= 0)
            return 1;
        for (int i = 0; i < 2; i++) {
            if (fds[i].revents & POLLIN) {
                ssize_t r = read(fds[i].fd, buf, sizeof buf);
                for (ssize_t k = 0; k < r; k++)
                    sum[i] += buf[k];
                got[i] += r;
            } else if (fds[i].revents & POLLHUP) {
                hups++;
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    int status;
    waitpid(child, &status, 0);
    printf("poll drained %ld and %ld bytes (sums %ld %ld), %d hang-ups, child status %d\n",
           got[0], got[1], sum[0], sum[1], hups, WEXITSTATUS(status));

    /* Nothing to read: poll and select time out. */
    int p[2];
    pipe(p);
    struct pollfd one = {p[0], POLLIN, 0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int n = poll(&one, 1, 30);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    printf("poll timeout: %d ready, waited at least 30 ms: %d\n", n, ms >= 29);
    fd_set rd, wr;
    FD_ZERO(&rd);
    FD_SET(p[0], &rd);
    struct timeval tv = {0, 20000};
    printf("select timeout: %d\n", select(p[0] + 1, &rd, NULL, NULL, &tv));

    /* A write end with room is writable; a read end with data readable. */
    write(p[1], "x", 1);
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_SET(p[0], &rd);
    FD_SET(p[1], &wr);
    n = select(p[1] + 1, &rd, &wr, NULL, NULL);
    printf("select: %d ready, read %d, write %d\n", n, FD_ISSET(p[0], &rd) != 0,
           FD_ISSET(p[1], &wr) != 0);
    struct pollfd bad = {999, POLLIN, 0};
    poll(&bad, 1, 0);
    printf("POLLNVAL: %d\n", (bad.revents & POLLNVAL) != 0);

    /* ppoll lets SIGUSR1 through its mask while blocking it otherwise. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t block, during;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, NULL);
    char c;
    read(p[0], &c, 1);
    pid_t parent = getpid();
    child = fork();
    if (child == 0) {
        usleep(20000);
        kill(parent, SIGUSR1);
        _exit(0);
    }
    sigemptyset(&during);
    one.revents = 0;
    errno = 0;
    n = ppoll(&one, 1, NULL, &during);
    printf("ppoll: %d %s\n", n, errno == EINTR ? "EINTR" : "other");
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("mask restored: %d\n", sigismember(&now, SIGUSR1));
    waitpid(child, &status, 0);
    return 0;
}
