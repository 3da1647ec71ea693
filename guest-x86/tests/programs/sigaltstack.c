/* sigaltstack(2): handlers with SA_ONSTACK run on the alternate stack,
 * sigaltstack reports SS_ONSTACK there and SS_DISABLE when disabled,
 * changing it while on it is EPERM, a stack overflow is caught on it,
 * and SS_AUTODISARM disarms it while the handler runs. */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

#define ALT_SIZE (64 * 1024)
static char *alt;
static volatile int on_alt, reported_onstack, eperm, in_range_autodisarm, autodisarm_flags;
static sigjmp_buf overflow_jump;

static int on_alt_stack(void *p) {
    return (char *)p >= alt && (char *)p < alt + ALT_SIZE;
}

static void usr1(int sig) {
    int local;
    stack_t now, attempt;
    (void)sig;
    on_alt = on_alt_stack(&local);
    sigaltstack(NULL, &now);
    reported_onstack = (now.ss_flags & SS_ONSTACK) != 0;
    attempt.ss_sp = alt;
    attempt.ss_size = ALT_SIZE;
    attempt.ss_flags = 0;
    eperm = sigaltstack(&attempt, NULL) == -1 && errno == EPERM;
}

static void usr2(int sig) {
    int local;
    stack_t now;
    (void)sig;
    in_range_autodisarm = on_alt_stack(&local);
    sigaltstack(NULL, &now);
    autodisarm_flags = now.ss_flags;
}

static void segv(int sig) {
    int local;
    (void)sig;
    siglongjmp(overflow_jump, on_alt_stack(&local) ? 1 : 2);
}

static int recurse(volatile char *prev) {
    volatile char pad[4096];
    pad[0] = prev ? prev[0] + 1 : 1;
    return recurse(pad) + pad[0];
}

int main(void) {
    stack_t ss, old;
    alt = malloc(ALT_SIZE);

    sigaltstack(NULL, &old);
    printf("initially: %s\n", old.ss_flags & SS_DISABLE ? "SS_DISABLE" : "enabled");

    ss.ss_sp = alt;
    ss.ss_size = 1024;
    ss.ss_flags = 0;
    printf("too small: %s\n", sigaltstack(&ss, NULL) == -1 && errno == ENOMEM ? "ENOMEM" : "accepted");
    ss.ss_flags = 12345;
    ss.ss_size = ALT_SIZE;
    printf("bad flags: %s\n", sigaltstack(&ss, NULL) == -1 && errno == EINVAL ? "EINVAL" : "accepted");

    ss.ss_flags = 0;
    if (sigaltstack(&ss, NULL) != 0)
        return 1;
    sigaltstack(NULL, &old);
    printf("installed: flags %d, size ok %d, sp ok %d\n", old.ss_flags, old.ss_size == ALT_SIZE,
           old.ss_sp == alt);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = usr1;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("SA_ONSTACK handler: on alternate stack %d, SS_ONSTACK %d, EPERM %d\n", on_alt,
           reported_onstack, eperm);

    sa.sa_flags = 0;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("without SA_ONSTACK: on alternate stack %d, SS_ONSTACK %d\n", on_alt, reported_onstack);

    /* A stack overflow can only be handled on another stack. */
    sa.sa_handler = segv;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGSEGV, &sa, NULL);
    int where = sigsetjmp(overflow_jump, 1);
    if (where == 0)
        recurse(NULL);
    printf("stack overflow caught %s\n", where == 1 ? "on the alternate stack" : "elsewhere");

    ss.ss_flags = SS_AUTODISARM;
    if (sigaltstack(&ss, NULL) == 0) {
        sa.sa_handler = usr2;
        sigaction(SIGUSR2, &sa, NULL);
        raise(SIGUSR2);
        sigaltstack(NULL, &old);
        printf("SS_AUTODISARM: on it %d, disarmed inside %d, rearmed after %d\n",
               in_range_autodisarm, (autodisarm_flags & SS_DISABLE) != 0,
               (old.ss_flags & SS_DISABLE) == 0);
    }

    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    sigaltstack(NULL, &old);
    printf("disabled: %s\n", old.ss_flags & SS_DISABLE ? "SS_DISABLE" : "enabled");
    return 0;
}
