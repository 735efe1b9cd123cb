/* The engine: one thread owns the model and runs every job.
 *
 * --parallel N sessions ("slots"), each with its own KV cache, take jobs from
 * a bounded queue. Each round the thread gives every busy slot one step: a
 * chunk of its prompt, or one generated token; so a long prompt never stalls
 * the others for more than a chunk. A new job goes to the free slot whose
 * cache shares the longest prefix with its prompt (the system prompt, tools
 * and earlier turns an agent resends), and only the rest is evaluated.
 * Connection threads only submit jobs and read their output. */
#ifndef QW_SERVER_ENGINE_H
#define QW_SERVER_ENGINE_H

#include "qwenc.h"
#include "server/job.h"
#include "server/metrics.h"

typedef struct srv_engine srv_engine;

typedef struct {
    int n_parallel;     /* slots */
    int n_ctx;          /* positions per slot; <= 0: the session default */
    int max_queue;      /* jobs waiting for a slot; more are refused */
    int prefill_chunk;  /* prompt tokens per step */
} engine_config;

int engine_new(qwenc_model *m, const engine_config *c, srv_metrics *metrics, srv_engine **out, char *err,
               size_t errlen);
/* Stops the thread; jobs still queued or running end as cancelled. */
void engine_free(srv_engine *e);

/* Hands a job to the engine (which takes its own reference). Returns -1 when
 * the queue is full. */
int engine_submit(srv_engine *e, srv_job *j);

/* Positions per slot. */
int engine_n_ctx(const srv_engine *e);

/* Queue depth, busy slots and KV positions in use, for /metrics. */
void engine_get_stats(srv_engine *e, metrics_gauges *out);

#endif
