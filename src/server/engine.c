#include "server/engine.h"
#include "server/json_guard.h"
#include "server/reply.h"
#include "server/response.h"
#include "server/stop.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_TOP_LOGPROBS 20

/* One session and the job it is generating, with that job's decoding state. */
typedef struct {
    qwenc_session *s;
    srv_job *job;            /* NULL when free */
    int pos;                 /* prompt tokens in the cache */
    int32_t next;            /* the sampled token the next step evaluates; -1: none */
    qwenc_sampler *smp;
    qwenc_detok_stream *ds;
    reply_ids ids;
    reply_parser *rp;        /* chat only */
    stop_matcher *stop;      /* when stop strings were given */
    int stopped;             /* a stop string matched: emit nothing more */
    json_guard *doc_guard;   /* response_format json_object / json_schema: the reply outside calls */
    json_guard *call_guard;  /* tool_choice required / named: each call's body */
    json_guard *guard;       /* the one that chose the last token, if one did */
    double t_decode;         /* when the first token was sampled */
} slot;

struct srv_engine {
    qwenc_model *m;
    qwenc_tokenizer *tok;
    engine_config c;
    srv_metrics *metrics;
    int vocab;
    qwenc_gen_defaults gen;
    json_vocab *jvocab;      /* built on the first constrained request */
    float *scratch;          /* vocab floats for the json guard */
    slot *slots;

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srv_job **queue;         /* FIFO ring */
    int q_head, q_len;
    int stopping;
    int running;             /* busy slots (for stats) */
    qwenc_kv_pool *kv;       /* the slots' shared cache */
    qwenc_kv_pool_stats kv_stats; /* as of the last step, for /metrics */
    int first_slot;          /* where the prefill budget starts this step */
    qwenc_batch_item *batch; /* [n_parallel] */
    slot **batch_slots;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int is_eos(const srv_engine *e, int32_t id) {
    for (int i = 0; i < e->gen.n_eos; i++)
        if (e->gen.eos_ids[i] == id) return 1;
    return 0;
}

/* ---- text out --------------------------------------------------------- */

static void emit_reply(void *ctx, const reply_event *ev) { response_event(ctx, ev); }

/* Text that passed the stop matcher goes to the parser (chat) or straight out. */
static void deliver(slot *sl, const char *text, size_t len) {
    if (!len) return;
    if (sl->rp)
        reply_parser_text(sl->rp, text, len);
    else
        response_text(sl->job, text, len);
}

/* Decoded text through the stop matcher; 1 when a stop string matched. */
static int deliver_checked(slot *sl, const char *text, size_t len) {
    if (sl->stopped) return 1;
    if (!sl->stop) {
        deliver(sl, text, len);
        return 0;
    }
    const char *out;
    size_t n;
    sl->stopped = stop_matcher_push(sl->stop, text, len, &out, &n);
    deliver(sl, out, n);
    return sl->stopped;
}

static void release_held(slot *sl) {
    if (sl->stop && !sl->stopped) {
        const char *out;
        size_t n;
        stop_matcher_flush(sl->stop, &out, &n);
        deliver(sl, out, n);
    }
}

/* One generated token into the reply; 1 when a stop string matched. */
static int feed_token(slot *sl, int32_t id) {
    if (sl->rp && reply_is_marker(&sl->ids, id)) {
        release_held(sl);  /* stop strings are not matched across a marker */
        reply_parser_marker(sl->rp, id);
        return 0;
    }
    size_t len = 0;
    const char *text = qwenc_detok_stream_push(sl->ds, id, &len);
    return deliver_checked(sl, text, len);
}

/* ---- job lifecycle ---------------------------------------------------- */

static void slot_clear(slot *sl) {
    qwenc_sampler_free(sl->smp);
    qwenc_detok_stream_free(sl->ds);
    reply_parser_free(sl->rp);
    stop_matcher_free(sl->stop);
    json_guard_free(sl->doc_guard);
    json_guard_free(sl->call_guard);
    qwenc_session *s = sl->s;
    memset(sl, 0, sizeof *sl);
    sl->s = s;
}

static void slot_finish(srv_engine *e, slot *sl, job_end end) {
    srv_job *j = sl->job;
    if (end != JOB_CANCELLED && end != JOB_FAILED && sl->ds) {
        size_t len = 0;
        const char *text = qwenc_detok_stream_flush(sl->ds, &len);
        deliver_checked(sl, text, len);
        release_held(sl);
        if (sl->rp) reply_parser_finish(sl->rp);
        if (end == JOB_STOP && sl->rp && reply_parser_n_tool_calls(sl->rp) > 0) end = JOB_TOOL_CALLS;
    }
    j->end = end;
    j->t_done = now_s();
    response_end(j, j->p.n_prompt);
    job_close(j);
    if (end != JOB_CANCELLED && end != JOB_FAILED)
        metrics_generation(e->metrics, j->p.n_prompt, j->n_cached, j->n_completion,
                           j->t_first_token > 0 ? j->t_first_token - j->t_submit : 0,
                           sl->t_decode > 0 ? j->t_done - sl->t_decode : 0);
    job_unref(j);
    slot_clear(sl);
    qwenc_session_reserve(sl->s, 0, NULL, 0);  /* the cache it keeps can be taken back (slot_reclaim) */
    pthread_mutex_lock(&e->mu);
    e->running--;
    pthread_mutex_unlock(&e->mu);
}

static void slot_fail(srv_engine *e, slot *sl, const char *msg) {
    snprintf(sl->job->fail_msg, sizeof sl->job->fail_msg, "%s", msg);
    slot_finish(e, sl, JOB_FAILED);
}

/* The guards a job needs: for its reply's document (ended by eos) and for
 * the bodies of forced tool calls (ended by </tool_call>). */
static int start_guards(srv_engine *e, slot *sl) {
    const job_params *p = &sl->job->p;
    if (!p->schema && !p->tool_schema) return 0;
    if (!e->jvocab && !(e->jvocab = json_vocab_new(e->tok, e->vocab))) return QWENC_ENOMEM;
    if (p->schema && !(sl->doc_guard = json_guard_new(e->jvocab, p->schema, e->gen.eos_ids, e->gen.n_eos)))
        return QWENC_ENOMEM;
    if (p->tool_schema && !(sl->call_guard = json_guard_new(e->jvocab, p->tool_schema, &sl->ids.tool_close, 1)))
        return QWENC_ENOMEM;
    return 0;
}

static size_t common_prefix(const int32_t *a, int na, const int32_t *b, int nb) {
    int n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i]) i++;
    return (size_t)i;
}

