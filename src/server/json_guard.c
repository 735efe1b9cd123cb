#include "server/json_guard.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the vocabulary tables ---------------------------------------------------- */

/* Tokens sorted by their bytes, so that a prefix shared by several is fed
 * once: each with the number of bytes it shares with the one before. */
typedef struct {
    int n;
    int32_t *id;
    uint32_t *off, *len, *lcp;
} token_table;

struct json_vocab {
    int vocab_size;
    unsigned char *bytes;   /* every token's bytes, in sorted order */
    uint32_t *off, *len;    /* by id; len 0: never allowed (added, empty, beyond the tokenizer) */
    token_table all;        /* the tokens with bytes */
    token_table unplain;    /* those that do more than add characters to a string (jm_plain_chars) */
    int32_t *plain;         /* the others, by their count of characters, ascending */
    uint32_t *plain_chars;
    int n_plain;
    int32_t *never;         /* the ids always masked */
    int n_never;
    uint32_t max_len;
};

typedef struct {
    const unsigned char *p;
    uint32_t len;
    int32_t id;
} vocab_entry;

static int by_bytes(const void *a, const void *b) {
    const vocab_entry *x = a, *y = b;
    uint32_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, n);
    if (c) return c;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The tokens that may ever appear in JSON text, with their bytes; added
 * tokens and ids without bytes go to the never list. */
static vocab_entry *collect_tokens(json_vocab *v, const qwenc_tokenizer *t, size_t *total) {
    vocab_entry *e = malloc((size_t)v->vocab_size * sizeof *e);
    if (!e) return NULL;
    *total = 0;
    for (int32_t id = 0; id < v->vocab_size; id++) {
        size_t len = 0;
        const char *b = qwenc_token_is_added(t, id) ? NULL : qwenc_token_bytes(t, id, &len);
        if (!b || !len || len > UINT32_MAX / 2) {
            v->never[v->n_never++] = id;
            continue;
        }
        e[v->all.n++] = (vocab_entry){(const unsigned char *)b, (uint32_t)len, id};
        *total += len;
        if (len > v->max_len) v->max_len = (uint32_t)len;
    }
    return e;
}

static int table_alloc(token_table *tt, size_t n) {
    tt->id = malloc(n * sizeof *tt->id);
    tt->off = malloc(n * sizeof *tt->off);
    tt->len = malloc(n * sizeof *tt->len);
    tt->lcp = malloc(n * sizeof *tt->lcp);
    return tt->id && tt->off && tt->len && tt->lcp ? 0 : -1;
}

static void table_free(token_table *tt) {
    free(tt->id);
    free(tt->off);
    free(tt->len);
    free(tt->lcp);
}

/* Appends a token (in sorted order) to a table. */
static void table_add(token_table *tt, const unsigned char *bytes, int32_t id, uint32_t off, uint32_t len) {
    int k = tt->n++;
    uint32_t l = 0;
    if (k > 0) {
        const unsigned char *prev = bytes + tt->off[k - 1], *cur = bytes + off;
        while (l < len && l < tt->len[k - 1] && cur[l] == prev[l]) l++;
    }
    tt->id[k] = id, tt->off[k] = off, tt->len[k] = len, tt->lcp[k] = l;
}

/* Plain tokens by their count of characters (a counting sort: a token has
 * no more characters than bytes): in a string with room for r more, a
 * prefix of this list fits. */
static int sort_plain(json_vocab *v, const int32_t *ids, const uint32_t *chars) {
    uint32_t *start = calloc((size_t)v->max_len + 2, sizeof *start);
    if (!start) return -1;
    for (int k = 0; k < v->n_plain; k++) start[chars[k] + 1]++;
    for (uint32_t c = 1; c <= v->max_len + 1; c++) start[c] += start[c - 1];
    for (int k = 0; k < v->n_plain; k++) {
        uint32_t at = start[chars[k]]++;
        v->plain[at] = ids[k], v->plain_chars[at] = chars[k];
    }
    free(start);
    return 0;
}

static int fill_tables(json_vocab *v, const vocab_entry *e, size_t total) {
    int n = v->all.n;
    v->bytes = malloc(total ? total : 1);
    int32_t *plain_ids = malloc((size_t)(n ? n : 1) * sizeof *plain_ids);
    uint32_t *plain_chars = malloc((size_t)(n ? n : 1) * sizeof *plain_chars);
    int rc = v->bytes && plain_ids && plain_chars ? 0 : -1;
    v->all.n = v->n_plain = 0;
    for (int k = 0, at = 0; !rc && k < n; k++) {
        memcpy(v->bytes + at, e[k].p, e[k].len);
        v->off[e[k].id] = (uint32_t)at, v->len[e[k].id] = e[k].len;
        table_add(&v->all, v->bytes, e[k].id, (uint32_t)at, e[k].len);
        long chars = jm_plain_chars(e[k].p, e[k].len);
        if (chars < 0) table_add(&v->unplain, v->bytes, e[k].id, (uint32_t)at, e[k].len);
        else plain_ids[v->n_plain] = e[k].id, plain_chars[v->n_plain++] = (uint32_t)chars;
        at += (int)e[k].len;
    }
    if (!rc) rc = sort_plain(v, plain_ids, plain_chars);
    free(plain_ids);
    free(plain_chars);
    return rc;
}

