#include "tokenizer/bpe.h"
#include "tokenizer/utf8.h"
#include "base/err.h"
#include "qwenc.h"

#include <stdlib.h>
#include <string.h>

#define NO_ID (-1)

typedef struct {
    uint64_t pair; /* left id << 32 | right id; UINT64_MAX marks an empty slot */
    int32_t rank;
    int32_t merged;
} merge_slot;

struct bpe_model {
    qw_buf strings;     /* every token string, NUL-separated */
    uint32_t *str_off;  /* by id: offset into strings, UINT32_MAX if unused */
    uint32_t *str_len;
    int32_t n_ids;      /* one past the largest id */
    int32_t ids_cap;
    int32_t n_tokens;   /* entries in the vocabulary */
    int32_t *by_str;    /* open-addressing string -> id table */
    size_t by_str_cap;  /* power of two */
    merge_slot *merges; /* open-addressing pair -> merge table */
    size_t merges_cap;  /* power of two */
    size_t n_merges;
    int32_t byte_id[256];
};

static uint64_t hash_bytes(const void *data, size_t n) {
    /* FNV-1a: short keys, no need for anything stronger */
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static uint64_t hash_pair(uint64_t x) {
    /* splitmix64 finaliser spreads the two ids over all bits */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

int bpe_new(bpe_model **out) {
    bpe_model *m = calloc(1, sizeof *m);
    if (!m) return QWENC_ENOMEM;
    for (int i = 0; i < 256; i++) m->byte_id[i] = NO_ID;
    *out = m;
    return 0;
}

void bpe_free(bpe_model *m) {
    if (!m) return;
    qw_buf_free(&m->strings);
    free(m->str_off);
    free(m->str_len);
    free(m->by_str);
    free(m->merges);
    free(m);
}

int32_t bpe_vocab_end(const bpe_model *m) { return m->n_ids; }

const char *bpe_token_str(const bpe_model *m, int32_t id, size_t *n) {
    if (id < 0 || id >= m->n_ids || m->str_off[id] == UINT32_MAX) return NULL;
    *n = m->str_len[id];
    return m->strings.data + m->str_off[id];
}

/* Slot index for string s in by_str: its slot, or the empty one to use. */
static size_t find_str_slot(const bpe_model *m, const char *s, size_t n) {
    size_t mask = m->by_str_cap - 1, i = (size_t)hash_bytes(s, n) & mask;
    for (;; i = (i + 1) & mask) {
        int32_t id = m->by_str[i];
        if (id == NO_ID) return i;
        if (m->str_len[id] == n && !memcmp(m->strings.data + m->str_off[id], s, n)) return i;
    }
}

int32_t bpe_token_id(const bpe_model *m, const char *s, size_t n) {
    if (!m->by_str_cap) return NO_ID;
    return m->by_str[find_str_slot(m, s, n)];
}

static int grow_ids(bpe_model *m, int32_t id) {
    if (id < m->ids_cap) return 0;
    int32_t cap = m->ids_cap ? m->ids_cap : 1024;
    while (cap <= id) cap *= 2;
    uint32_t *off = realloc(m->str_off, (size_t)cap * sizeof *off);
    if (!off) return QWENC_ENOMEM;
    m->str_off = off;
    uint32_t *len = realloc(m->str_len, (size_t)cap * sizeof *len);
    if (!len) return QWENC_ENOMEM;
    m->str_len = len;
    for (int32_t i = m->ids_cap; i < cap; i++) off[i] = UINT32_MAX;
    m->ids_cap = cap;
    return 0;
}

/* Keeps the string table at most half full. */
static int grow_str_table(bpe_model *m) {
    if ((size_t)(m->n_tokens + 1) * 2 <= m->by_str_cap) return 0;
    size_t cap = m->by_str_cap ? m->by_str_cap * 2 : 1024;
    int32_t *old = m->by_str;
    size_t old_cap = m->by_str_cap;
    m->by_str = malloc(cap * sizeof *m->by_str);
    if (!m->by_str) {
        m->by_str = old;
        return QWENC_ENOMEM;
    }
    m->by_str_cap = cap;
    for (size_t i = 0; i < cap; i++) m->by_str[i] = NO_ID;
    for (size_t i = 0; i < old_cap; i++) {
        int32_t id = old[i];
        if (id == NO_ID) continue;
        m->by_str[find_str_slot(m, m->strings.data + m->str_off[id], m->str_len[id])] = id;
    }
    free(old);
    return 0;
}

int bpe_add_token(bpe_model *m, const char *s, size_t n, int32_t id, char *err, size_t errlen) {
    if (id < 0 || id >= INT32_MAX - 1)
        return qw_errf(err, errlen, QWENC_EFORMAT, "token '%.*s' has invalid id %d", (int)n, s, id);
    if (m->strings.len + n + 1 >= UINT32_MAX)
        return qw_errf(err, errlen, QWENC_EFORMAT, "vocabulary too large");
    if (grow_ids(m, id) || grow_str_table(m)) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    if (m->str_off[id] != UINT32_MAX)
        return qw_errf(err, errlen, QWENC_EFORMAT, "vocab: id %d is used twice", id);
    size_t slot = find_str_slot(m, s, n);
    if (m->by_str[slot] != NO_ID)
        return qw_errf(err, errlen, QWENC_EFORMAT, "vocab: token '%.*s' appears twice", (int)n, s);
    m->str_off[id] = (uint32_t)m->strings.len;
    m->str_len[id] = (uint32_t)n;
    if (qw_buf_append(&m->strings, s, n) || qw_buf_append(&m->strings, "", 1))
        return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    m->by_str[slot] = id;
    m->n_tokens++;
    if (id >= m->n_ids) m->n_ids = id + 1;
    return 0;
}

static const merge_slot *find_merge(const bpe_model *m, int32_t a, int32_t b) {
    if (!m->merges_cap) return NULL;
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    size_t mask = m->merges_cap - 1, i = (size_t)hash_pair(key) & mask;
    for (;; i = (i + 1) & mask) {
        if (m->merges[i].pair == key) return &m->merges[i];
        if (m->merges[i].pair == UINT64_MAX) return NULL;
    }
}

static void insert_merge(merge_slot *table, size_t cap, merge_slot e) {
    size_t mask = cap - 1, i = (size_t)hash_pair(e.pair) & mask;
    while (table[i].pair != UINT64_MAX && table[i].pair != e.pair) i = (i + 1) & mask;
    table[i] = e;
}

static int grow_merge_table(bpe_model *m) {
    if ((m->n_merges + 1) * 2 <= m->merges_cap) return 0;
    size_t cap = m->merges_cap ? m->merges_cap * 2 : 1024;
    merge_slot *t = malloc(cap * sizeof *t);
    if (!t) return QWENC_ENOMEM;
    for (size_t i = 0; i < cap; i++) t[i].pair = UINT64_MAX;
    for (size_t i = 0; i < m->merges_cap; i++)
        if (m->merges[i].pair != UINT64_MAX) insert_merge(t, cap, m->merges[i]);
    free(m->merges);
    m->merges = t;
    m->merges_cap = cap;
    return 0;
}

int bpe_add_merge(bpe_model *m, const char *a, size_t an, const char *b, size_t bn, int32_t rank,
                  char *err, size_t errlen) {
    int32_t ia = bpe_token_id(m, a, an), ib = bpe_token_id(m, b, bn);
    if (ia == NO_ID || ib == NO_ID)
        return qw_errf(err, errlen, QWENC_EFORMAT, "merges[%d]: token '%.*s' is not in the vocab",
                       rank, (int)(ia == NO_ID ? an : bn), ia == NO_ID ? a : b);
    char stack[256];
    char *joined = an + bn <= sizeof stack ? stack : malloc(an + bn);
    if (!joined) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    memcpy(joined, a, an);
    memcpy(joined + an, b, bn);
    int32_t merged = bpe_token_id(m, joined, an + bn);
    if (joined != stack) free(joined);
    if (merged == NO_ID)
        return qw_errf(err, errlen, QWENC_EFORMAT, "merges[%d]: '%.*s%.*s' is not in the vocab", rank,
                       (int)an, a, (int)bn, b);
    if (grow_merge_table(m)) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    merge_slot e = {(uint64_t)(uint32_t)ia << 32 | (uint32_t)ib, rank, merged};
    /* A repeated pair takes its last rank: tokenizers collects the merges
     * into a hash map, where later entries overwrite earlier ones. */
    if (!find_merge(m, ia, ib)) m->n_merges++;
    insert_merge(m->merges, m->merges_cap, e);
    return 0;
}

static int cmp_rank(const void *a, const void *b) {
    int32_t x = ((const merge_slot *)a)->rank, y = ((const merge_slot *)b)->rank;
    return (x > y) - (x < y);
}

int bpe_merges(const bpe_model *m, int32_t **pairs, size_t *n) {
    merge_slot *sorted = malloc((m->n_merges ? m->n_merges : 1) * sizeof *sorted);
    *pairs = malloc((m->n_merges ? m->n_merges : 1) * 2 * sizeof **pairs);
    if (!sorted || !*pairs) {
        free(sorted);
        free(*pairs);
        *pairs = NULL;
        return QWENC_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < m->merges_cap; i++)
        if (m->merges[i].pair != UINT64_MAX) sorted[k++] = m->merges[i];
    qsort(sorted, k, sizeof *sorted, cmp_rank);
    for (size_t i = 0; i < k; i++) {
        (*pairs)[2 * i] = (int32_t)(sorted[i].pair >> 32);
        (*pairs)[2 * i + 1] = (int32_t)(uint32_t)sorted[i].pair;
    }
    free(sorted);
    *n = k;
    return 0;
}

void bpe_finish(bpe_model *m, const bytelevel_table *bl) {
    for (int b = 0; b < 256; b++) {
        char tmp[4];
        size_t n = utf8_encode_char(bl->byte_to_cp[b], tmp);
        m->byte_id[b] = bpe_token_id(m, tmp, n);
    }
}

/* ---- the merge loop ---------------------------------------------------- */

/* A candidate merge of the symbol at pos with its right neighbour. The
 * heap orders by rank, then position, so equal ranks merge left first. */
typedef struct {
    int32_t rank;
    int32_t pos;
} candidate;

typedef struct {
    int32_t *id, *prev, *next; /* symbols as a linked list; id NO_ID = merged away */
    candidate *heap;
    size_t n_heap;
} merge_state;

static int cand_less(candidate x, candidate y) {
    return x.rank < y.rank || (x.rank == y.rank && x.pos < y.pos);
}

static void heap_push(merge_state *st, candidate c) {
    size_t i = st->n_heap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!cand_less(c, st->heap[parent])) break;
        st->heap[i] = st->heap[parent];
        i = parent;
    }
    st->heap[i] = c;
}