/* Sets up a free slot for a job: reuses the cached prefix, builds the
 * decoding state. */
static int slot_start(srv_engine *e, slot *sl, srv_job *j, char *err, size_t errlen) {
    sl->job = j;
    const job_params *p = &j->p;
    j->t_start = now_s();
    sl->pos = j->n_cached;  /* admit_locked brought the cache to the prompt's longest cached prefix */
    sl->next = -1;
    int rc = qwenc_sampler_new(&p->sampling, &sl->smp, err, errlen);
    if (rc) return rc;
    for (int i = 0; i < p->n_prompt; i++) qwenc_sampler_accept(sl->smp, p->prompt[i], 1);
    sl->ds = qwenc_detok_stream_new(e->tok, 1);
    j->fmt = job_format_new();
    if (!sl->ds || !j->fmt) return snprintf(err, errlen, "out of memory"), QWENC_ENOMEM;
    if (p->chat) {
        reply_ids_from_tokenizer(e->tok, &sl->ids);
        if (!p->tools) sl->ids.tool_open = sl->ids.tool_close = -1;
        sl->rp = reply_parser_new(&sl->ids, reply_prompt_in_think(&sl->ids, p->prompt, p->n_prompt), emit_reply, j);
        if (!sl->rp) return snprintf(err, errlen, "out of memory"), QWENC_ENOMEM;
    }
    if (p->n_stop && !(sl->stop = stop_matcher_new((const char *const *)p->stop, p->n_stop)))
        return snprintf(err, errlen, "out of memory"), QWENC_ENOMEM;
    if ((rc = start_guards(e, sl))) return snprintf(err, errlen, "out of memory"), rc;
    response_begin(j);
    return 0;
}