json_vocab *json_vocab_new(const qwenc_tokenizer *t, int vocab_size) {
    if (!t || vocab_size <= 0) return NULL;
    json_vocab *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    size_t n = (size_t)vocab_size;
    v->vocab_size = vocab_size;
    v->off = calloc(n, sizeof *v->off);
    v->len = calloc(n, sizeof *v->len);
    v->never = malloc(n * sizeof *v->never);
    v->plain = malloc(n * sizeof *v->plain);
    v->plain_chars = malloc(n * sizeof *v->plain_chars);
    vocab_entry *e = NULL;
    size_t total = 0;
    int ok = v->off && v->len && v->never && v->plain && v->plain_chars && !table_alloc(&v->all, n) &&
             !table_alloc(&v->unplain, n) && (e = collect_tokens(v, t, &total));
    if (ok) {
        qsort(e, (size_t)v->all.n, sizeof *e, by_bytes);
        ok = fill_tables(v, e, total) == 0;
    }
    free(e);
    if (!ok) {
        json_vocab_free(v);
        return NULL;
    }
    return v;
}

void json_vocab_free(json_vocab *v) {
    if (!v) return;
    free(v->bytes);
    free(v->off);
    free(v->len);
    table_free(&v->all);
    table_free(&v->unplain);
    free(v->never);
    free(v->plain);
    free(v->plain_chars);
    free(v);
}

/* ---- the guard -------------------------------------------------------------- */

/* The mask's trail: the state after each byte of the current token, packed
 * one after the other (states vary in size), grown when a deep or forked
 * state needs it. Mutable scratch behind a const guard. */
typedef struct {
    char *buf;
    size_t cap;
    size_t *off;  /* max_len + 1 */
} trail;

struct json_guard {
    const json_vocab *v;
    const json_schema *s;
    jm_state *st;          /* the text so far */
    jm_state *try_a, *try_b;  /* scratch for trying bytes */
    int32_t *end;
    int n_end;
    trail *tr;
    float *end_logit;      /* mask scratch: the end ids' logits, kept when the document is complete */
};

json_guard *json_guard_new(const json_vocab *v, const json_schema *schema, const int32_t *end_ids, int n_end) {
    if (!v || !schema || n_end < 0) return NULL;
    json_guard *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->v = v;
    g->s = schema;
    g->st = malloc(JM_STATE_MAX);
    g->try_a = malloc(JM_STATE_MAX);
    g->try_b = malloc(JM_STATE_MAX);
    g->end = malloc((size_t)(n_end ? n_end : 1) * sizeof *g->end);
    g->end_logit = malloc((size_t)(n_end ? n_end : 1) * sizeof *g->end_logit);
    g->tr = calloc(1, sizeof *g->tr);
    if (g->tr) g->tr->off = malloc(((size_t)v->max_len + 1) * sizeof *g->tr->off);
    if (!g->st || !g->try_a || !g->try_b || !g->end || !g->end_logit || !g->tr || !g->tr->off) {
        json_guard_free(g);
        return NULL;
    }
    jm_start(schema, g->st);
    if (n_end) memcpy(g->end, end_ids, (size_t)n_end * sizeof *end_ids);
    g->n_end = n_end;
    return g;
}

void json_guard_free(json_guard *g) {
    if (!g) return;
    free(g->st);
    free(g->try_a);
    free(g->try_b);
    free(g->end);
    free(g->end_logit);
    if (g->tr) free(g->tr->buf), free(g->tr->off);
    free(g->tr);
    free(g);
}

int json_guard_complete(const json_guard *g) { return jm_complete(g->s, g->st); }

void json_guard_reset(json_guard *g) { jm_start(g->s, g->st); }

static int is_end(const json_guard *g, int32_t id) {
    for (int i = 0; i < g->n_end; i++)
        if (g->end[i] == id) return 1;
    return 0;
}

/* The state after some bytes (in the guard's scratch), or NULL if they are not allowed. */
static const jm_state *try_bytes(const json_guard *g, const unsigned char *b, size_t n) {
    return jm_feed(g->s, g->st, g->try_a, g->try_b, b, n);
}

static const jm_state *try_token(const json_guard *g, int32_t id) {
    const json_vocab *v = g->v;
    if (id < 0 || id >= v->vocab_size || !v->len[id]) return NULL;
    return try_bytes(g, v->bytes + v->off[id], v->len[id]);
}

static int token_allowed(const json_guard *g, int32_t id) {
    return is_end(g, id) ? json_guard_complete(g) : try_token(g, id) != NULL;
}

static void take(json_guard *g, const jm_state *st) {
    if (st != g->st) memcpy(g->st, st, jm_size(st));
}

