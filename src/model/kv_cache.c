#include "model/kv_cache.h"

#include <stdlib.h>
#include <string.h>

int64_t qw_kv_pool_bytes(int n_layers, int kv_dim, int n_blocks) {
    return 2 * (int64_t)n_layers * n_blocks * QW_KV_BLOCK * kv_dim * (int64_t)sizeof(float);
}

int qw_kv_pool_init(qw_kv_pool *p, int n_layers, int kv_dim, int n_blocks) {
    memset(p, 0, sizeof *p);
    p->n_layers = n_layers;
    p->kv_dim = kv_dim;
    p->n_blocks = n_blocks;
    size_t rows = (size_t)n_layers * (size_t)n_blocks * QW_KV_BLOCK * (size_t)kv_dim;
    p->k = calloc(rows, sizeof(float));
    p->v = calloc(rows, sizeof(float));
    p->refs = calloc((size_t)n_blocks, sizeof *p->refs);
    p->free_ids = malloc((size_t)n_blocks * sizeof *p->free_ids);
    p->lru_prev = malloc((size_t)n_blocks * sizeof *p->lru_prev);
    p->lru_next = malloc((size_t)n_blocks * sizeof *p->lru_next);
    if (!p->k || !p->v || !p->refs || !p->free_ids || !p->lru_prev || !p->lru_next ||
        qw_prefix_index_init(&p->index, n_blocks)) {
        qw_kv_pool_free(p);
        return -1;
    }
    /* Lowest ids on top: the memory in use stays compact. */
    for (int i = 0; i < n_blocks; i++) p->free_ids[i] = n_blocks - 1 - i;
    p->n_free = n_blocks;
    p->lru_head = p->lru_tail = -1;
    return 0;
}

void qw_kv_pool_free(qw_kv_pool *p) {
    free(p->k); free(p->v); free(p->refs); free(p->free_ids); free(p->lru_prev); free(p->lru_next);
    qw_prefix_index_free(&p->index);
    memset(p, 0, sizeof *p);
}

int64_t qw_kv_pool_available(const qw_kv_pool *p) { return (int64_t)p->n_free + p->n_evictable - p->n_promised; }

/* ---- blocks ---- */

static void lru_unlink(qw_kv_pool *p, int b) {
    int pr = p->lru_prev[b], nx = p->lru_next[b];
    if (pr >= 0) p->lru_next[pr] = nx; else p->lru_head = nx;
    if (nx >= 0) p->lru_prev[nx] = pr; else p->lru_tail = pr;
    p->n_evictable--;
}

static void lru_append(qw_kv_pool *p, int b) {
    p->lru_prev[b] = p->lru_tail;
    p->lru_next[b] = -1;
    if (p->lru_tail >= 0) p->lru_next[p->lru_tail] = b; else p->lru_head = b;
    p->lru_tail = b;
    p->n_evictable++;
}

/* Takes an extra reference to a block someone holds or the cache keeps. */
static void block_hold(qw_kv_pool *p, int b) {
    if (p->refs[b]++ == 0) lru_unlink(p, b);
}

static void block_release(qw_kv_pool *p, int b) {
    if (--p->refs[b] > 0) return;
    if (p->index.cached[b])
        lru_append(p, b);
    else
        p->free_ids[p->n_free++] = b;
}

/* Takes a free block, or evicts the least recently released cached one. */
static int block_alloc(qw_kv_seq *s) {
    qw_kv_pool *p = s->pool;
    if (s->promise > 0) {
        s->promise--;
        p->n_promised--;
    } else if (qw_kv_pool_available(p) <= 0) {
        return -1;
    }
    int b;
    if (p->n_free > 0) {
        b = p->free_ids[--p->n_free];
    } else {
        b = p->lru_head;
        lru_unlink(p, b);
        qw_prefix_remove(&p->index, b);
    }
    p->index.gen[b]++;  /* index entries naming it as parent are stale from now on */
    p->refs[b] = 1;
    return b;
}

static void block_copy(qw_kv_pool *p, int to, int from) {
    size_t n = (size_t)QW_KV_BLOCK * (size_t)p->kv_dim * sizeof(float);
    for (int l = 0; l < p->n_layers; l++) {
        memcpy(qw_kv_block(p, p->k, l, to), qw_kv_block(p, p->k, l, from), n);
        memcpy(qw_kv_block(p, p->v, l, to), qw_kv_block(p, p->v, l, from), n);
    }
}

/* Block i of the sequence becomes one it alone holds, out of the index. */
static int block_make_writable(qw_kv_seq *s, int i) {
    qw_kv_pool *p = s->pool;
    int b = s->blocks[i];
    if (p->refs[b] > 1) {
        int c = block_alloc(s);
        if (c < 0) return -1;
        block_copy(p, c, b);
        block_release(p, b);
        s->blocks[i] = c;
    } else if (p->index.cached[b]) {
        qw_prefix_remove(&p->index, b);
        p->index.gen[b]++;
    }
    if (s->n_indexed > i) s->n_indexed = i;
    return 0;
}