static candidate heap_pop(merge_state *st) {
    candidate top = st->heap[0], last = st->heap[--st->n_heap];
    size_t i = 0, n = st->n_heap;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && cand_less(st->heap[child + 1], st->heap[child])) child++;
        if (!cand_less(st->heap[child], last)) break;
        st->heap[i] = st->heap[child];
        i = child;
    }
    if (n) st->heap[i] = last;
    return top;
}

static void push_pair(const bpe_model *m, merge_state *st, int32_t pos) {
    if (pos < 0) return;
    int32_t next = st->next[pos];
    if (next < 0) return;
    const merge_slot *ms = find_merge(m, st->id[pos], st->id[next]);
    if (ms) heap_push(st, (candidate){ms->rank, pos});
}

/* Applies merges lowest rank first until none applies. Stale candidates
 * (a side already merged differently) are recognised because the pair now
 * at pos has no merge of the candidate's rank: ranks are unique per pair. */
static void run_merges(const bpe_model *m, merge_state *st) {
    while (st->n_heap) {
        candidate c = heap_pop(st);
        int32_t pos = c.pos, next = st->next[pos];
        if (st->id[pos] == NO_ID || next < 0) continue;
        const merge_slot *ms = find_merge(m, st->id[pos], st->id[next]);
        if (!ms || ms->rank != c.rank) continue;
        st->id[pos] = ms->merged;
        st->id[next] = NO_ID;
        st->next[pos] = st->next[next];
        if (st->next[pos] >= 0) st->prev[st->next[pos]] = pos;
        push_pair(m, st, st->prev[pos]);
        push_pair(m, st, pos);
    }
}

