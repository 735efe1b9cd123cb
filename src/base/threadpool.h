/* A persistent pool of worker threads. Workers park on a condition variable
 * between jobs; a job is n_tasks calls of fn(ctx, task, thread), handed out
 * through an atomic counter, with the calling thread taking part. Each task
 * must write disjoint outputs, so results do not depend on the thread count. */
#ifndef QW_BASE_THREADPOOL_H
#define QW_BASE_THREADPOOL_H

typedef struct qw_pool qw_pool;

typedef void (*qw_task_fn)(void *ctx, int task, int thread);

/* n_threads counts the caller: 1 means no workers at all. */
qw_pool *qw_pool_new(int n_threads);
void qw_pool_free(qw_pool *p);
int qw_pool_size(const qw_pool *p);

/* Runs fn for task = 0..n_tasks-1 and returns when all are done.
 * thread is in [0, qw_pool_size(p)), for per-thread scratch. */
void qw_pool_run(qw_pool *p, qw_task_fn fn, void *ctx, int n_tasks);

#endif
