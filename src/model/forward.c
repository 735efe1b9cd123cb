/* The Qwen2/Qwen3/Qwen3-MoE forward pass, batched over tokens, reading like
 * the model card: embed; per layer norm -> attention -> residual -> norm ->
 * MLP or MoE -> residual; final norm; lm_head. */
#include "base/err.h"
#include "model/model.h"
#include "model/moe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef qw_forward_scratch scratch;

void qw_forward_scratch_free(scratch *s) {
    free(s->x); free(s->xn); free(s->q); free(s->att); free(s->gate); free(s->up); free(s->tmp); free(s->pos);
    memset(s, 0, sizeof *s);
}

/* Buffers for n tokens; those already there are kept when large enough. */
static int scratch_reserve(scratch *s, const qw_config *c, int n) {
    if (n <= s->cap) return 0;
    qw_forward_scratch_free(s);
    size_t h = (size_t)c->hidden_size, qd = (size_t)c->n_heads * c->head_dim;
    size_t inter = (size_t)(c->intermediate_size > c->moe_intermediate_size ? c->intermediate_size
                                                                            : c->moe_intermediate_size);
    s->x = malloc(n * h * sizeof(float));
    s->xn = malloc(n * h * sizeof(float));
    s->q = malloc(n * qd * sizeof(float));
    s->att = malloc(n * qd * sizeof(float));
    s->gate = malloc(n * inter * sizeof(float));
    s->up = malloc(n * inter * sizeof(float));
    s->tmp = malloc(n * h * sizeof(float));
    s->pos = malloc((size_t)n * sizeof(int));
    if (!(s->x && s->xn && s->q && s->att && s->gate && s->up && s->tmp && s->pos)) {
        qw_forward_scratch_free(s);
        return -1;
    }
    s->cap = n;
    return 0;
}

static void residual_add(float *x, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

/* q, k, v projections; Qwen3's per-head q/k norm; RoPE; k and v land
 * straight in the cache at their positions. */
static void attention_block(const qwenc_model *m, const qw_layer_weights *L, qw_kv_cache *kv, int layer,
                            int n_past, int n, scratch *s) {
    const qw_config *c = &m->cfg;
    const qw_backend *be = m->be;
    int hd = c->head_dim, kvd = c->n_kv_heads * hd;
    float *k = qw_kv_k(kv, layer) + (int64_t)n_past * kvd;
    float *v = qw_kv_v(kv, layer) + (int64_t)n_past * kvd;
    be->matmul(m->pool, &L->wq, s->xn, s->q, n);
    be->matmul(m->pool, &L->wk, s->xn, k, n);
    be->matmul(m->pool, &L->wv, s->xn, v, n);
    if (L->bq.data) {
        be->add_bias(s->q, &L->bq, n);
        be->add_bias(k, &L->bk, n);
        be->add_bias(v, &L->bv, n);
    }
    if (L->q_norm.data) {
        be->rmsnorm(s->q, s->q, &L->q_norm, n * c->n_heads, hd, (float)c->rms_norm_eps);
        be->rmsnorm(k, k, &L->k_norm, n * c->n_kv_heads, hd, (float)c->rms_norm_eps);
    }
    be->rope(s->q, n, c->n_heads, hd, s->pos, m->inv_freq);
    be->rope(k, n, c->n_kv_heads, hd, s->pos, m->inv_freq);
    int window = c->sliding_window > 0 && layer < c->max_window_layers ? c->sliding_window : 0;
    qw_attn_args a = {
        .q = s->q, .k_cache = qw_kv_k(kv, layer), .v_cache = qw_kv_v(kv, layer), .out = s->att,
        .n_tok = n, .n_past = n_past, .n_heads = c->n_heads, .n_kv_heads = c->n_kv_heads,
        .head_dim = hd, .window = window, .scale = 1.0f / sqrtf((float)hd),
    };
    be->attention(m->pool, &a);
    be->matmul(m->pool, &L->wo, s->att, s->tmp, n);
    if (L->bo.data) be->add_bias(s->tmp, &L->bo, n);
    /* tensor-parallel all-reduce of s->tmp goes here */
}

static void mlp_block(const qwenc_model *m, const qw_mlp_weights *w, int n, scratch *s) {
    const qw_backend *be = m->be;
    be->matmul(m->pool, &w->gate, s->xn, s->gate, n);
    be->matmul(m->pool, &w->up, s->xn, s->up, n);
    be->swiglu(s->gate, s->up, (int64_t)n * w->gate.rows);
    be->matmul(m->pool, &w->down, s->gate, s->tmp, n);
    /* tensor-parallel all-reduce of s->tmp goes here */
}

int qw_forward(const qwenc_model *m, qw_kv_cache *kv, scratch *sp, int n_past, const int32_t *ids, int n,
               float *logits, int logits_all, char *err, size_t errlen) {
    const qw_config *c = &m->cfg;
    const qw_backend *be = m->be;
    int h = c->hidden_size;
    float eps = (float)c->rms_norm_eps;
    if (scratch_reserve(sp, c, n)) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory for a batch of %d", n);
    scratch s = *sp;
    for (int t = 0; t < n; t++) s.pos[t] = n_past + t;

    be->embed(&m->w.embed, ids, n, s.x);
    for (int l = 0; l < c->n_layers; l++) {
        const qw_layer_weights *L = &m->w.layers[l];
        be->rmsnorm(s.xn, s.x, &L->attn_norm, n, h, eps);
        attention_block(m, L, kv, l, n_past, n, &s);
        residual_add(s.x, s.tmp, (int64_t)n * h);
        be->rmsnorm(s.xn, s.x, &L->mlp_norm, n, h, eps);
        if (L->is_moe) {
            if (moe_forward(be, m->pool, c, L, s.xn, s.tmp, n)) {
                return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory in the MoE layer %d", l);
            }
        } else {
            mlp_block(m, &L->mlp, n, &s);
        }
        residual_add(s.x, s.tmp, (int64_t)n * h);
    }
    if (!logits) return 0;
    int first = logits_all ? 0 : n - 1;
    be->rmsnorm(s.xn, s.x + (int64_t)first * h, &m->w.final_norm, n - first, h, eps);
    be->matmul(m->pool, &m->w.lm_head, s.xn, logits, n - first);
    return 0;
}
