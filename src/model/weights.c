#include "model/weights.h"
#include "base/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Binding context: where errors point and what has been counted. */
typedef struct {
    const qw_checkpoint *ck;
    const char *dir;
    char *err;
    size_t errlen;
    int64_t n_params, n_bytes, bytes_by_dtype[QW_DT_COUNT];
} binder;

static int find(binder *b, const char *name, int rank, const int64_t *shape, const qw_st_tensor **out) {
    const qw_st_tensor *t = qw_checkpoint_find(b->ck, name);
    if (!t) return qw_errf(b->err, b->errlen, QWENC_EFORMAT, "%s: missing tensor '%s'", b->dir, name);
    const char *file = b->ck->file_names[t->file_index];
    int quant = qw_dtype_block(t->dtype) != 0;
    if (t->dtype != QW_DT_BF16 && t->dtype != QW_DT_F16 && t->dtype != QW_DT_F32 && !(quant && rank == 2))
        return qw_errf(b->err, b->errlen, QWENC_EUNSUPPORTED,
                       "%s/%s: tensor '%s' has dtype %s; weights must be bf16, f16 or f32 (or q8_0, q4_0, q5_0, "
                       "q4_k, q6_k matrices)", b->dir, file, name, qw_dtype_name(t->dtype));
    /* Kernels load plain elements directly; hub files align tensor data, an
     * odd offset means a damaged or hand-made file. Block formats are read
     * bytewise. */
    if (!quant && (uintptr_t)t->data % qw_dtype_size(t->dtype))
        return qw_errf(b->err, b->errlen, QWENC_EFORMAT,
                       "%s/%s: tensor '%s' data is not aligned to its %zu-byte elements", b->dir, file, name,
                       qw_dtype_size(t->dtype));
    int ok = t->rank == rank;
    for (int i = 0; ok && i < rank; i++) ok = t->shape[i] == shape[i];
    if (!ok) {
        char got[96] = "", want[96] = "";
        for (int i = 0; i < t->rank; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        for (int i = 0; i < rank; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? ", " : "", (long long)shape[i]);
        return qw_errf(b->err, b->errlen, QWENC_EFORMAT,
                       "%s/%s: tensor '%s' has shape [%s], config.json implies [%s]", b->dir, file, name,
                       got, want);
    }
    int64_t n = 1;
    for (int i = 0; i < rank; i++) n *= shape[i];
    b->n_params += n;
    b->n_bytes += (int64_t)t->nbytes;
    b->bytes_by_dtype[t->dtype] += (int64_t)t->nbytes;
    *out = t;
    return 0;
}

static int bind_mat(binder *b, const char *name, int64_t rows, int64_t cols, qw_mat *m) {
    const qw_st_tensor *t = NULL;
    int rc = find(b, name, 2, (int64_t[]){rows, cols}, &t);
    if (!rc) *m = (qw_mat){.data = t->data, .dtype = t->dtype, .rows = rows, .cols = cols};
    return rc;
}

static int bind_vec(binder *b, const char *name, int64_t n, qw_vec *v) {
    const qw_st_tensor *t = NULL;
    int rc = find(b, name, 1, (int64_t[]){n}, &t);
    if (!rc) *v = (qw_vec){t->data, t->dtype, n};
    return rc;
}

static int bind_mlp(binder *b, const char *prefix, int hidden, int inter, qw_mlp_weights *m) {
    char name[256];
    int rc;
    snprintf(name, sizeof name, "%s.gate_proj.weight", prefix);
    if ((rc = bind_mat(b, name, inter, hidden, &m->gate))) return rc;
    snprintf(name, sizeof name, "%s.up_proj.weight", prefix);
    if ((rc = bind_mat(b, name, inter, hidden, &m->up))) return rc;
    snprintf(name, sizeof name, "%s.down_proj.weight", prefix);
    return bind_mat(b, name, hidden, inter, &m->down);
}

static int bind_attention(binder *b, const qw_config *c, int i, qw_layer_weights *L) {
    char name[256];
    int h = c->hidden_size, qd = c->n_heads * c->head_dim, kvd = c->n_kv_heads * c->head_dim;
    int rc;
#define MAT(field, suffix, r, cc)                                                 \
    snprintf(name, sizeof name, "model.layers.%d.%s", i, suffix);                 \
    if ((rc = bind_mat(b, name, r, cc, &L->field))) return rc;
#define VEC(field, suffix, n)                                                     \
    snprintf(name, sizeof name, "model.layers.%d.%s", i, suffix);                 \
    if ((rc = bind_vec(b, name, n, &L->field))) return rc;
    VEC(attn_norm, "input_layernorm.weight", h);
    VEC(mlp_norm, "post_attention_layernorm.weight", h);
    MAT(wq, "self_attn.q_proj.weight", qd, h);
    MAT(wk, "self_attn.k_proj.weight", kvd, h);
    MAT(wv, "self_attn.v_proj.weight", kvd, h);
    MAT(wo, "self_attn.o_proj.weight", h, qd);
    if (c->attention_bias) {
        VEC(bq, "self_attn.q_proj.bias", qd);
        VEC(bk, "self_attn.k_proj.bias", kvd);
        VEC(bv, "self_attn.v_proj.bias", kvd);
        if (c->arch != QW_ARCH_QWEN2) { VEC(bo, "self_attn.o_proj.bias", h); }
    }
    if (c->qk_norm) {
        VEC(q_norm, "self_attn.q_norm.weight", c->head_dim);
        VEC(k_norm, "self_attn.k_norm.weight", c->head_dim);
    }
#undef MAT
#undef VEC
    return 0;
}

/* MoE layer: the router and every expert; only k of n_experts run per token,
 * which is what n_params_active counts. */
static int bind_moe(binder *b, const qw_config *c, int i, qw_layer_weights *L, int64_t *inactive,
                    int64_t *inactive_bytes) {
    char name[256];
    int rc;
    snprintf(name, sizeof name, "model.layers.%d.mlp.gate.weight", i);
    if ((rc = bind_mat(b, name, c->n_experts, c->hidden_size, &L->router))) return rc;
    int64_t before = b->n_bytes;  /* the experts' bytes start here */
    L->experts = calloc((size_t)c->n_experts, sizeof *L->experts);
    if (!L->experts) return qw_errf(b->err, b->errlen, QWENC_ENOMEM, "out of memory");
    L->n_experts = c->n_experts;
    for (int e = 0; e < c->n_experts; e++) {
        snprintf(name, sizeof name, "model.layers.%d.mlp.experts.%d", i, e);
        if ((rc = bind_mlp(b, name, c->hidden_size, c->moe_intermediate_size, &L->experts[e]))) return rc;
    }
    *inactive += (int64_t)(c->n_experts - c->n_experts_per_tok) * 3 * c->hidden_size * c->moe_intermediate_size;
    /* experts share one shape and dtype, so each is 1/n_experts of the bytes */
    *inactive_bytes += (b->n_bytes - before) / c->n_experts * (c->n_experts - c->n_experts_per_tok);
    return 0;
}

int qw_weights_bind(const qw_config *c, const qw_checkpoint *ck, const char *dir, qw_weights *w,
                    char *err, size_t errlen) {
    memset(w, 0, sizeof *w);
    binder b = {.ck = ck, .dir = dir, .err = err, .errlen = errlen};
    int rc;
    int64_t inactive = 0, inactive_bytes = 0;
    if ((rc = bind_mat(&b, "model.embed_tokens.weight", c->vocab_size, c->hidden_size, &w->embed))) goto fail;
    if ((rc = bind_vec(&b, "model.norm.weight", c->hidden_size, &w->final_norm))) goto fail;
    if (c->tie_word_embeddings) w->lm_head = w->embed;
    else if ((rc = bind_mat(&b, "lm_head.weight", c->vocab_size, c->hidden_size, &w->lm_head))) goto fail;
    w->n_layers = c->n_layers;
    w->layers = calloc((size_t)c->n_layers, sizeof *w->layers);
    if (!w->layers) {
        rc = qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
        goto fail;
    }
    for (int i = 0; i < c->n_layers; i++) {
        qw_layer_weights *L = &w->layers[i];
        char prefix[64];
        if ((rc = bind_attention(&b, c, i, L))) goto fail;
        L->is_moe = qw_config_layer_is_moe(c, i);
        snprintf(prefix, sizeof prefix, "model.layers.%d.mlp", i);
        rc = L->is_moe ? bind_moe(&b, c, i, L, &inactive, &inactive_bytes)
                       : bind_mlp(&b, prefix, c->hidden_size, c->intermediate_size, &L->mlp);
        if (rc) goto fail;
    }
    w->n_params = b.n_params;
    w->n_params_active = b.n_params - inactive;
    w->n_bytes = b.n_bytes;
    w->n_bytes_active = b.n_bytes - inactive_bytes;
    if (!c->tie_word_embeddings)  /* a token looks up one row of the embedding */
        w->n_bytes_active -= qw_dtype_row_bytes(w->embed.dtype, w->embed.cols) * (w->embed.rows - 1);
    w->main_dtype = QW_DT_F32;
    for (int d = QW_DT_F32; d < QW_DT_COUNT; d++)
        if (b.bytes_by_dtype[d] > b.bytes_by_dtype[w->main_dtype]) w->main_dtype = (qw_dtype)d;
    return 0;
fail:
    qw_weights_free(w);
    return rc;
}

/* fn on every matrix the forward pass multiplies by (the embedding is only
 * looked up), until one fails. */
static int each_matmul(qw_weights *w, int (*fn)(qw_mat *m, void *ctx), void *ctx) {
    int rc = fn(&w->lm_head, ctx);
    for (int i = 0; !rc && w->layers && i < w->n_layers; i++) {
        qw_layer_weights *L = &w->layers[i];
        qw_mat *mats[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->router, &L->mlp.gate, &L->mlp.up, &L->mlp.down};
        for (size_t j = 0; !rc && j < sizeof mats / sizeof mats[0]; j++) rc = fn(mats[j], ctx);
        for (int e = 0; !rc && L->experts && e < L->n_experts; e++) {
            qw_mlp_weights *x = &L->experts[e];
            if (!(rc = fn(&x->gate, ctx)) && !(rc = fn(&x->up, ctx))) rc = fn(&x->down, ctx);
        }
    }
    return rc;
}

typedef struct {
    const qw_checkpoint *ck;
    const qw_backend *be;
    qw_pool *pool;
    uint8_t *at;  /* where the next matrix goes; NULL while only counting */
    int64_t bytes;
} pack_ctx;

static int pack_one(qw_mat *m, void *ctx) {
    pack_ctx *p = ctx;
    int64_t n = m->data ? (p->be->pack_bytes(m) + 63) / 64 * 64 : 0;
    if (n && p->at) {
        p->be->pack(p->pool, m, p->at + p->bytes);
        qw_checkpoint_drop(p->ck, m->data, (size_t)(m->rows * qw_dtype_row_bytes(m->dtype, m->cols)));
    }
    p->bytes += n;
    return 0;
}

/* Memory for the packed matrices (free() releases it): in 2 MiB pages where
 * the system gives them (transparent huge pages, asked for), which take a
 * 512th of the page faults to fill and of the TLB misses to stream, and let
 * the hardware prefetchers run on (they stop at page ends). */
static void *alloc_packed(size_t bytes) {
    const size_t huge = 2u << 20;
    bytes = (bytes + huge - 1) / huge * huge;
    void *p = aligned_alloc(huge, bytes);
#ifdef MADV_HUGEPAGE
    if (p) madvise(p, bytes, MADV_HUGEPAGE);  /* advice: without it, plain pages */
#endif
    return p;
}

int qw_weights_pack(qw_weights *w, const qw_checkpoint *ck, const qw_backend *be, qw_pool *pool, char *err,
                    size_t errlen) {
    pack_ctx p = {ck, be, pool, NULL, 0};
    each_matmul(w, pack_one, &p);
    if (!p.bytes) return 0;
    if (!(w->packed = alloc_packed((size_t)p.bytes)))
        return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory packing %.1f MiB of weights for the %s backend",
                       (double)p.bytes / (1 << 20), be->name);
    w->n_bytes_packed = p.bytes;
    p.at = w->packed;
    p.bytes = 0;
    return each_matmul(w, pack_one, &p);
}

void qw_weights_free(qw_weights *w) {
    free(w->packed);
    if (w->layers)
        for (int i = 0; i < w->n_layers; i++) free(w->layers[i].experts);
    free(w->layers);
    memset(w, 0, sizeof *w);
}