/* ---- one step --------------------------------------------------------- */

static int in_reasoning(const slot *sl) { return sl->rp && reply_parser_in_reasoning(sl->rp); }

static int in_call(const slot *sl) { return sl->rp && reply_parser_in_tool_call(sl->rp); }
static int n_calls(const slot *sl) { return sl->rp ? reply_parser_n_tool_calls(sl->rp) : 0; }

/* The guard for the next token, if one applies: a call's body (afresh for
 * each call), or the reply's document outside thinking, before any call. */
static json_guard *active_guard(slot *sl) {
    if (in_reasoning(sl)) return NULL;
    if (in_call(sl)) return sl->call_guard;
    if (sl->call_guard) json_guard_reset(sl->call_guard);
    return n_calls(sl) ? NULL : sl->doc_guard;
}

/* After a forced call: another call or the end, nothing else (the rest masked in scratch). */
static int32_t sample_call_or_eos(srv_engine *e, slot *sl, const float *logits) {
    int32_t id = qwenc_sample(sl->smp, logits, e->vocab);
    if (id == sl->ids.tool_open || is_eos(e, id)) return id;
    for (int i = 0; i < e->vocab; i++) e->scratch[i] = i == sl->ids.tool_open || is_eos(e, i) ? logits[i] : -INFINITY;
    return qwenc_sample(sl->smp, e->scratch, e->vocab);
}

static int32_t guarded_sample(srv_engine *e, slot *sl, const float *logits, int *guarded) {
    if (!sl->guard) return qwenc_sample(sl->smp, logits, e->vocab);
    *guarded = 1;
    return json_guard_sample(sl->guard, sl->smp, logits, e->scratch);
}

/* The next token: JSON-constrained, the <tool_call> a forced call opens
 * with, or sampled among what the constraints leave. *guarded is set when
 * sl->guard chose it. */
static int32_t pick_token(srv_engine *e, slot *sl, const float *logits, int *guarded) {
    *guarded = 0;
    sl->guard = active_guard(sl);
    if (in_call(sl) || (!sl->doc_guard && !sl->call_guard)) return guarded_sample(e, sl, logits, guarded);
    if (in_reasoning(sl)) {
        /* the reply must still come: a model that would end while thinking ends the thinking */
        int32_t id = qwenc_sample(sl->smp, logits, e->vocab);
        return is_eos(e, id) && sl->ids.think_close >= 0 ? sl->ids.think_close : id;
    }
    /* The model may still open a think block first when thinking is on. */
    if (sl->job->p.thinking && sl->job->n_completion == 0 && sl->ids.think_open >= 0) {
        int32_t id = qwenc_sample(sl->smp, logits, e->vocab);
        if (id == sl->ids.think_open) return id;
    }
    if (sl->call_guard && sl->ids.tool_open >= 0)
        return n_calls(sl) ? sample_call_or_eos(e, sl, logits) : sl->ids.tool_open;
    return guarded_sample(e, sl, logits, guarded);
}

static void record_logprob(srv_engine *e, slot *sl, const float *logits, int32_t id) {
    int n_top = sl->job->p.top_logprobs;
    int32_t top_ids[MAX_TOP_LOGPROBS];
    float top_lp[MAX_TOP_LOGPROBS];
    float lp = qwenc_logprobs(logits, e->vocab, id, n_top, top_ids, top_lp);
    response_logprob(sl->job, e->tok, id, lp, top_ids, top_lp, n_top);
}

