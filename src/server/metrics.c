#include "server/metrics.h"
#include "server/strbuf.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Time to first token, seconds: histogram bucket bounds. */
static const double ttft_bounds[] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
#define N_TTFT (int)(sizeof ttft_bounds / sizeof ttft_bounds[0])
#define N_STATUS 16

struct srv_metrics {
    pthread_mutex_t mu;
    struct { int code; int64_t n; } status[N_STATUS];
    int64_t prompt_tokens, cached_tokens, completion_tokens, generations;
    int64_t ttft_bucket[N_TTFT], ttft_count;
    double ttft_sum, decode_seconds;
    int64_t decode_tokens;
    int64_t timed_out;
};

srv_metrics *metrics_new(void) {
    srv_metrics *m = calloc(1, sizeof *m);
    if (m) pthread_mutex_init(&m->mu, NULL);
    return m;
}

void metrics_free(srv_metrics *m) {
    if (!m) return;
    pthread_mutex_destroy(&m->mu);
    free(m);
}

void metrics_request(srv_metrics *m, int status) {
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < N_STATUS; i++) {
        if (m->status[i].code == status || m->status[i].code == 0) {
            m->status[i].code = status;
            m->status[i].n++;
            break;
        }
    }
    pthread_mutex_unlock(&m->mu);
}

void metrics_generation(srv_metrics *m, int n_prompt, int n_cached, int n_completion, double ttft_s,
                        double decode_s) {
    pthread_mutex_lock(&m->mu);
    m->generations++;
    m->prompt_tokens += n_prompt;
    m->cached_tokens += n_cached;
    m->completion_tokens += n_completion;
    if (n_completion > 0) {
        for (int i = 0; i < N_TTFT; i++)
            if (ttft_s <= ttft_bounds[i]) m->ttft_bucket[i]++;
        m->ttft_sum += ttft_s;
        m->ttft_count++;
    }
    /* The first token comes from the prefill; the rest are decode steps. */
    if (n_completion > 1) {
        m->decode_tokens += n_completion - 1;
        m->decode_seconds += decode_s;
    }
    pthread_mutex_unlock(&m->mu);
}

void metrics_timed_out(srv_metrics *m, int n) {
    pthread_mutex_lock(&m->mu);
    m->timed_out += n;
    pthread_mutex_unlock(&m->mu);
}

char *metrics_render(srv_metrics *m, const metrics_gauges *g) {
    strbuf b = {0};
    pthread_mutex_lock(&m->mu);
    strbuf_printf(&b, "# HELP qwenc_requests_total HTTP responses sent, by status code.\n# TYPE qwenc_requests_total counter\n");
    for (int i = 0; i < N_STATUS && m->status[i].code; i++)
        strbuf_printf(&b, "qwenc_requests_total{status=\"%d\"} %lld\n", m->status[i].code, (long long)m->status[i].n);
    strbuf_printf(&b, "# HELP qwenc_prompt_tokens_total Prompt tokens of finished generations.\n"
            "# TYPE qwenc_prompt_tokens_total counter\nqwenc_prompt_tokens_total %lld\n",
        (long long)m->prompt_tokens);
    strbuf_printf(&b, "# HELP qwenc_prompt_tokens_cached_total Prompt tokens reused from the KV cache.\n"
            "# TYPE qwenc_prompt_tokens_cached_total counter\nqwenc_prompt_tokens_cached_total %lld\n",
        (long long)m->cached_tokens);
    strbuf_printf(&b, "# HELP qwenc_completion_tokens_total Generated tokens.\n"
            "# TYPE qwenc_completion_tokens_total counter\nqwenc_completion_tokens_total %lld\n",
        (long long)m->completion_tokens);
    strbuf_printf(&b, "# HELP qwenc_time_to_first_token_seconds From submission to the first generated token.\n"
            "# TYPE qwenc_time_to_first_token_seconds histogram\n");
    for (int i = 0; i < N_TTFT; i++)
        strbuf_printf(&b, "qwenc_time_to_first_token_seconds_bucket{le=\"%g\"} %lld\n", ttft_bounds[i],
            (long long)m->ttft_bucket[i]);
    strbuf_printf(&b, "qwenc_time_to_first_token_seconds_bucket{le=\"+Inf\"} %lld\n", (long long)m->ttft_count);
    strbuf_printf(&b, "qwenc_time_to_first_token_seconds_sum %.6f\nqwenc_time_to_first_token_seconds_count %lld\n",
        m->ttft_sum, (long long)m->ttft_count);
    strbuf_printf(&b, "# HELP qwenc_decode_tokens_per_second Decode speed over all finished generations.\n"
            "# TYPE qwenc_decode_tokens_per_second gauge\nqwenc_decode_tokens_per_second %.3f\n",
        m->decode_seconds > 0 ? (double)m->decode_tokens / m->decode_seconds : 0.0);
    strbuf_printf(&b, "# HELP qwenc_connections_timed_out_total Connections closed because their request did not "
            "arrive within --read-timeout.\n# TYPE qwenc_connections_timed_out_total counter\n"
            "qwenc_connections_timed_out_total %lld\n", (long long)m->timed_out);
    pthread_mutex_unlock(&m->mu);
    strbuf_printf(&b, "# HELP qwenc_connections_open HTTP connections open.\n# TYPE qwenc_connections_open gauge\n"
            "qwenc_connections_open %d\n", g->connections);
    strbuf_printf(&b, "# HELP qwenc_queue_depth Requests waiting for a slot.\n# TYPE qwenc_queue_depth gauge\n"
            "qwenc_queue_depth %d\n", g->queued);
    strbuf_printf(&b, "# HELP qwenc_slots_busy Slots generating.\n# TYPE qwenc_slots_busy gauge\nqwenc_slots_busy %d\n"
            "# HELP qwenc_slots_total Slots (--parallel).\n# TYPE qwenc_slots_total gauge\nqwenc_slots_total %d\n",
        g->running, g->n_slots);
    strbuf_printf(&b, "# HELP qwenc_kv_cache_usage_ratio KV pool positions held by slots over all.\n"
            "# TYPE qwenc_kv_cache_usage_ratio gauge\nqwenc_kv_cache_usage_ratio %.6f\n",
        g->kv_total ? (double)g->kv_used / (double)g->kv_total : 0.0);
    strbuf_printf(&b, "# HELP qwenc_kv_cache_positions KV pool positions by state.\n"
            "# TYPE qwenc_kv_cache_positions gauge\nqwenc_kv_cache_positions{state=\"held\"} %lld\n"
            "qwenc_kv_cache_positions{state=\"cached\"} %lld\nqwenc_kv_cache_positions{state=\"total\"} %lld\n",
        (long long)g->kv_used, (long long)g->kv_cached, (long long)g->kv_total);
    return b.p;
}