int bpe_merge_word(const bpe_model *m, const unsigned char *bytes, size_t n, qw_idbuf *out) {
    if (n == 0) return 0;
    if (n > INT32_MAX / 4) return QWENC_ENOMEM;
    /* Small words (nearly all of them) use the stack. Each merge pushes at
     * most two candidates, so the heap never exceeds 3n. */
    enum { SMALL = 64 };
    int32_t small_ints[3 * SMALL];
    candidate small_heap[3 * SMALL];
    merge_state st = {0};
    void *ints = NULL, *heap = NULL;
    if (n <= SMALL) {
        st.id = small_ints;
        st.heap = small_heap;
    } else {
        ints = malloc(3 * n * sizeof(int32_t));
        heap = malloc(3 * n * sizeof(candidate));
        if (!ints || !heap) {
            free(ints);
            free(heap);
            return QWENC_ENOMEM;
        }
        st.id = ints;
        st.heap = heap;
    }
    st.prev = st.id + n;
    st.next = st.prev + n;

    /* One symbol per byte that has a token; bytes without one are dropped. */
    int32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = m->byte_id[bytes[i]];
        if (id == NO_ID) continue;
        st.id[k] = id;
        st.prev[k] = k - 1;
        st.next[k] = k + 1;
        k++;
    }
    if (k > 0) st.next[k - 1] = -1;
    for (int32_t i = 0; i + 1 < k; i++) push_pair(m, &st, i);
    run_merges(m, &st);

    int rc = 0;
    for (int32_t i = 0; i >= 0 && i < k && !rc; i = st.next[i]) rc = qw_idbuf_push(out, st.id[i]);
    free(ints);
    free(heap);
    return rc;
}