static void decode_step(srv_engine *e, slot *sl) {
    srv_job *j = sl->job;
    const float *logits = qwenc_session_logits(sl->s);
    int guarded;
    int32_t id = pick_token(e, sl, logits, &guarded);
    if (j->n_completion == 0) {
        j->t_first_token = now_s();
        sl->t_decode = j->t_first_token;
    }
    j->n_completion++;
    if (is_eos(e, id)) {
        slot_finish(e, sl, JOB_STOP);
        return;
    }
    qwenc_sampler_accept(sl->smp, id, 0);
    if (guarded) json_guard_accept(sl->guard, id);
    if (j->p.logprobs) record_logprob(e, sl, logits, id);
    if (feed_token(sl, id)) {
        slot_finish(e, sl, JOB_STOP);
        return;
    }
    if (sl->rp && !j->p.parallel_tool_calls && reply_parser_n_tool_calls(sl->rp) > 0) {
        slot_finish(e, sl, JOB_TOOL_CALLS);
        return;
    }
    if ((j->p.max_tokens >= 0 && j->n_completion >= j->p.max_tokens) ||
        qwenc_session_n_past(sl->s) >= qwenc_session_n_ctx(sl->s)) {
        slot_finish(e, sl, JOB_LENGTH);
        return;
    }
    sl->next = id;
}

/* ---- one batched step -------------------------------------------------- */

/* Samples for every slot whose logits are fresh; ends cancelled jobs. */
static void sample_all(srv_engine *e) {
    for (int i = 0; i < e->c.n_parallel; i++) {
        slot *sl = &e->slots[i];
        if (!sl->job) continue;
        if (job_is_cancelled(sl->job))
            slot_finish(e, sl, JOB_CANCELLED);
        else if (sl->pos == sl->job->p.n_prompt && qwenc_session_logits(sl->s))
            decode_step(e, sl);
    }
}

/* One item per busy slot: its sampled token, or the next chunk of its
 * prompt while the step's prefill budget lasts (the budget starts at a
 * different slot each step, so no prompt waits behind another for long). */
static int gather_batch(srv_engine *e) {
    int n = 0, budget = e->c.prefill_chunk;
    for (int k = 0; k < e->c.n_parallel; k++) {
        slot *sl = &e->slots[(e->first_slot + k) % e->c.n_parallel];
        if (!sl->job) continue;
        const job_params *p = &sl->job->p;
        qwenc_batch_item it = {sl->s, &sl->next, 1, 1};
        if (sl->next < 0) {
            int rest = p->n_prompt - sl->pos, chunk = rest < budget ? rest : budget;
            if (chunk <= 0) continue;
            budget -= chunk;
            it = (qwenc_batch_item){sl->s, p->prompt + sl->pos, chunk, sl->pos + chunk == p->n_prompt};
        }
        e->batch[n] = it;
        e->batch_slots[n++] = sl;
    }
    e->first_slot = (e->first_slot + 1) % e->c.n_parallel;
    return n;
}

/* Every busy slot advances by one batched forward pass. */
static void engine_step(srv_engine *e) {
    sample_all(e);
    int n = gather_batch(e);
    if (!n) return;
    char err[256];
    if (qwenc_eval_batch(e->batch, n, err, sizeof err)) {
        /* reservations make this unreachable; fail the jobs rather than spin */
        for (int i = 0; i < n; i++) slot_fail(e, e->batch_slots[i], err);
        return;
    }
    for (int i = 0; i < n; i++) {
        slot *sl = e->batch_slots[i];
        if (sl->next >= 0)
            sl->next = -1;
        else
            sl->pos += e->batch[i].n;
    }
}

/* ---- the thread ------------------------------------------------------- */

/* Positions a job may fill: its prompt and all it may generate. */
static int job_positions(const srv_engine *e, const srv_job *j) {
    int64_t n = (int64_t)j->p.n_prompt + (j->p.max_tokens >= 0 ? j->p.max_tokens : e->c.n_ctx);
    return n < e->c.n_ctx ? (int)n : e->c.n_ctx;
}

/* Gives the blocks idle slots keep back to the pool (still cached for
 * prefix reuse until the memory is taken). */
static void reclaim_idle(srv_engine *e, const slot *keep) {
    for (int i = 0; i < e->c.n_parallel; i++)
        if (!e->slots[i].job && &e->slots[i] != keep) qwenc_session_truncate(e->slots[i].s, 0, NULL, 0);
}

/* Brings a free slot's cache to the longest cached prefix of j's prompt and
 * reserves what j may still need; 0 when j cannot have the memory yet. */
