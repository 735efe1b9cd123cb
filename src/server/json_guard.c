#include "server/json_guard.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the automaton ---------------------------------------------------------- */

/* What the next byte may be. */
enum {
    M_TOP,        /* before the top-level object: whitespace or '{' */
    M_OBJ_FIRST,  /* after '{': a key or '}' */
    M_OBJ_KEY,    /* after ',' in an object: a key */
    M_COLON,      /* after a key */
    M_VALUE,      /* after ':' or ',' in an array: a value */
    M_ARR_FIRST,  /* after '[': a value or ']' */
    M_AFTER,      /* after a value inside a container: ',' or the closing bracket */
    M_STR,        /* inside a string */
    M_ESC,        /* after '\' */
    M_HEX,        /* inside \uXXXX */
    M_LOW_BS,     /* after a high surrogate escape: '\' of its low half */
    M_LOW_U,      /* then 'u' */
    M_UTF8,       /* inside a multi-byte UTF-8 sequence */
    M_NUM_MINUS,  /* after '-' */
    M_NUM_ZERO,   /* after a leading 0 */
    M_NUM_INT,    /* in the integer digits */
    M_NUM_DOT,    /* after '.' */
    M_NUM_FRAC,   /* in the fraction digits */
    M_NUM_E,      /* after 'e' */
    M_NUM_ESIGN,  /* after the exponent's sign */
    M_NUM_EXP,    /* in the exponent digits */
    M_LIT,        /* inside true, false or null */
    M_DONE,       /* the object is closed: trailing whitespace only */
};

enum { JF_KEY = 1, JF_LOW = 2, JF_LIT_SHIFT = 2 };  /* literal index in bits 2-3 */

/* The whole state: copying it is how a token is tried. 24 bytes. */
typedef struct {
    uint64_t stack;   /* bit d: the container at depth d + 1 is an object (else an array) */
    uint16_t hex;     /* the \u digits read so far */
    uint8_t mode;
    uint8_t depth;    /* open containers */
    uint8_t count;    /* literal: bytes matched; \u and numbers: digits read; UTF-8: bytes left */
    uint8_t lo, hi;   /* range of the next UTF-8 continuation byte */
    uint8_t flags;
    uint8_t ws;       /* whitespace bytes in the current run between tokens */
} jg_state;

_Static_assert(JSON_GUARD_MAX_DEPTH <= 64, "the container stack is one 64-bit word");

static const char *const literals[3] = {"true", "false", "null"};
static const uint8_t literal_len[3] = {4, 5, 4};

static int is_ws(unsigned c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Whitespace between tokens, in bounded runs: RFC 8259 allows any amount,
 * but a model could then emit nothing else (llama.cpp's JSON grammar
 * bounds it too). */
static int skip_ws(jg_state *st, int limit) {
    if (st->ws >= limit) return -1;
    st->ws++;
    return 0;
}

static int hex_value(unsigned c) {
    if (c >= '0' && c <= '9') return (int)c - '0';
    if (c >= 'a' && c <= 'f') return (int)c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return (int)c - 'A' + 10;
    return -1;
}

static void end_value(jg_state *st) {
    st->mode = st->depth ? M_AFTER : M_DONE;
    st->count = 0;
}

static int push(jg_state *st, int is_object) {
    if (st->depth >= JSON_GUARD_MAX_DEPTH) return -1;
    uint64_t bit = (uint64_t)1 << st->depth;
    st->stack = is_object ? st->stack | bit : st->stack & ~bit;
    st->depth++;
    st->mode = is_object ? M_OBJ_FIRST : M_ARR_FIRST;
    return 0;
}

static int top_is_object(const jg_state *st) { return (int)(st->stack >> (st->depth - 1)) & 1; }

static int close_container(jg_state *st, int is_object) {
    if (!st->depth || top_is_object(st) != is_object) return -1;
    st->depth--;
    end_value(st);
    return 0;
}

static void open_string(jg_state *st, int is_key) {
    st->mode = M_STR;
    st->flags = is_key ? JF_KEY : 0;
}

static int value_start(jg_state *st, unsigned c) {
    switch (c) {
    case ' ': case '\t': case '\n': case '\r': return skip_ws(st, JSON_GUARD_MAX_WS_RUN);
    case '{': return push(st, 1);
    case '[': return push(st, 0);
    case '"': open_string(st, 0); return 0;
    case '-': st->mode = M_NUM_MINUS; return 0;
    case '0': st->mode = M_NUM_ZERO; st->count = 1; return 0;
    case 't': case 'f': case 'n':
        st->mode = M_LIT;
        st->count = 1;
        st->flags = (uint8_t)((c == 't' ? 0 : c == 'f' ? 1 : 2) << JF_LIT_SHIFT);
        return 0;
    default:
        if (c >= '1' && c <= '9') { st->mode = M_NUM_INT; st->count = 1; return 0; }
        return -1;
    }
}

/* The first byte of a UTF-8 sequence in a string: how many continuation
 * bytes follow and the range of the first (no overlongs, no surrogates,
 * nothing above U+10FFFF). */
static int utf8_lead(jg_state *st, unsigned c) {
    uint8_t lo = 0x80, hi = 0xBF, need;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c >= 0xE0 && c <= 0xEF) need = 2, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) need = 3, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    else return -1;
    st->mode = M_UTF8;
    st->count = need;
    st->lo = lo;
    st->hi = hi;
    return 0;
}

