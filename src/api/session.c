/* Public API: KV pools, sessions and batched evaluation. */
#include "base/err.h"
#include "model/model.h"

#include <stdlib.h>
#include <string.h>

struct qwenc_kv_pool {
    qwenc_model *m;
    qw_kv_pool kv;
    qw_forward_scratch fwd;  /* activations of the pool's batches, reused */
};

struct qwenc_session {
    qwenc_model *m;
    qwenc_kv_pool *pool;
    int own_pool;      /* made by qwenc_session_new, freed with the session */
    qw_kv_seq kv;
    int n_ctx, n_past;
    int32_t *tokens;   /* [n_ctx] the ids at positions 0..n_past-1 */
    float *logits;     /* last position */
    int has_logits;
};

/* ---- pools ---- */

int qwenc_kv_pool_new(qwenc_model *m, int64_t n_positions, qwenc_kv_pool **out, char *err, size_t errlen) {
    *out = NULL;
    if (n_positions <= 0 || n_positions > (int64_t)QW_KV_BLOCK * (1 << 30))
        return qw_errf(err, errlen, QWENC_EINVAL, "KV pool of %lld positions", (long long)n_positions);
    qwenc_kv_pool *p = calloc(1, sizeof *p);
    if (!p) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    p->m = m;
    if (qw_kv_pool_init(&p->kv, m->cfg.n_layers, m->cfg.n_kv_heads * m->cfg.head_dim,
                        qw_kv_blocks_for(n_positions))) {
        free(p);
        return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory for a KV cache of %lld positions",
                       (long long)n_positions);
    }
    *out = p;
    return 0;
}

void qwenc_kv_pool_free(qwenc_kv_pool *p) {
    if (!p) return;
    qw_kv_pool_free(&p->kv);
    qw_forward_scratch_free(&p->fwd);
    free(p);
}

void qwenc_kv_pool_get_stats(const qwenc_kv_pool *p, qwenc_kv_pool_stats *o) {
    const qw_kv_pool *kv = &p->kv;
    o->block_positions = QW_KV_BLOCK;
    o->n_blocks = kv->n_blocks;
    o->n_free = kv->n_free;
    o->n_cached = kv->n_evictable;
    o->n_held = kv->n_blocks - kv->n_free - kv->n_evictable;
    o->n_promised = kv->n_promised;
}

/* ---- sessions ---- */

