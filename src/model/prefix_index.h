/* The prefix cache's index: full KV blocks found by what they hold.
 *
 * A block's keys and values depend on every token before it, so a block is
 * named by its parent (the block before it in its sequence) and its own
 * QW_KV_BLOCK token ids. Block ids are reused once a block is evicted, so
 * the parent is named by id and generation (bumped at every reuse): an
 * entry whose parent was evicted never matches again, and matches are exact
 * (the tokens are compared, the hash only finds the bucket). */
#ifndef QW_MODEL_PREFIX_INDEX_H
#define QW_MODEL_PREFIX_INDEX_H

#include <stdint.h>

#define QW_KV_BLOCK 32 /* positions per KV block */

typedef struct {
    int n_blocks;
    uint32_t *gen;      /* [n_blocks] bumped each time a block is (re)allocated */
    uint8_t *cached;    /* [n_blocks] 1 while the block is in the index */
    int32_t *parent;    /* [n_blocks] parent block id, -1 for a sequence's first block */
    uint32_t *parent_gen;
    int32_t *tokens;    /* [n_blocks][QW_KV_BLOCK] */
    int32_t *next;      /* [n_blocks] next block in the same bucket */
    int32_t *buckets;   /* [n_buckets] first block, -1 when empty */
    uint32_t n_buckets; /* a power of two */
} qw_prefix_index;

int qw_prefix_index_init(qw_prefix_index *x, int n_blocks);
void qw_prefix_index_free(qw_prefix_index *x);

/* The cached block holding `tokens` after `parent` (-1: at position 0), or -1. */
int qw_prefix_lookup(const qw_prefix_index *x, int parent, const int32_t *tokens);
/* Enters block b (not cached, no equal entry present) as holding tokens after parent. */
void qw_prefix_insert(qw_prefix_index *x, int b, int parent, const int32_t *tokens);
/* Takes block b out of the index (no-op when it is not cached). */
void qw_prefix_remove(qw_prefix_index *x, int b);

#endif
