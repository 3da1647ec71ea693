/* Threads under the emulator: mutexes, condition variables, atomics,
 * thread-local storage, a barrier, semaphores, pthread_exit, join, a
 * detached thread, a producer/consumer queue and a thread that outlives
 * main's return value (exit_group must end it). Everything printed is
 * deterministic: workers only compute, main prints after joining. */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define WORKERS 6
#define ROUNDS 20000

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start_cond = PTHREAD_COND_INITIALIZER;
static int started;
static long shared_counter;
static atomic_long atomic_counter;
static _Thread_local long tls_value;
static pthread_barrier_t barrier;
static long barrier_sum[WORKERS];

static void *worker(void *arg) {
    long id = (long)arg;
    tls_value = id * 1000;
    pthread_mutex_lock(&lock);
    while (!started)
        pthread_cond_wait(&start_cond, &lock);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&lock);
        shared_counter++;
        pthread_mutex_unlock(&lock);
        atomic_fetch_add_explicit(&atomic_counter, 1, memory_order_relaxed);
        if (i % 1000 == 0)
            sched_yield();
    }
    /* Everyone arrives before anyone reads the others' slots. */
    barrier_sum[id] = tls_value + id;
    pthread_barrier_wait(&barrier);
    long total = 0;
    for (int i = 0; i < WORKERS; i++)
        total += barrier_sum[i];
    if (id == WORKERS - 1)
        pthread_exit((void *)(total + tls_value)); /* exit without returning */
    return (void *)(total + tls_value);
}

/* A bounded queue: producer and consumer block on condition variables. */
#define QCAP 4
static int queue[QCAP], qhead, qlen;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER, not_empty = PTHREAD_COND_INITIALIZER;

static void *producer(void *arg) {
    (void)arg;
    for (int i = 1; i <= 500; i++) {
        pthread_mutex_lock(&lock);
        while (qlen == QCAP)
            pthread_cond_wait(&not_full, &lock);
        queue[(qhead + qlen++) % QCAP] = i;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static void *consumer(void *arg) {
    long sum = 0;
    (void)arg;
    for (int i = 1; i <= 500; i++) {
        pthread_mutex_lock(&lock);
        while (qlen == 0)
            pthread_cond_wait(&not_empty, &lock);
        sum += queue[qhead];
        qhead = (qhead + 1) % QCAP;
        qlen--;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&lock);
    }
    return (void *)sum;
}

static sem_t sem_ping, sem_pong;
static int volley;

static void *ponger(void *arg) {
    (void)arg;
    for (int i = 0; i < 100; i++) {
        sem_wait(&sem_ping);
        volley++;
        sem_post(&sem_pong);
    }
    return NULL;
}

static atomic_int detached_done;
static void *detached(void *arg) {
    (void)arg;
    atomic_store(&detached_done, 1);
    return NULL;
}

static void *sleeper(void *arg) {
    (void)arg;
    for (;;)
        pause(); /* only exit_group can end this thread */
}

int main(void) {
    pthread_t th[WORKERS];
    pthread_barrier_init(&barrier, NULL, WORKERS);
    for (long i = 0; i < WORKERS; i++)
        if (pthread_create(&th[i], NULL, worker, (void *)i) != 0)
            return 1;
    usleep(2000);
    pthread_mutex_lock(&lock);
    started = 1;
    pthread_cond_broadcast(&start_cond);
    pthread_mutex_unlock(&lock);
    long results = 0;
    for (int i = 0; i < WORKERS; i++) {
        void *r;
        pthread_join(th[i], &r);
        results += (long)r;
    }
    printf("mutex counter %ld, atomic counter %ld (expected %d)\n", shared_counter,
           (long)atomic_counter, WORKERS * ROUNDS);
    printf("join results %ld\n", results);

    pthread_t p, c;
    void *sum;
    pthread_create(&p, NULL, producer, NULL);
    pthread_create(&c, NULL, consumer, NULL);
    pthread_join(p, NULL);
    pthread_join(c, &sum);
    printf("queue sum %ld\n", (long)sum);

    pthread_t pong;
    sem_init(&sem_ping, 0, 0);
    sem_init(&sem_pong, 0, 0);
    pthread_create(&pong, NULL, ponger, NULL);
    for (int i = 0; i < 100; i++) {
        sem_post(&sem_ping);
        sem_wait(&sem_pong);
    }
    pthread_join(pong, NULL);
    printf("semaphore volleys %d\n", volley);

    pthread_t d;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&d, &attr, detached, NULL);
    while (!atomic_load(&detached_done))
        sched_yield();
    printf("detached thread ran\n");

    printf("pid is tid in main: %s\n", getpid() == (pid_t)syscall(SYS_gettid) ? "yes" : "no");
    pthread_mutex_t timed = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&timed);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 20 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_t never = PTHREAD_COND_INITIALIZER;
    int rc = pthread_cond_timedwait(&never, &timed, &ts);
    printf("timed wait: %s\n", rc == 110 ? "ETIMEDOUT" : strerror(rc));

    pthread_t s;
    pthread_create(&s, NULL, sleeper, NULL);
    fflush(stdout);
    return 7; /* exit_group ends the sleeping thread too */
}
