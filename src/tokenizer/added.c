#include "tokenizer/added.h"
#include "tokenizer/utf8.h"
#include "base/err.h"
#include "qwenc.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

void added_vocab_free(added_vocab *av) {
    for (size_t i = 0; i < av->n; i++) free(av->tokens[i].content);
    free(av->tokens);
    memset(av, 0, sizeof *av);
}

static int by_first_byte_then_longest(const void *a, const void *b) {
    const added_token *x = a, *y = b;
    unsigned char fx = (unsigned char)x->content[0], fy = (unsigned char)y->content[0];
    if (fx != fy) return fx < fy ? -1 : 1;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int load_one(added_token *t, const json_t *item, size_t i, char *err, size_t errlen) {
    const json_t *content = json_object_get(item, "content"), *id = json_object_get(item, "id");
    size_t bad;
    if (!json_is_string(content) || json_string_length(content) == 0)
        return qw_errf(err, errlen, QWENC_EFORMAT, "added_tokens[%zu]: missing or empty \"content\"", i);
    if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) >= INT32_MAX)
        return qw_errf(err, errlen, QWENC_EFORMAT, "added_tokens[%zu]: missing or invalid \"id\"", i);
    if (!utf8_validate(json_string_value(content), json_string_length(content), &bad))
        return qw_errf(err, errlen, QWENC_EFORMAT, "added_tokens[%zu]: content is not UTF-8", i);
    t->len = json_string_length(content);
    t->content = malloc(t->len + 1);
    if (!t->content) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    memcpy(t->content, json_string_value(content), t->len + 1);
    t->id = (int32_t)json_integer_value(id);
    t->special = json_is_true(json_object_get(item, "special"));
    t->lstrip = json_is_true(json_object_get(item, "lstrip"));
    t->rstrip = json_is_true(json_object_get(item, "rstrip"));
    t->single_word = json_is_true(json_object_get(item, "single_word"));
    t->normalized = json_is_true(json_object_get(item, "normalized"));
    return 0;
}

int added_vocab_index(added_vocab *av) {
    for (size_t i = 0; i < av->n; i++)
        if (av->tokens[i].len == 0) return QWENC_EFORMAT;
    qsort(av->tokens, av->n, sizeof *av->tokens, by_first_byte_then_longest);
    for (size_t i = 0, b = 0; b <= 256; b++) {
        while (i < av->n && (unsigned char)av->tokens[i].content[0] < b) i++;
        av->by_first[b] = (uint32_t)i;
    }
    return 0;
}

int added_vocab_reserve(added_vocab *av, size_t n) {
    memset(av, 0, sizeof *av);
    av->tokens = calloc(n ? n : 1, sizeof *av->tokens);
    return av->tokens ? 0 : QWENC_ENOMEM;
}

int added_vocab_push(added_vocab *av, const char *s, size_t n, int32_t id, int special) {
    added_token *t = &av->tokens[av->n];
    memset(t, 0, sizeof *t);
    if (!(t->content = malloc(n + 1))) return QWENC_ENOMEM;
    memcpy(t->content, s, n);
    t->content[n] = 0;
    t->len = n;
    t->id = id;
    t->special = (unsigned char)(special != 0);
    av->n++;
    return 0;
}

int added_vocab_load(added_vocab *av, const json_t *list, char *err, size_t errlen) {
    memset(av, 0, sizeof *av);
    if (!list || json_is_null(list)) return 0;
    if (!json_is_array(list)) return qw_errf(err, errlen, QWENC_EFORMAT, "\"added_tokens\" is not an array");
    size_t n = json_array_size(list);
    if (added_vocab_reserve(av, n)) return qw_errf(err, errlen, QWENC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        int rc = load_one(&av->tokens[i], json_array_get(list, i), i, err, errlen);
        av->n = i + (rc == 0);
        if (rc) return rc;
    }
    return added_vocab_index(av);
}

const added_token *added_vocab_by_id(const added_vocab *av, int32_t id) {
    for (size_t i = 0; i < av->n; i++)
        if (av->tokens[i].id == id) return &av->tokens[i];
    return NULL;
}

const added_token *added_vocab_by_content(const added_vocab *av, const char *s, size_t n) {
    if (n == 0) return NULL;
    unsigned char b = (unsigned char)s[0];
    for (uint32_t i = av->by_first[b]; i < av->by_first[b + 1]; i++)
        if (av->tokens[i].len == n && !memcmp(av->tokens[i].content, s, n)) return &av->tokens[i];
    return NULL;
}

/* ---- matching ------------------------------------------------------------ */

/* Unicode White_Space, which Rust's \s (used by tokenizers) follows. */
static int is_white_space(uint32_t c) {
    return (c >= 9 && c <= 13) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
           c == 0x205F || c == 0x3000;
}

/* Rust's \w: letters, marks, decimal digits, connector punctuation, joiners. */
static int is_word_char(uint32_t c) {
    if (c == 0x200C || c == 0x200D) return 1;
    switch (utf8proc_category((utf8proc_int32_t)c)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_PC: return 1;
    default: return 0;
    }
}

/* Start of the character that ends at text[end] (end > 0). */
static size_t char_start_before(const char *text, size_t end) {
    size_t i = end - 1;
    while (i > 0 && ((unsigned char)text[i] & 0xC0) == 0x80) i--;
    return i;
}

static uint32_t char_at(const char *text, size_t i) {
    uint32_t cp;
    utf8_decode_char((const unsigned char *)text + i, &cp);
    return cp;
}

static int word_before(const char *text, size_t pos) {
    return pos > 0 && is_word_char(char_at(text, char_start_before(text, pos)));
}

static int word_after(const char *text, size_t n, size_t pos) {
    return pos < n && is_word_char(char_at(text, pos));
}

/* Leftmost-longest raw match at or after from (what aho-corasick's
 * LeftmostLongest find_iter yields). */
static const added_token *find_raw(const added_vocab *av, const char *text, size_t n, size_t from,
                                   size_t *at) {
    for (size_t i = from; i < n; i++) {
        unsigned char b = (unsigned char)text[i];
        /* Candidates are sorted longest first, so the first hit is the longest. */
        for (uint32_t k = av->by_first[b]; k < av->by_first[b + 1]; k++) {
            const added_token *t = &av->tokens[k];
            if (t->len <= n - i && !memcmp(text + i, t->content, t->len)) {
                *at = i;
                return t;
            }
        }
    }
    return NULL;
}

void added_iter_init(added_iter *it, const added_vocab *av, const char *text, size_t n) {
    it->av = av;
    it->text = text;
    it->n = n;
    it->scan = it->done = 0;
}

int added_iter_next(added_iter *it, size_t *start, size_t *end, const added_token **tok) {
    if (it->av->n == 0) return 0;
    size_t at;
    const added_token *t;
    while ((t = find_raw(it->av, it->text, it->n, it->scan, &at)) != NULL) {
        size_t s = at, e = at + t->len;
        it->scan = e;
        if (s < it->done) continue; /* swallowed by the previous token's rstrip */
        if (t->single_word && (word_before(it->text, s) || word_after(it->text, it->n, e))) continue;
        if (t->lstrip) {
            while (s > it->done) {
                size_t p = char_start_before(it->text, s);
                if (!is_white_space(char_at(it->text, p))) break;
                s = p;
            }
        }
        if (t->rstrip) {
            while (e < it->n && is_white_space(char_at(it->text, e)))
                e += utf8_decode_char((const unsigned char *)it->text + e, &(uint32_t){0});
        }
        it->done = e;
        *start = s;
        *end = e;
        *tok = t;
        return 1;
    }
    return 0;
}
