/* Loading a tokenizer from a GGUF file's metadata, as llama.cpp writes it:
 *
 *   tokenizer.ggml.model       "gpt2" (byte-level BPE; the only one supported)
 *   tokenizer.ggml.pre         pre-tokenizer name -> split regex (table below)
 *   tokenizer.ggml.tokens      token strings in the byte-level alphabet, index = id
 *   tokenizer.ggml.token_type  1 normal, 2 unknown, 3 control, 4 user-defined,
 *                              5 unused, 6 byte (optional: all normal)
 *   tokenizer.ggml.merges      "a b", highest priority first
 *   tokenizer.ggml.{bos,eos,padding,unknown}_token_id, tokenizer.chat_template
 *
 * Control and unknown tokens become special added tokens, user-defined ones
 * non-special added tokens (matched in the raw text first, never split), as
 * tokenizer.json's added_tokens are; normal and byte tokens form the BPE
 * vocabulary. Unused tokens keep their id (so n_tokens is the file's count)
 * and decode to nothing, as in llama.cpp. add_bos_token is not applied:
 * qwenc_tokenize never adds tokens the text does not hold, as for
 * tokenizer.json, and Qwen's GGUFs set it false.
 *
 * Everything the tokenizer keeps is copied, so the file is unmapped before
 * the load returns. */
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/utf8.h"
#include "base/err.h"
#include "format/gguf.h"

#include <stdlib.h>
#include <string.h>

enum { TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3, TT_USER = 4, TT_UNUSED = 5, TT_BYTE = 6 };

