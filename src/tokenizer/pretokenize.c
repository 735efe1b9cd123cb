#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenize.h"
#include "base/err.h"
#include "qwenc.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define MAX_STAGES 8

/* The regex ByteLevel applies itself when its use_regex is true (GPT-2). */
static const char gpt2_pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

typedef struct {
    pcre2_code *re;       /* NULL: the stage does not split */
    int remove_matches;   /* Split behavior "Removed" (else "Isolated") */
    int add_prefix_space; /* ByteLevel: prepend ' ' to pieces not starting with one */
} stage;

struct pretokenizer {
    int nfc;
    stage stages[MAX_STAGES];
    int n_stages;
};

void pretokenize_free(pretokenizer *p) {
    if (!p) return;
    for (int i = 0; i < p->n_stages; i++) pcre2_code_free(p->stages[i].re);
    free(p);
}

static const char *type_of(const json_t *v) {
    const char *t = json_string_value(json_object_get(v, "type"));
    return t ? t : "(no type)";
}

static int parse_normalizer(pretokenizer *p, const json_t *v, char *err, size_t errlen) {
    if (!v || json_is_null(v)) return 0;
    const char *type = type_of(v);
    if (!strcmp(type, "NFC")) {
        p->nfc = 1;
        return 0;
    }
    if (!strcmp(type, "Sequence")) {
        const json_t *list = json_object_get(v, "normalizers");
        size_t i;
        const json_t *item;
        if (!json_is_array(list)) return qw_errf(err, errlen, QWENC_EFORMAT, "normalizer: Sequence without a normalizers list");
        json_array_foreach(list, i, item) {
            int rc = parse_normalizer(p, item, err, errlen);
            if (rc) return rc;
        }
        return 0;
    }
    return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "normalizer type '%s' is not supported", type);
}

static int compile_stage(stage *st, const char *pattern, size_t len, uint32_t extra, char *err,
                         size_t errlen) {
    int code;
    PCRE2_SIZE at;
    st->re = pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF | PCRE2_UCP | extra, &code, &at, NULL);
    if (!st->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "pre_tokenizer: regex error at offset %zu: %s",
                       (size_t)at, (const char *)msg);
    }
    /* JIT is several times faster; without it the interpreter still works. */
    (void)pcre2_jit_compile(st->re, PCRE2_JIT_COMPLETE);
    return 0;
}

static stage *new_stage(pretokenizer *p, char *err, size_t errlen) {
    if (p->n_stages == MAX_STAGES) {
        qw_errf(err, errlen, QWENC_EUNSUPPORTED, "pre_tokenizer: more than %d steps", MAX_STAGES);
        return NULL;
    }
    stage *st = &p->stages[p->n_stages++];
    memset(st, 0, sizeof *st);
    return st;
}

static int parse_split(pretokenizer *p, const json_t *v, char *err, size_t errlen) {
    const json_t *pat = json_object_get(v, "pattern");
    const json_t *regex = json_object_get(pat, "Regex"), *literal = json_object_get(pat, "String");
    const char *behavior = json_string_value(json_object_get(v, "behavior"));
    if (!json_is_string(regex) && !json_is_string(literal))
        return qw_errf(err, errlen, QWENC_EFORMAT, "pre_tokenizer: Split without a Regex or String pattern");
    if (json_is_true(json_object_get(v, "invert")))
        return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "pre_tokenizer: Split with invert is not supported");
    if (!behavior || (strcmp(behavior, "Isolated") && strcmp(behavior, "Removed")))
        return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "pre_tokenizer: Split behavior '%s' is not supported",
                       behavior ? behavior : "(none)");
    stage *st = new_stage(p, err, errlen);
    if (!st) return QWENC_EUNSUPPORTED;
    st->remove_matches = !strcmp(behavior, "Removed");
    const json_t *pv = regex ? regex : literal;
    return compile_stage(st, json_string_value(pv), json_string_length(pv), regex ? 0 : PCRE2_LITERAL,
                         err, errlen);
}

static int parse_bytelevel(pretokenizer *p, const json_t *v, char *err, size_t errlen) {
    int use_regex = !json_is_false(json_object_get(v, "use_regex")); /* defaults to true */
    int prefix = json_is_true(json_object_get(v, "add_prefix_space"));
    if (!use_regex && !prefix) return 0; /* only the byte mapping, done on the vocabulary */
    stage *st = new_stage(p, err, errlen);
    if (!st) return QWENC_EUNSUPPORTED;
    st->add_prefix_space = prefix;
    return use_regex ? compile_stage(st, gpt2_pattern, sizeof gpt2_pattern - 1, 0, err, errlen) : 0;
}

static int parse_pre_tokenizer(pretokenizer *p, const json_t *v, char *err, size_t errlen) {
    if (!v || json_is_null(v)) return 0;
    const char *type = type_of(v);
    if (!strcmp(type, "Split")) return parse_split(p, v, err, errlen);
    if (!strcmp(type, "ByteLevel")) return parse_bytelevel(p, v, err, errlen);
    if (!strcmp(type, "Sequence")) {
        const json_t *list = json_object_get(v, "pretokenizers");
        size_t i;
        const json_t *item;
        if (!json_is_array(list))
            return qw_errf(err, errlen, QWENC_EFORMAT, "pre_tokenizer: Sequence without a pretokenizers list");
        json_array_foreach(list, i, item) {
            int rc = parse_pre_tokenizer(p, item, err, errlen);
            if (rc) return rc;
        }
        return 0;
    }
    return qw_errf(err, errlen, QWENC_EUNSUPPORTED, "pre_tokenizer type '%s' is not supported", type);
}