/* ---- per-call cache ---------------------------------------------------- */

#define CACHE_MAX_PIECE 64      /* longer pieces are rare; not worth keeping */
#define CACHE_MAX_ENTRIES 65536 /* bounds memory on huge inputs */

typedef struct {
    uint64_t hash;
    uint32_t key_off, key_len; /* in keys */
    uint32_t ids_off, ids_len; /* in ids */
} cache_slot;

struct bpe_cache {
    cache_slot *slots; /* key_len == UINT32_MAX marks an empty slot */
    size_t cap, n;
    qw_buf keys;
    qw_idbuf ids;
};

bpe_cache *bpe_cache_new(void) {
    bpe_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cap = 4096;
    c->slots = malloc(c->cap * sizeof *c->slots);
    if (!c->slots) {
        free(c);
        return NULL;
    }
    for (size_t i = 0; i < c->cap; i++) c->slots[i].key_len = UINT32_MAX;
    return c;
}

void bpe_cache_free(bpe_cache *c) {
    if (!c) return;
    free(c->slots);
    qw_buf_free(&c->keys);
    qw_idbuf_free(&c->ids);
    free(c);
}

static cache_slot *cache_find(bpe_cache *c, uint64_t h, const unsigned char *key, size_t n) {
    size_t mask = c->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        cache_slot *s = &c->slots[i];
        if (s->key_len == UINT32_MAX) return s;
        if (s->hash == h && s->key_len == n && !memcmp(c->keys.data + s->key_off, key, n)) return s;
    }
}

static int cache_grow(bpe_cache *c) {
    size_t cap = c->cap * 2;
    cache_slot *slots = malloc(cap * sizeof *slots), *old = c->slots;
    if (!slots) return QWENC_ENOMEM;
    for (size_t i = 0; i < cap; i++) slots[i].key_len = UINT32_MAX;
    for (size_t i = 0; i < c->cap; i++) {
        if (old[i].key_len == UINT32_MAX) continue;
        size_t j = (size_t)old[i].hash & (cap - 1);
        while (slots[j].key_len != UINT32_MAX) j = (j + 1) & (cap - 1);
        slots[j] = old[i];
    }
    free(old);
    c->slots = slots;
    c->cap = cap;
    return 0;
}

int bpe_encode_piece(const bpe_model *m, bpe_cache *c, const unsigned char *bytes, size_t n,
                     qw_idbuf *out) {
    if (n == 1 && m->byte_id[bytes[0]] != NO_ID) return qw_idbuf_push(out, m->byte_id[bytes[0]]);
    if (!c || n > CACHE_MAX_PIECE) return bpe_merge_word(m, bytes, n, out);
    uint64_t h = hash_bytes(bytes, n);
    cache_slot *s = cache_find(c, h, bytes, n);
    if (s->key_len != UINT32_MAX) return qw_idbuf_append(out, c->ids.data + s->ids_off, s->ids_len);
    size_t first = out->len;
    int rc = bpe_merge_word(m, bytes, n, out);
    if (rc || c->n >= CACHE_MAX_ENTRIES || c->keys.len > UINT32_MAX / 2 || c->ids.len > UINT32_MAX / 2)
        return rc;
    /* Remember the result; failing to remember is not an error. */
    cache_slot e = {h, (uint32_t)c->keys.len, (uint32_t)n, (uint32_t)c->ids.len,
                    (uint32_t)(out->len - first)};
    if (qw_buf_append(&c->keys, bytes, n) || qw_idbuf_append(&c->ids, out->data + first, e.ids_len))
        return 0;
    *s = e;
    c->n++;
    if (c->n * 2 > c->cap) cache_grow(c);
    return 0;
}