/* Qwen2/2.5/3: the Split regex of Qwen's tokenizer.json, byte for byte. */
static const char qwen2_pattern[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/* tokenizer.ggml.pre names (as llama.cpp knows them) -> split regex. */
static const struct {
    const char *name, *pattern;
} pre_patterns[] = {
    {"qwen2", qwen2_pattern},
    {"deepseek-r1-qwen", qwen2_pattern},
};

typedef struct {
    const qw_gguf *g;
    const char *path;
    const qw_gguf_kv *tokens, *types, *merges; /* types may be NULL */
    char *err;
    size_t errlen;
} gguf_src;

static int fail(const gguf_src *s, int code, const char *what) {
    return qw_errf(s->err, s->errlen, code, "%s: %s", s->path, what);
}

/* An optional string; absent is 0 with *v NULL, another type is an error. */
static int opt_str(const gguf_src *s, const char *key, const char **v, size_t *n) {
    const qw_gguf_kv *kv = qw_gguf_find(s->g, key);
    *v = NULL;
    *n = 0;
    if (!kv) return 0;
    if (qw_gguf_kv_str(kv, v, n)) return 0;
    return qw_errf(s->err, s->errlen, QWENC_EFORMAT, "%s: metadata '%s' is not a string", s->path, key);
}

static int check_model(const gguf_src *s, const char **pattern) {
    const char *model, *pre;
    size_t mn, pn;
    int rc = opt_str(s, "tokenizer.ggml.model", &model, &mn);
    if (!rc) rc = opt_str(s, "tokenizer.ggml.pre", &pre, &pn);
    if (rc) return rc;
    if (!model) return fail(s, QWENC_EFORMAT, "no tokenizer in the GGUF metadata (tokenizer.ggml.model is missing)");
    if (mn != 4 || memcmp(model, "gpt2", 4))
        return qw_errf(s->err, s->errlen, QWENC_EUNSUPPORTED,
                       "%s: tokenizer.ggml.model '%.*s' is not supported (only 'gpt2', byte-level BPE)", s->path,
                       (int)mn, model);
    if (!pre) return fail(s, QWENC_EUNSUPPORTED, "no tokenizer.ggml.pre: the pre-tokenizer regex is unknown");
    for (size_t i = 0; i < sizeof pre_patterns / sizeof pre_patterns[0]; i++) {
        if (strlen(pre_patterns[i].name) == pn && !memcmp(pre_patterns[i].name, pre, pn)) {
            *pattern = pre_patterns[i].pattern;
            return 0;
        }
    }
    return qw_errf(s->err, s->errlen, QWENC_EUNSUPPORTED,
                   "%s: tokenizer.ggml.pre '%.*s' is not supported (known: qwen2, deepseek-r1-qwen)", s->path,
                   (int)pn, pre);
}

static int find_arrays(gguf_src *s) {
    int rc = qw_gguf_get_arr(s->g, "tokenizer.ggml.tokens", QW_GGUF_STRING, &s->tokens, s->err, s->errlen);
    if (!rc) rc = qw_gguf_get_arr(s->g, "tokenizer.ggml.merges", QW_GGUF_STRING, &s->merges, s->err, s->errlen);
    if (rc || !qw_gguf_find(s->g, "tokenizer.ggml.token_type")) return rc;
    rc = qw_gguf_get_arr(s->g, "tokenizer.ggml.token_type", -1, &s->types, s->err, s->errlen);
    if (!rc && s->types->count != s->tokens->count)
        rc = qw_errf(s->err, s->errlen, QWENC_EFORMAT,
                     "%s: tokenizer.ggml.token_type has %llu entries but tokenizer.ggml.tokens has %llu", s->path,
                     (unsigned long long)s->types->count, (unsigned long long)s->tokens->count);
    if (!rc && s->tokens->count >= INT32_MAX - 1) rc = fail(s, QWENC_EFORMAT, "too many tokens");
    return rc;
}

static int token_type(const gguf_src *s, uint64_t id, int *type) {
    int64_t v = TT_NORMAL;
    if (s->types && (!qw_gguf_arr_i64(s->types, id, &v) || v < TT_NORMAL || v > TT_BYTE))
        return qw_errf(s->err, s->errlen, QWENC_EFORMAT, "%s: tokenizer.ggml.token_type[%llu] = %lld is not a token type",
                       s->path, (unsigned long long)id, (long long)v);
    *type = (int)v;
    return 0;
}

static int is_added(int type) { return type == TT_CONTROL || type == TT_UNKNOWN || type == TT_USER; }

/* Counts the added tokens, so their table is allocated once. */
static int count_added(const gguf_src *s, size_t *n) {
    *n = 0;
    for (uint64_t id = 0; id < s->tokens->count; id++) {
        int type = 0, rc = token_type(s, id, &type);
        if (rc) return rc;
        *n += (size_t)is_added(type);
    }
    return 0;
}

static int add_token(qwenc_tokenizer *t, const gguf_src *s, int32_t id) {
    size_t n, bad;
    const char *str = qw_gguf_arr_str(s->tokens, (uint64_t)id, &n);
    int type = 0, rc = token_type(s, (uint64_t)id, &type);
    if (rc) return rc;
    if (!utf8_validate(str, n, &bad))
        return qw_errf(s->err, s->errlen, QWENC_EFORMAT, "%s: tokenizer.ggml.tokens[%d] is not UTF-8", s->path, id);
    if (!is_added(type)) {
        rc = bpe_add_token(t->bpe, str, n, id, s->err, s->errlen);
        return rc ? qw_err_prefix(s->err, s->errlen, rc, s->path) : 0;
    }
    if (n == 0)
        return qw_errf(s->err, s->errlen, QWENC_EFORMAT, "%s: tokenizer.ggml.tokens[%d] is an empty special token",
                       s->path, id);
    if (added_vocab_push(&t->added, str, n, id, type != TT_USER)) return fail(s, QWENC_ENOMEM, "out of memory");
    return 0;
}

static int load_tokens(qwenc_tokenizer *t, const gguf_src *s) {
    size_t n_added;
    int rc = count_added(s, &n_added);
    if (rc) return rc;
    if (bpe_new(&t->bpe) || added_vocab_reserve(&t->added, n_added)) return fail(s, QWENC_ENOMEM, "out of memory");
    for (uint64_t id = 0; id < s->tokens->count && !rc; id++) rc = add_token(t, s, (int32_t)id);
    if (!rc && added_vocab_index(&t->added)) rc = fail(s, QWENC_EFORMAT, "an added token is empty");
    return rc;
}

/* Merge "a b": llama.cpp splits at the first space after the first byte. */
static int load_merges(qwenc_tokenizer *t, const gguf_src *s) {
    for (uint64_t i = 0; i < s->merges->count; i++) {
        size_t n;
        const char *m = qw_gguf_arr_str(s->merges, i, &n);
        const char *sp = n > 1 ? memchr(m + 1, ' ', n - 1) : NULL;
        if (!sp || i >= INT32_MAX)
            return qw_errf(s->err, s->errlen, QWENC_EFORMAT,
                           "%s: tokenizer.ggml.merges[%llu] is not two tokens separated by a space", s->path,
                           (unsigned long long)i);
        size_t an = (size_t)(sp - m);
        int rc = bpe_add_merge(t->bpe, m, an, sp + 1, n - an - 1, (int32_t)i, s->err, s->errlen);
        if (rc) return qw_err_prefix(s->err, s->errlen, rc, s->path);
    }
    return 0;
}

/* Unused tokens decode to nothing (llama.cpp's token_to_piece). */
static void hide_unused(qwenc_tokenizer *t, const gguf_src *s) {
    int type = 0;
    for (uint64_t id = 0; s->types && id < s->tokens->count; id++)
        if (!token_type(s, id, &type) && type == TT_UNUSED) t->bytes_len[id] = 0;
}

static char *dup_bytes(const char *p, size_t n) {
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, p, n);
        d[n] = 0;
    }
    return d;
}

