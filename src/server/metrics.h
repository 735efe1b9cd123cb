/* Counters for GET /metrics, in Prometheus' text format. Thread-safe. */
#ifndef QW_SERVER_METRICS_H
#define QW_SERVER_METRICS_H

#include <stdint.h>

typedef struct srv_metrics srv_metrics;

srv_metrics *metrics_new(void);
void metrics_free(srv_metrics *m);

/* One HTTP response sent, by status code. */
void metrics_request(srv_metrics *m, int status);
/* One generation finished. */
void metrics_generation(srv_metrics *m, int n_prompt, int n_cached, int n_completion, double ttft_s,
                        double decode_s);

/* Connections shut down because their request did not arrive in time. */
void metrics_timed_out(srv_metrics *m, int n);

typedef struct {
    int queued, running, n_slots;
    int connections;  /* open now */
    int64_t kv_used, kv_cached, kv_total; /* KV pool positions: held by sessions, cached for reuse, all */
} metrics_gauges;

/* The exposition text (malloc'd). */
char *metrics_render(srv_metrics *m, const metrics_gauges *g);

#endif
