#include "base/threadpool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct {
    qw_pool *pool;
    int index;
} worker_arg;

struct qw_pool {
    int n_threads;
    pthread_t *threads;
    worker_arg *args;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    /* the current job, guarded by mu except for the atomic counters */
    qw_task_fn fn;
    void *ctx;
    int n_tasks;
    unsigned long generation;  /* bumped per job so parked workers see new work */
    atomic_int next_task;
    int busy_workers;
    int stop;
    /* per-thread scratch (qw_pool_reserve), touched only by the pool's one caller and by each thread's own task */
    void **scratch;
    size_t scratch_bytes;
    void *shared;  /* qw_pool_reserve_shared */
    size_t shared_bytes;
};

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
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen) pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_tasks(p, wa->index);
        pthread_mutex_lock(&p->mu);
        if (--p->busy_workers == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
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
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
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
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next_task, 0);
    p->busy_workers = p->n_threads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_tasks(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->busy_workers > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
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