/* ---- sequences ---- */

int qw_kv_seq_init(qw_kv_seq *s, qw_kv_pool *p, int n_ctx) {
    memset(s, 0, sizeof *s);
    s->pool = p;
    s->cap = qw_kv_blocks_for(n_ctx);
    s->blocks = malloc((size_t)s->cap * sizeof *s->blocks);
    return s->blocks ? 0 : -1;
}

void qw_kv_seq_free(qw_kv_seq *s) {
    if (!s->pool) return;
    qw_kv_seq_truncate(s, 0);
    qw_kv_seq_promise(s, 0, 0);
    free(s->blocks);
    memset(s, 0, sizeof *s);
}

void qw_kv_seq_truncate(qw_kv_seq *s, int n_keep) {
    int keep = qw_kv_blocks_for(n_keep);
    /* Last blocks first: the cache evicts a sequence's tail before its prefix. */
    while (s->n_blocks > keep) block_release(s->pool, s->blocks[--s->n_blocks]);
    if (s->n_indexed > n_keep / QW_KV_BLOCK) s->n_indexed = n_keep / QW_KV_BLOCK;
}

int qw_kv_seq_prepare(qw_kv_seq *s, int n_past, int n) {
    int first = n_past / QW_KV_BLOCK, end = qw_kv_blocks_for((int64_t)n_past + n);
    if (end > s->cap) return -1;
    for (int i = first; i < end; i++) {
        if (i < s->n_blocks) {
            if (block_make_writable(s, i)) return -1;
            continue;
        }
        int b = block_alloc(s);
        if (b < 0) return -1;
        s->blocks[s->n_blocks++] = b;
    }
    return 0;
}

void qw_kv_seq_index(qw_kv_seq *s, const int32_t *tokens, int n_past) {
    qw_kv_pool *p = s->pool;
    for (int i = s->n_indexed; i < n_past / QW_KV_BLOCK; i++) {
        const int32_t *t = tokens + (int64_t)i * QW_KV_BLOCK;
        int parent = i > 0 ? s->blocks[i - 1] : -1, b = s->blocks[i];
        if (p->index.cached[b]) continue;
        int same = qw_prefix_lookup(&p->index, parent, t);
        if (same < 0) {
            qw_prefix_insert(&p->index, b, parent, t);
        } else {
            block_hold(p, same);
            block_release(p, b);
            s->blocks[i] = same;
        }
    }
    if (s->n_indexed < n_past / QW_KV_BLOCK) s->n_indexed = n_past / QW_KV_BLOCK;
}

int qw_kv_prefix_match(const qw_kv_seq *s, const int32_t *tokens, int n, int *n_same) {
    const qw_prefix_index *x = &s->pool->index;
    int i = 0, parent = -1, same = 0;
    for (; (int64_t)(i + 1) * QW_KV_BLOCK <= n; i++) {
        int b = qw_prefix_lookup(x, parent, tokens + (int64_t)i * QW_KV_BLOCK);
        if (b < 0) break;
        if (same == i && i < s->n_blocks && s->blocks[i] == b) same++;
        parent = b;
    }
    *n_same = same;
    return i;
}

int qw_kv_seq_attach(qw_kv_seq *s, const int32_t *tokens, int n) {
    qw_kv_pool *p = s->pool;
    for (int i = s->n_blocks; (int64_t)(i + 1) * QW_KV_BLOCK <= n && i < s->cap; i++) {
        int b = qw_prefix_lookup(&p->index, i > 0 ? s->blocks[i - 1] : -1, tokens + (int64_t)i * QW_KV_BLOCK);
        if (b < 0) break;
        /* An unheld cached block counts toward what the pool has promised. */
        if (p->refs[b] == 0 && qw_kv_pool_available(p) <= 0) break;
        block_hold(p, b);
        s->blocks[s->n_blocks++] = b;
    }
    s->n_indexed = s->n_blocks;
    return s->n_blocks * QW_KV_BLOCK;
}

/* Blocks a sequence may still have to take to reach n_positions: new ones,
 * and copies of those it holds past n_past that others hold or may take
 * from the index before it writes them. */
static int blocks_needed(const qw_kv_seq *s, int n_past, int n_positions) {
    const qw_kv_pool *p = s->pool;
    int need = qw_kv_blocks_for(n_positions) - s->n_blocks;
    if (need < 0) need = 0;
    for (int i = n_past / QW_KV_BLOCK; i < s->n_blocks; i++)
        need += p->refs[s->blocks[i]] > 1 || p->index.cached[s->blocks[i]];
    return need;
}

int qw_kv_seq_promise(qw_kv_seq *s, int n_past, int n_positions) {
    qw_kv_pool *p = s->pool;
    int need = n_positions > 0 ? blocks_needed(s, n_past, n_positions) : 0;
    if (need > s->promise && need - s->promise > qw_kv_pool_available(p)) return -1;
    p->n_promised += need - s->promise;
    s->promise = need;
    return 0;
}