static int slot_fit(srv_engine *e, slot *sl, srv_job *j) {
    j->n_cached = qwenc_session_reuse_prefix(sl->s, j->p.prompt, j->p.n_prompt);
    if (!qwenc_session_reserve(sl->s, job_positions(e, j), NULL, 0)) return 1;
    reclaim_idle(e, sl);
    return !qwenc_session_reserve(sl->s, job_positions(e, j), NULL, 0);
}

/* Takes the jobs whose clients left out of the queue at once, so they hold
 * no place in it while every slot is busy. Called with mu held. */
static void drop_cancelled_locked(srv_engine *e) {
    int kept = 0;
    for (int i = 0; i < e->q_len; i++) {
        srv_job *j = e->queue[(e->q_head + i) % e->c.max_queue];
        if (!job_is_cancelled(j)) {
            e->queue[(e->q_head + kept++) % e->c.max_queue] = j;
            continue;
        }
        j->end = JOB_CANCELLED;
        j->t_done = now_s();
        job_close(j);
        job_unref(j);
    }
    e->q_len = kept;
}

/* Moves queued jobs, in order, into free slots (the one whose own cache
 * shares the longest prefix with the prompt) while the KV pool can promise
 * them their memory. Called with mu held. */
static void admit_locked(srv_engine *e) {
    while (e->q_len > 0) {
        srv_job *j = e->queue[e->q_head];
        int best = -1;
        size_t best_len = 0;
        for (int i = 0; i < e->c.n_parallel; i++) {
            slot *sl = &e->slots[i];
            if (sl->job) continue;
            size_t l = common_prefix(qwenc_session_tokens(sl->s), qwenc_session_n_past(sl->s), j->p.prompt,
                                     j->p.n_prompt);
            if (best < 0 || l > best_len) best = i, best_len = l;
        }
        if (best < 0) return;
        slot *sl = &e->slots[best];
        if (!slot_fit(e, sl, j)) return;  /* waits until running jobs give memory back */
        e->q_head = (e->q_head + 1) % e->c.max_queue;
        e->q_len--;
        e->running++;
        pthread_mutex_unlock(&e->mu);
        char err[256] = "";
        if (slot_start(e, sl, j, err, sizeof err)) {
            sl->job = j;
            slot_fail(e, sl, err[0] ? err : "could not start the request");
        }
        pthread_mutex_lock(&e->mu);
    }
}

static void *engine_main(void *arg) {
    srv_engine *e = arg;
    pthread_mutex_lock(&e->mu);
    while (!e->stopping) {
        drop_cancelled_locked(e);
        admit_locked(e);
        qwenc_kv_pool_get_stats(e->kv, &e->kv_stats);
        if (e->running == 0) {
            pthread_cond_wait(&e->cv, &e->mu);
            continue;
        }
        pthread_mutex_unlock(&e->mu);
        engine_step(e);
        pthread_mutex_lock(&e->mu);
    }
    pthread_mutex_unlock(&e->mu);
    for (int i = 0; i < e->c.n_parallel; i++)
        if (e->slots[i].job) slot_finish(e, &e->slots[i], JOB_CANCELLED);
    return NULL;
}

int engine_submit(srv_engine *e, srv_job *j) {
    pthread_mutex_lock(&e->mu);
    if (e->q_len >= e->c.max_queue) drop_cancelled_locked(e);
    if (e->q_len >= e->c.max_queue || e->stopping) {
        pthread_mutex_unlock(&e->mu);
        return -1;
    }
    job_ref(j);
    e->queue[(e->q_head + e->q_len) % e->c.max_queue] = j;
    e->q_len++;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return 0;
}

int engine_n_ctx(const srv_engine *e) { return e->c.n_ctx; }

void engine_get_stats(srv_engine *e, metrics_gauges *g) {
    pthread_mutex_lock(&e->mu);
    g->queued = e->q_len;
    g->running = e->running;
    g->kv_total = e->kv_stats.n_blocks * e->kv_stats.block_positions;
    g->kv_used = e->kv_stats.n_held * e->kv_stats.block_positions;
    g->kv_cached = e->kv_stats.n_cached * e->kv_stats.block_positions;
    pthread_mutex_unlock(&e->mu);
    g->n_slots = e->c.n_parallel;
}