static int string_byte(jg_state *st, unsigned c) {
    if (c == '"') {
        if (st->flags & JF_KEY) st->mode = M_COLON;
        else end_value(st);
        st->flags = 0;
        return 0;
    }
    if (c == '\\') { st->mode = M_ESC; return 0; }
    if (c < 0x20) return -1;  /* control characters must be escaped */
    if (c < 0x80) return 0;
    return utf8_lead(st, c);
}

static int escape_byte(jg_state *st, unsigned c) {
    if (c == 'u') {
        st->mode = M_HEX;
        st->count = 0;
        st->hex = 0;
        return 0;
    }
    if (!strchr("\"\\/bfnrt", (int)c) || !c) return -1;
    st->mode = M_STR;
    return 0;
}

/* \uXXXX: a high surrogate must be followed by a low one and a low one
 * must follow a high one (strict parsers reject lone halves), which the
 * first two digits already decide (so every accepted prefix can still be
 * completed). */
static int hex_byte(jg_state *st, unsigned c) {
    int v = hex_value(c);
    if (v < 0) return -1;
    st->hex = (uint16_t)(st->hex << 4 | v);
    st->count++;
    if (st->count == 1 && (st->flags & JF_LOW) && st->hex != 0xD) return -1;
    if (st->count == 2) {
        int low_half = st->hex >= 0xDC && st->hex <= 0xDF;
        if (low_half != !!(st->flags & JF_LOW)) return -1;
    }
    if (st->count < 4) return 0;
    if (st->flags & JF_LOW) st->flags &= (uint8_t)~JF_LOW, st->mode = M_STR;
    else if (st->hex >= 0xD800 && st->hex <= 0xDBFF) st->flags |= JF_LOW, st->mode = M_LOW_BS;
    else st->mode = M_STR;
    return 0;
}

/* The first digit of a run (integer, fraction or exponent). */
static int first_digit(jg_state *st, int digit, uint8_t mode) {
    if (!digit) return -1;
    st->mode = mode;
    st->count = 1;
    return 0;
}

/* One more digit of a run of at most max. */
static int next_digit(jg_state *st, int max) { return ++st->count > max ? -1 : 0; }

/* A number byte: 1 when c is not part of the number (which then ends, if
 * it may end here), 0 when taken, -1 when invalid. */
static int number_byte(jg_state *st, unsigned c) {
    int digit = c >= '0' && c <= '9', exp = c == 'e' || c == 'E';
    switch (st->mode) {
    case M_NUM_MINUS: return first_digit(st, digit, c == '0' ? M_NUM_ZERO : M_NUM_INT);
    case M_NUM_ZERO:
    case M_NUM_INT:
        if (digit && st->mode == M_NUM_INT) return next_digit(st, JSON_GUARD_MAX_DIGITS);
        if (c == '.') { st->mode = M_NUM_DOT; return 0; }
        if (exp) { st->mode = M_NUM_E; return 0; }
        return 1;
    case M_NUM_DOT: return first_digit(st, digit, M_NUM_FRAC);
    case M_NUM_FRAC:
        if (digit) return next_digit(st, JSON_GUARD_MAX_DIGITS);
        if (exp) { st->mode = M_NUM_E; return 0; }
        return 1;
    case M_NUM_E:
        if (c == '+' || c == '-') { st->mode = M_NUM_ESIGN; return 0; }
        return first_digit(st, digit, M_NUM_EXP);
    case M_NUM_ESIGN: return first_digit(st, digit, M_NUM_EXP);
    default: /* M_NUM_EXP */
        return digit ? next_digit(st, JSON_GUARD_MAX_EXP_DIGITS) : 1;
    }
}

