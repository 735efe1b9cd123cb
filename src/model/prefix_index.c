#include "model/prefix_index.h"

#include <stdlib.h>
#include <string.h>

int qw_prefix_index_init(qw_prefix_index *x, int n_blocks) {
    memset(x, 0, sizeof *x);
    x->n_blocks = n_blocks;
    x->n_buckets = 1;
    while (x->n_buckets < (uint32_t)n_blocks) x->n_buckets <<= 1;
    size_t n = (size_t)n_blocks;
    x->gen = calloc(n, sizeof *x->gen);
    x->cached = calloc(n, 1);
    x->parent = malloc(n * sizeof *x->parent);
    x->parent_gen = malloc(n * sizeof *x->parent_gen);
    x->tokens = malloc(n * QW_KV_BLOCK * sizeof *x->tokens);
    x->next = malloc(n * sizeof *x->next);
    x->buckets = malloc(x->n_buckets * sizeof *x->buckets);
    if (!x->gen || !x->cached || !x->parent || !x->parent_gen || !x->tokens || !x->next || !x->buckets) {
        qw_prefix_index_free(x);
        return -1;
    }
    memset(x->buckets, 0xff, x->n_buckets * sizeof *x->buckets);
    return 0;
}

void qw_prefix_index_free(qw_prefix_index *x) {
    free(x->gen); free(x->cached); free(x->parent); free(x->parent_gen);
    free(x->tokens); free(x->next); free(x->buckets);
    memset(x, 0, sizeof *x);
}

/* FNV-1a over the parent's identity and the tokens. */
static uint32_t bucket_of(const qw_prefix_index *x, int parent, uint32_t parent_gen, const int32_t *tokens) {
    uint64_t h = 1469598103934665603ull;
    uint32_t words[2] = {(uint32_t)parent, parent_gen};
    for (int i = 0; i < 2 + QW_KV_BLOCK; i++) {
        h ^= i < 2 ? words[i] : (uint32_t)tokens[i - 2];
        h *= 1099511628211ull;
    }
    return (uint32_t)(h ^ (h >> 32)) & (x->n_buckets - 1);
}

static uint32_t gen_of(const qw_prefix_index *x, int parent) { return parent < 0 ? 0 : x->gen[parent]; }

int qw_prefix_lookup(const qw_prefix_index *x, int parent, const int32_t *tokens) {
    uint32_t pg = gen_of(x, parent);
    for (int b = x->buckets[bucket_of(x, parent, pg, tokens)]; b >= 0; b = x->next[b])
        if (x->parent[b] == parent && x->parent_gen[b] == pg &&
            !memcmp(x->tokens + (int64_t)b * QW_KV_BLOCK, tokens, QW_KV_BLOCK * sizeof *tokens))
            return b;
    return -1;
}

void qw_prefix_insert(qw_prefix_index *x, int b, int parent, const int32_t *tokens) {
    uint32_t pg = gen_of(x, parent);
    uint32_t k = bucket_of(x, parent, pg, tokens);
    x->parent[b] = parent;
    x->parent_gen[b] = pg;
    memcpy(x->tokens + (int64_t)b * QW_KV_BLOCK, tokens, QW_KV_BLOCK * sizeof *tokens);
    x->next[b] = x->buckets[k];
    x->buckets[k] = b;
    x->cached[b] = 1;
}

void qw_prefix_remove(qw_prefix_index *x, int b) {
    if (!x->cached[b]) return;
    uint32_t k = bucket_of(x, x->parent[b], x->parent_gen[b], x->tokens + (int64_t)b * QW_KV_BLOCK);
    for (int32_t *p = &x->buckets[k]; *p >= 0; p = &x->next[*p])
        if (*p == b) {
            *p = x->next[b];
            break;
        }
    x->cached[b] = 0;
}