int json_guard_accept(json_guard *g, int32_t id) {
    if (is_end(g, id)) return json_guard_complete(g) ? 0 : -1;
    const jm_state *st = try_token(g, id);
    if (!st) return -1;
    take(g, st);
    return 0;
}

int json_guard_allows_bytes(const json_guard *g, const char *bytes, size_t len) {
    return try_bytes(g, (const unsigned char *)bytes, len) != NULL;
}

int json_guard_feed(json_guard *g, const char *bytes, size_t len) {
    const jm_state *st = try_bytes(g, (const unsigned char *)bytes, len);
    if (!st) return -1;
    take(g, st);
    return 0;
}

/* Room in the trail for one more state after offset at; the trail's
 * buffer may move. */
static int trail_reserve(trail *tr, size_t at) {
    if (at + JM_STATE_MAX <= tr->cap) return 0;
    size_t cap = tr->cap ? tr->cap * 2 : 4 * JM_STATE_MAX;
    while (cap < at + JM_STATE_MAX) cap *= 2;
    char *b = realloc(tr->buf, cap);
    if (!b) return -1;
    tr->buf = b, tr->cap = cap;
    return 0;
}

static jm_state *trail_state(const trail *tr, uint32_t j) { return (jm_state *)(tr->buf + tr->off[j]); }

/* The state after byte j + 1 of a token, from the one after byte j: 0, or
 * -1 when the byte is rejected (or memory ran out: rejected too). */
static int trail_step(const json_guard *g, uint32_t j, unsigned char byte) {
    trail *tr = g->tr;
    size_t at = (tr->off[j] + jm_size(trail_state(tr, j)) + 7) & ~(size_t)7;
    if (trail_reserve(tr, at) || jm_step(g->s, trail_state(tr, j), (jm_state *)(tr->buf + at), byte)) return -1;
    tr->off[j + 1] = at;
    return 0;
}

/* Walks a table's tokens in byte order, like a depth-first walk of their
 * trie: a token starts from the state after the prefix it shares with the
 * one before (the trail), and when a token fails at byte j, the tokens
 * after it that share more than j bytes are masked without feeding one. */
static void mask_walk(const json_guard *g, const token_table *tt, float *logits) {
    trail *tr = g->tr;
    tr->off[0] = 0;
    if (trail_reserve(tr, 0)) {  /* out of memory: nothing can be checked, so nothing is allowed */
        for (int k = 0; k < tt->n; k++) logits[tt->id[k]] = -INFINITY;
        return;
    }
    memcpy(tr->buf, g->st, jm_size(g->st));
    const unsigned char *bytes = g->v->bytes;
    const int32_t *id = tt->id;
    const uint32_t *lcp = tt->lcp;
    for (int k = 0, n = tt->n; k < n;) {
        const unsigned char *b = bytes + tt->off[k];
        uint32_t j = lcp[k], len = tt->len[k];
        while (j < len && trail_step(g, j, b[j]) == 0) j++;
        if (j == len) {
            k++;
            continue;
        }
        logits[id[k++]] = -INFINITY;
        while (k < n && lcp[k] > j) logits[id[k++]] = -INFINITY;
    }
}

/* Inside plain strings only the tokens that are not plain string content
 * need a walk; the plain ones fit while their characters do. */
static void mask_string_tokens(const json_guard *g, float *logits, long room) {
    const json_vocab *v = g->v;
    mask_walk(g, &v->unplain, logits);
    int lo = 0, hi = v->n_plain;  /* the first plain token with more than room characters */
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if ((long)v->plain_chars[mid] <= room) lo = mid + 1;
        else hi = mid;
    }
    for (int k = lo; k < v->n_plain; k++) logits[v->plain[k]] = -INFINITY;
}

void json_guard_mask(const json_guard *g, float *logits) {
    const json_vocab *v = g->v;
    int done = json_guard_complete(g);
    for (int i = 0; i < g->n_end; i++)
        if (g->end[i] >= 0 && g->end[i] < v->vocab_size) g->end_logit[i] = logits[g->end[i]];
    long room = jm_string_budget(g->s, g->st);
    if (room >= 0) mask_string_tokens(g, logits, room);
    else mask_walk(g, &v->all, logits);
    for (int i = 0; i < v->n_never; i++) logits[v->never[i]] = -INFINITY;
    for (int i = 0; i < g->n_end; i++) {
        int32_t id = g->end[i];
        if (id >= 0 && id < v->vocab_size) logits[id] = done ? g->end_logit[i] : -INFINITY;
    }
}

int32_t json_guard_sample(const json_guard *g, qwenc_sampler *s, const float *logits, float *scratch) {
    int n = g->v->vocab_size;
    int32_t id = qwenc_sample(s, logits, n);
    if (token_allowed(g, id)) return id;
    memcpy(scratch, logits, (size_t)n * sizeof *logits);
    json_guard_mask(g, scratch);
    id = qwenc_sample(s, scratch, n);
    return token_allowed(g, id) ? id : -1;
}