static int after_value(jg_state *st, unsigned c) {
    if (is_ws(c)) return skip_ws(st, JSON_GUARD_MAX_WS_RUN);
    if (c == ',') {
        st->mode = top_is_object(st) ? M_OBJ_KEY : M_VALUE;
        return 0;
    }
    if (c == '}' || c == ']') return close_container(st, c == '}');
    return -1;
}

static int literal_byte(jg_state *st, unsigned c) {
    int lit = st->flags >> JF_LIT_SHIFT;
    if (c != (unsigned char)literals[lit][st->count]) return -1;
    if (++st->count == literal_len[lit]) {
        st->flags = 0;
        end_value(st);
    }
    return 0;
}

/* Feeds one byte: 0, or -1 when the text would no longer be the prefix of
 * a valid JSON object (the state is then garbage: callers work on copies). */
static int jg_step(jg_state *st, unsigned c) {
    if (!is_ws(c)) st->ws = 0;
    switch (st->mode) {
    case M_TOP: return is_ws(c) ? skip_ws(st, JSON_GUARD_MAX_WS_RUN) : c == '{' ? push(st, 1) : -1;
    case M_OBJ_FIRST:
        if (c == '}') return close_container(st, 1);
        /* fall through */
    case M_OBJ_KEY:
        if (c == '"') { open_string(st, 1); return 0; }
        return is_ws(c) ? skip_ws(st, JSON_GUARD_MAX_WS_RUN) : -1;
    case M_COLON:
        if (c == ':') { st->mode = M_VALUE; return 0; }
        return is_ws(c) ? skip_ws(st, JSON_GUARD_MAX_WS_RUN) : -1;
    case M_ARR_FIRST:
        if (c == ']') return close_container(st, 0);
        return value_start(st, c);
    case M_VALUE: return value_start(st, c);
    case M_AFTER: return after_value(st, c);
    case M_STR: return string_byte(st, c);
    case M_ESC: return escape_byte(st, c);
    case M_HEX: return hex_byte(st, c);
    case M_LOW_BS: return c == '\\' ? (st->mode = M_LOW_U, 0) : -1;
    case M_LOW_U: return c == 'u' ? (st->mode = M_HEX, st->count = 0, st->hex = 0, 0) : -1;
    case M_UTF8:
        if (c < st->lo || c > st->hi) return -1;
        st->lo = 0x80;
        st->hi = 0xBF;
        if (--st->count == 0) st->mode = M_STR;
        return 0;
    case M_LIT: return literal_byte(st, c);
    case M_DONE: return is_ws(c) ? skip_ws(st, JSON_GUARD_MAX_TRAILING_WS) : -1;
    default: {
        /* numbers end on the next byte that is not theirs, which then
         * continues the container (a number is never the top-level value) */
        int r = number_byte(st, c);
        if (r <= 0) return r;
        st->mode = M_AFTER;
        return after_value(st, c);
    }
    }
}

static int jg_feed(jg_state *st, const unsigned char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (jg_step(st, b[i])) return -1;
    return 0;
}

/* ---- the vocabulary tables ---------------------------------------------------- */

struct json_vocab {
    int vocab_size;
    unsigned char *bytes;   /* every token's bytes, in sorted order */
    uint32_t *off, *len;    /* by id; len 0: never allowed (added, empty, beyond the tokenizer) */
    int n_sorted;           /* the tokens with bytes, sorted by them, so that a shared prefix is fed once */
    int32_t *sorted;
    uint32_t *sorted_off, *sorted_len;
    uint32_t *lcp;          /* bytes shared with the previous sorted token */
    int32_t *never;         /* the ids always masked */
    int n_never;
    int32_t *unplain;       /* the ids that do more than add characters to a string (see string_content) */
    int n_unplain;
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
        e[v->n_sorted++] = (vocab_entry){(const unsigned char *)b, (uint32_t)len, id};
        *total += len;
        if (len > v->max_len) v->max_len = (uint32_t)len;
    }
    return e;
}

