/* Signals between processes and threads: kill to a forked child (caught,
 * and default-fatal), SIGCHLD to the parent, blocked signals staying
 * pending until unblocked, sigsuspend, a signal interrupting a blocking
 * read (EINTR) or restarting it (SA_RESTART), tgkill to one thread while
 * the others block it, SIGPIPE, kill(0, ...) to the process group, and a
 * pipe ping-pong between two processes moving more than a pipe holds,
 * sigwait and sigtimedwait, interval timers, alarm and POSIX timers. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t got_usr1, got_chld, got_usr2;
static volatile pid_t chld_pid;

static void on_usr1(int sig) { (void)sig; got_usr1++; }
static void on_usr2(int sig) { (void)sig; got_usr2++; }
static void on_chld(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    (void)ctx;
    got_chld++;
    chld_pid = si->si_pid;
}

static void handle(int sig, void (*fn)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sa.sa_flags = flags;
    sigaction(sig, &sa, NULL);
}

static void report(const char *what, int status) {
    if (WIFEXITED(status))
        printf("%s: exited %d\n", what, WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        printf("%s: killed by signal %d\n", what, WTERMSIG(status));
}

/* --- tgkill: only the thread that does not block SIGUSR2 may take it. */
static pthread_t target_thread;
static volatile int target_tid;
static volatile sig_atomic_t thread_got;
static void on_usr2_thread(int sig) {
    (void)sig;
    thread_got = (int)syscall(SYS_gettid) == target_tid;
}
static void *target(void *arg) {
    sigset_t none;
    (void)arg;
    target_tid = (int)syscall(SYS_gettid);
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    while (!thread_got)
        usleep(1000);
    return NULL;
}

static volatile sig_atomic_t ticks;
static void on_alrm(int sig) { (void)sig; ticks++; }

static volatile int timer_value, timer_code, thread_timer_value;
static void on_rt_timer(int sig, siginfo_t *si, void *ctx) {
    (void)sig;
    (void)ctx;
    timer_code = si->si_code == SI_TIMER;
    timer_value = si->si_value.sival_int;
}
static void on_timer_thread(union sigval v) { thread_timer_value = v.sival_int; }

