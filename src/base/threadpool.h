/* A persistent pool of worker threads. Between jobs workers spin briefly,
 * then park on a condition variable; a job is n_tasks calls of fn(ctx, task, thread), handed out
 * through an atomic counter, with the calling thread taking part. Each task
 * must write disjoint outputs, so results do not depend on the thread count. */
#ifndef QW_BASE_THREADPOOL_H
#define QW_BASE_THREADPOOL_H

#include <stddef.h>

typedef struct qw_pool qw_pool;

typedef void (*qw_task_fn)(void *ctx, int task, int thread);

/* n_threads counts the caller: 1 means no workers at all. */
qw_pool *qw_pool_new(int n_threads);
void qw_pool_free(qw_pool *p);
int qw_pool_size(const qw_pool *p);

/* Runs fn for task = 0..n_tasks-1 and returns when all are done.
 * thread is in [0, qw_pool_size(p)), for per-thread scratch. */
void qw_pool_run(qw_pool *p, qw_task_fn fn, void *ctx, int n_tasks);

/* Per-thread scratch owned by the pool and kept between jobs, so kernels do
 * not allocate per call: the caller of qw_pool_run reserves, before the job,
 * at least `bytes` for every thread (memory is allocated only when the
 * buffers must grow; their contents are not kept); a task running as
 * `thread` then uses qw_pool_scratch(p, thread), 64-byte aligned. 0, or -1
 * when out of memory or p is NULL. Like qw_pool_run, one caller at a time. */
int qw_pool_reserve(qw_pool *p, size_t bytes);
void *qw_pool_scratch(const qw_pool *p, int thread);

/* One more such buffer, shared by all the tasks of a job: for inputs the
 * caller prepares once for every task (a matmul's quantized activations).
 * Same rules: reserved before the job, kept between jobs, 64-byte aligned. */
int qw_pool_reserve_shared(qw_pool *p, size_t bytes);
void *qw_pool_shared(const qw_pool *p);

#endif
