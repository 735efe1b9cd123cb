#include "model/kv_cache.h"

#include <stdlib.h>
#include <string.h>

int64_t qw_kv_cache_bytes(int n_layers, int n_ctx, int kv_dim) {
    return 2 * (int64_t)n_layers * n_ctx * kv_dim * (int64_t)sizeof(float);
}

int qw_kv_cache_init(qw_kv_cache *kv, int n_layers, int n_ctx, int kv_dim) {
    size_t n = (size_t)n_layers * (size_t)n_ctx * (size_t)kv_dim;
    kv->n_layers = n_layers;
    kv->n_ctx = n_ctx;
    kv->kv_dim = kv_dim;
    kv->k = calloc(n, sizeof(float));
    kv->v = calloc(n, sizeof(float));
    if (!kv->k || !kv->v) {
        qw_kv_cache_free(kv);
        return -1;
    }
    return 0;
}

void qw_kv_cache_free(qw_kv_cache *kv) {
    free(kv->k);
    free(kv->v);
    kv->k = kv->v = NULL;
}
