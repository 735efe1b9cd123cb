/* Paged key/value memory shared by sequences, with a prefix cache.
 *
 * A pool holds n_blocks blocks of QW_KV_BLOCK positions; for every layer a
 * block has K and V rows of kv_dim floats per position. A sequence holds a
 * table of block ids, one per QW_KV_BLOCK positions, so sequences of
 * different lengths use only the memory they need. The arrays are calloc'd:
 * blocks never used cost no memory.
 *
 * Full blocks enter the prefix index (prefix_index.h) once written; a new
 * sequence whose tokens start the same way takes those blocks instead of
 * computing them (their keys and values are bit-identical to what it would
 * compute: a matmul row does not depend on the batch around it). Blocks are
 * reference-counted; a shared or indexed block is copied (or taken out of
 * the index) before it is written. Indexed blocks nobody holds stay cached
 * until the memory is needed, least recently released first.
 *
 * Promises: a sequence may be promised blocks ahead of time, so that a
 * running sequence never finds the pool full: the pool never lets free +
 * cached-and-unheld blocks fall below what it has promised. */
#ifndef QW_MODEL_KV_CACHE_H
#define QW_MODEL_KV_CACHE_H

#include <stdint.h>

#include "model/prefix_index.h"

typedef struct {
    int n_layers, kv_dim, n_blocks;
    float *k, *v;        /* [n_layers][n_blocks][kv heads][QW_KV_BLOCK x head_dim] (qw_kv_row) */
    int32_t *refs;       /* [n_blocks] sequences holding each block */
    int32_t *free_ids;   /* stack of blocks neither held nor cached */
    int n_free;
    int32_t *lru_prev, *lru_next; /* cached blocks nobody holds, oldest first */
    int lru_head, lru_tail, n_evictable;
    int64_t n_promised;
    qw_prefix_index index;
} qw_kv_pool;

typedef struct {
    qw_kv_pool *pool;
    int32_t *blocks;     /* [cap] block of positions [i*QW_KV_BLOCK, (i+1)*QW_KV_BLOCK) */
    int n_blocks, cap;
    int n_indexed;       /* leading blocks already offered to the index */
    int promise;         /* blocks the pool keeps for this sequence */
} qw_kv_seq;

int64_t qw_kv_pool_bytes(int n_layers, int kv_dim, int n_blocks);
int qw_kv_pool_init(qw_kv_pool *p, int n_layers, int kv_dim, int n_blocks);
void qw_kv_pool_free(qw_kv_pool *p);
/* Blocks a sequence without a promise can still get. */
int64_t qw_kv_pool_available(const qw_kv_pool *p);

static inline int qw_kv_blocks_for(int64_t n_positions) {
    return (int)((n_positions + QW_KV_BLOCK - 1) / QW_KV_BLOCK);
}

int qw_kv_seq_init(qw_kv_seq *s, qw_kv_pool *p, int n_ctx);
void qw_kv_seq_free(qw_kv_seq *s);

/* Keeps positions [0, n_keep); blocks past them go back to the pool. */
void qw_kv_seq_truncate(qw_kv_seq *s, int n_keep);

/* Makes positions [n_past, n_past + n) writable: held, unshared, out of the
 * index. -1 (and nothing lost) when the pool has no block to give. */
int qw_kv_seq_prepare(qw_kv_seq *s, int n_past, int n);

/* Offers the full blocks of positions [0, n_past) to the index; a block
 * equal to one already there is swapped for it (memory shared). */
void qw_kv_seq_index(qw_kv_seq *s, const int32_t *tokens, int n_past);

/* How many leading blocks of tokens[0, n) the index holds; *n_same
 * receives how many of them the sequence already holds. */
int qw_kv_prefix_match(const qw_kv_seq *s, const int32_t *tokens, int n, int *n_same);

/* Takes cached blocks for tokens[0, n) after the sequence's own full
 * blocks, as far as the index and the pool allow; returns the positions
 * the sequence now holds. The sequence must end on a block boundary. */
int qw_kv_seq_attach(qw_kv_seq *s, const int32_t *tokens, int n);

/* Promises blocks for positions up to n_positions (from n_past on); -1 when
 * the pool cannot, leaving the previous promise in place. n_positions 0
 * drops the promise. */
int qw_kv_seq_promise(qw_kv_seq *s, int n_past, int n_positions);

/* A block of a layer (of p->k or p->v: base): QW_KV_BLOCK * kv_dim floats. */
static inline float *qw_kv_block(const qw_kv_pool *p, float *base, int layer, int block) {
    return base + ((int64_t)layer * p->n_blocks + block) * QW_KV_BLOCK * p->kv_dim;
}

/* Where KV head `head` keeps position `offset` of a block in a layer: a
 * block is [kv_dim / head_dim heads][QW_KV_BLOCK][head_dim], each head's
 * rows side by side, which is how the attention kernels read values (keys
 * are stored transposed, [head_dim][QW_KV_BLOCK]: kv_store in forward.c,
 * qw_attn_key in backend.h). */
static inline float *qw_kv_row(const qw_kv_pool *p, float *base, int layer, int block, int head, int head_dim,
                               int offset) {
    return qw_kv_block(p, base, layer, block) + ((int64_t)head * QW_KV_BLOCK + offset) * head_dim;
}

#endif