static int in_string(uint8_t mode) {
    return mode == M_STR || mode == M_ESC || mode == M_HEX || mode == M_LOW_BS || mode == M_LOW_U || mode == M_UTF8;
}

/* Do these bytes, fed inside a string, stay inside it and end between
 * characters? Then from any string state they are allowed and change
 * nothing, whether the string is a key or a value: the usual case, which
 * json_guard_mask then skips (most of a vocabulary is such tokens). */
static int string_content(const unsigned char *b, size_t n) {
    jg_state st = {.mode = M_STR};
    for (size_t i = 0; i < n; i++)
        if (jg_step(&st, b[i]) || !in_string(st.mode)) return 0;
    return st.mode == M_STR;
}

static int fill_tables(json_vocab *v, const vocab_entry *e, size_t total) {
    v->bytes = malloc(total ? total : 1);
    if (!v->bytes) return -1;
    size_t at = 0;
    for (int k = 0; k < v->n_sorted; k++) {
        memcpy(v->bytes + at, e[k].p, e[k].len);
        v->sorted[k] = e[k].id;
        v->sorted_off[k] = v->off[e[k].id] = (uint32_t)at;
        v->sorted_len[k] = v->len[e[k].id] = e[k].len;
        uint32_t l = 0;
        if (k > 0)
            while (l < e[k].len && l < e[k - 1].len && e[k].p[l] == e[k - 1].p[l]) l++;
        v->lcp[k] = l;
        if (!string_content(e[k].p, e[k].len)) v->unplain[v->n_unplain++] = e[k].id;
        at += e[k].len;
    }
    return 0;
}

