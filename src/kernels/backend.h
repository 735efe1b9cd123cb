/* The kernel interface the model code calls. A backend is a table of
 * functions; the CPU one lives in kernels/cpu/, a CUDA one can sit beside it
 * without the model code changing. Activations are float32, row-major
 * [n_tok][dim]; weights stay in their stored type. */
#ifndef QW_KERNELS_BACKEND_H
#define QW_KERNELS_BACKEND_H

#include <stdint.h>

#include "base/threadpool.h"
#include "format/dtype.h"

/* A weight matrix [rows][cols] (rows = output features), row-major, in place. */
typedef struct {
    const void *data;
    qw_dtype dtype;
    int64_t rows, cols;
    const void *packed;  /* NULL, or the backend's copy of data laid out for its matmul (qw_backend.pack) */
} qw_mat;

/* A weight vector (norm gains, biases); data NULL means absent. */
typedef struct {
    const void *data;
    qw_dtype dtype;
    int64_t n;
} qw_vec;

/* Longest KV block (positions) the attention kernels take in one piece. */
#define QW_ATTN_MAX_BLOCK 64

/* Attention of a batch of tokens, each over the keys of its own sequence,
 * which live in blocks of `block` positions (paged: see model/kv_cache.h).
 * Tokens of several sequences may share one call. */
typedef struct {
    const float *q;         /* [n_tok][n_heads * head_dim], already rotated */
    float *out;             /* [n_tok][n_heads * head_dim] */
    const float *k;         /* this layer's key blocks: [n_blocks][n_kv_heads][head_dim][block] (transposed) */
    const float *v;         /* this layer's value blocks: [n_blocks][n_kv_heads][block][head_dim] */
    const int32_t *const *tables; /* per token: its sequence's block ids, position p in block p / block */
    const int *pos;         /* per token: its position; it sees keys at positions <= pos */
    int n_tok, block;
    int n_heads, n_kv_heads, head_dim;
    int window;             /* 0: full causal attention; else attend to the last `window` positions */
    float scale;
} qw_attn_args;

/* KV head h's value row of position p for a token whose block table is t. */
static inline const float *qw_attn_value(const qw_attn_args *a, const int32_t *t, int p, int h) {
    return a->v + (((int64_t)t[p / a->block] * a->n_kv_heads + h) * a->block + p % a->block) * a->head_dim;
}

/* Element 0 of KV head h's key of position p: element d is d * block further
 * (a block's keys are stored dimension by dimension, so that a vector holds
 * one dimension of consecutive positions). */
static inline const float *qw_attn_key(const qw_attn_args *a, const int32_t *t, int p, int h) {
    return a->k + ((int64_t)t[p / a->block] * a->n_kv_heads + h) * a->block * a->head_dim + p % a->block;
}

typedef struct qw_backend {
    const char *name;
    /* y[t][r] = sum_c w[r][c] * x[t][c], for t < n_tok, r < w->rows. */
    void (*matmul)(qw_pool *pool, const qw_mat *w, const float *x, float *y, int n_tok);
    /* ys[i] = ws[i] x for n_w matrices of x's width (n_w <= 3), the same
     * bits as n_w calls of matmul; a backend may run them as one job. */
    void (*matmul_many)(qw_pool *pool, const qw_mat *const *ws, float *const *ys, int n_w, const float *x, int n_tok);
    /* Once, at load: a copy of w's data in the layout this backend's matmul
     * reads fastest, pack_bytes(w) bytes (0: the dtype needs none), which
     * pack writes at dst (64-byte aligned) on the pool and points w->packed
     * at. matmul gives the same bits with or without it. */
    int64_t (*pack_bytes)(const qw_mat *w);
    void (*pack)(qw_pool *pool, qw_mat *w, void *dst);
    /* y[t] = x[t] / sqrt(mean(x[t]^2) + eps) * gain, rows of dim (y may be x). */
    void (*rmsnorm)(qw_pool *pool, float *y, const float *x, const qw_vec *gain, int n_rows, int dim, float eps);
    /* y[t] += bias for n_rows rows of bias->n. */
    void (*add_bias)(float *y, const qw_vec *bias, int n_rows);
    /* Rotate-half RoPE in place on x[n_tok][n_heads][head_dim]; pos[t] is
     * token t's position; inv_freq has head_dim/2 entries. */
    void (*rope)(qw_pool *pool, float *x, int n_tok, int n_heads, int head_dim, const int *pos, const float *inv_freq);
    void (*attention)(qw_pool *pool, const qw_attn_args *a);
    /* gate[i] = silu(gate[i]) * up[i]. */
    void (*swiglu)(qw_pool *pool, float *gate, const float *up, int64_t n);
    /* out[i] = row ids[i] of emb as float32. */
    void (*embed)(const qw_mat *emb, const int32_t *ids, int n, float *out);
} qw_backend;

const qw_backend *qw_backend_cpu(void);

/* Element i of a weight vector as float32. */
float qw_vec_get(const qw_vec *v, int64_t i);
/* Elements i0..i0+n-1 of a weight vector as float32 into out (the dtype
 * looked at once, not per element). */
void qw_vec_to_f32(const qw_vec *v, int64_t i0, int64_t n, float *out);

#endif