/* The text of the token a *_token_id key names; absent key: NULL. */
static int special_text(qwenc_tokenizer *t, const gguf_src *s, const char *key, char **out) {
    const qw_gguf_kv *kv = qw_gguf_find(s->g, key);
    int64_t id;
    size_t n;
    if (!kv) return 0;
    if (!qw_gguf_kv_i64(kv, &id) || id < 0 || id >= t->n_ids)
        return qw_errf(s->err, s->errlen, QWENC_EFORMAT, "%s: metadata '%s' is not a token id", s->path, key);
    const char *bytes = qwenc_token_bytes(t, (int32_t)id, &n);
    if (!bytes) bytes = "", n = 0;
    if (!(*out = dup_bytes(bytes, n))) return fail(s, QWENC_ENOMEM, "out of memory");
    return 0;
}

static int load_strings(qwenc_tokenizer *t, const gguf_src *s) {
    const char *tmpl;
    size_t n;
    int rc = opt_str(s, "tokenizer.chat_template", &tmpl, &n);
    if (!rc && tmpl && !(t->chat_template = dup_bytes(tmpl, n))) rc = fail(s, QWENC_ENOMEM, "out of memory");
    if (!rc) rc = special_text(t, s, "tokenizer.ggml.bos_token_id", &t->bos_token);
    if (!rc) rc = special_text(t, s, "tokenizer.ggml.eos_token_id", &t->eos_token);
    if (!rc) rc = special_text(t, s, "tokenizer.ggml.padding_token_id", &t->pad_token);
    if (!rc) rc = special_text(t, s, "tokenizer.ggml.unknown_token_id", &t->unk_token);
    return rc;
}

static int load_from(qwenc_tokenizer *t, gguf_src *s) {
    const char *pattern = NULL;
    int rc = check_model(s, &pattern);
    if (!rc) rc = find_arrays(s);
    if (!rc) rc = load_tokens(t, s);
    if (!rc) rc = load_merges(t, s);
    if (!rc && (rc = pretokenize_new_split(1, pattern, &t->pre, s->err, s->errlen)))
        qw_err_prefix(s->err, s->errlen, rc, s->path);
    if (!rc) rc = qw_tokenizer_finish(t, s->path, s->err, s->errlen);
    if (!rc) hide_unused(t, s);
    if (!rc) rc = load_strings(t, s);
    return rc;
}

int qw_tokenizer_from_gguf(qwenc_tokenizer *t, const qw_gguf *g, char *err, size_t errlen) {
    gguf_src s = {.g = g, .path = g->path, .err = err, .errlen = errlen};
    return load_from(t, &s);
}

int qw_tokenizer_load_gguf(qwenc_tokenizer *t, const char *path, char *err, size_t errlen) {
    qw_gguf g;
    int rc = qw_gguf_open(path, &g, err, errlen);
    if (rc) return rc;
    rc = qw_tokenizer_from_gguf(t, &g, err, errlen);
    qw_gguf_close(&g);
    return rc;
}