int qwenc_session_new_in_pool(qwenc_model *m, qwenc_kv_pool *pool, int n_ctx, qwenc_session **out, char *err,
                              size_t errlen) {
    *out = NULL;
    int max = m->cfg.max_position_embeddings;
    if (n_ctx <= 0) n_ctx = max < 4096 ? max : 4096;
    if (n_ctx > max)
        return qw_errf(err, errlen, QWENC_ERANGE, "context %d is more than the model's max_position_embeddings %d",
                       n_ctx, max);
    if (pool && pool->m != m) return qw_errf(err, errlen, QWENC_EINVAL, "the KV pool belongs to another model");
    qwenc_session *s = calloc(1, sizeof *s);
    if (!s) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    s->m = m;
    s->n_ctx = n_ctx;
    int rc = 0;
    if (!pool) {
        rc = qwenc_kv_pool_new(m, n_ctx, &pool, err, errlen);
        s->own_pool = 1;
    }
    s->pool = pool;
    if (!rc) {
        s->logits = malloc((size_t)m->cfg.vocab_size * sizeof *s->logits);
        s->tokens = malloc((size_t)n_ctx * sizeof *s->tokens);
        if (!s->logits || !s->tokens || qw_kv_seq_init(&s->kv, &pool->kv, n_ctx))
            rc = qw_errf(err, errlen, QWENC_ENOMEM, "out of memory for a session of %d positions", n_ctx);
    }
    if (rc) {
        qwenc_session_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int qwenc_session_new(qwenc_model *m, int n_ctx, qwenc_session **out, char *err, size_t errlen) {
    return qwenc_session_new_in_pool(m, NULL, n_ctx, out, err, errlen);
}

void qwenc_session_free(qwenc_session *s) {
    if (!s) return;
    qw_kv_seq_free(&s->kv);
    if (s->own_pool) qwenc_kv_pool_free(s->pool);
    free(s->tokens);
    free(s->logits);
    free(s);
}

int qwenc_session_n_ctx(const qwenc_session *s) { return s->n_ctx; }
int qwenc_session_n_past(const qwenc_session *s) { return s->n_past; }

static void session_set_past(qwenc_session *s, int n_past) {
    qw_kv_seq_truncate(&s->kv, n_past);
    s->n_past = n_past;
    s->has_logits = 0;
}

int qwenc_session_truncate(qwenc_session *s, int n_keep, char *err, size_t errlen) {
    if (n_keep < 0 || n_keep > s->n_past)
        return qw_errf(err, errlen, QWENC_ERANGE, "cannot keep %d of %d positions", n_keep, s->n_past);
    session_set_past(s, n_keep);
    return 0;
}

int qwenc_session_reserve(qwenc_session *s, int n_positions, char *err, size_t errlen) {
    if (n_positions > s->n_ctx) n_positions = s->n_ctx;
    if (qw_kv_seq_promise(&s->kv, s->n_past, n_positions))
        return qw_errf(err, errlen, QWENC_ENOMEM, "the KV cache cannot hold %d more positions (%lld blocks free)",
                       n_positions - s->n_past, (long long)qw_kv_pool_available(&s->pool->kv));
    return 0;
}

int qwenc_session_reuse_prefix(qwenc_session *s, const int32_t *ids, int n) {
    int limit = n - 1;  /* the last token is evaluated for fresh logits */
    int own = 0;
    while (own < s->n_past && own < limit && s->tokens[own] == ids[own]) own++;
    int same, cached = qw_kv_prefix_match(&s->kv, ids, limit, &same) * QW_KV_BLOCK;
    if (cached > own) {
        int from = same * QW_KV_BLOCK < own ? same * QW_KV_BLOCK : own / QW_KV_BLOCK * QW_KV_BLOCK;
        session_set_past(s, from);
        own = qw_kv_seq_attach(&s->kv, ids, limit);
        memcpy(s->tokens + from, ids + from, (size_t)(own - from) * sizeof *ids);
    }
    session_set_past(s, own);
    return own;
}

/* ---- evaluation ---- */

static int check_ids(const qwenc_session *s, const int32_t *ids, int n, char *err, size_t errlen) {
    int vocab = s->m->cfg.vocab_size;
    if (n <= 0) return qw_errf(err, errlen, QWENC_EINVAL, "no tokens to evaluate");
    if (n > s->n_ctx - s->n_past)
        return qw_errf(err, errlen, QWENC_ERANGE, "%d tokens do not fit: %d of %d context positions are used", n,
                       s->n_past, s->n_ctx);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vocab)
            return qw_errf(err, errlen, QWENC_ERANGE, "token id %d at index %d is out of range [0, %d)", ids[i], i,
                           vocab);
    return 0;
}

/* After a forward pass: the tokens are in, full blocks go to the index. */
static void session_advance(qwenc_session *s, const int32_t *ids, int n, int has_logits) {
    memcpy(s->tokens + s->n_past, ids, (size_t)n * sizeof *ids);
    s->n_past += n;
    s->has_logits = has_logits;
    qw_kv_seq_index(&s->kv, s->tokens, s->n_past);
}

int qwenc_session_eval(qwenc_session *s, const int32_t *ids, int n, float *logits_all, char *err,
                       size_t errlen) {
    int vocab = s->m->cfg.vocab_size;
    int rc = check_ids(s, ids, n, err, errlen);
    if (rc) return rc;
    for (int done = 0; done < n;) {
        int b = n - done < QW_MAX_BATCH ? n - done : QW_MAX_BATCH;
        int last = done + b == n;
        qw_forward_seq q = {&s->kv, s->n_past, ids + done, b, NULL, logits_all != NULL};
        q.logits = logits_all ? logits_all + (int64_t)done * vocab : last ? s->logits : NULL;
        rc = qw_forward(s->m, &q, 1, &s->pool->fwd, err, errlen);
        if (rc) return rc;
        session_advance(s, ids + done, b, 0);
        done += b;
        if (last && logits_all) memcpy(s->logits, logits_all + (int64_t)(n - 1) * vocab, (size_t)vocab * sizeof(float));
    }
    s->has_logits = 1;
    return 0;
}

int qwenc_eval_batch(const qwenc_batch_item *items, int n_items, char *err, size_t errlen) {
    enum { MAX_ITEMS = 256 };
    qw_forward_seq seqs[MAX_ITEMS];
    if (n_items <= 0) return 0;
    if (n_items > MAX_ITEMS) return qw_errf(err, errlen, QWENC_EINVAL, "a batch of %d sessions (at most %d)", n_items, MAX_ITEMS);
    qwenc_kv_pool *pool = items[0].session->pool;
    for (int i = 0; i < n_items; i++) {
        qwenc_session *s = items[i].session;
        if (s->pool != pool) return qw_errf(err, errlen, QWENC_EINVAL, "batch item %d: a session of another KV pool", i);
        for (int j = 0; j < i; j++)
            if (items[j].session == s) return qw_errf(err, errlen, QWENC_EINVAL, "batch item %d: a session twice", i);
        int rc = check_ids(s, items[i].ids, items[i].n, err, errlen);
        if (rc) return rc;
        seqs[i] = (qw_forward_seq){&s->kv, s->n_past, items[i].ids, items[i].n, items[i].logits ? s->logits : NULL, 0};
    }
    int rc = qw_forward(pool->m, seqs, n_items, &pool->fwd, err, errlen);
    if (rc) return rc;
    for (int i = 0; i < n_items; i++) session_advance(items[i].session, items[i].ids, items[i].n, items[i].logits);
    return 0;
}

const float *qwenc_session_logits(const qwenc_session *s) { return s->has_logits ? s->logits : NULL; }

const int32_t *qwenc_session_tokens(const qwenc_session *s) { return s->tokens; }

int qwenc_session_sync(qwenc_session *s, const int32_t *ids, int n, int *n_reused, char *err, size_t errlen) {
    if (n_reused) *n_reused = 0;
    if (n <= 0) return qw_errf(err, errlen, QWENC_EINVAL, "no tokens to evaluate");
    int keep = qwenc_session_reuse_prefix(s, ids, n);
    int rc = qwenc_session_eval(s, ids + keep, n - keep, NULL, err, errlen);
    if (!rc && n_reused) *n_reused = keep;
    return rc;
}
