/* The key/value cache of one sequence: for every layer, K and V rows of
 * n_kv_heads * head_dim floats per position. Allocated zeroed, so the pages
 * of positions never reached cost no memory. */
#ifndef QW_MODEL_KV_CACHE_H
#define QW_MODEL_KV_CACHE_H

#include <stdint.h>

typedef struct {
    int n_layers, n_ctx, kv_dim;
    float *k, *v;  /* [n_layers][n_ctx][kv_dim] */
} qw_kv_cache;

int qw_kv_cache_init(qw_kv_cache *kv, int n_layers, int n_ctx, int kv_dim);
void qw_kv_cache_free(qw_kv_cache *kv);
int64_t qw_kv_cache_bytes(int n_layers, int n_ctx, int kv_dim);

static inline float *qw_kv_k(const qw_kv_cache *kv, int layer) {
    return kv->k + (int64_t)layer * kv->n_ctx * kv->kv_dim;
}
static inline float *qw_kv_v(const qw_kv_cache *kv, int layer) {
    return kv->v + (int64_t)layer * kv->n_ctx * kv->kv_dim;
}

#endif
