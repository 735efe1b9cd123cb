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

_Static_assert(QW_KV_BLOCK <= QW_ATTN_MAX_BLOCK, "KV blocks longer than the attention kernels take");

void qw_forward_scratch_free(scratch *s) {
    free(s->x); free(s->xn); free(s->q); free(s->k); free(s->v); free(s->att); free(s->gate); free(s->up);
    free(s->tmp); free(s->out); free(s->pos); free(s->ids); free(s->tables);
    memset(s, 0, sizeof *s);
}

/* Buffers for n tokens and n_out logit rows; those already there are kept
 * when large enough (growing the token buffers drops the logit rows too,
 * which are then made again). */
static int scratch_reserve(scratch *s, const qw_config *c, int n, int n_out) {
    if (n > s->cap) {
        qw_forward_scratch_free(s);
        size_t h = (size_t)c->hidden_size, qd = (size_t)c->n_heads * c->head_dim;
        size_t kvd = (size_t)c->n_kv_heads * c->head_dim;
        size_t inter = (size_t)(c->intermediate_size > c->moe_intermediate_size ? c->intermediate_size
                                                                                : c->moe_intermediate_size);
        s->x = malloc(n * h * sizeof(float));
        s->xn = malloc(n * h * sizeof(float));
        s->q = malloc(n * qd * sizeof(float));
        s->k = malloc(n * kvd * sizeof(float));
        s->v = malloc(n * kvd * sizeof(float));
        s->att = malloc(n * qd * sizeof(float));
        s->gate = malloc(n * inter * sizeof(float));
        s->up = malloc(n * inter * sizeof(float));
        s->tmp = malloc(n * h * sizeof(float));
        s->pos = malloc((size_t)n * sizeof *s->pos);
        s->ids = malloc((size_t)n * sizeof *s->ids);
        s->tables = malloc((size_t)n * sizeof *s->tables);
        if (!(s->x && s->xn && s->q && s->k && s->v && s->att && s->gate && s->up && s->tmp && s->pos && s->ids &&
              s->tables)) {
            qw_forward_scratch_free(s);
            return -1;
        }
        s->cap = n;
    }
    if (n_out > s->cap_out) {
        free(s->out);
        s->out = malloc((size_t)n_out * (size_t)c->vocab_size * sizeof(float));
        s->cap_out = s->out ? n_out : 0;
        if (!s->out) return -1;
    }
    return 0;
}