/* The slots' sessions in one KV pool: --kv-mem positions, or n_ctx for
 * every slot; no smaller than one full context. */
static int engine_kv(srv_engine *e, qwenc_model *m, char *err, size_t errlen) {
    qwenc_session *probe = NULL;
    int rc = qwenc_session_new_in_pool(m, NULL, e->c.n_ctx, &probe, err, errlen);
    if (rc) return rc;
    e->c.n_ctx = qwenc_session_n_ctx(probe);  /* the session's default when n_ctx was 0 */
    qwenc_session_free(probe);
    int64_t per_pos = qwenc_model_kv_bytes(m, 1 << 20) >> 20;
    int64_t n_pos = e->c.kv_bytes > 0 ? e->c.kv_bytes / per_pos : (int64_t)e->c.n_ctx * e->c.n_parallel;
    if (n_pos < e->c.n_ctx)
        return snprintf(err, errlen, "--kv-mem %lld MiB holds %lld positions, less than one context of %d",
                        (long long)(e->c.kv_bytes >> 20), (long long)n_pos, e->c.n_ctx), QWENC_EINVAL;
    rc = qwenc_kv_pool_new(m, n_pos, &e->kv, err, errlen);
    for (int i = 0; !rc && i < e->c.n_parallel; i++)
        rc = qwenc_session_new_in_pool(m, e->kv, e->c.n_ctx, &e->slots[i].s, err, errlen);
    return rc;
}

static void engine_release(srv_engine *e) {
    if (e->slots)
        for (int i = 0; i < e->c.n_parallel; i++) qwenc_session_free(e->slots[i].s);
    qwenc_kv_pool_free(e->kv);
    json_vocab_free(e->jvocab);
    free(e->slots);
    free(e->queue);
    free(e->scratch);
    free(e->batch);
    free(e->batch_slots);
    free(e);
}

int engine_new(qwenc_model *m, const engine_config *c, srv_metrics *metrics, srv_engine **out, char *err,
               size_t errlen) {
    *out = NULL;
    srv_engine *e = calloc(1, sizeof *e);
    if (!e) return snprintf(err, errlen, "out of memory"), QWENC_ENOMEM;
    e->m = m;
    e->tok = qwenc_model_tokenizer(m);
    e->c = *c;
    e->metrics = metrics;
    qwenc_model_info info;
    qwenc_model_get_info(m, &info);
    e->vocab = info.vocab_size;
    qwenc_model_gen_defaults(m, &e->gen);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    e->slots = calloc((size_t)c->n_parallel, sizeof *e->slots);
    e->queue = calloc((size_t)c->max_queue, sizeof *e->queue);
    e->scratch = malloc((size_t)e->vocab * sizeof *e->scratch);
    int rc = !e->slots || !e->queue || !e->scratch ? (snprintf(err, errlen, "out of memory"), QWENC_ENOMEM) : 0;
    e->batch = calloc((size_t)c->n_parallel, sizeof *e->batch);
    e->batch_slots = calloc((size_t)c->n_parallel, sizeof *e->batch_slots);
    if (!rc && (!e->batch || !e->batch_slots)) rc = (snprintf(err, errlen, "out of memory"), QWENC_ENOMEM);
    if (!rc) rc = engine_kv(e, m, err, errlen);
    if (!rc && pthread_create(&e->thread, NULL, engine_main, e))
        rc = (snprintf(err, errlen, "cannot start the engine thread"), QWENC_ENOMEM);
    if (rc) {
        engine_release(e);
        return rc;
    }
    *out = e;
    return 0;
}

void engine_free(srv_engine *e) {
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    e->stopping = 1;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
    for (int i = 0; i < e->q_len; i++) {
        srv_job *j = e->queue[(e->q_head + i) % e->c.max_queue];
        j->end = JOB_CANCELLED;
        job_close(j);
        job_unref(j);
    }
    engine_release(e);
}