json_vocab *json_vocab_new(const qwenc_tokenizer *t, int vocab_size) {
    if (!t || vocab_size <= 0) return NULL;
    json_vocab *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    size_t n = (size_t)vocab_size;
    v->vocab_size = vocab_size;
    v->off = calloc(n, sizeof *v->off);
    v->len = calloc(n, sizeof *v->len);
    v->sorted = malloc(n * sizeof *v->sorted);
    v->sorted_off = malloc(n * sizeof *v->sorted_off);
    v->sorted_len = malloc(n * sizeof *v->sorted_len);
    v->lcp = malloc(n * sizeof *v->lcp);
    v->never = malloc(n * sizeof *v->never);
    v->unplain = malloc(n * sizeof *v->unplain);
    vocab_entry *e = NULL;
    size_t total = 0;
    int ok = v->off && v->len && v->sorted && v->sorted_off && v->sorted_len && v->lcp && v->never && v->unplain &&
             (e = collect_tokens(v, t, &total));
    if (ok) {
        qsort(e, (size_t)v->n_sorted, sizeof *e, by_bytes);
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
    free(v->sorted);
    free(v->sorted_off);
    free(v->sorted_len);
    free(v->lcp);
    free(v->never);
    free(v->unplain);
    free(v);
}

/* ---- the guard -------------------------------------------------------------- */

struct json_guard {
    const json_vocab *v;
    jg_state st;
    int32_t *eos;
    int n_eos;
    jg_state *trail;  /* mask scratch: the state after each byte of the current token (max_len + 1) */
    float *eos_logit; /* mask scratch: the eos logits, kept when the object is complete */
};

json_guard *json_guard_new(const json_vocab *v, const int32_t *eos_ids, int n_eos) {
    if (!v || n_eos < 0) return NULL;
    json_guard *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    g->v = v;
    g->st.mode = M_TOP;
    g->eos = malloc((size_t)(n_eos ? n_eos : 1) * sizeof *g->eos);
    g->trail = malloc(((size_t)v->max_len + 1) * sizeof *g->trail);
    g->eos_logit = malloc((size_t)(n_eos ? n_eos : 1) * sizeof *g->eos_logit);
    if (!g->eos || !g->trail || !g->eos_logit) {
        json_guard_free(g);
        return NULL;
    }
    if (n_eos) memcpy(g->eos, eos_ids, (size_t)n_eos * sizeof *eos_ids);
    g->n_eos = n_eos;
    return g;
}

void json_guard_free(json_guard *g) {
    if (!g) return;
    free(g->eos);
    free(g->trail);
    free(g->eos_logit);
    free(g);
}

int json_guard_complete(const json_guard *g) { return g->st.mode == M_DONE; }

static int is_eos(const json_guard *g, int32_t id) {
    for (int i = 0; i < g->n_eos; i++)
        if (g->eos[i] == id) return 1;
    return 0;
}

/* The state after token id, or -1 if it is not allowed (eos aside). */
static int try_token(const json_guard *g, int32_t id, jg_state *st) {
    const json_vocab *v = g->v;
    if (id < 0 || id >= v->vocab_size || !v->len[id]) return -1;
    *st = g->st;
    return jg_feed(st, v->bytes + v->off[id], v->len[id]);
}

static int token_allowed(const json_guard *g, int32_t id) {
    jg_state st;
    return is_eos(g, id) ? json_guard_complete(g) : try_token(g, id, &st) == 0;
}

int json_guard_accept(json_guard *g, int32_t id) {
    if (is_eos(g, id)) return json_guard_complete(g) ? 0 : -1;
    jg_state st;
    if (try_token(g, id, &st)) return -1;
    g->st = st;
    return 0;
}

int json_guard_allows_bytes(const json_guard *g, const char *bytes, size_t len) {
    jg_state st = g->st;
    return jg_feed(&st, (const unsigned char *)bytes, len) == 0;
}

int json_guard_feed(json_guard *g, const char *bytes, size_t len) {
    jg_state st = g->st;
    if (jg_feed(&st, (const unsigned char *)bytes, len)) return -1;
    g->st = st;
    return 0;
}

/* Walks the tokens in byte order, like a depth-first walk of their trie:
 * a token starts from the state after the prefix it shares with the one
 * before (trail), and a token whose shared prefix already failed is masked
 * without feeding a byte. */
static void mask_vocab_tokens(const json_guard *g, float *logits) {
    const json_vocab *v = g->v;
    jg_state *trail = g->trail;
    trail[0] = g->st;
    uint32_t failed_at = UINT32_MAX;  /* the byte the previous token failed on */
    for (int k = 0; k < v->n_sorted; k++) {
        uint32_t l = v->lcp[k];
        if (failed_at < l) {
            logits[v->sorted[k]] = -INFINITY;
            continue;
        }
        failed_at = UINT32_MAX;
        const unsigned char *b = v->bytes + v->sorted_off[k];
        uint32_t n = v->sorted_len[k];
        jg_state st = trail[l];
        for (uint32_t j = l; j < n; j++) {
            if (jg_step(&st, b[j])) {
                failed_at = j;
                logits[v->sorted[k]] = -INFINITY;
                break;
            }
            trail[j + 1] = st;
        }
    }
}

/* Inside a string only the tokens that are not plain string content need
 * a look. */
static void mask_string_tokens(const json_guard *g, float *logits) {
    const json_vocab *v = g->v;
    for (int k = 0; k < v->n_unplain; k++) {
        int32_t id = v->unplain[k];
        jg_state st = g->st;
        if (jg_feed(&st, v->bytes + v->off[id], v->len[id])) logits[id] = -INFINITY;
    }
}

void json_guard_mask(const json_guard *g, float *logits) {
    const json_vocab *v = g->v;
    int done = json_guard_complete(g);
    for (int i = 0; i < g->n_eos; i++)
        if (g->eos[i] >= 0 && g->eos[i] < v->vocab_size) g->eos_logit[i] = logits[g->eos[i]];
    if (g->st.mode == M_STR) mask_string_tokens(g, logits);
    else mask_vocab_tokens(g, logits);
    for (int i = 0; i < v->n_never; i++) logits[v->never[i]] = -INFINITY;
    for (int i = 0; i < g->n_eos; i++) {
        int32_t id = g->eos[i];
        if (id >= 0 && id < v->vocab_size) logits[id] = done ? g->eos_logit[i] : -INFINITY;
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