int pretokenize_new(const json_t *normalizer, const json_t *pre_tokenizer, pretokenizer **out,
                    char *err, size_t errlen) {
    pretokenizer *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    int rc = parse_normalizer(p, normalizer, err, errlen);
    if (!rc) rc = parse_pre_tokenizer(p, pre_tokenizer, err, errlen);
    if (rc) {
        pretokenize_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int pretokenize_new_split(int nfc, const char *pattern, pretokenizer **out, char *err, size_t errlen) {
    pretokenizer *p = calloc(1, sizeof *p);
    *out = NULL;
    if (!p) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    p->nfc = nfc;
    stage *st = new_stage(p, err, errlen);
    int rc = compile_stage(st, pattern, strlen(pattern), 0, err, errlen);
    if (rc) {
        pretokenize_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

/* ---- running ------------------------------------------------------------ */

typedef struct {
    const pretokenizer *p;
    pcre2_match_data *md[MAX_STAGES];
    pretokenize_piece_fn fn;
    void *ctx;
    char *err;
    size_t errlen;
} run_state;

static int run_stage(run_state *rs, int k, const char *text, size_t n);

static int emit(run_state *rs, int k, const char *text, size_t n) {
    if (n == 0) return 0; /* tokenizers drops empty pieces */
    return k + 1 < rs->p->n_stages ? run_stage(rs, k + 1, text, n) : rs->fn(rs->ctx, text, n);
}

static size_t char_len(unsigned char b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

/* Splits text by the stage's regex: matches and the gaps between them are
 * pieces in text order (Isolated), or only the gaps (Removed). */
static int split_regex(run_state *rs, int k, const stage *st, const char *text, size_t n) {
    pcre2_match_data *md = rs->md[k];
    size_t done = 0, from = 0; /* text[0..done) is emitted; search resumes at from */
    while (from <= n) {
        int m = pcre2_match(st->re, (PCRE2_SPTR)text, n, from, PCRE2_NO_UTF_CHECK, md, NULL);
        if (m == PCRE2_ERROR_NOMATCH) break;
        if (m < 0) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(m, msg, sizeof msg);
            return qw_errf(rs->err, rs->errlen, QWENC_EINVAL, "pre-tokenizer regex failed: %s",
                           (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        size_t s = ov[0], e = ov[1];
        if (e == s) { /* an empty match splits nothing; step over one character */
            if (s >= n) break;
            from = s + char_len((unsigned char)text[s]);
            continue;
        }
        int rc = emit(rs, k, text + done, s - done);
        if (!rc && !st->remove_matches) rc = emit(rs, k, text + s, e - s);
        if (rc) return rc;
        done = from = e;
    }
    return emit(rs, k, text + done, n - done);
}

static int run_stage(run_state *rs, int k, const char *text, size_t n) {
    const stage *st = &rs->p->stages[k];
    if (st->add_prefix_space && text[0] != ' ') {
        char *tmp = malloc(n + 1);
        if (!tmp) return qw_errf(rs->err, rs->errlen, QWENC_ENOMEM, "out of memory");
        tmp[0] = ' ';
        memcpy(tmp + 1, text, n);
        int rc = st->re ? split_regex(rs, k, st, tmp, n + 1) : emit(rs, k, tmp, n + 1);
        free(tmp);
        return rc;
    }
    return st->re ? split_regex(rs, k, st, text, n) : emit(rs, k, text, n);
}

/* Every code point below U+0300 is unchanged by NFC and never composes
 * with a neighbour below U+0300; in UTF-8 those are the bytes below 0xCC. */
static int nfc_may_change(const char *text, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)text[i] >= 0xCC) return 1;
    return 0;
}

int pretokenize_run(const pretokenizer *p, const char *text, size_t n, pretokenize_piece_fn fn,
                    void *ctx, char *err, size_t errlen) {
    if (n == 0) return 0;
    utf8proc_uint8_t *normalized = NULL;
    if (p->nfc && nfc_may_change(text, n)) {
        utf8proc_ssize_t m = utf8proc_map((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)n,
                                          &normalized, UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        if (m < 0)
            return qw_errf(err, errlen, m == UTF8PROC_ERROR_NOMEM ? QWENC_ENOMEM : QWENC_EINVAL,
                           "NFC normalization failed: %s", utf8proc_errmsg(m));
        text = (const char *)normalized;
        n = (size_t)m;
    }
    run_state rs = {.p = p, .fn = fn, .ctx = ctx, .err = err, .errlen = errlen};
    int rc = 0;
    for (int k = 0; k < p->n_stages && !rc; k++) {
        if (!p->stages[k].re) continue;
        rs.md[k] = pcre2_match_data_create_from_pattern(p->stages[k].re, NULL);
        if (!rs.md[k]) rc = qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    }
    if (!rc) rc = p->n_stages ? run_stage(&rs, 0, text, n) : fn(ctx, text, n);
    for (int k = 0; k < p->n_stages; k++) pcre2_match_data_free(rs.md[k]);
    free(normalized);
    return rc;
}