static volatile int waited_sig;
static void *sigwaiter(void *arg) {
    int sig = 0;
    sigwait((sigset_t *)arg, &sig);
    waited_sig = sig;
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);

    /* 1. A caught signal, sent to a forked child waiting in sigsuspend. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigaction(SIGCHLD, &sa, NULL);
    sigset_t block_usr1, old;
    sigemptyset(&block_usr1);
    sigaddset(&block_usr1, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block_usr1, &old);
    int ready[2];
    pipe(ready);
    pid_t child = fork();
    if (child == 0) {
        handle(SIGUSR1, on_usr1, 0);
        write(ready[1], "r", 1);
        sigset_t wait_mask;
        sigemptyset(&wait_mask);
        while (!got_usr1)
            sigsuspend(&wait_mask); /* atomically unblocks SIGUSR1 */
        _exit(40 + got_usr1);
    }
    char c;
    read(ready[0], &c, 1);
    kill(child, SIGUSR1);
    int status;
    waitpid(child, &status, 0);
    report("child with a handler", status);
    printf("SIGCHLD received %d, from the child %d\n", got_chld, chld_pid == child);

    /* 2. Default action: the child dies of the signal. */
    child = fork();
    if (child == 0) {
        for (;;)
            pause();
    }
    kill(child, SIGTERM);
    waitpid(child, &status, 0);
    report("child without a handler", status);

    /* 3. Blocked signals stay pending, then arrive when unblocked. */
    handle(SIGUSR1, on_usr1, 0);
    got_usr1 = 0;
    kill(getpid(), SIGUSR1);
    sigset_t pending;
    sigpending(&pending);
    printf("blocked: delivered %d, pending %d\n", got_usr1, sigismember(&pending, SIGUSR1));
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("unblocked: delivered %d\n", got_usr1);

    /* 4. A handler without SA_RESTART interrupts a blocking read with EINTR;
     *    with SA_RESTART the read goes on and gets the data. */
    int p[2];
    for (int restart = 0; restart <= 1; restart++) {
        pipe(p);
        handle(SIGUSR2, on_usr2, restart ? SA_RESTART : 0);
        got_usr2 = 0;
        pid_t parent = getpid();
        child = fork();
        if (child == 0) {
            usleep(20000);
            kill(parent, SIGUSR2);
            usleep(20000);
            write(p[1], "x", 1);
            _exit(0);
        }
        close(p[1]);
        ssize_t n = read(p[0], &c, 1);
        int err = errno;
        printf("read %s SA_RESTART: %s (handler ran %d)\n", restart ? "with" : "without",
               n == 1 ? "got the data" : n < 0 && err == EINTR ? "EINTR" : "other", got_usr2);
        waitpid(child, &status, 0);
        close(p[0]);
    }

    /* 5. tgkill to one thread; the main thread blocks the signal. */
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    sigprocmask(SIG_BLOCK, &usr2, NULL);
    handle(SIGUSR2, on_usr2_thread, 0);
    pthread_create(&target_thread, NULL, target, NULL);
    while (!target_tid)
        usleep(1000);
    syscall(SYS_tgkill, getpid(), target_tid, SIGUSR2);
    pthread_join(target_thread, NULL);
    printf("tgkill reached the target thread: %d\n", thread_got);
    sigprocmask(SIG_UNBLOCK, &usr2, NULL);

    /* 6. SIGPIPE: writing to a pipe whose reader is gone. */
    pipe(p);
    child = fork();
    if (child == 0) {
        close(p[0]);
        for (;;)
            write(p[1], "data", 4);
    }
    close(p[1]);
    read(p[0], &c, 1);
    close(p[0]);
    waitpid(child, &status, 0);
    report("writer without a reader", status);
    signal(SIGPIPE, SIG_IGN);
    pipe(p);
    close(p[0]);
    errno = 0;
    ssize_t w = write(p[1], "x", 1);
    printf("with SIGPIPE ignored: write %zd, %s\n", w, errno == EPIPE ? "EPIPE" : "other");
    close(p[1]);

    /* 7. kill(0, sig) reaches every process of the group: a group of our
     *    own first, so that nothing else (the test harness) is in it. */
    if (setpgid(0, 0) != 0 || getpgrp() != getpid())
        printf("setpgid failed\n");
    handle(SIGUSR1, on_usr1, 0);
    got_usr1 = 0;
    pipe(ready);
    child = fork();
    if (child == 0) {
        got_usr1 = 0;
        close(ready[0]);
        write(ready[1], "r", 1);
        while (!got_usr1)
            usleep(1000);
        _exit(50);
    }
    close(ready[1]);
    read(ready[0], &c, 1);
    kill(0, SIGUSR1);
    waitpid(child, &status, 0);
    report("process group member", status);
    printf("the sender got it too: %d\n", got_usr1);

    /* 8. Ping-pong: 256 KiB each way through two pipes. */
    int to_child[2], to_parent[2];
    pipe(to_child);
    pipe(to_parent);
    child = fork();
    static char buf[8192];
    if (child == 0) {
        close(to_child[1]);
        close(to_parent[0]);
        ssize_t n;
        long total = 0;
        while ((n = read(to_child[0], buf, sizeof buf)) > 0) {
            for (ssize_t i = 0; i < n; i++)
                buf[i] ^= 0x5a;
            write(to_parent[1], buf, n);
            total += n;
        }
        _exit(total == 256 * 1024 ? 0 : 1);
    }
    close(to_child[0]);
    close(to_parent[1]);
    long sent = 0, received = 0, checksum = 0;
    memset(buf, 'a', sizeof buf);
    while (sent < 256 * 1024) {
        write(to_child[1], buf, sizeof buf);
        sent += sizeof buf;
        /* Drain what came back so neither side fills up. */
        static char back[8192];
        ssize_t n = read(to_parent[0], back, sizeof back);
        for (ssize_t i = 0; i < n; i++)
            checksum += back[i];
        received += n;
    }
    close(to_child[1]);
    ssize_t n;
    static char back[8192];
    while ((n = read(to_parent[0], back, sizeof back)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            checksum += back[i];
        received += n;
    }
    waitpid(child, &status, 0);
    report("echo child", status);
    printf("ping-pong: received %ld bytes, checksum %ld\n", received, checksum);

    /* 9. sigwait in a thread, with the signal blocked everywhere; a
     *    sigtimedwait that times out. */
    sigset_t waited;
    sigemptyset(&waited);
    sigaddset(&waited, SIGUSR1);
    sigprocmask(SIG_BLOCK, &waited, NULL);
    pthread_t waiter;
    pthread_create(&waiter, NULL, sigwaiter, &waited);
    usleep(10000);
    kill(getpid(), SIGUSR1);
    pthread_join(waiter, NULL);
    printf("sigwait returned signal %d\n", waited_sig);
    struct timespec brief = {0, 10 * 1000 * 1000};
    errno = 0;
    int r = sigtimedwait(&waited, NULL, &brief);
    printf("sigtimedwait with nothing pending: %d %s\n", r, errno == EAGAIN ? "EAGAIN" : "other");

    /* 10. Interval timers: a periodic SIGALRM, alarm's remaining time, and
     *     the default action in a child. */
    handle(SIGALRM, on_alrm, 0);
    struct itimerval every = {{0, 10000}, {0, 10000}}, off = {{0, 0}, {0, 0}}, cur;
    setitimer(ITIMER_REAL, &every, NULL);
    while (ticks < 3)
        pause();
    setitimer(ITIMER_REAL, &off, NULL);
    getitimer(ITIMER_REAL, &cur);
    printf("periodic timer ticked %d times, then off: %d\n", ticks,
           cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0);
    unsigned first = alarm(5);
    unsigned left = alarm(0);
    printf("alarm: %u then %u left\n", first, left);
    child = fork();
    if (child == 0) {
        signal(SIGALRM, SIG_DFL);
        struct itimerval once = {{0, 0}, {0, 20000}};
        setitimer(ITIMER_REAL, &once, NULL);
        for (;;)
            pause();
    }
    waitpid(child, &status, 0);
    report("child with a timer", status);

    /* 11. POSIX timers: a signal carrying its sigval, and SIGEV_THREAD
     *     (glibc's helper thread takes SIGEV_THREAD_ID signals). */
    struct sigaction rt;
    memset(&rt, 0, sizeof rt);
    rt.sa_sigaction = on_rt_timer;
    rt.sa_flags = SA_SIGINFO;
    sigaction(SIGRTMIN + 1, &rt, NULL);
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGRTMIN + 1;
    ev.sigev_value.sival_int = 4242;
    timer_t tm;
    timer_create(CLOCK_MONOTONIC, &ev, &tm);
    struct itimerspec its = {{0, 0}, {0, 15 * 1000 * 1000}};
    timer_settime(tm, 0, &its, NULL);
    while (!timer_value)
        pause();
    struct itimerspec remaining;
    timer_gettime(tm, &remaining);
    printf("timer signal: value %d, code SI_TIMER %d, disarmed %d\n", timer_value, timer_code,
           remaining.it_value.tv_sec == 0 && remaining.it_value.tv_nsec == 0);
    timer_delete(tm);
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD;
    ev.sigev_notify_function = on_timer_thread;
    ev.sigev_value.sival_int = 7;
    timer_create(CLOCK_REALTIME, &ev, &tm);
    timer_settime(tm, 0, &its, NULL);
    while (!thread_timer_value)
        usleep(1000);
    printf("SIGEV_THREAD timer ran with value %d\n", thread_timer_value);
    timer_delete(tm);
    return 0;
}
