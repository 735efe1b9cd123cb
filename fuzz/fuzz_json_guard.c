/* The json_object automaton. Byte 0 picks the mode and, with the rest,
 * seeds the cuts; the bytes after it are fed in random chunks, and a chunk
 * the guard refuses is fed again byte by byte (it must refuse one of them),
 * keeping the bytes it takes. Invariants: the bytes taken are always a
 * prefix of a JSON object, judged by a scanner written here from RFC 8259
 * (not the guard's code) that also completes the prefix, and the completed
 * text parses with jansson as an object; the guard says complete exactly
 * when jansson parses the taken bytes themselves. In token mode (byte 0
 * & 15 == 1), a token is then drawn with json_guard_sample over the real
 * Qwen3 vocabulary; the mask must agree with feeding tokens' bytes, and the
 * drawn token must be taken and keep the invariants. */
#include "server/json_guard.h"
#include "server/json_schema.h"

#include <jansson.h>
#include <math.h>

#include "fuzz.h"

/* ---- an independent scanner of JSON-object prefixes ---- */

enum { X_TOP, X_KEY_OR_CLOSE, X_KEY, X_COLON, X_VALUE_OR_CLOSE, X_VALUE, X_AFTER, X_STR, X_NUM, X_LIT, X_DONE };

typedef struct {
    char stack[256];
    int depth, at;
    int key;                    /* the string is a key */
    int esc;                    /* after '\' */
    int hexing, hex_digits, hex; /* inside \uXXXX: digits read and their value */
    int low;                    /* a low surrogate is due: 1 its '\', 2 its 'u', 3 its digits (hexing) */
    int utf8_left, lo, hi;      /* continuation bytes due; range of the next one */
    char num;                   /* the number's last part: '-', '0', '1' (digits), '.', 'f' (fraction), 'e', 's', 'x' */
    const char *lit;            /* the rest of true/false/null */
} scan;

