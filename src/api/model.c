/* Public API: models and sessions. */
#include "base/err.h"
#include "base/file.h"
#include "format/gguf_model.h"
#include "format/gguf.h"
#include "model/gguf_export.h"
#include "model/model.h"
#include "model/requant.h"
#include "model/synthetic.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qwenc_session {
    qwenc_model *m;
    qw_kv_cache kv;
    qw_forward_scratch fwd;  /* activations, reused by every eval */
    int n_ctx, n_past;
    int32_t *tokens;   /* [n_ctx] the ids at positions 0..n_past-1 */
    float *logits;     /* last position */
    int has_logits;
};

void qwenc_model_params_init(qwenc_model_params *p) {
    memset(p, 0, sizeof *p);
    p->size = sizeof *p;
    p->n_threads = 1;
}

static float *rope_inv_freq(const qw_config *c) {
    int half = c->head_dim / 2;
    float *f = malloc((size_t)half * sizeof *f);
    if (!f) return NULL;
    /* as transformers: 1 / theta^(2i/d), in float32 */
    for (int i = 0; i < half; i++)
        f[i] = (float)(1.0 / pow(c->rope_theta, (double)(float)(2.0 * i / c->head_dim)));
    return f;
}

/* A model with its name (errors point there) and compute threads, nothing loaded. */
static int model_new(const char *name, const qwenc_model_params *params, qwenc_model **out, char *err,
                     size_t errlen) {
    if (params->size < sizeof *params)
        return qw_errf(err, errlen, QWENC_EINVAL, "model params: size field not set");
    qwenc_model *m = calloc(1, sizeof *m);
    if (!m || !(m->dir = strdup(name)) || !(m->pool = qw_pool_new(params->n_threads))) {
        qwenc_model_free(m);
        return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    }
    *out = m;
    return 0;
}

/* Once the config and checkpoint are in: the weights converted if asked
 * (which reads them all, so no prefetch then: it would read the released
 * source pages back), names to weights, and the rest. */
static int model_bind(qwenc_model *m, const qwenc_model_params *params, char *err, size_t errlen) {
    int rc = params->quant ? qw_requant(&m->cfg, &m->ck, params->quant, m->pool, params->progress,
                                        params->progress_ctx, err, errlen)
                           : 0;
    if (!rc) rc = qw_weights_bind(&m->cfg, &m->ck, m->dir, &m->w, err, errlen);
    if (rc) return rc;
    if (params->progress && !params->quant) qw_checkpoint_prefetch(&m->ck, params->progress, params->progress_ctx);
    m->be = qw_backend_cpu();
    m->inv_freq = rope_inv_freq(&m->cfg);
    return m->inv_freq ? 0 : qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
}

/* The model's tokenizer: the one params name, or the model's own when its
 * files have one (none is not an error: such a model runs on ids). */
static int model_tokenizer(qwenc_model *m, const qwenc_model_params *params, const char *path, int gguf, char *err,
                           size_t errlen) {
    if (params->tokenizer) return qwenc_tokenizer_open(params->tokenizer, &m->tokenizer, err, errlen);
    if (!path) return 0;
    if (gguf) {
        /* a lone .gguf is a whole model; one without tokenizer metadata (a
         * model whose directory had no tokenizer, written by qwenc convert)
         * is like such a directory */
        if (qw_gguf_find(m->ck.gguf, "tokenizer.ggml.model"))
            return qwenc_tokenizer_open(path, &m->tokenizer, err, errlen);
        return 0;
    }
    char *tj = qw_path_join(path, "tokenizer.json");
    int rc = tj && qw_file_exists(tj) ? qwenc_tokenizer_open(path, &m->tokenizer, err, errlen) : 0;
    free(tj);
    return rc;
}

