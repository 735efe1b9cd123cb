/* Public API: models and sessions. */
#include "base/err.h"
#include "base/file.h"
#include "format/gguf_model.h"
#include "format/gguf.h"
#include "model/finite.h"
#include "model/gguf_export.h"
#include "model/model.h"
#include "model/requant.h"
#include "model/synthetic.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    if ((rc = qw_weights_pack(&m->w, &m->ck, m->be, m->pool, err, errlen))) return rc;
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
    int rc = tj && qw_path_present(tj) ? qwenc_tokenizer_open(path, &m->tokenizer, err, errlen) : 0;
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

int qwenc_model_check_weights(qwenc_model *m, int64_t *n_nonfinite, char *first_bad, size_t len) {
    if (first_bad && len) first_bad[0] = 0;
    if (n_nonfinite) *n_nonfinite = 0;
    if (!m || !n_nonfinite) return QWENC_EINVAL;
    int64_t *counts = malloc((size_t)(m->ck.n_tensors ? m->ck.n_tensors : 1) * sizeof *counts);
    if (!counts || qw_count_nonfinite(&m->ck, m->pool, counts)) {
        free(counts);
        return QWENC_ENOMEM;
    }
    for (int i = 0; i < m->ck.n_tensors; i++) {
        if (counts[i] && !*n_nonfinite && first_bad && len) snprintf(first_bad, len, "%s", m->ck.tensors[i].name);
        *n_nonfinite += counts[i];
    }
    free(counts);
    return 0;
}

int64_t qwenc_model_kv_bytes(const qwenc_model *m, int n_ctx) {
    return qw_kv_pool_bytes(m->cfg.n_layers, m->cfg.n_kv_heads * m->cfg.head_dim, qw_kv_blocks_for(n_ctx));
}

void qwenc_model_gen_defaults(const qwenc_model *m, qwenc_gen_defaults *o) {
    *o = m->cfg.gen;
}