static int is_ws(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static void end_value(scan *s) { s->at = s->depth ? X_AFTER : X_DONE; }

static int push(scan *s, char c) {
    if (s->depth >= (int)sizeof s->stack) return -1;
    s->stack[s->depth++] = c;
    s->at = c == '{' ? X_KEY_OR_CLOSE : X_VALUE_OR_CLOSE;
    return 0;
}

static int pop(scan *s, char c) {
    if (!s->depth || s->stack[s->depth - 1] != (c == '}' ? '{' : '[')) return -1;
    s->depth--;
    end_value(s);
    return 0;
}

static int value_start(scan *s, int c) {
    if (is_ws(c)) return 0;
    if (c == '{' || c == '[') return push(s, (char)c);
    if (c == '"') return s->at = X_STR, s->key = 0, 0;
    if (c == '-' || (c >= '0' && c <= '9')) return s->at = X_NUM, s->num = c == '-' ? '-' : c == '0' ? '0' : '1', 0;
    if (c == 't' || c == 'f' || c == 'n') return s->at = X_LIT, s->lit = c == 't' ? "rue" : c == 'f' ? "alse" : "ull", 0;
    return -1;
}

static int hex_digit(int c) {
    return (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
}

static int hex_step(scan *s, int c) {
    int d = hex_digit(c);
    if (d < 0) return -1;
    s->hex = s->hex << 4 | d;
    if (++s->hex_digits < 4) return 0;
    int is_low = s->hex >= 0xDC00 && s->hex <= 0xDFFF, is_high = s->hex >= 0xD800 && s->hex <= 0xDBFF;
    if (s->low == 3) {
        if (!is_low) return -1;
        s->low = 0;
    } else if (is_low) {
        return -1;  /* a low half with no high one before it */
    } else if (is_high) {
        s->low = 1;
    }
    s->hexing = 0;
    return 0;
}

static void start_hex(scan *s) { s->hexing = 1, s->hex_digits = 0, s->hex = 0; }

static int string_step(scan *s, int c) {
    if (s->utf8_left) {
        if (c < s->lo || c > s->hi) return -1;
        s->utf8_left--, s->lo = 0x80, s->hi = 0xBF;
        return 0;
    }
    if (s->hexing) return hex_step(s, c);
    if (s->low == 1) return c == '\\' ? (s->low = 2, 0) : -1;
    if (s->low == 2) return c == 'u' ? (s->low = 3, start_hex(s), 0) : -1;
    if (s->esc) {
        s->esc = 0;
        if (c == 'u') return start_hex(s), 0;
        return c && strchr("\"\\/bfnrt", c) ? 0 : -1;
    }
    if (c == '"') {
        if (s->key) s->at = X_COLON;
        else end_value(s);
        return 0;
    }
    if (c == '\\') return s->esc = 1, 0;
    if (c < 0x20) return -1;
    if (c < 0x80) return 0;
    s->lo = 0x80, s->hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) s->utf8_left = 1;
    else if (c >= 0xE0 && c <= 0xEF) s->utf8_left = 2, s->lo = c == 0xE0 ? 0xA0 : 0x80, s->hi = c == 0xED ? 0x9F : 0xBF;
    else if (c >= 0xF0 && c <= 0xF4) s->utf8_left = 3, s->lo = c == 0xF0 ? 0x90 : 0x80, s->hi = c == 0xF4 ? 0x8F : 0xBF;
    else return -1;
    return 0;
}

/* 0 taken, 1 the number ended before c, -1 invalid. */
static int number_step(scan *s, int c) {
    int digit = c >= '0' && c <= '9';
    switch (s->num) {
    case '-': return digit ? (s->num = c == '0' ? '0' : '1', 0) : -1;
    case '0': case '1':
        if (digit && s->num == '1') return 0;
        if (c == '.') return s->num = '.', 0;
        if (c == 'e' || c == 'E') return s->num = 'e', 0;
        return digit ? -1 : 1;
    case '.': return digit ? (s->num = 'f', 0) : -1;
    case 'f':
        if (digit) return 0;
        if (c == 'e' || c == 'E') return s->num = 'e', 0;
        return 1;
    case 'e': if (c == '+' || c == '-') return s->num = 's', 0;
        /* fall through */
    case 's': return digit ? (s->num = 'x', 0) : -1;
    default: return digit ? 0 : 1;
    }
}

static int scan_step(scan *s, int c) {
    switch (s->at) {
    case X_TOP: return is_ws(c) ? 0 : c == '{' ? push(s, '{') : -1;
    case X_KEY_OR_CLOSE: if (c == '}') return pop(s, '}');
        /* fall through */
    case X_KEY: return is_ws(c) ? 0 : c == '"' ? (s->at = X_STR, s->key = 1, 0) : -1;
    case X_COLON: return is_ws(c) ? 0 : c == ':' ? (s->at = X_VALUE, 0) : -1;
    case X_VALUE_OR_CLOSE: if (c == ']') return pop(s, ']');
        /* fall through */
    case X_VALUE: return value_start(s, c);
    case X_AFTER:
        if (is_ws(c)) return 0;
        if (c == ',') return s->at = s->stack[s->depth - 1] == '{' ? X_KEY : X_VALUE, 0;
        return c == '}' || c == ']' ? pop(s, (char)c) : -1;
    case X_STR: return string_step(s, c);
    case X_NUM: {
        int r = number_step(s, c);
        if (r <= 0) return r;
        end_value(s);
        return scan_step(s, c);
    }
    case X_LIT:
        if (c != *s->lit) return -1;
        if (!*++s->lit) end_value(s);
        return 0;
    default: return is_ws(c) ? 0 : -1;
    }
}

/* Appends to buf the shortest obvious completion of the scanned prefix. */
static size_t complete(const scan *s, char *buf) {
    size_t n = 0;
    if (s->at == X_STR) {
        for (int k = 0; k < s->utf8_left; k++) buf[n++] = (char)(k ? 0x80 : s->lo);
        if (s->hexing && s->low == 3) {  /* the digits read are a prefix of DC-DF */
            memcpy(buf + n, &"DC00"[s->hex_digits], (size_t)(4 - s->hex_digits));
            n += (size_t)(4 - s->hex_digits);
        } else if (s->hexing) {
            int v = s->hex;
            for (int k = s->hex_digits; k < 4; k++) buf[n++] = '0', v <<= 4;
            if (v >= 0xD800 && v <= 0xDBFF) memcpy(buf + n, "\\uDC00", 6), n += 6;
        } else if (s->low) {
            const char *rest = s->low == 1 ? "\\uDC00" : "uDC00";
            memcpy(buf + n, rest, strlen(rest)), n += strlen(rest);
        }
        if (s->esc) buf[n++] = 'n';
        buf[n++] = '"';
        if (s->key) buf[n++] = ':', buf[n++] = '0';
    } else if (s->at == X_NUM && strchr("-.es", s->num)) {
        buf[n++] = '0';
    } else if (s->at == X_LIT) {
        n = strlen(s->lit);
        memcpy(buf, s->lit, n);
    } else if (s->at == X_COLON) {
        buf[n++] = ':', buf[n++] = '0';
    } else if (s->at == X_VALUE) {
        buf[n++] = '0';
    } else if (s->at == X_KEY) {
        memcpy(buf, "\"\":0", 4), n = 4;
    } else if (s->at == X_TOP) {
        buf[n++] = '{', buf[n++] = '}';
    }
    for (int d = s->depth - 1; d >= 0; d--) buf[n++] = s->stack[d] == '{' ? '}' : ']';
    return n;
}

/* jansson's verdict: 1 an object, 0 not, -1 not judged (a number too large
 * for it, or U+0000 in a key, which it does not support). */
static int jansson_object(const char *text, size_t n) {
    json_error_t je;
    json_t *j = json_loadb(text, n, JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &je);
    int r = j ? json_is_object(j) : strstr(je.text, "overflow") || strstr(je.text, "NUL byte in object key") ? -1 : 0;
    json_decref(j);
    return r;
}

/* The bytes the guard took, scanned as they come. */
typedef struct {
    scan s;
    char *text;
    size_t n;
} taken;

static void take(taken *t, const char *b, size_t k) {
    for (size_t i = 0; i < k; i++) {
        FUZZ_CHECK(scan_step(&t->s, (unsigned char)b[i]) == 0, "the guard took byte %zu of '%.*s', not JSON", t->n,
                   (int)(t->n + 1), t->text);
        t->text[t->n++] = b[i];
    }
}

/* The taken bytes completed must parse as an object; as they are, exactly
 * when the guard says complete. */
static void judge(const json_guard *g, const taken *t) {
    char *full = malloc(t->n + sizeof t->s.stack + 16);
    if (!full) abort();
    memcpy(full, t->text, t->n);
    size_t m = t->n + complete(&t->s, full + t->n);
    FUZZ_CHECK(jansson_object(full, m) != 0, "the completion '%.*s' is not a JSON object", (int)m, full);
    int as_is = jansson_object(t->text, t->n);
    if (as_is >= 0)
        FUZZ_CHECK(json_guard_complete(g) == as_is, "complete %d, jansson %d on '%.*s'", json_guard_complete(g), as_is,
                   (int)t->n, t->text);
    free(full);
}

/* ---- tokens ---- */

/* json_object: the schema {"type": "object"}, compiled once. */
static const json_schema *object_schema(void) {
    static json_schema *s;
    if (!s && json_schema_compile_text("{\"type\": \"object\"}", &s, NULL, 0)) abort();
    return s;
}

static const json_vocab *vocab(int *size) {
    static json_vocab *v;
    static int n;
    if (!v) {
        n = qwenc_tokenizer_n_tokens(fuzz_tokenizer()) + 64;  /* model rows past the tokenizer's ids */
        if (!(v = json_vocab_new(fuzz_tokenizer(), n))) abort();
    }
    *size = n;
    return v;
}

static const json_vocab *preload_vocab(void) {
    int size;
    return vocab(&size);
}
FUZZ_PRELOAD(preload_vocab)

/* Does the mask agree with each token's bytes? (A sample of ids, and eos.) */
static void check_mask(const json_guard *g, const float *masked, int n, const int32_t *eos, uint64_t *seed) {
    const qwenc_tokenizer *t = fuzz_tokenizer();
    for (int k = 0; k < 64; k++) {
        int32_t id = k < 2 ? eos[k] : (int32_t)(fuzz_rand(seed) % (uint64_t)n);
        size_t len = 0;
        const char *b = qwenc_token_is_added(t, id) ? NULL : qwenc_token_bytes(t, id, &len);
        int is_eos = id == eos[0] || id == eos[1];  /* (a drawn id may be one too) */
        int allowed = is_eos ? json_guard_complete(g) : b && len && json_guard_allows_bytes(g, b, len);
        FUZZ_CHECK(allowed == (masked[id] != -INFINITY), "the mask says %d for token %d, its bytes say %d",
                   masked[id] != -INFINITY, id, allowed);
    }
}

/* One token drawn from random logits under the mask (one mask over the
 * whole vocabulary is the cost: milliseconds). */
static void draw_token(json_guard *g, taken *t, uint64_t *seed) {
    int size;
    (void)vocab(&size);
    static const int32_t eos[2] = {151645, 151643};
    qwenc_sampler_params sp;
    qwenc_sampler_params_init(&sp);
    sp.temperature = 0.0f;
    qwenc_sampler *smp = NULL;
    float *masked = malloc((size_t)size * sizeof *masked), *scratch = malloc((size_t)size * sizeof *scratch);
    if (!masked || !scratch || qwenc_sampler_new(&sp, &smp, NULL, 0)) abort();
    uint32_t x = (uint32_t)*seed;
    for (int i = 0; i < size; i++) masked[i] = (float)((x = x * 1664525u + 1013904223u) >> 22);
    json_guard_mask(g, masked);
    check_mask(g, masked, size, eos, seed);
    /* from masked logits the greedy draw is allowed at once (unless nothing is) */
    int32_t id = json_guard_sample(g, smp, masked, scratch);
    if (id >= 0) {
        FUZZ_CHECK(masked[id] != -INFINITY && json_guard_accept(g, id) == 0, "a drawn token %d is refused", id);
        size_t len = 0;
        const char *b = id == eos[0] || id == eos[1] ? "" : qwenc_token_bytes(fuzz_tokenizer(), id, &len);
        take(t, b, len);
        judge(g, t);
    }
    qwenc_sampler_free(smp);
    free(masked);
    free(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int size_v;
    static const int32_t eos[2] = {151645, 151643};
    json_guard *g = json_guard_new(vocab(&size_v), object_schema(), eos, 2);
    uint64_t seed = fuzz_seed(data, size);
    const char *in = (const char *)data + 1;
    size_t n_in = size - 1, at = 0;
    taken t = {.s = {.at = X_TOP}, .text = malloc(n_in + 4096)};  /* the bytes, then a token */
    if (!g || !t.text) abort();
    while (at < n_in) {
        size_t chunk = 1 + fuzz_rand(&seed) % 8;
        if (chunk > n_in - at) chunk = n_in - at;
        if (json_guard_feed(g, in + at, chunk) == 0) {
            take(&t, in + at, chunk);
        } else {
            int refused = 0;
            for (size_t i = 0; i < chunk; i++) {
                if (json_guard_feed(g, in + at + i, 1) == 0) take(&t, in + at + i, 1);
                else refused = 1;
            }
            FUZZ_CHECK(refused, "a chunk was refused but each of its bytes taken");
        }
        at += chunk;
        if (fuzz_rand(&seed) % 16 == 0) judge(g, &t);  /* a judgement costs O(n): not after every chunk */
    }
    judge(g, &t);
    if ((data[0] & 15) == 1) draw_token(g, &t, &seed);  /* 1 input in 16 */
    json_guard_free(g);
    free(t.text);
    return 0;
}
