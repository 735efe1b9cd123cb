#include "base/threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

typedef struct {
    qw_pool *pool;
    int index;
} worker_arg;

struct qw_pool {
    int n_threads;
    pthread_t *threads;
    worker_arg *args;
    /* The current job: written by the caller before it bumps `generation`,
     * read by workers after they see the bump. */
    qw_task_fn fn;
    void *ctx;
    int n_tasks;
    atomic_int next_task;
    atomic_ulong generation;  /* one more per job */
    atomic_int pending;       /* workers not yet done with the current job */
    /* Parking: workers and the caller spin for a while (jobs of one forward
     * pass come microseconds apart, and waking a thread through the kernel
     * costs as much in a virtual machine), then sleep on these. */
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    atomic_int parked_workers, caller_parked;
    atomic_int stop;
    /* per-thread scratch (qw_pool_reserve), touched only by the pool's one caller and by each thread's own task */
    void **scratch;
    size_t scratch_bytes;
    void *shared;  /* qw_pool_reserve_shared */
    size_t shared_bytes;
};

/* How long a thread spins before it sleeps. */
#define SPIN_NS 200000

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Spins until done(p, arg) holds or SPIN_NS pass; whether it holds. The
 * spin yields: when the machine has more runnable threads than cores, the
 * thread we wait for may need this core. */
static int spin_until(const qw_pool *p, int (*done)(const qw_pool *, unsigned long), unsigned long arg) {
    uint64_t start = now_ns();
    for (unsigned i = 0;; i++) {
        if (done(p, arg)) return 1;
        sched_yield();
        if (i % 16 == 15 && now_ns() - start > SPIN_NS) return 0;
    }
}

static int new_job(const qw_pool *p, unsigned long seen) {
    return atomic_load(&p->generation) != seen || atomic_load(&p->stop);
}

static int job_done(const qw_pool *p, unsigned long unused) {
    (void)unused;
    return atomic_load(&p->pending) == 0;
}

static void run_tasks(qw_pool *p, int thread) {
    for (;;) {
        int t = atomic_fetch_add(&p->next_task, 1);
        if (t >= p->n_tasks) break;
        p->fn(p->ctx, t, thread);
    }
}

static void *worker_main(void *arg) {
    worker_arg *wa = arg;
    qw_pool *p = wa->pool;
    unsigned long seen = 0;
    for (;;) {
        if (!spin_until(p, new_job, seen)) {
            /* seq_cst: either the caller sees parked_workers, or we see its bump */
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->parked_workers, 1);
            while (!new_job(p, seen)) pthread_cond_wait(&p->wake, &p->mu);
            atomic_fetch_sub(&p->parked_workers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop)) break;
        seen = atomic_load(&p->generation);
        run_tasks(p, wa->index);
        if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->caller_parked)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

/* Wakes parked workers after a new job or stop is published. */
static void wake_workers(qw_pool *p) {
    if (atomic_load(&p->parked_workers) == 0) return;
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
}

qw_pool *qw_pool_new(int n_threads) {
    if (n_threads < 1) n_threads = 1;
    qw_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    int nw = n_threads - 1;
    p->threads = calloc((size_t)(nw ? nw : 1), sizeof *p->threads);
    p->args = calloc((size_t)(nw ? nw : 1), sizeof *p->args);
    p->scratch = calloc((size_t)n_threads, sizeof *p->scratch);
    if (!p->threads || !p->args || !p->scratch) {
        free(p->threads);
        free(p->args);
        free(p->scratch);
        free(p);
        return NULL;
    }
    for (int i = 0; i < nw; i++) {
        p->args[i] = (worker_arg){p, i + 1};
        if (pthread_create(&p->threads[i], NULL, worker_main, &p->args[i]) != 0) {
            p->n_threads = i + 1;  /* run with the workers we got */
            break;
        }
    }
    return p;
}

void qw_pool_free(qw_pool *p) {
    if (!p) return;
    atomic_store(&p->stop, 1);
    wake_workers(p);
    for (int i = 0; i < p->n_threads - 1; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    for (int i = 0; i < p->n_threads; i++) free(p->scratch[i]);
    free(p->scratch);
    free(p->shared);
    free(p->threads);
    free(p->args);
    free(p);
}

int qw_pool_size(const qw_pool *p) { return p ? p->n_threads : 1; }

void qw_pool_run(qw_pool *p, qw_task_fn fn, void *ctx, int n_tasks) {
    if (n_tasks <= 0) return;
    if (!p || p->n_threads == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next_task, 0);
    atomic_store(&p->pending, p->n_threads - 1);
    atomic_fetch_add(&p->generation, 1);
    wake_workers(p);
    run_tasks(p, 0);
    if (!spin_until(p, job_done, 0)) {
        pthread_mutex_lock(&p->mu);
        atomic_store(&p->caller_parked, 1);
        while (!job_done(p, 0)) pthread_cond_wait(&p->done, &p->mu);
        atomic_store(&p->caller_parked, 0);
        pthread_mutex_unlock(&p->mu);
    }
}

/* Grows the n buffers at bufs, of *have bytes each, to hold `bytes`. */
static int grow(void **bufs, int n, size_t *have, size_t bytes) {
    if (bytes <= *have) return 0;
    size_t cap = (bytes + 63) / 64 * 64;
    if (cap < bytes) return -1;  /* overflow */
    for (int i = 0; i < n; i++) {
        void *b = aligned_alloc(64, cap);
        if (!b) return -1;  /* the smaller buffers stay valid for *have */
        free(bufs[i]);
        bufs[i] = b;
    }
    *have = cap;
    return 0;
}

int qw_pool_reserve(qw_pool *p, size_t bytes) {
    return p ? grow(p->scratch, p->n_threads, &p->scratch_bytes, bytes) : -1;
}

void *qw_pool_scratch(const qw_pool *p, int thread) { return p->scratch[thread]; }

int qw_pool_reserve_shared(qw_pool *p, size_t bytes) {
    return p ? grow(&p->shared, 1, &p->shared_bytes, bytes) : -1;
}

void *qw_pool_shared(const qw_pool *p) { return p->shared; }