int qwenc_model_open(const char *path, const qwenc_model_params *params, qwenc_model **out, char *err,
                     size_t errlen) {
    *out = NULL;
    qwenc_model_params def;
    qwenc_model_params_init(&def);
    if (!params) params = &def;
    qwenc_model *m = NULL;
    int rc = model_new(path, params, &m, err, errlen);
    if (rc) return rc;
    int gguf = !qw_is_dir(path) && qw_file_exists(path);  /* a file: GGUF (or an error saying why not) */
    if (gguf) {
        rc = qw_gguf_model_open(path, &m->cfg, &m->ck, err, errlen);
        /* tensor errors read "<dir>/<file>" */
        char *slash = strrchr(m->dir, '/');
        if (slash) *slash = 0;
        else strcpy(m->dir, ".");
    } else {
        rc = qw_config_load(path, &m->cfg, err, errlen);
        if (!rc) rc = qw_checkpoint_open(path, &m->ck, err, errlen);
    }
    if (!rc) rc = model_bind(m, params, err, errlen);
    if (!rc) rc = model_tokenizer(m, params, path, gguf, err, errlen);
    if (rc) {
        qwenc_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int qwenc_model_open_synthetic(const char *shape, const char *dtype, uint64_t seed,
                               const qwenc_model_params *params, qwenc_model **out, char *err, size_t errlen) {
    *out = NULL;
    qwenc_model_params def;
    qwenc_model_params_init(&def);
    if (!params) params = &def;
    qw_dtype dt;
    int rc = qw_synthetic_dtype(dtype, &dt, err, errlen);
    if (rc) return rc;
    char name[96];
    snprintf(name, sizeof name, "%s-%s", shape, dtype);  /* errors read "synthetic/<shape>-<dtype>" */
    qwenc_model *m = NULL;
    if ((rc = model_new("synthetic", params, &m, err, errlen))) return rc;
    rc = qw_synthetic_config(shape, &m->cfg, err, errlen);
    if (!rc) rc = qw_synthetic_checkpoint(&m->cfg, dt, seed, name, m->pool, &m->ck, err, errlen);
    if (!rc) rc = model_bind(m, params, err, errlen);
    if (!rc) rc = model_tokenizer(m, params, NULL, 0, err, errlen);
    if (rc) {
        qwenc_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void qwenc_model_free(qwenc_model *m) {
    if (!m) return;
    qwenc_tokenizer_free(m->tokenizer);
    qw_pool_free(m->pool);
    free(m->inv_freq);
    qw_weights_free(&m->w);
    qw_checkpoint_close(&m->ck);
    qw_config_free(&m->cfg);
    free(m->dir);
    free(m);
}

qwenc_tokenizer *qwenc_model_tokenizer(qwenc_model *m) { return m->tokenizer; }

void qwenc_model_get_info(const qwenc_model *m, qwenc_model_info *o) {
    const qw_config *c = &m->cfg;
    memset(o, 0, sizeof *o);
    o->arch = c->arch_name;
    o->vocab_size = c->vocab_size;
    o->hidden_size = c->hidden_size;
    o->intermediate_size = c->intermediate_size;
    o->n_layers = c->n_layers;
    o->n_heads = c->n_heads;
    o->n_kv_heads = c->n_kv_heads;
    o->head_dim = c->head_dim;
    o->n_experts = c->n_experts;
    o->n_experts_per_tok = c->n_experts_per_tok;
    o->moe_intermediate_size = c->moe_intermediate_size;
    o->max_position_embeddings = c->max_position_embeddings;
    o->tied_embeddings = c->tie_word_embeddings;
    o->rope_theta = c->rope_theta;
    o->rms_norm_eps = c->rms_norm_eps;
    o->n_params = m->w.n_params;
    o->n_params_active = m->w.n_params_active;
    o->weight_bytes = m->w.n_bytes;
    o->weight_bytes_per_token = m->w.n_bytes_active;
    o->weight_dtype = qw_dtype_name(m->w.main_dtype);
    o->n_tensors = m->ck.n_tensors;
    o->bos_id = c->bos_id;
    o->eos_id = c->eos_id;
}

void qwenc_model_foreach_tensor(const qwenc_model *m,
                                void (*fn)(void *ctx, const char *name, const char *dtype, int rank,
                                           const int64_t *shape),
                                void *ctx) {
    for (int i = 0; i < m->ck.n_tensors; i++) {
        const qw_st_tensor *t = &m->ck.tensors[i];
        fn(ctx, t->name, qw_dtype_name(t->dtype), t->rank, t->shape);
    }
}

int qwenc_model_save_gguf(qwenc_model *m, const char *path, const char *type,
                          void (*progress)(void *ctx, int64_t done_bytes, int64_t total_bytes), void *progress_ctx,
                          char *err, size_t errlen) {
    if (!m || !path || !*path) return qw_errf(err, errlen, QWENC_EINVAL, "save_gguf: no model or no path");
    return qw_gguf_export(&m->cfg, &m->ck, m->tokenizer, m->pool, path, type, progress, progress_ctx, err, errlen);
}

int64_t qwenc_model_kv_bytes(const qwenc_model *m, int n_ctx) {
    return qw_kv_cache_bytes(m->cfg.n_layers, n_ctx, m->cfg.n_kv_heads * m->cfg.head_dim);
}

void qwenc_model_gen_defaults(const qwenc_model *m, qwenc_gen_defaults *o) {
    *o = m->cfg.gen;
}

/* ---- sessions ---- */

int qwenc_session_new(qwenc_model *m, int n_ctx, qwenc_session **out, char *err, size_t errlen) {
    *out = NULL;
    int max = m->cfg.max_position_embeddings;
    if (n_ctx <= 0) n_ctx = max < 4096 ? max : 4096;
    if (n_ctx > max)
        return qw_errf(err, errlen, QWENC_ERANGE, "context %d is more than the model's max_position_embeddings %d",
                       n_ctx, max);
    qwenc_session *s = calloc(1, sizeof *s);
    if (!s) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    s->m = m;
    s->n_ctx = n_ctx;
    s->logits = malloc((size_t)m->cfg.vocab_size * sizeof *s->logits);
    s->tokens = malloc((size_t)n_ctx * sizeof *s->tokens);
    if (!s->logits || !s->tokens || qw_kv_cache_init(&s->kv, m->cfg.n_layers, n_ctx, m->cfg.n_kv_heads * m->cfg.head_dim)) {
        qwenc_session_free(s);
        return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory for a KV cache of %d positions", n_ctx);
    }
    *out = s;
    return 0;
}

void qwenc_session_free(qwenc_session *s) {
    if (!s) return;
    qw_kv_cache_free(&s->kv);
    qw_forward_scratch_free(&s->fwd);
    free(s->tokens);
    free(s->logits);
    free(s);
}

int qwenc_session_n_ctx(const qwenc_session *s) { return s->n_ctx; }
int qwenc_session_n_past(const qwenc_session *s) { return s->n_past; }

int qwenc_session_truncate(qwenc_session *s, int n_keep, char *err, size_t errlen) {
    if (n_keep < 0 || n_keep > s->n_past)
        return qw_errf(err, errlen, QWENC_ERANGE, "cannot keep %d of %d positions", n_keep, s->n_past);
    s->n_past = n_keep;
    s->has_logits = 0;
    return 0;
}

int qwenc_session_eval(qwenc_session *s, const int32_t *ids, int n, float *logits_all, char *err,
                       size_t errlen) {
    const qw_config *c = &s->m->cfg;
    if (n <= 0) return qw_errf(err, errlen, QWENC_EINVAL, "no tokens to evaluate");
    if (n > s->n_ctx - s->n_past)
        return qw_errf(err, errlen, QWENC_ERANGE, "%d tokens do not fit: %d of %d context positions are used", n,
                       s->n_past, s->n_ctx);
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= c->vocab_size)
            return qw_errf(err, errlen, QWENC_ERANGE, "token id %d at index %d is out of range [0, %d)", ids[i], i,
                           c->vocab_size);
    for (int done = 0; done < n;) {
        int b = n - done < QW_MAX_BATCH ? n - done : QW_MAX_BATCH;
        int last = done + b == n;
        float *out = logits_all ? logits_all + (int64_t)done * c->vocab_size : last ? s->logits : NULL;
        int rc = qw_forward(s->m, &s->kv, &s->fwd, s->n_past, ids + done, b, out, logits_all != NULL, err, errlen);
        if (rc) return rc;
        memcpy(s->tokens + s->n_past, ids + done, (size_t)b * sizeof *ids);
        s->n_past += b;
        done += b;
        if (last && logits_all)
            memcpy(s->logits, logits_all + (int64_t)(n - 1) * c->vocab_size, (size_t)c->vocab_size * sizeof(float));
    }
    s->has_logits = 1;
    return 0;
}

const float *qwenc_session_logits(const qwenc_session *s) { return s->has_logits ? s->logits : NULL; }

const int32_t *qwenc_session_tokens(const qwenc_session *s) { return s->tokens; }

int qwenc_session_sync(qwenc_session *s, const int32_t *ids, int n, int *n_reused, char *err, size_t errlen) {
    if (n_reused) *n_reused = 0;
    if (n <= 0) return qw_errf(err, errlen, QWENC_EINVAL, "no tokens to evaluate");
    int keep = 0;
    while (keep < s->n_past && keep < n - 1 && s->tokens[keep] == ids[keep]) keep++;
    s->n_past = keep;  /* positions past keep are overwritten by the evaluation */
    s->has_logits = 0;
    int rc = qwenc_session_eval(s, ids + keep, n - keep, NULL, err, errlen);
    if (!rc && n_reused) *n_reused = keep;
    return rc;
}