static void residual_add(float *x, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

/* The new keys and values go to their positions in the pool: a value as a
 * row, a key as a column of its head's [head_dim][QW_KV_BLOCK] (qw_attn_key). */
static void kv_store(qw_kv_pool *kv, int layer, const scratch *s, int n, int head_dim) {
    size_t row = (size_t)head_dim * sizeof(float);
    for (int t = 0; t < n; t++) {
        int b = s->tables[t][s->pos[t] / QW_KV_BLOCK], off = s->pos[t] % QW_KV_BLOCK;
        for (int h = 0; h < kv->kv_dim / head_dim; h++) {
            int64_t at = (int64_t)t * kv->kv_dim + (int64_t)h * head_dim;
            float *kt = qw_kv_row(kv, kv->k, layer, b, h, head_dim, 0) + off;
            for (int d = 0; d < head_dim; d++) kt[d * QW_KV_BLOCK] = s->k[at + d];
            memcpy(qw_kv_row(kv, kv->v, layer, b, h, head_dim, off), s->v + at, row);
        }
    }
}

/* q, k, v projections; Qwen3's per-head q/k norm; RoPE; keys and values to
 * the cache; attention of each token over its own sequence. */
static void attention_block(const qwenc_model *m, const qw_layer_weights *L, qw_kv_pool *kv, int layer, int n,
                            scratch *s) {
    const qw_config *c = &m->cfg;
    const qw_backend *be = m->be;
    int hd = c->head_dim;
    const qw_mat *qkv[] = {&L->wq, &L->wk, &L->wv};
    float *qkv_out[] = {s->q, s->k, s->v};
    be->matmul_many(m->pool, qkv, qkv_out, 3, s->xn, n);
    if (L->bq.data) {
        be->add_bias(s->q, &L->bq, n);
        be->add_bias(s->k, &L->bk, n);
        be->add_bias(s->v, &L->bv, n);
    }
    if (L->q_norm.data) {
        be->rmsnorm(m->pool, s->q, s->q, &L->q_norm, n * c->n_heads, hd, (float)c->rms_norm_eps);
        be->rmsnorm(m->pool, s->k, s->k, &L->k_norm, n * c->n_kv_heads, hd, (float)c->rms_norm_eps);
    }
    be->rope(m->pool, s->q, n, c->n_heads, hd, s->pos, m->inv_freq);
    be->rope(m->pool, s->k, n, c->n_kv_heads, hd, s->pos, m->inv_freq);
    kv_store(kv, layer, s, n, hd);
    int window = c->sliding_window > 0 && layer < c->max_window_layers ? c->sliding_window : 0;
    qw_attn_args a = {
        .q = s->q, .out = s->att, .k = qw_kv_block(kv, kv->k, layer, 0), .v = qw_kv_block(kv, kv->v, layer, 0),
        .tables = s->tables, .pos = s->pos, .n_tok = n, .block = QW_KV_BLOCK, .n_heads = c->n_heads,
        .n_kv_heads = c->n_kv_heads, .head_dim = hd, .window = window, .scale = 1.0f / sqrtf((float)hd),
    };
    be->attention(m->pool, &a);
    be->matmul(m->pool, &L->wo, s->att, s->tmp, n);
    if (L->bo.data) be->add_bias(s->tmp, &L->bo, n);
    /* tensor-parallel all-reduce of s->tmp goes here */
}

static void mlp_block(const qwenc_model *m, const qw_mlp_weights *w, int n, scratch *s) {
    const qw_backend *be = m->be;
    const qw_mat *gate_up[] = {&w->gate, &w->up};
    float *gate_up_out[] = {s->gate, s->up};
    be->matmul_many(m->pool, gate_up, gate_up_out, 2, s->xn, n);
    be->swiglu(m->pool, s->gate, s->up, (int64_t)n * w->gate.rows);
    be->matmul(m->pool, &w->down, s->gate, s->tmp, n);
    /* tensor-parallel all-reduce of s->tmp goes here */
}

/* Lays the sequences' tokens end to end; takes their cache blocks. */
static int batch_layout(const qwenc_model *m, const qw_forward_seq *seqs, int n_seqs, scratch *s, int *n_tok,
                        int *n_out, char *err, size_t errlen) {
    int n = 0, rows = 0;
    for (int i = 0; i < n_seqs; i++) {
        const qw_forward_seq *q = &seqs[i];
        if (q->logits_all && n_seqs > 1)
            return qw_errf(err, errlen, QWENC_EINVAL, "logits of every position are for a batch of one sequence");
        n += q->n;
        rows += q->logits ? (q->logits_all ? q->n : 1) : 0;
    }
    if (scratch_reserve(s, &m->cfg, n, n_seqs > 1 ? rows : 0))
        return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory for a batch of %d tokens", n);
    for (int i = 0, t = 0; i < n_seqs; i++) {
        const qw_forward_seq *q = &seqs[i];
        if (qw_kv_seq_prepare(q->kv, q->n_past, q->n)) {
            for (int j = 0; j <= i; j++) qw_kv_seq_truncate(seqs[j].kv, seqs[j].n_past);
            return qw_errf(err, errlen, QWENC_ENOMEM, "the KV cache is full (%d blocks of %d positions)",
                           q->kv->pool->n_blocks, QW_KV_BLOCK);
        }
        for (int j = 0; j < q->n; j++, t++) {
            s->ids[t] = q->ids[j];
            s->pos[t] = q->n_past + j;
            s->tables[t] = q->kv->blocks;
        }
    }
    *n_tok = n;
    *n_out = rows;
    return 0;
}

/* Final norm and lm_head over the rows whose logits are wanted. */
static void output_logits(const qwenc_model *m, const qw_forward_seq *seqs, int n_seqs, scratch *s, int n_out) {
    const qw_config *c = &m->cfg;
    int h = c->hidden_size, r = 0;
    for (int i = 0, t0 = 0; i < n_seqs; t0 += seqs[i].n, i++) {
        if (!seqs[i].logits) continue;
        int first = seqs[i].logits_all ? t0 : t0 + seqs[i].n - 1;
        for (int t = first; t < t0 + seqs[i].n; t++, r++)
            m->be->rmsnorm(m->pool, s->xn + (int64_t)r * h, s->x + (int64_t)t * h, &m->w.final_norm, 1, h,
                           (float)c->rms_norm_eps);
    }
    float *out = n_seqs == 1 ? seqs[0].logits : s->out;
    m->be->matmul(m->pool, &m->w.lm_head, s->xn, out, n_out);
    if (n_seqs == 1) return;
    for (int i = 0, r = 0; i < n_seqs; i++)
        if (seqs[i].logits)
            memcpy(seqs[i].logits, out + (int64_t)r++ * c->vocab_size, (size_t)c->vocab_size * sizeof(float));
}

int qw_forward(const qwenc_model *m, const qw_forward_seq *seqs, int n_seqs, scratch *s, char *err,
               size_t errlen) {
    const qw_config *c = &m->cfg;
    const qw_backend *be = m->be;
    int h = c->hidden_size, n = 0, n_out = 0;
    float eps = (float)c->rms_norm_eps;
    if (n_seqs <= 0) return 0;
    int rc = batch_layout(m, seqs, n_seqs, s, &n, &n_out, err, errlen);
    if (rc) return rc;
    qw_kv_pool *kv = seqs[0].kv->pool;

    be->embed(&m->w.embed, s->ids, n, s->x);
    for (int l = 0; l < c->n_layers; l++) {
        const qw_layer_weights *L = &m->w.layers[l];
        be->rmsnorm(m->pool, s->xn, s->x, &L->attn_norm, n, h, eps);
        attention_block(m, L, kv, l, n, s);
        residual_add(s->x, s->tmp, (int64_t)n * h);
        be->rmsnorm(m->pool, s->xn, s->x, &L->mlp_norm, n, h, eps);
        if (L->is_moe) {
            if (moe_forward(be, m->pool, c, L, s->xn, s->tmp, n))
                return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory in the MoE layer %d", l);
        } else {
            mlp_block(m, &L->mlp, n, s);
        }
        residual_add(s->x, s->tmp, (int64_t)n * h);
    }
    if (n_out) output_logits(m, seqs, n_seqs, s, n_out);
    return 0;
}
