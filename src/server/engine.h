/* The engine: one thread owns the model and runs every job.
 *
 * --parallel N sessions ("slots") share one paged KV pool and take jobs from
 * a bounded queue. Each step is one batched forward pass over every busy
 * slot: the token each decoding slot sampled, plus prompt chunks of at most
 * --prefill-chunk tokens in all (so a long prompt never stalls the others
 * for more than a chunk). Weights are read once per step for everyone.
 * A job is admitted, in queue order, when a slot is free and the pool can
 * promise the memory of its prompt plus max_tokens (capped at the context):
 * a running job never finds the cache full. Its prompt starts from the
 * longest prefix cached anywhere in the pool (the system prompt, tools and
 * earlier turns an agent resends); only the rest is evaluated.
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
    int64_t kv_bytes;   /* KV pool size; <= 0: n_ctx positions per slot */
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

/* Queue depth, busy slots and KV pool positions, for /metrics. */
void engine_get_stats(srv_engine *e, metrics_gauges *out);

#endif
